package archive

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/kms/recovery"
)

// Shredding one conversation: its objects are gone from this store and, by
// push, from the remote; the other conversation restores in every version;
// verify stays green; the old key no longer opens the archive.
func TestShredConversation(t *testing.T) {
	alice := newDevice(t)
	rem := newRemote(t)
	a := alice.create("shred")
	keep1 := msg("keep", "1", "2020-01-01T00:00:00Z", "stays")
	alice.export(a, keep1+msg("gone", "1", "2020-01-01T00:00:00Z", "secret one"), ExportOptions{})
	keep2 := msg("keep", "2", "2020-01-02T00:00:00Z", "stays too")
	alice.export(a, keep2+msg("gone", "2", "2020-01-02T00:00:00Z", "secret two"), ExportOptions{})
	alice.pushOK(a.ID(), rem)

	convs, _ := a.Conversations(alice.ctx, 0)
	var gone ID
	for _, c := range convs {
		if c.SourceKey == "gone" {
			gone = c.ID
		}
	}
	objs, _, err := a.conversationObjects(alice.ctx, gone)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) < 6 { // 2 manifests, 2 segments, 2 index runs at least
		t.Fatalf("conversation objects: %d", len(objs))
	}
	newKey := recovery.Key{3, 1, 4}
	res, err := a.ShredConversation(alice.ctx, gone, []Locker{RecoveryLocker{Key: newKey}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Commit != 4 {
		t.Fatalf("shred: %+v", res)
	}
	for _, o := range objs {
		name := a.paths.object(o.area(), o.ID)
		if _, err := os.Stat(filepath.Join(alice.st.Root(), filepath.FromSlash(name))); err == nil {
			t.Errorf("%s of the shredded conversation is still in the store", name)
		}
	}
	b, err := Open(alice.ctx, alice.st, a.ID(), alice.opts())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Unlock(alice.ctx, RecoveryUnlocker{Key: testKey}); !errors.Is(err, ErrWrongKey) {
		t.Errorf("the old key after a conversation shred: %v", err)
	}
	if err := b.Unlock(alice.ctx, RecoveryUnlocker{Key: newKey}); err != nil {
		t.Fatal(err)
	}
	for v, want := range map[uint64]string{2: keep1, 3: keep1 + keep2, 4: keep1 + keep2} {
		got := alice.restore(b, RestoreOptions{Version: v})
		if got["keep"] != want || len(got) != 1 {
			t.Errorf("version %d after the shred: %q", v, got)
		}
	}
	for _, o := range []VerifyOptions{{Keyless: true}, {ReadData: true}} {
		if _, err := b.Verify(alice.ctx, o); err != nil {
			t.Errorf("verify %+v after the shred: %v", o, err)
		}
	}
	if _, err := b.ShredConversation(alice.ctx, gone, []Locker{RecoveryLocker{Key: newKey}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("shredding it again: %v", err)
	}
	// The remote follows by push: the tombstones delete the objects there.
	rep := alice.pushOK(a.ID(), rem)
	if rep.Deleted < len(objs) {
		t.Errorf("push deleted %d objects, the shred tombstoned %d of the conversation", rep.Deleted, len(objs))
	}
	files := strings.Join(storeFiles(t, rem.Root()), "\n")
	for _, o := range objs {
		if strings.Contains(files, o.ID.String()) {
			t.Errorf("object %s of the shredded conversation is still in the remote", o.ID.Short())
		}
	}
}
