package shred

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/vault"
	"github.com/chatvault/chatvault/remote"
)

// Verdict is the outcome of Verify. The CLI maps it to an exit code with
// ExitCode; VerifyResult.Err gives the matching sentinel error.
type Verdict int

const (
	// VerdictOK: grade final and every point holds (exit 0).
	VerdictOK Verdict = iota
	// VerdictPending: every point holds, but a dedicated KMS key is still in
	// PendingDeletion until VerifyResult.PendingUntil (exit 6, 0 with
	// --allow-pending): verify again after that date.
	VerdictPending
	// VerdictBestEffort: every point holds, but some KEK survives (exit 1, 0
	// with --allow-best-effort).
	VerdictBestEffort
	// VerdictIncomplete: the report itself says the shred is not complete
	// (or is a dry run); nothing contradicts it (exit 6: rerun the shred).
	VerdictIncomplete
	// VerdictContradicted: evidence contradicts the report: key material or
	// another object still present, a signature that fails, a KMS key Enabled
	// or Disabled that the report calls destroyed or pending (exit 3).
	VerdictContradicted
	// VerdictUnreachable: a store or KMS could not be asked (exit 5).
	VerdictUnreachable
)

func (v Verdict) String() string {
	switch v {
	case VerdictOK:
		return "ok"
	case VerdictPending:
		return "pending"
	case VerdictBestEffort:
		return "best-effort"
	case VerdictIncomplete:
		return "incomplete"
	case VerdictContradicted:
		return "contradicted"
	case VerdictUnreachable:
		return "unreachable"
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// MarshalText makes a verdict its name in JSON.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// ExitCode maps a verdict to chatvault's exit codes: OK 0; Pending 6 (0 when
// allowPending); BestEffort 1 (0 when allowBestEffort); Incomplete 6;
// Contradicted 3; Unreachable 5.
func (v Verdict) ExitCode(allowPending, allowBestEffort bool) int {
	switch v {
	case VerdictOK:
		return 0
	case VerdictPending:
		if allowPending {
			return 0
		}
		return 6
	case VerdictBestEffort:
		if allowBestEffort {
			return 0
		}
		return 1
	case VerdictIncomplete:
		return 6
	case VerdictContradicted:
		return 3
	case VerdictUnreachable:
		return 5
	}
	return 1
}

// Sentinel errors of the verdicts, from VerifyResult.Err.
var (
	ErrPending      = errors.New("shred pending")
	ErrBestEffort   = errors.New("shred best-effort: a KEK survives")
	ErrNotComplete  = errors.New("shred report not complete")
	ErrContradicted = errors.New("evidence contradicts the shred report")
	ErrUnreachable  = errors.New("a store or KMS cannot be asked")
)

// Check statuses.
const (
	CheckOK           = "ok"
	CheckNote         = "note"
	CheckIncomplete   = "incomplete"
	CheckContradicted = "contradicted"
	CheckUnreachable  = "unreachable"
)

// Check is one point Verify looked at.
type Check struct {
	Point  string `json:"point"`  // signature, report, store <url>, kms <arn>, grade
	Status string `json:"status"` // ok | note | incomplete | contradicted | unreachable
	Detail string `json:"detail"`
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	Verdict       Verdict   `json:"verdict"`
	Grade         string    `json:"grade"`                    // the grade the evidence supports
	PendingUntil  time.Time `json:"pending_until,omitzero"`   // VerdictPending: verify again after this
	SurvivingKEKs []string  `json:"surviving_keks,omitempty"` // VerdictBestEffort: the KEKs that survive
	Checks        []Check   `json:"checks"`
}

// Err returns nil for VerdictOK, else the verdict's sentinel error with the
// first point that decided it.
func (v VerifyResult) Err() error {
	var sentinel error
	status := ""
	switch v.Verdict {
	case VerdictOK:
		return nil
	case VerdictPending:
		return fmt.Errorf("%w until %s: verify again after that date", ErrPending, v.PendingUntil.UTC().Format(time.RFC3339))
	case VerdictBestEffort:
		return fmt.Errorf("%w: %s", ErrBestEffort, strings.Join(v.SurvivingKEKs, "; "))
	case VerdictIncomplete:
		sentinel, status = ErrNotComplete, CheckIncomplete
	case VerdictContradicted:
		sentinel, status = ErrContradicted, CheckContradicted
	case VerdictUnreachable:
		sentinel, status = ErrUnreachable, CheckUnreachable
	}
	for _, c := range v.Checks {
		if c.Status == status {
			return fmt.Errorf("%w: %s: %s", sentinel, c.Point, c.Detail)
		}
	}
	return sentinel
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// PublicKey, if set, is the operator key the report must be signed with.
	PublicKey ed25519.PublicKey
	// RequireSignature makes an unsigned report contradicted (it is anyway
	// when PublicKey is set).
	RequireSignature bool
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Vault is the client that checks the Vault Transit keys of
	// vault-transit wrappers (each wrapper's own mount is read with its
	// server and token; a key is only read, never used); nil: such keys
	// cannot be checked (unreachable).
	Vault *vault.Client
}

// Verify checks a shred report against the world, with no archive secret:
//
//   - the signature, against the report's own public key and, when given,
//     VerifyOptions.PublicKey;
//   - that the report is consistent: its grade follows from its own former
//     wrappers;
//   - in every store the report names and every store given (the caller opens
//     the stores the report names; one it could not open and so did not give
//     is unreachable): for an archive shred, that no version or delete marker
//     of anything under the archive's prefix remains — keys/ first — except
//     versions the report lists as retained by Object Lock (or, in an
//     incomplete report, as remaining); for a conversation shred, that no
//     version of any tombstoned object remains;
//   - every KMS key of an aws-kms former wrapper: NotFound is destroyed,
//     PendingDeletion is pending until its date (for a key the report calls
//     dedicated: Origin AWS_KMS, single-region and tagged
//     chatvault:archive=<id>, else contradicted), Enabled or Disabled
//     survives — contradicting a report that calls it destroyed or pending;
//   - every Vault Transit key of a vault-transit former wrapper, read with
//     VerifyOptions.Vault (GET <mount>/keys/<key>, never an encrypt, which
//     would re-create it): a key Vault does not have is destroyed when its
//     wrapper marks it dedicated (and it is named chatvault-<id>, and the
//     report saw it neither exportable nor backed up in plaintext), else
//     unknown; a key that exists survives — contradicting a report that
//     calls it destroyed; a Vault that cannot be asked is unreachable.
//
// The grade is then computed from the evidence. The result's Verdict says
// what follows (see Verdict); the error is only for a nil report.
func Verify(ctx context.Context, r *Report, stores []remote.Store, kms *awskms.Client, o VerifyOptions) (VerifyResult, error) {
	var res VerifyResult
	if r == nil {
		return res, errors.New("verify: no report")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	now := o.Now()
	add := func(point, status, format string, args ...any) {
		res.Checks = append(res.Checks, Check{Point: point, Status: status, Detail: fmt.Sprintf(format, args...)})
	}

	// The signature.
	switch {
	case r.Signature != nil:
		if pub, err := CheckSignature(r, o.PublicKey); err != nil {
			add("signature", CheckContradicted, "%v", err)
		} else {
			add("signature", CheckOK, "signed by %s", PublicKeyString(pub))
		}
	case o.PublicKey != nil || o.RequireSignature:
		add("signature", CheckContradicted, "the report is not signed")
	default:
		add("signature", CheckNote, "the report is not signed: anyone could have written it")
	}

	// The report itself.
	if r.DryRun {
		add("report", CheckIncomplete, "a dry-run report: nothing was destroyed, there is nothing to verify")
		res.Verdict = VerdictIncomplete
		for _, c := range res.Checks {
			if c.Status == CheckContradicted {
				res.Verdict = VerdictContradicted
			}
		}
		return res, nil
	}
	switch {
	case !r.Complete:
		add("report", CheckIncomplete, "the report says the shred is not complete (%d items not done): rerun the shred", len(r.Remaining))
	}
	own := *r
	own.Wrappers = append([]Wrapper(nil), r.Wrappers...)
	own.grade()
	if own.Grade != r.Grade || !own.PendingUntil.Equal(r.PendingUntil) {
		add("report", CheckContradicted, "its grade %q does not follow from its own wrappers (%s)", r.GradeText(), own.GradeText())
	}
	for _, w := range r.Wrappers {
		switch {
		case w.Type == archive.WrapperVault && w.KEKStatus == KEKPending:
			add("report", CheckContradicted, "it calls the KEK of %s wrapper %s pending, but a Vault key is deleted at once", w.Type, shortID(w.ID))
		case w.Type == archive.WrapperVault && w.KEKStatus == KEKDestroyed && !w.Dedicated:
			add("report", CheckContradicted, "it calls the KEK of %s wrapper %s destroyed, but the wrapper does not mark its Vault key dedicated", w.Type, shortID(w.ID))
		case w.Type != archive.WrapperKMS && w.Type != archive.WrapperVault && (w.KEKStatus == KEKDestroyed || w.KEKStatus == KEKPending):
			add("report", CheckContradicted, "it calls the KEK of %s wrapper %s %s, which only a KMS or Vault key can be", w.Type, shortID(w.ID), w.KEKStatus)
		}
	}

	// The stores.
	given := map[string]remote.Store{}
	var order []remote.Store
	for _, st := range stores {
		if st != nil && given[st.String()] == nil {
			given[st.String()] = st
			order = append(order, st)
		}
	}
	for _, s := range r.Stores {
		if given[s.URL] == nil {
			add("store "+s.URL, CheckUnreachable, "the report names this store but it was not given (it could not be opened)")
		}
	}
	for _, st := range order {
		verifyStore(ctx, r, st, now, add)
	}

	// The KEKs.
	evidence := own
	evidence.Wrappers = append([]Wrapper(nil), r.Wrappers...)
	kmsState := map[string]*KMSKey{}
	vaultState := map[string]*VaultKey{}
	for i := range evidence.Wrappers {
		w := &evidence.Wrappers[i]
		switch w.Type {
		case archive.WrapperKMS:
		case archive.WrapperVault:
			verifyVaultWrapper(ctx, r, w, o.Vault, vaultState, add)
			continue
		case "unknown":
			w.KEKStatus = KEKUnknown
			continue
		default:
			w.KEKStatus = KEKSurvives
			continue
		}
		k, ok := kmsState[w.KEK]
		if !ok {
			k = verifyKMS(ctx, r, w.KEK, kms, add)
			kmsState[w.KEK] = k
		}
		if k == nil {
			w.KEKStatus = KEKUnknown
			continue
		}
		w.KEKStatus, w.PendingUntil, w.Reason = kekStatus(*k)
		claimed := w.KEKStatus
		for _, rw := range r.Wrappers {
			if rw.ID == w.ID {
				claimed = rw.KEKStatus
			}
		}
		point := "kms " + w.KEK
		switch {
		case (claimed == KEKDestroyed || claimed == KEKPending) && w.KEKStatus == KEKSurvives:
			add(point, CheckContradicted, "the report calls this key %s but KMS says %s (a disabled key is not destroyed)", claimed, k.State)
		case claimed == KEKDestroyed && w.KEKStatus == KEKPending:
			add(point, CheckContradicted, "the report calls this key deleted but KMS says PendingDeletion until %s", k.DeletionDate.Format(time.RFC3339))
		}
	}
	evidence.grade()
	res.Grade, res.PendingUntil, res.SurvivingKEKs = evidence.Grade, evidence.PendingUntil, evidence.SurvivingKEKs
	add("grade", CheckNote, "the evidence supports grade %s", evidence.GradeText())

	// The verdict.
	worst := map[string]bool{}
	for _, c := range res.Checks {
		worst[c.Status] = true
	}
	switch {
	case worst[CheckContradicted]:
		res.Verdict = VerdictContradicted
	case worst[CheckUnreachable]:
		res.Verdict = VerdictUnreachable
	case worst[CheckIncomplete]:
		res.Verdict = VerdictIncomplete
	case res.Grade == GradeBestEffort:
		res.Verdict = VerdictBestEffort
	case res.Grade == GradePendingUntil:
		res.Verdict = VerdictPending
	default:
		res.Verdict = VerdictOK
	}
	return res, nil
}

// verifyStore lists every version under the archive's prefix in st and checks
// it against the report.
func verifyStore(ctx context.Context, r *Report, st remote.Store, now time.Time, add func(point, status, format string, args ...any)) {
	point := "store " + st.String()
	items, err := listItems(ctx, st, r.Prefix)
	if err != nil {
		add(point, CheckUnreachable, "listing %s: %v", r.Prefix, oneLine(err))
		return
	}
	retained := map[string]Retained{}
	for _, x := range r.Retained {
		if x.Store == st.String() {
			retained[x.Name+"\x00"+x.VersionID] = x
		}
	}
	remaining := map[string]bool{}
	storeLeft := false
	for _, x := range r.Remaining {
		if x.Store != st.String() {
			continue
		}
		remaining[x.Name+"\x00"+x.VersionID] = true
		if x.Name == r.Prefix || x.Name == r.KeysPrefix {
			storeLeft = true // a whole step of this store was not done
		}
	}
	tomb := map[string]bool{}
	for _, t := range r.Tombstones {
		tomb[t.Name] = true
	}
	var keys, others, kept, left int
	var first []string
	for _, it := range items {
		if r.Kind == KindConversation && !tomb[it.Name] {
			continue
		}
		if x, ok := retained[it.key()]; ok {
			kept++
			if !x.RetainUntil.IsZero() && now.After(x.RetainUntil) {
				add(point, CheckNote, "%s (version %s) was retained until %s, which has passed: rerun the shred to delete it", it.Name, it.VersionID, x.Until)
			}
			continue
		}
		if !r.Complete && (storeLeft || remaining[it.key()]) {
			left++
			continue
		}
		what := it.Name
		if it.VersionID != "" {
			what += " (version " + it.VersionID + ")"
		}
		if strings.HasPrefix(it.Name, r.KeysPrefix) {
			keys++
			first = append([]string{"key material " + what}, first...)
		} else {
			others++
			first = append(first, what)
		}
	}
	switch {
	case keys+others > 0:
		if len(first) > 3 {
			first = append(first[:3], "...")
		}
		add(point, CheckContradicted, "%d key-material and %d other object versions the report says are gone are still stored: %s", keys, others, strings.Join(first, ", "))
	case r.Kind == KindConversation:
		add(point, CheckOK, "no version of the %d tombstoned objects is stored (%d kept by Object Lock, %d left as the report says)", len(r.Tombstones), kept, left)
	default:
		add(point, CheckOK, "nothing of the archive is stored (%d versions kept by Object Lock, %d left as the report says)", kept, left)
	}
}

// verifyKMS asks KMS about one key; nil when it cannot be asked.
func verifyKMS(ctx context.Context, r *Report, arn string, kms *awskms.Client, add func(point, status, format string, args ...any)) *KMSKey {
	point := "kms " + arn
	if kms == nil {
		add(point, CheckUnreachable, "no KMS client: the key's state cannot be checked")
		return nil
	}
	dedicated, claimed := false, ""
	for _, w := range r.Wrappers {
		if w.Type == archive.WrapperKMS && w.KEK == arn {
			dedicated = dedicated || w.Dedicated
			if w.KEKStatus == KEKDestroyed || w.KEKStatus == KEKPending {
				claimed = w.KEKStatus
			}
		}
	}
	ki, err := kms.Resolve(ctx, arn)
	switch {
	case errors.Is(err, awskms.ErrNotFound):
		add(point, CheckOK, "deleted (NotFound)")
		return &KMSKey{ARN: arn, State: "NotFound", Dedicated: dedicated}
	case err != nil:
		add(point, CheckUnreachable, "%v", oneLine(err))
		return nil
	}
	k := &KMSKey{ARN: arn, Dedicated: dedicated, State: ki.State, Origin: ki.Origin, MultiRegion: ki.MultiRegion}
	if !ki.DeletionDate.IsZero() {
		k.DeletionDate = ki.DeletionDate.UTC()
	}
	if ki.State != awskms.StatePendingDeletion {
		if claimed == "" {
			add(point, CheckNote, "%s: survives (the report says so)", ki.State)
		}
		return k
	}
	if dedicated && claimed != "" {
		tags, err := kms.Tags(ctx, ki.ARN)
		if err != nil {
			add(point, CheckUnreachable, "reading the key's tags: %v", oneLine(err))
			return nil
		}
		k.TagArchive = tags[awskms.TagArchive]
		if why := notDedicated(ki, tags, r.Archive); why != "" {
			add(point, CheckContradicted, "the report counts this key as a dedicated KEK being destroyed, but %s", why)
			return k
		}
	}
	add(point, CheckOK, "PendingDeletion until %s", k.DeletionDate.Format(time.RFC3339))
	return k
}
