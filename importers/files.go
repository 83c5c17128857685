package importers

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Files an export refers to (photos, voice notes) are read only through an
// os.Root opened on the export's folder, so that no path in an export — "..",
// absolute, a drive letter, a symlink pointing out — can make an importer read
// outside it. These helpers are what the importers share for that.

// OpenRegular opens name inside root and checks that it is a regular file
// (not a FIFO or device swapped in after a Lstat).
func OpenRegular(root *os.Root, name string) (*os.File, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, errors.New(name + ": not a regular file")
	}
	return f, nil
}

// HashFile returns the SHA-256 and size of a regular file inside root,
// stopping when ctx is cancelled (hashing a large video takes a while).
func HashFile(ctx context.Context, root *os.Root, name string) (sum [32]byte, n int64, err error) {
	f, err := OpenRegular(root, name)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err = io.Copy(h, ctxReader{ctx, f})
	if err != nil {
		return sum, 0, err
	}
	h.Sum(sum[:0])
	return sum, n, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// IsNotDir reports whether err says a path went through a file as if it were a
// directory.
func IsNotDir(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "not a directory")
}

// IsEscape reports whether err is os.Root's refusal of a path leading outside it.
func IsEscape(err error) bool {
	return err != nil && strings.Contains(err.Error(), "escapes from parent")
}

// HasDrive reports whether p starts with a Windows drive letter ("C:").
func HasDrive(p string) bool {
	return len(p) >= 2 && p[1] == ':' && (p[0] >= 'a' && p[0] <= 'z' || p[0] >= 'A' && p[0] <= 'Z')
}
