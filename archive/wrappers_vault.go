package archive

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/chatvault/chatvault/kms/vault"
)

// WrapperVault is the type of wrappers held by HashiCorp Vault Transit.
const WrapperVault = "vault-transit"

// VaultLocker wraps the archive key with Transit encrypt on a derived key,
// with a derivation context that binds the archive id (a wrapper replayed
// onto another archive does not decrypt). The wrapper records the mount and
// key ("transit/name"), the key version that encrypted it, and the context.
type VaultLocker struct {
	Vault     *vault.Client
	Key       string // the Transit key name
	Dedicated bool   // made for this archive alone (init --vault-transit-create)
}

func (l VaultLocker) Lock(ctx context.Context, archive ID, w *Wrapper, key []byte) error {
	ct, version, err := l.Vault.Wrap(ctx, l.Key, vault.Context(archive.String()), key)
	if err != nil {
		return vaultError(err)
	}
	fillVaultWrapper(w, l.Vault, l.Key, archive, ct, version)
	w.Dedicated = l.Dedicated
	return nil
}

// Unlock opens a wrapper this locker made: how a new wrapper is checked.
func (l VaultLocker) Unlock(ctx context.Context, archive ID, w *Wrapper) ([]byte, error) {
	return VaultUnlocker{Vault: l.Vault}.Unlock(ctx, archive, w)
}

// VaultRewrapLocker moves a Transit wrapper to the key's newest version with
// Transit rewrap (after a Vault-side rotate): the archive key never leaves
// Vault for it.
type VaultRewrapLocker struct {
	Vault *vault.Client
	From  *Wrapper
}

func (l VaultRewrapLocker) Lock(ctx context.Context, archive ID, w *Wrapper, key []byte) error {
	name, err := vaultKeyName(l.Vault, l.From)
	if err != nil {
		return err
	}
	ct, version, err := l.Vault.Rewrap(ctx, name, vault.Context(archive.String()), string(l.From.Ciphertext))
	if err != nil {
		return vaultError(err)
	}
	fillVaultWrapper(w, l.Vault, name, archive, ct, version)
	w.Dedicated = l.From.Dedicated
	return nil
}

// Unlock opens a wrapper this locker made: how a new wrapper is checked.
func (l VaultRewrapLocker) Unlock(ctx context.Context, archive ID, w *Wrapper) ([]byte, error) {
	return VaultUnlocker{Vault: l.Vault}.Unlock(ctx, archive, w)
}

// VaultUnlocker opens vault-transit wrappers with Transit decrypt and the
// context of this archive.
type VaultUnlocker struct {
	Vault *vault.Client
}

func (u VaultUnlocker) Unlock(ctx context.Context, archive ID, w *Wrapper) ([]byte, error) {
	if w.Type != WrapperVault {
		return nil, ErrNotMine
	}
	if w.Context["chatvault:archive"] != archive.String() {
		return nil, fmt.Errorf("%w: Vault wrapper %s is bound to another archive", ErrIntegrity, w.ID.Short())
	}
	name, err := vaultKeyName(u.Vault, w)
	if err != nil {
		return nil, err
	}
	key, err := u.Vault.Unwrap(ctx, name, vault.Context(archive.String()), string(w.Ciphertext))
	if err != nil {
		return nil, vaultError(err)
	}
	return key, nil
}

func fillVaultWrapper(w *Wrapper, c *vault.Client, key string, archive ID, ct string, version int) {
	w.Type, w.KeyID, w.KeyVersion, w.Ciphertext = WrapperVault, c.Mount()+"/"+key, version, []byte(ct)
	w.Context = map[string]string{"chatvault:archive": archive.String(), "chatvault:purpose": vault.PurposeArchiveKey}
}

// vaultKeyName is the key name of a wrapper, which must be on the client's
// mount.
func vaultKeyName(c *vault.Client, w *Wrapper) (string, error) {
	i := strings.LastIndexByte(w.KeyID, '/')
	if i < 0 || w.KeyID[:i] != c.Mount() {
		return "", fmt.Errorf("Vault wrapper %s is under %q, not the mount %q (--vault-mount)", w.ID.Short(), w.KeyID, c.Mount())
	}
	return w.KeyID[i+1:], nil
}

// vaultError adds ErrWrongKey to Vault's refusals (denied, missing key, wrong
// context, version too old) so that another wrapper may still open the
// archive; an unreachable or sealed Vault stops the unlock.
func vaultError(err error) error {
	if errors.Is(err, vault.ErrRefused) {
		return fmt.Errorf("%w: %w", ErrWrongKey, err)
	}
	return err
}
