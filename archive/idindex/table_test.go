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
