package archive

import "github.com/chatvault/chatvault/remote"

// Names of an archive's objects in its store, for code that works on the
// store directly (shredding and its proofs, which must list every object and
// version without any secret).

// Prefix is the name prefix of every object of the archive.
func (a *Archive) Prefix() string { return a.paths.root() }

// KeysPrefix is the prefix of its key material (wrappers, wrapper sets, key
// tables): what a shred deletes first and its proof lists.
func (a *Archive) KeysPrefix() string { return a.paths.root() + areaKeys.dir() + "/" }

// Store is the store the archive was opened from.
func (a *Archive) Store() remote.Store { return a.st }

// Tombstoned lists the objects commit n made obsolete, by name.
func (a *Archive) Tombstoned(n uint64) []string {
	if n == 0 || n > a.Head() {
		return nil
	}
	var out []string
	for _, t := range a.commits[n-1].body.Tombstones {
		out = append(out, a.paths.object(t.area(), t.ID))
	}
	return out
}

// KeyTableName is the object holding the key table of commit n.
func (a *Archive) KeyTableName(n uint64) string {
	return a.paths.object(areaKeys, a.commits[n-1].body.KeyTable.ID)
}

// WrapperSetName is the object holding the wrapper set of commit n.
func (a *Archive) WrapperSetName(n uint64) string {
	return a.paths.object(areaKeys, a.commits[n-1].body.WrapperSet.ID)
}

// FormerWrapper is a wrapper that a commit removed (keys remove, rotate,
// re-key, conversation shred), as the commit's tombstone describes it: its
// type and KEK, never the wrapped key.
type FormerWrapper struct {
	ID        ID
	Type      string // "" when the tombstone does not say (archives made before tombstones did)
	KeyID     string // KMS key ARN, Vault mount/key
	Recipient string // age
	Dedicated bool
	RemovedBy uint64 // the commit that removed it
}

// FormerWrappers lists the wrappers commits 2..upTo removed.
func (a *Archive) FormerWrappers(upTo uint64) []FormerWrapper {
	sets, tables := map[ID]bool{}, map[ID]bool{}
	for _, c := range a.commits {
		sets[c.body.WrapperSet.ID], tables[c.body.KeyTable.ID] = true, true
	}
	var out []FormerWrapper
	for n := uint64(2); n <= min(upTo, a.Head()); n++ {
		for _, t := range a.commits[n-1].body.Tombstones {
			switch {
			case t.Wrapper != nil:
				out = append(out, FormerWrapper{ID: t.ID, Type: t.Wrapper.Type, KeyID: t.Wrapper.KeyID, Recipient: t.Wrapper.Recipient, Dedicated: t.Wrapper.Dedicated, RemovedBy: n})
			case t.area() == areaKeys && !sets[t.ID] && !tables[t.ID]:
				out = append(out, FormerWrapper{ID: t.ID, RemovedBy: n})
			}
		}
	}
	return out
}
