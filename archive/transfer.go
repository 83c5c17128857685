package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chatvault/chatvault/remote"
)

// TransferOptions tune Push and Pull.
type TransferOptions struct {
	Jobs     int                    // objects copied in parallel; 0: 8
	Progress func(TransferProgress) // called as objects complete; nil: none
}

// TransferProgress is what a progress display needs. Totals are known once
// the plan is made, before the first byte moves.
type TransferProgress struct {
	Objects, TotalObjects int
	Bytes, TotalBytes     int64
}

// TransferReport says what a push or pull did.
type TransferReport struct {
	Archive  ID
	From, To uint64   // the destination's head before and after
	Commits  int      // commits copied
	Objects  int      // objects copied (commits not counted)
	Bytes    int64    // bytes of those objects
	Skipped  int      // objects the destination already had
	Deleted  int      // tombstoned objects removed from the destination
	Ahead    uint64   // the destination's head when it has commits the source lacks (nothing copied)
	Rebased  []uint64 // pull: this device's commits rebased onto the remote head, by new number
	// NotRebased lists set-aside commits that could not be rebased (kept in
	// rebased/, with a warning): a re-key on the remote, or a kind that
	// cannot be rebased yet.
	NotRebased []uint64
}

// uploadAborter is implemented by stores that can leave multipart uploads
// behind when a writer is killed (S3). A transfer aborts them before it
// starts, so that a rerun after kill -9 leaves none.
type uploadAborter interface {
	AbortUploads(ctx context.Context, prefix string, abort func(name string, initiated time.Time) bool) (int, error)
}

// Push copies the archive's commits that dst lacks from src (this device's
// store) to dst: objects first, in parallel, each written create-exclusive and
// checked against its recorded size and SHA-256 as it streams; then the
// commits in order, so that a version appears in dst only once it is complete;
// then the deletions recorded by tombstones. It needs no secret.
//
// A rerun after an interruption sends only what is still missing. When dst
// holds another commit where src has one this device has not pushed, another
// device pushed first: ErrConflict ("pull first"). A dst that is merely ahead
// is reported in TransferReport.Ahead, not an error.
func Push(ctx context.Context, src, dst remote.Store, id ID, opts Options, t TransferOptions) (TransferReport, error) {
	a, err := Open(ctx, src, id, opts)
	if err != nil {
		return TransferReport{}, err
	}
	rep, err := a.copyTo(ctx, dst, t, true)
	if err != nil {
		return rep, err
	}
	if rep.Ahead != 0 {
		return rep, nil
	}
	head := a.Head()
	return rep, a.updatePin(func(p *Pin) {
		p.LocalOnly = slices.DeleteFunc(p.LocalOnly, func(n uint64) bool { return n <= head })
		if p.Stores == nil {
			p.Stores = map[string]uint64{}
		}
		p.Stores[dst.String()] = max(p.Stores[dst.String()], head)
	})
}

// copyTo copies every commit of a that dst lacks, with the objects they need.
// dst must hold a prefix of a's chain (or nothing); push says which error a
// divergence is: the remote moved on (ErrConflict) or this device's own store
// was forked (ErrIntegrity).
func (a *Archive) copyTo(ctx context.Context, dst remote.Store, t TransferOptions, push bool) (TransferReport, error) {
	rep := TransferReport{Archive: a.id}
	listing := map[string]int64{}
	err := dst.List(ctx, a.paths.root(), func(info remote.Info) error {
		listing[info.Name] = info.Size
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("listing %s: %w", dst, err)
	}
	dstHead := uint64(0)
	for listing[a.paths.commit(dstHead+1)] > 0 {
		dstHead++
	}
	rep.From, rep.To = dstHead, dstHead
	if err := a.compareHeads(ctx, dst, dstHead, push); err != nil {
		return rep, err
	}
	if dstHead > a.Head() {
		rep.Ahead = dstHead
		return rep, nil
	}

	plan, err := a.transferPlan(ctx, listing, &rep)
	if err != nil {
		return rep, err
	}
	if dstHead == a.Head() && len(plan.send) == 0 && len(plan.remove) == 0 {
		return rep, nil
	}
	if err := ensureMarker(ctx, dst); err != nil {
		return rep, err
	}
	d := &Archive{st: dst, id: a.id, paths: a.paths, opts: a.opts}
	l, err := d.takeLease(ctx)
	if err != nil {
		return rep, err
	}
	defer l.release()
	if ab, ok := dst.(uploadAborter); ok {
		// An upload is ours to abort when it is for an object this push
		// sends or that exists already (a killed run of this or another
		// device's push of the same archive left it), or when it is older
		// than any live writer.
		sending := make(map[string]bool, len(plan.send))
		for _, r := range plan.send {
			sending[a.paths.object(r.Area, r.ID)] = true
		}
		_, err := ab.AbortUploads(ctx, a.paths.root(), func(name string, initiated time.Time) bool {
			_, exists := listing[name]
			return sending[name] || exists || a.opts.Now().Sub(initiated) > leaseTTL
		})
		if err != nil {
			return rep, err
		}
	}
	if err := a.sendObjects(ctx, dst, plan, t, &rep); err != nil {
		return rep, err
	}
	if s, ok := dst.(remote.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return rep, err
		}
	}
	for n := dstHead + 1; n <= a.Head(); n++ {
		if err := a.sendCommit(ctx, dst, n, push); err != nil {
			return rep, err
		}
		rep.Commits++
		rep.To = n
	}
	if s, ok := dst.(remote.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return rep, err
		}
	}
	for _, name := range plan.remove {
		if err := dst.Delete(ctx, name); err != nil {
			return rep, fmt.Errorf("deleting tombstoned %s: %w", name, err)
		}
		rep.Deleted++
	}
	return rep, nil
}

// compareHeads checks that dst's commits up to dstHead are a's. Commits chain
// by parent hash, so comparing the newest commit both hold is enough; only on
// a difference are older ones read, to name the first that differs.
func (a *Archive) compareHeads(ctx context.Context, dst remote.Store, dstHead uint64, push bool) error {
	n := min(dstHead, a.Head())
	for ; n > 0; n-- {
		d, err := storedDigest(ctx, dst, a.paths.commit(n))
		if err != nil {
			return err
		}
		if d == a.commits[n-1].digest {
			break
		}
	}
	common := n
	if common == min(dstHead, a.Head()) {
		return nil
	}
	first := common + 1
	pin, err := a.opts.State.Load(a.id)
	if err != nil {
		return err
	}
	if push && pin != nil && slices.Contains(pin.LocalOnly, first) {
		return fmt.Errorf("%w: %s has a newer commit %d of archive %s than this device; pull first (it rebases this device's commits onto it), then push", ErrConflict, dst, first, a.id.Short())
	}
	return fmt.Errorf("%w: %s differs from commit %d in %s (a fork)", ErrIntegrity, a.paths.commit(first), first, a.st)
}

func storedDigest(ctx context.Context, st remote.Store, name string) (Digest, error) {
	b, err := readAll(ctx, st, name, maxCommitObject)
	if err != nil {
		return Digest{}, err
	}
	return sha256.Sum256(b), nil
}

// transferPlan is what a copy must do besides the commits.
type transferPlan struct {
	send   []integrityRecord // objects dst lacks
	remove []string          // tombstoned objects dst still has
	bytes  int64
}

// transferPlan compares the objects a's head needs with dst's listing. An
// object dst holds with another size is damage in dst: it is reported, never
// overwritten.
func (a *Archive) transferPlan(ctx context.Context, listing map[string]int64, rep *TransferReport) (transferPlan, error) {
	var plan transferPlan
	live, err := a.liveObjects(ctx)
	if err != nil {
		return plan, err
	}
	for _, r := range live {
		name := a.paths.object(r.Area, r.ID)
		size, ok := listing[name]
		switch {
		case !ok:
			plan.send = append(plan.send, r)
			plan.bytes += r.Size
		case size != r.Size:
			return plan, integrityError(name, "the destination holds %d bytes, the archive records %d; run verify there", size, r.Size)
		default:
			rep.Skipped++
		}
	}
	for _, c := range a.commits {
		for _, t := range c.body.Tombstones {
			name := a.paths.object(t.area(), t.ID)
			if _, ok := listing[name]; ok {
				plan.remove = append(plan.remove, name)
			}
		}
	}
	return plan, nil
}

// liveObjects lists every object the head needs: the integrity lists of all
// commits and every object they record as current.
func (a *Archive) liveObjects(ctx context.Context) ([]integrityRecord, error) {
	recs, err := a.integrityRecords(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range a.commits {
		l := c.body.IntegrityList
		recs = append(recs, integrityRecord{Area: areaObjects, ID: l.ID, Size: l.Size, SHA256: l.SHA256, CRC64: noCRC})
	}
	return recs, nil
}

// noCRC marks a record whose CRC-64 is not known (integrity lists do not
// record their own).
const noCRC = ^uint64(0)

// sendObjects copies the planned objects in parallel.
func (a *Archive) sendObjects(ctx context.Context, dst remote.Store, plan transferPlan, t TransferOptions, rep *TransferReport) error {
	jobs := t.Jobs
	if jobs <= 0 {
		jobs = 8
	}
	var (
		mu         sync.Mutex
		doneObjs   int
		doneBytes  atomic.Int64
		progressed = func() {
			if t.Progress != nil {
				mu.Lock()
				defer mu.Unlock()
				t.Progress(TransferProgress{Objects: doneObjs, TotalObjects: len(plan.send), Bytes: doneBytes.Load(), TotalBytes: plan.bytes})
			}
		}
	)
	progressed()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for _, r := range plan.send {
		g.Go(func() error {
			if err := a.copyObject(gctx, dst, r); err != nil {
				return err
			}
			doneBytes.Add(r.Size)
			mu.Lock()
			doneObjs++
			mu.Unlock()
			progressed()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	rep.Objects += len(plan.send)
	rep.Bytes += plan.bytes
	return nil
}

// copyObject streams one object from a's store to dst. The bytes are checked
// against the record while they stream, and a mismatch fails the write before
// it completes, so a damaged source object never lands in dst. An object that
// appeared in dst meanwhile (another device pushing the same commit) is fine
// if it has the recorded size.
func (a *Archive) copyObject(ctx context.Context, dst remote.Store, r integrityRecord) error {
	name := a.paths.object(r.Area, r.ID)
	rc, err := a.st.Open(ctx, name)
	if err != nil {
		return missingOr(name, err)
	}
	defer rc.Close()
	err = dst.Create(ctx, name, &checkedReader{r: rc, name: name, want: r, sha: sha256.New()}, r.Size)
	if errors.Is(err, remote.ErrExists) {
		info, serr := dst.Stat(ctx, name)
		if serr == nil && info.Size == r.Size {
			return nil
		}
		return integrityError(name, "appeared in %s with another size while it was being sent", dst)
	}
	if err != nil {
		var ie *integrityErr
		if errors.As(err, &ie) {
			return ie.err
		}
		return fmt.Errorf("sending %s to %s: %w", name, dst, err)
	}
	return nil
}

// sendCommit copies commit n. If dst already has commit n it must be the same
// one (a rerun, or another device that pushed the same chain).
func (a *Archive) sendCommit(ctx context.Context, dst remote.Store, n uint64, push bool) error {
	name := a.paths.commit(n)
	c := a.commits[n-1]
	b, err := readAll(ctx, a.st, name, maxCommitObject)
	if err != nil {
		return err
	}
	if sha256.Sum256(b) != c.digest {
		return integrityError(name, "changed in %s while it was being sent", a.st)
	}
	err = dst.Create(ctx, name, &checkedReader{r: bytes.NewReader(b), name: name, want: integrityRecord{Size: c.size, SHA256: c.digest, CRC64: noCRC}, sha: sha256.New()}, c.size)
	if !errors.Is(err, remote.ErrExists) {
		if err != nil {
			return fmt.Errorf("writing %s to %s: %w", name, dst, err)
		}
		return nil
	}
	d, err := storedDigest(ctx, dst, name)
	if err != nil {
		return err
	}
	if d == c.digest {
		return nil
	}
	if push {
		return fmt.Errorf("%w: another device wrote commit %d of archive %s to %s first; pull first, then push", ErrConflict, n, a.id.Short(), dst)
	}
	return fmt.Errorf("%w: %s was written by another writer during the pull; pull again", ErrConflict, name)
}

// checkedReader passes an object's bytes through and fails if they are not
// what the record says: the store then discards the write. The failure is
// sticky, because a store reading exactly size bytes (io.CopyN) drops an
// error that comes with the last of them; stores read on to EOF
// ([remote.Store.Create]) and get it again there.
type checkedReader struct {
	r    io.Reader
	name string
	want integrityRecord
	sha  hash.Hash
	n    int64
	err  error
}

// integrityErr carries an integrity failure through a store's Create, which
// wraps reader errors in its own words.
type integrityErr struct{ err error }

func (e *integrityErr) Error() string { return e.err.Error() }
func (e *integrityErr) Unwrap() error { return e.err }

func (c *checkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.sha.Write(p[:n])
	switch {
	case c.n > c.want.Size:
		c.err = &integrityErr{integrityError(c.name, "longer than the %d bytes recorded", c.want.Size)}
	case c.n == c.want.Size && Digest(c.sha.Sum(nil)) != c.want.SHA256:
		c.err = &integrityErr{integrityError(c.name, "SHA-256 mismatch (damaged in the source store)")}
	case err == io.EOF && c.n < c.want.Size:
		c.err = &integrityErr{integrityError(c.name, "%d bytes, the archive records %d", c.n, c.want.Size)}
	}
	if c.err != nil {
		return n, c.err
	}
	return n, err
}
