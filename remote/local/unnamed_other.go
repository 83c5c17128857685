//go:build !linux

package local

import (
	"errors"
	"os"
)

// Unnamed files (O_TMPFILE) are Linux's: elsewhere Create names its temp files.

func openUnnamed(dir string) (*os.File, error) { return nil, errors.ErrUnsupported }

func linkUnnamed(f *os.File, final string) error { return errors.ErrUnsupported }
