package s3_test

import (
	"testing"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/s3/s3test"
	"github.com/chatvault/chatvault/remote/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) remote.Store { return s3test.Store(t, false) })
}

func TestConformanceVersioned(t *testing.T) {
	storetest.Run(t, func(t *testing.T) remote.Store { return s3test.Store(t, true) })
}
