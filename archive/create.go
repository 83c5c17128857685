package archive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chatvault/chatvault/crypto/seal"
	"github.com/chatvault/chatvault/remote"
)

// MaxWrappers is the most wrappers an archive may have.
const MaxWrappers = 16

// storeMarker is the plaintext object that marks a directory or bucket prefix
// as a chatvault store. It holds no secrets and no names.
const storeMarker = "chatvault.json"

type marker struct {
	Format string `json:"format"`
	Layout int    `json:"layout"`
}

// ensureMarker writes the store marker if the store has none, and checks it
// otherwise.
func ensureMarker(ctx context.Context, st remote.Store) error {
	b, err := json.Marshal(marker{Format: "chatvault-store", Layout: 1})
	if err != nil {
		return err
	}
	b = append(b, '\n')
	err = st.Create(ctx, storeMarker, bytes.NewReader(b), int64(len(b)))
	if err == nil || !errors.Is(err, remote.ErrExists) {
		return err
	}
	got, err := readAll(ctx, st, storeMarker, maxSmallObject)
	if err != nil {
		return err
	}
	var m marker
	if err := json.Unmarshal(got, &m); err != nil || m.Format != "chatvault-store" {
		return fmt.Errorf("%s in %s is not a chatvault store marker", storeMarker, st)
	}
	if m.Layout != 1 {
		return fmt.Errorf("store %s has layout %d; this chatvault knows layout 1", st, m.Layout)
	}
	return nil
}

// CreateOptions describe a new archive.
type CreateOptions struct {
	Label   string
	Suite   seal.Suite // zero: seal.AutoSuite()
	Lockers []Locker   // one wrapper each; at least one
}

// Create makes a new archive: a random id and archive key, the descriptor, one
// wrapper per locker, an empty key table and commit 1 (kind init).
func Create(ctx context.Context, st remote.Store, co CreateOptions, opts Options) (*Archive, error) {
	opts.fill()
	if len(co.Lockers) == 0 || len(co.Lockers) > MaxWrappers {
		return nil, fmt.Errorf("an archive needs 1 to %d wrappers, got %d", MaxWrappers, len(co.Lockers))
	}
	suite := co.Suite
	if suite == seal.Plain {
		suite = seal.AutoSuite()
	}
	if err := ensureMarker(ctx, st); err != nil {
		return nil, err
	}
	id, err := newID(opts.Rand)
	if err != nil {
		return nil, err
	}
	key, err := newKey(opts.Rand)
	if err != nil {
		return nil, err
	}
	a := &Archive{st: st, id: id, paths: pathsFor(id), opts: opts, key: key, signer: signingKey(key, id), keyTable: map[ID]keyTableEntry{}}
	a.signPub = a.signer.Public().(ed25519.PublicKey)
	a.desc = descriptor{Format: 1, Archive: id, Suite: suite.String(), SigningKey: a.signPub}
	b := a.newBuilder()
	if a.descriptorRef, err = b.hashed(ctx, areaObjects, seal.KindDescriptor, a.desc); err != nil {
		return nil, err
	}
	set, err := a.addWrappers(ctx, b, nil, co.Lockers)
	if err != nil {
		return nil, err
	}
	keyTable, err := b.sealed(ctx, areaKeys, seal.KindKeyTable, nil, key, encodeKeyTable(nil))
	if err != nil {
		return nil, err
	}
	vm := &versionManifest{Commit: 1, Time: opts.Now().UTC(), Label: co.Label, Conversations: []convChange{}, Removed: []ID{}, Stores: []string{}}
	vmRef, err := b.sealedJSON(ctx, areaObjects, seal.KindVersionManifest, nil, key, vm)
	if err != nil {
		return nil, err
	}
	err = b.commit(ctx, commitBody{Kind: KindInit, Descriptor: a.descriptorRef, WrapperSet: set, KeyTable: keyTable, VersionManifest: vmRef})
	if err != nil {
		return nil, err
	}
	a.versions = []*versionManifest{vm}
	return a, a.updatePin(func(p *Pin) { p.Label = co.Label })
}

// addWrappers writes one wrapper per locker and a new wrapper set holding the
// existing entries plus the new ones.
func (a *Archive) addWrappers(ctx context.Context, b *builder, existing []wrapperEntry, lockers []Locker) (Ref, error) {
	if len(existing)+len(lockers) > MaxWrappers {
		return Ref{}, fmt.Errorf("an archive can have at most %d wrappers", MaxWrappers)
	}
	entries := append([]wrapperEntry{}, existing...)
	for _, l := range lockers {
		w, ref, err := a.newWrapper(ctx, b, l)
		if err != nil {
			return Ref{}, err
		}
		entries = append(entries, wrapperEntry{Ref: ref, Type: w.Type})
	}
	return b.hashed(ctx, areaKeys, seal.KindWrapperSet, wrapperSet{Epoch: a.epoch(), Wrappers: entries})
}
