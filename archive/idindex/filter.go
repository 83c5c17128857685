package idindex

import (
	"encoding/binary"
	"math/bits"
)

// filter is the Bloom filter of a run: a blocked Bloom filter (Putze,
// Sanders and Singler, "Cache-, Hash- and Space-Efficient Bloom Filters",
// 2007) in which all the bits of one key lie in one 64-byte block. A test
// reads one cache line instead of seven scattered ones, which matters when
// export looks an id up in the runs of hundreds of conversations at once.
//
// Keys are HMAC outputs, already uniformly random: the filter takes its
// block and bit positions from the key's own bits (mixed, so that the
// structured keys of tests spread too) instead of hashing it, and picks the
// block by multiplication instead of a modulo. With filterBitsPerKey bits per
// key and filterProbes bits per key it lets ≈ 1 % of absent keys through
// (TestFilter measures it), like the general-purpose filter it replaces
// (bits-and-blooms/bloom at 1 %, which hashed every key with murmur3 and
// took seven divisions per test: a third of the id index's cost in an
// interleaved export).
type filter struct {
	blocks [][8]uint64 // 512 bits each
}

const (
	filterBitsPerKey = 10
	filterProbes     = 7 // 7 positions of 9 bits use 63 of a 64-bit hash
)

func newFilter(n int) filter {
	return filter{blocks: make([][8]uint64, max(1, (n*filterBitsPerKey+511)/512))}
}

// locate returns k's block and the hash its bit positions come from.
func (f *filter) locate(k *Key) (*[8]uint64, uint64) {
	lo, hi := binary.LittleEndian.Uint64(k[:8]), binary.LittleEndian.Uint64(k[8:])
	b, _ := bits.Mul64(mix64(lo^hi), uint64(len(f.blocks)))
	return &f.blocks[b], mix64(hi + lo*0x9e3779b97f4a7c15)
}

func (f *filter) add(k *Key) {
	b, h := f.locate(k)
	for range filterProbes {
		b[h>>6&7] |= 1 << (h & 63)
		h >>= 9
	}
}

func (f *filter) test(k *Key) bool {
	b, h := f.locate(k)
	for range filterProbes {
		if b[h>>6&7]&(1<<(h&63)) == 0 {
			return false
		}
		h >>= 9
	}
	return true
}

func (f *filter) memBytes() int64 { return int64(cap(f.blocks)) * 64 }

// mix64 is the finaliser of SplitMix64: every output bit depends on every
// input bit.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
