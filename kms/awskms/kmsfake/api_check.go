package kmsfake

import "github.com/chatvault/chatvault/kms/awskms"

var _ awskms.API = (*Fake)(nil)
