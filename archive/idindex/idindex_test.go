package idindex

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

func newTestSet(t testing.TB, max int) *Set {
	t.Helper()
	s, err := NewSet(Options{Dir: t.TempDir(), MaxEntries: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// entry is a key and its value, for comparing with a map.
type entry struct {
	k Key
	v Value
}

func randKey(rng *rand.Rand) (k Key) {
	for i := 0; i < 16; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			k[i+j] = byte(v >> (8 * j))
		}
	}
	return k
}

func randValue(rng *rand.Rand) Value {
	v := Value{Commit: rng.Uint32N(1000), Changed: rng.IntN(2) == 0}
	v.Rev[rng.IntN(8)] = byte(rng.Uint32())
	return v
}

// files lists the names in dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, filepath.Join(dir, de.Name()))
	}
	return names
}

// named lists the Set's file if it has a name in its directory.
func named(s *Set) []string {
	if s.f == nil || !s.named {
		return nil
	}
	return []string{s.name}
}

// checkChanged compares x.Changed with the oracle's changed entries in key order.
func checkChanged(t *testing.T, x *Index, oracle map[Key]Value) {
	t.Helper()
	var want, got []entry
	for k, v := range oracle {
		if v.Changed {
			want = append(want, entry{k, v})
		}
	}
	slices.SortFunc(want, func(a, b entry) int { return bytes.Compare(a.k[:], b.k[:]) })
	if err := x.Changed(func(k Key, v Value) error {
		got = append(got, entry{k, v})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Changed gave %d entries, want %d (or they differ)", len(got), len(want))
	}
}

// checkPositions checks that every block position of the file belongs to
// one live run of xs or is free, once.
func checkPositions(t *testing.T, s *Set, xs []*Index) {
	t.Helper()
	seen := make([]bool, s.blocks)
	mark := func(p uint32, what string) {
		if p >= s.blocks || seen[p] {
			t.Fatalf("position %d (%s) out of the file's %d or taken twice", p, what, s.blocks)
		}
		seen[p] = true
	}
	for _, p := range s.free {
		mark(p, "free")
	}
	for _, x := range xs {
		for _, r := range x.runs {
			for _, p := range r.at {
				mark(p, "run")
			}
		}
	}
	if n := len(slices.DeleteFunc(seen, func(b bool) bool { return b })); n > 0 {
		t.Fatalf("%d positions lost", n)
	}
}

// checkRuns checks that run sizes more than halve from oldest to newest,
// which bounds their number by log2.
func checkRuns(t *testing.T, x *Index) {
	t.Helper()
	for j := 1; j < len(x.runs); j++ {
		if 2*x.runs[j].n >= x.runs[j-1].n {
			t.Fatalf("run %d has %d entries, run %d has %d: should have been merged", j, x.runs[j].n, j-1, x.runs[j-1].n)
		}
	}
}

// TestAgainstMap runs random Puts, Gets, Changed and Releases over several
// indexes of one Set with a tiny budget and compares everything with maps.
func TestAgainstMap(t *testing.T) {
	cases := []struct {
		name        string
		max, recs   int
		unlink      bool
		ops, keys   int
		seed        uint64
		wantMerges  bool
		wantRelease bool
	}{
		{"max64", 64, defaultRecsPerBlock, true, 30000, 2000, 1, true, true},
		{"max200-recs5-keepnames", 200, 5, false, 30000, 3000, 2, true, true},
		{"max500-recs3", 500, 3, true, 20000, 4000, 3, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(c.seed, 42))
			s := newTestSet(t, c.max)
			s.recs = c.recs
			s.unlink = c.unlink && unlinkWhileOpen
			const nIdx = 4
			xs := make([]*Index, nIdx)
			oracle := make([]map[Key]Value, nIdx)
			for i := range xs {
				xs[i], oracle[i] = s.New(), map[Key]Value{}
			}
			pool := make([]Key, c.keys) // shared by the indexes: same keys, other values
			for i := range pool {
				pool[i] = randKey(rng)
			}
			released := 0
			var peakDisk int64
			for op := range c.ops {
				peakDisk = max(peakDisk, s.Stats().DiskBytes)
				i := rng.IntN(nIdx)
				x, o := xs[i], oracle[i]
				switch r := rng.IntN(1000); {
				case rng.IntN(3000) == 0:
					x.Release()
					if _, _, err := x.Get(pool[0]); !errors.Is(err, ErrClosed) {
						t.Fatalf("Get after Release: %v", err)
					}
					xs[i], oracle[i] = s.New(), map[Key]Value{}
					released++
				case r < 550:
					k, v := pool[rng.IntN(len(pool))], randValue(rng)
					if err := x.Put(k, v); err != nil {
						t.Fatal(err)
					}
					o[k] = v
					if s.mem > c.max {
						t.Fatalf("op %d: %d entries in memory, budget %d", op, s.mem, c.max)
					}
				case r < 950:
					k := pool[rng.IntN(len(pool))]
					if r >= 900 {
						k = randKey(rng)
					}
					v, ok, err := x.Get(k)
					if err != nil {
						t.Fatal(err)
					}
					if w, wok := o[k]; ok != wok || v != w {
						t.Fatalf("op %d: Get(%x) = %v, %v; want %v, %v", op, k, v, ok, w, wok)
					}
				default:
					checkChanged(t, x, o)
				}
			}
			runs, nonces := 0, map[uint64]bool{}
			for i, x := range xs {
				checkChanged(t, x, oracle[i])
				for _, k := range pool {
					v, ok, err := x.Get(k)
					w, wok := oracle[i][k]
					if err != nil || ok != wok || v != w {
						t.Fatalf("Get(%x) = %v, %v, %v; want %v, %v", k, v, ok, err, w, wok)
					}
				}
				checkRuns(t, x)
				runs += len(x.runs)
				for _, r := range x.runs {
					for b := range r.at {
						n := r.nonce0 + uint64(b)
						if nonces[n] {
							t.Fatalf("nonce counter %d used twice", n)
						}
						nonces[n] = true
					}
				}
			}
			st := s.Stats()
			t.Logf("%+v, %d releases", st, released)
			if st.Spills < 20 || (c.wantMerges && st.Merges < 10) || st.Runs != runs || st.Runs == 0 {
				t.Fatalf("stats %+v (runs held: %d): too few spills or merges", st, runs)
			}
			if c.wantRelease && released == 0 {
				t.Fatal("no Release happened")
			}
			if got, want := files(t, s.dir), named(s); !slices.Equal(got, want) {
				t.Fatalf("files %v, want %v", got, want)
			}
			checkPositions(t, s, xs)
			// Positions are reused: the file holds at most what the runs
			// held at once, twice over during a merge (without reuse it
			// would hold every run ever written).
			if bound := 2*peakDisk + int64(runs+2*nIdx)*int64(s.blockBytes()); st.FileBytes > bound {
				t.Fatalf("file of %d bytes, want ≤ %d (runs held at most %d)", st.FileBytes, bound, peakDisk)
			}
		})
	}
}

// TestMemoryBound puts many keys into one index with a small budget: memory
// holds the budget, runs stay logarithmic, the heap stays far below a map's.
func TestMemoryBound(t *testing.T) {
	const budget = 1 << 14
	n := 300_000
	if testing.Short() {
		n = 100_000
	}
	s := newTestSet(t, budget)
	x := s.New()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rng := rand.New(rand.NewPCG(7, 7))
	maxRuns := 0
	for range n {
		if err := x.Put(randKey(rng), randValue(rng)); err != nil {
			t.Fatal(err)
		}
		if s.mem > budget {
			t.Fatalf("%d entries in memory, budget %d", s.mem, budget)
		}
		maxRuns = max(maxRuns, len(x.runs))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	// A map of n entries holds at least n slots of 32 bytes (key and value).
	mapFloor := int64(n) * 32
	st := s.Stats()
	t.Logf("%d keys: heap grew %.1f MiB (a map: > %.1f MiB); %d runs at most; %+v", n, float64(grew)/(1<<20), float64(mapFloor)/(1<<20), maxRuns, st)
	if grew > mapFloor/3 {
		t.Fatalf("heap grew by %d bytes, a third of a map's floor is %d", grew, mapFloor/3)
	}
	if bound := bits.Len(uint(n/budget)) + 2; maxRuns > bound {
		t.Fatalf("%d runs, want at most %d", maxRuns, bound)
	}
	if perEntry := float64(st.RunMemBytes) / float64(n-st.MemEntries); perEntry > 2 {
		t.Fatalf("runs hold %.2f bytes per entry in memory", perEntry)
	}
	rng = rand.New(rand.NewPCG(7, 7))
	for i := range n {
		k, w := randKey(rng), randValue(rng)
		if i%37 != 0 {
			continue
		}
		v, ok, err := x.Get(k)
		if err != nil || !ok || v != w {
			t.Fatalf("Get(%x) = %v, %v, %v; want %v", k, v, ok, err, w)
		}
	}
}

// fill puts n random keys into x and returns them with their values.
func fill(t *testing.T, x *Index, rng *rand.Rand, n int) map[Key]Value {
	t.Helper()
	m := map[Key]Value{}
	for range n {
		k, v := randKey(rng), randValue(rng)
		if err := x.Put(k, v); err != nil {
			t.Fatal(err)
		}
		m[k] = v
	}
	return m
}

func TestSpillsLargest(t *testing.T) {
	s := newTestSet(t, 100)
	big, small := s.New(), s.New()
	rng := rand.New(rand.NewPCG(1, 2))
	fill(t, big, rng, 90)
	fill(t, small, rng, 11) // the 101st entry goes to small; big is spilled
	if big.mem.n != 0 || len(big.runs) != 1 || small.mem.n != 11 || len(small.runs) != 0 {
		t.Fatalf("big: %d in memory, %d runs; small: %d in memory, %d runs", big.mem.n, len(big.runs), small.mem.n, len(small.runs))
	}
}

func TestNewestWins(t *testing.T) {
	s := newTestSet(t, 10)
	x := s.New()
	k := Key{1}
	// The same key in every run and in memory, with another value each time.
	for i := range 50 {
		if err := x.Put(k, Value{Commit: uint32(i), Changed: i%2 == 0}); err != nil {
			t.Fatal(err)
		}
		for j := range 10 {
			if err := x.Put(Key{2, byte(i), byte(j)}, Value{}); err != nil {
				t.Fatal(err)
			}
		}
		v, ok, err := x.Get(k)
		if err != nil || !ok || v.Commit != uint32(i) {
			t.Fatalf("round %d: Get = %v, %v, %v", i, v, ok, err)
		}
	}
	var got []Value
	x.Changed(func(_ Key, v Value) error { got = append(got, v); return nil })
	if len(got) != 0 { // the latest value (49) has Changed unset
		t.Fatalf("Changed gave %v; the latest value of the key is unchanged", got)
	}
	if s.Stats().Merges == 0 {
		t.Fatal("no merge")
	}
}

// TestTamper changes the file underneath the index: Get and Changed must
// fail with ErrDamaged, naming the file.
func TestTamper(t *testing.T) {
	for _, how := range []string{"flip", "swap", "truncate", "from-other-run"} {
		t.Run(how, func(t *testing.T) {
			s := newTestSet(t, 100)
			s.recs = 10
			x, y := s.New(), s.New()
			rng := rand.New(rand.NewPCG(3, 3))
			fill(t, y, rng, 101) // y is spilled: one run
			fill(t, x, rng, 101) // x is spilled: one run
			r, other := x.runs[0], y.runs[0]
			off0, _ := s.blockSpan(r, 0)
			off1, size := s.blockSpan(r, 1) // block 1 is full
			if size != s.blockBytes() {
				t.Fatalf("block 1: %d bytes at %d", size, off1)
			}
			blk := make([]byte, size)
			target := r.fences[1] // a key of block 1
			switch how {
			case "flip":
				b := make([]byte, 1)
				s.f.ReadAt(b, off1+20)
				b[0] ^= 0x40
				s.f.WriteAt(b, off1+20)
			case "swap":
				blk0 := make([]byte, size)
				s.f.ReadAt(blk0, off0)
				s.f.ReadAt(blk, off1)
				s.f.WriteAt(blk, off0)
				s.f.WriteAt(blk0, off1)
			case "truncate":
				// x was spilled last: its last block ends the file.
				target = r.fences[len(r.fences)-1]
				fi, err := s.f.Stat()
				if err != nil {
					t.Fatal(err)
				}
				if last, size := s.blockSpan(r, len(r.at)-1); last+int64(size) != fi.Size() {
					t.Fatalf("last block at %d+%d, file of %d bytes", last, size, fi.Size())
				}
				s.f.Truncate(fi.Size() - 1)
			case "from-other-run":
				off, _ := s.blockSpan(other, 1)
				s.f.ReadAt(blk, off)
				s.f.WriteAt(blk, off1)
			}
			_, _, err := x.Get(target)
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), s.name) || !strings.Contains(err.Error(), "temporary index file damaged") {
				t.Fatalf("Get: %v", err)
			}
			t.Log(err)
			err = x.Changed(func(Key, Value) error { return nil })
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("Changed: %v", err)
			}
			// The other index is untouched.
			if err := y.Changed(func(Key, Value) error { return nil }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEncrypted: the file contains none of the keys or revisions put.
func TestEncrypted(t *testing.T) {
	s := newTestSet(t, 300)
	x := s.New()
	m := fill(t, x, rand.New(rand.NewPCG(4, 4)), 301)
	data, err := io.ReadAll(io.NewSectionReader(s.f, 0, 1<<30))
	if err != nil || int64(len(data)) != x.runs[0].size {
		t.Fatalf("read %d bytes of the file (%v), want the run's %d", len(data), err, x.runs[0].size)
	}
	for k, v := range m {
		if bytes.Contains(data, k[:8]) || v.Rev != [8]byte{} && bytes.Contains(data, v.Rev[:]) {
			t.Fatalf("run file holds plaintext of key %x", k)
		}
	}
}

func TestReleaseAndClose(t *testing.T) {
	for _, unlink := range []bool{false, true} {
		t.Run(map[bool]string{false: "keep-names", true: "unlink"}[unlink], func(t *testing.T) {
			dir := t.TempDir()
			s, err := NewSet(Options{Dir: dir, MaxEntries: 50})
			if err != nil {
				t.Fatal(err)
			}
			s.unlink = unlink && unlinkWhileOpen
			a, b := s.New(), s.New()
			rng := rand.New(rand.NewPCG(5, 5))
			fill(t, a, rng, 300)
			mb := fill(t, b, rng, 300)
			if len(a.runs) == 0 || len(b.runs) == 0 {
				t.Fatal("no runs")
			}
			if s.unlink {
				if got := files(t, dir); len(got) != 0 {
					t.Fatalf("unlinked file still named: %v", got)
				}
			} else {
				// One file for both indexes and all their runs.
				if got := files(t, dir); len(got) != 1 || got[0] != s.name {
					t.Fatalf("files %v, want %s", got, s.name)
				}
				fi, err := os.Stat(s.name)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(filepath.Base(s.name), "chatvault-idx-") || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
					t.Fatalf("%s: mode %v", s.name, fi.Mode())
				}
			}
			a.Release()
			a.Release()
			if _, _, err := a.Get(Key{}); !errors.Is(err, ErrClosed) {
				t.Fatalf("Get after Release: %v", err)
			}
			if got, want := files(t, dir), named(s); !slices.Equal(got, want) {
				t.Fatalf("after Release: files %v, want %v", got, want)
			}
			if st := s.Stats(); st.Runs != len(b.runs) || st.MemEntries != b.mem.n {
				t.Fatalf("after Release: %+v", st)
			}
			for k, w := range mb {
				if v, ok, err := b.Get(k); err != nil || !ok || v != w {
					t.Fatalf("b.Get = %v, %v, %v", v, ok, err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := files(t, dir); len(got) != 0 {
				t.Fatalf("after Close: %v", got)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := b.Put(Key{}, Value{}); !errors.Is(err, ErrClosed) {
				t.Fatalf("Put after Close: %v", err)
			}
			if err := s.New().Put(Key{}, Value{}); !errors.Is(err, ErrClosed) {
				t.Fatalf("Put on a new index after Close: %v", err)
			}
			if st := s.Stats(); st.Runs != 0 || st.DiskBytes != 0 || st.MemEntries != 0 {
				t.Fatalf("after Close: %+v", st)
			}
		})
	}
}

var errDiskFull = errors.New("no space left on device (injected)")

// TestWriteFails fails the n-th write, for every n up to the first merge
// and beyond: Put reports it, naming the file, and the index still answers
// every Get right; the failed run leaves nothing but the file.
func TestWriteFails(t *testing.T) {
	for budget := range 8 {
		s := newTestSet(t, 100)
		s.unlink = false
		left := budget
		s.write = func(f *os.File, p []byte, off int64) (int, error) {
			if left == 0 {
				return 0, errDiskFull
			}
			left--
			return f.WriteAt(p, off)
		}
		x := s.New()
		rng := rand.New(rand.NewPCG(6, uint64(budget)))
		m := map[Key]Value{}
		var err error
		for range 2000 {
			k, v := randKey(rng), randValue(rng)
			m[k] = v
			if err = x.Put(k, v); err != nil {
				break
			}
		}
		if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "writing temporary index file "+s.dir) {
			t.Fatalf("budget %d: Put: %v", budget, err)
		}
		for k, w := range m {
			if v, ok, err := x.Get(k); err != nil || !ok || v != w {
				t.Fatalf("budget %d: Get after failure = %v, %v, %v; want %v", budget, v, ok, err, w)
			}
		}
		if got := files(t, s.dir); len(got) != 1 || got[0] != s.name {
			t.Fatalf("budget %d: files %v, want %s", budget, got, s.name)
		}
		if budget == 3 && s.Stats().Spills != 2 {
			t.Fatalf("budget 3: %+v, want the merge after 2 spills to fail", s.Stats())
		}
		// Space again: the next Put spills and all is well.
		s.write = (*os.File).WriteAt
		k := randKey(rng)
		m[k] = Value{Commit: 1}
		if err := x.Put(k, m[k]); err != nil {
			t.Fatal(err)
		}
		if s.mem > s.max {
			t.Fatalf("still over budget: %d", s.mem)
		}
		oracle := m
		checkChanged(t, x, oracle)
	}
}

func TestDirGone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := NewSet(Options{Dir: dir, MaxEntries: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	os.Remove(dir)
	x := s.New()
	for i := range 11 {
		err = x.Put(Key{byte(i)}, Value{})
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "creating temporary index file in "+dir) {
		t.Fatalf("Put: %v", err)
	}
	if _, err := NewSet(Options{Dir: dir}); err == nil {
		t.Fatal("NewSet accepted a missing directory")
	}
	if _, err := NewSet(Options{MaxEntries: -1}); err == nil {
		t.Fatal("NewSet accepted MaxEntries -1")
	}
}

func TestChangedCallback(t *testing.T) {
	s := newTestSet(t, 20)
	x := s.New()
	m := fill(t, x, rand.New(rand.NewPCG(8, 8)), 100)
	stop := errors.New("stop")
	n := 0
	err := x.Changed(func(k Key, v Value) error {
		if err := x.Put(k, v); err == nil {
			t.Fatal("Put during Changed accepted")
		}
		// Get and a nested Changed work.
		if got, ok, err := x.Get(k); err != nil || !ok || got != m[k] {
			t.Fatalf("Get in Changed = %v, %v, %v", got, ok, err)
		}
		if err := x.Changed(func(Key, Value) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("Changed returned %v, want fn's error", err)
	}
	if err := x.Put(Key{}, Value{}); err != nil {
		t.Fatalf("Put after Changed: %v", err)
	}
}

// TestRetainedTables fills indexes one after the other, each spilled in turn:
// only the last one spilled may keep the array of its emptied table.
func TestRetainedTables(t *testing.T) {
	const budget, n = 1 << 14, 12
	s := newTestSet(t, budget)
	rng := rand.New(rand.NewPCG(9, 9))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		fill(t, s.New(), rng, budget) // spills the index filled before
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	tableSize := int64(2*budget) * recSize // the array of a table holding the budget
	t.Logf("heap grew %.1f MiB; %d tables of the budget: %.1f MiB", float64(grew)/(1<<20), n, float64(n*tableSize)/(1<<20))
	if grew > 4*tableSize { // one full table, one emptied, runs' filters and fences
		t.Fatalf("heap grew by %d bytes: emptied tables kept their arrays", grew)
	}
}

// Export writes the index runs of its conversations in parallel: Changed on
// distinct indexes of one Set may run at the same time (run with -race).
func TestChangedInParallel(t *testing.T) {
	s := newTestSet(t, 300)
	rng := rand.New(rand.NewPCG(7, 8))
	xs := make([]*Index, 6)
	oracles := make([]map[Key]Value, len(xs))
	for i := range xs {
		xs[i] = s.New()
		oracles[i] = fill(t, xs[i], rng, 500+200*i)
	}
	if s.Stats().Spills == 0 {
		t.Fatal("no spill: the test checks nothing")
	}
	got := make([][]entry, len(xs))
	errs := make([]error, len(xs))
	var wg sync.WaitGroup
	for i, x := range xs {
		wg.Go(func() {
			errs[i] = x.Changed(func(k Key, v Value) error {
				got[i] = append(got[i], entry{k, v})
				return nil
			})
		})
	}
	wg.Wait()
	for i := range xs {
		var want []entry
		for k, v := range oracles[i] {
			if v.Changed {
				want = append(want, entry{k, v})
			}
		}
		slices.SortFunc(want, func(a, b entry) int { return bytes.Compare(a.k[:], b.k[:]) })
		if errs[i] != nil || !slices.Equal(got[i], want) {
			t.Errorf("index %d: %d entries (%v), want %d", i, len(got[i]), errs[i], len(want))
		}
	}
}

// Of the indexes holding a fair share of the budget, the least recently used
// is spilled, not the one in use: in an export grouped by conversation, the
// conversation being read keeps its ids in memory.
func TestSpillsLeastRecentlyUsed(t *testing.T) {
	s := newTestSet(t, 100)
	old, cur := s.New(), s.New()
	rng := rand.New(rand.NewPCG(3, 4))
	fill(t, old, rng, 40)
	fill(t, cur, rng, 61) // the 101st entry: old, used longer ago, goes to disk
	if old.mem.n != 0 || len(old.runs) != 1 || cur.mem.n != 61 || len(cur.runs) != 0 {
		t.Fatalf("old: %d in memory, %d runs; cur: %d in memory, %d runs", old.mem.n, len(old.runs), cur.mem.n, len(cur.runs))
	}
	// A Get counts as a use too.
	fill(t, old, rng, 30)
	if _, _, err := old.Get(randKey(rng)); err != nil {
		t.Fatal(err)
	}
	fill(t, s.New(), rng, 10) // over budget again: cur (61) is now the older
	if cur.mem.n != 0 || old.mem.n != 30 {
		t.Fatalf("cur: %d in memory, old: %d", cur.mem.n, old.mem.n)
	}
}

// TestOneFile spills thousands of small indexes: they share one file (one
// descriptor, one inode), and the blocks of a run, at positions that follow
// each other, go out in few writes.
func TestOneFile(t *testing.T) {
	s := newTestSet(t, 20)
	s.unlink = false
	s.recs = 4
	writes, blocks := 0, 0
	s.write = func(f *os.File, p []byte, off int64) (int, error) {
		writes++
		return f.WriteAt(p, off)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	xs := make([]*Index, 3000)
	oracle := make([]map[Key]Value, len(xs))
	for i := range xs {
		xs[i] = s.New()
		oracle[i] = fill(t, xs[i], rng, 5)
	}
	for _, x := range xs {
		for _, r := range x.runs {
			blocks += len(r.at)
		}
	}
	if st := s.Stats(); st.Spills < len(xs)/2 || st.Runs < len(xs)/2 {
		t.Fatalf("%+v: too few spills", st)
	}
	if got := files(t, s.dir); len(got) != 1 || got[0] != s.name {
		t.Fatalf("files %v, want only %s", got, s.name)
	}
	if writes > blocks/2+1 {
		t.Fatalf("%d writes for %d blocks in a fresh file", writes, blocks)
	}
	for i, x := range xs {
		for k, w := range oracle[i] {
			if v, ok, err := x.Get(k); err != nil || !ok || v != w {
				t.Fatalf("index %d: Get = %v, %v, %v; want %v", i, v, ok, err, w)
			}
		}
	}
	checkPositions(t, s, xs)
}

// TestProbe probes keys, then Puts (which spill and merge runs, also of the
// probed index), then asks GetProbed: the answers are Get's, from the probe
// while the runs are the probed ones and from a fresh lookup after they
// changed. Probes of a batch also run on two goroutines at once (-race).
func TestProbe(t *testing.T) {
	s := newTestSet(t, 60)
	s.recs = 4
	rng := rand.New(rand.NewPCG(10, 10))
	xs := make([]*Index, 3)
	oracle := make([]map[Key]Value, len(xs))
	for i := range xs {
		xs[i], oracle[i] = s.New(), map[Key]Value{}
	}
	pool := make([]Key, 400)
	for i := range pool {
		pool[i] = randKey(rng)
	}
	put := func() {
		i := rng.IntN(len(xs))
		k, v := pool[rng.IntN(len(pool))], randValue(rng)
		if err := xs[i].Put(k, v); err != nil {
			t.Fatal(err)
		}
		oracle[i][k] = v
	}
	for range 500 {
		put()
	}
	type probed struct {
		i int
		k Key
		p Probed
	}
	fresh, stale := 0, 0
	for round := range 300 {
		batch := make([]probed, 40)
		for j := range batch {
			batch[j].i, batch[j].k = rng.IntN(len(xs)), pool[rng.IntN(len(pool))]
			if j%4 == 0 {
				batch[j].k = randKey(rng) // in no index
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for h := range 2 {
			wg.Go(func() {
				var b ProbeBuffer
				for j := h; j < len(batch); j += 2 {
					if batch[j].p, errs[h] = xs[batch[j].i].Probe(&batch[j].k, &b); errs[h] != nil {
						return
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		for _, pr := range batch {
			for range rng.IntN(4) {
				put()
			}
			x := xs[pr.i]
			if pr.p.gen == x.gen {
				fresh++
			} else {
				stale++
			}
			v, ok, err := x.GetProbed(pr.k, pr.p)
			if w, wok := oracle[pr.i][pr.k]; err != nil || ok != wok || v != w {
				t.Fatalf("round %d: GetProbed(%x) = %v, %v, %v; want %v, %v", round, pr.k, v, ok, err, w, wok)
			}
		}
	}
	if fresh < 1000 || stale < 100 || s.Stats().Merges < 20 {
		t.Fatalf("%d answers from probes, %d after the runs changed, %+v: the test did not exercise both", fresh, stale, s.Stats())
	}
	// A zero Probed is a plain Get.
	k := pool[0]
	v, ok, err := xs[0].GetProbed(k, Probed{})
	if w, wok := oracle[0][k]; err != nil || ok != wok || v != w {
		t.Fatalf("GetProbed with no probe = %v, %v, %v; want %v, %v", v, ok, err, w, wok)
	}
}
