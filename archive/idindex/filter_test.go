package idindex

import (
	"math/rand/v2"
	"testing"
)

// TestFilter checks that a run's filter never rejects a key it holds, lets
// about 1 % of absent keys through, and costs the memory it should: for
// random keys, and for keys that differ in a single byte (as tests make them).
func TestFilter(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 14))
	for _, c := range []struct {
		name string
		n    int
		key  func(i int) Key
	}{
		{"random", 50000, func(int) Key { return randKey(rng) }},
		{"one-byte-apart", 50000, func(i int) (k Key) {
			k[15], k[14], k[7] = byte(i), byte(i>>8), byte(i>>16)
			return k
		}},
		{"one-key", 1, func(int) Key { return randKey(rng) }},
	} {
		f := newFilter(c.n)
		keys := make([]Key, c.n)
		for i := range keys {
			keys[i] = c.key(i)
			f.add(&keys[i])
		}
		for i := range keys {
			if !f.test(&keys[i]) {
				t.Fatalf("%s: key %d added but rejected", c.name, i)
			}
		}
		if c.n < 1000 {
			continue
		}
		const probes = 200000
		passed := 0
		for range probes {
			k := randKey(rng)
			if f.test(&k) {
				passed++
			}
		}
		rate := float64(passed) / probes
		t.Logf("%s: %d keys, %.2f %% false positives, %.2f bytes per key", c.name, c.n, 100*rate, float64(f.memBytes())/float64(c.n))
		if rate > 0.015 {
			t.Errorf("%s: %.2f %% false positives, want ≈ 1 %%", c.name, 100*rate)
		}
		if perKey := float64(f.memBytes()) / float64(c.n); perKey > 1.3 {
			t.Errorf("%s: %.2f bytes per key", c.name, perKey)
		}
	}
}
