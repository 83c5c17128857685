package archive

import (
	"context"
	"crypto/subtle"
	"fmt"
	"slices"

	"github.com/chatvault/chatvault/crypto/seal"
	"github.com/chatvault/chatvault/remote"
)

// WrapperChange is one commit of kind keys: wrappers added and removed at
// once (keys add, keys remove, rotate). It never touches a segment: its cost
// is a few small objects, whatever the archive's size.
type WrapperChange struct {
	Add    []Locker // one new wrapper each
	Remove []ID     // wrappers to delete
}

// KeysResult says what a keys commit did.
type KeysResult struct {
	Commit  uint64
	Added   []*Wrapper
	Removed []*Wrapper
	Deleted []string // tombstoned objects deleted from the archive's store
}

// ChangeWrappers commits a new wrapper set: the current wrappers minus
// Remove, plus one new wrapper per locker. Each new wrapper is opened again
// before anything is committed and must yield the archive key (lockers that
// can unlock what they locked — passphrase, recovery key, KMS — are checked;
// an age wrapper for another device cannot be). The last wrapper is never
// removed, and at most MaxWrappers remain.
//
// The removed wrappers and the old wrapper set are listed as the commit's
// tombstones and deleted from the store, every version of them, once the
// commit is written; push applies the same tombstones to other stores.
func (a *Archive) ChangeWrappers(ctx context.Context, ch WrapperChange) (KeysResult, error) {
	var res KeysResult
	if err := a.needKey(); err != nil {
		return res, err
	}
	if err := a.checkWritable(); err != nil {
		return res, err
	}
	set, err := a.wrapperSet(ctx)
	if err != nil {
		return res, err
	}
	current, err := a.Wrappers(ctx)
	if err != nil {
		return res, err
	}
	var kept []wrapperEntry
	for i, e := range set.Wrappers {
		if slices.Contains(ch.Remove, e.ID) {
			res.Removed = append(res.Removed, current[i])
		} else {
			kept = append(kept, e)
		}
	}
	if len(res.Removed) != len(ch.Remove) {
		for _, id := range ch.Remove {
			if !slices.ContainsFunc(set.Wrappers, func(e wrapperEntry) bool { return e.ID == id }) {
				return res, fmt.Errorf("%w: archive %s has no wrapper %s (see keys list)", ErrNotFound, a.id.Short(), id.Short())
			}
		}
	}
	switch n := len(kept) + len(ch.Add); {
	case n == 0:
		return res, fmt.Errorf("refusing to remove the last wrapper of archive %s: nothing could open it any more", a.id.Short())
	case n > MaxWrappers:
		return res, fmt.Errorf("an archive can have at most %d wrappers (archive %s would have %d)", MaxWrappers, a.id.Short(), n)
	}

	l, err := a.takeLease(ctx)
	if err != nil {
		return res, err
	}
	defer l.release()
	b := a.newBuilder()
	entries := kept
	for _, lk := range ch.Add {
		w, ref, err := a.newWrapper(ctx, b, lk)
		if err != nil {
			return res, err
		}
		res.Added = append(res.Added, w)
		entries = append(entries, wrapperEntry{Ref: ref, Type: w.Type})
	}
	setRef, err := b.hashed(ctx, areaKeys, seal.KindWrapperSet, wrapperSet{Epoch: a.epoch(), Wrappers: entries})
	if err != nil {
		return res, err
	}
	tombs := []tombstone{{Area: "keys", ID: a.commits[len(a.commits)-1].body.WrapperSet.ID}}
	for _, w := range res.Removed {
		tombs = append(tombs, wrapperTombstone(w))
	}
	if err := a.commitEmpty(ctx, b, KindKeys, setRef, tombs); err != nil {
		return res, err
	}
	res.Commit = a.Head()
	res.Deleted, err = a.applyTombstones(ctx, tombs)
	return res, err
}

// newWrapper locks the archive key under one KEK, checks that the wrapper
// opens to the key again where the locker can tell, and stores it.
func (a *Archive) newWrapper(ctx context.Context, b *builder, lk Locker) (*Wrapper, Ref, error) {
	wid, err := newID(a.opts.Rand)
	if err != nil {
		return nil, Ref{}, err
	}
	w := &Wrapper{ID: wid, Created: a.opts.Now().UTC(), Epoch: a.epoch()}
	if err := lk.Lock(ctx, a.id, w, a.key); err != nil {
		return nil, Ref{}, err
	}
	if u, ok := lk.(Unlocker); ok {
		key, err := u.Unlock(ctx, a.id, w)
		if err != nil {
			return nil, Ref{}, fmt.Errorf("the new %s wrapper does not open: %w", w.Type, err)
		}
		if subtle.ConstantTimeCompare(key, a.key) != 1 {
			return nil, Ref{}, fmt.Errorf("%w: the new %s wrapper opens to another key", ErrIntegrity, w.Type)
		}
		clear(key)
	}
	ref, err := b.hashedAs(ctx, areaKeys, seal.KindWrapper, wid, w)
	return w, ref, err
}

// commitEmpty writes a commit that changes no conversation: a new version
// manifest that adds nothing, the given wrapper set, the head key table.
func (a *Archive) commitEmpty(ctx context.Context, b *builder, kind string, wrapperSet Ref, tombs []tombstone) error {
	if err := a.loadVersions(ctx); err != nil {
		return err
	}
	head := a.commits[len(a.commits)-1].body
	last := a.versions[len(a.versions)-1]
	vm := &versionManifest{Commit: a.Head() + 1, Time: a.opts.Now().UTC(), Label: last.Label, Parent: &head.VersionManifest,
		Conversations: []convChange{}, Removed: []ID{}, Stores: []string{}, MessagesTotal: last.MessagesTotal}
	vmRef, err := b.sealedJSON(ctx, areaObjects, seal.KindVersionManifest, nil, a.key, vm)
	if err != nil {
		return err
	}
	err = b.commit(ctx, commitBody{Kind: kind, Epoch: head.Epoch, Descriptor: head.Descriptor, WrapperSet: wrapperSet,
		KeyTable: head.KeyTable, VersionManifest: vmRef, Tombstones: tombs})
	if err != nil {
		return err
	}
	a.versions = append(a.versions, vm)
	return nil
}

// applyTombstones deletes the objects a commit made obsolete from the
// archive's store, every version of each. The commit is written by then: a
// failure is ErrConflict, and FinishTombstones (run by the same command
// again) completes the job.
func (a *Archive) applyTombstones(ctx context.Context, tombs []tombstone) ([]string, error) {
	var deleted []string
	for _, t := range tombs {
		name := a.paths.object(t.area(), t.ID)
		if err := a.st.Delete(ctx, name); err != nil {
			return deleted, fmt.Errorf("%w: commit %d is written but deleting %s failed (%w); run the command again to finish", ErrConflict, a.Head(), name, err)
		}
		deleted = append(deleted, name)
	}
	return deleted, nil
}

// FinishTombstones deletes every object a commit of the chain tombstoned that
// the store still holds (a rotation, re-key or shred interrupted after its
// commit), and returns their names. It costs one listing of the archive.
func (a *Archive) FinishTombstones(ctx context.Context) ([]string, error) {
	var tombs []tombstone
	for _, c := range a.commits {
		tombs = append(tombs, c.body.Tombstones...)
	}
	if len(tombs) == 0 {
		return nil, nil
	}
	present := map[string]bool{}
	err := a.st.List(ctx, a.paths.root(), func(info remote.Info) error {
		present[info.Name] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	var pending []tombstone
	for _, t := range tombs {
		if present[a.paths.object(t.area(), t.ID)] {
			pending = append(pending, t)
		}
	}
	return a.applyTombstones(ctx, pending)
}
