package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/kms/vault"
)

type rotateOptions struct {
	Archive string
	All     bool

	ToKMS           string
	FromKMS         string
	ToVault         string // --to-vault-transit
	Rewrap          bool   // --rewrap
	Passphrase      bool
	RecoveryKey     bool
	RecoveryKeyFile string
	Remove          []string
	Replace         bool
	Jobs            int
	Rekey           bool
	Reencrypt       bool
	Drop            []string

	NewPassphraseFiles   []string // --new-passphrase-file: PATH, or ID=PATH with --rekey
	NewPassphraseCommand string
	Keys                 keyFlags
}

const rotateLong = `Rotate moves an archive's key onto a new key-encryption key: it adds a new
wrapper (checked to open before anything is committed) and removes old ones,
in one commit of kind "keys" — so a rotation either happens whole or not at
all. No segment is touched: it takes the same time whatever the archive's size.

  rotate ARCHIVE --to-kms KEY      a wrapper under the KMS key KEY (id, ARN or alias);
                                   from a KMS wrapper KMS re-encrypts (ReEncrypt) without
                                   the archive key leaving KMS
  rotate ARCHIVE --to-vault-transit KEY
                                   a wrapper under the Vault Transit key KEY (on
                                   --vault-mount; the key must exist)
  rotate ARCHIVE --passphrase      a new passphrase (asked twice, or --new-passphrase-file)
  rotate ARCHIVE --recovery-key    a new recovery key (a new recovery sheet; the old one is void)

What is removed: the wrapper named by --remove ID, or with --replace every
wrapper of the new one's type. Without either, the one wrapper of that type
is replaced; when the archive has several, rotate lists them and asks for
--remove or --replace.

  rotate ARCHIVE --rewrap          after a rotation of Transit keys in Vault (vault write
                                   -f <mount>/keys/<key>/rotate): every vault-transit
                                   wrapper not at its key's newest version is moved
                                   there with Transit rewrap (the archive key does not
                                   leave Vault), in one commit; ` + "`keys list`" + ` shows each
                                   wrapper's key version. Wrappers already at the
                                   newest version are left alone.

  rotate --all --from-kms OLD --to-kms NEW [--jobs N]
                                   every archive of the store (--repo) with a wrapper
                                   under OLD moves to NEW; archives without one are
                                   skipped. It prints "N rotated, N skipped, N failed"
                                   and each failure with its reason, and exits 0 when
                                   none failed, else 6 (also when interrupted): run
                                   the same command again and it finishes the rest,
                                   skipping the archives already done.

A rotation does NOT revoke what an old wrapper could open: anyone who kept a
copy of an old wrapper (a backup of the store, another device's store) and
still has its key-encryption key (the old KMS key, the old passphrase) still
has the archive key, and with it every version of the archive. Rotation
limits the damage of a key that may leak in the future. After a suspected
compromise, re-key:

  rotate ARCHIVE --rekey [--reencrypt] [--drop ID]... [--new-passphrase-file [ID=]FILE]... [--recovery-key-file FILE]
                                   a new archive key (and signing key) in one commit of
                                   kind "rekey": the key table and every version manifest
                                   are encrypted again under it (segments are not
                                   touched), and every wrapper is made again for the
                                   same key-encryption key — except those named by
                                   --drop. Old wrapper copies then open none of what
                                   this commit and later ones make (older versions stay
                                   restorable with the new key). KMS, Vault and device
                                   wrappers need nothing; each passphrase wrapper needs
                                   its passphrase again (asked twice, or
                                   --new-passphrase-file ID=FILE, or FILE for all), and
                                   a recovery key is replaced by a new one (the old
                                   recovery sheet is void). Without a terminal every
                                   such secret must be given (or the wrapper dropped),
                                   else exit 2 before anything changes.
                                   --reencrypt also gives every conversation a new key
                                   and re-encrypts its segments, index and attachments
                                   (O(data), one object at a time; new copies are written
                                   before the commit, the old objects deleted after it;
                                   an interrupted run starts again from the beginning).

The removed wrappers (and after a re-key, the old key material) are deleted
from this store and from every other store this device knows the archive in
(a store that cannot be reached is a warning: the next push there deletes
them). If deleting fails after the commit is written, the command exits 6:
running it again finishes the deletions (and does not rotate twice).`

func newRotateCmd(a *app, runF func(context.Context, *rotateOptions) error) *cobra.Command {
	o := &rotateOptions{}
	cmd := &cobra.Command{
		Use:   "rotate (ARCHIVE | --all) (--to-kms KEY | --to-vault-transit KEY | --rewrap | --passphrase | --recovery-key | --rekey)",
		Short: "Move archives onto a new key-encryption key, or re-key them",
		Long:  rotateLong,
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			if len(args) == 1 {
				o.Archive = args[0]
			}
			if err := o.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			a.noAgeWarn = true
			switch {
			case o.All:
				return a.rotateAll(cmd.Context(), o)
			case o.Rekey:
				return a.rekey(cmd.Context(), o)
			case o.Rewrap:
				return a.rewrap(cmd.Context(), o)
			}
			return a.rotate(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.All, "all", false, "rotate every archive of the store with a wrapper under --from-kms")
	f.StringVar(&o.ToKMS, "to-kms", "", "the new AWS KMS key `KEY` (key id, ARN or alias)")
	f.StringVar(&o.FromKMS, "from-kms", "", "with --all: the old AWS KMS key `KEY` (key id, ARN or alias)")
	f.StringVar(&o.ToVault, "to-vault-transit", "", "the new Vault Transit key `KEY` (on --vault-mount)")
	f.BoolVar(&o.Rewrap, "rewrap", false, "move every vault-transit wrapper to its Transit key's newest version (Transit rewrap)")
	f.BoolVar(&o.Passphrase, "passphrase", false, "rotate to a new passphrase")
	f.BoolVar(&o.RecoveryKey, "recovery-key", false, "rotate to a new recovery key")
	f.StringVar(&o.RecoveryKeyFile, "recovery-key-file", "", "write the new recovery key's sheet to `FILE` (implies --recovery-key)")
	f.StringArrayVar(&o.Remove, "remove", nil, "remove the wrapper `ID` (id or unique prefix, see keys list); may be repeated")
	f.BoolVar(&o.Replace, "replace", false, "remove every wrapper of the new wrapper's type")
	f.IntVar(&o.Jobs, "jobs", 4, "with --all: archives rotated in parallel")
	f.BoolVar(&o.Rekey, "rekey", false, "replace the archive key itself (after a suspected compromise)")
	f.BoolVar(&o.Reencrypt, "reencrypt", false, "with --rekey: also give every conversation a new key and re-encrypt all its segments and attachments (O(data))")
	f.StringArrayVar(&o.Drop, "drop", nil, "with --rekey: do not make the wrapper `ID` again; may be repeated")
	f.StringArrayVar(&o.NewPassphraseFiles, "new-passphrase-file", nil, "read the new passphrase from `FILE` (with --rekey: ID=FILE for one passphrase wrapper; may be repeated)")
	f.StringVar(&o.NewPassphraseCommand, "new-passphrase-command", "", "read the new passphrase from the output of `COMMAND` (run with sh -c)")
	o.Keys.registerAs(f, "unlock-recovery-key-file")
	return cmd
}

func (o *rotateOptions) check() error {
	withRecovery := o.RecoveryKey || o.RecoveryKeyFile != ""
	n := 0
	for _, b := range []bool{o.ToKMS != "", o.ToVault != "", o.Passphrase, withRecovery} {
		if b {
			n++
		}
	}
	switch {
	case o.Reencrypt && !o.Rekey:
		return usageErrorf("--reencrypt goes with --rekey")
	case o.Rekey && o.Rewrap:
		return usageErrorf("--rekey and --rewrap exclude each other")
	case o.Rewrap && (n > 0 || o.All || len(o.Remove) > 0 || o.Replace || len(o.Drop) > 0 || o.FromKMS != "" || len(o.NewPassphraseFiles) > 0 || o.NewPassphraseCommand != ""):
		return usageErrorf("--rewrap moves the vault-transit wrappers of one archive to their keys' newest versions: it takes no other key, --remove, --replace, --drop or --all")
	case o.Rewrap && o.Archive == "":
		return usageErrorf("rotate --rewrap: give ARCHIVE")
	case o.Rewrap:
		return nil
	case o.Rekey && (o.ToKMS != "" || o.ToVault != "" || o.Passphrase || o.RecoveryKey || o.All || len(o.Remove) > 0 || o.Replace):
		return usageErrorf("--rekey makes every wrapper again for its own key: it takes no --to-kms, --to-vault-transit, --passphrase, --recovery-key, --remove, --replace or --all (drop wrappers with --drop ID)")
	case o.Rekey && o.Archive == "":
		return usageErrorf("rotate --rekey: give ARCHIVE")
	case o.Rekey && (o.Jobs < 1 || o.Jobs > 64):
		return usageErrorf("--jobs %d: want 1 to 64", o.Jobs)
	case o.Rekey:
		return nil
	case len(o.Drop) > 0:
		return usageErrorf("--drop goes with --rekey (to remove a wrapper, use --remove ID or `chatvault keys remove`)")
	case o.All && o.Archive != "":
		return usageErrorf("rotate: give ARCHIVE or --all, not both")
	case !o.All && o.Archive == "":
		return usageErrorf("rotate: give ARCHIVE, or --all with --from-kms and --to-kms")
	case o.All && (o.ToKMS == "" || o.FromKMS == "" || n != 1):
		return usageErrorf("rotate --all moves KMS wrappers only: give --from-kms OLD and --to-kms NEW")
	case o.All && (len(o.Remove) > 0 || o.Replace):
		return usageErrorf("rotate --all: --remove and --replace apply to one archive")
	case !o.All && o.FromKMS != "":
		return usageErrorf("--from-kms goes with --all (for one archive, use --remove ID or --replace)")
	case n != 1:
		return usageErrorf("rotate: give exactly one new key: --to-kms KEY, --to-vault-transit KEY, --passphrase or --recovery-key (or --rewrap, --rekey)")
	case len(o.Remove) > 0 && o.Replace:
		return usageErrorf("--remove and --replace exclude each other")
	case (len(o.NewPassphraseFiles) > 0 || o.NewPassphraseCommand != "") && !o.Passphrase:
		return usageErrorf("--new-passphrase-file and --new-passphrase-command go with --passphrase or --rekey")
	case len(o.NewPassphraseFiles) > 1:
		return usageErrorf("--new-passphrase-file: one new passphrase (several only with --rekey)")
	case o.Jobs < 1 || o.Jobs > 64:
		return usageErrorf("--jobs %d: want 1 to 64", o.Jobs)
	}
	return nil
}

func (a *app) rotate(ctx context.Context, o *rotateOptions) error {
	withRecovery := o.RecoveryKey || o.RecoveryKeyFile != ""
	newType := archive.WrapperPassphrase
	switch {
	case o.ToKMS != "":
		newType = archive.WrapperKMS
	case o.ToVault != "":
		newType = archive.WrapperVault
	case withRecovery:
		newType = archive.WrapperRecovery
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
	if done, err := a.finishPending(ctx, st, ar, archive.KindKeys); err != nil || done {
		return err // a rerun after a failed deletion: finished, nothing more
	}
	ws, err := ar.Wrappers(ctx)
	if err != nil {
		return err
	}

	// The new KMS key, by ARN (aliases resolved), so that it compares with
	// the ARNs the wrappers record.
	var newARN string
	if o.ToKMS != "" {
		ki, err := a.resolveKMS(ctx, o.ToKMS)
		if err != nil {
			return err
		}
		if !ki.Enabled {
			return fmt.Errorf("%w: KMS key %s is %s: it cannot wrap anything", awskms.ErrDisabled, ki.ARN, ki.State)
		}
		newARN = ki.ARN
	}
	// The new Transit key, read first (a typo stops here), by the
	// <mount>/<key> the wrappers record.
	var vc *vault.Client
	var newVault string
	if o.ToVault != "" {
		if vc, err = a.vaultClient(); err != nil {
			return err
		}
		if _, err := checkVaultKey(ctx, vc, o.ToVault); err != nil {
			return err
		}
		newVault = vc.Mount() + "/" + o.ToVault
	}

	// What goes.
	var remove []*archive.Wrapper
	if len(o.Remove) > 0 {
		for _, s := range o.Remove {
			w, err := findWrapper(ar.ID(), ws, s)
			if err != nil {
				return err
			}
			if !containsWrapper(remove, w) {
				remove = append(remove, w)
			}
		}
	} else {
		var same []*archive.Wrapper
		for _, w := range ws {
			if w.Type == newType {
				same = append(same, w)
			}
		}
		switch {
		case len(same) == 0:
			return usageErrorf("archive %s has no %s wrapper to replace: add one with `chatvault keys add`, or name the wrapper to replace with --remove ID", ar.ID().Short(), newType)
		case len(same) > 1 && !o.Replace:
			names := make([]string, len(same))
			for i, w := range same {
				names[i] = "  " + describeWrapper(w)
			}
			return usageErrorf("archive %s has %d %s wrappers:\n%s\nsay which to replace with --remove ID, or --replace to replace them all", ar.ID().Short(), len(same), newType, strings.Join(names, "\n"))
		}
		remove = same
	}
	if newARN != "" {
		for _, w := range ws {
			if w.Type == archive.WrapperKMS && w.KeyID == newARN {
				if containsWrapper(remove, w) {
					return usageErrorf("wrapper %s is already under %s: nothing to rotate", w.ID.Short(), newARN)
				}
				return usageErrorf("archive %s already has wrapper %s under %s: remove the old ones with `chatvault keys remove`", ar.ID().Short(), w.ID.Short(), newARN)
			}
		}
	}
	if newVault != "" {
		for _, w := range ws {
			if w.Type == archive.WrapperVault && w.KeyID == newVault {
				return usageErrorf("archive %s already has wrapper %s under the Transit key %s (version %d): after a rotation of the key in Vault, use `chatvault rotate %s --rewrap`", ar.ID().Short(), w.ID.Short(), newVault, w.KeyVersion, ar.ID().Short())
			}
		}
	}

	if err := a.unlock(ctx, ar, o.Keys, false); err != nil {
		return err
	}

	// What comes.
	ch := archive.WrapperChange{}
	for _, w := range remove {
		ch.Remove = append(ch.Remove, w.ID)
	}
	var fallback archive.Locker // KMS Encrypt, when the old key refuses ReEncrypt
	var rkey recovery.Key
	switch newType {
	case archive.WrapperKMS:
		c, err := a.kms(ctx)
		if err != nil {
			return err
		}
		plain := archive.KMSLocker{KMS: c, KeyID: newARN}
		var from *archive.Wrapper
		for _, w := range remove {
			if w.Type == archive.WrapperKMS {
				from = w
				break
			}
		}
		if from != nil {
			ch.Add = []archive.Locker{archive.KMSRewrapLocker{KMS: c, From: from, KeyID: newARN}}
			fallback = plain
		} else {
			ch.Add = []archive.Locker{plain}
		}
	case archive.WrapperVault:
		// Transit rewrap stays within one key: another key wraps the
		// archive key (open here) with encrypt.
		ch.Add = []archive.Locker{archive.VaultLocker{Vault: vc, Key: o.ToVault}}
	case archive.WrapperPassphrase:
		l, err := a.newPassphraseLocker(ctx, a.newPassphraseSource(first(o.NewPassphraseFiles), o.NewPassphraseCommand), a.archiveName(ar.ID()))
		if err != nil {
			return err
		}
		defer clear(l.Passphrase)
		ch.Add = []archive.Locker{l}
	case archive.WrapperRecovery:
		if rkey, err = recovery.New(nil); err != nil {
			return err
		}
		defer clear(rkey[:])
		ch.Add = []archive.Locker{archive.RecoveryLocker{Key: rkey}}
	}

	res, err := ar.ChangeWrappers(ctx, ch)
	if err != nil && res.Commit == 0 && fallback != nil && kmsRefusal(err) && !errors.Is(err, archive.ErrIntegrity) {
		// The old key no longer re-encrypts (disabled, say); the archive is
		// open, so the new key wraps the archive key directly.
		a.notef("re-encrypting from the old KMS key failed (%v); encrypting under the new key instead", err)
		ch.Add = []archive.Locker{fallback}
		res, err = ar.ChangeWrappers(ctx, ch)
	}
	if err != nil && res.Commit == 0 {
		return err
	}
	if withRecovery {
		label, lerr := ar.Label(ctx)
		if lerr == nil {
			lerr = sheet.write(rkey, ar.ID().String(), ar.Fingerprint(), label)
		}
		if lerr != nil {
			return withHint(fmt.Errorf("archive %s was rotated to a new recovery key, but it could not be saved: %w", ar.ID().Short(), lerr),
				"the new recovery key is lost: run `chatvault rotate "+ar.ID().Short()+" --recovery-key --recovery-key-file FILE` again")
		}
	}
	return a.reportKeys(ctx, st, ar, "rotate", res, err, o.RecoveryKeyFile)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func containsWrapper(ws []*archive.Wrapper, w *archive.Wrapper) bool {
	for _, x := range ws {
		if x.ID == w.ID {
			return true
		}
	}
	return false
}

// resolveKMS describes a KMS key (id, ARN or alias) and refuses one that
// cannot encrypt.
func (a *app) resolveKMS(ctx context.Context, key string) (awskms.KeyInfo, error) {
	c, err := a.kms(ctx)
	if err != nil {
		return awskms.KeyInfo{}, err
	}
	ki, err := c.Resolve(ctx, key)
	if err != nil {
		return ki, err
	}
	a.notef("KMS key %s is %s (%s)", key, ki.ARN, ki.State)
	return ki, nil
}

// rotationRecord is one archive's outcome in rotate --all --json.
type rotationRecord struct {
	Type    string `json:"type"`
	Archive string `json:"archive"`
	Status  string `json:"status"`
	Commit  uint64 `json:"commit,omitempty"`
	Error   string `json:"error,omitempty"`
}

type rotationSummary struct {
	Type    string `json:"type"`
	From    string `json:"from"`
	To      string `json:"to"`
	Total   int    `json:"total"`
	Rotated int    `json:"rotated"`
	Skipped int    `json:"skipped"`
	Failed  int    `json:"failed"`
}

func (a *app) rotateAll(ctx context.Context, o *rotateOptions) error {
	from, err := a.resolveKMS(ctx, o.FromKMS)
	if err != nil {
		return err
	}
	to, err := a.resolveKMS(ctx, o.ToKMS)
	if err != nil {
		return err
	}
	if from.ARN == to.ARN {
		return usageErrorf("--from-kms and --to-kms name the same key %s", to.ARN)
	}
	if !to.Enabled {
		return fmt.Errorf("%w: KMS key %s is %s: it cannot wrap anything", awskms.ErrDisabled, to.ARN, to.State)
	}
	c, err := a.kms(ctx)
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx, a.repo, storeWrite)
	if err != nil {
		return err
	}
	all, err := archive.ListArchives(ctx, st)
	if err != nil {
		return err
	}
	bar := a.newProgress(int64(len(all)), "rotate", false)
	sum := rotationSummary{Type: "rotate_summary", From: from.ARN, To: to.ARN, Total: len(all)}
	var failures []archive.RotateOutcome
	var rotated []archive.ID
	_, runErr := archive.RotateAll(ctx, st, c, from.ARN, to.ARN, a.archiveOptions(""), o.Jobs, func(out archive.RotateOutcome) {
		bar.add(1)
		switch out.Status {
		case archive.Rotated:
			sum.Rotated++
			rotated = append(rotated, out.Archive)
		case archive.Skipped:
			sum.Skipped++
		default:
			if ctx.Err() != nil && errors.Is(out.Err, context.Canceled) {
				return // not done, rather than failed
			}
			sum.Failed++
			failures = append(failures, out)
		}
		if a.json {
			rec := rotationRecord{Type: "rotation", Archive: out.Archive.String(), Status: out.Status, Commit: out.Commit}
			if out.Err != nil {
				rec.Error = oneLine(out.Err.Error())
			}
			_ = a.emit(rec)
		}
	})
	bar.done()
	done := sum.Rotated + sum.Skipped + sum.Failed
	if a.json {
		if err := a.emit(sum); err != nil {
			return err
		}
	} else {
		a.printf("rotate %s → %s: %d rotated, %d skipped, %d failed", from.ARN, to.ARN, sum.Rotated, sum.Skipped, sum.Failed)
		if done < sum.Total {
			a.printf(", %d not done", sum.Total-done)
		}
		a.printf("\n")
	}
	for _, f := range failures {
		fmt.Fprintf(a.errOut, "failed: archive %s: %s\n", f.Archive, oneLine(f.Err.Error()))
	}
	for _, id := range rotated {
		a.pushRegistered(ctx, st, id)
	}
	switch {
	case runErr != nil || ctx.Err() != nil:
		return &cliError{err: fmt.Errorf("rotation interrupted after %d of %d archives", done, sum.Total), code: exitConflict,
			hint: "run the same command again: it skips the archives already rotated and finishes the rest"}
	case sum.Failed > 0:
		return &cliError{err: fmt.Errorf("rotation incomplete: %d of %d archives failed (listed above)", sum.Failed, sum.Total), code: exitConflict,
			hint: "fix the causes above and run the same command again: it skips the archives already rotated"}
	}
	return nil
}

// rewrap moves every vault-transit wrapper of an archive that is not at its
// Transit key's newest version to that version with Transit rewrap (rotate
// --rewrap), in one keys commit: the archive key never leaves Vault. A
// wrapper whose rewrap Vault refuses (its version below the key's
// min_decryption_version, say) is made again with encrypt under the newest
// version when the archive opened by other means.
func (a *app) rewrap(ctx context.Context, o *rotateOptions) error {
	st, ar, err := a.openRepoArchive(ctx, storeWrite, o.Archive, "")
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
	type move struct {
		w      *archive.Wrapper
		c      *vault.Client
		key    string
		latest int
	}
	var moves []move
	vaultWrappers := 0
	for _, w := range ws {
		if w.Type != archive.WrapperVault {
			continue
		}
		vaultWrappers++
		c, key, err := a.vaultFor(w)
		if err != nil {
			return err
		}
		info, exists, err := c.KeyInfo(ctx, key)
		if err != nil {
			return err
		}
		if !exists {
			return &vault.Error{Op: "rewrap with", Key: w.KeyID, Class: vault.ErrKeyNotFound,
				Hint: "wrapper " + w.ID.Short() + " is under a Transit key that no longer exists: remove it with `chatvault keys remove`"}
		}
		if w.KeyVersion >= info.LatestVersion {
			a.notef("wrapper %s is at the newest version (%d) of %s", w.ID.Short(), info.LatestVersion, w.KeyID)
			continue
		}
		moves = append(moves, move{w: w, c: c, key: key, latest: info.LatestVersion})
	}
	if vaultWrappers == 0 {
		return usageErrorf("archive %s has no vault-transit wrapper to rewrap (add one with `chatvault keys add %s --vault-transit KEY`)", ar.ID().Short(), ar.ID().Short())
	}
	if len(moves) == 0 {
		if a.json {
			return a.emit(keysRecord{Type: "keys", Op: "rotate", Archive: ar.ID().String(), Added: []wrapperRow{}, Removed: []wrapperRow{}}) // commit 0: nothing done
		}
		a.printf("every vault-transit wrapper of archive %s is at its Transit key's newest version: nothing to rewrap\n", a.archiveName(ar.ID()))
		return nil
	}

	if err := a.unlock(ctx, ar, o.Keys, false); err != nil {
		return err
	}
	var ch archive.WrapperChange
	var fallback []archive.Locker
	for _, m := range moves {
		a.notef("rewrapping wrapper %s from version %d to %d of %s", m.w.ID.Short(), m.w.KeyVersion, m.latest, m.w.KeyID)
		ch.Remove = append(ch.Remove, m.w.ID)
		ch.Add = append(ch.Add, archive.VaultRewrapLocker{Vault: m.c, From: m.w})
		fallback = append(fallback, archive.VaultLocker{Vault: m.c, Key: m.key, Dedicated: m.w.Dedicated})
	}
	res, err := ar.ChangeWrappers(ctx, ch)
	if err != nil && res.Commit == 0 && vaultRefusal(err) && !errors.Is(err, vault.ErrDenied) && !errors.Is(err, archive.ErrIntegrity) {
		// Vault does not rewrap the old ciphertext (below the key's
		// min_decryption_version, say); the archive is open, so the newest
		// version wraps the archive key directly.
		a.notef("rewrapping failed (%v); encrypting under the newest key versions instead", err)
		ch.Add = fallback
		res, err = ar.ChangeWrappers(ctx, ch)
	}
	if err != nil && res.Commit == 0 {
		return err
	}
	return a.reportKeys(ctx, st, ar, "rotate", res, err, "")
}
