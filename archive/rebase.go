package archive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/archive/idindex"
	"github.com/chatvault/chatvault/crypto/seal"
)

// rebase turns the set-aside export commit old (rebased/<old>) into a new
// commit on top of the head, and returns its number (0 when everything it
// added is already in the archive).
//
// Its segments and blobs are reused as they are: they are sealed under their
// conversation's key, which the other device shares for every conversation
// that existed before the divergence. What changes is bookkeeping, under the
// same keys: each conversation gets a new manifest whose parent is the
// remote's, a new index run whose records carry the new commit number, and a
// superseded run that settles every message both sides changed:
//   - a message only this device added or changed: its record is kept;
//   - the same revision on both sides: the remote's record is kept and this
//     device's copy is marked superseded, so restore shows it once;
//   - two different revisions: this device's, now the later commit, wins and
//     the remote's is superseded (last writer wins, as within one export).
//
// A conversation the remote shredded meanwhile is dropped with a warning. A
// conversation both devices created from the same source (same keyed source
// hash, different id and key) stays one conversation, the remote's: its
// segments are sealed again under the remote's key (adopt).
func (a *Archive) rebase(ctx context.Context, old uint64) (uint64, error) {
	body, err := a.setAsideCommit(ctx, old)
	if err != nil {
		return 0, err
	}
	_, oldRecs, err := a.readIntegrityList(ctx, body.IntegrityList, a.signPub)
	if err != nil {
		return 0, err
	}
	crcs := make(map[ID]uint64, len(oldRecs))
	for _, r := range oldRecs {
		crcs[r.ID] = r.CRC64
	}
	vm, err := a.readVersionManifest(ctx, body.VersionManifest, body.Epoch)
	if err != nil {
		return 0, err
	}
	pt, err := a.readSealed(ctx, areaKeys, body.KeyTable, a.key, seal.Expect{Kind: seal.KindKeyTable, Epoch: body.Epoch}, maxListObject)
	if err != nil {
		return 0, err
	}
	entries, err := decodeKeyTable(pt)
	if err != nil {
		return 0, integrityError(a.paths.object(areaKeys, body.KeyTable.ID), "%v", err)
	}
	theirKeys := make(map[ID]keyTableEntry, len(entries))
	for _, e := range entries {
		theirKeys[e.Conv] = e
	}
	heads, err := a.conversationsAt(ctx, a.Head())
	if err != nil {
		return 0, err
	}
	bySource := make(map[[32]byte]ID, len(a.keyTable))
	for _, e := range a.keyTable {
		bySource[e.SourceHash] = e.Conv
	}

	l, err := a.takeLease(ctx)
	if err != nil {
		return 0, err
	}
	defer l.release()
	ids, err := idindex.NewSet(idindex.Options{})
	if err != nil {
		return 0, err
	}
	defer ids.Close()
	head := a.commits[len(a.commits)-1].body
	rb := &rebaser{a: a, b: a.newBuilder(), old: uint32(old), n: uint32(a.Head() + 1), crcs: crcs}
	nvm := &versionManifest{Commit: a.Head() + 1, Time: vm.Time, Label: a.versions[len(a.versions)-1].Label,
		Parent: &head.VersionManifest, Conversations: []convChange{}, Removed: []ID{}, Stores: []string{},
		MessagesTotal: a.versions[len(a.versions)-1].MessagesTotal}
	var newKeys []keyTableEntry
	for _, cc := range vm.Conversations {
		e, ok := theirKeys[cc.ID]
		if !ok {
			return 0, integrityError(a.paths.rebased(old), "conversation %s has no key in its key table", cc.ID.Short())
		}
		m, err := a.readConvManifest(ctx, cc.ID, e.Key[:], cc.Manifest)
		if err != nil {
			return 0, err
		}
		var change *convChange
		other, sameSource := bySource[e.SourceHash]
		switch ref, ok := heads[cc.ID]; {
		case ok:
			base, err := a.loadConvBase(ctx, ids, cc.ID, ref)
			if err != nil {
				return 0, err
			}
			change, err = rb.conversation(ctx, cc.ID, e.Key[:], m, base)
			base.latest.Release()
			if err != nil {
				return 0, err
			}
		case m.Parent != nil || a.keyTable[cc.ID] != (keyTableEntry{}):
			a.opts.Warn(fmt.Sprintf("conversation %s was shredded on the remote: dropped %d messages this device added to it", cc.ID.Short(), cc.Added))
			continue
		case sameSource:
			// Both devices created this chat: it stays one conversation, the
			// remote's.
			base, err := a.loadConvBase(ctx, ids, other, heads[other])
			if err != nil {
				return 0, err
			}
			change, err = rb.adopt(ctx, cc.ID, e.Key[:], m, other, base)
			base.latest.Release()
			if err != nil {
				return 0, err
			}
		default:
			if change, err = rb.conversation(ctx, cc.ID, e.Key[:], m, nil); err != nil {
				return 0, err
			}
			if change != nil {
				newKeys = append(newKeys, e)
			}
		}
		if change == nil {
			continue // everything it added is in the remote already
		}
		nvm.Conversations = append(nvm.Conversations, *change)
		nvm.MessagesAdded += change.Added
	}
	if len(nvm.Conversations) == 0 {
		return 0, a.st.Delete(ctx, a.paths.rebased(old))
	}
	nvm.MessagesTotal += nvm.MessagesAdded
	keyTable := head.KeyTable
	if len(newKeys) > 0 {
		all := make([]keyTableEntry, 0, len(a.keyTable)+len(newKeys))
		for _, e := range a.keyTable {
			all = append(all, e)
		}
		all = append(all, newKeys...)
		if keyTable, err = rb.b.sealed(ctx, areaKeys, seal.KindKeyTable, nil, a.key, encodeKeyTable(all)); err != nil {
			return 0, err
		}
	}
	vmRef, err := rb.b.sealedJSON(ctx, areaObjects, seal.KindVersionManifest, nil, a.key, nvm)
	if err != nil {
		return 0, err
	}
	err = rb.b.commit(ctx, commitBody{Kind: KindExport, Epoch: head.Epoch, Descriptor: head.Descriptor, WrapperSet: head.WrapperSet, KeyTable: keyTable, VersionManifest: vmRef})
	if err != nil {
		return 0, err
	}
	a.versions = append(a.versions, nvm)
	for _, e := range newKeys {
		a.keyTable[e.Conv] = e
	}
	if err := a.updatePin(func(p *Pin) { p.Messages = nvm.MessagesTotal }); err != nil {
		return 0, err
	}
	// The set-aside commit is now part of the chain: forget it. A crash
	// before this line makes the next pull find it again and add nothing.
	return a.Head(), a.st.Delete(ctx, a.paths.rebased(old))
}

// setAsideCommit reads and checks a commit set aside by pull. It was signed
// with the archive's signing key; a re-key on the remote since is refused.
func (a *Archive) setAsideCommit(ctx context.Context, old uint64) (commitBody, error) {
	body, b, err := a.readSetAside(ctx, old)
	if err != nil {
		return body, err
	}
	// The epoch first: a commit made before a re-key on the remote is
	// signed by a key the chain has replaced, which is a conflict to
	// resolve, not damage.
	switch {
	case body.N != old:
		return body, integrityError(a.paths.rebased(old), "says it is commit %d", body.N)
	case body.Epoch != a.epoch():
		return body, rebaseError(old, "the archive was re-keyed on the remote since; export the same files again")
	case body.Kind != KindExport:
		return body, rebaseError(old, "it is a %s commit; only export commits can be rebased yet", body.Kind)
	}
	if _, err := decodeSigned(a.paths.rebased(old), b, seal.Expect{Kind: seal.KindCommit, ArchiveID: a.id[:], ObjectID: commitObjectID(old)}, a.signPub); err != nil {
		return body, err
	}
	return body, nil
}

// readSetAside reads a set-aside commit's body without checking its
// signature (prune uses it to keep the commit's objects; rebase checks it).
func (a *Archive) readSetAside(ctx context.Context, old uint64) (commitBody, []byte, error) {
	var body commitBody
	name := a.paths.rebased(old)
	b, err := readAll(ctx, a.st, name, maxCommitObject)
	if err != nil {
		return body, nil, err
	}
	hl, err := splitPlain(name, b, seal.Expect{Kind: seal.KindCommit, ArchiveID: a.id[:], ObjectID: commitObjectID(old)})
	if err != nil {
		return body, nil, err
	}
	if len(b) < hl+ed25519.SignatureSize {
		return body, nil, integrityError(name, "truncated")
	}
	if err := strictJSON(b[hl:len(b)-ed25519.SignatureSize], &body); err != nil {
		return body, nil, integrityError(name, "%v", err)
	}
	return body, b, nil
}

func (a *Archive) readVersionManifest(ctx context.Context, ref Ref, epoch uint32) (*versionManifest, error) {
	pt, err := a.readSealed(ctx, areaObjects, ref, a.key, seal.Expect{Kind: seal.KindVersionManifest, Epoch: epoch}, maxListObject)
	if err != nil {
		return nil, err
	}
	vm := &versionManifest{}
	if err := strictJSON(pt, vm); err != nil {
		return nil, integrityError(a.paths.object(areaObjects, ref.ID), "%v", err)
	}
	return vm, nil
}

// convBase is a conversation as the head has it: its manifest and the latest
// revision of every message (in an index bounded in memory, as export's).
type convBase struct {
	ref    Ref
	last   *convManifest
	latest *idindex.Index
}

func (a *Archive) loadConvBase(ctx context.Context, ids *idindex.Set, conv ID, ref Ref) (*convBase, error) {
	chain, err := a.manifestChain(ctx, conv, ref)
	if err != nil {
		return nil, err
	}
	key, _ := a.convKey(conv)
	base := &convBase{ref: ref, last: chain[len(chain)-1], latest: ids.New()}
	for _, m := range chain {
		if m.IndexRun == nil {
			continue
		}
		err := a.eachIndexRecord(ctx, conv, key, *m.IndexRun, func(r indexRecord) error {
			return base.latest.Put(r.IDHash, idindex.Value{Rev: r.Rev, Commit: r.Commit})
		})
		if err != nil {
			base.latest.Release()
			return nil, err
		}
	}
	return base, nil
}

// rebaser writes the objects of one rebased commit.
type rebaser struct {
	a    *Archive
	b    *builder
	old  uint32        // the set-aside commit's number
	n    uint32        // the new commit's number
	crcs map[ID]uint64 // CRC-64 of the set-aside commit's objects, from its integrity list
}

// conversation rebases one conversation's change onto base (nil: a
// conversation the remote does not have), reusing its segments and blobs. It
// returns nil when the remote already has every revision the change added.
func (rb *rebaser) conversation(ctx context.Context, conv ID, key []byte, m *convManifest, base *convBase) (*convChange, error) {
	run, supers, err := rb.runs(ctx, conv, key, m)
	if err != nil {
		return nil, err
	}
	kept, supers, added, err := rb.settle(run, supers, base)
	if err != nil {
		return nil, err
	}
	if len(kept) == 0 {
		return nil, nil
	}
	for _, s := range m.Segments {
		if err := rb.reuse(s.Ref); err != nil {
			return nil, err
		}
	}
	for _, bl := range m.Blobs {
		if err := rb.reuse(bl.Ref); err != nil {
			return nil, err
		}
	}
	return rb.write(ctx, conv, key, m, base, kept, supers, added)
}

// adopt rebases the change of a conversation this device created (from) into
// the conversation the remote created from the same source (to): its
// segments cannot be reused, being sealed under another conversation's key,
// so they are decrypted and sealed again under to's key, and the index records
// are re-keyed from the message ids in them. Attachments would need their
// blob ids re-derived and the lines naming them rewritten: refused for now.
func (rb *rebaser) adopt(ctx context.Context, from ID, fromKey []byte, m *convManifest, to ID, base *convBase) (*convChange, error) {
	if len(m.Blobs) > 0 {
		return nil, rebaseError(uint64(rb.old), "conversation %s was created on both devices and has attachments here; discard this device's copy of the archive, pull it again and export that chat again", from.Short())
	}
	run, supers, err := rb.runs(ctx, from, fromKey, m)
	if err != nil {
		return nil, err
	}
	toKey, err := rb.a.convKey(to)
	if err != nil {
		return nil, err
	}
	src := &convReader{a: rb.a, conv: from, key: fromKey}
	// First pass: every message id, to re-key the index records.
	fromMAC := hmac.New(sha256.New, messageIDKey(fromKey, from))
	toMAC := hmac.New(sha256.New, messageIDKey(toKey, to))
	rekey := map[[16]byte][16]byte{}
	err = rb.eachSegment(ctx, src, m, func(s segmentRef, plain []byte) error {
		if err := mapMessageIDs(plain, fromMAC, toMAC, rekey); err != nil {
			return integrityError(rb.a.paths.object(areaObjects, s.ID), "%v", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, recs := range [][]indexRecord{run, supers} {
		for i, r := range recs {
			idh, ok := rekey[r.IDHash]
			if !ok {
				return nil, integrityError(rb.a.paths.rebased(uint64(rb.old)), "an index record of conversation %s names no message of its segments", from.Short())
			}
			recs[i].IDHash = idh
		}
	}
	kept, supers, added, err := rb.settle(run, supers, base)
	if err != nil {
		return nil, err
	}
	if len(kept) == 0 {
		return nil, nil
	}
	// Second pass: the segments sealed again under the target conversation.
	nm := *m
	nm.Segments = nil
	err = rb.eachSegment(ctx, src, m, func(s segmentRef, plain []byte) error {
		ref, err := rb.reseal(ctx, to, toKey, s, plain)
		nm.Segments = append(nm.Segments, ref)
		return err
	})
	if err != nil {
		return nil, err
	}
	return rb.write(ctx, to, toKey, &nm, base, kept, supers, added)
}

// eachSegment decrypts and decompresses a change's segments one at a time.
func (rb *rebaser) eachSegment(ctx context.Context, src *convReader, m *convManifest, fn func(segmentRef, []byte) error) error {
	for _, s := range m.Segments {
		plain, err := src.decodeSegment(ctx, &restoreSeg{segmentRef: s, commit: uint64(rb.old)})
		if err != nil {
			return err
		}
		err = fn(s, plain)
		putBuf(plain)
		if err != nil {
			return err
		}
	}
	return nil
}

// mapMessageIDs records, for every line of a segment, its message id hashed
// under the source conversation's key and under the target's.
func mapMessageIDs(plain []byte, from, to hash.Hash, out map[[16]byte][16]byte) error {
	for line := range bytes.Lines(plain) {
		msg, err := canon.ParseLine(bytes.TrimSuffix(line, []byte{'\n'}))
		if err != nil {
			return err
		}
		var f, t [16]byte
		for _, x := range []struct {
			h   hash.Hash
			out *[16]byte
		}{{from, &f}, {to, &t}} {
			x.h.Reset()
			io.WriteString(x.h, msg.ID)
			copy(x.out[:], x.h.Sum(nil))
		}
		out[f] = t
	}
	return nil
}

// reseal stores a segment's plaintext again, sealed under another
// conversation.
func (rb *rebaser) reseal(ctx context.Context, conv ID, key []byte, s segmentRef, plain []byte) (segmentRef, error) {
	enc, err := newSegmentEncoder(CompressFastest)
	if err != nil {
		return s, err
	}
	defer enc.Close()
	obj, err := rb.a.sealObject(areaObjects, seal.KindSegment, &conv, key, enc.EncodeAll(plain, []byte{codecZstd}))
	if err != nil {
		return s, err
	}
	if err := rb.b.put(ctx, obj); err != nil {
		return s, err
	}
	s.Ref = obj.ref
	return s, nil
}

// runs reads a change's index run and superseded run, with the set-aside
// commit's number replaced by the new one.
func (rb *rebaser) runs(ctx context.Context, conv ID, key []byte, m *convManifest) (run, supers []indexRecord, err error) {
	if m.IndexRun == nil {
		return nil, nil, nil
	}
	if run, err = rb.a.readIndexRun(ctx, conv, key, *m.IndexRun); err != nil {
		return nil, nil, err
	}
	if m.Superseded != nil {
		if supers, err = rb.a.readIndexRun(ctx, conv, key, *m.Superseded); err != nil {
			return nil, nil, err
		}
	}
	for _, recs := range [][]indexRecord{run, supers} {
		for i := range recs {
			if recs[i].Commit == rb.old {
				recs[i].Commit = rb.n
			}
		}
	}
	return run, supers, nil
}

// settle compares a change's latest revisions with the remote's (base) and
// returns the records to keep, the superseded records, and how many messages
// are new.
func (rb *rebaser) settle(run, supers []indexRecord, base *convBase) (kept, _ []indexRecord, added int64, err error) {
	for _, r := range run {
		var cur idindex.Value
		var seen bool
		if base != nil {
			if cur, seen, err = base.latest.Get(r.IDHash); err != nil {
				return nil, nil, 0, err
			}
		}
		switch {
		case !seen:
			added++
			kept = append(kept, r)
		case cur.Rev == r.Rev:
			if r.Commit == rb.n {
				supers = append(supers, r) // the remote has it: show its copy only
			}
		default:
			supers = append(supers, indexRecord{IDHash: r.IDHash, Rev: cur.Rev, Commit: cur.Commit})
			kept = append(kept, r)
		}
	}
	return kept, supers, added, nil
}

// write stores the new index run, superseded run and manifest of a rebased
// conversation change.
func (rb *rebaser) write(ctx context.Context, conv ID, key []byte, m *convManifest, base *convBase, kept, supers []indexRecord, added int64) (*convChange, error) {
	nm := &convManifest{Commit: uint64(rb.n), SourceKey: m.SourceKey, Label: m.Label, Participants: m.Participants,
		Segments: m.Segments, Blobs: m.Blobs, Messages: added, IndexRunCount: 1}
	if base != nil {
		nm.Parent = &base.ref
		nm.Messages += base.last.Messages
		nm.First, nm.Last = base.last.First, base.last.Last
		nm.IndexRunCount += base.last.IndexRunCount
	}
	for _, s := range m.Segments {
		nm.First, nm.Last = widen(nm.First, nm.Last, s.First, s.Last)
	}
	ref, err := rb.b.sealed(ctx, areaObjects, seal.KindIndexRun, &conv, key, encodeIndexRun(kept))
	if err != nil {
		return nil, err
	}
	nm.IndexRun = &ref
	if len(supers) > 0 {
		ref, err := rb.b.sealed(ctx, areaObjects, seal.KindIndexRun, &conv, key, encodeIndexRun(supers))
		if err != nil {
			return nil, err
		}
		nm.Superseded = &ref
	}
	mref, err := rb.b.sealedJSON(ctx, areaObjects, seal.KindConversationManifest, &conv, key, nm)
	if err != nil {
		return nil, err
	}
	return &convChange{ID: conv, Manifest: mref, Added: added}, nil
}

// reuse records an object of the set-aside commit in the new commit's
// integrity list; the commit checks it is still there before it is written.
func (rb *rebaser) reuse(ref Ref) error {
	crc, ok := rb.crcs[ref.ID]
	if !ok {
		return integrityError(rb.a.paths.object(areaObjects, ref.ID), "not in the integrity list of set-aside commit %d", rb.old)
	}
	return rb.b.record(areaObjects, ref, crc, func() {})
}

// widen extends the span [first, last] to cover [f, l].
func widen(first, last, f, l time.Time) (time.Time, time.Time) {
	if first.IsZero() || (!f.IsZero() && f.Before(first)) {
		first = f
	}
	if l.After(last) {
		last = l
	}
	return first, last
}
