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
// merged as streams. Decoding runs ahead of the writing across conversation
// boundaries, bounded to o.Jobs+1 decoded segments (see restorePipeline).
//
// The ConversationInfo passed to out has Blobs set.
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
	p := startRestore(ctx, a, convs, heads, o.Jobs)
	err = p.write(out)
	p.stop()
	return err
}

// restorePipeline decodes segments ahead of the writer, across conversation
// boundaries, so that the many small conversations of an archive do not
// leave the workers idle while one is being written. Three kinds of
// goroutine share it:
//
//   - produce walks the conversations in restore order, reads each one's
//     manifest chain and superseded revisions (prepareConversation), and
//     sends to steps the start of the conversation and then each cluster of
//     its segments. A single segment is also queued on tasks for a worker;
//     before that, produce takes a slot, which the writer gives back once it
//     has written the segment. Decoded segments not yet written (including
//     those being decoded) thus never exceed the slots: jobs+1, one being
//     written and jobs decoded ahead.
//   - jobs workers decode the queued segments (decodeSegment), each handing
//     its result to its step's done channel.
//   - write, on the caller's goroutine, takes the steps in order: it opens
//     each conversation's LineWriter, writes each decoded segment, and merges
//     each cluster of overlapping segments itself, decoding them there (such
//     clusters are rare: an export of messages older than stored ones). Lines
//     therefore come out exactly in the order of a sequential restore.
//
// A conversation that cannot be prepared is a step carrying the error, so the
// error is reported when the writer gets there, after the conversations
// before it were written, as in a sequential restore.
type restorePipeline struct {
	ctx    context.Context
	cancel context.CancelFunc
	slots  chan struct{}     // one per single segment queued and not yet written
	tasks  chan *restoreStep // single segments to decode, in order
	steps  chan *restoreStep // every step, in restore order
	wg     sync.WaitGroup    // produce and the workers
	all    bool              // produce sent every step (read once steps is closed)
}

// restoreStep is one step of a restore: the start of a conversation, or one
// cluster of its segments.
type restoreStep struct {
	r       *convReader
	start   bool             // a conversation starts: info is set, cluster nil
	info    ConversationInfo // with Blobs
	err     error            // preparing the conversation failed (start only)
	cluster []*restoreSeg    // one segment decoded by a worker, or several to merge
	done    chan decoded     // the single segment's plaintext, once decoded
}

type decoded struct {
	plain []byte
	err   error
}

// startRestore starts the goroutines that prepare and decode convs.
func startRestore(ctx context.Context, a *Archive, convs []ConversationInfo, heads map[ID]Ref, jobs int) *restorePipeline {
	ctx, cancel := context.WithCancel(ctx)
	p := &restorePipeline{ctx: ctx, cancel: cancel,
		slots: make(chan struct{}, jobs+1),
		tasks: make(chan *restoreStep, jobs+1),
		steps: make(chan *restoreStep, 4*(jobs+1))}
	p.wg.Add(1 + jobs)
	go p.produce(a, convs, heads)
	for range jobs {
		go p.work()
	}
	return p
}

// produce sends the steps of every conversation in order, then closes steps
// and tasks. It stops at the first conversation it cannot prepare, and when
// the restore is stopped.
func (p *restorePipeline) produce(a *Archive, convs []ConversationInfo, heads map[ID]Ref) {
	defer p.wg.Done()
	defer close(p.steps)
	defer close(p.tasks)
	for _, c := range convs {
		r, clusters, err := a.prepareConversation(p.ctx, c.ID, heads[c.ID])
		if r != nil {
			c.Blobs = r.blobs
		}
		if !p.send(&restoreStep{r: r, start: true, info: c, err: err}) || err != nil {
			return
		}
		for _, cl := range clusters {
			st := &restoreStep{r: r, cluster: cl}
			if len(cl) == 1 {
				select {
				case p.slots <- struct{}{}:
				case <-p.ctx.Done():
					return
				}
				st.done = make(chan decoded, 1)
				p.tasks <- st // never blocks: tasks has room for every slot
			}
			if !p.send(st) {
				return
			}
		}
	}
	p.all = true
}

func (p *restorePipeline) send(st *restoreStep) bool {
	select {
	case p.steps <- st:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// work decodes queued segments until produce closes tasks. Once the restore
// is stopped it hands on the context's error instead of decoding.
func (p *restorePipeline) work() {
	defer p.wg.Done()
	for st := range p.tasks {
		var d decoded
		if d.err = p.ctx.Err(); d.err == nil {
			d.plain, d.err = st.r.decodeSegment(p.ctx, st.cluster[0])
		}
		st.done <- d
	}
}

// write takes the steps in order and writes every conversation, calling out
// for each and closing what out returned.
func (p *restorePipeline) write(out func(ConversationInfo) (LineWriter, error)) error {
	var w LineWriter // the conversation being written
	finish := func(err error) error {
		if w != nil {
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			w = nil
		}
		return err
	}
	for st := range p.steps {
		if st.start {
			if err := finish(nil); err != nil {
				return err
			}
			var err error
			if w, err = out(st.info); err != nil {
				w = nil
				return err
			}
			if st.err != nil {
				return finish(st.err)
			}
			st.r.w = w
			continue
		}
		if err := p.writeCluster(st); err != nil {
			return finish(err)
		}
	}
	if !p.all { // produce was stopped: the restore was cancelled
		return finish(p.ctx.Err())
	}
	return finish(nil)
}

// writeCluster writes one step's cluster: a decoded segment, or the merge of
// overlapping ones.
func (p *restorePipeline) writeCluster(st *restoreStep) error {
	if st.done == nil {
		return st.r.merge(p.ctx, st.cluster)
	}
	var d decoded
	select {
	case d = <-st.done:
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
	<-p.slots
	if d.err != nil {
		return d.err
	}
	err := st.r.writePlain(d.plain, st.cluster[0].commit)
	putBuf(d.plain)
	return err
}

// stop ends the restore: it cancels what is still running, waits for the
// goroutines to finish and returns the buffers of segments decoded but not
// written to the pool.
func (p *restorePipeline) stop() {
	p.cancel()
	for st := range p.steps {
		if st.done != nil {
			if d := <-st.done; d.err == nil {
				putBuf(d.plain)
			}
		}
	}
	p.wg.Wait()
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
	blobs  int // attachment blobs listed by the conversation's manifests
	w      LineWriter
}

// prepareConversation reads a conversation's manifest chain and superseded
// revisions and returns its segments in restore order, grouped into clusters
// of overlapping time ranges.
func (a *Archive) prepareConversation(ctx context.Context, conv ID, ref Ref) (*convReader, [][]*restoreSeg, error) {
	chain, err := a.manifestChain(ctx, conv, ref)
	if err != nil {
		return nil, nil, err
	}
	key, _ := a.convKey(conv)
	r := &convReader{a: a, conv: conv, key: key, supers: map[supKey]bool{}, idMAC: hmac.New(sha256.New, messageIDKey(key, conv))}
	var segs []*restoreSeg
	for _, m := range chain {
		r.blobs += len(m.Blobs)
		for i, s := range m.Segments {
			segs = append(segs, &restoreSeg{segmentRef: s, commit: m.Commit, order: i})
		}
		if m.Superseded != nil {
			recs, err := a.readIndexRun(ctx, conv, key, *m.Superseded)
			if err != nil {
				return nil, nil, err
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
	return r, clusters, nil
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
