package shred

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/vault"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/s3"
)

// ErrIncomplete: the shred did not finish (a delete refused, a store or KMS
// unreachable, a crash before): the report says what is and is not done, and
// running the shred again finishes it. The CLI maps it to exit 6. The error
// also wraps the first failure's own error (remote.ErrUnavailable,
// awskms.ErrUnreachable, ...), so match ErrIncomplete first.
var ErrIncomplete = errors.New("shred not complete")

// Options of Archive, Resume and Conversation.
type Options struct {
	// DryRun lists what would be destroyed and destroys nothing (KMS keys
	// are described, not touched; no journal is written).
	DryRun bool
	// KMS is the client for aws-kms wrappers; nil when the archive has none
	// (with aws-kms wrappers and no client, a shred is incomplete).
	KMS *awskms.Client
	// KMSPendingDays is the waiting period of the deletion of dedicated KMS
	// keys, 7 to 30 days; 0 means 7.
	KMSPendingDays int
	// Vault is the client for vault-transit wrappers (its server and token;
	// each wrapper's own mount is used); nil when the archive has none
	// (with a dedicated vault-transit wrapper and no client, a shred is
	// incomplete).
	Vault *vault.Client
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// State is the device state to forget once the archive is gone.
	State archive.State
	// Operator is who runs the shred; nil: Identify is asked when an S3 store
	// or a KMS client is involved, else the local user is recorded.
	Operator *Operator
	// Journal, if set, is a file the report is written to (0600, atomically)
	// before anything is deleted and after every step, so that a shred
	// interrupted even by a crash can be finished: Archive merges the KEKs a
	// journal of the same archive names, and Resume continues from it when
	// the archive can no longer be opened. The CLI may use the --report file.
	Journal string
	// Jobs is how many deletes run at once per store; 0 means 8.
	Jobs int

	// DestroyKMSKeys and DestroyVaultKeys are, for Conversation, the
	// dedicated KEKs of former wrappers the re-key moved to a new dedicated
	// key: KMS key ARNs (as the wrappers name them) and Vault keys
	// ("<mount>/<key>"). Conversation destroys them after the tombstones,
	// with the checks an archive shred makes (a key no former wrapper marks
	// dedicated, or that wraps the new archive key, is never touched).
	DestroyKMSKeys   []string
	DestroyVaultKeys []string
}

// destroyKEK reports whether a conversation shred is to destroy the KEK kek
// (a report's Wrapper.KEK) of a former wrapper: it is listed in
// DestroyKMSKeys or DestroyVaultKeys, and no new wrapper uses it.
func (x *run) destroyKEK(kek string) bool {
	listed := false
	for _, k := range x.o.DestroyKMSKeys {
		listed = listed || k == kek
	}
	for _, k := range x.o.DestroyVaultKeys {
		listed = listed || VaultKEKPrefix+k == kek
	}
	for _, w := range x.r.NewWrappers {
		listed = listed && w.KEK != kek
	}
	return listed
}

func (o *Options) fill() error {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.KMSPendingDays == 0 {
		o.KMSPendingDays = awskms.MinPendingDays
	}
	if o.KMSPendingDays < awskms.MinPendingDays || o.KMSPendingDays > awskms.MaxPendingDays {
		return fmt.Errorf("KMS deletion waiting period of %d days: KMS accepts %d to %d", o.KMSPendingDays, awskms.MinPendingDays, awskms.MaxPendingDays)
	}
	if o.Jobs <= 0 {
		o.Jobs = 8
	}
	return nil
}

// Archive shreds a whole archive from every store given (the archive's own
// store is always included), in an order that leaves the data unreadable
// whenever it stops, crash included:
//
//  1. keys: in every store, every object under the archive's keys/ (wrappers,
//     wrapper sets, key tables), every version and delete marker;
//  2. kms: every dedicated KMS key of an aws-kms wrapper is disabled and
//     scheduled for deletion (after checking it is of origin AWS_KMS,
//     single-region and tagged chatvault:archive=<id>; a key that fails the
//     checks, or a shared one, is never touched); then every dedicated Vault
//     Transit key of a vault-transit wrapper is deleted (after checking it
//     is named chatvault-<id> and is neither exportable nor allows a
//     plaintext backup);
//  3. data: in every store whose keys step finished, the commits (newest
//     first) and every other object of the archive, every version, and its
//     multipart uploads in progress;
//  4. state: the device forgets the archive.
//
// A version Object Lock keeps is recorded (Report.Retained, with its date)
// and the shred goes on. Any other failure leaves the rest of that store
// undone (Report.Remaining) and the other stores go on; the report is
// returned with an error wrapping ErrIncomplete. Running it again is safe and
// finishes the job: what is gone stays gone and a missing object is not an
// error.
//
// The former wrappers are read from a first (Archive.Wrappers, no secret
// needed), plus the wrappers earlier commits removed (their KEKs unknown),
// plus those a journal of an earlier run names (see Options.Journal). When
// the wrappers cannot be read any more (an earlier run deleted them) and no
// journal names them, Archive fails before deleting anything: use Resume with
// the earlier report.
func Archive(ctx context.Context, a *archive.Archive, stores []remote.Store, o Options) (*Report, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	r := newReport(KindArchive, a.ID().String(), a.Fingerprint(), a.Prefix(), a.KeysPrefix(), o)
	prev := loadJournal(o.Journal, r)
	ws, werr := a.Wrappers(ctx)
	if werr != nil && prev == nil {
		return nil, fmt.Errorf("reading the wrappers of archive %s: %w (to finish a shred whose keys step already ran, resume it from its report)", a.ID().Short(), werr)
	}
	for _, w := range ws {
		r.Wrappers = append(r.Wrappers, describeWrapper(w))
	}
	hist, err := history(ctx, a, a.Head())
	if err != nil {
		return nil, err
	}
	r.Wrappers = mergeWrappers(r.Wrappers, hist)
	if prev != nil {
		r.Wrappers = mergeWrappers(r.Wrappers, prev.Wrappers)
		r.Notes = append(r.Notes, "continues the shred started "+prev.Started.UTC().Format(time.RFC3339))
	}
	x := newRun(r, withStore(a.Store(), stores), o, a.ID())
	return x.archive(ctx)
}

// Resume finishes a whole-archive shred from its earlier report (or journal)
// when the archive cannot be opened any more: the KEKs to destroy and the
// prefixes come from prev, the stores are those given (every store prev
// names must be among them, else the shred stays incomplete). The new report
// covers everything the two runs did not leave undone.
func Resume(ctx context.Context, prev *Report, stores []remote.Store, o Options) (*Report, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	if prev.Kind != KindArchive {
		return nil, fmt.Errorf("resume: a %s shred report; only an archive shred is resumed (a conversation shred is finished by running Conversation again)", prev.Kind)
	}
	id, err := archive.ParseID(prev.Archive)
	if err != nil {
		return nil, fmt.Errorf("resume: %w: %v", ErrBadReport, err)
	}
	if prev.Prefix != "archives/"+id.String()+"/" || prev.KeysPrefix != prev.Prefix+"keys/" {
		return nil, fmt.Errorf("resume: %w: prefixes %q, %q are not those of archive %s", ErrBadReport, prev.Prefix, prev.KeysPrefix, id)
	}
	r := newReport(KindArchive, prev.Archive, prev.Fingerprint, prev.Prefix, prev.KeysPrefix, o)
	r.Wrappers = mergeWrappers(nil, prev.Wrappers)
	r.Notes = append(r.Notes, "continues the shred started "+prev.Started.UTC().Format(time.RFC3339))
	x := newRun(r, stores, o, id)
	given := map[string]bool{}
	for _, st := range x.stores {
		given[st.String()] = true
	}
	for _, s := range prev.Stores {
		if !given[s.URL] {
			x.r.Stores = append(x.r.Stores, StoreReport{URL: s.URL})
			x.remain(Remaining{Store: s.URL, Step: StepKeys, Error: "store named by the earlier report was not given: not cleaned"})
		}
	}
	return x.archive(ctx)
}

// ConversationShred is what the CLI knows of a conversation shred it made
// with archive.ShredConversation.
type ConversationShred struct {
	Conversation archive.ID
	Result       archive.RekeyResult // what ShredConversation returned
	// Former: the wrappers of the archive key before the shred
	// (Archive.Wrappers called before ShredConversation); the report grades
	// the shred by their KEKs.
	Former []*archive.Wrapper
}

// Conversation completes and reports a conversation shred after the engine's
// archive.ShredConversation: the tombstones of its commit (superseded
// wrappers, wrapper set and key tables, the re-encrypted version manifests'
// originals and every object of the conversation) are deleted, every version,
// from every store given (the archive's own store too, where the engine
// already deleted them: leftovers are removed), key material first. It
// destroys no KMS or Vault key (a KEK of the old archive key may wrap the new
// one) but those Options.DestroyKMSKeys and DestroyVaultKeys name (dedicated
// keys the re-key replaced by new dedicated ones): the keys are described,
// and the grade follows the KEKs of the old archive key (Former) and of
// wrappers removed earlier.
//
// Push the shred commit to the other stores first (archive.Push), or they
// keep an archive whose head commit's wrappers and key table are gone.
func Conversation(ctx context.Context, a *archive.Archive, cs ConversationShred, stores []remote.Store, o Options) (*Report, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	n := cs.Result.Commit
	if n < 2 || n > a.Head() {
		return nil, fmt.Errorf("conversation shred: commit %d is not a commit of archive %s (head %d)", n, a.ID().Short(), a.Head())
	}
	commits, err := a.Commits(ctx)
	if err != nil {
		return nil, err
	}
	if commits[n-1].Kind != archive.KindShred {
		return nil, fmt.Errorf("conversation shred: commit %d of archive %s is a %s commit, not a shred", n, a.ID().Short(), commits[n-1].Kind)
	}
	r := newReport(KindConversation, a.ID().String(), a.Fingerprint(), a.Prefix(), a.KeysPrefix(), o)
	r.Conversation, r.Commit = cs.Conversation.String(), n
	former := map[string]bool{}
	for _, w := range cs.Former {
		r.Wrappers = append(r.Wrappers, describeWrapper(w))
		former[a.KeysPrefix()+w.ID.String()] = true
	}
	hist, err := history(ctx, a, n-1)
	if err != nil {
		return nil, err
	}
	r.Wrappers = mergeWrappers(r.Wrappers, hist)
	for _, w := range cs.Result.Wrappers {
		nw := describeWrapper(w)
		nw.Source, nw.KEKStatus, nw.Reason = "new", KEKSurvives, "wraps the new archive key"
		r.NewWrappers = append(r.NewWrappers, nw)
	}
	keyTables := map[string]bool{}
	for m := uint64(1); m < n; m++ {
		keyTables[a.KeyTableName(m)] = true
	}
	for _, name := range a.Tombstoned(n) {
		what := "object"
		switch {
		case former[name]:
			what = "wrapper"
		case keyTables[name]:
			what = "key-table"
		case strings.HasPrefix(name, a.KeysPrefix()):
			what = "wrapper-set"
		}
		r.Tombstones = append(r.Tombstones, Tombstone{Name: name, What: what})
	}
	if len(cs.Former) == 0 {
		r.Notes = append(r.Notes, "the wrappers of the old archive key were not given: the grade cannot name their KEKs")
		r.Wrappers = append(r.Wrappers, Wrapper{ID: "?", Type: "unknown", KEK: "unknown", Source: "head", KEKStatus: KEKUnknown,
			Reason: "the wrappers of the old archive key were not recorded before the shred"})
	}
	x := newRun(r, withStore(a.Store(), stores), o, a.ID())
	return x.conversation(ctx)
}

func newReport(kind, id, fp, prefix, keysPrefix string, o Options) *Report {
	return &Report{
		Format: FormatVersion, Kind: kind, Archive: id, Fingerprint: fp, Prefix: prefix, KeysPrefix: keysPrefix,
		DryRun: o.DryRun, Started: o.Now().UTC(), NotCovered: NotCovered,
	}
}

// withStore puts first in front of stores and drops duplicates (by String).
func withStore(first remote.Store, stores []remote.Store) []remote.Store {
	return append([]remote.Store{first}, stores...)
}

// loadJournal returns the journal's report if it is an archive shred of the
// same archive and fingerprint.
func loadJournal(path string, r *Report) *Report {
	if path == "" {
		return nil
	}
	prev, err := LoadReport(path)
	if err != nil || prev.Kind != KindArchive || prev.Archive != r.Archive || prev.Fingerprint != r.Fingerprint || prev.DryRun {
		return nil
	}
	return prev
}

// describeWrapper describes a wrapper of the archive key and its KEK, before
// any KMS state is known.
func describeWrapper(w *archive.Wrapper) Wrapper {
	d := Wrapper{ID: w.ID.String(), Type: w.Type, Source: "head", KEKStatus: KEKSurvives}
	switch w.Type {
	case archive.WrapperPassphrase:
		d.KEK, d.Reason = "passphrase", "a passphrase cannot be destroyed: whoever knows it opens any copy of the wrapper"
	case archive.WrapperRecovery:
		d.KEK, d.Reason = "recovery key", "a recovery key cannot be destroyed: whoever kept it opens any copy of the wrapper"
	case archive.WrapperAge:
		d.KEK, d.Reason = "age recipient "+w.Recipient, "a device key survives on its device"
	case archive.WrapperKMS:
		d.KEK, d.Dedicated = w.KeyID, w.Dedicated
		d.KEKStatus, d.Reason = KEKUnknown, "KMS key state not asked"
	case archive.WrapperVault:
		d.KEK, d.Dedicated = VaultKEKPrefix+w.KeyID, w.Dedicated
		d.KEKStatus, d.Reason = KEKUnknown, "Vault key state not asked"
	default:
		d.KEK, d.KEKStatus, d.Reason = "unknown", KEKUnknown, "a wrapper type this version does not know"
	}
	return d
}

// mergeWrappers appends the wrappers of add not in ws (by id).
func mergeWrappers(ws, add []Wrapper) []Wrapper {
	have := map[string]bool{}
	for _, w := range ws {
		have[w.ID] = true
	}
	for _, w := range add {
		if !have[w.ID] {
			have[w.ID] = true
			ws = append(ws, w)
		}
	}
	return ws
}

// history lists the wrappers commits 2..upTo removed (keys remove, rotate,
// re-keys, earlier conversation shreds), described by their tombstones: each
// KEK is graded like a head wrapper's. A tombstone that does not describe its
// wrapper (archives written before tombstones did) counts as a KEK that may
// survive.
func history(ctx context.Context, a *archive.Archive, upTo uint64) ([]Wrapper, error) {
	commits, err := a.Commits(ctx)
	if err != nil {
		return nil, err
	}
	var out []Wrapper
	for _, f := range a.FormerWrappers(upTo) {
		kind := commits[f.RemovedBy-1].Kind
		if f.Type == "" {
			out = append(out, Wrapper{
				ID: f.ID.String(), Type: "unknown", KEK: "unknown", Source: "history", RemovedBy: f.RemovedBy, KEKStatus: KEKUnknown,
				Reason: fmt.Sprintf("removed by commit %d (%s), whose tombstone does not name its KEK; it may survive, and so may copies of the wrapper", f.RemovedBy, kind),
			})
			continue
		}
		d := describeWrapper(&archive.Wrapper{ID: f.ID, Type: f.Type, KeyID: f.KeyID, Recipient: f.Recipient, Dedicated: f.Dedicated})
		d.Source, d.RemovedBy = "history", f.RemovedBy
		d.Reason = fmt.Sprintf("removed by commit %d (%s); %s", f.RemovedBy, kind, d.Reason)
		out = append(out, d)
	}
	return out, nil
}

// run is one shred at work.
type run struct {
	r      *Report
	o      Options
	id     archive.ID
	stores []remote.Store

	mu       sync.Mutex
	firstErr error
	retained map[string]bool // store \x00 name \x00 version
	planned  map[string]bool // the same, in a dry run
	journal  error           // the last journal write's failure
}

func newRun(r *Report, stores []remote.Store, o Options, id archive.ID) *run {
	x := &run{r: r, o: o, id: id, retained: map[string]bool{}, planned: map[string]bool{}}
	seen := map[string]bool{}
	for _, st := range stores {
		if st == nil || seen[st.String()] {
			continue
		}
		seen[st.String()] = true
		x.stores = append(x.stores, st)
	}
	return x
}

func (x *run) storeReport(st remote.Store) *StoreReport {
	for i := range x.r.Stores {
		if x.r.Stores[i].URL == st.String() {
			return &x.r.Stores[i]
		}
	}
	x.r.Stores = append(x.r.Stores, StoreReport{URL: st.String()})
	return &x.r.Stores[len(x.r.Stores)-1]
}

// remain records something not done. Steps run one at a time; only the
// goroutines of deleteAll run at once, and they call it holding x.mu.
func (x *run) remain(m Remaining) {
	x.r.Remaining = append(x.r.Remaining, m)
}

func (x *run) fail(err error) {
	if x.firstErr == nil {
		x.firstErr = err
	}
}

// operator fills the report's operator.
func (x *run) operator(ctx context.Context) {
	if x.o.Operator != nil {
		x.r.Operator = *x.o.Operator
		return
	}
	aws := x.o.KMS != nil
	for _, st := range x.stores {
		if _, ok := st.(versionedStore); ok {
			aws = true
		}
	}
	if aws {
		x.r.Operator = Identify(ctx, IdentifyOptions{})
		return
	}
	x.r.Operator = LocalOperator("no AWS service involved")
}

// saveJournal writes the report to the journal (not in a dry run).
func (x *run) saveJournal() error {
	if x.o.Journal == "" || x.o.DryRun {
		return nil
	}
	x.finishReport(false)
	err := x.r.WriteFile(x.o.Journal)
	if err != nil {
		x.journal = err
	}
	return err
}

// archive runs the four steps of a whole-archive shred.
func (x *run) archive(ctx context.Context) (*Report, error) {
	x.operator(ctx)
	for _, st := range x.stores {
		x.storeReport(st).Versioned = isVersioned(ctx, st)
	}
	if err := x.saveJournal(); err != nil {
		return nil, fmt.Errorf("shred journal %s: %w (nothing was deleted)", x.o.Journal, err)
	}
	// 1. keys, in every store.
	keysDone := map[string]bool{}
	for _, st := range x.stores {
		keysDone[st.String()] = x.abortUploads(ctx, st, x.r.KeysPrefix, StepKeys) && x.clean(ctx, st, x.r.KeysPrefix, StepKeys, nil)
	}
	x.saveJournal()
	// 2. KMS keys, then Vault keys.
	x.kms(ctx, true)
	x.vault(ctx, true)
	x.saveJournal()
	// 3. data, in every store whose key material is gone.
	for _, st := range x.stores {
		if !keysDone[st.String()] {
			x.remain(Remaining{Store: st.String(), Name: x.r.Prefix, Step: StepData, Error: "not started: the keys step of this store did not finish"})
			continue
		}
		if x.abortUploads(ctx, st, x.r.Prefix, StepData) {
			x.clean(ctx, st, x.r.Prefix, StepData, nil)
		}
	}
	// 4. the device state.
	if !x.o.DryRun && len(x.r.Remaining) == 0 {
		if err := x.o.State.Forget(x.id); err != nil {
			x.fail(err)
			x.remain(Remaining{Step: StepState, Error: oneLine(err)})
		} else {
			x.r.StateForgotten = true
		}
	}
	return x.done()
}

// abortUploads aborts the multipart uploads in progress under prefix (an S3
// store's uploads hold parts of objects that are not visible yet).
func (x *run) abortUploads(ctx context.Context, st remote.Store, prefix, step string) bool {
	ab, ok := st.(uploadAborter)
	if !ok || x.o.DryRun {
		return true
	}
	n, err := ab.AbortUploads(ctx, prefix, nil)
	x.storeReport(st).UploadsAborted += n
	if err != nil {
		x.fail(err)
		x.remain(Remaining{Store: st.String(), Name: prefix, Step: step, Error: "aborting multipart uploads: " + oneLine(err)})
		return false
	}
	return true
}

// conversation applies a conversation shred's tombstones in every store.
func (x *run) conversation(ctx context.Context) (*Report, error) {
	x.operator(ctx)
	for _, st := range x.stores {
		x.storeReport(st).Versioned = isVersioned(ctx, st)
	}
	keys, objects := map[string]bool{}, map[string]bool{}
	for _, t := range x.r.Tombstones {
		if strings.HasPrefix(t.Name, x.r.KeysPrefix) {
			keys[t.Name] = true
		} else {
			objects[t.Name] = true
		}
	}
	for _, st := range x.stores {
		if x.clean(ctx, st, x.r.KeysPrefix, StepTombstones, keys) {
			x.clean(ctx, st, x.r.Prefix, StepTombstones, objects)
		} else {
			x.remain(Remaining{Store: st.String(), Name: x.r.Prefix, Step: StepTombstones, Error: "not started: the key material of this store was not all deleted"})
		}
	}
	x.kms(ctx, false)
	x.vault(ctx, false)
	return x.done()
}

// done finishes the report and returns it, with ErrIncomplete when something
// is left.
func (x *run) done() (*Report, error) {
	if x.journal != nil {
		x.r.Notes = append(x.r.Notes, "the journal could not be written: "+oneLine(x.journal))
	}
	x.finishReport(true)
	if x.o.Journal != "" && !x.o.DryRun {
		if err := x.r.WriteFile(x.o.Journal); err != nil {
			x.r.Notes = append(x.r.Notes, "the journal could not be written: "+oneLine(err))
		}
	}
	if x.r.Complete || x.r.DryRun {
		return x.r, nil
	}
	cause := x.firstErr
	if cause == nil {
		cause = errors.New(remainingText(x.r.Remaining[0]))
	}
	return x.r, fmt.Errorf("%w: %d items not done (rerun to finish): %w", ErrIncomplete, len(x.r.Remaining), cause)
}

// finishReport computes statuses, grade and completeness.
func (x *run) finishReport(final bool) {
	x.r.Complete = !x.r.DryRun && len(x.r.Remaining) == 0 && final
	x.r.Finished = x.o.Now().UTC()
	rank := func(o Object) int {
		if o.Step == StepKeys {
			return 0
		}
		return 1
	}
	for i := range x.r.Stores {
		s := &x.r.Stores[i]
		// Key material first, then by name; the versions of one name stay
		// in the order they were deleted.
		sort.SliceStable(s.Deleted, func(a, b int) bool {
			if ra, rb := rank(s.Deleted[a]), rank(s.Deleted[b]); ra != rb {
				return ra < rb
			}
			return s.Deleted[a].Name < s.Deleted[b].Name
		})
	}
	x.r.grade()
	x.r.normalize()
}

// clean deletes every version under prefix in st (only the names in only,
// when given), recording each deletion, each retained version and what is
// left. It reports whether nothing but retained versions is left. It lists
// again after deleting, up to three times, until nothing is left: a server
// may bring an older version back to light while versions are deleted
// (versitygw does when the latest version goes).
func (x *run) clean(ctx context.Context, st remote.Store, prefix, step string, only map[string]bool) bool {
	if only != nil && len(only) == 0 {
		return true
	}
	sr := x.storeReport(st)
	for pass := 0; ; pass++ {
		items, err := listItems(ctx, st, prefix)
		if err != nil {
			x.fail(err)
			x.remain(Remaining{Store: st.String(), Name: prefix, Step: step, Error: "listing: " + oneLine(err)})
			return false
		}
		var todo []item
		for _, it := range items {
			if only != nil && !only[it.Name] {
				continue
			}
			if x.retained[st.String()+"\x00"+it.key()] {
				continue
			}
			if x.o.DryRun && x.planned[st.String()+"\x00"+it.key()] {
				continue
			}
			todo = append(todo, it)
		}
		if step == StepData {
			commitsFirst(todo, x.r.Prefix)
		}
		if x.o.DryRun {
			for _, it := range todo {
				x.planned[st.String()+"\x00"+it.key()] = true
				sr.Planned = append(sr.Planned, Object{Name: it.Name, VersionID: it.VersionID, DeleteMarker: it.Marker, Step: step})
			}
			return true
		}
		if len(todo) == 0 {
			return true
		}
		if pass == 3 {
			for _, it := range todo {
				x.remain(Remaining{Store: st.String(), Name: it.Name, VersionID: it.VersionID, Step: step, Error: "still listed after deleting it three times"})
			}
			x.fail(fmt.Errorf("%s: versions under %s keep coming back after deletion", st, prefix))
			return false
		}
		if !x.deleteAll(ctx, st, sr, todo, step) {
			return false
		}
	}
}

// deleteAll deletes items, o.Jobs names at a time; the versions of one name
// one after the other, in the order listed (newest first). After the first
// failure that is not Object Lock, it starts no more deletes in this store:
// the rest is left for a rerun.
func (x *run) deleteAll(ctx context.Context, st remote.Store, sr *StoreReport, todo []item, step string) bool {
	var groups [][]item
	for i, it := range todo {
		if i > 0 && it.Name == todo[i-1].Name {
			groups[len(groups)-1] = append(groups[len(groups)-1], it)
		} else {
			groups = append(groups, []item{it})
		}
	}
	var (
		wg      sync.WaitGroup
		sem     = make(chan struct{}, x.o.Jobs)
		stopped bool
		ok      = true
	)
	stop := func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		return stopped
	}
	notAttempted := func(it item) {
		x.mu.Lock()
		defer x.mu.Unlock()
		x.remain(Remaining{Store: st.String(), Name: it.Name, VersionID: it.VersionID, Step: step, Error: "not attempted after an earlier failure in this store"})
	}
	for _, g := range groups {
		if stop() {
			for _, it := range g {
				notAttempted(it)
			}
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(g []item) {
			defer func() { <-sem; wg.Done() }()
			for _, it := range g {
				if stop() {
					notAttempted(it)
					continue
				}
				err := deleteItem(ctx, st, it)
				var kept *Retained
				if errors.Is(err, s3.ErrRetained) {
					r := retention(ctx, st, it)
					kept = &r
				}
				x.mu.Lock()
				switch {
				case err == nil:
					sr.Deleted = append(sr.Deleted, Object{Name: it.Name, VersionID: it.VersionID, DeleteMarker: it.Marker, Step: step})
				case kept != nil:
					x.retained[st.String()+"\x00"+it.key()] = true
					x.r.Retained = append(x.r.Retained, *kept)
				default:
					ok, stopped = false, true
					x.fail(err)
					x.remain(Remaining{Store: st.String(), Name: it.Name, VersionID: it.VersionID, Step: step, Error: oneLine(err)})
				}
				x.mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	return ok
}

// keks lists, sorted, the distinct key-encryption keys of the former wrappers
// of type typ, and whether any wrapper names each as dedicated.
func (x *run) keks(typ string) ([]string, map[string]bool) {
	var keks []string
	dedicated := map[string]bool{}
	for _, w := range x.r.Wrappers {
		if w.Type != typ {
			continue
		}
		if _, ok := dedicated[w.KEK]; !ok {
			keks = append(keks, w.KEK)
		}
		dedicated[w.KEK] = dedicated[w.KEK] || w.Dedicated
	}
	sort.Strings(keks)
	return keks, dedicated
}

// kms describes every KMS key of the former wrappers and, when destroy is
// set, destroys the dedicated ones that pass the checks; it then sets each
// KMS wrapper's KEK status.
func (x *run) kms(ctx context.Context, destroy bool) {
	arns, dedicated := x.keks(archive.WrapperKMS)
	keys := map[string]KMSKey{}
	for _, arn := range arns {
		k := x.kmsKey(ctx, arn, dedicated[arn], destroy || x.destroyKEK(arn))
		keys[arn] = k
		x.r.KMSKeys = append(x.r.KMSKeys, k)
	}
	for i := range x.r.Wrappers {
		w := &x.r.Wrappers[i]
		if w.Type != archive.WrapperKMS {
			continue
		}
		k := keys[w.KEK]
		w.KEKStatus, w.PendingUntil, w.Reason = kekStatus(k)
		if k.Action == actionWould {
			w.KEKStatus, w.PendingUntil = KEKPending, x.r.Started.Add(time.Duration(x.o.KMSPendingDays)*24*time.Hour)
			w.Reason = "dry run: the KMS key " + k.Note
		}
	}
}

// kmsKey handles one KMS key.
func (x *run) kmsKey(ctx context.Context, arn string, dedicated, destroy bool) KMSKey {
	k := KMSKey{ARN: arn, Dedicated: dedicated, State: "unknown", Action: "none"}
	if x.o.KMS == nil {
		k.Note = "no KMS client given: the key's state is unknown"
		if dedicated && destroy && !x.o.DryRun {
			k.Action = "failed"
			x.remain(Remaining{KMSKey: arn, Step: StepKMS, Error: "no KMS client given: the dedicated key was not destroyed"})
		}
		return k
	}
	ki, err := x.o.KMS.Resolve(ctx, arn)
	switch {
	case errors.Is(err, awskms.ErrNotFound):
		k.State, k.Action = "NotFound", "already-deleted"
		return k
	case err != nil:
		k.Note = "describing the key: " + oneLine(err)
		if dedicated && destroy && !x.o.DryRun {
			k.Action = "failed"
			x.fail(err)
			x.remain(Remaining{KMSKey: arn, Step: StepKMS, Error: oneLine(err)})
		}
		return k
	}
	k.State, k.DeletionDate, k.Origin, k.MultiRegion = ki.State, ki.DeletionDate.UTC(), ki.Origin, ki.MultiRegion
	if ki.DeletionDate.IsZero() {
		k.DeletionDate = time.Time{}
	}
	if !dedicated {
		k.Action = "kept"
		k.Note = "not dedicated to this archive: a shared KMS key is never destroyed by a shred"
		return k
	}
	tags, err := x.o.KMS.Tags(ctx, ki.ARN)
	if err != nil {
		k.Note = "reading the key's tags: " + oneLine(err)
		if destroy && !x.o.DryRun && ki.State != awskms.StatePendingDeletion {
			k.Action = "failed"
			x.fail(err)
			x.remain(Remaining{KMSKey: arn, Step: StepKMS, Error: k.Note})
		}
		return k
	}
	k.TagArchive = tags[awskms.TagArchive]
	if why := notDedicated(ki, tags, x.r.Archive); why != "" {
		k.Action = "kept"
		k.Note = "marked dedicated but " + why + ": not destroyed"
		return k
	}
	switch {
	case ki.State == awskms.StatePendingDeletion:
		k.Action = "already-pending"
	case !destroy:
		k.Note = "a conversation shred destroys no KMS key (it may wrap the new archive key)"
	case x.o.DryRun:
		k.Action, k.Note = actionWould, fmt.Sprintf("would be disabled and scheduled for deletion in %d days", x.o.KMSPendingDays)
	default:
		date, err := x.o.KMS.Destroy(ctx, ki.ARN, x.o.KMSPendingDays)
		if errors.Is(err, awskms.ErrNotFound) {
			k.State, k.Action, k.DeletionDate = "NotFound", "already-deleted", time.Time{}
			return k
		}
		if err != nil {
			k.Action, k.Note = "failed", "destroying the key: "+oneLine(err)
			x.fail(err)
			x.remain(Remaining{KMSKey: arn, Step: StepKMS, Error: k.Note})
			// It may be disabled by now: say what KMS says.
			if ki, err := x.o.KMS.Resolve(ctx, arn); err == nil {
				k.State = ki.State
			}
			return k
		}
		k.Action, k.State, k.DeletionDate = "scheduled-deletion", awskms.StatePendingDeletion, date.UTC()
		if ki, err := x.o.KMS.Resolve(ctx, arn); err == nil && ki.State != "" {
			k.State = ki.State
			if !ki.DeletionDate.IsZero() {
				k.DeletionDate = ki.DeletionDate.UTC()
			}
		}
	}
	return k
}

// actionWould is a dry run's action for a key a shred would destroy.
const actionWould = "would-schedule-deletion"

// notDedicated says why a key marked dedicated does not qualify (to be
// destroyed, or to count as destroyed when it is pending deletion), or "".
func notDedicated(ki awskms.KeyInfo, tags map[string]string, archiveID string) string {
	switch {
	case ki.Origin != awskms.OriginAWSKMS:
		return fmt.Sprintf("its origin is %s, not %s (its key material exists outside KMS)", ki.Origin, awskms.OriginAWSKMS)
	case ki.MultiRegion:
		return "it is a multi-Region key (replicas in other regions would survive)"
	case tags[awskms.TagArchive] != archiveID:
		return fmt.Sprintf("its tag %s is %q, not this archive's id", awskms.TagArchive, tags[awskms.TagArchive])
	}
	return ""
}

// kekStatus is the status of a KMS KEK from what KMS says of the key.
func kekStatus(k KMSKey) (status string, until time.Time, reason string) {
	switch {
	case k.State == "NotFound":
		return KEKDestroyed, time.Time{}, "the KMS key is deleted"
	case k.State == awskms.StatePendingDeletion && !k.MultiRegion && k.Origin == awskms.OriginAWSKMS:
		return KEKPending, k.DeletionDate, "the KMS key is pending deletion: the deletion can be cancelled until " + k.DeletionDate.Format(time.RFC3339)
	case k.State == "unknown":
		return KEKUnknown, time.Time{}, "the KMS key's state is unknown: " + k.Note
	case k.Dedicated && k.Action == "kept":
		return KEKSurvives, time.Time{}, "the KMS key is " + k.State + " and was not destroyed: " + k.Note
	case !k.Dedicated:
		return KEKSurvives, time.Time{}, "a KMS key not dedicated to this archive survives the shred (" + k.State + ")"
	}
	return KEKSurvives, time.Time{}, "the KMS key is " + k.State + " (a disabled key is not destroyed)"
}
