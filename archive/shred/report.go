package shred

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// FormatVersion is the version of the report format written in Report.Format.
const FormatVersion = 1

// Report kinds.
const (
	KindArchive      = "archive"
	KindConversation = "conversation"
)

// Grades (see the architecture notes, "Shred grades").
const (
	GradeFinal        = "final"
	GradePendingUntil = "pending-until"
	GradeBestEffort   = "best-effort"
)

// KEK statuses of a former wrapper.
const (
	KEKSurvives  = "survives"  // the KEK still exists: a copy of the wrapper opens with it
	KEKDestroyed = "destroyed" // a dedicated KMS key that is deleted (NotFound), or a dedicated Vault key deleted
	KEKPending   = "pending"   // a dedicated KMS key in PendingDeletion, reversible until pending_until
	KEKUnknown   = "unknown"   // a wrapper removed before the shred, whose KEK can no longer be named
)

// Identity sources of the operator.
const (
	IdentityAWS   = "aws-sts"
	IdentityLocal = "local-user"
)

// Steps, as Object.Step and Remaining.Step name them.
const (
	StepKeys       = "keys"       // key material under keys/
	StepKMS        = "kms"        // destroying dedicated KMS keys
	StepVault      = "vault"      // deleting dedicated Vault Transit keys
	StepData       = "data"       // commits and every other object
	StepState      = "state"      // forgetting the device state
	StepTombstones = "tombstones" // a conversation shred's tombstoned objects
)

// NotCovered is the fixed note every report carries.
const NotCovered = "copies elsewhere (replicas, backups, snapshots, other devices and their stores, downloads) are not covered by this shred: only the stores listed were cleaned"

// UntilUnknownDefault is Retained.Until for a version held by the bucket's
// default retention, whose date the server does not tell.
const UntilUnknownDefault = "unknown (bucket default retention)"

// Report is what a shred did, as JSON (see the package documentation for the
// schema). Field names are stable.
type Report struct {
	Format       int    `json:"format"`
	Kind         string `json:"kind"` // archive | conversation
	Archive      string `json:"archive"`
	Fingerprint  string `json:"fingerprint"`
	Conversation string `json:"conversation,omitempty"`
	Commit       uint64 `json:"commit,omitempty"` // the conversation shred commit
	Prefix       string `json:"prefix"`
	KeysPrefix   string `json:"keys_prefix"`
	DryRun       bool   `json:"dry_run"`

	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Operator Operator  `json:"operator"`

	Stores     []StoreReport `json:"stores"`
	NotCovered string        `json:"not_covered"`
	KMSKeys    []KMSKey      `json:"kms_keys"`
	// VaultKeys: the Vault Transit keys of former wrappers (left out when
	// there are none, so that reports without Vault keep their form).
	VaultKeys []VaultKey `json:"vault_keys,omitempty"`
	Wrappers  []Wrapper  `json:"wrappers"`
	// NewWrappers: a conversation shred's wrappers of the new archive key.
	NewWrappers []Wrapper   `json:"new_wrappers,omitempty"`
	Tombstones  []Tombstone `json:"tombstones,omitempty"`
	Retained    []Retained  `json:"retained"`
	Remaining   []Remaining `json:"remaining"`

	StateForgotten bool      `json:"state_forgotten"`
	Complete       bool      `json:"complete"`
	Grade          string    `json:"grade"`
	PendingUntil   time.Time `json:"pending_until,omitzero"`
	SurvivingKEKs  []string  `json:"surviving_keks"`
	Notes          []string  `json:"notes"`

	Signature *Signature `json:"signature,omitempty"`
}

// Operator is who ran the shred.
type Operator struct {
	IdentitySource string `json:"identity_source"`   // aws-sts | local-user
	ARN            string `json:"arn,omitempty"`     // aws-sts: the caller's ARN
	Account        string `json:"account,omitempty"` // aws-sts: the account
	UserID         string `json:"user_id,omitempty"` // aws-sts: the caller's user id
	User           string `json:"user,omitempty"`    // local-user: the login name
	Host           string `json:"host,omitempty"`
	Note           string `json:"note,omitempty"` // why the identity is not AWS's
}

// StoreReport is one store the shred covered.
type StoreReport struct {
	URL       string `json:"url"`
	Versioned bool   `json:"versioned"` // every version and delete marker was listed and deleted
	// Deleted lists every object version deleted (Planned, in a dry run, what
	// would be).
	Deleted        []Object `json:"deleted"`
	Planned        []Object `json:"planned,omitempty"`
	UploadsAborted int      `json:"uploads_aborted,omitempty"`
}

// Object is one object version.
type Object struct {
	Name         string `json:"name"`
	VersionID    string `json:"version_id,omitempty"` // "" in an unversioned store
	DeleteMarker bool   `json:"delete_marker,omitempty"`
	Step         string `json:"step"` // keys | data | tombstones
}

// KMSKey is one KMS key that wrapped the archive key, and its state after the
// shred.
type KMSKey struct {
	ARN       string `json:"arn"`
	Dedicated bool   `json:"dedicated"` // the wrapper marks it dedicated to this archive
	// Action: scheduled-deletion, already-pending, already-deleted, kept
	// (shared, not dedicated, or failing the dedicated checks: see Note),
	// none (dry run or conversation shred), failed.
	Action       string    `json:"action"`
	State        string    `json:"state"` // Enabled | Disabled | PendingDeletion | NotFound | unknown
	DeletionDate time.Time `json:"deletion_date,omitzero"`
	Origin       string    `json:"origin,omitempty"`
	MultiRegion  bool      `json:"multi_region"`
	TagArchive   string    `json:"tag_archive,omitempty"` // the chatvault:archive tag seen
	Note         string    `json:"note,omitempty"`
}

// Wrapper is a former wrapper: one that wrapped the archive key the shred
// destroys (for a conversation shred, the old archive key), and its KEK.
type Wrapper struct {
	ID        string `json:"id"`
	Type      string `json:"type"` // passphrase | recovery | aws-kms | age | vault-transit | unknown
	KEK       string `json:"kek"`  // key ARN, age recipient, "passphrase", "recovery key", ...
	Dedicated bool   `json:"dedicated,omitempty"`
	// Source: "head" (a wrapper of the archive key at the shred) or "history"
	// (removed by an earlier commit; its envelope is gone, its KEK unknown).
	Source       string    `json:"source"`
	RemovedBy    uint64    `json:"removed_by,omitempty"` // history: the commit that removed it
	KEKStatus    string    `json:"kek_status"`           // survives | destroyed | pending | unknown
	PendingUntil time.Time `json:"pending_until,omitzero"`
	Reason       string    `json:"reason"`
}

// Tombstone is an object a conversation shred made obsolete.
type Tombstone struct {
	Name string `json:"name"`
	// What: wrapper, wrapper-set, key-table (key material under keys/) or
	// object (a version manifest or one of the conversation's objects).
	What string `json:"what"`
}

// Retained is an object version Object Lock kept from deletion.
type Retained struct {
	Store       string    `json:"store"`
	Name        string    `json:"name"`
	VersionID   string    `json:"version_id,omitempty"`
	Mode        string    `json:"mode,omitempty"` // GOVERNANCE | COMPLIANCE
	RetainUntil time.Time `json:"retain_until,omitzero"`
	Until       string    `json:"until"` // RetainUntil as RFC 3339, or UntilUnknownDefault
	Note        string    `json:"note,omitempty"`
}

// Remaining is something not done: an object version not deleted, a KMS key
// not destroyed, a store not finished, the state not forgotten.
type Remaining struct {
	Store     string `json:"store,omitempty"`
	KMSKey    string `json:"kms_key,omitempty"`
	VaultKey  string `json:"vault_key,omitempty"` // "<mount>/<key>"
	Name      string `json:"name,omitempty"`
	VersionID string `json:"version_id,omitempty"`
	Step      string `json:"step"`
	Error     string `json:"error"`
}

// Signature is the operator's Ed25519 signature over the report (see Sign).
type Signature struct {
	Algorithm string `json:"algorithm"`  // "ed25519"
	PublicKey string `json:"public_key"` // base64 (standard, padded) of the 32-byte key
	Value     string `json:"value"`      // base64 of the 64-byte signature
}

// ErrBadReport: a report that does not parse, or is not a report of this
// format.
var ErrBadReport = errors.New("not a valid shred report")

// ParseReport decodes a report strictly (unknown fields, trailing data or
// another format version are ErrBadReport).
func ParseReport(b []byte) (*Report, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	r := &Report{}
	if err := d.Decode(r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadReport, err)
	}
	if d.More() {
		return nil, fmt.Errorf("%w: trailing data after the report", ErrBadReport)
	}
	if r.Format != FormatVersion {
		return nil, fmt.Errorf("%w: format %d (this chatvault reads format %d)", ErrBadReport, r.Format, FormatVersion)
	}
	if r.Kind != KindArchive && r.Kind != KindConversation {
		return nil, fmt.Errorf("%w: kind %q", ErrBadReport, r.Kind)
	}
	if r.Archive == "" || !strings.HasPrefix(r.KeysPrefix, r.Prefix) || r.Prefix == "" {
		return nil, fmt.Errorf("%w: no archive id or prefixes", ErrBadReport)
	}
	return r, nil
}

// LoadReport reads and parses a report file.
func LoadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := ParseReport(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// JSON returns the report as indented JSON, with a final newline.
func (r *Report) JSON() ([]byte, error) {
	r.normalize()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteFile writes the report to path atomically (a temporary file renamed
// over it), mode 0600.
func (r *Report) WriteFile(path string) error {
	b, err := r.JSON()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".shred-report-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// normalize makes every list non-nil (so that JSON shows [] rather than
// null) and sorts the lists whose order the work did not fix.
func (r *Report) normalize() {
	if r.Stores == nil {
		r.Stores = []StoreReport{}
	}
	for i := range r.Stores {
		if r.Stores[i].Deleted == nil {
			r.Stores[i].Deleted = []Object{}
		}
	}
	if r.KMSKeys == nil {
		r.KMSKeys = []KMSKey{}
	}
	if r.Wrappers == nil {
		r.Wrappers = []Wrapper{}
	}
	if r.Retained == nil {
		r.Retained = []Retained{}
	}
	if r.Remaining == nil {
		r.Remaining = []Remaining{}
	}
	if r.SurvivingKEKs == nil {
		r.SurvivingKEKs = []string{}
	}
	if r.Notes == nil {
		r.Notes = []string{}
	}
	sort.SliceStable(r.Retained, func(i, j int) bool {
		a, b := r.Retained[i], r.Retained[j]
		return a.Store+"\x00"+a.Name+"\x00"+a.VersionID < b.Store+"\x00"+b.Name+"\x00"+b.VersionID
	})
}

// grade computes the grade from the former wrappers' KEK statuses, and the
// surviving KEKs.
func (r *Report) grade() {
	r.Grade, r.PendingUntil, r.SurvivingKEKs = GradeFinal, time.Time{}, []string{}
	seen := map[string]bool{}
	for _, w := range r.Wrappers {
		switch w.KEKStatus {
		case KEKDestroyed:
		case KEKPending:
			if w.PendingUntil.After(r.PendingUntil) {
				r.PendingUntil = w.PendingUntil
			}
		default:
			desc := fmt.Sprintf("%s (%s wrapper %s)", w.KEK, w.Type, shortID(w.ID))
			if !seen[desc] {
				seen[desc] = true
				r.SurvivingKEKs = append(r.SurvivingKEKs, desc)
			}
		}
	}
	switch {
	case len(r.SurvivingKEKs) > 0:
		r.Grade, r.PendingUntil = GradeBestEffort, time.Time{}
	case !r.PendingUntil.IsZero():
		r.Grade = GradePendingUntil
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// GradeText is the grade as the summary prints it: "final",
// "pending-until 2026-12-05T10:00:00Z", "best-effort".
func (r *Report) GradeText() string {
	if r.Grade == GradePendingUntil {
		return GradePendingUntil + " " + r.PendingUntil.UTC().Format(time.RFC3339)
	}
	return r.Grade
}

// Summary is a few lines for people: what was shredded, the grade, what
// survives, what is not done.
func Summary(r *Report) string {
	var b strings.Builder
	what := "archive " + r.Archive
	if r.Kind == KindConversation {
		what = "conversation " + r.Conversation + " of archive " + r.Archive
	}
	verb := "shredded"
	switch {
	case r.DryRun:
		verb = "dry run, nothing destroyed"
	case !r.Complete:
		verb = "shred NOT complete (rerun to finish)"
	}
	fmt.Fprintf(&b, "%s (fingerprint %s): %s\n", what, r.Fingerprint, verb)
	grade := r.GradeText()
	if r.DryRun {
		grade = "would be " + grade
	}
	fmt.Fprintf(&b, "grade: %s", grade)
	switch r.Grade {
	case GradeFinal:
		b.WriteString(" (every KEK of the archive key is destroyed)")
	case GradePendingUntil:
		b.WriteString(" (a dedicated KMS key can still be restored until then; verify-shred after that date)")
	case GradeBestEffort:
		b.WriteString(" (surviving KEKs: " + strings.Join(r.SurvivingKEKs, "; ") + ")")
	}
	b.WriteString("\n")
	var stores []string
	for _, s := range r.Stores {
		n := len(s.Deleted)
		word := "deleted"
		if r.DryRun {
			n, word = len(s.Planned), "to delete"
		}
		stores = append(stores, fmt.Sprintf("%s (%d object versions %s)", s.URL, n, word))
	}
	fmt.Fprintf(&b, "stores: %s\n", strings.Join(stores, ", "))
	for _, k := range r.KMSKeys {
		line := fmt.Sprintf("KMS key %s: %s", k.ARN, k.State)
		if !k.DeletionDate.IsZero() {
			line += ", deletion on " + k.DeletionDate.UTC().Format(time.RFC3339)
		}
		if k.Note != "" {
			line += " (" + k.Note + ")"
		}
		b.WriteString(line + "\n")
	}
	for _, k := range r.VaultKeys {
		what := map[string]string{
			VaultDeleted:        "deleted by this shred",
			VaultAlreadyDeleted: "deleted (before this run)",
			VaultKept:           k.State + ", kept",
			VaultWouldDelete:    k.State + ", would be deleted",
			VaultFailed:         k.State + ", NOT deleted",
		}[k.Action]
		if what == "" {
			what = k.State
		}
		line := fmt.Sprintf("Vault key %s: %s", k.Key, what)
		if k.Note != "" {
			line += " (" + k.Note + ")"
		}
		if k.State == VaultStateDeleted && k.Dedicated {
			line += "; Vault storage snapshots taken before the deletion still hold it"
		}
		b.WriteString(line + "\n")
	}
	if len(r.Retained) > 0 {
		var untils []string
		seen := map[string]bool{}
		for _, x := range r.Retained {
			if !seen[x.Until] {
				seen[x.Until] = true
				untils = append(untils, x.Until)
			}
		}
		fmt.Fprintf(&b, "kept by S3 Object Lock: %d object versions (until %s); rerun the shred after that to delete them\n", len(r.Retained), strings.Join(untils, ", "))
	}
	if len(r.Remaining) > 0 {
		fmt.Fprintf(&b, "not done: %d items, first: %s\n", len(r.Remaining), remainingText(r.Remaining[0]))
	}
	if r.Kind == KindConversation {
		b.WriteString("the next export would bring the conversation back from the same source: export with --exclude-conversation SOURCE_KEY\n")
	}
	b.WriteString("not covered: " + r.NotCovered + "\n")
	return b.String()
}

func remainingText(x Remaining) string {
	var where []string
	if x.Store != "" {
		where = append(where, x.Store)
	}
	if x.KMSKey != "" {
		where = append(where, x.KMSKey)
	}
	if x.VaultKey != "" {
		where = append(where, "vault "+x.VaultKey)
	}
	if x.Name != "" {
		n := x.Name
		if x.VersionID != "" {
			n += " (version " + x.VersionID + ")"
		}
		where = append(where, n)
	}
	return fmt.Sprintf("%s: %s: %s", x.Step, strings.Join(where, " "), x.Error)
}
