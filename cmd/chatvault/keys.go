package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/audit"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/kms/vault"
	"github.com/chatvault/chatvault/remote"
)

const keysLong = `Manage the wrappers of an archive: the copies of its archive key, each
encrypted under one key-encryption key (an AWS KMS key, a Vault Transit key, a
passphrase, a device key, a recovery key). Any one wrapper opens the archive; an
archive has 1 to 16.

  keys list ARCHIVE                 every wrapper, with its age; needs no secret
  keys add ARCHIVE --kms KEY | --vault-transit KEY | --recipient AGE | --passphrase | --recovery-key
  keys remove ARCHIVE WRAPPER_ID... (an id or a unique prefix, from keys list)

keys add and keys remove open the archive (device key, KMS, Vault, recovery key
or passphrase, as every command does) and make one commit of kind "keys". The
removed wrappers are deleted from the store, every version of them, and from
every other store this device pushed the archive to or pulled it from (a store
that cannot be reached is a warning: the next push there deletes them).
Copies elsewhere (backups, other people's stores) are out of reach: removing a
wrapper does not revoke what a copy of it opens (see ` + "`chatvault rotate`" + `).`

func newKeysCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List, add and remove the keys (wrappers) that open an archive",
		Long:  keysLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("keys: want a subcommand: list, add or remove")
		},
	}
	cmd.AddCommand(newKeysListCmd(a), newKeysAddCmd(a, nil), newKeysRemoveCmd(a))
	return cmd
}

// wrapperRow is one wrapper in --json output.
type wrapperRow struct {
	Type        string     `json:"type"`
	Archive     string     `json:"archive"`
	ID          string     `json:"id"`
	WrapperType string     `json:"wrapper_type"`
	KeyARN      string     `json:"key_arn,omitempty"`
	VaultKey    string     `json:"vault_key,omitempty"`   // vault-transit: "<mount>/<key>"
	KeyVersion  int        `json:"key_version,omitempty"` // vault-transit: the Transit key version
	Recipient   string     `json:"recipient,omitempty"`
	KDF         *kdfRow    `json:"kdf,omitempty"`
	Dedicated   bool       `json:"dedicated"`
	Created     *time.Time `json:"created,omitempty"`
	AgeDays     int        `json:"age_days"`
	Epoch       uint32     `json:"epoch"`
}

type kdfRow struct {
	Algorithm string `json:"algorithm"`
	Time      uint32 `json:"t"`
	MemoryKiB uint32 `json:"m_kib"`
	Threads   uint8  `json:"p"`
}

func newWrapperRow(id archive.ID, w *archive.Wrapper, now time.Time) wrapperRow {
	r := wrapperRow{Type: "wrapper", Archive: id.String(), ID: w.ID.String(), WrapperType: w.Type,
		Dedicated: w.Dedicated, Created: timePtr(w.Created), AgeDays: ageDays(w.Created, now), Epoch: w.Epoch}
	switch w.Type {
	case archive.WrapperKMS:
		r.KeyARN = w.KeyID
	case archive.WrapperVault:
		r.VaultKey, r.KeyVersion = w.KeyID, w.KeyVersion
	case archive.WrapperAge:
		r.Recipient = w.Recipient
	case archive.WrapperPassphrase:
		if w.KDF != nil {
			r.KDF = &kdfRow{Algorithm: "argon2id", Time: w.KDF.Time, MemoryKiB: w.KDF.MemoryKiB, Threads: w.KDF.Threads}
		}
	}
	return r
}

func wrapperRows(id archive.ID, ws []*archive.Wrapper, now time.Time) []wrapperRow {
	rows := make([]wrapperRow, len(ws))
	for i, w := range ws {
		rows[i] = newWrapperRow(id, w, now)
	}
	return rows
}

// ---- keys list

func newKeysListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list ARCHIVE",
		Short: "List the wrappers of an archive (no secret needed)",
		Long: `List every wrapper of an archive: its id, type, what it is bound to (the KMS
key ARN, the Vault Transit mount/key and the key version that wrapped it, the
device's age recipient, the passphrase's Argon2id parameters t, m, p), whether
its KMS or Vault key is dedicated to the archive, when it was made and its age.
The archive fingerprint comes first. Needs no secret; --json prints an
"archive" record, then one "wrapper" record per wrapper.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			return a.keysList(cmd.Context(), args[0])
		},
	}
}

type keysArchiveRow struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	Label       string `json:"label,omitempty"`
	Fingerprint string `json:"fingerprint"`
	Versions    uint64 `json:"versions"`
	Wrappers    int    `json:"wrappers"`
}

func (a *app) keysList(ctx context.Context, name string) error {
	_, ar, err := a.openRepoArchive(ctx, storeRead, name, "")
	if err != nil {
		return err
	}
	ws, err := ar.Wrappers(ctx)
	if err != nil {
		return err
	}
	label := ""
	if pin, err := a.state().Load(ar.ID()); err == nil && pin != nil {
		label = pin.Label
	}
	now := time.Now()
	if a.json {
		if err := a.emit(keysArchiveRow{Type: "archive", ID: ar.ID().String(), Label: label, Fingerprint: ar.Fingerprint(),
			Versions: ar.Head(), Wrappers: len(ws)}); err != nil {
			return err
		}
		for _, r := range wrapperRows(ar.ID(), ws, now) {
			if err := a.emit(r); err != nil {
				return err
			}
		}
		return nil
	}
	if label != "" {
		fmt.Fprintf(a.out, "archive %q %s\n", label, ar.ID())
	} else {
		fmt.Fprintf(a.out, "archive %s\n", ar.ID())
	}
	fmt.Fprintf(a.out, "fingerprint %s\n\n", ar.Fingerprint())
	tw := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WRAPPER\tTYPE\tKEY\tDEDICATED\tCREATED\tAGE")
	for _, w := range ws {
		detail := wrapperDetail(w)
		if detail == "" {
			detail = "-"
		}
		ded := "-"
		if w.Type == archive.WrapperKMS || w.Type == archive.WrapperVault {
			ded = "no"
			if w.Dedicated {
				ded = "yes"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", w.ID.Short(), w.Type, detail, ded, formatTime(w.Created), formatAge(now.Sub(w.Created)))
	}
	return tw.Flush()
}

// ---- keys add

type keysAddOptions struct {
	Archive              string
	KMS                  string
	VaultTransit         string
	Recipients           []string
	Passphrase           bool
	RecoveryKey          bool
	RecoveryKeyFile      string
	NewPassphraseFile    string
	NewPassphraseCommand string
	Keys                 keyFlags
}

func newKeysAddCmd(a *app, runF func(context.Context, *keysAddOptions) error) *cobra.Command {
	opts := &keysAddOptions{}
	cmd := &cobra.Command{
		Use:   "add ARCHIVE (--kms KEY | --vault-transit KEY | --recipient AGE | --passphrase | --recovery-key)...",
		Short: "Add wrappers to an archive",
		Long: `Add one wrapper per key given, in one commit; each new wrapper is opened
again and checked before anything is committed (an age wrapper only when it is
for this device's own key). An archive has at most 16 wrappers.

  --kms KEY           an AWS KMS key (key id, ARN or alias)
  --vault-transit KEY a Vault Transit key on --vault-mount (default transit): a
                      derived aes256-gcm96 or chacha20-poly1305 key that exists
                      (a typo never creates one); Vault from VAULT_ADDR, VAULT_TOKEN
  --recipient AGE     a device key (age1…, from ` + "`chatvault device init`" + ` on that device)
  --passphrase        a new passphrase: asked twice at a prompt, or read from
                      --new-passphrase-file / --new-passphrase-command (never from
                      CHATVAULT_PASSPHRASE, which is the passphrase opening the archive)
  --recovery-key      a new recovery key, shown once as a recovery sheet on the
                      terminal, or written to --recovery-key-file (created 0600)

The archive is opened as usual (device key, KMS, Vault, then a recovery key from
--unlock-recovery-key-file / --recovery-key-prompt, or a passphrase).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			opts.Archive = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return a.keysAdd(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.KMS, "kms", "", "add a wrapper under the AWS KMS key `KEY` (key id, ARN or alias)")
	f.StringVar(&opts.VaultTransit, "vault-transit", "", "add a wrapper under the Vault Transit key `KEY` (on --vault-mount)")
	f.StringArrayVar(&opts.Recipients, "recipient", nil, "add a wrapper for the device key `AGE_RECIPIENT` (age1…); may be repeated")
	f.BoolVar(&opts.Passphrase, "passphrase", false, "add a wrapper under a new passphrase")
	f.BoolVar(&opts.RecoveryKey, "recovery-key", false, "add a wrapper under a new recovery key")
	f.StringVar(&opts.RecoveryKeyFile, "recovery-key-file", "", "write the new recovery key's sheet to `FILE` (implies --recovery-key)")
	f.StringVar(&opts.NewPassphraseFile, "new-passphrase-file", "", "read the new passphrase from `FILE`")
	f.StringVar(&opts.NewPassphraseCommand, "new-passphrase-command", "", "read the new passphrase from the output of `COMMAND` (run with sh -c)")
	opts.Keys.registerAs(f, "unlock-recovery-key-file")
	return cmd
}

// keysRecord is the --json record of a keys commit (keys add, keys remove, rotate).
type keysRecord struct {
	Type        string       `json:"type"`
	Op          string       `json:"op"`
	Archive     string       `json:"archive"`
	Commit      uint64       `json:"commit"`
	Added       []wrapperRow `json:"added"`
	Removed     []wrapperRow `json:"removed"`
	Deleted     int          `json:"deleted"`
	RecoveryKey string       `json:"recovery_key_file,omitempty"`
}

func (a *app) keysAdd(ctx context.Context, o *keysAddOptions) error {
	withRecovery := o.RecoveryKey || o.RecoveryKeyFile != ""
	if o.KMS == "" && o.VaultTransit == "" && len(o.Recipients) == 0 && !o.Passphrase && !withRecovery {
		return usageErrorf("keys add: give the key to add: --kms KEY, --vault-transit KEY, --recipient AGE_RECIPIENT, --passphrase or --recovery-key")
	}
	if (o.NewPassphraseFile != "" || o.NewPassphraseCommand != "") && !o.Passphrase {
		return usageErrorf("--new-passphrase-file and --new-passphrase-command go with --passphrase")
	}
	if err := checkRecipients(o.Recipients); err != nil {
		return err
	}
	var sheet *recoverySheet
	if withRecovery {
		var err error
		if sheet, err = a.newRecoverySheet(o.RecoveryKeyFile); err != nil {
			return err
		}
		defer sheet.discard()
	}
	st, ar, err := a.openRepoArchive(ctx, storeWrite, o.Archive, "")
	if err != nil {
		return err
	}
	var vc *vault.Client
	if o.VaultTransit != "" {
		// Read the key before anything is asked: a typo stops here.
		if vc, err = a.vaultClient(); err != nil {
			return err
		}
		if _, err := checkVaultKey(ctx, vc, o.VaultTransit); err != nil {
			return err
		}
	}
	if _, err := a.finishPending(ctx, st, ar, ""); err != nil {
		return err
	}
	if err := a.unlock(ctx, ar, o.Keys, false); err != nil {
		return err
	}

	var ch archive.WrapperChange
	if o.KMS != "" {
		c, err := a.kms(ctx)
		if err != nil {
			return err
		}
		ch.Add = append(ch.Add, archive.KMSLocker{KMS: c, KeyID: o.KMS})
	}
	if vc != nil {
		ch.Add = append(ch.Add, archive.VaultLocker{Vault: vc, Key: o.VaultTransit})
	}
	for _, r := range o.Recipients {
		ch.Add = append(ch.Add, a.ageLocker(r))
	}
	if o.Passphrase {
		l, err := a.newPassphraseLocker(ctx, a.newPassphraseSource(o.NewPassphraseFile, o.NewPassphraseCommand), a.archiveName(ar.ID()))
		if err != nil {
			return err
		}
		defer clear(l.Passphrase)
		ch.Add = append(ch.Add, l)
	}
	var rkey recovery.Key
	if withRecovery {
		if rkey, err = recovery.New(nil); err != nil {
			return err
		}
		defer clear(rkey[:])
		ch.Add = append(ch.Add, archive.RecoveryLocker{Key: rkey})
	}

	res, err := ar.ChangeWrappers(ctx, ch)
	if err != nil && res.Commit == 0 {
		return err
	}
	if withRecovery {
		label, lerr := ar.Label(ctx)
		if lerr == nil {
			lerr = sheet.write(rkey, ar.ID().String(), ar.Fingerprint(), label)
		}
		if lerr != nil {
			var rid string
			for _, w := range res.Added {
				if w.Type == archive.WrapperRecovery {
					rid = w.ID.Short()
				}
			}
			return withHint(fmt.Errorf("the recovery key was added to archive %s (wrapper %s) but could not be saved: %w", ar.ID().Short(), rid, lerr),
				"the recovery key is lost: remove its wrapper with `chatvault keys remove "+ar.ID().Short()+" "+rid+"` and add a new one")
		}
	}
	return a.reportKeys(ctx, st, ar, "add", res, err, o.RecoveryKeyFile)
}

// reportKeys prints what a keys commit did, then pushes it to the archive's
// other registered stores. cerr is an error that came after the commit
// (deleting a tombstoned object from this store).
func (a *app) reportKeys(ctx context.Context, st remote.Store, ar *archive.Archive, op string, res archive.KeysResult, cerr error, sheetFile string) error {
	now := time.Now()
	if res.Commit != 0 {
		action := map[string]string{"add": audit.ActionKeysAdd, "remove": audit.ActionKeysRemove, "rotate": audit.ActionRotate}[op]
		a.audit(ctx, action, ar.ID(), map[string]any{"commit": res.Commit, "added": describeWrappers(res.Added), "removed": describeWrappers(res.Removed)})
	}
	if a.json {
		if err := a.emit(keysRecord{Type: "keys", Op: op, Archive: ar.ID().String(), Commit: res.Commit,
			Added: wrapperRows(ar.ID(), res.Added, now), Removed: wrapperRows(ar.ID(), res.Removed, now),
			Deleted: len(res.Deleted), RecoveryKey: sheetFile}); err != nil {
			return err
		}
	} else {
		verb := map[string]string{"add": "added wrappers to", "remove": "removed wrappers from", "rotate": "rotated"}[op]
		a.printf("%s archive %s in commit %d:\n", verb, a.archiveName(ar.ID()), res.Commit)
		for _, w := range res.Added {
			a.printf("  added    %s\n", describeWrapper(w))
		}
		for _, w := range res.Removed {
			a.printf("  removed  %s\n", describeWrapper(w))
		}
		if sheetFile != "" {
			a.printf("recovery sheet written to %s: print it or move it somewhere safe, off this device\n", sheetFile)
		}
	}
	a.pushRegistered(ctx, st, ar.ID())
	switch {
	case cerr == nil:
		return nil
	case op == "add":
		// Only the old wrapper set (a list of wrapper ids) is left behind.
		a.warn(fmt.Sprintf("%v (the next keys or rotate command on the archive deletes it)", cerr))
		return nil
	}
	return withHint(cerr, "run the same command again: it finishes the deletions (and does not "+op+" twice)")
}

// finishRecord is the --json record of finishing an interrupted key change.
type finishRecord struct {
	Type    string `json:"type"`
	Archive string `json:"archive"`
	Commit  uint64 `json:"commit"`
	Kind    string `json:"kind"`
	Deleted int    `json:"deleted"`
}

// finishPending deletes what earlier key changes tombstoned but left in the
// store (a command interrupted after its commit). done reports that it did
// and that the head commit is of kind wantKind: the run being repeated was
// that change, so nothing more is to be done ("" never).
func (a *app) finishPending(ctx context.Context, st remote.Store, ar *archive.Archive, wantKind string) (done bool, err error) {
	deleted, err := ar.FinishTombstones(ctx)
	if err != nil {
		return false, withHint(err, "run the command again")
	}
	if len(deleted) == 0 {
		return false, nil
	}
	kind := ""
	if cs, err := ar.Commits(ctx); err == nil && len(cs) > 0 {
		kind = cs[len(cs)-1].Kind
	}
	if a.json {
		if err := a.emit(finishRecord{Type: "finish", Archive: ar.ID().String(), Commit: ar.Head(), Kind: kind, Deleted: len(deleted)}); err != nil {
			return false, err
		}
	} else {
		a.printf("finished an interrupted change of archive %s: deleted %s that commit %d (%s) made obsolete\n",
			a.archiveName(ar.ID()), plural(len(deleted), "object"), ar.Head(), kind)
	}
	done = wantKind != "" && kind == wantKind
	if done {
		a.printf("nothing else was changed: run the command again if you meant another change\n")
		a.pushRegistered(ctx, st, ar.ID())
	}
	return done, nil
}

// ---- keys remove

func newKeysRemoveCmd(a *app) *cobra.Command {
	var keys keyFlags
	cmd := &cobra.Command{
		Use:   "remove ARCHIVE WRAPPER_ID...",
		Short: "Remove wrappers from an archive",
		Long: `Remove wrappers (ids or unique id prefixes, as keys list shows them) in one
commit. It needs the archive key (opened as usual) and refuses to remove the
last wrapper. The wrappers are deleted from this store, every version of them,
and from the other stores this device knows the archive in.

Removing a wrapper does not revoke it: a copy of it kept elsewhere (a backup,
another device's store) still opens the archive with its key-encryption key.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			return a.keysRemove(cmd.Context(), args[0], args[1:], keys)
		},
	}
	keys.register(cmd.Flags())
	return cmd
}

func (a *app) keysRemove(ctx context.Context, name string, ids []string, keys keyFlags) error {
	st, ar, err := a.openRepoArchive(ctx, storeWrite, name, "")
	if err != nil {
		return err
	}
	if done, err := a.finishPending(ctx, st, ar, archive.KindKeys); err != nil || done {
		return err // a rerun after a failed deletion: finished, nothing more
	}
	ws, err := ar.Wrappers(ctx)
	if err != nil {
		return err
	}
	var ch archive.WrapperChange
	for _, s := range ids {
		w, err := findWrapper(ar.ID(), ws, s)
		if err != nil {
			return err
		}
		if !slices.Contains(ch.Remove, w.ID) {
			ch.Remove = append(ch.Remove, w.ID)
		}
	}
	if len(ch.Remove) == len(ws) {
		return fmt.Errorf("refusing to remove every wrapper of archive %s: nothing could open it any more", ar.ID().Short())
	}
	if err := a.unlock(ctx, ar, keys, false); err != nil {
		return err
	}
	res, err := ar.ChangeWrappers(ctx, ch)
	if err != nil && res.Commit == 0 {
		return err
	}
	return a.reportKeys(ctx, st, ar, "remove", res, err, "")
}

// findWrapper finds a wrapper by id or unique id prefix (at least 4 hex digits).
func findWrapper(id archive.ID, ws []*archive.Wrapper, s string) (*archive.Wrapper, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) < 4 || !isHexString(s) {
		return nil, usageErrorf("wrapper id %q: want an id or a prefix of at least 4 hex digits (see `chatvault keys list`)", s)
	}
	var found []*archive.Wrapper
	for _, w := range ws {
		if strings.HasPrefix(w.ID.String(), s) {
			found = append(found, w)
		}
	}
	switch len(found) {
	case 0:
		return nil, withHint(fmt.Errorf("%w: archive %s has no wrapper %s", archive.ErrNotFound, id.Short(), s),
			"run `chatvault keys list "+id.Short()+"` to list its wrappers")
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, w := range found {
		names[i] = describeWrapper(w)
	}
	return nil, usageError(fmt.Errorf("%w: wrapper %q matches %s", archive.ErrAmbiguous, s, strings.Join(names, ", ")))
}

func isHexString(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ---- registered stores

// pushRegistered pushes the archive from st to every other store this device
// knows it in (pushed to, pulled from or read), so that the wrappers a keys
// commit removed are deleted there too, every version of them. A store that
// fails is a warning: the next push there applies the commit.
func (a *app) pushRegistered(ctx context.Context, st remote.Store, id archive.ID) {
	pin, err := a.state().Load(id)
	if err != nil || pin == nil {
		return
	}
	var stores []string
	for s := range pin.Stores {
		if s != st.String() {
			stores = append(stores, s)
		}
	}
	slices.Sort(stores)
	for _, s := range stores {
		if ctx.Err() != nil {
			return
		}
		if err := a.pushTo(ctx, st, s, id); err != nil {
			a.warn(fmt.Sprintf("%s was not updated (%s); the next `chatvault push %s --to %s` deletes the removed wrappers there",
				s, oneLine(err.Error()), id.Short(), s))
		}
	}
}

func (a *app) pushTo(ctx context.Context, src remote.Store, store string, id archive.ID) error {
	dst, err := a.openStore(ctx, store, storeWrite)
	if err != nil {
		return err
	}
	rep, err := archive.Push(ctx, src, dst, id, a.archiveOptions(""), archive.TransferOptions{Jobs: 8})
	if err != nil {
		return err
	}
	if rep.Ahead != 0 {
		return fmt.Errorf("it has commit %d, newer than %s: pull from it first", rep.Ahead, src)
	}
	if a.json {
		return a.emit(transferRecord{Type: "push", Archive: rep.Archive.String(), From: rep.From, To: rep.To, Commits: rep.Commits,
			Objects: rep.Objects, Bytes: rep.Bytes, Skipped: rep.Skipped, Deleted: rep.Deleted})
	}
	a.printf("pushed to %s: commits %d→%d, %s deleted there\n", dst, rep.From, rep.To, plural(rep.Deleted, "object"))
	return nil
}
