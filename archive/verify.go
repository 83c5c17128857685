package archive

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/chatvault/chatvault/crypto/seal"
)

// VerifyOptions choose how deep Verify looks.
type VerifyOptions struct {
	// ReadData downloads every object and checks its SHA-256; with the key it
	// also decrypts and authenticates every frame of every segment.
	ReadData bool
	// Keyless checks completeness and integrity with no secret at all: the
	// signed chain and integrity lists, and every object's size and SHA-256.
	Keyless bool
	// Progress is called after each object with the count done and the total
	// (from several goroutines, one call at a time).
	Progress func(done, total int)
	// Jobs is how many objects are checked, and segments decoded, in
	// parallel; 0: GOMAXPROCS.
	Jobs int
}

// VerifyReport counts what Verify checked.
type VerifyReport struct {
	Commits int
	Objects int
	Bytes   int64
}

// Verify checks the archive: the signed commit chain (already checked by
// Open), the signed integrity lists, the wrappers, and that every object a
// commit made current exists with the recorded size and checksum. Without
// Keyless it also decrypts the key table and every manifest; with ReadData,
// every segment. Objects are checked and segments decoded o.Jobs at a time;
// the first fault found (not necessarily the first in any fixed order) stops
// the rest and is returned as an ErrIntegrity error naming the object.
func (a *Archive) Verify(ctx context.Context, o VerifyOptions) (VerifyReport, error) {
	if !o.Keyless {
		if err := a.needKey(); err != nil {
			return VerifyReport{}, err
		}
	}
	recs, err := a.integrityRecords(ctx)
	if err != nil {
		return VerifyReport{}, err
	}
	if _, err := a.Wrappers(ctx); err != nil {
		return VerifyReport{}, err
	}
	rep := VerifyReport{Commits: len(a.commits), Objects: len(recs)}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	hashData := o.ReadData || o.Keyless
	if err := a.checkObjects(ctx, recs, hashData, jobs, o.Progress, &rep.Bytes); err != nil {
		return rep, err
	}
	if o.Keyless {
		return rep, nil
	}
	return rep, a.verifyContent(ctx, o.ReadData, jobs)
}

// checkObjects runs checkObject over recs, jobs at a time, adding the size of
// each object checked to *bytes and calling progress (if not nil) after each.
// The first fault stops the rest.
func (a *Archive) checkObjects(ctx context.Context, recs []integrityRecord, hashData bool, jobs int, progress func(done, total int), bytes *int64) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	var mu sync.Mutex
	done := 0
	for _, r := range recs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := a.checkObject(gctx, r, hashData); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			done++
			*bytes += r.Size
			if progress != nil {
				progress(done, len(recs))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// integrityRecords reads every commit's signed integrity list, checks that
// they form a chain and that each commit's references are among them, and
// returns the records of every object current at the head (tombstoned ones
// left out).
func (a *Archive) integrityRecords(ctx context.Context) ([]integrityRecord, error) {
	type key struct {
		area area
		id   ID
	}
	current := map[key]integrityRecord{}
	var order []key
	var prev Digest
	for _, c := range a.commits {
		ref := c.body.IntegrityList
		name := a.paths.object(areaObjects, ref.ID)
		parent, recs, err := a.readIntegrityList(ctx, ref, c.signPub)
		if err != nil {
			return nil, err
		}
		if parent != prev {
			return nil, integrityError(name, "does not follow the integrity list of commit %d", c.body.N-1)
		}
		prev = ref.SHA256
		for _, r := range recs {
			k := key{r.Area, r.ID}
			if _, dup := current[k]; !dup {
				order = append(order, k)
			}
			current[k] = r
		}
		for _, t := range c.body.Tombstones {
			delete(current, key{t.area(), t.ID})
		}
		must := map[key]Ref{
			{areaObjects, c.body.Descriptor.ID}:      c.body.Descriptor,
			{areaKeys, c.body.WrapperSet.ID}:         c.body.WrapperSet,
			{areaKeys, c.body.KeyTable.ID}:           c.body.KeyTable,
			{areaObjects, c.body.VersionManifest.ID}: c.body.VersionManifest,
		}
		for k, ref := range must {
			r, ok := current[k]
			if !ok || r.Size != ref.Size || r.SHA256 != ref.SHA256 {
				return nil, integrityError(a.paths.commit(c.body.N), "names %s, which no integrity list records as current", a.paths.object(k.area, k.id))
			}
		}
	}
	out := make([]integrityRecord, 0, len(current))
	for _, k := range order {
		if r, ok := current[k]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// readIntegrityList reads and checks one signed integrity list (signer nil:
// read without checking the signature).
func (a *Archive) readIntegrityList(ctx context.Context, ref Ref, signer ed25519.PublicKey) (parent Digest, recs []integrityRecord, err error) {
	name := a.paths.object(areaObjects, ref.ID)
	b, err := a.readRef(ctx, name, ref, maxListObject)
	if err != nil {
		return parent, nil, err
	}
	want := seal.Expect{Kind: seal.KindIntegrityList, ArchiveID: a.id[:], ObjectID: ref.ID[:]}
	var body []byte
	if signer == nil {
		// Unverified, for keeping objects only (prune of set-aside commits).
		hl, err := splitPlain(name, b, want)
		if err != nil || len(b) < hl+ed25519.SignatureSize {
			return parent, nil, integrityError(name, "not an integrity list")
		}
		body = b[hl : len(b)-ed25519.SignatureSize]
	} else if body, err = decodeSigned(name, b, want, signer); err != nil {
		return parent, nil, err
	}
	parent, recs, err = decodeIntegrityList(body)
	if err != nil {
		return parent, nil, integrityError(name, "%v", err)
	}
	return parent, recs, nil
}

// checkObject checks one object's existence and size, and its CRC-64/NVME or,
// with hashData, its SHA-256 as well. A store that keeps a full-object
// SHA-256 it checked on upload (S3) is asked for it instead of downloading.
func (a *Archive) checkObject(ctx context.Context, r integrityRecord, hashData bool) error {
	name := a.paths.object(r.Area, r.ID)
	info, err := a.st.Stat(ctx, name)
	if err != nil {
		return missingOr(name, err)
	}
	if info.Size != r.Size {
		return integrityError(name, "size %d, expected %d", info.Size, r.Size)
	}
	if !hashData && info.SHA256 != nil {
		// The store checked this SHA-256 when the object was written and
		// keeps it: compare without downloading.
		if Digest(info.SHA256) != r.SHA256 {
			return integrityError(name, "the store's SHA-256 differs from the recorded one")
		}
		return nil
	}
	rc, err := a.st.Open(ctx, name)
	if err != nil {
		return missingOr(name, err)
	}
	defer rc.Close()
	crc := newCRC()
	var sha = sha256.New()
	var w io.Writer = crc
	if hashData {
		w = io.MultiWriter(crc, sha)
	}
	n, err := io.Copy(w, rc)
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	if n != r.Size {
		return integrityError(name, "read %d bytes, expected %d", n, r.Size)
	}
	if crc.Sum64() != r.CRC64 {
		return integrityError(name, "CRC-64/NVME mismatch")
	}
	if hashData && Digest(sha.Sum(nil)) != r.SHA256 {
		return integrityError(name, "SHA-256 mismatch")
	}
	return nil
}

// verifyContent decrypts what only the key can check: every version manifest,
// every conversation's manifests and index runs, and with readData every
// blob and segment. Manifests are read here, one conversation after the
// other; index runs, blobs and segments are checked by up to jobs goroutines,
// each holding at most one decoded segment. The first fault stops the rest.
func (a *Archive) verifyContent(ctx context.Context, readData bool, jobs int) error {
	heads, err := a.conversationsAt(ctx, a.Head())
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	walk := func() error {
		for conv, ref := range heads {
			chain, err := a.manifestChain(gctx, conv, ref)
			if err != nil {
				return err
			}
			key, _ := a.convKey(conv)
			r := &convReader{a: a, conv: conv, key: key}
			for _, m := range chain {
				for _, run := range []*Ref{m.IndexRun, m.Superseded} {
					if run != nil {
						g.Go(func() error {
							return a.eachIndexRecord(gctx, conv, key, *run, func(indexRecord) error { return nil })
						})
					}
				}
				if !readData {
					continue
				}
				for _, b := range m.Blobs {
					g.Go(func() error {
						rc, err := a.OpenBlob(gctx, conv, b.Content.String())
						if err != nil {
							return err
						}
						defer rc.Close()
						_, err = io.Copy(io.Discard, rc)
						return err
					})
				}
				for _, s := range m.Segments {
					g.Go(func() error {
						plain, err := r.decodeSegment(gctx, &restoreSeg{segmentRef: s, commit: m.Commit})
						if err != nil {
							return err
						}
						putBuf(plain)
						return nil
					})
				}
				if err := gctx.Err(); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err = walk()
	if werr := g.Wait(); werr != nil {
		return werr // the fault a task found, rather than the cancellation it caused
	}
	return err
}
