package archive

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/awskms/kmsfake"
	"github.com/chatvault/chatvault/kms/device"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/remote"
)

func fakeKey(t *testing.T, f *kmsfake.Fake) string {
	t.Helper()
	out, err := f.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String("test")})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// An archive under KMS opens with one Decrypt per run, however many
// segments an export writes.
func TestKMSWrapperOneCallPerRun(t *testing.T) {
	e := newEnv(t)
	f := kmsfake.New()
	c := awskms.NewWithAPI(f)
	arn := fakeKey(t, f)
	a, err := Create(e.ctx, e.st, CreateOptions{Label: "kms", Lockers: []Locker{KMSLocker{KMS: c, KeyID: arn}}}, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	f.ResetCalls()
	b, err := Open(e.ctx, e.st, a.ID(), e.opts())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Unlock(e.ctx, KMSUnlocker{KMS: c}); err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 500 {
		in.WriteString(msg("c"+string(rune('a'+i%9)), strings.Repeat("x", i+1), "2020-01-01T00:00:00Z", strings.Repeat("text ", 40)))
	}
	res := e.export(b, in.String(), ExportOptions{SegmentSize: 4096})
	if res.Segments < 20 {
		t.Fatalf("only %d segments", res.Segments)
	}
	if got := f.TotalCalls(); got != 1 {
		t.Errorf("an export of %d segments made %d KMS calls (%v), want 1 Decrypt", res.Segments, got, f.CallCounts())
	}
	// A disabled key refuses, as a key failure naming the service's answer.
	if _, err := f.DisableKey(e.ctx, &kms.DisableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	b2, _ := Open(e.ctx, e.st, a.ID(), e.opts())
	err = b2.Unlock(e.ctx, KMSUnlocker{KMS: c})
	if !errors.Is(err, ErrWrongKey) || !errors.Is(err, awskms.ErrUnusable) {
		t.Errorf("unlock with a disabled key: %v", err)
	}
}

// keys add and keys remove are keys commits: no segment touched, new
// wrappers checked, removed ones tombstoned and deleted, the last one kept.
func TestChangeWrappers(t *testing.T) {
	e := newEnv(t)
	a := e.create("keys")
	e.export(a, msg("c", "1", "2020-01-01T00:00:00Z", "hello"), ExportOptions{})
	f := kmsfake.New()
	c := awskms.NewWithAPI(f)
	arn := fakeKey(t, f)
	id, err := device.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	other := recovery.Key{9, 9, 9}
	before := storeFiles(t, e.st.Root())
	res, err := a.ChangeWrappers(e.ctx, WrapperChange{Add: []Locker{KMSLocker{KMS: c, KeyID: arn}, AgeLocker{Recipient: id.Recipient()}, RecoveryLocker{Key: other}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Commit != 3 || len(res.Added) != 3 {
		t.Fatalf("keys add: %+v", res)
	}
	added := 0
	for _, f := range storeFiles(t, e.st.Root()) {
		if !strings.Contains(strings.Join(before, " "), f) && strings.Contains(f, "/objects/") && !strings.Contains(f, "/leases/") {
			added++
		}
	}
	if added != 2 { // version manifest and integrity list; wrappers live under keys/
		t.Errorf("keys add wrote %d new objects under objects/, want 2 (no segment)", added)
	}
	// Each new wrapper opens the archive on its own.
	for _, u := range []Unlocker{KMSUnlocker{KMS: c}, AgeUnlocker{Identity: id}, RecoveryUnlocker{Key: other}} {
		b, err := Open(e.ctx, e.st, a.ID(), e.opts())
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Unlock(e.ctx, u); err != nil {
			t.Errorf("unlock with %T: %v", u, err)
		}
	}
	// Remove the original recovery wrapper: it is tombstoned and gone.
	ws, _ := a.Wrappers(e.ctx)
	var orig *Wrapper
	for _, w := range ws {
		if w.Type == WrapperRecovery && w.Created.Before(res.Added[0].Created.Add(1)) && w.ID != res.Added[2].ID {
			orig = w
		}
	}
	rm, err := a.ChangeWrappers(e.ctx, WrapperChange{Remove: []ID{orig.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.Deleted) != 2 {
		t.Errorf("keys remove deleted %v, want the wrapper and the old wrapper set", rm.Deleted)
	}
	if _, err := os.Stat(filepath.Join(e.st.Root(), filepath.FromSlash(a.paths.object(areaKeys, orig.ID)))); err == nil {
		t.Errorf("the removed wrapper is still in the store")
	}
	b, _ := Open(e.ctx, e.st, a.ID(), e.opts())
	if err := b.Unlock(e.ctx, RecoveryUnlocker{Key: testKey}); !errors.Is(err, ErrWrongKey) {
		t.Errorf("the removed recovery key still opens the archive: %v", err)
	}
	if _, err := b.Verify(e.ctx, VerifyOptions{Keyless: true}); err != nil {
		t.Errorf("verify after keys remove: %v", err)
	}
	// The last wrapper is never removed; unknown ids are refused.
	ws, _ = a.Wrappers(e.ctx)
	var all []ID
	for _, w := range ws {
		all = append(all, w.ID)
	}
	if _, err := a.ChangeWrappers(e.ctx, WrapperChange{Remove: all}); err == nil || !strings.Contains(err.Error(), "last wrapper") {
		t.Errorf("removing every wrapper: %v", err)
	}
	if _, err := a.ChangeWrappers(e.ctx, WrapperChange{Remove: []ID{{1}}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing an unknown wrapper: %v", err)
	}
	// A locker whose wrapper does not open is refused before any commit.
	head := a.Head()
	if _, err := a.ChangeWrappers(e.ctx, WrapperChange{Add: []Locker{brokenLocker{}}}); err == nil {
		t.Errorf("a wrapper that does not open was committed")
	}
	if a.Head() != head {
		t.Errorf("a failed keys add made commit %d", a.Head())
	}
}

// brokenLocker makes wrappers that open to another key.
type brokenLocker struct{}

func (brokenLocker) Lock(ctx context.Context, archive ID, w *Wrapper, key []byte) error {
	return RecoveryLocker{Key: recovery.Key{7}}.Lock(ctx, archive, w, make([]byte, 32))
}

func (brokenLocker) Unlock(ctx context.Context, archive ID, w *Wrapper) ([]byte, error) {
	return RecoveryUnlocker{Key: recovery.Key{7}}.Unlock(ctx, archive, w)
}

// Rotating many archives from one KMS key to another: ReEncrypt only (the
// new wrappers are made inside KMS), one failure reported without stopping
// the others, and a rerun skips what is done.
func TestRotateAll(t *testing.T) {
	e := newEnv(t)
	f := kmsfake.New()
	c := awskms.NewWithAPI(f)
	oldKey, newKey := fakeKey(t, f), fakeKey(t, f)
	var ids []ID
	for i := range 4 {
		lockers := []Locker{KMSLocker{KMS: c, KeyID: oldKey}}
		if i == 3 {
			lockers = []Locker{RecoveryLocker{Key: testKey}} // no wrapper under the old key
		}
		a, err := Create(e.ctx, e.st, CreateOptions{Label: "a", Lockers: lockers}, e.opts())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID())
	}
	// One archive's KMS wrapper is damaged: that archive fails, alone.
	broken := ids[1]
	a1, _ := Open(e.ctx, e.st, broken, e.opts())
	w1, _ := a1.Wrappers(e.ctx)
	p := filepath.Join(e.st.Root(), filepath.FromSlash(a1.paths.object(areaKeys, w1[0].ID)))
	os.Chmod(p, 0o600)
	if err := os.WriteFile(p, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.ResetCalls()
	out, err := RotateAll(e.ctx, e.st, c, oldKey, newKey, e.opts(), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[ID]string{}
	for _, o := range out {
		got[o.Archive] = o.Status
	}
	want := map[ID]string{ids[0]: Rotated, ids[1]: Failed, ids[2]: Rotated, ids[3]: Skipped}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("archive %s: %s, want %s (%v)", id.Short(), got[id], st, out)
		}
	}
	if n := f.Calls("Encrypt"); n != 0 {
		t.Errorf("rotation called Encrypt %d times; it must use ReEncrypt", n)
	}
	if n := f.Calls("ReEncrypt"); n != 2 {
		t.Errorf("rotation called ReEncrypt %d times, want 2", n)
	}
	for _, id := range []ID{ids[0], ids[2]} {
		a, _ := Open(e.ctx, e.st, id, e.opts())
		ws, _ := a.Wrappers(e.ctx)
		if len(ws) != 1 || ws[0].KeyID != newKey {
			t.Errorf("archive %s wrappers after rotation: %+v", id.Short(), ws)
		}
	}
	again, err := RotateAll(e.ctx, e.st, c, oldKey, newKey, e.opts(), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range again {
		if o.Archive != broken && o.Status != Skipped {
			t.Errorf("rerun: archive %s %s", o.Archive.Short(), o.Status)
		}
	}
}

// countingStore counts the store operations of a run, by kind and area.
type countingStore struct {
	remote.Store
	mu  sync.Mutex
	ops map[string]int
}

func (c *countingStore) note(op, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	area := "other"
	for _, a := range []string{"/objects/", "/keys/", "/commits/", "/leases/"} {
		if strings.Contains(name, a) {
			area = strings.Trim(a, "/")
		}
	}
	c.ops[op+" "+area]++
}

func (c *countingStore) Create(ctx context.Context, name string, r io.Reader, size int64) error {
	c.note("create", name)
	return c.Store.Create(ctx, name, r, size)
}

func (c *countingStore) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	c.note("open", name)
	return c.Store.Open(ctx, name)
}

// A rotation costs O(1): however many segments the archive holds, it reads
// and writes a handful of small objects and never a segment.
func TestRotationIsConstantCost(t *testing.T) {
	for _, segments := range []int{2, 40} {
		e := newEnv(t)
		a := e.create("cost")
		var in strings.Builder
		for i := range segments * 20 {
			in.WriteString(msg("c", strings.Repeat("i", i+1), "2020-01-01T00:00:00Z", strings.Repeat("text ", 40)))
		}
		e.export(a, in.String(), ExportOptions{SegmentSize: 4096})
		cs := &countingStore{Store: e.st, ops: map[string]int{}}
		b, err := Open(e.ctx, cs, a.ID(), e.opts())
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Unlock(e.ctx, RecoveryUnlocker{Key: testKey}); err != nil {
			t.Fatal(err)
		}
		ws, _ := b.Wrappers(e.ctx)
		cs.ops = map[string]int{}
		if _, err := b.ChangeWrappers(e.ctx, WrapperChange{Add: []Locker{RecoveryLocker{Key: recovery.Key{5}}}, Remove: []ID{ws[0].ID}}); err != nil {
			t.Fatal(err)
		}
		if cs.ops["create objects"] != 2 || cs.ops["open objects"] > 2 {
			t.Errorf("%d segments: a rotation made %v", segments, cs.ops)
		}
	}
}
