package idindex

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// table is the in-memory part of an Index: an open-addressing hash table with
// linear probing over one flat array of 29-byte slots. Against a Go map of
// Key to Value (32-byte slots in groups, spread over many tables behind a
// directory) it costs ≈40 % less memory per entry and one cache miss per
// lookup instead of two or three: with hundreds of conversations read
// interleaved, lookups are random accesses into tens of MiB, and those misses
// were the export's largest extra cost. Entries are never removed one by one
// (an index only adds and replaces, and is emptied whole by a spill), so the
// table needs no tombstones. It grows by doubling when three quarters full.
//
// Keys are HMAC outputs (uniformly random, and chosen by no one who does not
// hold the conversation key), but tests use keys that differ in one byte:
// the hash mixes both halves of the key with a multiplication, so any keys
// spread.
type table struct {
	slots []slot // len is 0 or a power of two
	n     int    // used slots
}

// slot is one entry. Byte arrays only, so that the array packs with no padding.
type slot struct {
	k      Key
	rev    [8]byte
	commit [4]byte // little-endian
	flags  byte
}

const (
	slotUsed    = 1 << 0
	slotChanged = 1 << 1
)

const minTableSlots = 16

func (s *slot) value() Value {
	return Value{Rev: s.rev, Commit: binary.LittleEndian.Uint32(s.commit[:]), Changed: s.flags&slotChanged != 0}
}

func (s *slot) set(k *Key, v *Value) {
	s.k, s.rev = *k, v.Rev
	binary.LittleEndian.PutUint32(s.commit[:], v.Commit)
	s.flags = slotUsed
	if v.Changed {
		s.flags |= slotChanged
	}
}

// home is the slot where the probe for k starts.
func (t *table) home(k *Key) int {
	h := (binary.LittleEndian.Uint64(k[:8]) ^ binary.LittleEndian.Uint64(k[8:])) * 0x9e3779b97f4a7c15
	return int(h >> (64 - bits.TrailingZeros(uint(len(t.slots)))))
}

// find returns the slot holding k, or the empty slot where k belongs.
func (t *table) find(k *Key) *slot {
	mask := len(t.slots) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		if s := &t.slots[i]; s.flags == 0 || s.k == *k {
			return s
		}
	}
}

func (t *table) get(k *Key) (Value, bool) {
	if t.n == 0 {
		return Value{}, false
	}
	s := t.find(k)
	if s.flags == 0 {
		return Value{}, false
	}
	return s.value(), true
}

// put inserts or replaces k's value and reports whether k is new.
func (t *table) put(k *Key, v *Value) bool {
	if len(t.slots) == 0 || 4*(t.n+1) > 3*len(t.slots) {
		t.resize(max(minTableSlots, 2*len(t.slots)))
	}
	s := t.find(k)
	added := s.flags == 0
	s.set(k, v)
	if added {
		t.n++
	}
	return added
}

// resize moves the entries into a new array of size slots (a power of two
// large enough to hold them).
func (t *table) resize(size int) {
	old := t.slots
	t.slots = make([]slot, size)
	for i := range old {
		if old[i].flags != 0 {
			*t.find(&old[i].k) = old[i]
		}
	}
}

// fit gives the table the smallest array that holds its entries below the
// growth threshold.
func (t *table) fit() {
	size := minTableSlots
	for 4*t.n > 3*size {
		size *= 2
	}
	if size != len(t.slots) {
		t.resize(size)
	}
}

// sortInPlace moves the entries to the front of the array in ascending key
// order and returns them there, so that a spill needs no memory of its own.
// The table answers no lookup until [table.reset] or [table.unsort].
func (t *table) sortInPlace() []slot {
	used := t.slots[:0]
	for i := range t.slots {
		if t.slots[i].flags != 0 {
			used = append(used, t.slots[i]) // never overtakes i
		}
	}
	sortSlots(used)
	return used
}

// sortSlots sorts slots by key, in place: one pass of American flag sort
// (an in-place radix sort) on the first key byte, then pdqsort within each of
// the 256 buckets. Keys are HMAC outputs, so the buckets are even, and the
// comparison sort works on n/256 slots at a time: a spill sorts ≈ twice as
// fast as with pdqsort alone.
func sortSlots(s []slot) {
	var end, next [256]int
	for i := range s {
		end[s[i].k[0]]++
	}
	sum := 0
	for b := range end {
		next[b] = sum
		sum += end[b]
		end[b] = sum
	}
	for b := range next {
		for next[b] < end[b] {
			d := s[next[b]].k[0]
			if int(d) == b {
				next[b]++
				continue
			}
			s[next[b]], s[next[d]] = s[next[d]], s[next[b]]
			next[d]++
		}
	}
	lo := 0
	for _, hi := range end {
		slices.SortFunc(s[lo:hi], func(a, b slot) int { return cmpKey(&a.k, &b.k) })
		lo = hi
	}
}

// unsort undoes sortInPlace (after a failed spill).
func (t *table) unsort() {
	used := slices.Clone(t.slots[:t.n])
	clear(t.slots)
	for i := range used {
		*t.find(&used[i].k) = used[i]
	}
}

// reset empties the table and keeps its array.
func (t *table) reset() {
	clear(t.slots)
	t.n = 0
}

// sortedCopy returns a copy of the entries in ascending key order, leaving
// the table as it is (for Changed, which may run beside Gets).
func (t *table) sortedCopy() []slot {
	used := make([]slot, 0, t.n)
	for i := range t.slots {
		if t.slots[i].flags != 0 {
			used = append(used, t.slots[i])
		}
	}
	sortSlots(used)
	return used
}
