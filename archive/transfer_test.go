package archive

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/local"
)

// machine is one device: its own store and its own state dir, sharing a
// remote with other devices.
type machine struct {
	*env
}

func newDevice(t *testing.T) machine { return machine{newEnv(t)} }

func (d machine) push(id ID, remoteSt remote.Store) (TransferReport, error) {
	return Push(d.ctx, d.st, remoteSt, id, d.opts(), TransferOptions{Jobs: 4})
}

func (d machine) pull(id ID, remoteSt remote.Store) (TransferReport, error) {
	return Pull(d.ctx, remoteSt, d.st, id, d.opts(), TransferOptions{Jobs: 4}, func(ctx context.Context, a *Archive) error {
		return a.Unlock(ctx, RecoveryUnlocker{Key: testKey})
	})
}

func newRemote(t *testing.T) *local.Store {
	st, err := local.Open(filepath.Join(t.TempDir(), "remote"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (d machine) pushOK(id ID, remoteSt remote.Store) TransferReport {
	d.t.Helper()
	rep, err := d.push(id, remoteSt)
	if err != nil {
		d.t.Fatal(err)
	}
	return rep
}

func (d machine) pullOK(id ID, remoteSt remote.Store) TransferReport {
	d.t.Helper()
	rep, err := d.pull(id, remoteSt)
	if err != nil {
		d.t.Fatal(err)
	}
	return rep
}

// Push copies an archive whole; a second push sends nothing; another machine
// pulls it and restores the same messages.
func TestPushPullRoundTrip(t *testing.T) {
	alice, bob := newDevice(t), newDevice(t)
	rem := newRemote(t)
	a := alice.create("chats")
	in := msg("c1", "1", "2020-01-01T00:00:00Z", "hello") + msg("c2", "2", "2020-01-02T00:00:00Z", "world")
	alice.export(a, in, ExportOptions{})

	rep := alice.pushOK(a.ID(), rem)
	if rep.From != 0 || rep.To != 2 || rep.Commits != 2 || rep.Objects == 0 || rep.Skipped != 0 {
		t.Fatalf("first push: %+v", rep)
	}
	again := alice.pushOK(a.ID(), rem)
	if again.Objects != 0 || again.Commits != 0 || again.Skipped != rep.Objects {
		t.Fatalf("second push sent again: %+v (first %+v)", again, rep)
	}
	pin, _ := alice.state.Load(a.ID())
	if len(pin.LocalOnly) != 0 {
		t.Errorf("after push the machine still marks commits %v as unpushed", pin.LocalOnly)
	}

	got := bob.pullOK(a.ID(), rem)
	if got.To != 2 || got.Commits != 2 || got.Objects != rep.Objects {
		t.Fatalf("pull: %+v, push was %+v", got, rep)
	}
	if out := bob.restore(bob.open(a.ID()), RestoreOptions{}); out["c1"]+out["c2"] != in {
		t.Errorf("restored after pull: %q", out)
	}
	if _, err := bob.open(a.ID()).Verify(bob.ctx, VerifyOptions{ReadData: true}); err != nil {
		t.Errorf("verify after pull: %v", err)
	}
}

// Two devices commit concurrently: the second push loses with ErrConflict,
// its pull rebases the local commit onto the remote head reusing its
// segments, and the next push succeeds. No message is lost or duplicated.
func TestPushConflictPullRebase(t *testing.T) {
	alice, bob, carol := newDevice(t), newDevice(t), newDevice(t)
	rem := newRemote(t)
	a := alice.create("chats")
	base := msg("c1", "1", "2020-01-01T00:00:00Z", "one") + msg("c1", "2", "2020-01-01T00:01:00Z", "two")
	alice.export(a, base, ExportOptions{})
	alice.pushOK(a.ID(), rem)
	bob.pullOK(a.ID(), rem)

	// Bob: a new message in c1, an edit of message 2, a new conversation.
	bobIn := msg("c1", "3", "2020-01-02T00:00:00Z", "bob three") + msg("c1", "2", "2020-01-01T00:01:00Z", "two (edited by bob)") +
		msg("b", "x", "2020-01-03T00:00:00Z", "bob's chat")
	bob.export(bob.open(a.ID()), bobIn, ExportOptions{})
	bob.pushOK(a.ID(), rem)

	// Alice, meanwhile: the same message 3 (imported from the same export), a
	// message of her own, a later edit of message 1, and a new conversation.
	aliceIn := msg("c1", "3", "2020-01-02T00:00:00Z", "bob three") + msg("c1", "4", "2020-01-04T00:00:00Z", "alice four") +
		msg("c1", "1", "2020-01-01T00:00:00Z", "one (edited by alice)") + msg("a", "y", "2020-01-05T00:00:00Z", "alice's chat")
	la := alice.open(a.ID())
	alice.export(la, aliceIn, ExportOptions{})
	segsBefore := commitSegments(t, la, 3)

	_, err := alice.push(a.ID(), rem)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "pull first") {
		t.Fatalf("push after another machine pushed: %v, want a conflict saying pull first", err)
	}
	rep := alice.pullOK(a.ID(), rem)
	if len(rep.Rebased) != 1 || rep.Rebased[0] != 4 {
		t.Fatalf("pull: %+v, want commit 4 rebased", rep)
	}
	for _, s := range segsBefore {
		if _, err := os.Stat(filepath.Join(alice.st.Root(), s)); err != nil {
			t.Errorf("segment %s of the rebased commit is gone: %v", s, err)
		}
	}
	after := alice.open(a.ID())
	reused := 0
	heads, _ := after.conversationsAt(alice.ctx, 4)
	for conv, ref := range heads {
		chain, _ := after.manifestChain(alice.ctx, conv, ref)
		for _, m := range chain {
			for _, s := range m.Segments {
				for _, old := range segsBefore {
					if strings.HasSuffix(old, s.ID.String()) && m.Commit == 4 {
						reused++
					}
				}
			}
		}
	}
	if reused != len(segsBefore) {
		t.Errorf("commit 4 reuses %d of the %d segments of the set-aside commit", reused, len(segsBefore))
	}
	if pending, _ := after.pendingRebases(alice.ctx); len(pending) != 0 {
		t.Errorf("set-aside commits left: %v", pending)
	}
	alice.pushOK(a.ID(), rem)

	// A third machine sees every message once, in its latest revision.
	carol.pullOK(a.ID(), rem)
	c := carol.open(a.ID())
	want := map[string]string{
		"c1": msg("c1", "1", "2020-01-01T00:00:00Z", "one (edited by alice)") + msg("c1", "2", "2020-01-01T00:01:00Z", "two (edited by bob)") +
			msg("c1", "3", "2020-01-02T00:00:00Z", "bob three") + msg("c1", "4", "2020-01-04T00:00:00Z", "alice four"),
		"a": msg("a", "y", "2020-01-05T00:00:00Z", "alice's chat"),
		"b": msg("b", "x", "2020-01-03T00:00:00Z", "bob's chat"),
	}
	got := carol.restore(c, RestoreOptions{})
	for k, v := range want {
		if got[k] != v {
			t.Errorf("conversation %s restored as\n%s\nwant\n%s", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("restored conversations %v", got)
	}
	convs, _ := c.Conversations(carol.ctx, 0)
	for _, ci := range convs {
		if ci.SourceKey == "c1" && ci.Messages != 4 {
			t.Errorf("c1 counts %d messages, want 4", ci.Messages)
		}
	}
	if _, err := c.Verify(carol.ctx, VerifyOptions{ReadData: true}); err != nil {
		t.Errorf("verify: %v", err)
	}
	// Re-exporting everything adds nothing: the index knows every revision.
	res := carol.export(c, bobIn+aliceIn, ExportOptions{})
	if res.Added != 0 || res.Commit != 0 {
		t.Errorf("re-export after the rebase added %+v", res)
	}
}

// commitSegments lists the segment objects a commit added.
func commitSegments(t *testing.T, a *Archive, n uint64) []string {
	t.Helper()
	if err := a.loadVersions(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, cc := range a.versions[n-1].Conversations {
		key, _ := a.convKey(cc.ID)
		m, err := a.readConvManifest(context.Background(), cc.ID, key, cc.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range m.Segments {
			out = append(out, a.paths.object(areaObjects, s.ID))
		}
	}
	return out
}

// flakyStore fails every Create after the first n, as a killed or cut-off
// transfer would.
type flakyStore struct {
	remote.Store
	left    atomic.Int64
	creates atomic.Int64
}

var errCut = errors.New("connection cut")

func (f *flakyStore) Create(ctx context.Context, name string, r io.Reader, size int64) error {
	if strings.Contains(name, "/objects/") || strings.Contains(name, "/keys/") {
		f.creates.Add(1)
	}
	if f.left.Add(-1) < 0 {
		return errCut
	}
	return f.Store.Create(ctx, name, r, size)
}

// An interrupted push leaves no commit behind; the rerun sends only what is
// missing and no completed object twice.
func TestPushResume(t *testing.T) {
	alice := newDevice(t)
	rem := newRemote(t)
	a := alice.create("chats")
	var in strings.Builder
	for i := range 200 {
		in.WriteString(msg("c"+string(rune('a'+i%5)), string(rune('A'+i%26))+strings.Repeat("x", i), "2020-01-01T00:00:00Z", strings.Repeat("text ", 50)))
	}
	alice.export(a, in.String(), ExportOptions{SegmentSize: 4096})
	flaky := &flakyStore{Store: rem}
	flaky.left.Store(5)
	if _, err := Push(alice.ctx, alice.st, flaky, a.ID(), alice.opts(), TransferOptions{Jobs: 1}); !errors.Is(err, errCut) {
		t.Fatalf("cut push: %v", err)
	}
	if files := storeFiles(t, rem.Root()); strings.Contains(strings.Join(files, " "), "/commits/") {
		t.Fatalf("an interrupted push left a commit: %v", files)
	}
	flaky.left.Store(1 << 30)
	flaky.creates.Store(0)
	rep, err := Push(alice.ctx, alice.st, flaky, a.ID(), alice.opts(), TransferOptions{Jobs: 3})
	if err != nil {
		t.Fatal(err)
	}
	// The store marker and the lease took 2 of the 5 creates.
	if rep.Skipped != 3 || rep.Commits != 2 {
		t.Errorf("resumed push: %+v, want the 3 objects sent before skipped", rep)
	}
	if got, want := flaky.creates.Load(), int64(rep.Objects); got != want {
		t.Errorf("resumed push made %d creates, want %d", got, want)
	}
	b := newDevice(t)
	b.pullOK(a.ID(), rem)
	if _, err := b.open(a.ID()).Verify(b.ctx, VerifyOptions{ReadData: true}); err != nil {
		t.Errorf("verify after resumed push: %v", err)
	}
}

// A damaged object in the source is never copied: the push fails naming it
// and the destination does not get it.
func TestPushRefusesDamagedSource(t *testing.T) {
	alice := newDevice(t)
	rem := newRemote(t)
	a := alice.create("chats")
	alice.export(a, msg("c", "1", "2020-01-01T00:00:00Z", strings.Repeat("hello ", 100)), ExportOptions{})
	seg := ""
	heads, _ := a.conversationsAt(alice.ctx, 2)
	for conv, ref := range heads {
		chain, _ := a.manifestChain(alice.ctx, conv, ref)
		seg = a.paths.object(areaObjects, chain[0].Segments[0].ID)
	}
	p := filepath.Join(alice.st.Root(), filepath.FromSlash(seg))
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 1
	os.Chmod(p, 0o600)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := alice.push(a.ID(), rem)
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), seg) {
		t.Fatalf("push of a damaged segment: %v", err)
	}
	if _, err := os.Stat(filepath.Join(rem.Root(), filepath.FromSlash(seg))); err == nil {
		t.Errorf("the damaged segment was copied")
	}
}

// A remote that is behind is not an error for reading; export to it is
// refused (pull first), and a commit seen in a store that then vanishes is a
// rollback.
func TestBehindStore(t *testing.T) {
	alice := newDevice(t)
	rem := newRemote(t)
	a := alice.create("chats")
	alice.pushOK(a.ID(), rem)
	alice.export(a, msg("c", "1", "2020-01-01T00:00:00Z", "hi"), ExportOptions{})
	var warned []string
	o := alice.opts()
	o.Warn = func(s string) { warned = append(warned, s) }
	r, err := Open(alice.ctx, rem, a.ID(), o)
	if err != nil {
		t.Fatalf("opening a store that is behind: %v", err)
	}
	if !strings.Contains(strings.Join(warned, "\n"), "behind") {
		t.Errorf("no warning that the store is behind: %q", warned)
	}
	if err := r.Unlock(alice.ctx, RecoveryUnlocker{Key: testKey}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Export(alice.ctx, nil, ExportOptions{}); !errors.Is(err, ErrConflict) {
		t.Errorf("export to a store that is behind: %v", err)
	}
	alice.pushOK(a.ID(), rem)
	os.Remove(filepath.Join(rem.Root(), "archives", a.ID().String(), "commits", "00000000000000000002"))
	if _, err := Open(alice.ctx, rem, a.ID(), alice.opts()); !errors.Is(err, ErrIntegrity) {
		t.Errorf("a commit pushed to the store vanished: %v", err)
	}
}

// A commit set aside by pull that cannot be rebased (the remote was re-keyed
// meanwhile) stays set aside with a warning, the pull itself succeeds, and
// prune keeps its objects.
func TestPullKeepsCommitItCannotRebase(t *testing.T) {
	alice, bob := newDevice(t), newDevice(t)
	rem := newRemote(t)
	a := alice.create("chats")
	alice.pushOK(a.ID(), rem)
	bob.pullOK(a.ID(), rem)
	b := bob.open(a.ID())
	if _, err := b.Rekey(bob.ctx, []Locker{RecoveryLocker{Key: testKey}}); err != nil {
		t.Fatal(err)
	}
	bob.pushOK(a.ID(), rem)
	alice.export(alice.open(a.ID()), msg("c", "1", "2020-01-01T00:00:00Z", "mine"), ExportOptions{})
	var warned []string
	o := alice.opts()
	o.Warn = func(s string) { warned = append(warned, s) }
	rep, err := Pull(alice.ctx, rem, alice.st, a.ID(), o, TransferOptions{}, func(ctx context.Context, x *Archive) error {
		return x.Unlock(ctx, RecoveryUnlocker{Key: testKey})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.NotRebased) != 1 || !strings.Contains(strings.Join(warned, "\n"), "re-keyed") {
		t.Fatalf("pull over a remote re-key: %+v, warnings %q", rep, warned)
	}
	l := alice.open(a.ID())
	if _, err := l.Prune(alice.ctx, PruneOptions{Grace: -0}); err != nil {
		t.Fatal(err)
	}
	pending, _ := l.pendingRebases(alice.ctx)
	body, _, err := l.readSetAside(alice.ctx, pending[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.readIntegrityList(alice.ctx, body.IntegrityList, nil); err != nil {
		t.Errorf("prune removed the set-aside commit's objects: %v", err)
	}
}

// Both devices create the same chat (same source key) before either pushes:
// the rebase adopts this device's messages into the remote's conversation,
// keeping each message once (a message both imported is not doubled) and
// the latest revision of each.
func TestPullAdoptsSameNewConversation(t *testing.T) {
	alice, bob, carol := newDevice(t), newDevice(t), newDevice(t)
	rem := newRemote(t)
	a := alice.create("chats")
	alice.export(a, msg("c1", "1", "2020-01-01T00:00:00Z", "one"), ExportOptions{})
	alice.pushOK(a.ID(), rem)
	bob.pullOK(a.ID(), rem)

	bob.export(bob.open(a.ID()), msg("new", "x", "2020-02-01T00:00:00Z", "shared")+msg("new", "y", "2020-02-02T00:00:00Z", "bob's"), ExportOptions{})
	bob.pushOK(a.ID(), rem)
	alice.export(alice.open(a.ID()), msg("new", "x", "2020-02-01T00:00:00Z", "shared")+msg("new", "z", "2020-02-03T00:00:00Z", "alice's"), ExportOptions{})
	if _, err := alice.push(a.ID(), rem); !errors.Is(err, ErrConflict) {
		t.Fatalf("push after another machine pushed: %v, want a conflict", err)
	}
	if rep := alice.pullOK(a.ID(), rem); len(rep.Rebased) != 1 {
		t.Fatalf("pull: %+v, want one commit rebased", rep)
	}
	alice.pushOK(a.ID(), rem)

	carol.pullOK(a.ID(), rem)
	c := carol.open(a.ID())
	got := carol.restore(c, RestoreOptions{})
	want := msg("new", "x", "2020-02-01T00:00:00Z", "shared") + msg("new", "y", "2020-02-02T00:00:00Z", "bob's") + msg("new", "z", "2020-02-03T00:00:00Z", "alice's")
	if got["new"] != want || len(got) != 2 {
		t.Errorf("restored %v, want conversation new as\n%s", got, want)
	}
	convs, _ := c.Conversations(carol.ctx, 0)
	if len(convs) != 2 {
		t.Errorf("%d conversations, want 2 (the chat both created is one)", len(convs))
	}
}
