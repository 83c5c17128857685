package archive

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/crypto/seal"
	"github.com/chatvault/chatvault/remote"
)

// Blobs are the attachments of a conversation: one encrypted object per
// distinct file content per conversation, named by a keyed hash of the
// content (so the store cannot tell that two conversations hold the same
// file, and shredding one conversation leaves the others whole). Messages
// refer to a blob by the hex SHA-256 of its content.

// blobRef is a blob in a conversation manifest.
type blobRef struct {
	Ref
	Content Digest `json:"content"` // SHA-256 of the file's bytes
	Plain   int64  `json:"plain"`   // the file's size
}

func blobObjectID(convKey []byte, conv ID, content Digest) ID {
	m := hmac.New(sha256.New, derive(convKey, "chatvault/v1/blob-id", conv[:]))
	m.Write(content[:])
	return ID(m.Sum(nil)[:IDLen])
}

// sealedSize is the stored size of an object with a plaintext of n bytes.
func sealedSize(headerLen int, n int64) int64 {
	frames := n / seal.FrameSize
	if n%seal.FrameSize != 0 || n == 0 {
		frames++
	}
	return int64(headerLen) + n + frames*16
}

// storeBlob encrypts one file into a blob of conversation c, streaming, and
// records it. A blob the conversation already has is not stored again; one
// left by a crashed run under the same name is checked and adopted.
func (e *exporter) storeBlob(ctx context.Context, c *convState, b canon.Blob) error {
	content := Digest(b.SHA256)
	if c.blobs[content] {
		return nil
	}
	a := e.a
	id := blobObjectID(c.key, c.id, content)
	name := a.paths.object(areaObjects, id)
	h := a.sealHeader(seal.KindBlob, &c.id, id)
	enc, _ := h.Marshal()
	size := sealedSize(len(enc), b.Size)

	src, err := b.Open()
	if err != nil {
		return fmt.Errorf("attachment %s: %w", hex.EncodeToString(content[:]), err)
	}
	defer src.Close()
	pr, pw := io.Pipe()
	plainSum := sha256.New()
	go func() {
		w, err := seal.NewWriter(pw, c.key, h, a.opts.Rand)
		if err == nil {
			var n int64
			n, err = io.Copy(w, io.TeeReader(src, plainSum))
			if err == nil && n != b.Size {
				err = fmt.Errorf("attachment changed while reading: %d bytes, expected %d", n, b.Size)
			}
			if err == nil {
				err = w.Close()
			}
		}
		pw.CloseWithError(err)
	}()
	stored := sha256.New()
	crc := newCRC()
	err = a.st.Create(ctx, name, io.TeeReader(pr, io.MultiWriter(stored, crc)), size)
	pr.CloseWithError(errStopped)
	switch {
	case errors.Is(err, remote.ErrExists):
		ref, crcSum, err := e.adoptBlob(ctx, c, id, content, b.Size)
		if err != nil {
			return err
		}
		return e.b.record(areaObjects, ref, crcSum, func() { c.addBlob(ref, content, b.Size) })
	case err != nil:
		return fmt.Errorf("writing attachment to %s: %w", name, err)
	}
	if Digest(plainSum.Sum(nil)) != content {
		return fmt.Errorf("%w: attachment %x changed while it was read", canon.ErrMalformed, content[:8])
	}
	ref := Ref{ID: id, Size: size, SHA256: Digest(stored.Sum(nil))}
	return e.b.record(areaObjects, ref, crc.Sum64(), func() { c.addBlob(ref, content, b.Size) })
}

func (c *convState) addBlob(ref Ref, content Digest, size int64) {
	c.blobs[content] = true
	c.newBlobs = append(c.newBlobs, blobRef{Ref: ref, Content: content, Plain: size})
}

// adoptBlob checks a blob object that exists without being referenced (a
// crashed run wrote it) and returns its reference if it holds the content.
func (e *exporter) adoptBlob(ctx context.Context, c *convState, id ID, content Digest, size int64) (Ref, uint64, error) {
	name := e.a.paths.object(areaObjects, id)
	rc, err := e.a.st.Open(ctx, name)
	if err != nil {
		return Ref{}, 0, err
	}
	defer rc.Close()
	stored := sha256.New()
	crc := newCRC()
	n := &countingWriter{}
	_, r, err := seal.OpenReader(io.TeeReader(rc, io.MultiWriter(stored, crc, n)), c.key, seal.Expect{Kind: seal.KindBlob, ArchiveID: e.a.id[:], ConversationID: c.id[:], ObjectID: id[:], Epoch: e.a.epochOfObject()})
	if err != nil {
		return Ref{}, 0, integrityError(name, "left by an earlier run and unreadable: %v (prune removes it)", err)
	}
	plain := sha256.New()
	if _, err := io.Copy(plain, r); err != nil || Digest(plain.Sum(nil)) != content {
		return Ref{}, 0, integrityError(name, "left by an earlier run and damaged (prune removes it)")
	}
	return Ref{ID: id, Size: n.n, SHA256: Digest(stored.Sum(nil))}, crc.Sum64(), nil
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// OpenBlob returns the content of a conversation's attachment, by the hex
// SHA-256 its message gives ("blob"). The content is authenticated as it is
// read and checked against that SHA-256 at the end; a mismatch is an
// ErrIntegrity error from Read.
func (a *Archive) OpenBlob(ctx context.Context, conv ID, sha string) (io.ReadCloser, error) {
	if err := a.needKey(); err != nil {
		return nil, err
	}
	var content Digest
	if err := content.UnmarshalText([]byte(sha)); err != nil {
		return nil, fmt.Errorf("%w: blob %q: %v", ErrNotFound, sha, err)
	}
	key, err := a.convKey(conv)
	if err != nil {
		return nil, err
	}
	id := blobObjectID(key, conv, content)
	name := a.paths.object(areaObjects, id)
	rc, err := a.st.Open(ctx, name)
	if err != nil {
		return nil, missingOr(name, err)
	}
	_, r, err := seal.OpenReader(rc, key, seal.Expect{Kind: seal.KindBlob, ArchiveID: a.id[:], ConversationID: conv[:], ObjectID: id[:], Epoch: a.epochOfObject()})
	if err != nil {
		rc.Close()
		return nil, integrityError(name, "%v", err)
	}
	return &blobReader{r: r, c: rc, sum: sha256.New(), want: content, name: name}, nil
}

type blobReader struct {
	r    io.Reader
	c    io.Closer
	sum  hash.Hash
	want Digest
	name string
}

func (b *blobReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.sum.Write(p[:n])
	if err == io.EOF && Digest(b.sum.Sum(nil)) != b.want {
		return n, integrityError(b.name, "content does not match its SHA-256")
	}
	if err != nil && err != io.EOF {
		err = integrityError(b.name, "%v", err)
	}
	return n, err
}

func (b *blobReader) Close() error { return b.c.Close() }
