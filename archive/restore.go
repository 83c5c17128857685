package archive

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/crypto/seal"
)

// maxSegmentPlain bounds the plaintext of one segment that readers accept.
const maxSegmentPlain = 256 << 20

// RestoreOptions select what Restore writes.
type RestoreOptions struct {
	Version       uint64 // 0: the newest
	Conversations []ID   // nil: all
	Jobs          int    // segments decrypted in parallel; 0: GOMAXPROCS
}

// LineWriter receives one conversation's messages, one canonical JSON line
// (without its newline) per call, in restore order.
type LineWriter interface {
	WriteLine(line []byte) error
	Close() error
}

// Restore writes every selected conversation at the given version, one after
// the other, each to the LineWriter that out returns for it. Lines come back
// byte for byte as they were exported, latest revision of each message only,
// ordered by time, then export run, then input position.
//
// Segments whose time ranges do not overlap are decrypted in parallel and
// written in order; overlapping ones (a later export of older messages) are
// merged as streams.
func (a *Archive) Restore(ctx context.Context, o RestoreOptions, out func(ConversationInfo) (LineWriter, error)) error {
	if o.Version == 0 {
		o.Version = a.Head()
	}
	if o.Jobs <= 0 {
		o.Jobs = runtime.GOMAXPROCS(0)
	}
	convs, err := a.Conversations(ctx, o.Version)
	if err != nil {
		return err
	}
	heads, err := a.conversationsAt(ctx, o.Version)
	if err != nil {
		return err
	}
	if o.Conversations != nil {
		want := map[ID]bool{}
		for _, id := range o.Conversations {
			if _, ok := heads[id]; !ok {
				return fmt.Errorf("%w: conversation %s at version %d", ErrNotFound, id.Short(), o.Version)
			}
			want[id] = true
		}
		convs = slices.DeleteFunc(convs, func(c ConversationInfo) bool { return !want[c.ID] })
	}
	for _, c := range convs {
		w, err := out(c)
		if err != nil {
			return err
		}
		err = a.restoreConversation(ctx, c.ID, heads[c.ID], o.Jobs, w)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// restoreSeg is one segment with its place in the conversation's history.
type restoreSeg struct {
	segmentRef
	commit uint64
	order  int
}

func (s *restoreSeg) before(t *restoreSeg) bool {
	if !s.First.Equal(t.First) {
		return s.First.Before(t.First)
	}
	if s.commit != t.commit {
		return s.commit < t.commit
	}
	return s.order < t.order
}

type supKey struct {
	idh    [16]byte
	rev    [8]byte
	commit uint32
}

type convReader struct {
	a      *Archive
	conv   ID
	key    []byte
	idMAC  hash.Hash
	supers map[supKey]bool
	w      LineWriter
}

func (a *Archive) restoreConversation(ctx context.Context, conv ID, ref Ref, jobs int, w LineWriter) error {
	chain, err := a.manifestChain(ctx, conv, ref)
	if err != nil {
		return err
	}
	key, _ := a.convKey(conv)
	r := &convReader{a: a, conv: conv, key: key, w: w, supers: map[supKey]bool{}, idMAC: hmac.New(sha256.New, messageIDKey(key, conv))}
	var segs []*restoreSeg
	for _, m := range chain {
		for i, s := range m.Segments {
			segs = append(segs, &restoreSeg{segmentRef: s, commit: m.Commit, order: i})
		}
		if m.Superseded != nil {
			recs, err := a.readIndexRun(ctx, conv, key, *m.Superseded)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				r.supers[supKey{rec.IDHash, rec.Rev, rec.Commit}] = true
			}
		}
	}
	slices.SortFunc(segs, func(x, y *restoreSeg) int {
		if x.before(y) {
			return -1
		}
		return 1
	})
	// Group segments into clusters of overlapping time ranges.
	var clusters [][]*restoreSeg
	for _, s := range segs {
		n := len(clusters)
		if n > 0 {
			last := clusters[n-1]
			end := last[0].Last
			for _, t := range last {
				if t.Last.After(end) {
					end = t.Last
				}
			}
			if !s.First.After(end) {
				clusters[n-1] = append(last, s)
				continue
			}
		}
		clusters = append(clusters, []*restoreSeg{s})
	}
	return r.run(ctx, clusters, jobs)
}

// run writes the clusters in order: single segments are decoded ahead in
// parallel (at most jobs at a time), clusters of several are merged.
func (r *convReader) run(ctx context.Context, clusters [][]*restoreSeg, jobs int) error {
	type result struct {
		plain []byte
		err   error
	}
	pending := make([]chan result, len(clusters))
	sem := make(chan struct{}, jobs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := 0
	startAhead := func(upTo int) {
		for ; next < len(clusters) && next <= upTo; next++ {
			if len(clusters[next]) != 1 {
				continue
			}
			ch := make(chan result, 1)
			pending[next] = ch
			seg := clusters[next][0]
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				ch <- result{err: ctx.Err()}
				continue
			}
			go func() {
				defer func() { <-sem }()
				p, err := r.decodeSegment(ctx, seg)
				ch <- result{p, err}
			}()
		}
	}
	for i, cl := range clusters {
		startAhead(i + jobs)
		if len(cl) > 1 {
			if err := r.merge(ctx, cl); err != nil {
				return err
			}
			continue
		}
		res := <-pending[i]
		if res.err != nil {
			return res.err
		}
		err := r.writePlain(res.plain, cl[0].commit)
		putBuf(res.plain)
		if err != nil {
			return err
		}
	}
	return nil
}

// writePlain writes one decoded segment's lines.
func (r *convReader) writePlain(plain []byte, commit uint64) error {
	for len(plain) > 0 {
		i := bytes.IndexByte(plain, '\n')
		line := plain[:i]
		plain = plain[i+1:]
		if skip, err := r.superseded(line, commit); err != nil {
			return err
		} else if skip {
			continue
		}
		if err := r.w.WriteLine(line); err != nil {
			return err
		}
	}
	return nil
}

// superseded reports whether a line is an older revision of a message that a
// later line replaced.
func (r *convReader) superseded(line []byte, commit uint64) (bool, error) {
	if len(r.supers) == 0 {
		return false, nil
	}
	m, err := canon.ParseLine(line)
	if err != nil {
		return false, fmt.Errorf("%w: conversation %s holds a malformed line: %v", ErrIntegrity, r.conv.Short(), err)
	}
	var k supKey
	r.idMAC.Reset()
	io.WriteString(r.idMAC, m.ID)
	copy(k.idh[:], r.idMAC.Sum(nil))
	sum := sha256.Sum256(line)
	copy(k.rev[:], sum[:])
	k.commit = uint32(commit)
	return r.supers[k], nil
}

var decoders = make(chan *zstd.Decoder, 64)

func getDecoder() (*zstd.Decoder, error) {
	select {
	case d := <-decoders:
		return d, nil
	default:
		return zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxSegmentPlain), zstd.WithDecoderMaxWindow(8<<20))
	}
}

func putDecoder(d *zstd.Decoder) {
	select {
	case decoders <- d:
	default:
		d.Close()
	}
}

// Segment-sized buffers are reused: restore and verify go through many
// segments of the same size, and fresh allocations of that size cost more in
// zeroing and garbage collection than the decryption itself.
var bufPool sync.Pool

func getBuf(n int64) []byte {
	if p, ok := bufPool.Get().(*[]byte); ok && int64(cap(*p)) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, n)
}

func putBuf(b []byte) {
	if cap(b) > 0 && cap(b) <= 2*maxSegmentPlain {
		bufPool.Put(&b)
	}
}

// decodeSegment reads, authenticates, decrypts and decompresses a whole
// segment, and checks it against its manifest entry. The caller passes the
// result to putBuf when done with it.
func (r *convReader) decodeSegment(ctx context.Context, s *restoreSeg) ([]byte, error) {
	name := r.a.paths.object(areaObjects, s.ID)
	if s.Plain < 0 || s.Plain > maxSegmentPlain || s.Size < 0 || s.Size > 2*maxSegmentPlain {
		return nil, integrityError(name, "segment of %d plaintext bytes is over the limit", s.Plain)
	}
	raw, err := r.a.readObject(ctx, name, s.Ref, getBuf(s.Size))
	if err != nil {
		putBuf(raw)
		return nil, err
	}
	body, err := seal.AppendOpen(getBuf(s.Size), r.key, seal.Expect{Kind: seal.KindSegment, ArchiveID: r.a.id[:], ConversationID: r.conv[:], ObjectID: s.ID[:], Epoch: r.a.epochOfObject()}, raw)
	putBuf(raw)
	if err != nil {
		putBuf(body)
		return nil, integrityError(name, "%v", err)
	}
	if len(body) == 0 {
		return nil, integrityError(name, "empty segment")
	}
	var plain []byte
	switch body[0] {
	case codecNone:
		plain = append(getBuf(s.Plain), body[1:]...)
	case codecZstd:
		d, err := getDecoder()
		if err != nil {
			return nil, err
		}
		plain, err = d.DecodeAll(body[1:], getBuf(s.Plain))
		putDecoder(d)
		if err != nil {
			putBuf(body)
			return nil, integrityError(name, "zstd: %v", err)
		}
	default:
		putBuf(body)
		return nil, integrityError(name, "unknown codec %d", body[0])
	}
	putBuf(body)
	if int64(len(plain)) != s.Plain {
		return nil, integrityError(name, "%d plaintext bytes, the manifest says %d", len(plain), s.Plain)
	}
	if n := bytes.Count(plain, []byte{'\n'}); n != s.Messages || (len(plain) > 0 && plain[len(plain)-1] != '\n') {
		return nil, integrityError(name, "%d messages, the manifest says %d", n, s.Messages)
	}
	return plain, nil
}

// segStream reads one segment's lines, for merging.
type segStream struct {
	seg   *restoreSeg
	plain []byte // what is left of the segment
	line  []byte
	sec   int64 // time of line
	nsec  int
	pos   int // place of the segment in (commit, order) order
}

// openStream decodes a segment whole (it is authenticated and checked against
// its manifest entry first) and reads it line by line. A merge thus holds every
// segment of its cluster in memory: clusters are rare (an export of messages
// older than ones already stored) and segments are bounded by maxSegmentPlain.
func (r *convReader) openStream(ctx context.Context, s *restoreSeg, pos int) (*segStream, error) {
	plain, err := r.decodeSegment(ctx, s)
	if err != nil {
		return nil, err
	}
	return &segStream{seg: s, plain: plain, pos: pos}, nil
}

func (s *segStream) advance() (bool, error) {
	if len(s.plain) == 0 {
		return false, nil // the segment's buffer stays with the garbage collector: merges are rare
	}
	i := bytes.IndexByte(s.plain, '\n') // decodeSegment checked the final newline
	s.line, s.plain = s.plain[:i], s.plain[i+1:]
	m, err := canon.ParseLine(s.line)
	if err != nil {
		return false, fmt.Errorf("%w: a stored line does not parse: %v", ErrIntegrity, err)
	}
	s.sec, s.nsec = m.Time.Unix(), m.Time.Nanosecond()
	return true, nil
}

type streamHeap []*segStream

func (h streamHeap) Len() int { return len(h) }
func (h streamHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	if a.nsec != b.nsec {
		return a.nsec < b.nsec
	}
	return a.pos < b.pos
}
func (h streamHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *streamHeap) Push(x any)   { *h = append(*h, x.(*segStream)) }
func (h *streamHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// merge writes a cluster of overlapping segments in (time, commit, order) order.
func (r *convReader) merge(ctx context.Context, cl []*restoreSeg) error {
	slices.SortFunc(cl, func(x, y *restoreSeg) int {
		if x.commit != y.commit {
			return cmpInt(int64(x.commit), int64(y.commit))
		}
		return x.order - y.order
	})
	h := &streamHeap{}
	for i, s := range cl {
		st, err := r.openStream(ctx, s, i)
		if err != nil {
			return err
		}
		ok, err := st.advance()
		if err != nil {
			return err
		}
		if ok {
			*h = append(*h, st)
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		st := (*h)[0]
		if skip, err := r.superseded(st.line, st.seg.commit); err != nil {
			return err
		} else if !skip {
			if err := r.w.WriteLine(st.line); err != nil {
				return err
			}
		}
		ok, err := st.advance()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}
