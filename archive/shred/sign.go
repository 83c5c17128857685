package shred

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// SignatureAlgorithm is Signature.Algorithm.
const SignatureAlgorithm = "ed25519"

// signingContext prefixes the signed message, so that a report signature
// cannot be taken for a signature of anything else made with the same key.
const signingContext = "chatvault shred report v1\n"

// ErrSignature: a report's signature is missing where required, malformed, or
// does not verify.
var ErrSignature = errors.New("shred report signature")

// SignedMessage returns the bytes a report's signature covers:
//
//	"chatvault shred report v1\n" ‖ JSON(report with signature.value = "")
//
// where JSON is Go's encoding/json Marshal of the Report type: the fields in
// the order of the package documentation's schema, no insignificant
// whitespace, strings escaped as encoding/json escapes them (<, > and & as
// \u003c, \u003e, \u0026), times in RFC 3339 with as many fractional digits
// as needed, empty lists as [] and omitted optional fields as the schema
// says. The signature member itself is present with its algorithm and public
// key, so both are covered. A report read back with ParseReport encodes to
// the same bytes.
func SignedMessage(r *Report) ([]byte, error) {
	c := *r
	if r.Signature != nil {
		s := *r.Signature
		s.Value = ""
		c.Signature = &s
	}
	c.normalize()
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	return append([]byte(signingContext), b...), nil
}

// Sign puts the public key of key and an Ed25519 signature of
// SignedMessage(r) into r.Signature. Signing again replaces the signature.
func Sign(r *Report, key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: not an Ed25519 private key", ErrSignature)
	}
	r.normalize()
	pub := key.Public().(ed25519.PublicKey)
	r.Signature = &Signature{Algorithm: SignatureAlgorithm, PublicKey: base64.StdEncoding.EncodeToString(pub)}
	msg, err := SignedMessage(r)
	if err != nil {
		return err
	}
	r.Signature.Value = base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))
	return nil
}

// CheckSignature verifies r's signature against its embedded public key and,
// when want is given, checks that this key is want. It returns the signer's
// public key.
func CheckSignature(r *Report, want ed25519.PublicKey) (ed25519.PublicKey, error) {
	s := r.Signature
	if s == nil {
		return nil, fmt.Errorf("%w: the report is not signed", ErrSignature)
	}
	if s.Algorithm != SignatureAlgorithm {
		return nil, fmt.Errorf("%w: algorithm %q (want %s)", ErrSignature, s.Algorithm, SignatureAlgorithm)
	}
	pub, err := base64.StdEncoding.DecodeString(s.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: malformed public key", ErrSignature)
	}
	sig, err := base64.StdEncoding.DecodeString(s.Value)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: malformed signature value", ErrSignature)
	}
	msg, err := SignedMessage(r)
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(pub, msg, sig) {
		return nil, fmt.Errorf("%w: the signature does not verify (the report was changed after signing, or signed by another key)", ErrSignature)
	}
	if want != nil && !bytes.Equal(want, pub) {
		return nil, fmt.Errorf("%w: signed by key %s, not the expected %s", ErrSignature, PublicKeyString(pub), PublicKeyString(want))
	}
	return ed25519.PublicKey(pub), nil
}

// PublicKeyString is a public key as reports carry it: base64 of its 32 bytes.
func PublicKeyString(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// ParsePublicKey reads an Ed25519 public key given as base64 or hex of its 32
// bytes, or as PEM ("PUBLIC KEY", PKIX; a "PRIVATE KEY" gives its public key).
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if block, _ := pem.Decode([]byte(s)); block != nil {
		switch block.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("public key: %w", err)
			}
			pub, ok := k.(ed25519.PublicKey)
			if !ok {
				return nil, fmt.Errorf("public key: a %T, not an Ed25519 key", k)
			}
			return pub, nil
		case "PRIVATE KEY":
			key, err := parsePrivate(block.Bytes)
			if err != nil {
				return nil, err
			}
			return key.Public().(ed25519.PublicKey), nil
		}
		return nil, fmt.Errorf("public key: PEM block %q", block.Type)
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
		return b, nil
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
		return b, nil
	}
	return nil, errors.New("public key: want base64 or hex of 32 bytes, or a PEM public key")
}

// MarshalPublicKey is pub as a PEM "PUBLIC KEY" block (PKIX).
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// NewSigningKey makes a new Ed25519 operator key and writes it to path as a
// PEM "PRIVATE KEY" block (PKCS #8), mode 0600. An existing file is never
// overwritten.
func NewSigningKey(path string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("signing key %s exists already: refusing to overwrite it", path)
		}
		return nil, err
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, err
	}
	return key, nil
}

// LoadSigningKey reads an operator key written by NewSigningKey (any PKCS #8
// PEM Ed25519 key). On Unix a file that others may read is refused, as ssh
// does.
func LoadSigningKey(path string) (ed25519.PrivateKey, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s has mode %04o: others may read it (chmod 600 it)", path, info.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s: not a PEM PRIVATE KEY", path)
	}
	key, err := parsePrivate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return key, nil
}

func parsePrivate(der []byte) (ed25519.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 key", k)
	}
	return key, nil
}
