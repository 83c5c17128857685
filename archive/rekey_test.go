package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/kms/recovery"
)

// A re-key replaces the archive key: the old recovery key no longer opens
// the archive, every version still restores, later exports work, another
// device follows the key change through push and pull, and the old key
// material is gone from the store.
func TestRekey(t *testing.T) {
	alice, bob := newDevice(t), newDevice(t)
	rem := newRemote(t)
	a := alice.create("rekey")
	v2 := msg("c", "1", "2020-01-01T00:00:00Z", "before")
	alice.export(a, v2, ExportOptions{})
	alice.export(a, msg("d", "2", "2020-01-02T00:00:00Z", "other chat"), ExportOptions{})
	alice.pushOK(a.ID(), rem)
	bob.pullOK(a.ID(), rem)

	oldWrappers, _ := a.Wrappers(alice.ctx)
	newRecovery := recovery.Key{4, 5, 6}
	res, err := a.Rekey(alice.ctx, []Locker{RecoveryLocker{Key: newRecovery}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Commit != 4 || res.Epoch != 1 || len(res.Deleted) == 0 {
		t.Fatalf("rekey: %+v", res)
	}
	for _, w := range oldWrappers {
		if _, err := os.Stat(filepath.Join(alice.st.Root(), filepath.FromSlash(a.paths.object(areaKeys, w.ID)))); err == nil {
			t.Errorf("old wrapper %s is still in the store", w.ID.Short())
		}
	}
	b, err := Open(alice.ctx, alice.st, a.ID(), alice.opts())
	if err != nil {
		t.Fatalf("open after rekey: %v", err)
	}
	if err := b.Unlock(alice.ctx, RecoveryUnlocker{Key: testKey}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("the old recovery key after a rekey: %v", err)
	}
	if err := b.Unlock(alice.ctx, RecoveryUnlocker{Key: newRecovery}); err != nil {
		t.Fatal(err)
	}
	if got := alice.restore(b, RestoreOptions{Version: 2})["c"]; got != v2 {
		t.Errorf("version 2 after the rekey: %q", got)
	}
	alice.export(b, msg("c", "3", "2020-01-03T00:00:00Z", "after"), ExportOptions{})
	if got := alice.restore(b, RestoreOptions{})["c"]; !strings.Contains(got, "before") || !strings.Contains(got, "after") {
		t.Errorf("export after the rekey: %q", got)
	}
	if convs, _ := b.Conversations(alice.ctx, 0); len(convs) != 2 {
		t.Errorf("after the rekey an export made %d conversations, want the same 2", len(convs))
	}
	for _, o := range []VerifyOptions{{Keyless: true}, {ReadData: true}} {
		if _, err := b.Verify(alice.ctx, o); err != nil {
			t.Errorf("verify %+v after rekey: %v", o, err)
		}
	}
	// Bob follows through the remote; a second rekey chains.
	alice.pushOK(a.ID(), rem)
	bob.pullOK(a.ID(), rem)
	c, err := Open(bob.ctx, bob.st, a.ID(), bob.opts())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Unlock(bob.ctx, RecoveryUnlocker{Key: newRecovery}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(bob.ctx, VerifyOptions{ReadData: true}); err != nil {
		t.Fatalf("bob's copy after the pull: %v", err)
	}
	if got := bob.restore(c, RestoreOptions{})["c"]; !strings.Contains(got, "before") || !strings.Contains(got, "after") {
		t.Errorf("bob after the pull: %q", got)
	}
	third := recovery.Key{8}
	if _, err := c.Rekey(bob.ctx, []Locker{RecoveryLocker{Key: third}}); err != nil {
		t.Fatalf("second rekey: %v", err)
	}
	d, _ := Open(bob.ctx, bob.st, a.ID(), bob.opts())
	if err := d.Unlock(bob.ctx, RecoveryUnlocker{Key: third}); err != nil {
		t.Fatal(err)
	}
	got := bob.restore(d, RestoreOptions{})
	if !strings.Contains(got["c"], "after") || !strings.Contains(got["c"], "before") || got["d"] == "" {
		t.Errorf("restore after two rekeys: %q", got)
	}
	if _, err := d.Verify(bob.ctx, VerifyOptions{ReadData: true}); err != nil {
		t.Errorf("verify after two rekeys: %v", err)
	}
}

// A key-change record signed by anyone but the current signing key is an
// integrity failure.
func TestRekeyForgedKeyChange(t *testing.T) {
	e := newEnv(t)
	a := e.create("forge")
	if _, err := a.Rekey(e.ctx, []Locker{RecoveryLocker{Key: testKey}}); err != nil {
		t.Fatal(err)
	}
	head := a.commits[len(a.commits)-1].body
	p := filepath.Join(e.st.Root(), filepath.FromSlash(a.paths.object(areaObjects, head.KeyChange.ID)))
	raw, _ := os.ReadFile(p)
	raw[len(raw)-1] ^= 1 // the signature
	os.Chmod(p, 0o600)
	os.WriteFile(p, raw, 0o600)
	o := e.opts()
	o.State = State{}
	if _, err := Open(e.ctx, e.st, a.ID(), o); !errors.Is(err, ErrIntegrity) {
		t.Errorf("open with a forged key change: %v", err)
	}
}

// A re-key with re-encryption gives every conversation a new key: no object
// of before survives in the store, the old conversation keys open nothing,
// every version and every attachment still restores, and the next export
// still finds its conversations.
func TestRekeyReencrypt(t *testing.T) {
	e := newEnv(t)
	a := e.create("reenc")
	photo := bytes.Repeat([]byte("png!"), 50000)
	v2 := withBlob("c", "1", photo) + msg("d", "2", "2020-01-02T00:00:00Z", "other")
	if _, err := a.Export(e.ctx, newBlobSource(v2, map[string][]byte{"1": photo}), ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	e.export(a, msg("c", "3", "2024-01-02T00:00:00Z", "later"), ExportOptions{})
	before := map[string]bool{}
	for _, f := range storeFiles(t, e.st.Root()) {
		if strings.Contains(f, "/objects/") || strings.Contains(f, "/keys/") {
			before[f] = true
		}
	}
	oldKeys := map[ID][32]byte{}
	for id, k := range a.keyTable {
		oldKeys[id] = k.Key
	}
	res, err := a.RekeyReencrypt(e.ctx, []Locker{RecoveryLocker{Key: testKey}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Commit != 4 {
		t.Fatalf("rekey: %+v", res)
	}
	// Nothing but the signed chain (commits, integrity lists, descriptor and
	// key-change records) is left of before.
	b, err := Open(e.ctx, e.st, a.ID(), e.opts())
	if err != nil {
		t.Fatal(err)
	}
	keep := map[string]bool{b.paths.object(areaObjects, b.descriptorRef.ID): true}
	for _, c := range b.commits {
		keep[b.paths.object(areaObjects, c.body.IntegrityList.ID)] = true
	}
	for _, f := range storeFiles(t, e.st.Root()) {
		if before[f] && !keep[f] {
			t.Errorf("%s survived the re-encryption", f)
		}
	}
	if err := b.Unlock(e.ctx, RecoveryUnlocker{Key: testKey}); err != nil {
		t.Fatal(err)
	}
	for id, k := range b.keyTable {
		if oldKeys[id] == k.Key {
			t.Errorf("conversation %s kept its key", id.Short())
		}
	}
	got := e.restore(b, RestoreOptions{Version: 2})
	if got["c"]+got["d"] != v2 {
		t.Errorf("version 2 after re-encryption: %q", got)
	}
	rc, err := b.OpenBlob(e.ctx, convBySource(t, b, "c"), fmt.Sprintf("%x", sha256.Sum256(photo)))
	if err != nil {
		t.Fatal(err)
	}
	if data, err := io.ReadAll(rc); err != nil || !bytes.Equal(data, photo) {
		t.Errorf("attachment after re-encryption: %d bytes, %v", len(data), err)
	}
	rc.Close()
	if _, err := b.Verify(e.ctx, VerifyOptions{ReadData: true}); err != nil {
		t.Errorf("verify after re-encryption: %v", err)
	}
	if res := e.export(b, msg("c", "3", "2024-01-02T00:00:00Z", "later")+msg("c", "4", "2024-01-03T00:00:00Z", "new"), ExportOptions{}); res.Added != 1 || res.NewConversations != 0 {
		t.Errorf("export after re-encryption: %+v", res)
	}
}

func convBySource(t *testing.T, a *Archive, source string) ID {
	t.Helper()
	convs, err := a.Conversations(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range convs {
		if c.SourceKey == source {
			return c.ID
		}
	}
	t.Fatalf("no conversation %q", source)
	return ID{}
}
