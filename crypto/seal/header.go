// Package seal is chatvault's one construction for every stored object: a binary
// header that binds the object to its archive, conversation, object id and key
// epoch, followed by a body that is either plaintext (suite 0: the caller hashes or
// signs it) or encrypted with STREAM under a key derived from a parent key.
//
// # Header
//
//	magic "CVLT" | version u8 | suite u8 | kind u8 |
//	len u8 + archive id | len u8 + conversation id | len u8 + object id |
//	key epoch u32 (big endian) | salt [32] | key commitment [32]
//
// Ids are at most [MaxIDLen] bytes. For suite 0 the salt and commitment are zero.
//
// # Keys
//
// For an encrypted object, one HKDF-SHA-256 expansion gives 64 bytes, split into the
// object key and the key commitment:
//
//	HKDF(secret = parent key, salt = header salt,
//	     info = "chatvault/v1/" + kind name + the header bytes from the version
//	            byte to the end of the key epoch)
//
// (The info thus binds the suite and kind as well as the length-prefixed ids.)
//
// The salt is 32 random bytes per object, so every object has its own key and the
// STREAM nonces can be counters. The commitment is stored in the header: a reader
// with the wrong parent key is told so ([ErrWrongKey]) before any frame is tried,
// and no ciphertext can be made to open under two keys.
//
// # Body
//
// STREAM as in age: plaintext in frames of [FrameSize] bytes, each sealed with the
// suite's AEAD under nonce = 11-byte big-endian frame counter ‖ last-frame flag
// (0x01 on the final frame, which may be shorter and is empty only when the whole
// plaintext is), with associated data = SHA-256 of the whole header. Truncation at
// any point, reordered or swapped frames, a header swapped from another object and
// trailing bytes after the final frame are all detected.
package seal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Magic opens every chatvault object.
const Magic = "CVLT"

// Version is the format version written by this code. Readers accept every
// version up to it.
const Version = 1

// MaxIDLen bounds every length-prefixed id in a header.
const MaxIDLen = 32

// Suite names the AEAD an object is sealed with; fixed per archive at init.
type Suite uint8

const (
	Plain            Suite = 0 // not encrypted: hashed or signed by the caller
	AES256GCM        Suite = 1
	ChaCha20Poly1305 Suite = 2
)

func (s Suite) String() string {
	switch s {
	case Plain:
		return "plain"
	case AES256GCM:
		return "aes-256-gcm"
	case ChaCha20Poly1305:
		return "chacha20-poly1305"
	}
	return fmt.Sprintf("suite(%d)", uint8(s))
}

// ParseSuite maps a suite name ("aes-256-gcm", "chacha20-poly1305") to its id.
func ParseSuite(name string) (Suite, error) {
	switch name {
	case "aes-256-gcm":
		return AES256GCM, nil
	case "chacha20-poly1305":
		return ChaCha20Poly1305, nil
	}
	return 0, fmt.Errorf("unknown cipher %q (want aes-256-gcm or chacha20-poly1305)", name)
}

// Kind says what an object is. Readers check it against what the referring
// object says it must be, so an object cannot be passed off as another kind.
type Kind uint8

const (
	KindDescriptor           Kind = 1  // plaintext: archive id, suite, genesis signing key
	KindWrapper              Kind = 2  // plaintext envelope around a sealed archive key
	KindWrappedKey           Kind = 3  // the archive key sealed under a KEK
	KindWrapperSet           Kind = 4  // plaintext list of current wrappers
	KindKeyTable             Kind = 5  // conversation id → conversation key
	KindVersionManifest      Kind = 6  // per commit: label, conversations changed
	KindConversationManifest Kind = 7  // per commit and conversation: segments, index runs
	KindIntegrityList        Kind = 8  // signed: sizes and hashes of new objects
	KindRemap                Kind = 9  // signed: old object id → new, after a re-key
	KindSegment              Kind = 10 // compressed canonical JSONL of one conversation
	KindBlob                 Kind = 11 // an attachment
	KindCommit               Kind = 12 // signed commit header
	KindIndexRun             Kind = 13 // sorted message-id index records
	KindLease                Kind = 14 // plaintext marker of a writer at work
	KindKeyChange            Kind = 15 // signed: successor signing key
	KindSpill                Kind = 16 // ephemeral temporary data, never stored
)

var kindNames = map[Kind]string{
	KindDescriptor: "descriptor", KindWrapper: "wrapper", KindWrappedKey: "wrapped-key",
	KindWrapperSet: "wrapper-set", KindKeyTable: "key-table",
	KindVersionManifest: "version-manifest", KindConversationManifest: "conversation-manifest",
	KindIntegrityList: "integrity-list", KindRemap: "remap", KindSegment: "segment",
	KindBlob: "blob", KindCommit: "commit", KindIndexRun: "index-run", KindLease: "lease",
	KindKeyChange: "key-change", KindSpill: "spill",
}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Errors. All but ErrWrongKey mean the stored bytes are not what was written.
var (
	ErrMalformed  = errors.New("malformed object")
	ErrMismatch   = errors.New("object does not belong here")
	ErrWrongKey   = errors.New("key does not open this object")
	ErrAuth       = errors.New("authentication failed")
	ErrTruncated  = errors.New("object truncated")
	ErrTrailing   = errors.New("trailing data after the final frame")
	ErrFrameOrder = errors.New("frame out of order")
)

// Header is the decoded object header.
type Header struct {
	Version        uint8
	Suite          Suite
	Kind           Kind
	ArchiveID      []byte
	ConversationID []byte
	ObjectID       []byte
	Epoch          uint32
	Salt           [32]byte
	Commitment     [32]byte
}

// MaxHeaderLen is the largest header Marshal can produce.
const MaxHeaderLen = 4 + 3 + 3*(1+MaxIDLen) + 4 + 32 + 32

// Marshal encodes h. It fails only on ids longer than MaxIDLen.
func (h *Header) Marshal() ([]byte, error) {
	b := make([]byte, 0, MaxHeaderLen)
	b = append(b, Magic...)
	b = append(b, h.Version, byte(h.Suite), byte(h.Kind))
	for _, id := range [][]byte{h.ArchiveID, h.ConversationID, h.ObjectID} {
		if len(id) > MaxIDLen {
			return nil, fmt.Errorf("%w: id of %d bytes", ErrMalformed, len(id))
		}
		b = append(b, byte(len(id)))
		b = append(b, id...)
	}
	b = binary.BigEndian.AppendUint32(b, h.Epoch)
	b = append(b, h.Salt[:]...)
	b = append(b, h.Commitment[:]...)
	return b, nil
}

// infoSection returns the bytes of an encoded header that go into the HKDF info:
// everything from the version byte to the end of the key epoch.
func infoSection(encoded []byte) []byte {
	return encoded[len(Magic) : len(encoded)-64]
}

// ReadHeader reads and decodes one header from r, returning it with its encoded
// bytes. Every length is bounded before anything is allocated.
func ReadHeader(r io.Reader) (*Header, []byte, error) {
	var fixed [7]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: header: %w", ErrTruncated, noEOF(err))
	}
	if string(fixed[:4]) != Magic {
		return nil, nil, fmt.Errorf("%w: bad magic", ErrMalformed)
	}
	h := &Header{Version: fixed[4], Suite: Suite(fixed[5]), Kind: Kind(fixed[6])}
	if h.Version == 0 || h.Version > Version {
		return nil, nil, fmt.Errorf("%w: format version %d is not supported (this chatvault reads up to %d)", ErrMalformed, h.Version, Version)
	}
	if h.Suite > ChaCha20Poly1305 {
		return nil, nil, fmt.Errorf("%w: unknown suite %d", ErrMalformed, h.Suite)
	}
	enc := append(make([]byte, 0, MaxHeaderLen), fixed[:]...)
	for _, dst := range []*[]byte{&h.ArchiveID, &h.ConversationID, &h.ObjectID} {
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return nil, nil, fmt.Errorf("%w: header: %w", ErrTruncated, noEOF(err))
		}
		if n[0] > MaxIDLen {
			return nil, nil, fmt.Errorf("%w: id of %d bytes", ErrMalformed, n[0])
		}
		id := make([]byte, n[0])
		if _, err := io.ReadFull(r, id); err != nil {
			return nil, nil, fmt.Errorf("%w: header: %w", ErrTruncated, noEOF(err))
		}
		*dst = id
		enc = append(enc, n[0])
		enc = append(enc, id...)
	}
	var tail [4 + 32 + 32]byte
	if _, err := io.ReadFull(r, tail[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: header: %w", ErrTruncated, noEOF(err))
	}
	h.Epoch = binary.BigEndian.Uint32(tail[:4])
	copy(h.Salt[:], tail[4:36])
	copy(h.Commitment[:], tail[36:])
	enc = append(enc, tail[:]...)
	if h.Suite == Plain && (h.Salt != [32]byte{} || h.Commitment != [32]byte{}) {
		return nil, nil, fmt.Errorf("%w: plaintext object with salt or commitment", ErrMalformed)
	}
	return h, enc, nil
}

// Expect is what the referring object says a header must contain.
type Expect struct {
	Kind           Kind
	ArchiveID      []byte
	ConversationID []byte // nil and empty both mean "none"
	ObjectID       []byte
	Epoch          uint32
}

// Check reports ErrMismatch unless h has exactly the expected kind, ids and epoch.
func (h *Header) Check(want Expect) error {
	switch {
	case h.Kind != want.Kind:
		return fmt.Errorf("%w: a %s where a %s was expected", ErrMismatch, h.Kind, want.Kind)
	case !bytes.Equal(h.ArchiveID, want.ArchiveID):
		return fmt.Errorf("%w: %s of archive %x, expected %x", ErrMismatch, h.Kind, h.ArchiveID, want.ArchiveID)
	case !bytes.Equal(h.ConversationID, want.ConversationID):
		return fmt.Errorf("%w: %s of conversation %x, expected %x", ErrMismatch, h.Kind, h.ConversationID, want.ConversationID)
	case !bytes.Equal(h.ObjectID, want.ObjectID):
		return fmt.Errorf("%w: %s has object id %x, expected %x", ErrMismatch, h.Kind, h.ObjectID, want.ObjectID)
	case h.Epoch != want.Epoch:
		return fmt.Errorf("%w: %s of key epoch %d, expected %d", ErrMismatch, h.Kind, h.Epoch, want.Epoch)
	}
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
