package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/remote"
)

func TestRevisions(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	v1 := msg("c", "1", "2024-01-01T10:00:00Z", "first draft")
	v2 := msg("c", "1", "2024-01-01T10:00:00Z", "edited")
	other := msg("c", "2", "2024-01-01T11:00:00Z", "other")

	e.export(a, v1+other, ExportOptions{})
	res := e.export(a, v2+other, ExportOptions{})
	if res.Updated != 1 || res.Added != 0 || res.Unchanged != 1 {
		t.Fatalf("edit: %+v", res)
	}
	if got := e.restore(a, RestoreOptions{}); got["c"] != v2+other {
		t.Fatalf("latest: %q", got["c"])
	}
	if got := e.restore(a, RestoreOptions{Version: 2}); got["c"] != v1+other {
		t.Fatalf("version 2: %q", got["c"])
	}
	// Reverting to the first revision stores it again and shows it.
	res = e.export(a, v1, ExportOptions{})
	if res.Updated != 1 || res.Commit != 4 {
		t.Fatalf("revert: %+v", res)
	}
	if got := e.restore(a, RestoreOptions{}); got["c"] != v1+other {
		t.Fatalf("after revert: %q", got["c"])
	}
	// and a later edit hides both older copies.
	v3 := msg("c", "1", "2024-01-01T10:00:00Z", "third")
	e.export(a, v3, ExportOptions{})
	if got := e.restore(e.open(a.ID()), RestoreOptions{}); got["c"] != v3+other {
		t.Fatalf("after third: %q", got["c"])
	}
	if _, err := a.Verify(e.ctx, VerifyOptions{ReadData: true}); err != nil {
		t.Fatal(err)
	}
}

func TestLastOccurrenceWinsWithinRun(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	A := msg("c", "1", "2024-01-01T10:00:00Z", "A")
	B := msg("c", "1", "2024-01-01T10:00:00Z", "B")
	e.export(a, A+B, ExportOptions{})
	if got := e.restore(a, RestoreOptions{}); got["c"] != B {
		t.Fatalf("A,B: %q", got["c"])
	}
	e2 := newEnv(t)
	a2 := e2.create("x")
	res := e2.export(a2, A+B+A, ExportOptions{})
	if got := e2.restore(a2, RestoreOptions{}); got["c"] != A {
		t.Fatalf("A,B,A: %q", got["c"])
	}
	if res.Added != 1 {
		t.Fatalf("A,B,A counted %+v", res)
	}
	// An old revision that comes back after a newer one in the same run.
	e3 := newEnv(t)
	a3 := e3.create("x")
	e3.export(a3, A, ExportOptions{})
	e3.export(a3, B+A, ExportOptions{})
	if got := e3.restore(e3.open(a3.ID()), RestoreOptions{}); got["c"] != A {
		t.Fatalf("A | B,A: %q", got["c"])
	}
	e3.export(a3, B, ExportOptions{})
	if got := e3.restore(e3.open(a3.ID()), RestoreOptions{}); got["c"] != B {
		t.Fatalf("A | B,A | B: %q", got["c"])
	}
}

// corpus makes n messages spread over convs conversations, interleaved, in
// increasing time.
func corpus(convs, n, textLen int, start time.Time) (string, map[string]string) {
	var all strings.Builder
	want := map[string]string{}
	for i := range n {
		c := fmt.Sprintf("conv-%d", i%convs)
		l := msg(c, fmt.Sprint(i), start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), strings.Repeat("x", textLen)+fmt.Sprint(i))
		all.WriteString(l)
		want[c] += l
	}
	return all.String(), want
}

func TestManySegmentsInterleaved(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	in, want := corpus(5, 3000, 200, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	res := e.export(a, in, ExportOptions{SegmentSize: 16 << 10, MaxBuffered: 40 << 10, Jobs: 3})
	if res.Segments < 30 {
		t.Fatalf("expected many segments, got %d", res.Segments)
	}
	if got := e.restore(e.open(a.ID()), RestoreOptions{Jobs: 2}); !maps.Equal(got, want) {
		t.Fatal("restore differs from input")
	}
	// Same input, different parallelism: the same segments (sizes and counts).
	e2 := newEnv(t)
	a2 := e2.create("x")
	e2.export(a2, in, ExportOptions{SegmentSize: 16 << 10, MaxBuffered: 40 << 10, Jobs: 1})
	if s1, s2 := segs(t, a), segs(t, a2); s1 != s2 {
		t.Fatalf("segmenting depends on Jobs:\n%s\n%s", s1, s2)
	}
}

func segs(t *testing.T, a *Archive) string {
	convs, err := a.Conversations(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(convs, func(i, j int) bool { return convs[i].SourceKey < convs[j].SourceKey })
	heads, _ := a.conversationsAt(context.Background(), a.Head())
	var out []string
	for _, c := range convs {
		chain, err := a.manifestChain(context.Background(), c.ID, heads[c.ID])
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range chain {
			for _, s := range m.Segments {
				out = append(out, fmt.Sprintf("%s:%d:%d:%s", c.SourceKey, s.Messages, s.Plain, s.First))
			}
		}
	}
	return strings.Join(out, ",")
}

// A later export of older messages overlaps earlier segments: restore merges.
func TestOverlappingExportsMerge(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	base := time.Date(2021, 5, 1, 0, 0, 0, 0, time.UTC)
	var even, odd, all strings.Builder
	for i := range 400 {
		l := msg("c", fmt.Sprint(i), base.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), fmt.Sprint("m", i))
		all.WriteString(l)
		if i%2 == 0 {
			even.WriteString(l)
		} else {
			odd.WriteString(l)
		}
	}
	e.export(a, odd.String(), ExportOptions{SegmentSize: 4 << 10})
	e.export(a, even.String(), ExportOptions{SegmentSize: 4 << 10})
	if got := e.restore(e.open(a.ID()), RestoreOptions{}); got["c"] != all.String() {
		t.Fatal("merged restore is not in time order")
	}
	// Equal instants: earlier export first, then input position.
	e2 := newEnv(t)
	a2 := e2.create("x")
	t0 := "2021-05-01T00:00:00Z"
	e2.export(a2, msg("c", "b", t0, "run1")+msg("c", "a", t0, "run1 second"), ExportOptions{})
	e2.export(a2, msg("c", "c", t0, "run2"), ExportOptions{})
	want := msg("c", "b", t0, "run1") + msg("c", "a", t0, "run1 second") + msg("c", "c", t0, "run2")
	if got := e2.restore(a2, RestoreOptions{}); got["c"] != want {
		t.Fatalf("ties: %q", got["c"])
	}
}

func TestMalformedInputMakesNoVersion(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	in := msg("c", "1", "2024-01-01T10:00:00Z", "ok") + `{"conversation":"c","id":"2","kind":"message"}` + "\n"
	_, err := a.Export(e.ctx, canon.NewReader(strings.NewReader(in), "bad.jsonl"), ExportOptions{})
	if !errors.Is(err, canon.ErrMalformed) || !strings.Contains(err.Error(), "bad.jsonl:2") {
		t.Fatalf("got %v", err)
	}
	if b := e.open(a.ID()); b.Head() != 1 {
		t.Fatalf("head %d", b.Head())
	}
}

func TestBoundarySizes(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	// No messages: no version.
	if res := e.export(a, "", ExportOptions{}); res.Commit != 0 {
		t.Fatalf("empty input: %+v", res)
	}
	for i, target := range []int{65536 - 1, 65536, 65536 + 1, 1 << 20} {
		prefix := msg("c", fmt.Sprint("b", i), "2024-01-01T10:00:00Z", "")
		// An uncompressed segment body is a codec byte plus the line and its newline.
		textLen := target - 1 - len(prefix)
		l := msg("c", fmt.Sprint("b", i), "2024-01-01T10:00:00Z", strings.Repeat("y", textLen))
		if 1+len(l) != target {
			t.Fatalf("built %d, want %d", 1+len(l), target)
		}
		e.export(a, l, ExportOptions{Compression: CompressOff})
		got := e.restore(e.open(a.ID()), RestoreOptions{})
		if !strings.HasSuffix(got["c"], l) {
			t.Fatalf("size %d: not restored", target)
		}
	}
	if _, err := a.Verify(e.ctx, VerifyOptions{ReadData: true}); err != nil {
		t.Fatal(err)
	}
}

// failingStore fails every Create after the first `after` ones, like a crash
// or a full disk in the middle of an export.
type failingStore struct {
	remote.Store
	mu    sync.Mutex
	after int
}

var errDiskFull = errors.New("no space left on device")

func (f *failingStore) Create(ctx context.Context, name string, r io.Reader, size int64) error {
	if strings.Contains(name, "/leases/") {
		return f.Store.Create(ctx, name, r, size)
	}
	f.mu.Lock()
	f.after--
	fail := f.after < 0
	f.mu.Unlock()
	if fail {
		return errDiskFull
	}
	return f.Store.Create(ctx, name, r, size)
}

func TestInterruptedExportLeavesPreviousVersion(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	first, _ := corpus(3, 200, 100, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	e.export(a, first, ExportOptions{})
	more, _ := corpus(3, 2000, 100, time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC))
	for _, after := range []int{0, 1, 3, 8, 12} {
		fs := &failingStore{Store: e.st, after: after}
		b, err := Open(e.ctx, fs, a.ID(), e.opts())
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Unlock(e.ctx, RecoveryUnlocker{Key: testKey}); err != nil {
			t.Fatal(err)
		}
		_, err = b.Export(e.ctx, canon.NewReader(strings.NewReader(more), "more"), ExportOptions{SegmentSize: 8 << 10})
		if !errors.Is(err, errDiskFull) {
			t.Fatalf("after %d: %v", after, err)
		}
		c := e.open(a.ID())
		if c.Head() != 2 {
			t.Fatalf("after %d: head %d", after, c.Head())
		}
		if _, err := c.Verify(e.ctx, VerifyOptions{ReadData: true}); err != nil {
			t.Fatalf("after %d: %v", after, err)
		}
	}
	// A cancelled context is the same.
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if _, err := e.open(a.ID()).Export(ctx, canon.NewReader(strings.NewReader(more), "more"), ExportOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	// The next run succeeds, and prune removes the leftovers.
	c := e.open(a.ID())
	if res := e.export(c, more, ExportOptions{}); res.Commit != 3 {
		t.Fatalf("rerun: %+v", res)
	}
	before := len(storeFiles(t, e.st.Root()))
	dry, err := c.Prune(e.ctx, PruneOptions{Grace: time.Nanosecond, DryRun: true})
	if err != nil || len(dry.Removed) == 0 {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	if after := len(storeFiles(t, e.st.Root())); after != before {
		t.Fatal("dry run removed files")
	}
	if _, err := c.Prune(e.ctx, PruneOptions{Grace: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	again, _ := c.Prune(e.ctx, PruneOptions{Grace: time.Nanosecond, DryRun: true})
	if len(again.Removed) != 0 {
		t.Fatalf("left after prune: %v", again.Removed)
	}
	if _, err := e.open(a.ID()).Verify(e.ctx, VerifyOptions{ReadData: true}); err != nil {
		t.Fatal(err)
	}
	// Within the grace period nothing young is removed.
	if rep, _ := c.Prune(e.ctx, PruneOptions{Grace: time.Hour, DryRun: true}); len(rep.Removed) != 0 {
		t.Fatalf("young objects pruned: %v", rep.Removed)
	}
}

func TestPruneWaitsForLiveLease(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	l, err := a.takeLease(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.release()
	if _, err := e.open(a.ID()).Prune(e.ctx, PruneOptions{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("got %v", err)
	}
}

func TestRacingExports(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	x := e.open(a.ID())
	y := e.open(a.ID())
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, ar := range []*Archive{x, y} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = ar.Export(e.ctx, canon.NewReader(strings.NewReader(msg("c", fmt.Sprint(i), "2024-01-01T00:00:00Z", "race")), "in"), ExportOptions{})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ErrConflict):
			t.Fatalf("loser: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d winners: %v", wins, errs)
	}
	// The loser reruns after reopening and succeeds.
	z := e.open(a.ID())
	res := e.export(z, msg("c", "0", "2024-01-01T00:00:00Z", "race")+msg("c", "1", "2024-01-01T00:00:00Z", "race"), ExportOptions{})
	if res.Commit != 3 || res.Added != 1 {
		t.Fatalf("rerun: %+v", res)
	}
}

// segmentLines decodes every segment of every conversation at head and returns
// their plaintexts, by source key, in manifest order.
func segmentLines(t *testing.T, a *Archive) map[string][][]byte {
	t.Helper()
	ctx := context.Background()
	heads, err := a.conversationsAt(ctx, a.Head())
	if err != nil {
		t.Fatal(err)
	}
	convs, err := a.Conversations(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][][]byte{}
	for _, c := range convs {
		r, clusters, err := a.prepareConversation(ctx, c.ID, heads[c.ID])
		if err != nil {
			t.Fatal(err)
		}
		for _, cl := range clusters {
			for _, s := range cl {
				plain, err := r.decodeSegment(ctx, s)
				if err != nil {
					t.Fatal(err)
				}
				out[c.SourceKey] = append(out[c.SourceKey], plain)
			}
		}
	}
	return out
}

// checkSegments fails unless each segment's lines are in time order and its
// plaintext at most maxPlain bytes.
func checkSegments(t *testing.T, segs map[string][][]byte, maxPlain int) (n int) {
	t.Helper()
	for conv, ss := range segs {
		for i, plain := range ss {
			n++
			if len(plain) > maxPlain {
				t.Errorf("%s segment %d: %d bytes of plaintext, want at most %d", conv, i, len(plain), maxPlain)
			}
			var prev time.Time
			for line := range strings.Lines(string(plain)) {
				m, err := canon.ParseLine([]byte(strings.TrimSuffix(line, "\n")))
				if err != nil {
					t.Fatal(err)
				}
				if m.Time.Before(prev) {
					t.Fatalf("%s segment %d: %s after %s", conv, i, m.Time, prev)
				}
				prev = m.Time
			}
		}
	}
	return n
}

// segMax is the most plaintext a segment of the target size holds: the
// target counts the lines' bytes (not their newlines, ≈1 % here) and the last
// line may go over it.
func segMax(target int) int { return target + target/50 + 400 }

// Conversations interleaved message by message overflow a buffer far smaller
// than a segment: the batches moved out of it are compressed ahead and joined
// into full segments (several zstd frames each), not written as small
// segments; restore, verify and the segmenting (whatever Jobs is) hold.
func TestCompressAhead(t *testing.T) {
	in, want := corpus(5, 3000, 200, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	const segSize = 64 << 10
	o := ExportOptions{SegmentSize: segSize, MaxBuffered: 16 << 10, Jobs: 3}
	run := func(o ExportOptions) (*env, *Archive, ExportResult) {
		e := newEnv(t)
		a := e.create("x")
		return e, a, e.export(a, in, o)
	}
	off := o
	off.Compression = CompressOff
	_, _, resOff := run(off)
	e, a, res := run(o)
	t.Logf("%d segments compressing ahead, %d writing early cuts as segments", res.Segments, resOff.Segments)
	// 5 conversations of ≈ 130 KiB of lines: 2 full segments each and one partial.
	if res.Segments > 15 || resOff.Segments < 3*res.Segments {
		t.Fatalf("%d segments compressing ahead, %d writing early cuts as segments", res.Segments, resOff.Segments)
	}
	if got := e.restore(e.open(a.ID()), RestoreOptions{Jobs: 2}); !maps.Equal(got, want) {
		t.Fatal("restore differs from input")
	}
	if err := e.checkAll(a.ID(), false); err != nil {
		t.Fatal(err)
	}
	if n := checkSegments(t, segmentLines(t, a), segMax(segSize)); n != res.Segments {
		t.Fatalf("%d segments decoded, export said %d", n, res.Segments)
	}
	o1 := o
	o1.Jobs = 1
	_, a1, _ := run(o1)
	if s1, s3 := segs(t, a1), segs(t, a); s1 != s3 {
		t.Fatalf("segmenting depends on Jobs:\n%s\n%s", s1, s3)
	}
	// A tiny budget for compressed frames writes segments out early, still
	// complete and in order.
	tight := o
	tight.MaxPending = 2 << 10
	e2, a2, res2 := run(tight)
	if res2.Segments <= res.Segments {
		t.Fatalf("MaxPending 2 KiB: %d segments, as many as with the default (%d)", res2.Segments, res.Segments)
	}
	if got := e2.restore(e2.open(a2.ID()), RestoreOptions{}); !maps.Equal(got, want) {
		t.Fatal("restore with a tight MaxPending differs from input")
	}
	checkSegments(t, segmentLines(t, a2), segMax(segSize))
}

// A batch whose lines are older than the frames compressed ahead for its
// conversation cannot follow them: the frames become a segment of their own
// and every segment stays sorted; restore merges the overlapping ones.
func TestCompressAheadOutOfOrder(t *testing.T) {
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	var in strings.Builder
	var wantA []string
	for i := range 2000 {
		// Conversation a goes forward for its first 1000 lines, then back
		// in time; b fills the buffer between them.
		at := start.Add(time.Duration(i) * time.Minute)
		if i >= 1000 {
			at = start.Add(-time.Duration(i) * time.Minute)
		}
		l := msg("a", fmt.Sprint(i), at.Format(time.RFC3339), strings.Repeat("y", 150))
		in.WriteString(l)
		wantA = append(wantA, l)
		in.WriteString(msg("b", fmt.Sprint(i), start.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), strings.Repeat("z", 150)))
	}
	slices.SortStableFunc(wantA, func(x, y string) int {
		mx, _ := canon.ParseLine([]byte(strings.TrimSuffix(x, "\n")))
		my, _ := canon.ParseLine([]byte(strings.TrimSuffix(y, "\n")))
		return mx.Time.Compare(my.Time)
	})
	e := newEnv(t)
	a := e.create("x")
	e.export(a, in.String(), ExportOptions{SegmentSize: 256 << 10, MaxBuffered: 8 << 10, Jobs: 2})
	segsByConv := segmentLines(t, a)
	checkSegments(t, segsByConv, segMax(256<<10))
	if n := len(segsByConv["a"]); n < 2 {
		t.Fatalf("conversation a went back in time in one segment of %d", n)
	}
	if got := e.restore(e.open(a.ID()), RestoreOptions{}); got["a"] != strings.Join(wantA, "") {
		t.Fatal("restore of a conversation going back in time is not in time order")
	}
}

// TestSegmentEncoderWindow: segment frames declare the window FORMAT.md §4.9
// promises (≤ 1 MiB, so within readers' 8 MiB), 256 KiB at fastest, and
// decode back.
func TestSegmentEncoderWindow(t *testing.T) {
	var plain []byte
	for i := 0; len(plain) < 3<<20; i++ {
		plain = fmt.Appendf(plain, `{"id":"m%d","conversation":"c%d","time":"2024-01-01T00:00:%02dZ","text":"line %d"}`+"\n", i, i%7, i%60, i*i)
	}
	dec, err := getDecoder() // the readers' decoder
	if err != nil {
		t.Fatal(err)
	}
	defer putDecoder(dec)
	for c, want := range map[Compression]uint64{CompressFastest: 256 << 10, CompressDefault: zstdWindow, CompressBetter: zstdWindow} {
		enc, err := newSegmentEncoder(c)
		if err != nil {
			t.Fatal(err)
		}
		body := enc.EncodeAll(plain, nil)
		var h zstd.Header
		if err := h.Decode(body); err != nil {
			t.Fatal(err)
		}
		if h.WindowSize != want || h.SingleSegment {
			t.Errorf("compression %d: window %d (single segment %v), want %d", c, h.WindowSize, h.SingleSegment, want)
		}
		if got, err := dec.DecodeAll(body, nil); err != nil || !slices.Equal(got, plain) {
			t.Errorf("compression %d: decodes to %d bytes (%v), want %d", c, len(got), err, len(plain))
		}
	}
}
