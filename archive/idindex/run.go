package idindex

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sort"
)

const (
	recSize             = 16 + 8 + 4 + 1 // key, rev, commit (big-endian), changed
	defaultRecsPerBlock = 1024 / recSize // 35 records, 1015 bytes of plaintext
	filePattern         = "chatvault-idx-*"
)

// run is one sorted, encrypted run: its blocks live in the Set's file, at
// block positions of their own, and this is what is kept of it in memory.
type run struct {
	id     uint64   // unique in the Set; part of every block's additional data
	n      int      // records
	size   int64    // bytes of ciphertext
	at     []uint32 // position of each block in the Set's file, in blocks
	fences []Key    // first key of each block
	nonce0 uint64   // nonce counter of block 0; block i has nonce0+i
	filter filter
}

func (r *run) memBytes() int64 {
	return int64(cap(r.at))*4 + int64(cap(r.fences))*16 + r.filter.memBytes()
}

// fileErr wraps err, naming the file once.
func fileErr(op, name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == name {
		err = pe.Err
	}
	return fmt.Errorf("%s temporary index file %s: %w", op, name, err)
}

// blockParams returns the nonce and additional data of block blk of run r,
// in buf (owned by the caller: a cursor, a run writer or Get; arrays on the
// stack would escape through the cipher.AEAD interface, two allocations per
// block).
func blockParams(buf *[28]byte, r *run, blk int) (nonce, ad []byte) {
	nonce, ad = buf[:12], buf[12:]
	binary.BigEndian.PutUint64(nonce[4:], r.nonce0+uint64(blk)) // nonce[:4] stays zero
	binary.BigEndian.PutUint64(ad[:8], r.id)
	binary.BigEndian.PutUint64(ad[8:], uint64(blk))
	return nonce, ad
}

// blockBytes is the room of one block in the file: a full block's ciphertext.
func (s *Set) blockBytes() int { return s.recs*recSize + s.aead.Overhead() }

// blockSpan returns where block blk of r starts in the file and how many
// bytes of ciphertext it has.
func (s *Set) blockSpan(r *run, blk int) (off int64, size int) {
	recs := min(s.recs, r.n-blk*s.recs)
	return int64(r.at[blk]) * int64(s.blockBytes()), recs*recSize + s.aead.Overhead()
}

func (s *Set) newBlockBufs() (ct, pt []byte) {
	return make([]byte, 0, s.blockBytes()), make([]byte, 0, s.recs*recSize)
}

// readBlock reads and opens block blk of r, using ct and pt as buffers, and
// returns its plaintext.
func (s *Set) readBlock(r *run, blk int, ct, pt []byte, params *[28]byte) ([]byte, error) {
	ct, err := s.readBlocks(r, blk, 1, ct)
	if err != nil {
		return nil, err
	}
	return s.openBlock(r, blk, ct, pt, params)
}

// readBlocks reads the ciphertext of n blocks of r from blk on, whose
// positions follow each other, into buf (grown if need be).
func (s *Set) readBlocks(r *run, blk, n int, buf []byte) ([]byte, error) {
	off, _ := s.blockSpan(r, blk)
	_, last := s.blockSpan(r, blk+n-1)
	ct := slices.Grow(buf[:0], (n-1)*s.blockBytes()+last)[:(n-1)*s.blockBytes()+last]
	if _, err := s.f.ReadAt(ct, off); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: %s: block %d of run %d cut short: %w", ErrDamaged, s.name, blk+n-1, r.id, io.ErrUnexpectedEOF)
		}
		return nil, fileErr("reading", s.name, err)
	}
	return ct, nil
}

// openBlock decrypts block blk of r from its ciphertext ct into pt.
func (s *Set) openBlock(r *run, blk int, ct, pt []byte, params *[28]byte) ([]byte, error) {
	nonce, ad := blockParams(params, r, blk)
	pt, err := s.aead.Open(pt[:0], nonce, ct, ad)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: block %d of run %d fails authentication", ErrDamaged, s.name, blk, r.id)
	}
	return pt, nil
}

func decodeRecord(b []byte) (k Key, v Value) {
	copy(k[:], b[:16])
	copy(v.Rev[:], b[16:24])
	v.Commit = binary.BigEndian.Uint32(b[24:28])
	v.Changed = b[28] != 0
	return
}

func appendRecord(b []byte, k *Key, v *Value) []byte {
	b = append(b, k[:]...)
	b = append(b, v.Rev[:]...)
	b = binary.BigEndian.AppendUint32(b, v.Commit)
	if v.Changed {
		return append(b, 1)
	}
	return append(b, 0)
}

// cmpKey is bytes.Compare on keys, on two words at a time.
func cmpKey(a, b *Key) int {
	x, y := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if x == y {
		x, y = binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:])
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// ProbeBuffer holds the buffers of a lookup in the runs: one per goroutine
// (see [Index.Probe]).
type ProbeBuffer struct {
	ct, pt []byte
	params [28]byte
}

// lookup finds k in run r.
func (s *Set) lookup(r *run, k *Key, b *ProbeBuffer) (Value, bool, error) {
	if len(r.fences) == 0 || cmpKey(k, &r.fences[0]) < 0 || !r.filter.test(k) {
		return Value{}, false, nil
	}
	// The last block whose first key is ≤ k.
	blk := sort.Search(len(r.fences), func(i int) bool { return cmpKey(&r.fences[i], k) > 0 }) - 1
	if b.ct == nil {
		b.ct, b.pt = s.newBlockBufs()
	}
	pt, err := s.readBlock(r, blk, b.ct, b.pt, &b.params)
	if err != nil {
		return Value{}, false, err
	}
	n := len(pt) / recSize
	i := sort.Search(n, func(i int) bool { return cmpKey((*Key)(pt[i*recSize:]), k) >= 0 })
	if i == n || *(*Key)(pt[i*recSize:]) != *k {
		return Value{}, false, nil // a Bloom false positive
	}
	_, v := decodeRecord(pt[i*recSize:])
	return v, true, nil
}

// open makes the Set's file, at the first run.
func (s *Set) open() error {
	if s.f != nil {
		return nil
	}
	f, err := os.CreateTemp(s.dir, filePattern) // mode 0600
	if err != nil {
		return fmt.Errorf("creating temporary index file in %s: %w", s.dir, err)
	}
	s.f, s.name, s.named = f, f.Name(), true
	if s.unlink {
		// Keep only the open file: a crash leaves nothing behind. Should the
		// removal fail, Close tries again.
		s.named = os.Remove(s.name) != nil
	}
	return nil
}

// place returns a free block position: the lowest of those freed, so that a
// run's blocks mostly follow each other, else a new one at the end.
func (s *Set) place() uint32 {
	if len(s.free) == 0 {
		s.blocks++
		return s.blocks - 1
	}
	if !s.freeSorted {
		slices.SortFunc(s.free, func(a, b uint32) int { return cmp.Compare(b, a) }) // descending
		s.freeSorted = true
	}
	p := s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
	return p
}

// release gives the block positions of r back for reuse.
func (s *Set) release(r *run) {
	s.free = append(s.free, r.at...)
	s.freeSorted = false
}

// removeRun forgets r; its blocks will be overwritten by later runs.
func (s *Set) removeRun(r *run) {
	s.st.Runs--
	s.st.DiskBytes -= r.size
	s.st.RunMemBytes -= r.memBytes()
	s.release(r)
}

// runWriter writes a run, block by block, from records added in key order.
// Sealed blocks whose positions follow each other are written together, up
// to writeBlocks at a time.
type runWriter struct {
	s      *Set
	r      *run
	pt     []byte
	out    []byte // sealed blocks not written yet
	outAt  uint32 // position of the first of them
	params [28]byte
}

const writeBlocks = 64

// writeRun writes a run of at most n records, which fill adds in key order. On
// error nothing is left of the new run.
func (s *Set) writeRun(n int, fill func(*runWriter) error) (*run, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	s.lastID++
	blocks := (n + s.recs - 1) / s.recs
	r := &run{id: s.lastID, at: make([]uint32, 0, blocks), fences: make([]Key, 0, blocks), filter: newFilter(n)}
	if s.wbuf == nil {
		s.wbuf = make([]byte, 0, writeBlocks*s.blockBytes())
	}
	w := &runWriter{s: s, r: r, pt: make([]byte, 0, s.recs*recSize), out: s.wbuf[:0]}
	err := fill(w)
	if err == nil {
		err = w.seal()
	}
	if err == nil {
		err = w.write()
	}
	if err != nil {
		s.release(r)
		return nil, err
	}
	s.st.Runs++
	s.st.DiskBytes += r.size
	s.st.RunMemBytes += r.memBytes()
	s.st.FileBytes = int64(s.blocks) * int64(s.blockBytes())
	return r, nil
}

// add appends a record; keys must come in ascending order.
func (w *runWriter) add(k Key, v Value) error {
	if len(w.pt) == 0 {
		w.r.fences = append(w.r.fences, k)
	}
	w.pt = appendRecord(w.pt, &k, &v)
	w.r.filter.add(&k)
	w.r.n++
	if len(w.pt) == cap(w.pt) {
		return w.seal()
	}
	return nil
}

// seal seals the block being filled under the Set's next nonce counter and
// queues it for writing at a free position.
func (w *runWriter) seal() error {
	if len(w.pt) == 0 {
		return nil
	}
	s, r := w.s, w.r
	at := s.place()
	blk := len(r.at)
	r.at = append(r.at, at) // before anything can fail: release gives it back
	if len(w.out) > 0 && (at != w.outAt+uint32(len(w.out)/s.blockBytes()) || len(w.out)+s.blockBytes() > cap(w.out)) {
		if err := w.write(); err != nil {
			return err
		}
	}
	if len(w.out) == 0 {
		w.outAt = at
	}
	if blk == 0 {
		// A run's blocks are sealed one after the other, with no other
		// run's in between: their counters follow each other.
		r.nonce0 = s.nonce
	}
	s.nonce++
	nonce, ad := blockParams(&w.params, r, blk)
	before := len(w.out)
	w.out = s.aead.Seal(w.out, nonce, w.pt, ad)
	r.size += int64(len(w.out) - before)
	w.pt = w.pt[:0]
	return nil
}

// write writes the queued blocks. Only a run's last block is short, so the
// queue holds whole blocks but maybe its end.
func (w *runWriter) write() error {
	if len(w.out) == 0 {
		return nil
	}
	s := w.s
	if n, err := s.write(s.f, w.out, int64(w.outAt)*int64(s.blockBytes())); err != nil || n != len(w.out) {
		if err == nil {
			err = io.ErrShortWrite
		}
		return fileErr("writing", s.name, err)
	}
	w.out = w.out[:0]
	return nil
}
