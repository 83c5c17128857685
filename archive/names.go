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
