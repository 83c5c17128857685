package vaultfake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Vault's texts (keysutil and the transit backend of Vault 1.21).
const (
	msgKeyNotFound     = "encryption key not found"
	msgMissingContext  = "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key"
	msgTooOld          = "ciphertext or signature version is disallowed by policy (too old)"
	msgTooNew          = "invalid ciphertext: version is too new"
	msgNoPrefix        = "invalid ciphertext: no prefix"
	msgFields          = "invalid ciphertext: wrong number of fields"
	msgVersion         = "invalid ciphertext: version number could not be decoded"
	msgBase64          = "invalid ciphertext: could not decode base64"
	msgLength          = "invalid ciphertext length"
	msgPermission      = "permission denied"
	msgACLPermission   = "1 error occurred:\n\t* permission denied\n\n"
	msgSealed          = "Vault is sealed"
	msgUnsupportedPath = "unsupported path"
)

// newKey returns a key with version 1.
func newKey(name, typ string, derived bool, now time.Time) *key {
	k := &key{
		name:                 name,
		typ:                  typ,
		derived:              derived,
		minDecryptionVersion: 1,
		versions:             map[int][]byte{},
		created:              map[int]time.Time{},
	}
	k.rotate(now)
	return k
}

// rotate adds a version with fresh material.
func (k *key) rotate(now time.Time) {
	k.latest++
	m := make([]byte, 32)
	rand.Read(m)
	k.versions[k.latest] = m
	k.created[k.latest] = now
}

// aead returns the cipher of version ver under context ctx: HKDF-SHA-256 of
// the version's material with the context as info for a derived key, the
// material itself otherwise (a context is then ignored, as in Vault).
func (k *key) aead(ver int, ctx []byte) (cipher.AEAD, error) {
	if k.derived && len(ctx) == 0 {
		return nil, userError(msgMissingContext)
	}
	m := k.versions[ver]
	if m == nil {
		return nil, userError("invalid key version") // trimmed: not modelled
	}
	ek := m
	if k.derived {
		var err error
		ek, err = hkdf.Key(sha256.New, m, nil, string(ctx), 32)
		if err != nil {
			return nil, err
		}
	}
	block, err := aes.NewCipher(ek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// encrypt seals pt under the latest version.
func (k *key) encrypt(ctx, pt []byte) (string, int, error) {
	ver := k.latest
	if k.minEncryptionVersion > ver {
		ver = k.minEncryptionVersion
	}
	a, err := k.aead(ver, ctx)
	if err != nil {
		return "", 0, err
	}
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	sealed := a.Seal(nonce, nonce, pt, nil)
	return "vault:v" + strconv.Itoa(ver) + ":" + base64.StdEncoding.EncodeToString(sealed), ver, nil
}

// decrypt opens a "vault:vN:…" ciphertext, with Vault's checks in Vault's
// order.
func (k *key) decrypt(ctx []byte, ct string) ([]byte, error) {
	rest, ok := strings.CutPrefix(ct, "vault:v")
	if !ok {
		return nil, userError(msgNoPrefix)
	}
	parts := strings.SplitN(rest, ":", 2)
	if len(parts) != 2 {
		return nil, userError(msgFields)
	}
	ver, err := strconv.Atoi(parts[0])
	if err != nil {
		return nil, userError(msgVersion)
	}
	if ver == 0 {
		ver = 1
	}
	if ver > k.latest {
		return nil, userError(msgTooNew)
	}
	if k.minDecryptionVersion > 0 && ver < k.minDecryptionVersion {
		return nil, userError(msgTooOld)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, userError(msgBase64)
	}
	a, err := k.aead(ver, ctx)
	if err != nil {
		return nil, err
	}
	if len(raw) < a.NonceSize()+a.Overhead() {
		return nil, userError(msgLength)
	}
	pt, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], nil)
	if err != nil {
		return nil, userError(err.Error()) // "cipher: message authentication failed"
	}
	return pt, nil
}

// userError is a refusal Vault answers with 400 and its text.
type userError string

func (e userError) Error() string { return string(e) }

func errorf(format string, args ...any) error { return userError(fmt.Sprintf(format, args...)) }
