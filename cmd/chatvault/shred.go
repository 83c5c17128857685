package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/audit"
	"github.com/chatvault/chatvault/archive/shred"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/device"
	"github.com/chatvault/chatvault/kms/vault"
	"github.com/chatvault/chatvault/remote"
)

type shredOptions struct {
	Archive        string
	Conversation   string
	Yes            bool
	DryRun         bool
	Report         string
	SigningKey     string
	Stores         []string
	KMSPendingDays int

	// A conversation shred re-keys the archive, as rotate --rekey does.
	Drop                 []string
	NewPassphraseFiles   []string
	NewPassphraseCommand string
	RecoveryKeyFile      string
	Keys                 keyFlags
}

const shredLong = `Shred destroys an archive, or one conversation of it, by destroying keys
(crypto-shredding), and writes a report that proves it.

  shred ARCHIVE --yes                       the whole archive
  shred ARCHIVE --conversation ID --yes     one conversation (an id, a unique id
                                            prefix or its exact label)
  shred ARCHIVE [--conversation ID] --dry-run   what would be destroyed; nothing is

--yes confirms (it is never read from the environment or the config file);
without it, and without --dry-run, shred exits 2.

A whole-archive shred needs no secret: in every registered store — the store
given with --repo, every store this device pushed the archive to or pulled it
from, and each --store URL — it deletes the key material (wrappers, wrapper
sets, key tables; every version and delete marker) first, then destroys each
KMS key made for the archive alone (init --kms-create: disabled at once and
scheduled for deletion after --kms-pending-days, 7 to 30), then deletes every
other object, every version, and finally this device forgets the archive.

A conversation shred opens the archive (device key, KMS, then a recovery key
or a passphrase, as every command) and re-keys it as ` + "`rotate --rekey`" + ` does: one
commit drops the conversation's key, a new archive key is wrapped again for
each key-encryption key (a passphrase wrapper needs its passphrase again:
--new-passphrase-file [ID=]FILE; a recovery key is replaced by a new one,
written to --recovery-key-file, and the old recovery sheet is void; --drop ID
leaves a wrapper out; a wrapper under a dedicated KMS or Vault key is made
under a new key dedicated to the archive, and the old one is destroyed once
the shred commit is pushed: a KMS key is disabled and scheduled for deletion
after --kms-pending-days, a Vault key deleted). Without a terminal every such secret must be given,
else exit 2 before anything changes. The conversation's segments, attachments
and manifests and the old key material are then deleted from every
registered store, every version. The next export from the same source would
bring the chat back: export with --exclude-conversation SOURCE_KEY (shred
prints the key).

The report (--report FILE, else a file under the state directory; JSON, mode
0600) lists every deleted object version, the KMS keys and the former
wrappers with their key-encryption keys, and grades the shred:

  final              every key-encryption key that ever wrapped the archive key
                     is destroyed (dedicated KMS keys deleted)
  pending-until DATE as final, but a dedicated KMS key is pending deletion until
                     DATE (reversible until then)
  best-effort        some key-encryption key survives (a passphrase, a recovery
                     key, a device key, a shared KMS key): every wrapper under it
                     was deleted from the registered stores, and the report
                     names each surviving key

Copies outside the registered stores (replicas, backups, other devices) are
not covered, and the report says so. The report is signed with the operator's
Ed25519 key: --signing-key FILE, else the key ` + "`chatvault device init --signing-key`" + `
made; without one it is written unsigned, with a warning. Check it, now or
later, with ` + "`chatvault verify-shred REPORT`" + `.

The report file doubles as a journal, written before the first deletion and
after every step: a shred stopped by an error or a crash exits 6, and running
the same command again finishes it (also once the archive no longer opens).
Every shred is recorded in the audit log (<state dir>/audit.log and
--audit-log STORE); a shred whose audit record cannot be written fails.`

func newShredCmd(a *app, runF func(context.Context, *shredOptions) error) *cobra.Command {
	o := &shredOptions{}
	cmd := &cobra.Command{
		Use:   "shred ARCHIVE [--conversation ID] --yes [--dry-run] [--report FILE] [--signing-key FILE] [--store URL]...",
		Short: "Destroy an archive or one conversation (crypto-shredding), with a signed report",
		Long:  shredLong,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			o.Archive = args[0]
			if err := o.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			a.noAgeWarn = true
			if o.Conversation != "" {
				return a.shredConversation(cmd.Context(), o)
			}
			return a.shredArchive(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Conversation, "conversation", "", "shred only the conversation `ID` (an id, a unique id prefix or its exact label)")
	f.BoolVar(&o.Yes, "yes", false, "confirm the shred (never read from the environment or the config file)")
	f.BoolVar(&o.DryRun, "dry-run", false, "list what would be destroyed; destroy nothing")
	f.StringVar(&o.Report, "report", "", "write the report to `FILE` (mode 0600; default: under the state directory)")
	f.StringVar(&o.SigningKey, "signing-key", "", "sign the report with the Ed25519 key in `FILE` (default: the key of `chatvault device init --signing-key`, if any)")
	f.StringArrayVar(&o.Stores, "store", nil, "also shred in the store `URL` (a directory or s3://bucket/prefix); may be repeated")
	f.IntVar(&o.KMSPendingDays, "kms-pending-days", awskms.MinPendingDays, "waiting period in `DAYS` (7 to 30) before KMS deletes a dedicated key (with --conversation: the one the re-key replaced)")
	f.StringArrayVar(&o.Drop, "drop", nil, "with --conversation: do not make the wrapper `ID` again; may be repeated")
	f.StringArrayVar(&o.NewPassphraseFiles, "new-passphrase-file", nil, "with --conversation: read a passphrase wrapper's passphrase from `FILE` (ID=FILE for one wrapper; may be repeated)")
	f.StringVar(&o.NewPassphraseCommand, "new-passphrase-command", "", "with --conversation: read the passphrase from the output of `COMMAND` (run with sh -c)")
	f.StringVar(&o.RecoveryKeyFile, "recovery-key-file", "", "with --conversation: write the new recovery key's sheet to `FILE`")
	o.Keys.registerAs(f, "unlock-recovery-key-file")
	return cmd
}

func (o *shredOptions) check() error {
	conv := len(o.Drop) > 0 || len(o.NewPassphraseFiles) > 0 || o.NewPassphraseCommand != "" || o.RecoveryKeyFile != ""
	switch {
	case !o.Yes && !o.DryRun:
		return usageErrorf("shred destroys archive %s for good: confirm with --yes (or see what it would do with --dry-run)", o.Archive)
	case o.Yes && o.DryRun:
		return usageErrorf("--yes and --dry-run exclude each other")
	case o.KMSPendingDays < awskms.MinPendingDays || o.KMSPendingDays > awskms.MaxPendingDays:
		return usageErrorf("--kms-pending-days %d: KMS accepts %d to %d", o.KMSPendingDays, awskms.MinPendingDays, awskms.MaxPendingDays)
	case o.Conversation == "" && conv:
		return usageErrorf("--drop, --new-passphrase-file, --new-passphrase-command and --recovery-key-file go with --conversation (a whole-archive shred needs no secret)")
	}
	return nil
}

// ---- signing key and report files

// defaultSigningKeyPath is where `device init --signing-key` puts the
// operator's report-signing key.
func defaultSigningKeyPath() (string, error) {
	dir, err := device.DefaultDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, signingKeyFile), nil
}

const signingKeyFile = "shred-signing.key"

// signingKey loads the report-signing key: path, else the default one if it
// exists; nil (no error) when there is none. It is loaded before anything is
// destroyed, so that a bad key file changes nothing.
func (a *app) signingKey(path string) (ed25519.PrivateKey, error) {
	if path == "" {
		def, err := defaultSigningKeyPath()
		if err != nil {
			return nil, nil
		}
		if _, err := os.Stat(def); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		path = def
	}
	key, err := shred.LoadSigningKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usageErrorf("--signing-key %s: no such file (create one with `chatvault device init --signing-key=%s`)", path, path)
	}
	if err != nil {
		return nil, err
	}
	a.notef("signing the report with %s (public key %s)", path, shred.PublicKeyString(key.Public().(ed25519.PublicKey)))
	return key, nil
}

// shredDir is where reports and journals go without --report.
func (a *app) shredDir() (string, error) {
	if a.stateDir == "" {
		return "", usageErrorf("no state directory: give --report FILE")
	}
	dir := filepath.Join(a.stateDir, "shred")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("state: %w", err)
	}
	return dir, nil
}

// checkReportFile refuses to overwrite a file that is not a report of the
// same shred (a rerun may overwrite its own journal).
func checkReportFile(path, kind string, id archive.ID, conv string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--report %s: %w", path, err)
	}
	r, err := shred.ParseReport(b)
	if err != nil || r.Kind != kind || r.Archive != id.String() || (conv != "" && r.Conversation != conv) {
		return usageErrorf("--report %s exists and is not a report of this shred: refusing to overwrite it", path)
	}
	return nil
}

// keepEarlierReport copies the report (or journal) an earlier run left at
// path beside it, as PATH-without-.json.run-<its start>.json, before this
// run overwrites it: a rerun's report lists only what the rerun did, and the
// earlier list of deleted versions is part of the record. It returns the
// copy's name ("" when there was nothing to keep).
func keepEarlierReport(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	r, err := shred.ParseReport(b)
	if err != nil || r.DryRun {
		return "", nil
	}
	name := strings.TrimSuffix(path, ".json") + ".run-" + r.Started.UTC().Format("20060102T150405Z") + ".json"
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return name, nil // kept by an earlier rerun
	}
	if err != nil {
		return "", err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	return name, f.Close()
}

// checkReportDir refuses a report path whose directory does not exist,
// before anything is destroyed or logged.
func checkReportDir(path string) error {
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return usageErrorf("--report %s: no directory %s", path, filepath.Dir(path))
	}
	return nil
}

// finishReport signs the report (when there is a key) and writes it to path
// ("" for none). A write failure is returned; the report is still printed.
func (a *app) finishReport(r *shred.Report, key ed25519.PrivateKey, path string) error {
	if key != nil {
		if err := shred.Sign(r, key); err != nil {
			return err
		}
	}
	if path == "" {
		return nil
	}
	if err := r.WriteFile(path); err != nil {
		return fmt.Errorf("writing the shred report %s: %w", path, err)
	}
	return nil
}

// printReport prints the summary (or the report as one JSON line) and the
// notes about its file and signature.
func (a *app) printReport(r *shred.Report, path string, key ed25519.PrivateKey) error {
	if a.json {
		if err := a.emit(r); err != nil {
			return err
		}
	} else {
		a.printf("%s", shred.Summary(r))
		if path != "" {
			sig := "UNSIGNED"
			if r.Signature != nil {
				sig = "signed by " + r.Signature.PublicKey
			}
			a.printf("report: %s (%s)\n", path, sig)
		}
		if r.Grade == shred.GradePendingUntil && r.Complete {
			a.printf("run `chatvault verify-shred %s` after %s for the final grade\n", orWord(path, "REPORT"), r.PendingUntil.UTC().Format(time.RFC3339))
		}
	}
	if key == nil && !r.DryRun {
		a.warn("the report is not signed (no --signing-key, and no operator key: create one with `chatvault device init --signing-key`): it cannot be handed to auditors as proof")
	}
	return nil
}

func orWord(s, word string) string {
	if s == "" {
		return word
	}
	return s
}

// ---- stores

// shredStores opens every registered store of the archive besides st: the
// stores of this device's pin, those extra names (an earlier report's
// stores) and --store. Stores that cannot be opened are returned apart. They
// are opened for reading: a shred only deletes (pushes open their own).
func (a *app) shredStores(ctx context.Context, st remote.Store, id archive.ID, extra, flags []string) (stores []remote.Store, failed map[string]error) {
	stores = []remote.Store{st}
	failed = map[string]error{}
	seen := map[string]bool{st.String(): true}
	var urls []string
	if pin, err := a.state().Load(id); err == nil && pin != nil {
		for s := range pin.Stores {
			urls = append(urls, s)
		}
		slices.Sort(urls)
	}
	urls = append(urls, extra...)
	urls = append(urls, flags...)
	for _, u := range urls {
		if u == "" || seen[u] {
			continue
		}
		seen[u] = true
		o, err := a.openStore(ctx, u, storeRead)
		if err != nil {
			failed[u] = fmt.Errorf("the store could not be opened: %w", err)
			continue
		}
		if seen[o.String()] && o.String() != u {
			continue
		}
		seen[o.String()] = true
		stores = append(stores, o)
	}
	return stores, failed
}

// addUncleaned records in the report the registered stores the shred could
// not work in (they could not be opened, or the shred commit not pushed
// there): listed among the stores, so that a rerun and verify-shred know
// them, and as not done.
func addUncleaned(r *shred.Report, failed map[string]error, step string) {
	for _, u := range sortedKeys(failed) {
		listed := false
		for _, s := range r.Stores {
			listed = listed || s.URL == u
		}
		if !listed {
			r.Stores = append(r.Stores, shred.StoreReport{URL: u, Deleted: []shred.Object{}})
		}
		r.Remaining = append(r.Remaining, shred.Remaining{Store: u, Name: r.Prefix, Step: step, Error: oneLine(failed[u].Error())})
	}
}

func storeURLs(stores []remote.Store) []string {
	out := make([]string, len(stores))
	for i, s := range stores {
		out[i] = s.String()
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ---- whole archive

func (a *app) shredArchive(ctx context.Context, o *shredOptions) error {
	key, err := a.signingKey(o.SigningKey)
	if err != nil {
		return err
	}
	// Deleting needs no create-exclusive store (no probe object is written).
	st, err := a.openStore(ctx, a.repo, storeRead)
	if err != nil {
		return err
	}
	id, err := archive.Resolve(ctx, st, o.Archive, a.state())
	if errors.Is(err, archive.ErrNotFound) {
		// Gone from the store's listing: an interrupted shred is finished
		// from its journal.
		var jerr error
		if id, jerr = a.findJournal(o.Archive, o.Report); jerr != nil {
			return jerr
		}
		if id == (archive.ID{}) {
			return withHint(err, "run `chatvault ls` to list the archives in "+st.String()+"; to finish an interrupted shred, give the archive id and the --report FILE of that run")
		}
	} else if err != nil {
		return err
	}

	reportPath := o.Report
	if reportPath == "" && !o.DryRun {
		dir, err := a.shredDir()
		if err != nil {
			return err
		}
		reportPath = filepath.Join(dir, id.String()+".json")
	}
	if reportPath != "" {
		if err := checkReportFile(reportPath, shred.KindArchive, id, ""); err != nil {
			return err
		}
		if err := checkReportDir(reportPath); err != nil {
			return err
		}
	}
	// The journal of an earlier run: this report file, else the default one.
	var prev *shred.Report
	if !o.DryRun {
		journals := []string{reportPath}
		if dir, err := a.shredDir(); err == nil && o.Report != "" {
			journals = append(journals, filepath.Join(dir, id.String()+".json"))
		}
		for _, j := range journals {
			if r, err := shred.LoadReport(j); err == nil && r.Kind == shred.KindArchive && r.Archive == id.String() && !r.DryRun {
				prev = r
				if j != reportPath {
					// The engine reads its journal from the report file.
					if err := r.WriteFile(reportPath); err != nil {
						return fmt.Errorf("copying the shred journal %s to %s: %w", j, reportPath, err)
					}
				}
				break
			}
		}
	}

	a.notef("archive %s in %s", id, st)
	ar, openErr := archive.Open(ctx, st, id, a.archiveOptions(""))
	if openErr != nil {
		if prev == nil || ctx.Err() != nil || errors.Is(openErr, remote.ErrUnavailable) {
			if errors.Is(openErr, archive.ErrNotFound) {
				return withHint(openErr, "no shred journal of it either: to finish an interrupted shred, give the --report FILE of that run")
			}
			return openErr
		}
		a.notef("archive %s does not open (%v): finishing the shred from %s", id.Short(), openErr, reportPath)
	}

	// The registered stores: read before the shred, which forgets them.
	var extra []string
	if prev != nil {
		for _, s := range prev.Stores {
			extra = append(extra, s.URL)
		}
		for _, x := range prev.Remaining {
			extra = append(extra, x.Store)
		}
	}
	stores, failed := a.shredStores(ctx, st, id, extra, o.Stores)
	for _, u := range sortedKeys(failed) {
		a.warn(fmt.Sprintf("registered store %s: %s", u, oneLine(failed[u].Error())))
	}

	// A KMS (Vault) client only when some KEK is a KMS (Vault) key.
	var types []string
	if ar != nil {
		if ws, err := ar.Wrappers(ctx); err == nil {
			for _, w := range ws {
				types = append(types, w.Type)
			}
		}
		for _, f := range ar.FormerWrappers(ar.Head()) {
			types = append(types, f.Type)
		}
	}
	if prev != nil {
		for _, w := range prev.Wrappers {
			types = append(types, w.Type)
		}
	}
	var kmsc *awskms.Client
	var vc *vault.Client
	if slices.Contains(types, archive.WrapperKMS) {
		if kmsc, err = a.kms(ctx); err != nil {
			return err
		}
	}
	if slices.Contains(types, archive.WrapperVault) {
		if vc, err = a.vaultClient(); err != nil {
			return err
		}
	}
	aws := kmsc != nil
	for _, s := range stores {
		aws = aws || strings.HasPrefix(s.String(), "s3://")
	}
	op := a.operator(ctx, aws)

	if prev != nil {
		kept, err := keepEarlierReport(reportPath)
		if err != nil {
			return fmt.Errorf("keeping the earlier shred report %s: %w", reportPath, err)
		}
		if kept != "" {
			a.printf("continuing the shred started %s; that run's report is kept as %s\n", prev.Started.UTC().Format(time.RFC3339), kept)
		}
	}
	if !o.DryRun {
		// Before anything is deleted: a shred the audit log cannot record
		// does not start.
		if err := a.auditStrict(ctx, audit.ActionShred, id, map[string]any{
			"phase": "started", "report": reportPath, "stores": storeURLs(stores), "resumed": ar == nil,
		}); err != nil {
			return fmt.Errorf("%w; nothing was deleted (a shred is not started without its audit record)", err)
		}
	}

	opts := shred.Options{DryRun: o.DryRun, KMS: kmsc, Vault: vc, KMSPendingDays: o.KMSPendingDays, State: a.state(), Operator: &op, Journal: reportPath}
	if len(failed) > 0 {
		opts.State = archive.State{} // remembered until every store is cleaned
	}
	var r *shred.Report
	var serr error
	if ar != nil {
		r, serr = shred.Archive(ctx, ar, stores, opts)
	} else {
		r, serr = shred.Resume(ctx, prev, stores, opts)
	}
	if r == nil {
		return serr
	}
	if len(failed) > 0 {
		addUncleaned(r, failed, shred.StepKeys)
		if !r.DryRun {
			r.Complete, r.StateForgotten = false, false
			r.Notes = append(r.Notes, "this device keeps its record of the archive until every registered store is cleaned")
			if serr == nil {
				serr = fmt.Errorf("%w: %s could not be cleaned", shred.ErrIncomplete, plural(len(failed), "registered store"))
			}
		}
	}
	werr := a.finishReport(r, key, reportPath)
	if err := a.printReport(r, reportPath, key); err != nil {
		return err
	}

	if !o.DryRun {
		kmsKeys := []string{}
		for _, k := range r.KMSKeys {
			kmsKeys = append(kmsKeys, k.ARN+" "+k.State)
		}
		details := map[string]any{
			"phase": "finished", "report": reportPath, "complete": r.Complete, "grade": r.GradeText(),
			"signed": r.Signature != nil, "stores": storeURLs(stores), "kms_keys": kmsKeys,
			"surviving_keks": r.SurvivingKEKs, "resumed": ar == nil, "remaining": len(r.Remaining),
		}
		if !r.Complete {
			details["phase"] = "incomplete"
		}
		if aerr := a.auditStrict(ctx, audit.ActionShred, id, details); aerr != nil {
			if serr != nil {
				fmt.Fprintf(a.errOut, "chatvault: the audit log was not written: %s\n", oneLine(aerr.Error()))
			} else {
				return withHint(fmt.Errorf("archive %s is shredded (report %s) but its audit record could not be written: %w", id.Short(), reportPath, aerr),
					"fix the audit log and run the same command again: it re-checks the shred and records it")
			}
		}
	}
	if serr != nil {
		return withHint(serr, "run the same command again: it finishes the shred (what is gone stays gone)")
	}
	return werr
}

// findJournal finds the journal (or report) of an interrupted archive shred
// by archive id or unique id prefix: the --report file, else the state
// directory's. A zero id: none.
func (a *app) findJournal(name, reportPath string) (archive.ID, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if len(name) < 6 || !isHexString(name) {
		return archive.ID{}, nil
	}
	var files []string
	if reportPath != "" {
		files = append(files, reportPath)
	}
	if a.stateDir != "" {
		m, _ := filepath.Glob(filepath.Join(a.stateDir, "shred", "*.json"))
		files = append(files, m...)
	}
	found := map[string]bool{}
	for _, f := range files {
		r, err := shred.LoadReport(f)
		if err != nil || r.Kind != shred.KindArchive || r.DryRun || !strings.HasPrefix(r.Archive, name) {
			continue
		}
		found[r.Archive] = true
	}
	ids := sortedKeys(found)
	switch len(ids) {
	case 0:
		return archive.ID{}, nil
	case 1:
		return archive.ParseID(ids[0])
	}
	return archive.ID{}, usageError(fmt.Errorf("%w: %q matches the shred journals of archives %s", archive.ErrAmbiguous, name, strings.Join(ids, ", ")))
}

// ---- one conversation

// convPending is what a conversation shred records in the state directory
// just before its commit (no secret, no label), so that a run interrupted
// after the commit is finished by running the command again.
type convPending struct {
	Archive      string `json:"archive"`
	Conversation string `json:"conversation"`
	Commit       uint64 `json:"commit"` // the shred commit it is about to make
	Report       string `json:"report"`
	// The dedicated keys the re-key replaced by new dedicated ones, to
	// destroy once the commit is pushed: KMS key ARNs, Vault "<mount>/<key>".
	DestroyKMSKeys   []string `json:"destroy_kms_keys,omitempty"`
	DestroyVaultKeys []string `json:"destroy_vault_keys,omitempty"`
}

func (a *app) convPendingPath(id archive.ID) (string, error) {
	dir, err := a.shredDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, id.String()+".conversation-pending.json"), nil
}

func (a *app) loadConvPending(id archive.ID) (*convPending, string, error) {
	path, err := a.convPendingPath(id)
	if err != nil {
		return nil, "", err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, path, nil
	}
	if err != nil {
		return nil, path, fmt.Errorf("state: %w", err)
	}
	var p convPending
	if err := json.Unmarshal(b, &p); err != nil || p.Archive != id.String() {
		return nil, path, fmt.Errorf("state: %s is damaged; remove it if no conversation shred of archive %s was interrupted", path, id.Short())
	}
	return &p, path, nil
}

func writeConvPending(path string, p convPending) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

func (a *app) shredConversation(ctx context.Context, o *shredOptions) error {
	key, err := a.signingKey(o.SigningKey)
	if err != nil {
		return err
	}
	mode := storeWrite
	if o.DryRun {
		mode = storeRead
	}
	st, err := a.openStore(ctx, a.repo, mode)
	if err != nil {
		return err
	}
	ar, err := a.openArchive(ctx, st, o.Archive, "")
	if err != nil {
		return err
	}
	name := a.archiveName(ar.ID())

	if !o.DryRun {
		if _, err := a.finishPending(ctx, st, ar, ""); err != nil {
			return err
		}
		p, ppath, err := a.loadConvPending(ar.ID())
		if err != nil {
			return err
		}
		if p != nil {
			cs, err := ar.Commits(ctx)
			if err != nil {
				return err
			}
			if p.Commit >= 2 && p.Commit <= ar.Head() && cs[p.Commit-1].Kind == archive.KindShred {
				return a.finishConvShred(ctx, o, st, ar, p, ppath, key)
			}
			// The earlier run stopped before its commit: nothing happened.
			os.Remove(ppath)
		}
	}

	ws, err := ar.Wrappers(ctx)
	if err != nil {
		return err
	}
	var plan *rekeyPlan
	if !o.DryRun {
		if plan, err = a.planRekey(ar, ws, "a conversation shred re-keys the archive and", o.Drop, o.NewPassphraseFiles, o.NewPassphraseCommand, o.RecoveryKeyFile); err != nil {
			return err
		}
		defer plan.discard()
	}
	if err := a.unlock(ctx, ar, o.Keys, false); err != nil {
		return err
	}
	convs, err := ar.Conversations(ctx, 0)
	if err != nil {
		return err
	}
	convID, err := archive.ResolveConversation(convs, o.Conversation)
	if errors.Is(err, archive.ErrNotFound) {
		return withHint(err, "run `chatvault ls "+ar.ID().Short()+"` to list its conversations")
	}
	if err != nil {
		return err
	}
	var info archive.ConversationInfo
	for _, c := range convs {
		if c.ID == convID {
			info = c
		}
	}
	if o.DryRun {
		return a.convDryRun(ar, ws, info, o.Drop)
	}

	reportPath := o.Report
	if reportPath == "" {
		dir, err := a.shredDir()
		if err != nil {
			return err
		}
		reportPath = filepath.Join(dir, ar.ID().String()+"-"+convID.String()+".json")
	}
	if err := checkReportFile(reportPath, shred.KindConversation, ar.ID(), convID.String()); err != nil {
		return err
	}
	if err := checkReportDir(reportPath); err != nil {
		return err
	}
	stores, failed := a.shredStores(ctx, st, ar.ID(), nil, o.Stores)
	for _, u := range sortedKeys(failed) {
		a.warn(fmt.Sprintf("registered store %s: %s", u, oneLine(failed[u].Error())))
	}

	defer plan.clear()
	// The new dedicated keys made for the re-key are destroyed again when
	// no commit uses them.
	committed := false
	defer func() {
		if !committed {
			plan.abandon(ctx, a)
		}
	}()
	lockers, rkey, err := plan.lockers(ctx, a, ar.ID(), fmt.Sprintf("c%d-%s", ar.Head()+1, randomSuffix()))
	if err != nil {
		return err
	}
	defer clear(rkey[:])

	if err := a.auditStrict(ctx, audit.ActionShredConversation, ar.ID(), map[string]any{
		"phase": "started", "conversation": convID.String(), "report": reportPath, "stores": storeURLs(stores),
	}); err != nil {
		return fmt.Errorf("%w; nothing was changed (a shred is not started without its audit record)", err)
	}
	ppath, err := a.convPendingPath(ar.ID())
	if err != nil {
		return err
	}
	p := convPending{Archive: ar.ID().String(), Conversation: convID.String(), Commit: ar.Head() + 1, Report: reportPath,
		DestroyKMSKeys: plan.destroyKMS, DestroyVaultKeys: plan.destroyVault}
	if err := writeConvPending(ppath, p); err != nil {
		return err
	}

	// The former wrappers (ws) were read before this call: the report grades
	// the shred by their KEKs.
	res, err := ar.ShredConversation(ctx, convID, lockers)
	if err != nil && res.Commit == 0 {
		os.Remove(ppath)
		return err
	}
	committed = true
	cerr := err // the commit is made; deleting its tombstones failed
	var sheetErr error
	if plan.recoveryW != nil {
		if sheetErr = plan.writeSheet(ctx, ar, rkey); sheetErr != nil {
			sheetErr = withHint(fmt.Errorf("conversation %s was shredded and archive %s re-keyed with a new recovery key, but it could not be saved: %w", convID.Short(), ar.ID().Short(), sheetErr),
				"the new recovery key is lost: add another with `chatvault keys add "+ar.ID().Short()+" --recovery-key --recovery-key-file FILE`")
		}
	}
	if !a.json {
		a.printf("shredded conversation %s of archive %s in commit %d: a new archive key (key epoch %d)\n", convID.Short(), name, res.Commit, res.Epoch)
		for _, w := range res.Wrappers {
			a.printf("  new      %s\n", describeWrapper(w))
		}
		for _, w := range plan.dropped {
			a.printf("  dropped  %s\n", describeWrapper(w))
		}
		if plan.recoveryW != nil {
			a.printf("the old recovery sheet is void")
			if o.RecoveryKeyFile != "" {
				a.printf("; the new one is in %s: print it or move it somewhere safe, off this device", o.RecoveryKeyFile)
			}
			a.printf("\n")
		}
	}
	return a.completeConvShred(ctx, o, st, ar, stores, failed, shred.ConversationShred{Conversation: convID, Result: res, Former: ws},
		info.SourceKey, reportPath, ppath, p, key, plan, errors.Join(cerr, sheetErr))
}

// finishConvShred completes a conversation shred whose commit an earlier run
// made (it stopped before its report).
func (a *app) finishConvShred(ctx context.Context, o *shredOptions, st remote.Store, ar *archive.Archive, p *convPending, ppath string, key ed25519.PrivateKey) error {
	conv, err := archive.ParseID(p.Conversation)
	if err != nil {
		return fmt.Errorf("state: %s: %w", ppath, err)
	}
	a.printf("finishing the interrupted shred of conversation %s of archive %s (commit %d)\n", conv.Short(), a.archiveName(ar.ID()), p.Commit)
	var former []*archive.Wrapper
	for _, f := range ar.FormerWrappers(p.Commit) {
		if f.RemovedBy == p.Commit {
			former = append(former, &archive.Wrapper{ID: f.ID, Type: f.Type, KeyID: f.KeyID, Recipient: f.Recipient, Dedicated: f.Dedicated})
		}
	}
	res := archive.RekeyResult{Commit: p.Commit}
	if ar.Head() == p.Commit {
		if ws, err := ar.Wrappers(ctx); err == nil {
			res.Wrappers = ws
		}
	}
	reportPath := o.Report
	if reportPath == "" {
		reportPath = p.Report
	}
	stores, failed := a.shredStores(ctx, st, ar.ID(), nil, o.Stores)
	for _, u := range sortedKeys(failed) {
		a.warn(fmt.Sprintf("registered store %s: %s", u, oneLine(failed[u].Error())))
	}
	err = a.completeConvShred(ctx, o, st, ar, stores, failed, shred.ConversationShred{Conversation: conv, Result: res, Former: former},
		"", reportPath, ppath, *p, key, nil, nil)
	if err == nil {
		name := strings.ToLower(o.Conversation)
		if !strings.HasPrefix(conv.String(), name) || len(name) < 6 {
			a.printf("nothing else was changed: run the command again if you meant another conversation\n")
		}
	}
	return err
}

// completeConvShred pushes the shred commit to the other registered stores
// (as pushRegistered does, store by store), deletes the tombstoned objects
// everywhere and destroys the dedicated keys the re-key replaced (pend's,
// shred.Conversation), and writes, prints and records the report.
func (a *app) completeConvShred(ctx context.Context, o *shredOptions, st remote.Store, ar *archive.Archive, stores []remote.Store, failed map[string]error,
	cs shred.ConversationShred, sourceKey, reportPath, ppath string, pend convPending, key ed25519.PrivateKey, plan *rekeyPlan, cerr error) error {
	// The other stores get the shred commit first (push applies its
	// tombstones there): a registered store, or an --store holding the
	// archive. One the push fails for is left alone — cleaning it would
	// leave its head commit naming deleted key material — and the shred is
	// incomplete until a rerun pushes there.
	pin, _ := a.state().Load(ar.ID())
	clean := []remote.Store{st}
	for _, s := range stores[1:] {
		registered := false
		if pin != nil {
			_, registered = pin.Stores[s.String()]
		}
		if !registered && !hasArchive(ctx, s, ar.Prefix()) {
			clean = append(clean, s) // nothing to push; leftovers are cleaned
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := a.pushTo(ctx, st, s.String(), ar.ID()); err != nil {
			a.warn(fmt.Sprintf("%s was not updated (%s): it is not cleaned until the shred commit is pushed there", s, oneLine(err.Error())))
			failed[s.String()] = fmt.Errorf("the shred commit could not be pushed there: %w", err)
			continue
		}
		clean = append(clean, s)
	}
	stores = clean

	// KMS and Vault clients to describe the keys (and destroy the dedicated
	// ones the re-key replaced).
	var kmsc *awskms.Client
	var vc *vault.Client
	types := []string{}
	for _, w := range cs.Former {
		types = append(types, w.Type)
	}
	for _, f := range ar.FormerWrappers(cs.Result.Commit) {
		types = append(types, f.Type)
	}
	if slices.Contains(types, archive.WrapperKMS) {
		c, err := a.kms(ctx)
		if err != nil {
			a.warn(fmt.Sprintf("no KMS client (%s): the report cannot give the KMS keys' state", oneLine(err.Error())))
		}
		kmsc = c
	}
	if slices.Contains(types, archive.WrapperVault) {
		c, err := a.vaultClient()
		if err != nil {
			a.warn(fmt.Sprintf("no Vault client (%s): the report cannot give the Vault keys' state", oneLine(err.Error())))
		}
		vc = c
	}
	aws := kmsc != nil
	for _, s := range stores {
		aws = aws || strings.HasPrefix(s.String(), "s3://")
	}
	op := a.operator(ctx, aws)
	if kept, err := keepEarlierReport(reportPath); err != nil {
		return fmt.Errorf("keeping the earlier shred report %s: %w", reportPath, err)
	} else if kept != "" {
		a.printf("the earlier run's report is kept as %s\n", kept)
	}
	r, serr := shred.Conversation(ctx, ar, cs, stores, shred.Options{KMS: kmsc, Vault: vc, KMSPendingDays: o.KMSPendingDays, State: a.state(), Operator: &op, Journal: reportPath,
		DestroyKMSKeys: pend.DestroyKMSKeys, DestroyVaultKeys: pend.DestroyVaultKeys})
	if r == nil {
		return errors.Join(serr, cerr)
	}
	if len(failed) > 0 {
		addUncleaned(r, failed, shred.StepTombstones)
		r.Complete = false
		if serr == nil {
			serr = fmt.Errorf("%w: %s could not be cleaned", shred.ErrIncomplete, plural(len(failed), "registered store"))
		}
	}
	werr := a.finishReport(r, key, reportPath)
	if err := a.printReport(r, reportPath, key); err != nil {
		return err
	}
	if sourceKey != "" {
		hint := fmt.Sprintf("to keep it from coming back, export from that source with --exclude-conversation %s", shellQuote(sourceKey))
		if a.json {
			if !a.quiet {
				fmt.Fprintf(a.errOut, "note: %s\n", hint)
			}
		} else {
			a.printf("%s\n", hint)
		}
	}
	if r.Complete {
		os.Remove(ppath)
	}

	details := map[string]any{
		"phase": "finished", "conversation": cs.Conversation.String(), "commit": cs.Result.Commit, "report": reportPath,
		"complete": r.Complete, "grade": r.GradeText(), "signed": r.Signature != nil, "stores": storeURLs(stores),
		"surviving_keks": r.SurvivingKEKs, "remaining": len(r.Remaining),
	}
	if len(pend.DestroyKMSKeys) > 0 || len(pend.DestroyVaultKeys) > 0 {
		kmsKeys, vaultKeys := []string{}, []string{}
		for _, k := range r.KMSKeys {
			kmsKeys = append(kmsKeys, k.ARN+" "+k.State)
		}
		for _, k := range r.VaultKeys {
			vaultKeys = append(vaultKeys, k.Key+" "+k.State)
		}
		details["kms_keys"], details["vault_keys"] = kmsKeys, vaultKeys
	}
	if !r.Complete {
		details["phase"] = "incomplete"
	}
	if cs.Result.Epoch != 0 {
		details["epoch"] = cs.Result.Epoch
	}
	var newW, dropped []string
	for _, w := range cs.Result.Wrappers {
		newW = append(newW, w.ID.String()+" "+w.Type)
	}
	if plan != nil {
		for _, w := range plan.dropped {
			dropped = append(dropped, w.ID.String()+" "+w.Type)
		}
		details["recovery_sheet_void"] = plan.recoveryW != nil
	}
	details["new_wrappers"], details["dropped_wrappers"] = newW, dropped
	serr = errors.Join(serr, cerr)
	if aerr := a.auditStrict(ctx, audit.ActionShredConversation, ar.ID(), details); aerr != nil {
		if serr != nil {
			fmt.Fprintf(a.errOut, "chatvault: the audit log was not written: %s\n", oneLine(aerr.Error()))
		} else {
			return withHint(fmt.Errorf("conversation %s is shredded (report %s) but its audit record could not be written: %w", cs.Conversation.Short(), reportPath, aerr),
				"fix the audit log and run `chatvault shred "+ar.ID().Short()+" --conversation "+cs.Conversation.String()+" --yes` again: it finishes and records the shred")
		}
	}
	if serr != nil {
		if errors.Is(serr, shred.ErrIncomplete) || errors.Is(serr, archive.ErrConflict) {
			return withHint(serr, "run the same command again: it finishes the shred (and does not shred twice)")
		}
		return serr
	}
	return werr
}

// hasArchive reports whether st holds commits under the archive's prefix.
func hasArchive(ctx context.Context, st remote.Store, prefix string) bool {
	found := errors.New("found")
	err := st.List(ctx, prefix+"commits/", func(remote.Info) error { return found })
	return errors.Is(err, found)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/@+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// convDryRun says what a conversation shred would do.
func (a *app) convDryRun(ar *archive.Archive, ws []*archive.Wrapper, info archive.ConversationInfo, drop []string) error {
	dropped := map[archive.ID]bool{}
	for _, s := range drop {
		w, err := findWrapper(ar.ID(), ws, s)
		if err != nil {
			return err
		}
		dropped[w.ID] = true
	}
	if a.json {
		type row struct {
			Type         string   `json:"type"`
			Archive      string   `json:"archive"`
			Conversation string   `json:"conversation"`
			Messages     int64    `json:"messages"`
			Remake       []string `json:"remake"`
			Drop         []string `json:"drop"`
		}
		rec := row{Type: "shred_plan", Archive: ar.ID().String(), Conversation: info.ID.String(), Messages: info.Messages, Remake: []string{}, Drop: []string{}}
		for _, w := range ws {
			if dropped[w.ID] {
				rec.Drop = append(rec.Drop, w.ID.String())
			} else {
				rec.Remake = append(rec.Remake, w.ID.String())
			}
		}
		return a.emit(rec)
	}
	a.printf("dry run, nothing changed: shredding conversation %s (%q, %s) of archive %s would\n", info.ID.Short(), info.Label, plural(info.Messages, "message"), a.archiveName(ar.ID()))
	a.printf("  delete its segments, attachments and manifests, every version, in every registered store\n")
	a.printf("  re-key the archive, making again:\n")
	for _, w := range ws {
		if dropped[w.ID] {
			a.printf("    drop     %s\n", describeWrapper(w))
		} else {
			a.printf("    remake   %s\n", describeWrapper(w))
		}
	}
	a.printf("to keep it from coming back, export from that source with --exclude-conversation %s\n", shellQuote(info.SourceKey))
	return nil
}

// ---- re-key plan (a local adapter of rotate --rekey's logic, rekey.go)

// ---- device init --signing-key

// defaultSigningKeyWord is the value of a bare `device init --signing-key`.
const defaultSigningKeyWord = "default"

type signingKeyRecord struct {
	Type      string `json:"type"`
	Path      string `json:"path"`
	PublicKey string `json:"public_key"`
	PEM       string `json:"public_key_file"`
	Created   bool   `json:"created"`
}

// signingKeyInit creates the operator's report-signing key (device init
// --signing-key): an Ed25519 key in a PEM file of mode 0600, never
// overwritten, and its public key beside it (FILE.pub, PEM) for auditors.
func (a *app) signingKeyInit(path string, qr bool) error {
	if qr {
		return usageErrorf("--qr goes with the device key, not --signing-key")
	}
	if path == defaultSigningKeyWord {
		def, err := defaultSigningKeyPath()
		if err != nil {
			return err
		}
		path = def
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	key, err := shred.NewSigningKey(path)
	if err != nil {
		return withHint(err, "a signing key is never replaced: reports signed with it would no longer match the key auditors pinned")
	}
	pub := key.Public().(ed25519.PublicKey)
	pemPub, err := shred.MarshalPublicKey(pub)
	if err != nil {
		return err
	}
	pubFile := path + ".pub"
	if err := os.WriteFile(pubFile, pemPub, 0o644); err != nil {
		return err
	}
	if a.json {
		return a.emit(signingKeyRecord{Type: "signing_key", Path: path, PublicKey: shred.PublicKeyString(pub), PEM: pubFile, Created: true})
	}
	a.printf("created the shred report signing key %s (keep it private)\n", path)
	fmt.Fprintf(a.out, "public key %s\n", shred.PublicKeyString(pub))
	a.printf("its public key is also in %s: auditors check reports with `chatvault verify-shred REPORT --public-key %s`\n", pubFile, shred.PublicKeyString(pub))
	return nil
}
