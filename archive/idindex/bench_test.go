package idindex

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

const benchN = 1 << 20 // entries for BenchmarkPut and BenchmarkGet

func benchKeys(n int, seed uint64) []Key {
	rng := rand.New(rand.NewPCG(seed, seed))
	keys := make([]Key, n)
	for i := range keys {
		keys[i] = randKey(rng)
	}
	return keys
}

func benchSet(b *testing.B, max int) *Set {
	s, err := NewSet(Options{Dir: b.TempDir(), MaxEntries: max})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkPut puts 1 M new keys into one index with the default budget (so
// about half of them are spilled and merged); ns/put is per Put.
func BenchmarkPut(b *testing.B) {
	keys := benchKeys(benchN, 1)
	v := Value{Commit: 1, Changed: true}
	for b.Loop() {
		s := benchSet(b, 0)
		x := s.New()
		for _, k := range keys {
			if err := x.Put(k, v); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchN), "ns/put")
}

// BenchmarkGet looks up keys of an index of 1 M entries with the default
// budget: every key (hit), only keys on disk (hit-disk), absent keys (miss).
func BenchmarkGet(b *testing.B) {
	keys := benchKeys(benchN, 1)
	s := benchSet(b, 0)
	defer s.Close()
	x := s.New()
	for _, k := range keys {
		if err := x.Put(k, Value{Commit: 1}); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(2, 2))
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	var disk []Key
	for _, k := range keys {
		if _, ok := x.mem.get(&k); !ok {
			disk = append(disk, k)
		}
	}
	b.Logf("%d entries: %d on disk in %d runs", len(keys), len(disk), len(x.runs))
	for _, c := range []struct {
		name string
		keys []Key
		want bool
	}{{"hit", keys, true}, {"hit-disk", disk, true}, {"miss", benchKeys(benchN, 3), false}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				for _, k := range c.keys {
					if _, ok, err := x.Get(k); err != nil || ok != c.want {
						b.Fatal(ok, err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(c.keys)), "ns/get")
		})
	}
}

// BenchmarkHeap puts 2 M keys (made on the fly, not held) into one index and
// reports the heap: peak-MiB samples HeapAlloc every 64 Ki Puts (garbage
// included), live-MiB is after a GC at the end. "map" is the plain map that
// export used before, for comparison.
func BenchmarkHeap(b *testing.B) {
	const n = 2 << 20
	type latestRev struct { // as in archive/export.go
		rev     [8]byte
		commit  uint32
		changed bool
	}
	for _, c := range []struct {
		name string
		max  int // -1: the plain map
	}{{"default-budget", 0}, {"budget-16Ki", 1 << 14}, {"map", -1}} {
		b.Run(c.name, func(b *testing.B) {
			var peak, live uint64
			var st Stats
			for b.Loop() {
				var ms runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms)
				base := ms.HeapAlloc
				sample := func() {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapAlloc-min(base, ms.HeapAlloc))
				}
				rng := rand.New(rand.NewPCG(4, 4))
				var s *Set
				var m map[Key]latestRev
				if c.max < 0 {
					m = map[Key]latestRev{}
					for i := range n {
						m[randKey(rng)] = latestRev{commit: 1}
						if i%(1<<16) == 0 {
							sample()
						}
					}
				} else {
					s = benchSet(b, c.max)
					x := s.New()
					for i := range n {
						if err := x.Put(randKey(rng), Value{Commit: 1}); err != nil {
							b.Fatal(err)
						}
						if i%(1<<16) == 0 {
							sample()
						}
					}
					st = s.Stats()
				}
				sample()
				runtime.GC()
				runtime.ReadMemStats(&ms)
				live = ms.HeapAlloc - min(base, ms.HeapAlloc)
				runtime.KeepAlive(m)
				if s != nil {
					s.Close()
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
			b.ReportMetric(float64(live)/(1<<20), "live-MiB")
			b.ReportMetric(float64(st.DiskBytes)/(1<<20), "disk-MiB")
			b.ReportMetric(float64(st.Runs), "runs")
			b.ReportMetric(float64(st.RunMemBytes)/(1<<20), "runmem-MiB")
		})
	}
}
