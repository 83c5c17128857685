package archive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/minio/crc64nvme"

	"github.com/chatvault/chatvault/crypto/seal"
	"github.com/chatvault/chatvault/remote"
)

// Ref is how one object names another: id, stored size and SHA-256 of the
// stored bytes.
type Ref struct {
	ID     ID     `json:"id"`
	Size   int64  `json:"size"`
	SHA256 Digest `json:"sha256"`
}

// Digest is a SHA-256, hex in JSON.
type Digest [32]byte

func (d Digest) String() string               { return hex.EncodeToString(d[:]) }
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
func (d *Digest) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("sha256 %q: want 64 hex digits", b)
	}
	_, err := hex.Decode(d[:], b)
	return err
}

// newCRC returns a CRC-64/NVME, the full-object checksum S3 computes on
// upload (github.com/minio/crc64nvme: carry-less multiplication where the CPU
// has it, ≈30× hash/crc64's tables).
func newCRC() hash.Hash64 { return crc64nvme.New() }

// Limits on objects read whole into memory; anything larger is damage.
const (
	maxSmallObject  = 1 << 20  // descriptor, wrappers, wrapper set
	maxCommitObject = 16 << 20 // commit headers with their tombstone lists
	maxListObject   = 64 << 20 // manifests, key tables, integrity lists, index runs
)

// readAll reads a whole object of at most max bytes.
func readAll(ctx context.Context, st remote.Store, name string, max int64) ([]byte, error) {
	rc, err := st.Open(ctx, name)
	if err != nil {
		if errors.Is(err, remote.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w", ErrIntegrity, err)
		}
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, integrityError(name, "larger than %d bytes", max)
	}
	return b, nil
}

// readRef reads an object whole and checks it against its reference.
func (a *Archive) readRef(ctx context.Context, name string, ref Ref, max int64) ([]byte, error) {
	if ref.Size < 0 || ref.Size > max {
		return nil, integrityError(name, "recorded size %d is over the limit of %d", ref.Size, max)
	}
	return a.readObject(ctx, name, ref, make([]byte, 0, ref.Size))
}

// readObject reads an object into buf (of capacity ref.Size at least) and
// checks its size and SHA-256 against its reference.
func (a *Archive) readObject(ctx context.Context, name string, ref Ref, buf []byte) ([]byte, error) {
	rc, err := a.st.Open(ctx, name)
	if err != nil {
		return buf, missingOr(name, err)
	}
	defer rc.Close()
	buf = buf[:ref.Size]
	if _, err := io.ReadFull(rc, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return buf, integrityError(name, "shorter than %d bytes", ref.Size)
		}
		return buf, fmt.Errorf("reading %s: %w", name, err)
	}
	var one [1]byte
	if n, _ := rc.Read(one[:]); n > 0 {
		return buf, integrityError(name, "longer than %d bytes", ref.Size)
	}
	if Digest(sha256.Sum256(buf)) != ref.SHA256 {
		return buf, integrityError(name, "SHA-256 mismatch")
	}
	return buf, nil
}

// plainHeader is the header of a plaintext object.
func plainHeader(kind seal.Kind, archive ID, conv []byte, object []byte) *seal.Header {
	return &seal.Header{Version: seal.Version, Suite: seal.Plain, Kind: kind, ArchiveID: archive[:], ConversationID: conv, ObjectID: object}
}

// encodeHashed makes a plaintext object: header ‖ body ‖ SHA-256(header ‖ body).
func encodeHashed(h *seal.Header, body []byte) ([]byte, error) {
	enc, err := h.Marshal()
	if err != nil {
		return nil, err
	}
	out := append(enc, body...)
	sum := sha256.Sum256(out)
	return append(out, sum[:]...), nil
}

// encodeSigned makes a plaintext object: header ‖ body ‖ Ed25519(header ‖ body).
func encodeSigned(h *seal.Header, body []byte, key ed25519.PrivateKey) ([]byte, error) {
	enc, err := h.Marshal()
	if err != nil {
		return nil, err
	}
	out := append(enc, body...)
	return append(out, ed25519.Sign(key, out)...), nil
}

// splitPlain parses a plaintext object's header, checks it against want and
// returns the header bytes and the rest (body ‖ trailer).
func splitPlain(name string, b []byte, want seal.Expect) (headerLen int, err error) {
	h, enc, err := seal.ReadHeader(bytes.NewReader(b))
	if err != nil {
		return 0, integrityError(name, "%v", err)
	}
	if h.Suite != seal.Plain {
		return 0, integrityError(name, "%s is encrypted, expected plaintext", h.Kind)
	}
	if err := h.Check(want); err != nil {
		return 0, integrityError(name, "%v", err)
	}
	return len(enc), nil
}

// decodeHashed checks a hashed plaintext object and returns its body.
func decodeHashed(name string, b []byte, want seal.Expect) ([]byte, error) {
	hl, err := splitPlain(name, b, want)
	if err != nil {
		return nil, err
	}
	if len(b) < hl+sha256.Size {
		return nil, integrityError(name, "truncated")
	}
	n := len(b) - sha256.Size
	if sum := sha256.Sum256(b[:n]); !bytes.Equal(sum[:], b[n:]) {
		return nil, integrityError(name, "SHA-256 trailer mismatch")
	}
	return b[hl:n], nil
}

// decodeSigned checks a signed plaintext object and returns its body.
func decodeSigned(name string, b []byte, want seal.Expect, pub ed25519.PublicKey) ([]byte, error) {
	hl, err := splitPlain(name, b, want)
	if err != nil {
		return nil, err
	}
	if len(b) < hl+ed25519.SignatureSize {
		return nil, integrityError(name, "truncated")
	}
	n := len(b) - ed25519.SignatureSize
	if !ed25519.Verify(pub, b[:n], b[n:]) {
		return nil, integrityError(name, "bad signature")
	}
	return b[hl:n], nil
}

// newObject is an object built in memory, ready to store.
type newObject struct {
	area area
	ref  Ref
	data []byte
	crc  uint64
}

func makeObject(a area, id ID, data []byte) newObject {
	return newObject{area: a, ref: Ref{ID: id, Size: int64(len(data)), SHA256: sha256.Sum256(data)}, data: data, crc: crc64nvme.Checksum(data)}
}
