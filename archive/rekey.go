package archive

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/chatvault/chatvault/archive/canon"
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
	return a.replaceKey(ctx, lockers, nil, false)
}

// RekeyReencrypt is Rekey that also gives every conversation a new key and
// re-encrypts all its objects under it — segments, index runs, blobs and
// manifests, one object at a time (memory bounded by the largest object) —
// so that not even a conversation key kept from before opens anything. The
// re-encrypted copies are written before the commit; the old objects are its
// tombstones, deleted after it. Its cost is O(data). A run interrupted before
// the commit leaves only unreferenced copies (prune removes them) and is
// started again from the beginning.
func (a *Archive) RekeyReencrypt(ctx context.Context, lockers []Locker) (RekeyResult, error) {
	return a.replaceKey(ctx, lockers, nil, true)
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
	return a.replaceKey(ctx, lockers, &conv, false)
}

// replaceKey is Rekey, and with drop set ShredConversation.
func (a *Archive) replaceKey(ctx context.Context, lockers []Locker, drop *ID, reencrypt bool) (RekeyResult, error) {
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
	nextKey, err := newKey(a.opts.Rand)
	if err != nil {
		return res, err
	}
	newSigner := signingKey(nextKey, a.id)
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
	a.key, a.nextEpoch = nextKey, head.Epoch+1
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
	srcMAC := hmac.New(sha256.New, sourceHashKey(nextKey, a.id))
	movedManifests := map[ID]Ref{} // conversation manifests re-encrypted under new conversation keys
	var reencrypted []tombstone
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
			if reencrypt {
				convKey, err := newKey(a.opts.Rand)
				if err != nil {
					return res, err
				}
				moved, objs, err := a.reencryptConversation(ctx, b, e.Conv, convKey, ref)
				if err != nil {
					return res, err
				}
				maps.Copy(movedManifests, moved)
				reencrypted = append(reencrypted, objs...)
				e.Key = [32]byte(convKey)
			}
		}
		entries = append(entries, e)
	}
	keyTable, err := b.sealed(ctx, areaKeys, seal.KindKeyTable, nil, nextKey, encodeKeyTable(entries))
	if err != nil {
		return res, err
	}
	tombs := append([]tombstone{{Area: "keys", ID: head.WrapperSet.ID}}, dropped...)
	tombs = append(tombs, reencrypted...)
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
	versions := make([]*versionManifest, len(a.versions))
	for i, vm := range a.versions {
		orig := a.commits[i].body.VersionManifest
		current := orig.ID
		if r, ok := remapped[orig.ID]; ok {
			current = r.New.ID
		}
		versions[i] = vm
		if len(movedManifests) > 0 {
			cp := *vm
			cp.Conversations = slices.Clone(vm.Conversations)
			for j, cc := range cp.Conversations {
				if moved, ok := movedManifests[cc.Manifest.ID]; ok {
					cp.Conversations[j].Manifest = moved
				}
			}
			versions[i] = &cp
		}
		ref, err := b.sealedJSON(ctx, areaObjects, seal.KindVersionManifest, nil, nextKey, versions[i])
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
	vmRef, err := b.sealedJSON(ctx, areaObjects, seal.KindVersionManifest, nil, nextKey, vm)
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
	a.versions = append(versions, vm)
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
		check.key, check.signer = nextKey, newSigner
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

// reencryptConversation seals every object of a conversation again under a
// new conversation key, oldest manifest first (each new manifest names the
// new copy of its parent), and returns the new reference of each old
// manifest and the old objects as tombstones. Segment bodies are decrypted
// and sealed again as they are (no recompression); index records get the
// message-id hashes of the new key (read from the segments: a map of every
// message id of the conversation, like an export's); blobs are streamed,
// under the blob ids the new key derives.
func (a *Archive) reencryptConversation(ctx context.Context, b *builder, conv ID, key []byte, head Ref) (map[ID]Ref, []tombstone, error) {
	chain, err := a.manifestChain(ctx, conv, head)
	if err != nil {
		return nil, nil, err
	}
	oldKey, err := a.convKey(conv)
	if err != nil {
		return nil, nil, err
	}
	refs := make([]Ref, len(chain))
	refs[len(chain)-1] = head
	for i := len(chain) - 1; i > 0; i-- {
		refs[i-1] = *chain[i].Parent
	}
	moved := map[ID]Ref{}
	var tombs []tombstone
	gone := func(id ID) { tombs = append(tombs, tombstone{Area: "objects", ID: id}) }
	reseal := func(ref Ref, kind seal.Kind, max int64) (Ref, error) {
		name := a.paths.object(areaObjects, ref.ID)
		raw, err := a.readRef(ctx, name, ref, max)
		if err != nil {
			return Ref{}, err
		}
		body, err := seal.Open(oldKey, seal.Expect{Kind: kind, ArchiveID: a.id[:], ConversationID: conv[:], ObjectID: ref.ID[:], Epoch: a.epochOfObject()}, raw, max)
		if err != nil {
			return Ref{}, integrityError(name, "%v", err)
		}
		gone(ref.ID)
		return b.sealed(ctx, areaObjects, kind, &conv, key, body)
	}
	// Index records are keyed by the conversation key too: map every message
	// id's old hash to its new one, from the messages themselves.
	idhashes := map[[16]byte][16]byte{}
	src := &convReader{a: a, conv: conv, key: oldKey}
	fromMAC := hmac.New(sha256.New, messageIDKey(oldKey, conv))
	toMAC := hmac.New(sha256.New, messageIDKey(key, conv))
	for _, m := range chain {
		for _, s := range m.Segments {
			plain, err := src.decodeSegment(ctx, &restoreSeg{segmentRef: s})
			if err != nil {
				return nil, nil, err
			}
			err = mapMessageIDs(plain, fromMAC, toMAC, idhashes)
			putBuf(plain)
			if err != nil {
				return nil, nil, integrityError(a.paths.object(areaObjects, s.ID), "%v", err)
			}
		}
	}
	rekeyRun := func(ref Ref) (Ref, error) {
		recs, err := a.readIndexRun(ctx, conv, oldKey, ref)
		if err != nil {
			return Ref{}, err
		}
		for i, r := range recs {
			h, ok := idhashes[r.IDHash]
			if !ok {
				return Ref{}, integrityError(a.paths.object(areaObjects, ref.ID), "an index record names no message of conversation %s", conv.Short())
			}
			recs[i].IDHash = h
		}
		gone(ref.ID)
		return b.sealed(ctx, areaObjects, seal.KindIndexRun, &conv, key, encodeIndexRun(recs))
	}
	e := &exporter{a: a, b: b}
	c := &convState{id: conv, key: key, blobs: map[Digest]bool{}}
	var parent *Ref
	for i, m := range chain {
		nm := *m
		nm.Parent = parent
		nm.Segments = make([]segmentRef, len(m.Segments))
		for j, s := range m.Segments {
			nm.Segments[j] = s
			if nm.Segments[j].Ref, err = reseal(s.Ref, seal.KindSegment, 2*maxSegmentPlain); err != nil {
				return nil, nil, err
			}
		}
		for _, run := range []**Ref{&nm.IndexRun, &nm.Superseded} {
			if *run != nil {
				ref, err := rekeyRun(**run)
				if err != nil {
					return nil, nil, err
				}
				*run = &ref
			}
		}
		c.newBlobs = nil
		for _, bl := range m.Blobs {
			open := func() (io.ReadCloser, error) { return a.OpenBlob(ctx, conv, bl.Content.String()) }
			if err := e.storeBlob(ctx, c, canon.Blob{SHA256: bl.Content, Size: bl.Plain, Open: open}); err != nil {
				return nil, nil, err
			}
			gone(bl.ID)
		}
		nm.Blobs = append([]blobRef{}, c.newBlobs...)
		ref, err := b.sealedJSON(ctx, areaObjects, seal.KindConversationManifest, &conv, key, &nm)
		if err != nil {
			return nil, nil, err
		}
		moved[refs[i].ID] = ref
		gone(refs[i].ID)
		parent = &ref
	}
	return moved, tombs, nil
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
