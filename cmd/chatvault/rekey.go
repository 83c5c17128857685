package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/audit"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/kms/secret"
)

// rekeyRecord is the --json record of rotate --rekey.
type rekeyRecord struct {
	Type        string       `json:"type"`
	Archive     string       `json:"archive"`
	Commit      uint64       `json:"commit"`
	Epoch       uint32       `json:"epoch"`
	Wrappers    []wrapperRow `json:"wrappers"`
	Dropped     []wrapperRow `json:"dropped"`
	Deleted     int          `json:"deleted"`
	RecoveryKey string       `json:"recovery_key_file,omitempty"`
}

// rekey replaces the archive key (rotate --rekey): every wrapper not dropped
// is made again for the same key-encryption key. Every secret this needs is
// settled before the archive is unlocked, so that an unattended run that
// lacks one exits 2 having changed nothing.
func (a *app) rekey(ctx context.Context, o *rotateOptions) error {
	st, err := a.openStore(ctx, a.repo, storeWrite)
	if err != nil {
		return err
	}
	ar, err := a.openArchive(ctx, st, o.Archive, "")
	if err != nil {
		return err
	}
	if done, err := a.finishPending(ctx, st, ar, archive.KindRekey); err != nil || done {
		return err // a rerun after a failed deletion: finished, not re-keyed twice
	}
	ws, err := ar.Wrappers(ctx)
	if err != nil {
		return err
	}
	name := a.archiveName(ar.ID())

	dropped := map[archive.ID]bool{}
	for _, s := range o.Drop {
		w, err := findWrapper(ar.ID(), ws, s)
		if err != nil {
			return err
		}
		dropped[w.ID] = true
	}
	// --new-passphrase-file ID=FILE for one passphrase wrapper, FILE for the others.
	files := map[archive.ID]string{}
	var allFile string
	for _, v := range o.NewPassphraseFiles {
		if id, path, ok := strings.Cut(v, "="); ok && len(id) >= 4 && isHexString(strings.ToLower(id)) {
			w, err := findWrapper(ar.ID(), ws, id)
			if err != nil {
				return err
			}
			if w.Type != archive.WrapperPassphrase {
				return usageErrorf("--new-passphrase-file %s=…: wrapper %s is a %s wrapper, not a passphrase one", id, w.ID.Short(), w.Type)
			}
			files[w.ID] = path
			continue
		}
		if allFile != "" {
			return usageErrorf("--new-passphrase-file: give one FILE for every passphrase wrapper, or ID=FILE for each")
		}
		allFile = v
	}

	// What each wrapper needs, checked before anything is asked or changed.
	var kept []*archive.Wrapper
	var recoveryW *archive.Wrapper
	sources := map[archive.ID]secret.Source{}
	for _, w := range ws {
		if dropped[w.ID] {
			continue
		}
		switch w.Type {
		case archive.WrapperKMS, archive.WrapperAge, archive.WrapperVault:
		case archive.WrapperPassphrase:
			file := files[w.ID]
			if file == "" {
				file = allFile
			}
			src := a.newPassphraseSource(file, o.NewPassphraseCommand)
			if file == "" && o.NewPassphraseCommand == "" && src.Prompt == nil {
				return usageErrorf("re-keying makes passphrase wrapper %s again, and there is no terminal to ask its passphrase: give --new-passphrase-file %s=FILE (or FILE for every passphrase wrapper), or --drop %s",
					w.ID.Short(), w.ID.Short(), w.ID.Short())
			}
			sources[w.ID] = src
		case archive.WrapperRecovery:
			if recoveryW != nil {
				return usageErrorf("archive %s has several recovery wrappers; a re-key makes one new recovery key: --drop the others (%s, %s)", ar.ID().Short(), recoveryW.ID.Short(), w.ID.Short())
			}
			recoveryW = w
		default:
			return usageErrorf("re-keying cannot make a %s wrapper again: --drop %s", w.Type, w.ID.Short())
		}
		kept = append(kept, w)
	}
	if len(kept) == 0 {
		return usageErrorf("--drop names every wrapper: nothing would open the re-keyed archive")
	}
	var sheet *recoverySheet
	switch {
	case recoveryW != nil:
		sheet, err = a.newRecoverySheet(o.RecoveryKeyFile)
		var ce *cliError
		if errors.As(err, &ce) && ce.code == exitUsage {
			return usageErrorf("re-keying replaces recovery wrapper %s by a new recovery key, shown only on a terminal: give --recovery-key-file FILE, or --drop %s", recoveryW.ID.Short(), recoveryW.ID.Short())
		}
		if err != nil {
			return err
		}
		defer sheet.discard()
	case o.RecoveryKeyFile != "":
		return usageErrorf("archive %s has no recovery wrapper to replace: --recovery-key-file is not needed (add one with `chatvault keys add --recovery-key`)", ar.ID().Short())
	}

	if err := a.unlock(ctx, ar, o.Keys, false); err != nil {
		return err
	}

	var lockers []archive.Locker
	var rkey recovery.Key
	for _, w := range kept {
		switch w.Type {
		case archive.WrapperKMS:
			c, err := a.kms(ctx)
			if err != nil {
				return err
			}
			lockers = append(lockers, archive.KMSLocker{KMS: c, KeyID: w.KeyID, Dedicated: w.Dedicated})
		case archive.WrapperVault:
			// The same Transit key (on the mount the wrapper records), at
			// its newest version.
			c, key, err := a.vaultFor(w)
			if err != nil {
				return err
			}
			lockers = append(lockers, archive.VaultLocker{Vault: c, Key: key, Dedicated: w.Dedicated})
		case archive.WrapperAge:
			lockers = append(lockers, a.ageLocker(w.Recipient))
		case archive.WrapperPassphrase:
			l, err := a.newPassphraseLocker(ctx, sources[w.ID], name+", replacing passphrase wrapper "+w.ID.Short())
			if err != nil {
				return err
			}
			defer clear(l.Passphrase)
			lockers = append(lockers, l)
		case archive.WrapperRecovery:
			if rkey, err = recovery.New(nil); err != nil {
				return err
			}
			defer clear(rkey[:])
			lockers = append(lockers, archive.RecoveryLocker{Key: rkey})
		}
	}

	rekey := ar.Rekey
	if o.Reencrypt {
		rekey = ar.RekeyReencrypt
	}
	res, err := rekey(ctx, lockers)
	if err != nil && res.Commit == 0 {
		return err
	}
	cerr := err
	if recoveryW != nil {
		label, lerr := ar.Label(ctx)
		if lerr == nil {
			lerr = sheet.write(rkey, ar.ID().String(), ar.Fingerprint(), label)
		}
		if lerr != nil {
			return withHint(fmt.Errorf("archive %s was re-keyed with a new recovery key, but it could not be saved: %w", ar.ID().Short(), lerr),
				"the new recovery key is lost: add another with `chatvault keys add "+ar.ID().Short()+" --recovery-key --recovery-key-file FILE`")
		}
	}

	var gone []*archive.Wrapper
	for _, w := range ws {
		if dropped[w.ID] {
			gone = append(gone, w)
		}
	}
	a.audit(ctx, audit.ActionRekey, ar.ID(), map[string]any{"commit": res.Commit, "epoch": res.Epoch,
		"wrappers": describeWrappers(res.Wrappers), "dropped": describeWrappers(gone), "recovery_sheet_void": hadRecovery(ws)})
	now := time.Now()
	if a.json {
		if err := a.emit(rekeyRecord{Type: "rekey", Archive: ar.ID().String(), Commit: res.Commit, Epoch: res.Epoch,
			Wrappers: wrapperRows(ar.ID(), res.Wrappers, now), Dropped: wrapperRows(ar.ID(), gone, now),
			Deleted: len(res.Deleted), RecoveryKey: o.RecoveryKeyFile}); err != nil {
			return err
		}
	} else {
		a.printf("re-keyed archive %s in commit %d: a new archive key (key epoch %d)\n", name, res.Commit, res.Epoch)
		for _, w := range res.Wrappers {
			a.printf("  new      %s\n", describeWrapper(w))
		}
		for _, w := range gone {
			a.printf("  dropped  %s\n", describeWrapper(w))
		}
		a.printf("copies of the old wrappers open none of what commit %d and later ones make\n", res.Commit)
		if recoveryW != nil {
			a.printf("the old recovery sheet is void")
			if o.RecoveryKeyFile != "" {
				a.printf("; the new one is in %s: print it or move it somewhere safe, off this device", o.RecoveryKeyFile)
			}
			a.printf("\n")
		}
	}
	a.pushRegistered(ctx, st, ar.ID())
	if cerr != nil {
		return withHint(cerr, "run the same command again: it finishes the deletions (and does not re-key twice)")
	}
	return nil
}
