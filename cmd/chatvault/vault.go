package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/spf13/pflag"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/kms/vault"
)

// vaultState is the run's HashiCorp Vault Transit settings and client. The
// server, token, namespace and CA come from the standard VAULT_* variables
// (VAULT_ADDR, VAULT_TOKEN or ~/.vault-token, VAULT_NAMESPACE, VAULT_CACERT,
// …); --vault-mount (config key vault-mount) says where Transit is mounted.
type vaultState struct {
	mount string // --vault-mount

	once   sync.Once
	client *vault.Client
	err    error
}

func (v *vaultState) register(fs *pflag.FlagSet) {
	fs.StringVar(&v.mount, "vault-mount", vault.DefaultMount, "`PATH` of the Vault Transit secrets engine for new vault-transit wrappers (server and token from VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT)")
}

// vaultClient returns the run's Vault client for --vault-mount, made on first
// use: commands that never meet a vault-transit wrapper never read the Vault
// configuration.
func (a *app) vaultClient() (*vault.Client, error) {
	v := &a.vault
	v.once.Do(func() {
		c, err := vault.New(vault.Options{Mount: v.mount})
		if err != nil {
			v.err = usageError(fmt.Errorf("--vault-mount %q or the VAULT_* environment: %w", v.mount, err))
			return
		}
		v.client = c
	})
	return v.client, v.err
}

// vaultOn returns a client of the same Vault server and token for the
// Transit engine at mount.
func (a *app) vaultOn(mount string) (*vault.Client, error) {
	c, err := a.vaultClient()
	if err != nil || c.Mount() == mount {
		return c, err
	}
	return vault.NewFromAPI(c.API(), mount)
}

// vaultFor returns a client for the mount a vault-transit wrapper records,
// whatever --vault-mount says, and the wrapper's key name.
func (a *app) vaultFor(w *archive.Wrapper) (*vault.Client, string, error) {
	mount, key, ok := splitVaultKey(w.KeyID)
	if !ok {
		return nil, "", fmt.Errorf("%w: vault-transit wrapper %s names no <mount>/<key> (%q)", archive.ErrIntegrity, w.ID.Short(), w.KeyID)
	}
	c, err := a.vaultOn(mount)
	if err != nil {
		return nil, "", err
	}
	return c, key, nil
}

// splitVaultKey splits a wrapper's KeyID "<mount>/<key>" (a mount may have
// several segments; a key name has none).
func splitVaultKey(ref string) (mount, key string, ok bool) {
	i := strings.LastIndexByte(ref, '/')
	if i <= 0 || i == len(ref)-1 {
		return "", "", false
	}
	return ref[:i], ref[i+1:], true
}

// checkVaultKey reads a Transit key before anything is asked or created (a
// typo is caught at once, and no encrypt ever creates a key): a missing key
// is ErrKeyNotFound with advice, a key that cannot wrap ErrUnsuitableKey.
// Wrap checks again when it wraps.
func checkVaultKey(ctx context.Context, c *vault.Client, key string) (vault.Info, error) {
	info, exists, err := c.KeyInfo(ctx, key)
	ref := c.Mount() + "/" + key
	switch {
	case err != nil:
		return info, err
	case !exists:
		return info, &vault.Error{Op: "encrypt under", Key: ref, Class: vault.ErrKeyNotFound,
			Hint: fmt.Sprintf("create it (vault write -f %s/keys/%s derived=true), or use --vault-transit-create for a key dedicated to a new archive; chatvault never lets encrypt create a key", c.Mount(), key)}
	case !info.Derived:
		return info, &vault.Error{Op: "encrypt under", Key: ref, Class: vault.ErrUnsuitableKey,
			Err: fmt.Errorf("key %s is not derived: Transit would ignore the archive's derivation context (create a key with derived=true)", key)}
	case info.Type != vault.TypeAES256 && info.Type != vault.TypeChaCha20:
		return info, &vault.Error{Op: "encrypt under", Key: ref, Class: vault.ErrUnsuitableKey,
			Err: fmt.Errorf("key %s is of type %q", key, info.Type)}
	}
	return info, nil
}

// vaultUnlocker opens vault-transit wrappers, each with the mount it records,
// with a Vault client made only when the archive has such a wrapper. Like
// kmsUnlocker, a Vault that cannot be reached (or is sealed) does not stop
// the unlock at once: the next unlockers may still open the archive, and if
// none does, the unavailable Vault is the error (exit 5).
type vaultUnlocker struct {
	app         *app
	unreachable error // Vault could not be reached, or is sealed
	refused     error // Vault refused a wrapper (denied, key missing, too old, …)
}

func (u *vaultUnlocker) Unlock(ctx context.Context, id archive.ID, w *archive.Wrapper) ([]byte, error) {
	if w.Type != archive.WrapperVault || u.unreachable != nil {
		return nil, archive.ErrNotMine
	}
	c, _, err := u.app.vaultFor(w)
	if err != nil {
		return nil, err
	}
	key, err := archive.VaultUnlocker{Vault: c}.Unlock(ctx, id, w)
	if errors.Is(err, vault.ErrUnavailable) && ctx.Err() == nil {
		u.unreachable = fmt.Errorf("archive %s: wrapper %s: %w", id.Short(), w.ID.Short(), err)
		return nil, archive.ErrNotMine
	}
	if err != nil && errors.Is(err, archive.ErrWrongKey) {
		err = fmt.Errorf("wrapper %s (vault-transit, %s, key version %d): %w", w.ID.Short(), w.KeyID, w.KeyVersion, err)
		u.refused = err
	}
	return key, err
}

// dedicatedVaultLocker makes a Transit key for this archive alone (init
// --vault-transit-create) once the archive id is known — derived, not
// exportable, no plaintext backup, deletion allowed — then wraps the archive
// key under it; the wrapper is marked Dedicated, which a shred relies on.
type dedicatedVaultLocker struct {
	Vault *vault.Client
	name  string // the key made (or perhaps made), to destroy if init fails
}

func (l *dedicatedVaultLocker) Lock(ctx context.Context, id archive.ID, w *archive.Wrapper, key []byte) error {
	name, err := l.Vault.CreateDedicated(ctx, id.String())
	if err != nil {
		if !errors.Is(err, vault.ErrKeyExists) && !errors.Is(err, vault.ErrBadArchiveID) {
			// It may have been created before the failure (the archive id
			// is new, so a key of its name is this run's).
			name := vault.DedicatedName(id.String())
			if _, exists, kerr := l.Vault.KeyInfo(ctx, name); kerr == nil && exists {
				l.name = name
			}
		}
		return err
	}
	l.name = name
	return archive.VaultLocker{Vault: l.Vault, Key: name, Dedicated: true}.Lock(ctx, id, w, key)
}

// Unlock opens a wrapper this locker made: how the engine checks it.
func (l *dedicatedVaultLocker) Unlock(ctx context.Context, id archive.ID, w *archive.Wrapper) ([]byte, error) {
	return archive.VaultUnlocker{Vault: l.Vault}.Unlock(ctx, id, w)
}

// destroy deletes the key made for an archive init could not create.
func (l *dedicatedVaultLocker) destroy(ctx context.Context, a *app) {
	if l == nil || l.name == "" {
		return
	}
	ref := l.Vault.Mount() + "/" + l.name
	if err := l.Vault.Destroy(context.WithoutCancel(ctx), l.name); err != nil {
		a.warn(fmt.Sprintf("the Vault key %s made for the archive could not be deleted: %v", ref, oneLine(err.Error())))
		return
	}
	a.warn(fmt.Sprintf("the Vault key %s made for the archive was deleted", ref))
}

// vaultRefusal reports whether err is Vault refusing (permission denied, key
// not found, wrong context, version below min_decryption_version, …), as
// opposed to a passphrase or recovery key that does not fit.
func vaultRefusal(err error) bool { return errors.Is(err, vault.ErrRefused) }

// vaultHint is the hint of a Vault refusal (exit 4) or outage (exit 5).
func vaultHint(err error) string {
	// Only a refused decrypt leaves other wrappers to try; a refused
	// encrypt (init, keys add, rotate) makes no wrapper.
	other := ""
	var ve *vault.Error
	if errors.As(err, &ve) && ve.Op == "decrypt with" {
		other = "; another wrapper of the archive (a passphrase, --recovery-key-file, a device key) may still open it"
	}
	switch {
	case errors.Is(err, vault.ErrUnavailable):
		return "check VAULT_ADDR and the network, and that Vault is unsealed (vault status), then run the command again"
	case errors.Is(err, vault.ErrDenied):
		return "Vault denied the token (VAULT_TOKEN, or ~/.vault-token from `vault login`): check that it is valid, not expired, and that its policy allows read on <mount>/keys/<key> and update on <mount>/encrypt/<key>, <mount>/decrypt/<key> and <mount>/rewrap/<key> (and VAULT_NAMESPACE)" + other
	case errors.Is(err, vault.ErrTooOld):
		return "the wrapper's Transit key version is below the key's min_decryption_version: lower it in Vault (vault write <mount>/keys/<key>/config min_decryption_version=N), open the archive, and move every wrapper to the newest version with `chatvault rotate ARCHIVE --rewrap`" + other
	case errors.Is(err, vault.ErrKeyNotFound):
		return "the Transit key named above does not exist on that mount (never created, deleted, or another --vault-mount, VAULT_ADDR or VAULT_NAMESPACE); for a new archive, init --vault-transit-create makes a key dedicated to it" + other
	case errors.Is(err, vault.ErrWrongContext):
		return "the Vault wrapper does not open with its Transit key and this archive's derivation context (a wrapper of another archive, a deleted and re-created key, or damaged)" + other
	case errors.Is(err, vault.ErrUnsuitableKey):
		return "chatvault wraps only with derived aes256-gcm96 or chacha20-poly1305 Transit keys (vault write -f <mount>/keys/<key> derived=true)"
	case errors.Is(err, vault.ErrNoMount):
		return "no Transit secrets engine at that path: check --vault-mount (config vault-mount), VAULT_ADDR and VAULT_NAMESPACE"
	}
	return "Vault refused the operation named above" + other
}
