package idindex

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// TestTable checks the hash table against a map, with random keys and with
// keys that differ in one byte only (which a hash of part of the key would
// pile into one probe chain), through growth, replacement, an in-place sort
// undone, a reset and a shrink.
func TestTable(t *testing.T) {
	if size := unsafe.Sizeof(slot{}); size != recSize {
		t.Fatalf("a slot takes %d bytes, want %d (packed like a run record)", size, recSize)
	}
	rng := rand.New(rand.NewPCG(11, 11))
	keyMakers := map[string]func(i int) Key{
		"random": func(int) Key { return randKey(rng) },
		"one-byte-apart": func(i int) (k Key) {
			k[15], k[7] = byte(i), byte(i>>8)
			return k
		},
	}
	for name, key := range keyMakers {
		t.Run(name, func(t *testing.T) {
			var tb table
			m := map[Key]Value{}
			check := func(when string) {
				t.Helper()
				if tb.n != len(m) {
					t.Fatalf("%s: %d entries, want %d", when, tb.n, len(m))
				}
				for k, want := range m {
					if v, ok := tb.get(&k); !ok || v != want {
						t.Fatalf("%s: get(%x) = %v, %v; want %v", when, k, v, ok, want)
					}
				}
				absent := randKey(rng)
				if _, ok := tb.get(&absent); ok {
					t.Fatalf("%s: get of an absent key found it", when)
				}
				if 4*tb.n > 3*len(tb.slots) {
					t.Fatalf("%s: %d entries in %d slots", when, tb.n, len(tb.slots))
				}
			}
			var empty Key
			if _, ok := tb.get(&empty); ok {
				t.Fatal("get on an empty table found a key")
			}
			var keys []Key
			for i := range 5000 {
				k, v := key(i), randValue(rng)
				_, had := m[k]
				if added := tb.put(&k, &v); added == had {
					t.Fatalf("put(%x) added = %v, key was there: %v", k, added, had)
				}
				m[k] = v
				keys = append(keys, k)
				if i%3 == 0 { // replace an earlier key
					k := keys[rng.IntN(len(keys))]
					v := randValue(rng)
					if tb.put(&k, &v) {
						t.Fatalf("put(%x) of a present key added it", k)
					}
					m[k] = v
				}
			}
			check("after puts")

			sorted := tb.sortInPlace()
			if len(sorted) != len(m) || !slices.IsSortedFunc(sorted, func(a, b slot) int { return cmpKey(&a.k, &b.k) }) {
				t.Fatalf("sortInPlace: %d entries, sorted: %v", len(sorted), slices.IsSortedFunc(sorted, func(a, b slot) int { return cmpKey(&a.k, &b.k) }))
			}
			for i := range sorted {
				if want := m[sorted[i].k]; sorted[i].value() != want {
					t.Fatalf("sorted entry %x = %v, want %v", sorted[i].k, sorted[i].value(), want)
				}
			}
			tb.unsort()
			check("after unsort")

			size := len(tb.slots)
			tb.reset()
			m = map[Key]Value{}
			check("after reset")
			if len(tb.slots) != size {
				t.Fatalf("reset changed the array from %d to %d slots", size, len(tb.slots))
			}
			for i := range 10 {
				k, v := key(i), randValue(rng)
				tb.put(&k, &v)
				m[k] = v
			}
			tb.fit()
			check("after fit")
			if len(tb.slots) != minTableSlots {
				t.Fatalf("fit left %d slots for %d entries", len(tb.slots), tb.n)
			}
		})
	}
}

// TestSortSlots compares the radix-then-pdqsort of a spill with a plain sort,
// for random keys, keys sharing their first byte, and sizes around 0.
func TestSortSlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	for _, c := range []struct {
		name string
		n    int
		key  func() Key
	}{
		{"empty", 0, func() Key { return randKey(rng) }},
		{"one", 1, func() Key { return randKey(rng) }},
		{"random", 20000, func() Key { return randKey(rng) }},
		{"one-first-byte", 3000, func() Key { k := randKey(rng); k[0] = 7; return k }},
		{"two-first-bytes", 3000, func() Key { k := randKey(rng); k[0] = byte(rng.IntN(2)) * 255; return k }},
	} {
		s := make([]slot, c.n)
		for i := range s {
			k, v := c.key(), randValue(rng)
			s[i].set(&k, &v)
		}
		want := slices.Clone(s)
		slices.SortFunc(want, func(a, b slot) int { return cmpKey(&a.k, &b.k) })
		sortSlots(s)
		if !slices.Equal(s, want) {
			t.Errorf("%s: sortSlots differs from a plain sort", c.name)
		}
	}
}

func BenchmarkSortSlots(b *testing.B) {
	rng := rand.New(rand.NewPCG(13, 13))
	src := make([]slot, 1<<19)
	for i := range src {
		k, v := randKey(rng), randValue(rng)
		src[i].set(&k, &v)
	}
	s := make([]slot, len(src))
	for _, c := range []struct {
		name string
		sort func([]slot)
	}{
		{"radix-then-pdqsort", sortSlots},
		{"pdqsort", func(s []slot) { slices.SortFunc(s, func(a, b slot) int { return cmpKey(&a.k, &b.k) }) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				copy(s, src)
				c.sort(s)
			}
		})
	}
}
