package archive

import "context"

// Export holds at most MaxBuffered bytes of plaintext for conversations whose
// segments are not full yet. When hundreds of conversations arrive
// interleaved, that buffer fills long before any one of them reaches
// SegmentSize, and writing the largest batch out as a segment of its own
// made segments of a few hundred KiB: thousands of objects per GiB, each a
// file to create (or a request to send) and an entry in the manifests.
//
// Instead, the largest batch is compressed ahead into a zstd frame, held in
// memory (an eighth of its size, for chat text) until its segment is
// complete: the segment body is then the frames one after the other, which is
// one zstd stream (RFC 8878 §3.1; FORMAT.md §4.9). A frame only joins a
// segment when its first line sorts after the segment's last one, so the
// segment stays sorted. The compressed frames count against MaxPending; past
// it, the conversation holding the most is written out.
//
// The accounting is exact and does not depend on which worker finishes first
// (export's output does not depend on Jobs): a frame counts its plaintext
// size until the deciding stage has "settled" it (waited for its compression
// and counted its compressed size instead), which it does in dispatch order, at
// most settleLag frames behind the newest, and for every frame of a segment
// before handing the segment to a worker.

// frame is one batch compressed ahead of its segment.
type frame struct {
	c    *convState
	done chan struct{} // closed by the worker once data and span are set

	data []byte     // one zstd frame
	span segmentRef // its lines' count, plaintext size and times (no Ref)

	cost    int64 // bytes counted against MaxPending
	settled bool
}

// settleLag is how many frames may be in flight unsettled (counted at their
// plaintext size): enough that the deciding stage rarely waits for a worker.
const settleLag = 4

// instant is a message time as batches sort it.
type instant struct {
	sec  int64
	nsec int32
}

func (a instant) before(b instant) bool {
	return a.sec < b.sec || a.sec == b.sec && a.nsec < b.nsec
}

// compressAhead hands c's batch to a worker to be compressed into a frame of
// c's next segment.
func (e *exporter) compressAhead(ctx context.Context, c *convState) error {
	if len(c.frames) > 0 && c.batch.first.before(c.framesLast) {
		// The batch holds lines older than the frames: they cannot follow.
		if err := e.dispatchFrames(ctx, c); err != nil {
			return err
		}
	}
	b := c.batch
	f := &frame{c: c, done: make(chan struct{}), cost: int64(b.size)}
	c.frames, c.framesLast, c.framesCost = append(c.frames, f), b.last, c.framesCost+f.cost
	c.framesPlain += int64(b.size)
	e.pendingCost += f.cost
	e.buffered -= int64(b.size)
	c.batch = nil
	if err := e.send(ctx, segJob{c: c, b: b, frame: f}); err != nil {
		return err
	}
	e.unsettled = append(e.unsettled, f)
	for len(e.unsettled) > settleLag {
		if err := e.settle(ctx, e.unsettled[0]); err != nil {
			return err
		}
		e.unsettled[0] = nil // its data goes with its segment
		e.unsettled = e.unsettled[1:]
	}
	for e.pendingCost > e.o.MaxPending {
		var most *convState
		for _, o := range e.order {
			if most == nil || o.framesCost > most.framesCost {
				most = o
			}
		}
		if err := e.dispatch(ctx, most); err != nil {
			return err
		}
	}
	return nil
}

// settle waits until f is compressed and counts its compressed size.
func (e *exporter) settle(ctx context.Context, f *frame) error {
	if f.settled {
		return nil
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	n := int64(len(f.data))
	e.pendingCost += n - f.cost
	f.c.framesCost += n - f.cost
	f.cost, f.settled = n, true
	return nil
}

// takeFrames settles c's frames and removes them from c and from the count.
func (e *exporter) takeFrames(ctx context.Context, c *convState) ([]*frame, error) {
	fs := c.frames
	for _, f := range fs {
		if err := e.settle(ctx, f); err != nil {
			return nil, err
		}
		e.pendingCost -= f.cost
	}
	c.frames, c.framesCost, c.framesPlain = nil, 0, 0
	return fs, nil
}
