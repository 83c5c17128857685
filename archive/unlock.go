package archive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/chatvault/chatvault/crypto/seal"
)

// Wrappers returns the head commit's wrappers, each checked against the signed
// commit (a damaged wrapper is ErrIntegrity, never a wrong key).
func (a *Archive) Wrappers(ctx context.Context) ([]*Wrapper, error) {
	set, err := a.wrapperSet(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Wrapper, 0, len(set.Wrappers))
	for _, e := range set.Wrappers {
		name := a.paths.object(areaKeys, e.ID)
		b, err := a.readRef(ctx, name, e.Ref, maxSmallObject)
		if err != nil {
			return nil, err
		}
		body, err := decodeHashed(name, b, seal.Expect{Kind: seal.KindWrapper, ArchiveID: a.id[:], ObjectID: e.ID[:]})
		if err != nil {
			return nil, err
		}
		w := &Wrapper{}
		if err := strictJSON(body, w); err != nil {
			return nil, integrityError(name, "%v", err)
		}
		if w.Type != e.Type {
			return nil, integrityError(name, "a %s wrapper listed as %s", w.Type, e.Type)
		}
		w.ID = e.ID
		out = append(out, w)
	}
	return out, nil
}

// wrapperSet reads the head commit's wrapper set.
func (a *Archive) wrapperSet(ctx context.Context) (wrapperSet, error) {
	var set wrapperSet
	head := a.commits[len(a.commits)-1].body
	setName := a.paths.object(areaKeys, head.WrapperSet.ID)
	b, err := a.readRef(ctx, setName, head.WrapperSet, maxSmallObject)
	if err != nil {
		return set, err
	}
	body, err := decodeHashed(setName, b, seal.Expect{Kind: seal.KindWrapperSet, ArchiveID: a.id[:], ObjectID: head.WrapperSet.ID[:]})
	if err != nil {
		return set, err
	}
	if err := strictJSON(body, &set); err != nil {
		return set, integrityError(setName, "%v", err)
	}
	if len(set.Wrappers) == 0 || len(set.Wrappers) > MaxWrappers {
		return set, integrityError(setName, "%d wrappers (allowed: 1 to %d)", len(set.Wrappers), MaxWrappers)
	}
	return set, nil
}

// Unlock finds the archive key: every unlocker is tried on every wrapper of its
// type, and the first key that passes the key check is kept. The key check:
// the signing key derived from the unwrapped key must be the archive's current
// signing key, so a wrapper that yields any other key is refused.
func (a *Archive) Unlock(ctx context.Context, unlockers ...Unlocker) error {
	if a.key != nil {
		return nil
	}
	ws, err := a.Wrappers(ctx)
	if err != nil {
		return err
	}
	var refused error
	for _, u := range unlockers {
		for _, w := range ws {
			key, err := u.Unlock(ctx, a.id, w)
			switch {
			case errors.Is(err, ErrNotMine):
				continue
			case errors.Is(err, ErrWrongKey):
				refused = err
				continue
			case err != nil:
				return err
			}
			signer := signingKey(key, a.id)
			if !bytes.Equal(signer.Public().(ed25519.PublicKey), a.signPub) {
				return integrityError(a.paths.object(areaKeys, w.ID), "the %s wrapper opens to a key that is not this archive's (key check failed)", w.Type)
			}
			a.key, a.signer = key, signer
			if err := a.loadKeyTable(ctx); err != nil {
				return err
			}
			return a.cacheLabel(ctx)
		}
	}
	if refused != nil {
		return fmt.Errorf("archive %s: %w", a.id.Short(), refused)
	}
	types := map[string]bool{}
	for _, w := range ws {
		types[w.Type] = true
	}
	var names []string
	for t := range types {
		names = append(names, t)
	}
	sort.Strings(names)
	return fmt.Errorf("%w: none of the keys given fits archive %s (its wrappers: %s)", ErrWrongKey, a.id.Short(), strings.Join(names, ", "))
}

func (a *Archive) loadKeyTable(ctx context.Context) error {
	head := a.commits[len(a.commits)-1].body
	pt, err := a.readSealed(ctx, areaKeys, head.KeyTable, a.key, seal.Expect{Kind: seal.KindKeyTable, Epoch: head.Epoch}, maxListObject)
	if err != nil {
		return err
	}
	entries, err := decodeKeyTable(pt)
	if err != nil {
		return integrityError(a.paths.object(areaKeys, head.KeyTable.ID), "%v", err)
	}
	a.keyTable = make(map[ID]keyTableEntry, len(entries))
	for _, e := range entries {
		a.keyTable[e.Conv] = e
	}
	return nil
}

func (a *Archive) needKey() error {
	if a.key == nil {
		return fmt.Errorf("%w: archive %s", ErrLocked, a.id.Short())
	}
	return nil
}

// loadVersions decrypts every commit's version manifest (they are small
// deltas). After a re-key the manifests of older commits are read from their
// re-encrypted copies, through the remaps of the re-key commits.
func (a *Archive) loadVersions(ctx context.Context) error {
	if err := a.needKey(); err != nil {
		return err
	}
	if len(a.versions) == len(a.commits) {
		return nil
	}
	remapped, err := a.remaps(ctx)
	if err != nil {
		return err
	}
	for n := len(a.versions) + 1; n <= len(a.commits); n++ {
		c := a.commits[n-1].body
		ref, epoch := c.VersionManifest, c.Epoch
		if r, ok := remapped[ref.ID]; ok {
			ref, epoch = r.New, r.epoch
		}
		vm, err := a.readVersionManifest(ctx, ref, epoch)
		if err != nil {
			return err
		}
		name := a.paths.object(areaObjects, ref.ID)
		if vm.Commit != uint64(n) {
			return integrityError(name, "belongs to commit %d, not %d", vm.Commit, n)
		}
		if n > 1 {
			prev := a.commits[n-2].body.VersionManifest
			if vm.Parent == nil || *vm.Parent != prev {
				return integrityError(name, "does not follow the version manifest of commit %d", n-1)
			}
		}
		a.versions = append(a.versions, vm)
	}
	return nil
}

// remapEntry: an object re-encrypted by a re-key, and that re-key's epoch.
type remapEntry struct {
	Old   ID  `json:"old"`
	New   Ref `json:"new"`
	epoch uint32
}

// remaps reads every remap of the chain; a later one wins for an object
// remapped twice.
func (a *Archive) remaps(ctx context.Context) (map[ID]remapEntry, error) {
	out := map[ID]remapEntry{}
	for _, c := range a.commits {
		if c.body.Remap == nil {
			continue
		}
		ref := *c.body.Remap
		name := a.paths.object(areaObjects, ref.ID)
		b, err := a.readRef(ctx, name, ref, maxListObject)
		if err != nil {
			return nil, err
		}
		body, err := decodeSigned(name, b, seal.Expect{Kind: seal.KindRemap, ArchiveID: a.id[:], ObjectID: ref.ID[:]}, c.signPub)
		if err != nil {
			return nil, err
		}
		var rm struct {
			Entries []remapEntry `json:"entries"`
		}
		if err := strictJSON(body, &rm); err != nil {
			return nil, integrityError(name, "%v", err)
		}
		for _, e := range rm.Entries {
			e.epoch = c.body.Epoch
			out[e.Old] = e
		}
	}
	return out, nil
}

// conversationsAt maps each conversation present at commit n to its latest
// manifest reference.
func (a *Archive) conversationsAt(ctx context.Context, n uint64) (map[ID]Ref, error) {
	if err := a.loadVersions(ctx); err != nil {
		return nil, err
	}
	if n == 0 || n > a.Head() {
		return nil, fmt.Errorf("%w: version %d (the archive has versions 1 to %d)", ErrNotFound, n, a.Head())
	}
	out := map[ID]Ref{}
	for _, vm := range a.versions[:n] {
		for _, c := range vm.Conversations {
			if _, ok := a.keyTable[c.ID]; ok { // a shredded conversation has no key any more
				out[c.ID] = c.Manifest
			}
		}
		for _, id := range vm.Removed {
			delete(out, id)
		}
	}
	return out, nil
}

// convKey returns the key of a conversation from the head key table.
func (a *Archive) convKey(id ID) ([]byte, error) {
	e, ok := a.keyTable[id]
	if !ok {
		return nil, fmt.Errorf("%w: conversation %s has no key in the key table", ErrIntegrity, id.Short())
	}
	return e.Key[:], nil
}

// manifestChain reads a conversation's manifests from the first to ref.
func (a *Archive) manifestChain(ctx context.Context, conv ID, ref Ref) ([]*convManifest, error) {
	key, err := a.convKey(conv)
	if err != nil {
		return nil, err
	}
	var chain []*convManifest
	for r := &ref; r != nil; {
		m, err := a.readConvManifest(ctx, conv, key, *r)
		if err != nil {
			return nil, err
		}
		chain = append(chain, m)
		if m.Parent != nil && m.Parent.ID == r.ID {
			return nil, integrityError(a.paths.object(areaObjects, r.ID), "names itself as parent")
		}
		if len(chain) > len(a.commits) {
			return nil, integrityError(a.paths.object(areaObjects, ref.ID), "manifest chain longer than the commit chain")
		}
		r = m.Parent
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain, nil
}

func (a *Archive) readConvManifest(ctx context.Context, conv ID, key []byte, ref Ref) (*convManifest, error) {
	pt, err := a.readSealed(ctx, areaObjects, ref, key, seal.Expect{Kind: seal.KindConversationManifest, ConversationID: conv[:], Epoch: a.epochOfObject()}, maxListObject)
	if err != nil {
		return nil, err
	}
	m := &convManifest{}
	if err := strictJSON(pt, m); err != nil {
		return nil, integrityError(a.paths.object(areaObjects, ref.ID), "%v", err)
	}
	return m, nil
}

// epochOfObject is the key epoch of objects under conversation keys. Until
// re-keys exist every object is of epoch 0.
func (a *Archive) epochOfObject() uint32 { return 0 }

// cacheLabel records the archive's label and message count in the device
// state, so that names resolve and ls shows them without unlocking.
func (a *Archive) cacheLabel(ctx context.Context) error {
	if err := a.loadVersions(ctx); err != nil {
		return err
	}
	vm := a.versions[len(a.versions)-1]
	return a.updatePin(func(p *Pin) { p.Label, p.Messages = vm.Label, vm.MessagesTotal })
}
