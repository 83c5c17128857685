package archive

import (
	"errors"
	"testing"

	"github.com/chatvault/chatvault/kms/vault"
	"github.com/chatvault/chatvault/kms/vault/vaulttest"
)

// The Transit wrapper, against the fake (and the real Vault in
// TestVaultTransitWrapperReal): wrap, unwrap, rewrap after a Vault-side
// rotation (the wrapper moves to the newest key version), and a wrapper
// replayed onto another archive refused.
func TestVaultTransitWrapper(t *testing.T) {
	_, c := vaulttest.Fake(t)
	testVaultWrapper(t, c, vaulttest.KeyOn(t, c))
}

func TestVaultTransitWrapperReal(t *testing.T) {
	c := vaulttest.Client(t)
	testVaultWrapper(t, c, vaulttest.KeyOn(t, c))
}

func testVaultWrapper(t *testing.T, c *vault.Client, key string) {
	e := newEnv(t)
	a, err := Create(e.ctx, e.st, CreateOptions{Label: "vault", Lockers: []Locker{VaultLocker{Vault: c, Key: key}}}, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	e.export(a, msg("c", "1", "2020-01-01T00:00:00Z", "hi"), ExportOptions{})
	b, _ := Open(e.ctx, e.st, a.ID(), e.opts())
	if err := b.Unlock(e.ctx, VaultUnlocker{Vault: c}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rotate(e.ctx, key); err != nil {
		t.Fatal(err)
	}
	ws, _ := b.Wrappers(e.ctx)
	if ws[0].KeyVersion != 1 || ws[0].KeyID != c.Mount()+"/"+key {
		t.Fatalf("wrapper: %+v", ws[0])
	}
	res, err := b.ChangeWrappers(e.ctx, WrapperChange{Add: []Locker{VaultRewrapLocker{Vault: c, From: ws[0]}}, Remove: []ID{ws[0].ID}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added[0].KeyVersion != 2 {
		t.Errorf("after rewrap the wrapper is at key version %d, want 2", res.Added[0].KeyVersion)
	}
	d, _ := Open(e.ctx, e.st, a.ID(), e.opts())
	if err := d.Unlock(e.ctx, VaultUnlocker{Vault: c}); err != nil {
		t.Fatal(err)
	}
	// The same wrapper bytes presented for another archive: refused.
	other := e.create("other")
	ws2, _ := d.Wrappers(e.ctx)
	if _, err := (VaultUnlocker{Vault: c}).Unlock(e.ctx, other.ID(), ws2[0]); !errors.Is(err, ErrIntegrity) {
		t.Errorf("a wrapper replayed onto another archive: %v", err)
	}
	forged := *ws2[0]
	forged.Context = map[string]string{"chatvault:archive": other.ID().String(), "chatvault:purpose": vault.PurposeArchiveKey}
	if _, err := (VaultUnlocker{Vault: c}).Unlock(e.ctx, other.ID(), &forged); !errors.Is(err, ErrWrongKey) || !errors.Is(err, vault.ErrWrongContext) {
		t.Errorf("a wrapper with a forged context: %v", err)
	}
}
