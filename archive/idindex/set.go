// Package idindex is export's index of message ids: per conversation, the
// latest revision of every message id, in memory bounded by a budget shared by
// all conversations of one export, the rest spilled to encrypted temporary
// files. It replaces a map[[16]byte]latestRev that costs ≈63 bytes per message
// (≈1.2 GiB at 20 M messages) where the architecture allows 256 MiB RSS.
//
// # Design (LSM-style)
//
// Every [Index] keeps its newest entries in a hash table (table.go: one flat
// array of 29-byte slots). The [Set] of one export counts the entries held in
// the tables of all its indexes; when a Put makes that count exceed
// Options.MaxEntries, an index is spilled (the least recently used of those
// holding at least an eighth of the budget, else the largest):
// its entries are sorted by key (bytes.Compare order) in the table's own
// array and written as a new immutable run, and its table is emptied.
// Only one index at a time keeps the array of an emptied table (the last one
// spilled, usually the one being filled); the one that kept it before gets an
// array of its size, which costs no more than the spill that caused it.
//
// A run holds fixed-size 29-byte records (key 16, rev 8, commit 4
// big-endian, changed 1) in ascending key order, in blocks of 35 records
// (1015 bytes of plaintext: a lookup reads and decrypts one block, and with
// 4 KiB blocks that cost an export over an archive that holds its ids 12 %
// more time). All runs of a Set live in one temporary file,
// divided into positions of one sealed full block each (1031 bytes): a run
// takes the lowest free positions, so its blocks mostly follow each other
// (they are written and, by merges, read up to 64 at a time), and gives them
// back when it is merged away or released. The file therefore grows only to
// the most the runs ever held at once, and an export needs one descriptor and
// one inode however many conversations it spills; with a file per run an
// archive of thousands of small conversations needed thousands of open files,
// and the inodes freed by every merge made each new inode of the store slower
// to allocate on some filesystems (ext4 without a journal skips recently
// freed inodes one by one). Each block is sealed with AES-256-GCM under a
// random 32-byte key made per Set with crypto/rand and kept only inside the
// cipher in memory, never written anywhere: nothing reaches the disk in
// plaintext, and the files are unreadable once the process is gone. The nonce
// is a per-Set 64-bit block counter, big-endian in the last 8 bytes of the
// 96-bit nonce (counters, not random nonces: none repeats under the key); the
// additional data is the run's id and the block's number, so a block moved,
// swapped or copied from another run (or left at a position by a run since
// removed) fails to open. A block that fails to open means the file changed
// underneath us: the error wraps [ErrDamaged] and names the file.
//
// For each run the Set keeps in memory the first key of each block (the fence
// keys) and its position in the file (16+4 bytes per block, ≈0.6 bytes per
// entry), the nonce counter of its first block (a run's blocks have
// consecutive counters) and a Bloom filter
// sized for the run's entries at ≈1 % false positives (filter.go: 10 bits per
// entry in 64-byte blocks).
// [Index.Get] looks in the table, then in the runs from newest to oldest: Bloom
// test, binary search of the fences, one ReadAt of a block, decryption, binary
// search in the block. The first hit wins, so the newest Put wins.
//
// The runs of an index stay few: after a run is written, while the index has
// two runs or more and the newest one has at least half the entries of the one
// before it, those two are merged into a new run (newest value wins for a
// duplicate key) and their files removed. Run sizes therefore more than halve
// from the oldest run to the newest, and an index with n entries on disk that
// spills s entries at a time has at most log2(n/s)+2 runs. Merges and
// [Index.Changed] stream: they hold one block per run.
//
// # Memory
//
// About MaxEntries × 39–77 bytes of tables (29-byte slots, kept between 3/8
// and 3/4 full; a spill needs no buffer), plus the array of one emptied table,
// plus ≈1.8 bytes per entry on disk (20 M entries: ≈36 MB), plus a 64 KiB
// read buffer per run being merged or walked by Changed. With the default
// budget (1<<19) BenchmarkHeap measures ≈32 MiB live and ≈49 MiB peak heap at
// 2 M entries (with Go maps it was ≈59 and ≈65 MiB), against ≈160 MiB live for
// a plain map.
//
// # Temporary files
//
// The file is made by os.CreateTemp in Options.Dir (mode 0600), named
// "chatvault-idx-*", at the Set's first spill. Where the system allows it
// (every GOOS but Windows) it is unlinked right after it is created and only
// the open *os.File is kept, so nothing is left behind even by a crash or
// kill -9. On Windows an open file cannot be removed: there it is removed by
// [Set.Close]; a crash there leaves an encrypted file nobody can read.
//
// # Use
//
// A Set and its indexes are used by one goroutine at a time, except that
// [Index.Changed] may run on distinct indexes in parallel, and
// [Index.Probe] on any, each with its own [ProbeBuffer]. Errors name the file
// and wrap the cause with %w; after an error the index still answers
// correctly (a failed run gives its positions back, the entries stay in
// memory), but the Set may be over its budget: the export is expected to
// stop.
package idindex

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
)

// Key is a message-id hash: 16 bytes of an HMAC output, so uniformly random.
type Key = [16]byte

// Value is what the index stores per key.
type Value struct {
	Rev     [8]byte // revision (first 8 bytes of a SHA-256 of the message line)
	Commit  uint32
	Changed bool // set by this export run
}

// Options configure a [Set].
type Options struct {
	// Dir holds the temporary files; "" means os.TempDir().
	Dir string
	// MaxEntries is the number of entries held in memory across all indexes of
	// the Set before one of them is spilled to disk; 0 means DefaultMaxEntries.
	MaxEntries int
}

// DefaultMaxEntries is the budget used when Options.MaxEntries is 0.
const DefaultMaxEntries = 1 << 19

// ErrDamaged is wrapped by the error returned when a block of a temporary
// index file fails to decrypt or is missing: the file changed underneath us.
var ErrDamaged = errors.New("temporary index file damaged")

// ErrClosed is returned by the methods of a released Index or of an Index of a
// closed Set.
var ErrClosed = errors.New("idindex: index released or set closed")

// unlinkWhileOpen tells whether a file can be removed while it stays open.
const unlinkWhileOpen = runtime.GOOS != "windows"

// Stats describes a Set, for tests and benchmarks.
type Stats struct {
	MemEntries  int   // entries in the tables of all indexes
	Runs        int   // runs held
	DiskBytes   int64 // bytes of those runs
	FileBytes   int64 // room their file takes: runs and free blocks
	RunMemBytes int64 // memory held for the runs: Bloom filters, fence keys, positions
	Spills      int   // runs written from memory so far
	Merges      int   // merges of two runs so far
}

// Set groups the indexes of one export: it owns the ephemeral key, the
// in-memory budget and the temporary files.
type Set struct {
	dir    string
	max    int
	aead   cipher.AEAD
	nonce  uint64 // next block nonce counter
	lastID uint64 // id of the last run created
	recs   int    // records per block
	unlink bool   // unlink the file right after creating it

	f          *os.File // the file all runs live in, made at the first spill
	name       string
	named      bool     // f still has its name in dir
	blocks     uint32   // block positions in f so far
	free       []uint32 // positions of removed runs' blocks, for reuse
	freeSorted bool     // free is in descending order

	idx    []*Index     // live indexes
	mem    int          // entries in their tables
	warm   *Index       // the one index allowed to keep an emptied table's array
	busy   atomic.Int32 // Changed calls in progress (Put is refused meanwhile)
	closed bool
	clock  uint64 // counts Gets and Puts, for the least-recently-used choice
	st     Stats

	get  ProbeBuffer // Get's
	wbuf []byte      // writeRun's buffer of sealed blocks

	// write writes to the file; tests replace it to inject failures.
	write func(f *os.File, p []byte, off int64) (int, error)
}

// NewSet returns an empty Set with a fresh random key.
func NewSet(o Options) (*Set, error) {
	if o.MaxEntries < 0 {
		return nil, fmt.Errorf("idindex: MaxEntries %d < 0", o.MaxEntries)
	}
	s := &Set{dir: o.Dir, max: o.MaxEntries, recs: defaultRecsPerBlock, unlink: unlinkWhileOpen, write: (*os.File).WriteAt}
	if s.max == 0 {
		s.max = DefaultMaxEntries
	}
	if s.dir == "" {
		s.dir = os.TempDir()
	}
	if fi, err := os.Stat(s.dir); err != nil {
		return nil, fmt.Errorf("temporary directory (TMPDIR): %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("temporary directory (TMPDIR) %s is not a directory", s.dir)
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("idindex: making the ephemeral key: %w", err)
	}
	block, err := aes.NewCipher(key[:])
	clear(key[:]) // from now on the key lives only inside the cipher
	if err != nil {
		return nil, err
	}
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return s, nil
}

// New returns a new, empty index (one per conversation).
func (s *Set) New() *Index {
	x := &Index{s: s, pos: len(s.idx)}
	if s.closed {
		x.pos = -1
		return x
	}
	s.idx = append(s.idx, x)
	return x
}

// Close releases every index and closes and removes the temporary file. It
// is safe to call twice; the indexes are unusable afterwards.
func (s *Set) Close() error {
	if s.closed {
		return nil
	}
	for len(s.idx) > 0 {
		s.idx[len(s.idx)-1].release()
	}
	s.closed = true
	s.get, s.wbuf, s.free = ProbeBuffer{}, nil, nil
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	if err != nil {
		err = fileErr("closing", s.name, err)
	}
	if s.named {
		if e := os.Remove(s.name); e != nil && err == nil {
			err = fileErr("removing", s.name, e)
		}
		s.named = false
	}
	return err
}

// Stats returns the Set's current figures.
func (s *Set) Stats() Stats {
	st := s.st
	st.MemEntries = s.mem
	return st
}

// Index maps the message ids of one conversation to their latest value.
type Index struct {
	s    *Set
	used uint64 // the Set's clock at the last Get or Put
	mem  table
	runs []*run // oldest first
	gen  uint64 // counts the changes of runs (see Probe)
	pos  int    // position in s.idx; -1 once released
}

func (x *Index) usable() error {
	if x.pos < 0 || x.s.closed {
		return ErrClosed
	}
	return nil
}

// Get returns the latest value put for k.
func (x *Index) Get(k Key) (Value, bool, error) {
	if err := x.usable(); err != nil {
		return Value{}, false, err
	}
	x.s.clock++
	x.used = x.s.clock
	if v, ok := x.mem.get(&k); ok {
		return v, true, nil
	}
	return x.probe(&k, &x.s.get)
}

// probe looks k up in the runs, newest first.
func (x *Index) probe(k *Key, b *ProbeBuffer) (Value, bool, error) {
	for i := len(x.runs) - 1; i >= 0; i-- {
		v, ok, err := x.s.lookup(x.runs[i], k, b)
		if ok || err != nil {
			return v, ok, err
		}
	}
	return Value{}, false, nil
}

// Probe is the part of a Get that reads the disk: it looks k up in the
// index's runs only, not in its table, and returns the result with the
// index's generation, which changes whenever its runs do. It changes nothing
// and uses only b (one per goroutine), so Probes of any indexes of a Set may
// run in parallel, as long as nothing else uses the Set meanwhile: a caller
// with a batch of keys probes them on several cores, then calls GetProbed for
// each in turn.
func (x *Index) Probe(k *Key, b *ProbeBuffer) (Probed, error) {
	if err := x.usable(); err != nil {
		return Probed{}, err
	}
	v, ok, err := x.probe(k, b)
	return Probed{v: v, ok: ok, gen: x.gen, valid: true}, err
}

// Probed is the result of [Index.Probe].
type Probed struct {
	v     Value
	ok    bool
	gen   uint64
	valid bool
}

// Found tells whether the probe found the key in the runs.
func (p Probed) Found() bool { return p.ok }

// GetProbed is Get for a key already probed (p): while the index's runs are
// the ones probed, only its table is looked at; otherwise, or for a zero
// Probed, it is Get.
func (x *Index) GetProbed(k Key, p Probed) (Value, bool, error) {
	if !p.valid || x.pos < 0 || p.gen != x.gen {
		return x.Get(k)
	}
	x.s.clock++
	x.used = x.s.clock
	if v, ok := x.mem.get(&k); ok {
		return v, true, nil
	}
	return p.v, p.ok, nil
}

// Touch reads the memory where a Get or Put of k starts looking and returns
// a byte of it, which the caller must keep (for instance XOR into a field) so
// that the load is not optimised away. Touching the keys of a batch before
// looking them up lets their cache misses overlap: the lookups that follow
// find the lines in the CPU cache. It changes nothing.
func (x *Index) Touch(k *Key) byte {
	if len(x.mem.slots) == 0 {
		return 0
	}
	return x.mem.slots[x.mem.home(k)].flags
}

// Put inserts or replaces the value of k; the newest Put wins, also over
// values already spilled. It may spill an index of the Set to disk (not
// necessarily this one) and then merge runs. Put is refused while a Changed
// call of the Set is running.
func (x *Index) Put(k Key, v Value) error {
	if err := x.usable(); err != nil {
		return err
	}
	s := x.s
	if s.busy.Load() > 0 {
		return errors.New("idindex: Put during Changed")
	}
	s.clock++
	x.used = s.clock
	if !x.mem.put(&k, &v) {
		return nil
	}
	s.mem++
	if s.mem <= s.max {
		return nil
	}
	return s.victim(x).spill()
}

// victim picks the index to spill: the least recently used of those holding at
// least an eighth of the budget, else the largest. Exports mostly come
// grouped by conversation: the conversations already read go to disk and the
// one being read keeps its ids in memory, where lookups cost nothing.
func (s *Set) victim(x *Index) *Index {
	var lru *Index
	big := x
	for _, y := range s.idx {
		if y.mem.n > big.mem.n {
			big = y
		}
		if y.mem.n >= s.max/8 && (lru == nil || y.used < lru.used) {
			lru = y
		}
	}
	if lru != nil {
		return lru
	}
	return big
}

// Release frees the index's memory and its runs' room in the temporary file.
// The index is unusable afterwards.
func (x *Index) Release() {
	x.release()
}

func (x *Index) release() {
	if x.pos < 0 {
		return
	}
	s := x.s
	last := s.idx[len(s.idx)-1]
	s.idx[x.pos], last.pos = last, x.pos
	s.idx[len(s.idx)-1] = nil
	s.idx = s.idx[:len(s.idx)-1]
	x.pos = -1
	if s.warm == x {
		s.warm = nil
	}
	s.mem -= x.mem.n
	x.mem = table{}
	for _, r := range x.runs {
		s.removeRun(r)
	}
	x.runs = nil
}

// spill writes the index's in-memory entries as a new run, empties its table
// and then merges runs as the size rule asks.
func (x *Index) spill() error {
	s := x.s
	used := x.mem.sortInPlace()
	r, err := s.writeRun(len(used), func(w *runWriter) error {
		for i := range used {
			if err := w.add(used[i].k, used[i].value()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		x.mem.unsort()
		return err
	}
	x.runs = append(x.runs, r)
	x.gen++ // and compact changes them again
	s.st.Spills++
	s.mem -= x.mem.n
	if w := s.warm; w != nil && w != x {
		// w kept the array of its table when it was spilled; give it an
		// array of the size of the entries it holds now (no more than x had).
		w.mem.fit()
	}
	x.mem.reset()
	s.warm = x
	return x.compact()
}
