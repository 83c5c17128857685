package archive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/chatvault/chatvault/crypto/seal"
	"github.com/chatvault/chatvault/remote"
)

// builder collects the objects of one commit: each is written as soon as it
// is made (create-exclusive, under a fresh random id) and recorded for the
// commit's integrity list. Nothing is visible to readers until commit writes
// the numbered commit object.
type builder struct {
	a    *Archive
	mu   sync.Mutex
	recs []integrityRecord
}

func (a *Archive) newBuilder() *builder { return &builder{a: a} }

// put stores one object and records it.
func (b *builder) put(ctx context.Context, obj newObject) error {
	name := b.a.paths.object(obj.area, obj.ref.ID)
	if err := b.a.st.Create(ctx, name, bytes.NewReader(obj.data), obj.ref.Size); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	b.mu.Lock()
	b.recs = append(b.recs, integrityRecord{Area: obj.area, ID: obj.ref.ID, Size: obj.ref.Size, SHA256: obj.ref.SHA256, CRC64: obj.crc})
	b.mu.Unlock()
	return nil
}

// record notes an object written outside put (a streamed blob) for the
// integrity list, then runs done.
func (b *builder) record(ar area, ref Ref, crc uint64, done func()) error {
	b.mu.Lock()
	b.recs = append(b.recs, integrityRecord{Area: ar, ID: ref.ID, Size: ref.Size, SHA256: ref.SHA256, CRC64: crc})
	b.mu.Unlock()
	done()
	return nil
}

// hashed stores a plaintext object whose body is JSON, with a SHA-256 trailer.
func (b *builder) hashed(ctx context.Context, ar area, kind seal.Kind, v any) (Ref, error) {
	id, err := newID(b.a.opts.Rand)
	if err != nil {
		return Ref{}, err
	}
	return b.hashedAs(ctx, ar, kind, id, v)
}

func (b *builder) hashedAs(ctx context.Context, ar area, kind seal.Kind, id ID, v any) (Ref, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return Ref{}, err
	}
	data, err := encodeHashed(plainHeader(kind, b.a.id, nil, id[:]), body)
	if err != nil {
		return Ref{}, err
	}
	obj := makeObject(ar, id, data)
	return obj.ref, b.put(ctx, obj)
}

// sealed stores an object encrypted under parent (the archive key, or a
// conversation key with conv set).
func (b *builder) sealed(ctx context.Context, ar area, kind seal.Kind, conv *ID, parent []byte, plaintext []byte) (Ref, error) {
	obj, err := b.a.sealObject(ar, kind, conv, parent, plaintext)
	if err != nil {
		return Ref{}, err
	}
	return obj.ref, b.put(ctx, obj)
}

func (b *builder) sealedJSON(ctx context.Context, ar area, kind seal.Kind, conv *ID, parent []byte, v any) (Ref, error) {
	pt, err := json.Marshal(v)
	if err != nil {
		return Ref{}, err
	}
	return b.sealed(ctx, ar, kind, conv, parent, pt)
}

// sealObject encrypts plaintext into a new object with a random id.
func (a *Archive) sealObject(ar area, kind seal.Kind, conv *ID, parent []byte, plaintext []byte) (newObject, error) {
	return a.appendSealObject(nil, ar, kind, conv, parent, plaintext)
}

// appendSealObject is sealObject building the object in dst's storage.
func (a *Archive) appendSealObject(dst []byte, ar area, kind seal.Kind, conv *ID, parent []byte, plaintext []byte) (newObject, error) {
	id, err := newID(a.opts.Rand)
	if err != nil {
		return newObject{}, err
	}
	h := a.sealHeader(kind, conv, id)
	// Sized up front: growing by append frame by frame would copy the
	// object over and over (quadratic in its size).
	data, err := seal.AppendSeal(slices.Grow(dst[:0], seal.SealedSize(len(plaintext))), parent, h, plaintext, a.opts.Rand)
	if err != nil {
		return newObject{}, err
	}
	return makeObject(ar, id, data), nil
}

// sealHeader is the header of a new encrypted object. Objects under the
// archive key carry its epoch; those under a conversation key (conv set)
// carry the conversation key's.
func (a *Archive) sealHeader(kind seal.Kind, conv *ID, id ID) *seal.Header {
	h := &seal.Header{Suite: a.suite(), Kind: kind, ArchiveID: a.id[:], ObjectID: id[:], Epoch: a.epoch()}
	if conv != nil {
		h.ConversationID = conv[:]
		h.Epoch = a.epochOfObject()
	}
	return h
}

// errStopped ends the writer side of a pipe whose reader gave up.
var errStopped = errors.New("stopped")

// sealedStream stores a new object encrypted under parent whose plaintext,
// exactly size bytes, fill writes as it goes: the object is never whole in
// memory. fill runs in its own goroutine and has returned when sealedStream
// does.
func (b *builder) sealedStream(ctx context.Context, ar area, kind seal.Kind, conv *ID, parent []byte, size int64, fill func(io.Writer) error) (Ref, error) {
	a := b.a
	id, err := newID(a.opts.Rand)
	if err != nil {
		return Ref{}, err
	}
	h := a.sealHeader(kind, conv, id)
	enc, err := h.Marshal() // its length is the stored header's
	if err != nil {
		return Ref{}, err
	}
	pr, pw := io.Pipe()
	filled := make(chan error, 1)
	go func() {
		w, err := seal.NewWriter(pw, parent, h, a.opts.Rand)
		if err == nil {
			n := &countingWriter{}
			err = fill(io.MultiWriter(w, n))
			if err == nil && n.n != size {
				err = fmt.Errorf("%s: %d bytes of plaintext, expected %d", kind, n.n, size)
			}
			if err == nil {
				err = w.Close()
			}
		}
		pw.CloseWithError(err)
		filled <- err
	}()
	name := a.paths.object(ar, id)
	stored, crc := sha256.New(), newCRC()
	ref := Ref{ID: id, Size: sealedSize(len(enc), size)}
	err = a.st.Create(ctx, name, io.TeeReader(pr, io.MultiWriter(stored, crc)), ref.Size)
	pr.CloseWithError(errStopped)
	fillErr := <-filled
	switch {
	case fillErr != nil && !errors.Is(fillErr, errStopped):
		return Ref{}, fillErr
	case err != nil:
		return Ref{}, fmt.Errorf("writing %s: %w", name, err)
	case fillErr != nil:
		return Ref{}, fillErr
	}
	ref.SHA256 = Digest(stored.Sum(nil))
	return ref, b.record(ar, ref, crc.Sum64(), func() {})
}

func (a *Archive) suite() seal.Suite {
	s, _ := seal.ParseSuite(a.desc.Suite) // checked when the descriptor was read
	return s
}

// epoch is the key epoch of the current archive key (of the one being made,
// during a re-key).
func (a *Archive) epoch() uint32 {
	if a.nextEpoch != 0 {
		return a.nextEpoch
	}
	if len(a.commits) == 0 {
		return 0
	}
	return a.commits[len(a.commits)-1].body.Epoch
}

// commit writes the integrity list and then the commit object number head+1,
// create-exclusive. Losing the race to another writer is ErrConflict; the
// objects already written stay behind for prune.
func (b *builder) commit(ctx context.Context, body commitBody) error {
	a := b.a
	n := a.Head() + 1
	var parentList Digest
	if n > 1 {
		parentList = a.commits[n-2].body.IntegrityList.SHA256
	}
	listID, err := newID(a.opts.Rand)
	if err != nil {
		return err
	}
	b.mu.Lock()
	recs := b.recs
	b.mu.Unlock()
	data, err := encodeSigned(plainHeader(seal.KindIntegrityList, a.id, nil, listID[:]), encodeIntegrityList(parentList, recs), a.signer)
	if err != nil {
		return err
	}
	list := makeObject(areaObjects, listID, data)
	if err := b.put(ctx, list); err != nil {
		return err
	}
	// Every object the commit names must be durable and present before the
	// commit is: sync the store, then check each one's size.
	if s, ok := a.st.(remote.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return err
		}
	}
	for _, r := range recs {
		name := a.paths.object(r.Area, r.ID)
		info, err := a.st.Stat(ctx, name)
		if err != nil {
			return fmt.Errorf("checking %s before commit: %w", name, err)
		}
		if info.Size != r.Size {
			return integrityError(name, "size %d after writing %d bytes", info.Size, r.Size)
		}
	}

	body.Format = 1
	body.N = n
	body.IntegrityList = list.ref
	body.SigningKey = keyID(a.signer.Public().(ed25519.PublicKey))
	if n > 1 {
		parent := a.commits[n-2].digest
		body.Parent = &parent
	}
	if body.Tombstones == nil {
		body.Tombstones = []tombstone{}
	}
	js, err := json.Marshal(body)
	if err != nil {
		return err
	}
	obj, err := encodeSigned(plainHeader(seal.KindCommit, a.id, nil, commitObjectID(n)), js, a.signer)
	if err != nil {
		return err
	}
	name := a.paths.commit(n)
	if err := a.st.Create(ctx, name, bytes.NewReader(obj), int64(len(obj))); err != nil {
		if errors.Is(err, remote.ErrExists) {
			return fmt.Errorf("%w: another writer committed version %d of archive %s first; run the command again", ErrConflict, n, a.id.Short())
		}
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if s, ok := a.st.(remote.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return err
		}
	}
	a.commits = append(a.commits, commitInfo{body: body, digest: sha256.Sum256(obj), size: int64(len(obj)), signPub: a.signer.Public().(ed25519.PublicKey)})
	return a.updatePin(func(p *Pin) { p.LocalOnly = append(p.LocalOnly, n) })
}
