package idindex

// cursor walks the entries of a run, one decrypted block at a time, or of a
// sorted slice of in-memory entries (r == nil). It reads a run's blocks
// readAhead at a time where their positions in the file follow each other.
type cursor struct {
	s      *Set
	r      *run
	ents   []slot
	blk    int    // next block to open
	raw    []byte // ciphertext read ahead, from block blk on
	buf    []byte // raw's array
	pt     []byte
	params [28]byte
	i      int // next record of pt, or next entry of ents

	ok bool // k and v hold the current entry
	k  Key
	v  Value
}

const readAhead = 64

func (s *Set) runCursor(r *run) *cursor {
	return &cursor{s: s, r: r, pt: make([]byte, 0, s.recs*recSize)}
}

// next moves to the next entry; c.ok is false at the end.
func (c *cursor) next() error {
	c.ok = false
	if c.r == nil {
		if c.i < len(c.ents) {
			c.k, c.v, c.ok = c.ents[c.i].k, c.ents[c.i].value(), true
			c.i++
		}
		return nil
	}
	if c.i*recSize >= len(c.pt) {
		if c.blk >= len(c.r.at) {
			return nil
		}
		ct, err := c.ciphertext()
		if err != nil {
			return err
		}
		pt, err := c.s.openBlock(c.r, c.blk, ct, c.pt, &c.params)
		if err != nil {
			return err
		}
		c.pt, c.blk, c.i = pt, c.blk+1, 0
	}
	c.k, c.v = decodeRecord(c.pt[c.i*recSize:])
	c.i++
	c.ok = true
	return nil
}

// ciphertext returns block c.blk's ciphertext, first reading it with the
// blocks after it whose positions follow (up to readAhead) if need be.
func (c *cursor) ciphertext() ([]byte, error) {
	s, r := c.s, c.r
	if len(c.raw) == 0 {
		n := 1
		for n < readAhead && c.blk+n < len(r.at) && r.at[c.blk+n] == r.at[c.blk]+uint32(n) {
			n++
		}
		raw, err := s.readBlocks(r, c.blk, n, c.buf)
		if err != nil {
			return nil, err
		}
		c.raw, c.buf = raw, raw
	}
	_, size := s.blockSpan(r, c.blk)
	ct := c.raw[:size]
	c.raw = c.raw[min(s.blockBytes(), len(c.raw)):]
	return ct, nil
}

// merge calls emit for every key of the cursors, in ascending order, once,
// with the value of the first cursor that has it: cs is ordered newest first.
// With the few cursors of an index (logarithmic), a linear scan beats a heap.
func merge(cs []*cursor, emit func(Key, Value) error) error {
	for _, c := range cs {
		if err := c.next(); err != nil {
			return err
		}
	}
	for {
		var best *cursor
		for _, c := range cs {
			if c.ok && (best == nil || cmpKey(&c.k, &best.k) < 0) {
				best = c // strict <: among equal keys the newest stays
			}
		}
		if best == nil {
			return nil
		}
		k, v := best.k, best.v
		for _, c := range cs {
			if c.ok && c.k == k {
				if err := c.next(); err != nil {
					return err
				}
			}
		}
		if err := emit(k, v); err != nil {
			return err
		}
	}
}

// compact merges the two newest runs while the newest has at least half the
// entries of the one before it, which keeps the number of runs logarithmic.
// On error the index keeps its runs as they were.
func (x *Index) compact() error {
	s := x.s
	for len(x.runs) >= 2 {
		newer, older := x.runs[len(x.runs)-1], x.runs[len(x.runs)-2]
		if 2*newer.n < older.n {
			return nil
		}
		m, err := s.writeRun(newer.n+older.n, func(w *runWriter) error {
			return merge([]*cursor{s.runCursor(newer), s.runCursor(older)}, w.add)
		})
		if err != nil {
			return err
		}
		x.runs = append(x.runs[:len(x.runs)-2], m)
		s.st.Merges++
		s.removeRun(newer)
		s.removeRun(older)
	}
	return nil
}

// Changed calls fn for every key whose latest value has Changed set, in
// ascending key order (bytes.Compare), each key once, with its latest value.
// It streams a merge of the sorted in-memory entries and of every run (newest
// wins), holding one block per run: memory does not grow with the number of
// keys on disk. It stops at fn's first error and returns it. fn may call Get
// and Changed; Put fails meanwhile, and fn must not Release the index nor
// Close the Set. Changed calls on distinct indexes of a Set may run in
// parallel (export writes its index runs so) as long as nothing else uses
// the Set meanwhile.
func (x *Index) Changed(fn func(Key, Value) error) error {
	if err := x.usable(); err != nil {
		return err
	}
	s := x.s
	s.busy.Add(1)
	defer s.busy.Add(-1)
	cs := []*cursor{{ents: x.mem.sortedCopy()}}
	for i := len(x.runs) - 1; i >= 0; i-- {
		cs = append(cs, s.runCursor(x.runs[i]))
	}
	return merge(cs, func(k Key, v Value) error {
		if !v.Changed {
			return nil
		}
		return fn(k, v)
	})
}
