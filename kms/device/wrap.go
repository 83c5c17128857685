package device

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// KeySize is the size of the key a wrapper carries (an archive key).
const KeySize = 32

// PayloadHeader is the first line of a wrapper's payload; the payload format
// is in the package documentation.
const PayloadHeader = "chatvault archive key v1"

// maxArmored bounds the wrapper Unwrap accepts (a wrapper is about 500 bytes;
// it comes from a store, so it is untrusted).
const maxArmored = 16 << 10

// maxArchiveID bounds the archive id a payload may carry.
const maxArchiveID = 256

var (
	// ErrNoIdentity: none of the identities given opens the wrapper; it was
	// made for another device key.
	ErrNoIdentity = errors.New("no identity given opens this device wrapper")
	// ErrMalformed: the wrapper is not an intact age file holding the
	// documented payload (damaged, truncated or forged).
	ErrMalformed = errors.New("malformed or damaged device wrapper")
	// ErrWrongArchive: the wrapper carries the key of another archive.
	ErrWrongArchive = errors.New("the device wrapper belongs to another archive")
	// ErrBadArchiveID: the archive id cannot be written in a payload.
	ErrBadArchiveID = errors.New("archive id unusable in a device wrapper")
)

// Wrap encrypts key (32 bytes) for the age X25519 recipient ("age1…") as an
// ASCII-armored age file whose payload names archiveID (see the package
// documentation for the payload and how to open it with the age tool).
func Wrap(recipient, archiveID string, key []byte) (string, error) {
	if len(key) != KeySize {
		return "", fmt.Errorf("device: wrap: the key is %d bytes, want %d", len(key), KeySize)
	}
	if err := checkArchiveID(archiveID); err != nil {
		return "", err
	}
	r, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		return "", fmt.Errorf("device: recipient %q: %w", recipient, err)
	}
	payload := payload(archiveID, key)
	defer clear(payload)

	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		return "", fmt.Errorf("device: wrap: %w", err)
	}
	if _, err := w.Write(payload); err != nil {
		return "", fmt.Errorf("device: wrap: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("device: wrap: %w", err)
	}
	if err := aw.Close(); err != nil {
		return "", fmt.Errorf("device: wrap: %w", err)
	}
	return buf.String(), nil
}

// Unwrap decrypts an armored wrapper with the first of identities that opens
// it, checks that its payload is well formed and names archiveID, and returns
// the 32-byte key. Errors wrap ErrNoIdentity, ErrMalformed or
// ErrWrongArchive; none carries key material.
func Unwrap(identities []age.Identity, archiveID, armored string) ([]byte, error) {
	if len(armored) > maxArmored {
		return nil, fmt.Errorf("device: %w: %d bytes, more than %d", ErrMalformed, len(armored), maxArmored)
	}
	if len(identities) == 0 {
		return nil, fmt.Errorf("device: %w: no identity given", ErrNoIdentity)
	}
	r, err := age.Decrypt(armor.NewReader(strings.NewReader(armored)), identities...)
	var noMatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &noMatch):
		return nil, fmt.Errorf("device: %w: %w", ErrNoIdentity, err)
	case err != nil:
		return nil, fmt.Errorf("device: %w: %w", ErrMalformed, err)
	}
	// The payload is about 140 bytes; read one more than a payload may be to
	// notice trailing data without reading an unbounded stream.
	limit := int64(len(payloadPrefix(strings.Repeat("x", maxArchiveID))) + 2*KeySize + 1)
	plain, err := io.ReadAll(io.LimitReader(r, limit+1))
	defer clear(plain)
	if err != nil {
		return nil, fmt.Errorf("device: %w: %w", ErrMalformed, err)
	}
	if int64(len(plain)) > limit {
		return nil, fmt.Errorf("device: %w: the payload is too long", ErrMalformed)
	}
	id, key, err := parsePayload(plain)
	if err != nil {
		return nil, err
	}
	if id != archiveID {
		clear(key)
		return nil, fmt.Errorf("device: %w: it is for archive %q, not %q", ErrWrongArchive, id, archiveID)
	}
	return key, nil
}

// payloadPrefix is the payload up to the hex key.
func payloadPrefix(archiveID string) string {
	return PayloadHeader + "\narchive: " + archiveID + "\nkey: "
}

func payload(archiveID string, key []byte) []byte {
	p := []byte(payloadPrefix(archiveID))
	p = hex.AppendEncode(p, key)
	return append(p, '\n')
}

// parsePayload reads exactly
//
//	chatvault archive key v1\narchive: ID\nkey: 64-lowercase-hex\n
func parsePayload(p []byte) (archiveID string, key []byte, err error) {
	bad := func(what string) error { return fmt.Errorf("device: %w: payload %s", ErrMalformed, what) }
	rest, ok := bytes.CutPrefix(p, []byte(PayloadHeader+"\narchive: "))
	if !ok {
		return "", nil, bad("does not start with \"" + PayloadHeader + "\" and an archive line")
	}
	idLine, rest, ok := bytes.Cut(rest, []byte("\n"))
	if !ok || checkArchiveID(string(idLine)) != nil {
		return "", nil, bad("has no valid archive id")
	}
	hexKey, ok := bytes.CutPrefix(rest, []byte("key: "))
	if !ok || len(hexKey) != 2*KeySize+1 || hexKey[2*KeySize] != '\n' {
		return "", nil, bad("has no key line of 64 hex digits ending the payload")
	}
	hexKey = hexKey[:2*KeySize]
	for _, c := range hexKey {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", nil, bad("key is not lowercase hex")
		}
	}
	key = make([]byte, KeySize)
	if _, err := hex.Decode(key, hexKey); err != nil {
		return "", nil, bad("key is not hex")
	}
	return string(idLine), key, nil
}

// checkArchiveID accepts 1 to 256 printable ASCII characters other than space.
func checkArchiveID(id string) error {
	if id == "" || len(id) > maxArchiveID {
		return fmt.Errorf("device: %w: length %d, want 1 to %d", ErrBadArchiveID, len(id), maxArchiveID)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return fmt.Errorf("device: %w: byte %d is not printable ASCII", ErrBadArchiveID, i)
		}
	}
	return nil
}
