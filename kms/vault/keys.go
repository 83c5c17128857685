package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/hashicorp/vault/api"
)

// Transit key types chatvault wraps with (256-bit AEADs that support key
// derivation).
const (
	TypeAES256   = "aes256-gcm96"
	TypeChaCha20 = "chacha20-poly1305"
)

// DedicatedPrefix starts the name of every key CreateDedicated makes:
// "chatvault-<archive id>".
const DedicatedPrefix = "chatvault-"

// Info describes a Transit key, as GET <mount>/keys/<key> reports it.
type Info struct {
	Name                 string
	Type                 string // TypeAES256, TypeChaCha20, rsa-4096, …
	Derived              bool   // keys are derived from a per-request context (HKDF)
	Exportable           bool   // the key material can be exported (never for a dedicated key)
	AllowPlaintextBackup bool   // a plaintext backup of the key can be taken (never for a dedicated key)
	DeletionAllowed      bool   // DELETE <mount>/keys/<key> is allowed
	LatestVersion        int    // the version new ciphertexts use
	MinDecryptionVersion int    // older versions do not decrypt
	MinEncryptionVersion int    // 0: the latest
}

// Extractable reports whether the key material may have left Vault by
// Vault's own means (export or plaintext backup), so that deleting the key
// does not make the data it wrapped unreadable for sure.
func (i Info) Extractable() bool { return i.Exportable || i.AllowPlaintextBackup }

// KeyInfo reads the Transit key key in one call (GET <mount>/keys/<key>).
// exists is false, with a nil error, only when Vault answered that the key
// does not exist; every other failure is an error, never "does not exist":
// an unreachable or sealed Vault, a refused token, and a missing Transit
// mount (Vault's 404 "no handler for route", ErrNoMount). Verify-shred uses
// it; it never creates a key.
func (c *Client) KeyInfo(ctx context.Context, key string) (info Info, exists bool, err error) {
	const op = "read the key"
	if err := c.checkName(op, key); err != nil {
		return Info{}, false, err
	}
	info, exists, e := c.keyInfo(ctx, op, key)
	if e != nil {
		return Info{}, false, e
	}
	return info, exists, nil
}

// keyInfo is KeyInfo with an *Error (nil when there is none) naming op.
func (c *Client) keyInfo(ctx context.Context, op, key string) (Info, bool, *Error) {
	if t := c.api.ClientTimeout(); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	resp, err := c.api.Logical().ReadRawWithContext(ctx, c.path("keys", key))
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		// Vault answers a read of a missing key 404 with no message; a
		// missing route (no such mount) is also 404, with a message.
		var re *api.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound && !re.RawError && len(re.Errors) == 0 {
			return Info{}, false, nil
		}
		return Info{}, false, classify(op, c.ref(key), err)
	}
	if resp.StatusCode == http.StatusNoContent {
		return Info{}, false, nil
	}
	s, err := api.ParseSecret(resp.Body)
	if err != nil {
		return Info{}, false, classify(op, c.ref(key), fmt.Errorf("reading Vault's answer: %w", err))
	}
	if s == nil || s.Data == nil {
		return Info{}, false, classify(op, c.ref(key), errors.New("Vault returned no key data"))
	}
	d := s.Data
	info := Info{Name: key}
	if n, ok := d["name"].(string); ok && n != "" {
		info.Name = n
	}
	info.Type, _ = d["type"].(string)
	info.Derived, _ = d["derived"].(bool)
	info.Exportable, _ = d["exportable"].(bool)
	info.AllowPlaintextBackup, _ = d["allow_plaintext_backup"].(bool)
	info.DeletionAllowed, _ = d["deletion_allowed"].(bool)
	info.LatestVersion, _ = intOf(d["latest_version"])
	info.MinDecryptionVersion, _ = intOf(d["min_decryption_version"])
	info.MinEncryptionVersion, _ = intOf(d["min_encryption_version"])
	if info.Type == "" || info.LatestVersion < 1 {
		return Info{}, false, classify(op, c.ref(key), errors.New("Vault returned key data without type or latest_version"))
	}
	return info, true, nil
}

// DedicatedName returns the name of the dedicated key of an archive:
// "chatvault-<archiveID>".
func DedicatedName(archiveID string) string { return DedicatedPrefix + archiveID }

// archiveIDPattern keeps dedicated key names within Transit's alphabet.
var archiveIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)

// CreateDedicated creates the Transit key of one archive only,
// DedicatedName(archiveID): aes256-gcm96, derived, not exportable, no
// plaintext backup, then deletion_allowed=true so that Destroy can shred it.
// It refuses (ErrKeyExists) if a key of that name exists. Four calls: read,
// create, config, and a read that checks the key has those properties.
func (c *Client) CreateDedicated(ctx context.Context, archiveID string) (name string, err error) {
	return c.createDedicated(ctx, archiveID, "")
}

// NamedDedicatedName returns the name of a further dedicated key of an
// archive: "chatvault-<archiveID>-<suffix>" (DedicatedName when suffix is "").
func NamedDedicatedName(archiveID, suffix string) string {
	if suffix == "" {
		return DedicatedName(archiveID)
	}
	return DedicatedName(archiveID) + "-" + suffix
}

// IsDedicatedName reports whether name is one CreateDedicated or
// CreateDedicatedNamed makes for the archive archiveID.
func IsDedicatedName(name, archiveID string) bool {
	if name == DedicatedName(archiveID) {
		return true
	}
	suffix, ok := strings.CutPrefix(name, DedicatedName(archiveID)+"-")
	return ok && suffixPattern.MatchString(suffix)
}

// suffixPattern keeps the suffix of a named dedicated key short, within
// Transit's alphabet, and ending with a letter or digit.
var suffixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{0,39}[A-Za-z0-9]$`)

// CreateDedicatedNamed is CreateDedicated for a further dedicated key of the
// same archive (a conversation shred moves the archive to a new one):
// NamedDedicatedName(archiveID, suffix), with the same properties. The
// suffix (1–40 characters among A–Z a–z 0–9 _ -, ending with a letter or
// digit) must differ from those of the archive's other keys (ErrKeyExists).
func (c *Client) CreateDedicatedNamed(ctx context.Context, archiveID, suffix string) (name string, err error) {
	if !suffixPattern.MatchString(suffix) {
		return "", argError("create the dedicated key", "", ErrBadArchiveID, "key name suffix %q: want 1–40 characters among A–Z a–z 0–9 _ -, ending with a letter or digit", suffix)
	}
	return c.createDedicated(ctx, archiveID, suffix)
}

func (c *Client) createDedicated(ctx context.Context, archiveID, suffix string) (name string, err error) {
	const op = "create the dedicated key"
	if !archiveIDPattern.MatchString(archiveID) || !keyNamePattern.MatchString(NamedDedicatedName(archiveID, suffix)) {
		return "", argError(op, "", ErrBadArchiveID, "want 1–200 characters among A–Z a–z 0–9 _ -, ending with a letter or digit")
	}
	name = NamedDedicatedName(archiveID, suffix)
	if _, exists, e := c.keyInfo(ctx, op, name); e != nil {
		return "", e
	} else if exists {
		return "", &Error{Op: op, Key: c.ref(name), Class: ErrKeyExists, Hint: "chatvault does not adopt an existing key as dedicated"}
	}
	_, err = c.api.Logical().WriteWithContext(ctx, c.path("keys", name), map[string]any{
		"type":                   TypeAES256,
		"derived":                true,
		"exportable":             false,
		"allow_plaintext_backup": false,
	})
	if err != nil {
		return "", classify(op, c.ref(name), err)
	}
	_, err = c.api.Logical().WriteWithContext(ctx, c.path("keys", name, "config"), map[string]any{
		"deletion_allowed": true,
	})
	if err != nil {
		e := classify("allow the deletion of", c.ref(name), err)
		e.Hint = "the key was created; allow its deletion with vault write " + c.path("keys", name, "config") + " deletion_allowed=true"
		return "", e
	}
	info, exists, e := c.keyInfo(ctx, op, name)
	if e != nil {
		return "", e
	}
	if !exists || !info.Derived || info.Type != TypeAES256 || info.Extractable() || !info.DeletionAllowed {
		return "", &Error{Op: op, Key: c.ref(name), Err: fmt.Errorf("the new key reads back as %+v (exists=%v)", info, exists)}
	}
	return name, nil
}

// Destroy deletes the Transit key key and with it every version of its key
// material: every ciphertext under it becomes undecryptable (a dedicated
// key's shred). It sets deletion_allowed=true if needed, deletes the key
// (DELETE <mount>/keys/<key>) and reads it again to check it is gone. A key
// that does not exist is success. Vault storage snapshots or backups taken
// before keep the key: that is out of reach.
func (c *Client) Destroy(ctx context.Context, key string) error {
	const op = "delete the key"
	if err := c.checkName(op, key); err != nil {
		return err
	}
	info, exists, e := c.keyInfo(ctx, op, key)
	if e != nil {
		return e
	}
	if !exists {
		return nil
	}
	if !info.DeletionAllowed {
		_, err := c.api.Logical().WriteWithContext(ctx, c.path("keys", key, "config"), map[string]any{
			"deletion_allowed": true,
		})
		if err != nil {
			if e := classify("allow the deletion of", c.ref(key), err); !errors.Is(e, ErrKeyNotFound) {
				return e
			}
		}
	}
	if _, err := c.api.Logical().DeleteWithContext(ctx, c.path("keys", key)); err != nil {
		if e := classify(op, c.ref(key), err); !errors.Is(e, ErrKeyNotFound) {
			return e
		}
	}
	if _, exists, e := c.keyInfo(ctx, "check the deletion of", key); e != nil {
		return e
	} else if exists {
		return &Error{Op: op, Key: c.ref(key), Err: errors.New("the key still exists after its deletion")}
	}
	return nil
}

// Rotate adds a new version to the Transit key key (POST
// <mount>/keys/<key>/rotate): new wraps use it, old ciphertexts still
// decrypt, and Rewrap moves them to it. chatvault's tests use it; in
// production the Vault operator rotates.
func (c *Client) Rotate(ctx context.Context, key string) error {
	const op = "rotate"
	if err := c.checkName(op, key); err != nil {
		return err
	}
	if _, err := c.api.Logical().WriteWithContext(ctx, c.path("keys", key, "rotate"), nil); err != nil {
		return classify(op, c.ref(key), err)
	}
	return nil
}
