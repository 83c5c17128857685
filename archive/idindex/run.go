package idindex

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
)

const (
	recSize             = 16 + 8 + 4 + 1 // key, rev, commit (big-endian), changed
	defaultRecsPerBlock = 4096 / recSize // 141 records, 4089 bytes of plaintext
	filePattern         = "chatvault-idx-*"
)

// run is one sorted, encrypted run file and what is kept of it in memory.
type run struct {
	id     uint64   // unique in the Set; part of every block's additional data
	f      *os.File // open for the run's life (on Unix already unlinked)
	name   string
	gone   bool // the file is already removed from its directory
	n      int  // records
	size   int64
	fences []Key    // first key of each block
	nonces []uint64 // nonce counter of each block
	filter filter
}

func (r *run) memBytes() int64 {
	return int64(cap(r.fences))*16 + int64(cap(r.nonces))*8 + r.filter.memBytes()
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
	binary.BigEndian.PutUint64(nonce[4:], r.nonces[blk]) // nonce[:4] stays zero
	binary.BigEndian.PutUint64(ad[:8], r.id)
	binary.BigEndian.PutUint64(ad[8:], uint64(blk))
	return nonce, ad
}

// blockSpan returns where block blk of r starts in its file and how many
// bytes of ciphertext it has.
func (s *Set) blockSpan(r *run, blk int) (off int64, size int) {
	full := s.recs*recSize + s.aead.Overhead()
	recs := min(s.recs, r.n-blk*s.recs)
	return int64(blk) * int64(full), recs*recSize + s.aead.Overhead()
}

func (s *Set) newBlockBufs() (ct, pt []byte) {
	return make([]byte, 0, s.recs*recSize+s.aead.Overhead()), make([]byte, 0, s.recs*recSize)
}

// readBlock reads and opens block blk of r, using ct and pt as buffers, and
// returns its plaintext.
func (s *Set) readBlock(r *run, blk int, ct, pt []byte, params *[28]byte) ([]byte, error) {
	off, size := s.blockSpan(r, blk)
	ct = ct[:size]
	if _, err := r.f.ReadAt(ct, off); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: %s: block %d cut short: %w", ErrDamaged, r.name, blk, io.ErrUnexpectedEOF)
		}
		return nil, fileErr("reading", r.name, err)
	}
	nonce, ad := blockParams(params, r, blk)
	pt, err := s.aead.Open(pt[:0], nonce, ct, ad)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: block %d fails authentication", ErrDamaged, r.name, blk)
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

// lookup finds k in run r.
func (s *Set) lookup(r *run, k *Key) (Value, bool, error) {
	if len(r.fences) == 0 || cmpKey(k, &r.fences[0]) < 0 || !r.filter.test(k) {
		return Value{}, false, nil
	}
	// The last block whose first key is ≤ k.
	blk := sort.Search(len(r.fences), func(i int) bool { return cmpKey(&r.fences[i], k) > 0 }) - 1
	if s.gct == nil {
		s.gct, s.gpt = s.newBlockBufs()
	}
	pt, err := s.readBlock(r, blk, s.gct, s.gpt, &s.getParams)
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

// createRun makes a new, empty run file.
func (s *Set) createRun() (*run, error) {
	f, err := os.CreateTemp(s.dir, filePattern) // mode 0600
	if err != nil {
		return nil, fmt.Errorf("creating temporary index file in %s: %w", s.dir, err)
	}
	s.lastID++
	r := &run{id: s.lastID, f: f, name: f.Name()}
	if s.unlink {
		// Keep only the open file: a crash leaves nothing behind. Should the
		// removal fail, removeRun tries again.
		r.gone = os.Remove(r.name) == nil
	}
	return r, nil
}

// removeRun closes r's file and removes it (unless it was unlinked when it
// was created).
func (s *Set) removeRun(r *run) error {
	s.st.Runs--
	s.st.DiskBytes -= r.size
	s.st.RunMemBytes -= r.memBytes()
	return r.discard()
}

func (r *run) discard() error {
	err := r.f.Close()
	if err != nil {
		err = fileErr("closing", r.name, err)
	}
	if !r.gone {
		if e := os.Remove(r.name); e != nil && err == nil {
			err = fileErr("removing", r.name, e)
		}
		r.gone = true
	}
	return err
}

// runWriter writes a run, block by block, from records added in key order.
type runWriter struct {
	s      *Set
	r      *run
	pt, ct []byte
	params [28]byte
}

// writeRun writes a run of at most n records, which fill adds in key order. On
// error nothing is left of the new run.
func (s *Set) writeRun(n int, fill func(*runWriter) error) (*run, error) {
	r, err := s.createRun()
	if err != nil {
		return nil, err
	}
	blocks := (n + s.recs - 1) / s.recs
	r.fences, r.nonces = make([]Key, 0, blocks), make([]uint64, 0, blocks)
	r.filter = newFilter(n)
	w := &runWriter{s: s, r: r}
	w.ct, w.pt = s.newBlockBufs()
	err = fill(w)
	if err == nil {
		err = w.flush()
	}
	if err != nil {
		r.discard()
		return nil, err
	}
	s.st.Runs++
	s.st.DiskBytes += r.size
	s.st.RunMemBytes += r.memBytes()
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
		return w.flush()
	}
	return nil
}

// flush seals the block being filled under the Set's next nonce counter and
// writes it.
func (w *runWriter) flush() error {
	if len(w.pt) == 0 {
		return nil
	}
	s, r := w.s, w.r
	blk := len(r.nonces)
	r.nonces = append(r.nonces, s.nonce)
	s.nonce++
	nonce, ad := blockParams(&w.params, r, blk)
	w.ct = s.aead.Seal(w.ct[:0], nonce, w.pt, ad)
	if n, err := s.write(r.f, w.ct); err != nil || n != len(w.ct) {
		if err == nil {
			err = io.ErrShortWrite
		}
		return fileErr("writing", r.name, err)
	}
	r.size += int64(len(w.ct))
	w.pt = w.pt[:0]
	return nil
}
