package archive

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"hash/crc64"
	"io"

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
	// Progress is called after each object with the count done and the total.
	Progress func(done, total int)
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
// every segment. The first fault found is returned as an ErrIntegrity error
// naming the object.
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
	hashData := o.ReadData || o.Keyless
	for i, r := range recs {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if err := a.checkObject(ctx, r, hashData); err != nil {
			return rep, err
		}
		rep.Bytes += r.Size
		if o.Progress != nil {
			o.Progress(i+1, len(recs))
		}
	}
	if o.Keyless {
		return rep, nil
	}
	return rep, a.verifyContent(ctx, o.ReadData)
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
	crc := crc64.New(crcTable)
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
// segment.
func (a *Archive) verifyContent(ctx context.Context, readData bool) error {
	heads, err := a.conversationsAt(ctx, a.Head())
	if err != nil {
		return err
	}
	for conv, ref := range heads {
		chain, err := a.manifestChain(ctx, conv, ref)
		if err != nil {
			return err
		}
		key, _ := a.convKey(conv)
		r := &convReader{a: a, conv: conv, key: key}
		for _, m := range chain {
			for _, run := range []*Ref{m.IndexRun, m.Superseded} {
				if run != nil {
					if err := a.eachIndexRecord(ctx, conv, key, *run, func(indexRecord) error { return nil }); err != nil {
						return err
					}
				}
			}
			if !readData {
				continue
			}
			for _, b := range m.Blobs {
				rc, err := a.OpenBlob(ctx, conv, b.Content.String())
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil {
					return err
				}
			}
			for _, s := range m.Segments {
				plain, err := r.decodeSegment(ctx, &restoreSeg{segmentRef: s, commit: m.Commit})
				if err != nil {
					return err
				}
				putBuf(plain)
			}
		}
	}
	return nil
}
