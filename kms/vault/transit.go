package vault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/vault/api"
)

// KeySize is the size of the keys this package wraps (an archive key).
const KeySize = 32

// hintCreate is the advice of a Wrap on a missing key.
const hintCreate = "create it (vault write -f %s/keys/%s derived=true) or use --vault-transit-create; chatvault never lets encrypt create a key"

// Wrap encrypts dataKey (32 bytes) under the Transit key key, with the
// derivation context kdfContext (see Context), and returns the ciphertext
// ("vault:v<N>:…") and the key version N that encrypted it.
//
// It first reads the key (GET <mount>/keys/<key>, one call): Transit's
// encrypt creates a key that does not exist ("upsert"), so a typo would
// silently wrap under a new key. A missing key is ErrKeyNotFound without any
// encrypt call; a key that is not derived (its context would be ignored) or
// not aes256-gcm96 / chacha20-poly1305 is ErrUnsuitableKey. Then one
// encrypt call (POST <mount>/encrypt/<key>). The token therefore needs read
// on <mount>/keys/<key> and update on <mount>/encrypt/<key>; denying it
// create on <mount>/encrypt/* closes the remaining window (a key deleted
// between the two calls).
func (c *Client) Wrap(ctx context.Context, key string, kdfContext []byte, dataKey []byte) (ciphertext string, keyVersion int, err error) {
	const op = "encrypt under"
	if err := c.checkName(op, key); err != nil {
		return "", 0, err
	}
	if len(dataKey) != KeySize {
		return "", 0, argError(op, c.ref(key), ErrKeySize, "got %d bytes", len(dataKey))
	}
	if len(kdfContext) == 0 {
		return "", 0, argError(op, c.ref(key), ErrNoContext, "every wrap is bound to an archive and a purpose")
	}
	info, exists, e := c.keyInfo(ctx, op, key)
	if e != nil {
		if errors.Is(e, ErrDenied) {
			e.Hint = "chatvault reads the key before encrypting, so that a typo never creates one: the token's policy needs read on " + c.path("keys", key)
		}
		return "", 0, e
	}
	if !exists {
		return "", 0, &Error{Op: op, Key: c.ref(key), Class: ErrKeyNotFound, Hint: fmt.Sprintf(hintCreate, c.mount, key)}
	}
	if err := suitable(info); err != nil {
		return "", 0, &Error{Op: op, Key: c.ref(key), Class: ErrUnsuitableKey, Err: err}
	}
	s, err := c.api.Logical().WriteWithContext(ctx, c.path("encrypt", key), map[string]any{
		"plaintext": base64.StdEncoding.EncodeToString(dataKey),
		"context":   base64.StdEncoding.EncodeToString(kdfContext),
	})
	if err != nil {
		return "", 0, classify(op, c.ref(key), err)
	}
	ct, ver, err := ciphertextOf(s)
	if err != nil {
		return "", 0, classify(op, c.ref(key), err)
	}
	return ct, ver, nil
}

// suitable reports why a key cannot wrap chatvault's keys, nil if it can.
func suitable(info Info) error {
	switch {
	case !info.Derived:
		return fmt.Errorf("key %s is not derived: Transit would ignore the derivation context", info.Name)
	case info.Type != TypeAES256 && info.Type != TypeChaCha20:
		return fmt.Errorf("key %s is of type %q", info.Name, info.Type)
	}
	return nil
}

// Unwrap decrypts ciphertext (as Wrap or Rewrap returned it) under the
// Transit key key with the derivation context it was wrapped with, in one
// decrypt call (POST <mount>/decrypt/<key>), and returns the 32-byte key. A
// wrong context, another key's ciphertext or a damaged one is
// ErrWrongContext; a version below the key's min_decryption_version
// ErrTooOld; a deleted key ErrKeyNotFound. decrypt never creates a key.
func (c *Client) Unwrap(ctx context.Context, key string, kdfContext []byte, ciphertext string) ([]byte, error) {
	const op = "decrypt with"
	if err := c.checkName(op, key); err != nil {
		return nil, err
	}
	if len(kdfContext) == 0 {
		return nil, argError(op, c.ref(key), ErrNoContext, "every wrapper is bound to an archive and a purpose")
	}
	s, err := c.api.Logical().WriteWithContext(ctx, c.path("decrypt", key), map[string]any{
		"ciphertext": ciphertext,
		"context":    base64.StdEncoding.EncodeToString(kdfContext),
	})
	if err != nil {
		return nil, classify(op, c.ref(key), err)
	}
	var p64 string
	if s != nil && s.Data != nil {
		p64, _ = s.Data["plaintext"].(string)
	}
	pt, err := base64.StdEncoding.DecodeString(p64)
	if err != nil || len(pt) != KeySize {
		n := len(pt)
		clear(pt)
		return nil, argError(op, c.ref(key), ErrKeySize, "Vault returned a plaintext of %d bytes", n)
	}
	return pt, nil
}

// Rewrap re-encrypts ciphertext under the latest version of the same Transit
// key, with the same derivation context, in one rewrap call (POST
// <mount>/rewrap/<key>): the plaintext never leaves Vault. Use it after a
// rotation of the key in Vault. It returns the new ciphertext and its key
// version; errors are those of Unwrap.
func (c *Client) Rewrap(ctx context.Context, key string, kdfContext []byte, ciphertext string) (newCiphertext string, keyVersion int, err error) {
	const op = "rewrap with"
	if err := c.checkName(op, key); err != nil {
		return "", 0, err
	}
	if len(kdfContext) == 0 {
		return "", 0, argError(op, c.ref(key), ErrNoContext, "every wrapper is bound to an archive and a purpose")
	}
	s, err := c.api.Logical().WriteWithContext(ctx, c.path("rewrap", key), map[string]any{
		"ciphertext": ciphertext,
		"context":    base64.StdEncoding.EncodeToString(kdfContext),
	})
	if err != nil {
		return "", 0, classify(op, c.ref(key), err)
	}
	ct, ver, err := ciphertextOf(s)
	if err != nil {
		return "", 0, classify(op, c.ref(key), err)
	}
	return ct, ver, nil
}

// CiphertextVersion returns the key version N of a Transit ciphertext
// "vault:vN:…", or an error if it has not that form.
func CiphertextVersion(ciphertext string) (int, error) {
	rest, ok := strings.CutPrefix(ciphertext, "vault:v")
	if !ok {
		return 0, errors.New("not a Transit ciphertext (no vault:v prefix)")
	}
	num, body, ok := strings.Cut(rest, ":")
	v, err := strconv.Atoi(num)
	if !ok || err != nil || v < 1 || body == "" {
		return 0, errors.New("not a Transit ciphertext (bad version field)")
	}
	return v, nil
}

// ciphertextOf reads the answer of encrypt or rewrap.
func ciphertextOf(s *api.Secret) (string, int, error) {
	if s == nil || s.Data == nil {
		return "", 0, errors.New("Vault returned no data")
	}
	ct, _ := s.Data["ciphertext"].(string)
	ver, ok := intOf(s.Data["key_version"])
	if ct == "" || !ok {
		return "", 0, errors.New("Vault returned no ciphertext or no key_version")
	}
	if v, err := CiphertextVersion(ct); err != nil || v != ver {
		return "", 0, fmt.Errorf("Vault returned a ciphertext of another form or version than key_version %d", ver)
	}
	return ct, ver, nil
}

// intOf reads a JSON number (json.Number with the api client) as an int.
func intOf(v any) (int, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := strconv.Atoi(n.String())
		return i, err == nil
	case float64:
		return int(n), n == float64(int(n))
	case int:
		return n, true
	case int64:
		return int(n), true
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}
