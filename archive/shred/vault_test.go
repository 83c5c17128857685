package shred_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/shred"
	"github.com/chatvault/chatvault/kms/vault"
	"github.com/chatvault/chatvault/kms/vault/vaultfake"
	"github.com/chatvault/chatvault/kms/vault/vaulttest"
	"github.com/chatvault/chatvault/remote"
)

// dedicatedVault makes the Transit key of the archive being created once its
// id is known (as init --vault-transit-create does) and wraps the archive key
// under it, marked dedicated. With exportable, the key is made by hand with
// that name but exportable, so that it fails the dedicated checks.
type dedicatedVault struct {
	c          *vault.Client
	exportable bool
	name       string
}

func (l *dedicatedVault) Lock(ctx context.Context, id archive.ID, w *archive.Wrapper, key []byte) error {
	name := vault.DedicatedName(id.String())
	if l.exportable {
		_, err := l.c.API().Logical().WriteWithContext(ctx, l.c.Mount()+"/keys/"+name, map[string]any{"type": vault.TypeAES256, "derived": true, "exportable": true})
		if err != nil {
			return err
		}
	} else if _, err := l.c.CreateDedicated(ctx, id.String()); err != nil {
		return err
	}
	l.name = name
	return archive.VaultLocker{Vault: l.c, Key: name, Dedicated: true}.Lock(ctx, id, w, key)
}

func (l *dedicatedVault) Unlock(ctx context.Context, id archive.ID, w *archive.Wrapper) ([]byte, error) {
	return archive.VaultUnlocker{Vault: l.c}.Unlock(ctx, id, w)
}

// vaultArchive makes an archive wrapped by a new dedicated Vault key (plus
// more lockers) and deletes the key at the end of the test if a shred did
// not.
func vaultArchive(t *testing.T, d *device, c *vault.Client, exportable bool, more ...archive.Locker) (*archive.Archive, string) {
	t.Helper()
	l := &dedicatedVault{c: c, exportable: exportable}
	a := d.create(nil, append([]archive.Locker{l}, more...)...)
	t.Cleanup(func() { c.Destroy(context.Background(), l.name) })
	return a, l.name
}

func keyExists(t *testing.T, c *vault.Client, name string) bool {
	t.Helper()
	_, exists, err := c.KeyInfo(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return exists
}

// A dedicated Vault key is deleted right after the key material: the grade is
// final, the report names the key and notes the snapshots; verify-shred reads
// the key (never encrypts) and finds it gone; a key of that name back in
// Vault contradicts the report. On the fake and on the real Vault.
func TestShredDedicatedVault(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		_, c := vaulttest.Fake(t)
		testShredDedicatedVault(t, c)
	})
	t.Run("real", func(t *testing.T) { testShredDedicatedVault(t, vaulttest.Client(t)) })
}

func testShredDedicatedVault(t *testing.T, c *vault.Client) {
	d := newDevice(t)
	a, name := vaultArchive(t, d, c, false)
	if err := a.Unlock(t.Context(), archive.VaultUnlocker{Vault: c}); err != nil {
		t.Fatal(err)
	}
	ref := c.Mount() + "/" + name
	o := d.shredOpts()
	o.Vault = c
	r, err := shred.Archive(t.Context(), a, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if keyExists(t, c, name) {
		t.Fatal("the dedicated key survived the shred")
	}
	if !r.Complete || r.Grade != shred.GradeFinal || len(r.VaultKeys) != 1 || len(r.Wrappers) != 1 {
		t.Fatalf("report: %+v", r)
	}
	k, w := r.VaultKeys[0], r.Wrappers[0]
	if k.Key != ref || !k.Dedicated || k.Action != shred.VaultDeleted || k.State != shred.VaultStateDeleted || k.LatestVersion != 1 || k.Exportable || k.AllowPlaintextBackup {
		t.Errorf("Vault key: %+v", k)
	}
	if w.KEK != "vault transit key "+ref || w.KEKStatus != shred.KEKDestroyed || !w.Dedicated {
		t.Errorf("wrapper: %+v", w)
	}
	if !notesContain(r.Notes, "snapshots") || !strings.Contains(shred.Summary(r), "Vault key "+ref+": deleted by this shred") {
		t.Errorf("notes %q\n%s", r.Notes, shred.Summary(r))
	}
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"vault_keys": [`) {
		t.Errorf("report JSON without vault_keys:\n%s", b)
	}
	if back, err := shred.ParseReport(b); err != nil || back.VaultKeys[0] != k {
		t.Fatalf("parsed back: %v %+v", err, back)
	}

	stores := []remote.Store{d.st}
	res, _ := shred.Verify(t.Context(), r, stores, nil, shred.VerifyOptions{Vault: c})
	if res.Verdict != shred.VerdictOK || res.Grade != shred.GradeFinal {
		t.Fatalf("verify: %v %+v", res.Verdict, res.Checks)
	}
	if res, _ := shred.Verify(t.Context(), r, stores, nil, shred.VerifyOptions{}); res.Verdict != shred.VerdictUnreachable || !strings.Contains(res.Err().Error(), "vault "+ref) {
		t.Fatalf("verify without a Vault client: %v %v", res.Verdict, res.Err())
	}
	// A rerun finds the key already deleted: still final.
	again, err := shred.Resume(t.Context(), r, stores, o)
	if err != nil || again.Grade != shred.GradeFinal || again.VaultKeys[0].Action != shred.VaultAlreadyDeleted {
		t.Fatalf("rerun: %v %+v", err, again)
	}
	// A key of that name again (an encrypt's upsert, say): contradicted.
	if _, err := c.API().Logical().WriteWithContext(t.Context(), c.Mount()+"/keys/"+name, map[string]any{"derived": true}); err != nil {
		t.Fatal(err)
	}
	res, _ = shred.Verify(t.Context(), r, stores, nil, shred.VerifyOptions{Vault: c})
	if res.Verdict != shred.VerdictContradicted || !strings.Contains(res.Err().Error(), "Vault still has it") {
		t.Fatalf("verify with the key back: %v %v", res.Verdict, res.Err())
	}
}

func notesContain(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// With a recovery key beside the dedicated Vault key, and with a shared Vault
// key, the grade is best-effort: the shared key is never touched.
func TestShredVaultBestEffort(t *testing.T) {
	f, c := vaulttest.Fake(t)
	shared := vaulttest.KeyOn(t, c)
	d := newDevice(t)
	a, name := vaultArchive(t, d, c, false, archive.RecoveryLocker{Key: testKey}, archive.VaultLocker{Vault: c, Key: shared})
	o := d.shredOpts()
	o.Vault = c
	f.ResetCalls()
	r, err := shred.Archive(t.Context(), a, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if f.Calls(vaultfake.OpKeyDelete) != 1 || f.Calls(vaultfake.OpEncrypt) != 0 || keyExists(t, c, name) || !keyExists(t, c, shared) {
		t.Fatalf("Vault calls %v", f.CallCounts())
	}
	if r.Grade != shred.GradeBestEffort || len(r.SurvivingKEKs) != 2 || len(r.VaultKeys) != 2 {
		t.Fatalf("report: %s %q %+v", r.Grade, r.SurvivingKEKs, r.VaultKeys)
	}
	for _, k := range r.VaultKeys {
		switch k.Key {
		case c.Mount() + "/" + shared:
			if k.Action != shred.VaultKept || k.Dedicated || k.State != shred.VaultStateExists || !strings.Contains(k.Note, "shared") {
				t.Errorf("shared key: %+v", k)
			}
		case c.Mount() + "/" + name:
			if k.Action != shred.VaultDeleted {
				t.Errorf("dedicated key: %+v", k)
			}
		}
	}
	if !strings.Contains(strings.Join(r.SurvivingKEKs, ";"), "vault transit key "+c.Mount()+"/"+shared) {
		t.Errorf("surviving: %q", r.SurvivingKEKs)
	}
	res, _ := shred.Verify(t.Context(), r, []remote.Store{d.st}, nil, shred.VerifyOptions{Vault: c})
	if res.Verdict != shred.VerdictBestEffort || res.Verdict.ExitCode(false, true) != 0 {
		t.Fatalf("verify: %v %+v", res.Verdict, res.Checks)
	}
	// Vault sealed at verify time: unreachable.
	f.Seal()
	if res, _ := shred.Verify(t.Context(), r, []remote.Store{d.st}, nil, shred.VerifyOptions{Vault: c}); res.Verdict != shred.VerdictUnreachable || !errors.Is(res.Err(), shred.ErrUnreachable) {
		t.Fatalf("verify with Vault sealed: %v %v", res.Verdict, res.Err())
	}
}

// A key marked dedicated that is exportable is never deleted (its material
// may live outside Vault): best-effort, and verify agrees even once the key
// is deleted by hand.
func TestShredVaultExportable(t *testing.T) {
	f, c := vaulttest.Fake(t)
	d := newDevice(t)
	a, name := vaultArchive(t, d, c, true)
	o := d.shredOpts()
	o.Vault = c
	r, err := shred.Archive(t.Context(), a, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	k := r.VaultKeys[0]
	if f.Calls(vaultfake.OpKeyDelete) != 0 || k.Action != shred.VaultKept || !k.Exportable || !strings.Contains(k.Note, "exportable") || r.Grade != shred.GradeBestEffort {
		t.Fatalf("report: %s %+v", r.Grade, k)
	}
	if err := c.Destroy(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	res, _ := shred.Verify(t.Context(), r, []remote.Store{d.st}, nil, shred.VerifyOptions{Vault: c})
	if res.Verdict != shred.VerdictBestEffort {
		t.Fatalf("verify: %v %+v", res.Verdict, res.Checks)
	}
	// A report that calls it destroyed anyway is contradicted.
	r.Wrappers[0].KEKStatus = shred.KEKDestroyed
	r.Grade, r.SurvivingKEKs = shred.GradeFinal, nil
	res, _ = shred.Verify(t.Context(), r, []remote.Store{d.st}, nil, shred.VerifyOptions{Vault: c})
	if res.Verdict != shred.VerdictContradicted || !strings.Contains(res.Err().Error(), "exportable") {
		t.Fatalf("verify of a doctored report: %v %v", res.Verdict, res.Err())
	}
}

// Without a Vault client, or with Vault sealed, the dedicated key is not
// deleted: the data still goes, the report is incomplete, and a rerun with
// Vault back finishes it. A dry run deletes nothing.
func TestShredVaultUnavailable(t *testing.T) {
	f, c := vaulttest.Fake(t)
	d := newDevice(t)
	a, name := vaultArchive(t, d, c, false)
	o := d.shredOpts()
	o.Vault = c
	o.DryRun = true
	r, err := shred.Archive(t.Context(), a, nil, o)
	if err != nil || r.VaultKeys[0].Action != shred.VaultWouldDelete || !keyExists(t, c, name) || r.Grade != shred.GradeFinal {
		t.Fatalf("dry run: %v %+v", err, r)
	}
	r, err = shred.Archive(t.Context(), a, nil, d.shredOpts())
	ref := c.Mount() + "/" + name
	if !errors.Is(err, shred.ErrIncomplete) || r.Complete || len(r.Remaining) != 1 || r.Remaining[0].VaultKey != ref || r.Remaining[0].Step != shred.StepVault {
		t.Fatalf("without Vault: %v %+v", err, r)
	}
	if r.Wrappers[0].KEKStatus != shred.KEKUnknown || r.Grade != shred.GradeBestEffort {
		t.Fatalf("without Vault: %+v", r.Wrappers)
	}
	if left := names(t, d.st, a.Prefix()); len(left) != 0 {
		t.Fatalf("data left: %v", left)
	}
	f.Seal()
	o.DryRun = false
	r, err = shred.Resume(t.Context(), r, []remote.Store{d.st}, o)
	if !errors.Is(err, shred.ErrIncomplete) || r.VaultKeys[0].Action != shred.VaultFailed || !errors.Is(err, vault.ErrSealed) {
		t.Fatalf("Vault sealed: %v %+v", err, r.VaultKeys)
	}
	if res, _ := shred.Verify(t.Context(), r, []remote.Store{d.st}, nil, shred.VerifyOptions{Vault: c}); res.Verdict != shred.VerdictUnreachable {
		t.Fatalf("verify with Vault sealed: %v %+v", res.Verdict, res.Checks)
	}
	f.Unseal()
	if res, _ := shred.Verify(t.Context(), r, []remote.Store{d.st}, nil, shred.VerifyOptions{Vault: c}); res.Verdict != shred.VerdictIncomplete {
		t.Fatalf("verify of the incomplete report: %v %+v", res.Verdict, res.Checks)
	}
	r, err = shred.Resume(t.Context(), r, []remote.Store{d.st}, o)
	if err != nil || !r.Complete || r.Grade != shred.GradeFinal || keyExists(t, c, name) {
		t.Fatalf("Vault back: %v %+v", err, r)
	}
}
