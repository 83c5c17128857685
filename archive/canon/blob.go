package canon

import "io"

// Blob is a file that a message refers to and that the export contains (a
// photo, a voice note). Its canonical attachment entry names it by "sha256"
// and, once the bytes are in the archive, "blob" (the same hex SHA-256: blobs
// are addressed by content within their conversation).
type Blob struct {
	SHA256 [32]byte
	Size   int64
	// Open returns the bytes; the caller closes the reader. It may be called
	// after later messages were read, until the source is closed, and from
	// another goroutine while the source's Next runs.
	Open func() (io.ReadCloser, error)
}

// BlobLister is implemented by sources whose messages carry files: Blobs
// returns the files of the message last returned by Next.
type BlobLister interface {
	Blobs() []Blob
}
