package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/audit"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/kms/secret"
	"github.com/chatvault/chatvault/kms/vault"
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
	st, ar, err := a.openRepoArchive(ctx, storeWrite, o.Archive, "")
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

	plan, err := a.planRekey(ar, ws, "re-keying", o.Drop, o.NewPassphraseFiles, o.NewPassphraseCommand, o.RecoveryKeyFile)
	if err != nil {
		return err
	}
	defer plan.discard()
	if err := a.unlock(ctx, ar, o.Keys, false); err != nil {
		return err
	}
	lockers, rkey, err := plan.lockers(ctx, a, ar.ID(), "")
	defer plan.clear()
	defer clear(rkey[:])
	if err != nil {
		return err
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
	if plan.recoveryW != nil {
		if err := plan.writeSheet(ctx, ar, rkey); err != nil {
			return withHint(fmt.Errorf("archive %s was re-keyed with a new recovery key, but it could not be saved: %w", ar.ID().Short(), err),
				"the new recovery key is lost: add another with `chatvault keys add "+ar.ID().Short()+" --recovery-key --recovery-key-file FILE`")
		}
	}

	gone := plan.dropped
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
		if plan.recoveryW != nil {
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

// rekeyPlan is what a re-key needs for each wrapper it makes again, settled
// before the archive is unlocked so that an unattended run lacking a secret
// exits 2 having changed nothing.
type rekeyPlan struct {
	name      string
	kept      []*archive.Wrapper
	dropped   []*archive.Wrapper
	recoveryW *archive.Wrapper
	sources   map[archive.ID]secret.Source
	sheet     *recoverySheet
	secrets   [][]byte

	// The dedicated keys of kept wrappers, replaced by new dedicated keys
	// (destroyed once the commit is pushed), and the new keys made (destroyed
	// again by abandon when no commit uses them).
	destroyKMS, destroyVault []string
	newKMS                   []string
	newVault                 []newVaultKey
	kmsc                     *awskms.Client
}

type newVaultKey struct {
	c    *vault.Client
	name string
}

func (a *app) planRekey(ar *archive.Archive, ws []*archive.Wrapper, why string, drop, newPassphraseFiles []string, newPassphraseCommand, recoveryKeyFile string) (*rekeyPlan, error) {
	p := &rekeyPlan{name: a.archiveName(ar.ID()), sources: map[archive.ID]secret.Source{}}
	dropped := map[archive.ID]bool{}
	for _, s := range drop {
		w, err := findWrapper(ar.ID(), ws, s)
		if err != nil {
			return nil, err
		}
		dropped[w.ID] = true
	}
	files := map[archive.ID]string{}
	var allFile string
	for _, v := range newPassphraseFiles {
		if id, path, ok := strings.Cut(v, "="); ok && len(id) >= 4 && isHexString(strings.ToLower(id)) {
			w, err := findWrapper(ar.ID(), ws, id)
			if err != nil {
				return nil, err
			}
			if w.Type != archive.WrapperPassphrase {
				return nil, usageErrorf("--new-passphrase-file %s=…: wrapper %s is a %s wrapper, not a passphrase one", id, w.ID.Short(), w.Type)
			}
			files[w.ID] = path
			continue
		}
		if allFile != "" {
			return nil, usageErrorf("--new-passphrase-file: give one FILE for every passphrase wrapper, or ID=FILE for each")
		}
		allFile = v
	}
	for _, w := range ws {
		if dropped[w.ID] {
			p.dropped = append(p.dropped, w)
			continue
		}
		switch w.Type {
		case archive.WrapperKMS, archive.WrapperAge, archive.WrapperVault:
		case archive.WrapperPassphrase:
			file := files[w.ID]
			if file == "" {
				file = allFile
			}
			src := a.newPassphraseSource(file, newPassphraseCommand)
			if file == "" && newPassphraseCommand == "" && src.Prompt == nil {
				return nil, usageErrorf("%s makes passphrase wrapper %s again, and there is no terminal to ask its passphrase: give --new-passphrase-file %s=FILE (or FILE for every passphrase wrapper), or --drop %s",
					why, w.ID.Short(), w.ID.Short(), w.ID.Short())
			}
			p.sources[w.ID] = src
		case archive.WrapperRecovery:
			if p.recoveryW != nil {
				return nil, usageErrorf("archive %s has several recovery wrappers; %s makes one new recovery key: --drop the others (%s, %s)", ar.ID().Short(), why, p.recoveryW.ID.Short(), w.ID.Short())
			}
			p.recoveryW = w
		default:
			return nil, usageErrorf("%s cannot make a %s wrapper again: --drop %s", why, w.Type, w.ID.Short())
		}
		p.kept = append(p.kept, w)
	}
	if len(p.kept) == 0 {
		return nil, usageErrorf("--drop names every wrapper: nothing would open the re-keyed archive")
	}
	switch {
	case p.recoveryW != nil:
		sheet, err := a.newRecoverySheet(recoveryKeyFile)
		var ce *cliError
		if errors.As(err, &ce) && ce.code == exitUsage {
			return nil, usageErrorf("%s replaces recovery wrapper %s by a new recovery key, shown only on a terminal: give --recovery-key-file FILE, or --drop %s", why, p.recoveryW.ID.Short(), p.recoveryW.ID.Short())
		}
		if err != nil {
			return nil, err
		}
		p.sheet = sheet
	case recoveryKeyFile != "":
		return nil, usageErrorf("archive %s has no recovery wrapper to replace: --recovery-key-file is not needed (add one with `chatvault keys add --recovery-key`)", ar.ID().Short())
	}
	return p, nil
}

// lockers makes one locker per kept wrapper, asking for passphrases now (the
// archive is open) and making the new recovery key. With a suffix (a
// conversation shred), a wrapper under a dedicated KMS or Vault key is made
// under a new dedicated key of the archive, named with it
// (alias/chatvault-<id>-<suffix>, chatvault-<id>-<suffix>); the old key is to
// be destroyed after the commit. Without (a re-key), under the same key.
func (p *rekeyPlan) lockers(ctx context.Context, a *app, id archive.ID, suffix string) ([]archive.Locker, recovery.Key, error) {
	var lockers []archive.Locker
	var rkey recovery.Key
	newKMS := map[string]string{}   // old KEK → new ARN
	newVault := map[string]string{} // old "<mount>/<key>" → new key name
	for _, w := range p.kept {
		switch w.Type {
		case archive.WrapperKMS:
			c, err := a.kms(ctx)
			if err != nil {
				return nil, rkey, err
			}
			keyID := w.KeyID
			if w.Dedicated && suffix != "" {
				if newKMS[w.KeyID] == "" {
					p.kmsc = c
					ki, err := c.CreateDedicatedNamed(ctx, id.String(), suffix)
					if err != nil {
						return nil, rkey, fmt.Errorf("making a new dedicated KMS key to replace %s: %w (nothing was changed)", w.KeyID, err)
					}
					p.newKMS = append(p.newKMS, ki.ARN)
					p.destroyKMS = append(p.destroyKMS, w.KeyID)
					newKMS[w.KeyID] = ki.ARN
					a.notef("new dedicated KMS key %s (%s) replaces %s", ki.ARN, awskms.NamedAliasName(id.String(), suffix), w.KeyID)
				}
				keyID = newKMS[w.KeyID]
			}
			lockers = append(lockers, archive.KMSLocker{KMS: c, KeyID: keyID, Dedicated: w.Dedicated})
		case archive.WrapperVault:
			c, key, err := a.vaultFor(w)
			if err != nil {
				return nil, rkey, err
			}
			if w.Dedicated && suffix != "" {
				if newVault[w.KeyID] == "" {
					name, err := c.CreateDedicatedNamed(ctx, id.String(), suffix)
					if err != nil {
						return nil, rkey, fmt.Errorf("making a new dedicated Vault key to replace %s: %w (nothing was changed)", w.KeyID, err)
					}
					p.newVault = append(p.newVault, newVaultKey{c: c, name: name})
					p.destroyVault = append(p.destroyVault, w.KeyID)
					newVault[w.KeyID] = name
					a.notef("new dedicated Vault key %s/%s replaces %s", c.Mount(), name, w.KeyID)
				}
				key = newVault[w.KeyID]
			}
			lockers = append(lockers, archive.VaultLocker{Vault: c, Key: key, Dedicated: w.Dedicated})
		case archive.WrapperAge:
			lockers = append(lockers, a.ageLocker(w.Recipient))
		case archive.WrapperPassphrase:
			l, err := a.newPassphraseLocker(ctx, p.sources[w.ID], p.name+", replacing passphrase wrapper "+w.ID.Short())
			if err != nil {
				return nil, rkey, err
			}
			p.secrets = append(p.secrets, l.Passphrase)
			lockers = append(lockers, l)
		case archive.WrapperRecovery:
			k, err := recovery.New(nil)
			if err != nil {
				return nil, rkey, err
			}
			rkey = k
			lockers = append(lockers, archive.RecoveryLocker{Key: rkey})
		}
	}
	return lockers, rkey, nil
}

// writeSheet writes the new recovery key's sheet.
func (p *rekeyPlan) writeSheet(ctx context.Context, ar *archive.Archive, rkey recovery.Key) error {
	label, err := ar.Label(ctx)
	if err != nil {
		return err
	}
	return p.sheet.write(rkey, ar.ID().String(), ar.Fingerprint(), label)
}

// clear wipes the passphrases asked.
func (p *rekeyPlan) clear() {
	for _, s := range p.secrets {
		clear(s)
	}
	p.secrets = nil
}

// abandon destroys the new dedicated keys lockers made, when no commit uses
// them.
func (p *rekeyPlan) abandon(ctx context.Context, a *app) {
	if p == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	for _, arn := range p.newKMS {
		if _, err := p.kmsc.Destroy(ctx, arn, awskms.MinPendingDays); err != nil {
			a.warn(fmt.Sprintf("the new KMS key %s made for the re-key could not be destroyed: %s", arn, oneLine(err.Error())))
			continue
		}
		a.warn(fmt.Sprintf("the new KMS key %s made for the re-key is unused: it was disabled and scheduled for deletion", arn))
	}
	for _, k := range p.newVault {
		ref := k.c.Mount() + "/" + k.name
		if err := k.c.Destroy(ctx, k.name); err != nil {
			a.warn(fmt.Sprintf("the new Vault key %s made for the re-key could not be deleted: %s", ref, oneLine(err.Error())))
			continue
		}
		a.warn(fmt.Sprintf("the new Vault key %s made for the re-key is unused: it was deleted", ref))
	}
	p.newKMS, p.newVault = nil, nil
}

// randomSuffix is 8 random hex digits, to name a new dedicated key.
func randomSuffix() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("%08x", uint32(time.Now().UnixNano()))
	}
	return hex.EncodeToString(b[:])
}

// discard removes a recovery sheet file that was never written.
func (p *rekeyPlan) discard() {
	if p != nil {
		p.sheet.discard()
	}
}
