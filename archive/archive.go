package archive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/crypto/seal"
	"github.com/chatvault/chatvault/remote"
)

// Archive is one archive in a store. Open gives a verified but locked archive
// (the commit chain, descriptor and wrapper envelopes, checked without any
// secret); Unlock adds the archive key, which Export, Restore and the decrypting
// parts of List and Verify need.
type Archive struct {
	st    remote.Store
	id    ID
	paths paths
	opts  Options

	desc          descriptor
	descriptorRef Ref
	commits       []commitInfo // commits[i] is commit i+1, verified
	signPub       ed25519.PublicKey
	nextEpoch     uint32 // the epoch of the archive key a re-key is making, else 0
	behind        uint64 // newest commit this device knows, when the store has less
	diverged      uint64 // first commit where the store differs from this device's unpushed ones

	// set by Unlock
	key      []byte
	signer   ed25519.PrivateKey
	keyTable map[ID]keyTableEntry
	versions []*versionManifest // versions[i] is commit i+1's manifest, loaded on demand
}

type commitInfo struct {
	body    commitBody
	digest  Digest // SHA-256 of the stored commit object
	size    int64
	signPub ed25519.PublicKey // the key that signed it (and its integrity list)
}

// Options apply to every archive operation.
type Options struct {
	State State                            // where this device remembers archives; zero value: nowhere
	Rand  io.Reader                        // randomness; nil: crypto/rand
	Now   func() time.Time                 // clock; nil: time.Now
	Warn  func(msg string)                 // non-fatal warnings for the user; nil: dropped
	Pin   string                           // expected fingerprint (hex); "" trusts on first use
	Log   func(format string, args ...any) // verbose progress notes; nil: dropped
}

func (o *Options) fill() {
	if o.Rand == nil {
		o.Rand = defaultRand
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Warn == nil {
		o.Warn = func(string) {}
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
}

// ID returns the archive id.
func (a *Archive) ID() ID { return a.id }

// Head returns the number of the newest commit.
func (a *Archive) Head() uint64 { return uint64(len(a.commits)) }

// Suite returns the archive's cipher suite.
func (a *Archive) Suite() string { return a.desc.Suite }

// Fingerprint returns the archive fingerprint (hex), which never changes.
func (a *Archive) Fingerprint() string {
	return fingerprint(a.id, a.desc.SigningKey).String()
}

// Locked reports whether the archive key is missing.
func (a *Archive) Locked() bool { return a.key == nil }

func commitObjectID(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// Open reads and verifies an archive's commit chain, descriptor and signatures
// without any secret, and checks them against this device's record: a different
// fingerprint or a different commit at a known number is a fork, a known commit
// that vanished a rollback (both ErrIntegrity).
func Open(ctx context.Context, st remote.Store, id ID, opts Options) (*Archive, error) {
	opts.fill()
	a := &Archive{st: st, id: id, paths: pathsFor(id), opts: opts}
	var names []uint64
	err := st.List(ctx, a.paths.commits(), func(info remote.Info) error {
		n, ok := parseCommitName(info.Name)
		if !ok {
			return integrityError(info.Name, "not a commit name")
		}
		names = append(names, n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: archive %s in %s", ErrNotFound, id, st)
	}
	for i, n := range names {
		if n != uint64(i+1) {
			return nil, integrityError(a.paths.commit(uint64(i+1)), "missing (the store has commits up to %d)", names[len(names)-1])
		}
	}
	for _, n := range names {
		if err := a.loadCommit(ctx, n); err != nil {
			return nil, err
		}
	}
	if err := a.checkPin(); err != nil {
		return nil, err
	}
	return a, nil
}

// loadCommit reads commit n, verifies it against the chain so far and appends it.
func (a *Archive) loadCommit(ctx context.Context, n uint64) error {
	name := a.paths.commit(n)
	b, err := readAll(ctx, a.st, name, maxCommitObject)
	if err != nil {
		return err
	}
	want := seal.Expect{Kind: seal.KindCommit, ArchiveID: a.id[:], ObjectID: commitObjectID(n)}
	hl, err := splitPlain(name, b, want)
	if err != nil {
		return err
	}
	if len(b) < hl+ed25519.SignatureSize {
		return integrityError(name, "truncated")
	}
	var body commitBody
	if err := strictJSON(b[hl:len(b)-ed25519.SignatureSize], &body); err != nil {
		return integrityError(name, "%v", err)
	}
	if n == 1 {
		// The genesis commit names the descriptor, which holds the genesis
		// signing key; the commit's signature is checked with it right after.
		if err := a.loadDescriptor(ctx, body.Descriptor); err != nil {
			return err
		}
		a.signPub = a.desc.SigningKey
	}
	if body.KeyChange != nil {
		if err := a.changeSigningKey(ctx, n, *body.KeyChange); err != nil {
			return err
		}
	}
	if _, err := decodeSigned(name, b, want, a.signPub); err != nil {
		return err
	}
	switch {
	case body.Format != 1:
		return integrityError(name, "format %d", body.Format)
	case body.N != n:
		return integrityError(name, "says it is commit %d", body.N)
	case body.Descriptor != a.commitsDescriptor():
		return integrityError(name, "names another descriptor")
	case body.SigningKey != keyID(a.signPub):
		return integrityError(name, "signed by key %s, expected %s", body.SigningKey, keyID(a.signPub))
	}
	if n == 1 {
		if body.Parent != nil || body.Kind != KindInit {
			return integrityError(name, "commit 1 must be an init commit without parent")
		}
	} else {
		prev := a.commits[n-2]
		if body.Parent == nil || *body.Parent != prev.digest {
			return integrityError(name, "parent is not commit %d (the chain was rewritten)", n-1)
		}
		switch {
		case body.KeyChange != nil && body.Epoch != prev.body.Epoch+1:
			return integrityError(name, "changes the signing key but moves the key epoch from %d to %d", prev.body.Epoch, body.Epoch)
		case body.KeyChange == nil && body.Epoch != prev.body.Epoch:
			return integrityError(name, "changes the key epoch without a key change")
		}
		switch body.Kind {
		case KindExport, KindKeys, KindRekey, KindShred, KindCompact:
		default:
			return integrityError(name, "unknown commit kind %q", body.Kind)
		}
	}
	a.commits = append(a.commits, commitInfo{body: body, digest: sha256.Sum256(b), size: int64(len(b)), signPub: a.signPub})
	return nil
}

// keyChange is the body of a key-change record: the successor of a signing
// key, signed by it predecessor (FORMAT.md §4.11).
type keyChange struct {
	Previous string `json:"previous"` // key id of the predecessor
	Next     []byte `json:"next"`     // the successor's Ed25519 public key
	Commit   uint64 `json:"commit"`   // the re-key commit that makes it current
}

// changeSigningKey reads commit n's key-change record, checks that the
// current signing key signed it for this commit, and makes its successor the
// signing key from commit n on.
func (a *Archive) changeSigningKey(ctx context.Context, n uint64, ref Ref) error {
	name := a.paths.object(areaObjects, ref.ID)
	b, err := a.readRef(ctx, name, ref, maxSmallObject)
	if err != nil {
		return err
	}
	body, err := decodeSigned(name, b, seal.Expect{Kind: seal.KindKeyChange, ArchiveID: a.id[:], ObjectID: ref.ID[:]}, a.signPub)
	if err != nil {
		return err
	}
	var kc keyChange
	if err := strictJSON(body, &kc); err != nil {
		return integrityError(name, "%v", err)
	}
	if kc.Previous != keyID(a.signPub) || kc.Commit != n || len(kc.Next) != ed25519.PublicKeySize {
		return integrityError(name, "is not a key change of signing key %s at commit %d", keyID(a.signPub), n)
	}
	a.signPub = ed25519.PublicKey(kc.Next)
	return nil
}

func (a *Archive) commitsDescriptor() Ref { return a.descriptorRef }

func (a *Archive) loadDescriptor(ctx context.Context, ref Ref) error {
	name := a.paths.object(areaObjects, ref.ID)
	b, err := a.readRef(ctx, name, ref, maxSmallObject)
	if err != nil {
		return err
	}
	body, err := decodeHashed(name, b, seal.Expect{Kind: seal.KindDescriptor, ArchiveID: a.id[:], ObjectID: ref.ID[:]})
	if err != nil {
		return err
	}
	if err := strictJSON(body, &a.desc); err != nil {
		return integrityError(name, "%v", err)
	}
	if a.desc.Format != 1 || a.desc.Archive != a.id || len(a.desc.SigningKey) != ed25519.PublicKeySize {
		return integrityError(name, "not a descriptor of this archive")
	}
	if _, err := seal.ParseSuite(a.desc.Suite); err != nil {
		return integrityError(name, "%v", err)
	}
	a.descriptorRef = ref
	return nil
}

// checkPin compares the verified chain with what this device knows, then
// records it. A different commit at a known number is a fork (ErrIntegrity),
// except at a commit this device made and has not pushed yet: that is the
// divergence `pull` rebases. A store whose head is below the newest commit the
// device knows is behind, which is fine for reading; a commit the device saw
// in this very store that has vanished is a rollback (ErrIntegrity).
func (a *Archive) checkPin() error {
	fp := fingerprint(a.id, a.desc.SigningKey)
	if a.opts.Pin != "" {
		want := strings.NewReplacer(" ", "", ":", "", "-", "").Replace(strings.ToLower(a.opts.Pin))
		if want != fp.String() {
			return fmt.Errorf("%w: archive %s has fingerprint %s, not the pinned %s", ErrIntegrity, a.id, fp, a.opts.Pin)
		}
	}
	pin, err := a.opts.State.Load(a.id)
	if err != nil {
		return err
	}
	if pin == nil {
		if a.opts.Pin == "" {
			a.opts.Warn(fmt.Sprintf("archive %s is new to this device: trusting its fingerprint %s on first use", a.id.Short(), fp))
		}
		pin = &Pin{Fingerprint: fp, Commits: map[string]Digest{}}
	}
	if pin.Fingerprint != fp {
		return fmt.Errorf("%w: archive %s has fingerprint %s, but this device knows it as %s (a different archive under the same id)", ErrIntegrity, a.id, fp, pin.Fingerprint)
	}
	var known uint64
	for k, d := range pin.Commits {
		n, err := strconv.ParseUint(k, 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("state file of archive %s names commit %q", a.id, k)
		}
		known = max(known, n)
		if n > a.Head() || a.commits[n-1].digest == d {
			continue
		}
		seenHere := pin.Stores == nil || pin.Stores[a.st.String()] >= n
		if seenHere || !slices.Contains(pin.LocalOnly, n) {
			return fmt.Errorf("%w: %s differs from the commit %d this device verified before (a fork)", ErrIntegrity, a.paths.commit(n), n)
		}
		if a.diverged == 0 || n < a.diverged {
			a.diverged = n
		}
	}
	if known > a.Head() {
		seen, legacy := pin.Stores[a.st.String()], pin.Stores == nil
		if legacy || seen > a.Head() {
			if legacy {
				seen = known
			}
			return fmt.Errorf("%w: %s: commit %d, which this device saw in %s before, has vanished (the store was rolled back to commit %d)", ErrIntegrity, a.paths.commit(seen), seen, a.st, a.Head())
		}
		a.behind = known
		a.opts.Warn(fmt.Sprintf("%s is behind: it has archive %s up to commit %d, this device knows commit %d (push to bring it up to date)", a.st, a.id.Short(), a.Head(), known))
	}
	if a.diverged != 0 {
		a.opts.Warn(fmt.Sprintf("%s has another commit %d of archive %s than the one this device made and has not pushed; `chatvault pull` rebases it", a.st, a.diverged, a.id.Short()))
	}
	return a.record(pin)
}

// record adds every verified commit to the device's pin (up to a divergence
// from this device's unpushed commits, which keep their own record) and notes
// the store's head.
func (a *Archive) record(pin *Pin) error {
	for i, c := range a.commits {
		n := uint64(i + 1)
		if a.diverged != 0 && n >= a.diverged {
			break
		}
		pin.Commits[commitKey(n)] = c.digest
	}
	if pin.Stores == nil {
		pin.Stores = map[string]uint64{}
	}
	pin.Stores[a.st.String()] = max(pin.Stores[a.st.String()], a.Head())
	return a.opts.State.Save(a.id, pin)
}

// checkWritable refuses to add a commit to a store that is behind this
// device's record or holds another commit than this device's unpushed one:
// the new commit would fork the archive.
func (a *Archive) checkWritable() error {
	switch {
	case a.diverged != 0:
		return fmt.Errorf("%w: %s holds another commit %d of archive %s than this device's unpushed one; pull first", ErrConflict, a.st, a.diverged, a.id.Short())
	case a.behind != 0:
		return fmt.Errorf("%w: %s has archive %s up to commit %d, but this device knows commit %d; pull first", ErrConflict, a.st, a.id.Short(), a.Head(), a.behind)
	}
	return nil
}

// updatePin re-reads the pin, applies fn and saves it.
func (a *Archive) updatePin(fn func(*Pin)) error {
	pin, err := a.opts.State.Load(a.id)
	if err != nil {
		return err
	}
	if pin == nil {
		pin = &Pin{Fingerprint: fingerprint(a.id, a.desc.SigningKey), Commits: map[string]Digest{}}
	}
	if pin.Stores == nil {
		pin.Stores = map[string]uint64{}
	}
	fn(pin)
	return a.record(pin)
}

// strictJSON decodes one JSON value, refusing unknown fields and trailing data.
func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after JSON")
	}
	return nil
}

// readSealed reads an encrypted object by reference and decrypts it whole.
func (a *Archive) readSealed(ctx context.Context, ar area, ref Ref, parent []byte, want seal.Expect, max int64) ([]byte, error) {
	name := a.paths.object(ar, ref.ID)
	b, err := a.readRef(ctx, name, ref, max)
	if err != nil {
		return nil, err
	}
	want.ArchiveID = a.id[:]
	want.ObjectID = ref.ID[:]
	pt, err := seal.Open(parent, want, b, max)
	if err != nil {
		return nil, integrityError(name, "%v", err)
	}
	return pt, nil
}
