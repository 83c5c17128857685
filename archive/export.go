package archive

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"runtime"
	"slices"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/archive/idindex"
	"github.com/chatvault/chatvault/crypto/seal"
)

// Source yields canonical messages; io.EOF ends it. A *canon.Reader is one;
// importers of other export formats are others. Message.Line need only be
// valid until the next call to Next.
type Source interface {
	Next() (canon.Message, error)
}

// Compression selects the zstd level of new segments.
type Compression int

const (
	CompressFastest Compression = iota
	CompressDefault
	CompressBetter
	CompressOff
)

// ParseCompression maps fastest|default|better|off to a Compression.
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "fastest", "":
		return CompressFastest, nil
	case "default":
		return CompressDefault, nil
	case "better":
		return CompressBetter, nil
	case "off":
		return CompressOff, nil
	}
	return 0, fmt.Errorf("unknown compression %q (want fastest, default, better or off)", s)
}

// Segment bodies start with a codec byte.
const (
	codecNone byte = 0
	codecZstd byte = 1
)

// zstdWindow bounds the memory a reader needs per open segment.
const zstdWindow = 1 << 20

// newSegmentEncoder returns a zstd encoder for segment bodies at level c
// (not CompressOff), for EncodeAll on one goroutine. Fastest uses a 256 KiB
// window: on chat JSONL it compresses ≈7 % faster than with 1 MiB for ≈0.7 %
// more bytes (klauspost/compress shifts a history of twice the window down
// every window of input); at the other levels the window costs 0.3–2 % of
// ratio, and they keep zstdWindow.
func newSegmentEncoder(c Compression) (*zstd.Encoder, error) {
	level, window := zstd.SpeedFastest, 256<<10
	switch c {
	case CompressDefault:
		level, window = zstd.SpeedDefault, zstdWindow
	case CompressBetter:
		level, window = zstd.SpeedBetterCompression, zstdWindow
	}
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(window), zstd.WithEncoderCRC(false))
}

// DefaultSegmentSize is the target plaintext size of a segment, and
// MaxSegmentSize the largest target accepted (readers refuse segments over
// maxSegmentPlain: a target plus one maximal line stays below it).
const (
	DefaultSegmentSize = 8 << 20
	MaxSegmentSize     = 64 << 20
)

// ExportOptions tune an export. The zero value is a good default.
type ExportOptions struct {
	SegmentSize int         // target plaintext bytes per segment; 0: DefaultSegmentSize
	Compression Compression // zstd level of new segments
	Jobs        int         // segments compressed and encrypted in parallel; 0: GOMAXPROCS
	// MaxBuffered bounds the plaintext held for conversations whose segments
	// are not full yet; past it the largest batch is compressed ahead
	// (frames.go), or written as a segment of its own with CompressOff.
	// 0: 4 segments.
	MaxBuffered int64
	// MaxPending bounds the compressed bytes held for segments not complete
	// yet; past it the conversation holding the most is written out early.
	// 0: 3 segments.
	MaxPending int64
	// TempDir holds the encrypted temporary files of the message-id index
	// once it outgrows IndexEntries; "": os.TempDir().
	TempDir string
	// IndexEntries bounds the message ids held in memory (about 100 bytes
	// each); 0: idindex.DefaultMaxEntries.
	IndexEntries int
}

// ExportResult says what an export did. Commit is 0 when there was nothing new.
type ExportResult struct {
	Commit           uint64
	Added            int64 // messages with ids new to the archive
	Updated          int64 // new revisions of messages already in the archive
	Unchanged        int64 // messages the archive already held exactly
	Conversations    int   // conversations that received messages
	NewConversations int
	Segments         int
	StoredBytes      int64 // bytes of new segments
}

// Export reads every message from src and commits those the archive does not
// hold yet as a new version (kind export). It is all or nothing: any error,
// including a malformed message and a cancelled ctx, leaves the archive as it
// was (objects already written are unreferenced and removed later by prune).
//
// Messages are grouped by conversation into segments of about SegmentSize
// bytes, each sorted by (time, input position), compressed and encrypted in
// parallel; the result is the same whatever Jobs is. A message is new when its
// id is not in the conversation's index, and an update when its id is there
// with another revision (SHA-256 of the line). Within one run the last
// occurrence of an id wins.
func (a *Archive) Export(ctx context.Context, src Source, o ExportOptions) (ExportResult, error) {
	if err := a.needKey(); err != nil {
		return ExportResult{}, err
	}
	if err := a.checkWritable(); err != nil {
		return ExportResult{}, err
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.SegmentSize > MaxSegmentSize {
		return ExportResult{}, fmt.Errorf("segment size %d is over the limit of %d", o.SegmentSize, MaxSegmentSize)
	}
	if o.Jobs <= 0 {
		o.Jobs = runtime.GOMAXPROCS(0)
	}
	if o.MaxBuffered <= 0 {
		o.MaxBuffered = 4 * int64(o.SegmentSize)
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 3 * int64(o.SegmentSize)
	}
	heads, err := a.conversationsAt(ctx, a.Head())
	if err != nil {
		return ExportResult{}, err
	}
	l, err := a.takeLease(ctx)
	if err != nil {
		return ExportResult{}, err
	}
	defer l.release()
	ids, err := idindex.NewSet(idindex.Options{Dir: o.TempDir, MaxEntries: o.IndexEntries})
	if err != nil {
		return ExportResult{}, err
	}
	defer ids.Close()

	e := &exporter{a: a, o: o, n: uint32(a.Head() + 1), b: a.newBuilder(), heads: heads, ids: ids, chunks: newChunkCache(), freeEnts: make(chan []entry, 8),
		bySource: map[string]*convState{}, known: map[[32]byte]ID{},
		srcMAC: hmac.New(sha256.New, sourceHashKey(a.key, a.id))}
	for id, k := range a.keyTable {
		e.known[k.SourceHash] = id
	}
	g, gctx := errgroup.WithContext(ctx)
	e.jobs = make(chan segJob) // unbuffered: a batch waits in the reader, not in a queue
	for range o.Jobs {
		g.Go(func() error { return e.worker(gctx) })
	}
	readErr := e.read(gctx, src)
	close(e.jobs)
	if err := g.Wait(); err != nil {
		return ExportResult{}, err
	}
	if readErr != nil {
		return ExportResult{}, readErr
	}
	if err := ctx.Err(); err != nil {
		return ExportResult{}, err
	}
	return e.finish(ctx)
}

type exporter struct {
	a        *Archive
	o        ExportOptions
	n        uint32 // the commit being made
	b        *builder
	heads    map[ID]Ref // latest manifest per conversation at head
	ids      *idindex.Set
	bySource map[string]*convState // by source key: its keyed hash is needed only the first time
	known    map[[32]byte]ID       // source hash → conversation, from the key table
	order    []*convState          // conversations in order of first message
	srcMAC   hash.Hash
	buffered int64 // plaintext bytes in batches
	seq      int64

	touched     byte     // keeps the loads of idindex.Index.Touch
	pendingCost int64    // bytes of frames counted against MaxPending
	unsettled   []*frame // frames counted at their plaintext size, oldest first

	jobs     chan segJob
	chunks   chunkCache
	freeEnts chan []entry // entry lists of written batches, for reuse
	res      ExportResult
}

type revKey struct {
	idh [16]byte
	rev [8]byte
}

// convState is one conversation during an export.
type convState struct {
	id         ID
	key        []byte
	sourceHash [32]byte
	sourceKey  string
	isNew      bool
	prevRef    *Ref
	prev       *convManifest
	idMAC      hash.Hash

	// latest holds every id's latest revision, this run included (Changed
	// set for those this run set); memory-bounded, spilled encrypted to disk.
	latest   *idindex.Index
	changed  int            // ids whose latest revision this run set
	replaced map[revKey]int // revisions written this run and then superseded → index in superseded
	supers   []indexRecord  // revisions this run superseded; a zero IDHash marks one taken back

	blobs    map[Digest]bool // attachments the conversation holds
	newBlobs []blobRef       // attachments this run stored

	batch *batch
	// frames hold the compressed start of the next segment (frames.go).
	frames      []*frame
	framesLast  instant // time of their last line
	framesCost  int64   // their bytes counted against MaxPending
	framesPlain int64   // their line bytes
	segments    []*segmentRef
	added       int64
	label       string
}

// batch is the buffered plaintext of one conversation's next segment, kept
// in pooled chunks so that it grows without copying and costs memory in
// proportion to what it holds.
type batch struct {
	cache       chunkCache
	chunks      [][]byte
	size        int
	ents        []entry
	first, last instant // the earliest and latest time of its lines
}

// entry is one line of a batch: where it is and how it sorts.
type entry struct {
	sec   int64
	nsec  int32
	chunk int32
	off   int32
	len   int32
	seq   int64
}

// chunkSize is the unit in which batches and read-ahead arenas grow. Every
// conversation with buffered lines holds one partly filled chunk, so with
// hundreds of conversations interleaved the chunks' unused tails count: with
// 256 KiB chunks, 200 open conversations held ≈ 50 MiB more than their lines.
const chunkSize = 64 << 10

// chunkCache keeps an export's released chunks for reuse. Unlike a
// sync.Pool, which the garbage collector empties at every cycle (and export's
// heap runs close to the CLI's memory limit, so cycles are frequent), it keeps
// them: the ≈1 GiB of lines per GiB of input that pass through batches then
// cost no new memory. Beyond its capacity (32 MiB of chunks) released chunks
// are dropped.
type chunkCache chan []byte

func newChunkCache() chunkCache { return make(chunkCache, 32<<20/chunkSize) }

func (cc chunkCache) get() []byte {
	select {
	case c := <-cc:
		return c[:0]
	default:
		return make([]byte, 0, chunkSize)
	}
}

func (cc chunkCache) put(c []byte) {
	select {
	case cc <- c:
	default:
	}
}

// add copies a line into the batch.
func (b *batch) add(line []byte) (chunk, off int32) {
	n := len(b.chunks)
	if n == 0 || len(b.chunks[n-1])+len(line) > cap(b.chunks[n-1]) {
		var c []byte
		if len(line) > chunkSize {
			c = make([]byte, 0, len(line)) // a long line gets a chunk of its own
		} else {
			c = b.cache.get()
		}
		b.chunks = append(b.chunks, c)
		n++
	}
	c := b.chunks[n-1]
	off = int32(len(c))
	b.chunks[n-1] = append(c, line...)
	b.size += len(line)
	return int32(n - 1), off
}

func (b *batch) line(e entry) []byte { return b.chunks[e.chunk][e.off : e.off+e.len] }

// release returns the chunks for reuse.
func (b *batch) release() {
	for _, c := range b.chunks {
		if cap(c) == chunkSize {
			b.cache.put(c)
		}
	}
	b.chunks = nil
}

// segJob is a worker's task: compress b into frame (when frame is set), or
// write a segment of frames and then b (either may be empty) into slot.
type segJob struct {
	c      *convState
	b      *batch
	frame  *frame
	frames []*frame
	slot   *segmentRef
}

// incoming is one message read ahead: its line copied into a batch arena and
// its revision computed.
type incoming struct {
	m     canon.Message
	rev   [8]byte
	blobs []canon.Blob

	// set by the deciding stage
	c      *convState
	idh    [16]byte
	probed idindex.Probed // the id looked up in the runs of c's index
}

// readAhead is what the reading stage hands to the deciding stage.
type readAhead struct {
	msgs  []incoming
	arena batch // holds the lines of msgs; released once they are buffered
	err   error // the source's error (io.EOF at the end), after msgs
}

const readAheadBatch = 512

// readMessages runs in its own goroutine: it reads src (which parses, for JSON
// Lines), copies each line out of the source's buffer and hashes it, so that
// parsing and hashing overlap with deciding and buffering. It reuses the
// batches the deciding stage hands back through free.
func readMessages(ctx context.Context, src Source, cache chunkCache, free <-chan *readAhead, out chan<- *readAhead) {
	defer close(out)
	bl, _ := src.(canon.BlobLister)
	for {
		var ra *readAhead
		select {
		case ra = <-free:
		default:
			ra = &readAhead{msgs: make([]incoming, 0, readAheadBatch), arena: batch{cache: cache}}
		}
		for len(ra.msgs) < readAheadBatch {
			m, err := src.Next()
			if err != nil {
				ra.err = err
				break
			}
			in := incoming{m: m}
			chunk, off := ra.arena.add(m.Line)
			in.m.Line = ra.arena.chunks[chunk][off : int(off)+len(m.Line)]
			sum := sha256.Sum256(in.m.Line)
			copy(in.rev[:], sum[:])
			if bl != nil {
				in.blobs = bl.Blobs()
			}
			ra.msgs = append(ra.msgs, in)
		}
		select {
		case out <- ra:
		case <-ctx.Done():
			return
		}
		if ra.err != nil {
			return
		}
	}
}

// read decides for each message whether it is new and buffers it; full
// batches go to the workers.
func (e *exporter) read(ctx context.Context, src Source) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ahead, free := make(chan *readAhead, 4), make(chan *readAhead, 6)
	go readMessages(ctx, src, e.chunks, free, ahead)
	probes := newProber()
	defer probes.close()
	var sum [sha256.Size]byte
	for ra := range ahead {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// First every message's conversation and id hash; then the index
		// slots of all those ids are touched in one go, so that their cache
		// misses overlap (with hundreds of conversations interleaved they
		// are the largest cost of a lookup) instead of coming one by one in
		// decide.
		for i := range ra.msgs {
			in := &ra.msgs[i]
			c, err := e.conversation(ctx, in.m.Conversation)
			if err != nil {
				return err
			}
			if in.m.ConversationName != "" {
				c.label = in.m.ConversationName
			}
			in.c = c
			c.idMAC.Reset()
			io.WriteString(c.idMAC, in.m.ID)
			copy(in.idh[:], c.idMAC.Sum(sum[:0]))
		}
		for i := range ra.msgs {
			e.touched ^= ra.msgs[i].c.latest.Touch(&ra.msgs[i].idh)
		}
		if err := probes.batch(ra.msgs); err != nil {
			return err
		}
		for i := range ra.msgs {
			in := &ra.msgs[i]
			c := in.c
			e.seq++
			write, err := c.decide(revKey{idh: in.idh, rev: in.rev}, in.probed, e.n, &e.res)
			if err != nil {
				return err
			}
			if !write {
				continue
			}
			for _, b := range in.blobs {
				if err := e.storeBlob(ctx, c, b); err != nil {
					return err
				}
			}
			if err := e.buffer(ctx, c, in.m); err != nil {
				return err
			}
		}
		ra.arena.release()
		if ra.err == io.EOF {
			break
		}
		if ra.err != nil {
			return ra.err
		}
		ra.msgs = ra.msgs[:0]
		select {
		case free <- ra:
		default:
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, c := range e.order {
		if err := e.dispatch(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// prober looks the ids of a read-ahead batch up in the runs of their
// conversations' indexes before they are decided, splitting the batch between
// the deciding goroutine and one of its own while many ids are found there:
// over an archive that holds them already, that is a block read per message,
// most of the deciding stage's work otherwise. (Ids not on disk mostly cost a
// Bloom filter test, less than handing half a batch to another goroutine.)
type prober struct {
	b     idindex.ProbeBuffer
	half  chan []incoming // to the second goroutine
	done  chan error
	found int // ids of the last batch found on disk
}

// parallelProbes is the number of ids of a batch found on disk from which
// the next batch's lookups are split (a variable for the tests: 0 splits
// every batch).
var parallelProbes = 128

func newProber() *prober {
	p := &prober{half: make(chan []incoming), done: make(chan error)}
	go func() {
		var b idindex.ProbeBuffer
		for msgs := range p.half {
			p.done <- probe(msgs, &b)
		}
	}()
	return p
}

func (p *prober) close() { close(p.half) }

// batch probes msgs, setting their probed fields.
func (p *prober) batch(msgs []incoming) error {
	var err error
	if p.found < parallelProbes {
		err = probe(msgs, &p.b)
	} else {
		half := len(msgs) / 2
		p.half <- msgs[half:]
		err = probe(msgs[:half], &p.b)
		if err2 := <-p.done; err == nil {
			err = err2
		}
	}
	p.found = 0
	for i := range msgs {
		if msgs[i].probed.Found() {
			p.found++
		}
	}
	return err
}

// probe looks the ids of msgs up in the runs of their conversations' indexes.
func probe(msgs []incoming, b *idindex.ProbeBuffer) error {
	for i := range msgs {
		in := &msgs[i]
		var err error
		if in.probed, err = in.c.latest.Probe(&in.idh, b); err != nil {
			return err
		}
	}
	return nil
}

// decide applies the revision rules to one message, whose id was probed (p),
// and reports whether its line must be written.
func (c *convState) decide(k revKey, p idindex.Probed, n uint32, res *ExportResult) (bool, error) {
	cur, seen, err := c.latest.GetProbed(k.idh, p)
	switch {
	case err != nil:
		return false, err
	case seen && cur.Rev == k.rev:
		res.Unchanged++
		return false, nil
	case !seen:
		c.added++
		res.Added++
	default:
		if i, ok := c.replaced[k]; ok {
			// A revision this run superseded comes back (A, B, A): take back
			// its supersession instead of storing the same line twice.
			back := c.supers[i]
			c.supers[i].IDHash = [16]byte{}
			delete(c.replaced, k)
			c.supersede(k.idh, cur)
			return false, c.setLatest(k.idh, cur, idindex.Value{Rev: k.rev, Commit: back.Commit})
		}
		res.Updated++
		c.supersede(k.idh, cur)
	}
	return true, c.setLatest(k.idh, cur, idindex.Value{Rev: k.rev, Commit: n})
}

func (c *convState) setLatest(idh [16]byte, old, v idindex.Value) error {
	if !old.Changed {
		c.changed++
	}
	v.Changed = true
	return c.latest.Put(idh, v)
}

func (c *convState) supersede(idh [16]byte, old idindex.Value) {
	c.supers = append(c.supers, indexRecord{IDHash: idh, Rev: old.Rev, Commit: old.Commit})
	c.replaced[revKey{idh, old.Rev}] = len(c.supers) - 1
}

func (e *exporter) buffer(ctx context.Context, c *convState, m canon.Message) error {
	if c.batch == nil {
		c.batch = &batch{cache: e.chunks}
		select {
		case c.batch.ents = <-e.freeEnts:
		default:
		}
	}
	b := c.batch
	chunk, off := b.add(m.Line)
	t := instant{m.Time.Unix(), int32(m.Time.Nanosecond())}
	if len(b.ents) == 0 || t.before(b.first) {
		b.first = t
	}
	if len(b.ents) == 0 || b.last.before(t) {
		b.last = t
	}
	b.ents = append(b.ents, entry{sec: t.sec, nsec: t.nsec, seq: e.seq, chunk: chunk, off: off, len: int32(len(m.Line))})
	e.buffered += int64(len(m.Line))
	if int64(b.size)+c.framesPlain >= int64(e.o.SegmentSize) {
		return e.dispatch(ctx, c)
	}
	if e.buffered > e.o.MaxBuffered {
		// Too many conversations interleave: move the largest batch out of
		// the buffer.
		largest := c
		for _, o := range e.order {
			if o.batch != nil && (largest.batch == nil || o.batch.size > largest.batch.size) {
				largest = o
			}
		}
		if e.o.Compression == CompressOff {
			return e.dispatch(ctx, largest)
		}
		return e.compressAhead(ctx, largest)
	}
	return nil
}

// dispatch hands everything a conversation holds to the workers as a segment
// (two when its batch cannot follow its frames).
func (e *exporter) dispatch(ctx context.Context, c *convState) error {
	if len(c.frames) > 0 && c.batch != nil && c.batch.first.before(c.framesLast) {
		if err := e.dispatchFrames(ctx, c); err != nil {
			return err
		}
	}
	if len(c.frames) == 0 && c.batch == nil {
		return nil
	}
	frames, err := e.takeFrames(ctx, c)
	if err != nil {
		return err
	}
	b := c.batch
	if b != nil {
		e.buffered -= int64(b.size)
		c.batch = nil
	}
	return e.sendSegment(ctx, segJob{c: c, b: b, frames: frames})
}

// dispatchFrames hands a conversation's frames to the workers as a segment.
func (e *exporter) dispatchFrames(ctx context.Context, c *convState) error {
	frames, err := e.takeFrames(ctx, c)
	if err != nil {
		return err
	}
	return e.sendSegment(ctx, segJob{c: c, frames: frames})
}

// sendSegment reserves the segment's place in the conversation's list, so that
// the order does not depend on which worker is faster, and sends the job.
func (e *exporter) sendSegment(ctx context.Context, job segJob) error {
	job.slot = &segmentRef{}
	job.c.segments = append(job.c.segments, job.slot)
	return e.send(ctx, job)
}

func (e *exporter) send(ctx context.Context, job segJob) error {
	select {
	case e.jobs <- job:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// conversation finds or creates the state of the conversation with this source key.
func (e *exporter) conversation(ctx context.Context, source string) (*convState, error) {
	if c, ok := e.bySource[source]; ok {
		return c, nil
	}
	var h [32]byte
	e.srcMAC.Reset()
	io.WriteString(e.srcMAC, source)
	e.srcMAC.Sum(h[:0])
	c := &convState{sourceHash: h, sourceKey: source, latest: e.ids.New(), replaced: map[revKey]int{}, blobs: map[Digest]bool{}}
	if id, ok := e.known[h]; ok {
		c.id = id
		key := e.a.keyTable[id].Key
		c.key = key[:]
		if err := e.loadIndex(ctx, c); err != nil {
			return nil, err
		}
	} else {
		var err error
		if c.id, err = newID(e.a.opts.Rand); err != nil {
			return nil, err
		}
		if c.key, err = newKey(e.a.opts.Rand); err != nil {
			return nil, err
		}
		c.isNew = true
		e.res.NewConversations++
	}
	c.idMAC = hmac.New(sha256.New, messageIDKey(c.key, c.id))
	e.bySource[source] = c
	e.order = append(e.order, c)
	return c, nil
}

// loadIndex reads the conversation's manifests and index runs: the latest
// revision of every message id it holds.
func (e *exporter) loadIndex(ctx context.Context, c *convState) error {
	ref, ok := e.heads[c.id]
	if !ok {
		return fmt.Errorf("%w: conversation %s is in the key table but in no version", ErrIntegrity, c.id.Short())
	}
	chain, err := e.a.manifestChain(ctx, c.id, ref)
	if err != nil {
		return err
	}
	for _, m := range chain {
		for _, b := range m.Blobs {
			c.blobs[b.Content] = true
		}
		if m.IndexRun == nil {
			continue
		}
		err := e.a.eachIndexRecord(ctx, c.id, c.key, *m.IndexRun, func(r indexRecord) error {
			return c.latest.Put(r.IDHash, idindex.Value{Rev: r.Rev, Commit: r.Commit})
		})
		if err != nil {
			return err
		}
	}
	c.prevRef = &ref
	c.prev = chain[len(chain)-1]
	c.label = c.prev.Label
	return nil
}

// worker turns batches into stored segments: sort, compress, encrypt, write.
func (e *exporter) worker(ctx context.Context) error {
	var enc *zstd.Encoder
	if e.o.Compression != CompressOff {
		var err error
		enc, err = newSegmentEncoder(e.o.Compression)
		if err != nil {
			return err
		}
		defer enc.Close()
	}
	// plain, body and sealed are reused from one job to the next.
	var plain, body, sealed []byte
	codec := codecZstd
	if enc == nil {
		codec = codecNone
	}
	for job := range e.jobs {
		var seg segmentRef
		body = append(body[:0], codec)
		if job.frame != nil {
			body = body[:0] // a frame has no codec byte: it joins a segment's body
		}
		for _, f := range job.frames {
			body = append(body, f.data...)
			seg.extend(f.span)
		}
		if job.b != nil {
			var span segmentRef
			body, plain, span = e.encodeBatch(enc, job.b, body, plain)
			seg.extend(span)
		}
		if f := job.frame; f != nil {
			f.data, f.span = slices.Clone(body), seg
			close(f.done)
			continue
		}
		sealed = slices.Grow(sealed[:0], seal.SealedSize(len(body)))
		obj, err := e.a.appendSealObject(sealed, areaObjects, seal.KindSegment, &job.c.id, job.c.key, body)
		if err != nil {
			return err
		}
		sealed = obj.data // reused for the next segment once stored
		if err := e.b.put(ctx, obj); err != nil {
			return err
		}
		seg.Ref = obj.ref
		*job.slot = seg
	}
	return nil
}

// encodeBatch sorts b's lines by (time, input position), appends them to body
// compressed by enc (or as they are when enc is nil) and releases b. It
// returns body, plain (the buffer the lines were gathered in, for reuse) and
// the counts and times of b's lines.
func (e *exporter) encodeBatch(enc *zstd.Encoder, b *batch, body, plain []byte) ([]byte, []byte, segmentRef) {
	slices.SortStableFunc(b.ents, func(x, y entry) int {
		switch {
		case x.sec != y.sec:
			return cmpInt(x.sec, y.sec)
		case x.nsec != y.nsec:
			return cmpInt(int64(x.nsec), int64(y.nsec))
		}
		return cmpInt(x.seq, y.seq)
	})
	plain = slices.Grow(plain[:0], b.size+len(b.ents))
	for _, en := range b.ents {
		plain = append(plain, b.line(en)...)
		plain = append(plain, '\n')
	}
	b.release()
	if enc != nil {
		body = enc.EncodeAll(plain, body)
	} else {
		body = append(body, plain...)
	}
	first, last := b.ents[0], b.ents[len(b.ents)-1]
	span := segmentRef{Messages: len(b.ents), Plain: int64(len(plain)),
		First: time.Unix(first.sec, int64(first.nsec)).UTC(), Last: time.Unix(last.sec, int64(last.nsec)).UTC()}
	select {
	case e.freeEnts <- b.ents[:0]: // for the next batch
	default:
	}
	return body, plain, span
}

// extend counts the lines of s, which follow those of r, into r.
func (r *segmentRef) extend(s segmentRef) {
	if r.Messages == 0 {
		r.First = s.First
	}
	r.Last = s.Last
	r.Messages += s.Messages
	r.Plain += s.Plain
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// finish writes the index runs, manifests, key table and version manifest of
// every conversation the run changed, then the commit.
func (e *exporter) finish(ctx context.Context) (ExportResult, error) {
	a := e.a
	head := a.commits[len(a.commits)-1].body
	vm := &versionManifest{Commit: uint64(e.n), Time: a.opts.Now().UTC(), Label: a.versions[len(a.versions)-1].Label,
		Parent: &head.VersionManifest, Conversations: []convChange{}, Removed: []ID{}, Stores: []string{}}
	vm.MessagesTotal = a.versions[len(a.versions)-1].MessagesTotal
	// The conversations' index runs and manifests are independent: write
	// them Jobs at a time, and list them in order.
	refs := make([]Ref, len(e.order))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.o.Jobs)
	for i, c := range e.order {
		if c.changed > 0 {
			g.Go(func() (err error) {
				refs[i], err = e.writeConversation(gctx, c)
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return ExportResult{}, err
	}
	newKeys := false
	for i, c := range e.order {
		if c.changed == 0 {
			continue
		}
		vm.Conversations = append(vm.Conversations, convChange{ID: c.id, Manifest: refs[i], Added: c.added})
		vm.MessagesAdded += c.added
		if c.isNew {
			newKeys = true
		}
		if len(c.segments) > 0 {
			e.res.Conversations++
		}
		for _, s := range c.segments {
			e.res.Segments++
			e.res.StoredBytes += s.Size
		}
	}
	if len(vm.Conversations) == 0 {
		return e.res, nil // nothing new: no commit
	}
	vm.MessagesTotal += vm.MessagesAdded
	keyTable := head.KeyTable
	var entries []keyTableEntry
	if newKeys {
		entries = make([]keyTableEntry, 0, len(a.keyTable)+len(e.order))
		for _, k := range a.keyTable {
			entries = append(entries, k)
		}
		for _, c := range e.order {
			if c.isNew && c.changed > 0 {
				entries = append(entries, keyTableEntry{Conv: c.id, Key: [32]byte(c.key), SourceHash: c.sourceHash})
			}
		}
		var err error
		if keyTable, err = e.b.sealed(ctx, areaKeys, seal.KindKeyTable, nil, a.key, encodeKeyTable(entries)); err != nil {
			return ExportResult{}, err
		}
	}
	vmRef, err := e.b.sealedJSON(ctx, areaObjects, seal.KindVersionManifest, nil, a.key, vm)
	if err != nil {
		return ExportResult{}, err
	}
	err = e.b.commit(ctx, commitBody{Kind: KindExport, Epoch: head.Epoch, Descriptor: head.Descriptor, WrapperSet: head.WrapperSet, KeyTable: keyTable, VersionManifest: vmRef})
	if err != nil {
		return ExportResult{}, err
	}
	a.versions = append(a.versions, vm)
	for _, k := range entries {
		a.keyTable[k.Conv] = k
	}
	e.res.Commit = uint64(e.n)
	err = a.updatePin(func(p *Pin) { p.Messages = vm.MessagesTotal; p.Label = vm.Label })
	return e.res, err
}

// writeConversation writes one conversation's new index run, superseded run and
// manifest. It runs in parallel with those of other conversations.
func (e *exporter) writeConversation(ctx context.Context, c *convState) (Ref, error) {
	m := &convManifest{Commit: uint64(e.n), Parent: c.prevRef, SourceKey: c.sourceKey, Label: c.label,
		Participants: []string{}, Segments: []segmentRef{}, Blobs: append([]blobRef{}, c.newBlobs...)}
	if c.prev != nil {
		m.Messages, m.First, m.Last, m.IndexRunCount = c.prev.Messages, c.prev.First, c.prev.Last, c.prev.IndexRunCount
	}
	m.Messages += c.added
	for _, s := range c.segments {
		m.Segments = append(m.Segments, *s)
		if m.First.IsZero() || s.First.Before(m.First) {
			m.First = s.First
		}
		if s.Last.After(m.Last) {
			m.Last = s.Last
		}
	}
	ref, err := e.b.indexRun(ctx, &c.id, c.key, int64(c.changed), func(emit func(indexRecord) error) error {
		return c.latest.Changed(func(idh idindex.Key, v idindex.Value) error {
			return emit(indexRecord{IDHash: idh, Rev: v.Rev, Commit: v.Commit})
		})
	})
	if err != nil {
		return Ref{}, err
	}
	m.IndexRun = &ref
	m.IndexRunCount++
	var supers []indexRecord
	for _, s := range c.supers {
		if s.IDHash != ([16]byte{}) {
			supers = append(supers, s)
		}
	}
	if len(supers) > 0 {
		ref, err := e.b.sealed(ctx, areaObjects, seal.KindIndexRun, &c.id, c.key, encodeIndexRun(supers))
		if err != nil {
			return Ref{}, err
		}
		m.Superseded = &ref
	}
	return e.b.sealedJSON(ctx, areaObjects, seal.KindConversationManifest, &c.id, c.key, m)
}
