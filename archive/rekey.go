package archive

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"

	"github.com/chatvault/chatvault/crypto/seal"
)

// RekeyResult says what a re-key did.
type RekeyResult struct {
	Commit   uint64
	Epoch    uint32     // the new key epoch
	Wrappers []*Wrapper // the new wrappers
	Deleted  []string   // the old key material deleted from the store
}

// Rekey replaces the archive key after a suspected compromise: a rotation
// only re-wraps the key, so whoever kept an old wrapper and its KEK could
// still open the archive; after a re-key they cannot open anything this
// commit or later ones make.
//
// One commit of kind rekey holds: a new random archive key (key epoch + 1)
// and the signing key derived from it, introduced by a key-change record
// signed with the previous signing key; the key table encrypted under the new
// key (conversation keys are kept: segments are not touched); a re-encrypted
// copy of every version manifest and a remap signed with the new key, by
// which readers find them (older versions stay restorable); and one new
// wrapper per locker — the caller re-creates KMS, Vault and age wrappers for
// the same KEKs, asks for each passphrase again and issues a new recovery key.
// The key table's keyed source hashes are computed again under the new key.
//
// The old wrappers, wrapper set, key tables and version manifests are the
// commit's tombstones (earlier remaps stay: the chain names them). They are
// deleted only after the commit is written and the archive reads back from
// the store under the new key: if it does not, nothing is deleted and the
// error is ErrIntegrity. A failed deletion is ErrConflict; FinishTombstones
// (which the CLI runs before any key operation) completes it, and the
// re-key is not made twice.
func (a *Archive) Rekey(ctx context.Context, lockers []Locker) (RekeyResult, error) {
	return a.replaceKey(ctx, lockers, nil)
}

// ShredConversation destroys one conversation: one commit of kind shred that
// re-keys the archive (as Rekey does: old key-table copies then need old
// wrappers to open) with a key table that no longer holds the conversation's
// key, a version manifest that lists it as removed, and a tombstone for every
// object of it — manifests, index runs, segments, blobs — which are deleted,
// every version, once the commit reads back. Its label and participants lived
// only in its own manifests and die with its key. Every other conversation,
// in every version, still restores.
func (a *Archive) ShredConversation(ctx context.Context, conv ID, lockers []Locker) (RekeyResult, error) {
	return a.replaceKey(ctx, lockers, &conv)
}

// replaceKey is Rekey, and with drop set ShredConversation.
func (a *Archive) replaceKey(ctx context.Context, lockers []Locker, drop *ID) (RekeyResult, error) {
	var res RekeyResult
	if err := a.needKey(); err != nil {
		return res, err
	}
	if err := a.checkWritable(); err != nil {
		return res, err
	}
	if len(lockers) == 0 || len(lockers) > MaxWrappers {
		return res, fmt.Errorf("a re-key needs 1 to %d new wrappers, got %d", MaxWrappers, len(lockers))
	}
	if err := a.loadVersions(ctx); err != nil {
		return res, err
	}
	current, err := a.Wrappers(ctx)
	if err != nil {
		return res, err
	}
	l, err := a.takeLease(ctx)
	if err != nil {
		return res, err
	}
	defer l.release()

	oldKey, oldSigner := a.key, a.signer
	newKey, err := newKey(a.opts.Rand)
	if err != nil {
		return res, err
	}
	newSigner := signingKey(newKey, a.id)
	n := a.Head() + 1
	head := a.commits[len(a.commits)-1].body
	b := a.newBuilder()

	kind, removed, total := KindRekey, []ID{}, a.versions[len(a.versions)-1].MessagesTotal
	var dropped []tombstone
	if drop != nil {
		kind, removed = KindShred, []ID{*drop}
		var messages int64
		if dropped, messages, err = a.conversationObjects(ctx, *drop); err != nil {
			return res, err
		}
		total -= messages
	}

	// The key-change record, signed by the key it replaces.
	kcRef, err := a.signedObject(ctx, b, seal.KindKeyChange, oldSigner, keyChange{Previous: keyID(oldSigner.Public().(ed25519.PublicKey)), Next: newSigner.Public().(ed25519.PublicKey), Commit: n})
	if err != nil {
		return res, err
	}

	// From here on objects are made under the new key.
	a.key, a.nextEpoch = newKey, head.Epoch+1
	defer func() {
		if res.Commit == 0 { // failed: back to the old key
			a.key, a.signer, a.nextEpoch = oldKey, oldSigner, 0
		}
	}()
	// Source hashes are keyed by the archive key: hash every conversation's
	// source key again under the new one (read from its latest manifest), or
	// the next export would not find the conversations.
	heads, err := a.conversationsAt(ctx, a.Head())
	if err != nil {
		return res, err
	}
	srcMAC := hmac.New(sha256.New, sourceHashKey(newKey, a.id))
	entries := make([]keyTableEntry, 0, len(a.keyTable))
	for _, e := range a.keyTable {
		if drop != nil && e.Conv == *drop {
			continue
		}
		if ref, ok := heads[e.Conv]; ok {
			m, err := a.readConvManifest(ctx, e.Conv, e.Key[:], ref)
			if err != nil {
				return res, err
			}
			srcMAC.Reset()
			io.WriteString(srcMAC, m.SourceKey)
			srcMAC.Sum(e.SourceHash[:0])
		}
		entries = append(entries, e)
	}
	keyTable, err := b.sealed(ctx, areaKeys, seal.KindKeyTable, nil, newKey, encodeKeyTable(entries))
	if err != nil {
		return res, err
	}
	tombs := append([]tombstone{{Area: "keys", ID: head.WrapperSet.ID}}, dropped...)
	for _, w := range current {
		tombs = append(tombs, wrapperTombstone(w))
	}
	seen := map[ID]bool{}
	for _, c := range a.commits {
		if kt := c.body.KeyTable.ID; !seen[kt] {
			seen[kt] = true
			tombs = append(tombs, tombstone{Area: "keys", ID: kt})
		}
	}
	remapped, err := a.remaps(ctx)
	if err != nil {
		return res, err
	}
	var remap []remapEntry
	for i, vm := range a.versions {
		orig := a.commits[i].body.VersionManifest
		current := orig.ID
		if r, ok := remapped[orig.ID]; ok {
			current = r.New.ID
		}
		ref, err := b.sealedJSON(ctx, areaObjects, seal.KindVersionManifest, nil, newKey, vm)
		if err != nil {
			return res, err
		}
		remap = append(remap, remapEntry{Old: orig.ID, New: ref})
		tombs = append(tombs, tombstone{Area: "objects", ID: current})
	}
	a.signer = newSigner
	remapRef, err := a.signedObject(ctx, b, seal.KindRemap, newSigner, struct {
		Entries []remapEntry `json:"entries"`
	}{remap})
	if err != nil {
		return res, err
	}
	var wrappers []wrapperEntry
	for _, lk := range lockers {
		w, ref, err := a.newWrapper(ctx, b, lk)
		if err != nil {
			return res, err
		}
		res.Wrappers = append(res.Wrappers, w)
		wrappers = append(wrappers, wrapperEntry{Ref: ref, Type: w.Type})
	}
	setRef, err := b.hashed(ctx, areaKeys, seal.KindWrapperSet, wrapperSet{Epoch: a.nextEpoch, Wrappers: wrappers})
	if err != nil {
		return res, err
	}
	last := a.versions[len(a.versions)-1]
	vm := &versionManifest{Commit: n, Time: a.opts.Now().UTC(), Label: last.Label, Parent: &head.VersionManifest,
		Conversations: []convChange{}, Removed: removed, Stores: []string{}, MessagesTotal: total}
	vmRef, err := b.sealedJSON(ctx, areaObjects, seal.KindVersionManifest, nil, newKey, vm)
	if err != nil {
		return res, err
	}
	err = b.commit(ctx, commitBody{Kind: kind, Epoch: a.nextEpoch, Descriptor: head.Descriptor, WrapperSet: setRef,
		KeyTable: keyTable, VersionManifest: vmRef, Remap: &remapRef, KeyChange: &kcRef, Tombstones: tombs})
	if err != nil {
		return res, err
	}
	res.Commit, res.Epoch = n, a.nextEpoch
	a.nextEpoch, a.signPub = 0, newSigner.Public().(ed25519.PublicKey)
	a.versions = append(a.versions, vm)
	for _, e := range entries {
		a.keyTable[e.Conv] = e
	}
	if drop != nil {
		delete(a.keyTable, *drop)
	}

	// Read the archive back from the store under the new key before any old
	// key material goes.
	check, err := Open(ctx, a.st, a.id, a.opts)
	if err == nil {
		check.key, check.signer = newKey, newSigner
		if err = check.loadKeyTable(ctx); err == nil {
			err = check.loadVersions(ctx)
		}
	}
	if err != nil {
		return res, fmt.Errorf("%w: re-key commit %d written but it does not read back (%w); the old keys are kept", ErrIntegrity, n, err)
	}
	res.Deleted, err = a.applyTombstones(ctx, tombs)
	return res, err
}

// conversationObjects lists every object of a conversation (tombstones for
// a shred) and its message count.
func (a *Archive) conversationObjects(ctx context.Context, conv ID) ([]tombstone, int64, error) {
	heads, err := a.conversationsAt(ctx, a.Head())
	if err != nil {
		return nil, 0, err
	}
	ref, ok := heads[conv]
	if !ok {
		return nil, 0, fmt.Errorf("%w: conversation %s is not in archive %s", ErrNotFound, conv.Short(), a.id.Short())
	}
	chain, err := a.manifestChain(ctx, conv, ref)
	if err != nil {
		return nil, 0, err
	}
	var out []tombstone
	add := func(id ID) { out = append(out, tombstone{Area: "objects", ID: id}) }
	add(ref.ID)
	for _, m := range chain {
		if m.Parent != nil {
			add(m.Parent.ID)
		}
		for _, s := range m.Segments {
			add(s.ID)
		}
		for _, b := range m.Blobs {
			add(b.ID)
		}
		for _, r := range []*Ref{m.IndexRun, m.Superseded} {
			if r != nil {
				add(r.ID)
			}
		}
	}
	return out, chain[len(chain)-1].Messages, nil
}

// signedObject stores a plaintext JSON object signed with key.
func (a *Archive) signedObject(ctx context.Context, b *builder, kind seal.Kind, key ed25519.PrivateKey, v any) (Ref, error) {
	id, err := newID(a.opts.Rand)
	if err != nil {
		return Ref{}, err
	}
	body, err := json.Marshal(v)
	if err != nil {
		return Ref{}, err
	}
	data, err := encodeSigned(plainHeader(kind, a.id, nil, id[:]), body, key)
	if err != nil {
		return Ref{}, err
	}
	obj := makeObject(areaObjects, id, data)
	return obj.ref, b.put(ctx, obj)
}
