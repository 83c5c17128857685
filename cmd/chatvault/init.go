package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/audit"
	"github.com/chatvault/chatvault/crypto/seal"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/kms/vault"
)

type initOptions struct {
	app *app

	Label             string
	Passphrase        bool
	RecoveryKey       bool
	RecoveryKeyFile   string
	KMS               string
	KMSCreate         bool
	VaultTransit      string
	VaultCreate       bool
	Recipients        []string
	Cipher            string
	PassphraseFile    string
	PassphraseCommand string
}

func newInitCmd(a *app, runF func(context.Context, *initOptions) error) *cobra.Command {
	opts := &initOptions{app: a}
	cmd := &cobra.Command{
		Use:   "init ARCHIVE_LABEL",
		Short: "Create a new archive",
		Long: `Create a new archive in the store and print its id and fingerprint.

The archive key is wrapped by each key chosen (any one of them opens the
archive):
  --kms KEY          an AWS KMS key (key id, ARN or alias; the wrapper records its ARN)
  --kms-create       a new KMS key (and alias alias/chatvault-<archive id>) made for
                     this archive only and recorded as dedicated: destroying it
                     shreds the archive
  --vault-transit KEY
                     a HashiCorp Vault Transit key (a derived aes256-gcm96 or
                     chacha20-poly1305 key under --vault-mount, default transit;
                     the server from VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE,
                     VAULT_CACERT). The key must exist: a typo never creates one
  --vault-transit-create
                     a new Transit key chatvault-<archive id> made for this archive
                     only (derived, not exportable, no plaintext backup, deletion
                     allowed) and recorded as dedicated: deleting it shreds the archive
  --recipient AGE    a device key (an age recipient age1…, see ` + "`chatvault device init`" + `);
                     may be repeated
  --passphrase       a passphrase (asked twice at a prompt, or --passphrase-file,
                     --passphrase-command, CHATVAULT_PASSPHRASE); the default when no
                     other key is chosen
  --recovery-key     a new recovery key
An init with only KMS, Vault or device keys asks for no passphrase. More keys
can be added later with ` + "`chatvault keys add`" + ` (at most 16).

A new recovery key is printed as a recovery sheet on the terminal, or written to
--recovery-key-file (created with mode 0600; an existing file is never
overwritten); it is never printed to a redirected stdout or with --json.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			opts.Label = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runInit(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Passphrase, "passphrase", false, "wrap the archive key with a passphrase (default when no other wrapper is chosen)")
	f.BoolVar(&opts.RecoveryKey, "recovery-key", false, "wrap the archive key with a new recovery key")
	f.StringVar(&opts.RecoveryKeyFile, "recovery-key-file", "", "write the new recovery key's sheet to `FILE` (implies --recovery-key)")
	f.StringVar(&opts.KMS, "kms", "", "wrap the archive key with the AWS KMS key `KEY` (key id, ARN or alias)")
	f.BoolVar(&opts.KMSCreate, "kms-create", false, "create a KMS key dedicated to this archive and wrap the archive key with it")
	f.StringVar(&opts.VaultTransit, "vault-transit", "", "wrap the archive key with the Vault Transit key `KEY` (on --vault-mount)")
	f.BoolVar(&opts.VaultCreate, "vault-transit-create", false, "create a Vault Transit key dedicated to this archive and wrap the archive key with it")
	f.StringArrayVar(&opts.Recipients, "recipient", nil, "wrap the archive key for the device key `AGE_RECIPIENT` (age1…)")
	f.StringVar(&opts.Cipher, "cipher", "auto", "cipher suite: auto, aes-256-gcm or chacha20-poly1305")
	f.StringVar(&opts.PassphraseFile, "passphrase-file", "", "read the new passphrase from `FILE`")
	f.StringVar(&opts.PassphraseCommand, "passphrase-command", "", "read the new passphrase from the output of `COMMAND` (run with sh -c)")
	return cmd
}

type initRecord struct {
	Type            string   `json:"type"`
	ID              string   `json:"id"`
	Label           string   `json:"label"`
	Fingerprint     string   `json:"fingerprint"`
	Cipher          string   `json:"cipher"`
	Wrappers        []string `json:"wrappers"`
	KMSKey          string   `json:"kms_key,omitempty"`
	KMSAlias        string   `json:"kms_alias,omitempty"`
	Dedicated       bool     `json:"dedicated,omitempty"`
	VaultKey        string   `json:"vault_key,omitempty"`         // "<mount>/<key>"
	VaultKeyVersion int      `json:"vault_key_version,omitempty"` // the Transit key version that wrapped
	VaultDedicated  bool     `json:"vault_dedicated,omitempty"`
	Recipients      []string `json:"recipients,omitempty"`
	RecoveryKey     string   `json:"recovery_key_file,omitempty"`
}

func runInit(ctx context.Context, opts *initOptions) error {
	a := opts.app
	label := strings.TrimSpace(opts.Label)
	if label == "" {
		return usageErrorf("the archive label must not be empty")
	}
	var suite seal.Suite
	if opts.Cipher != "auto" {
		s, err := seal.ParseSuite(opts.Cipher)
		if err != nil {
			return usageErrorf("--cipher %q: want auto, aes-256-gcm or chacha20-poly1305", opts.Cipher)
		}
		suite = s
	}
	if opts.KMS != "" && opts.KMSCreate {
		return usageErrorf("--kms and --kms-create exclude each other")
	}
	if opts.VaultTransit != "" && opts.VaultCreate {
		return usageErrorf("--vault-transit and --vault-transit-create exclude each other")
	}
	if err := checkRecipients(opts.Recipients); err != nil {
		return err
	}
	withVault := opts.VaultTransit != "" || opts.VaultCreate
	withKMS := opts.KMS != "" || opts.KMSCreate
	withRecovery := opts.RecoveryKey || opts.RecoveryKeyFile != ""
	withPassphrase := opts.Passphrase || (!withRecovery && !withKMS && !withVault && len(opts.Recipients) == 0)

	// A Transit key named is read first: a typo stops init before any
	// passphrase is asked, and no encrypt ever creates a key.
	var vc *vault.Client
	if withVault {
		var err error
		if vc, err = a.vaultClient(); err != nil {
			return err
		}
		if opts.VaultTransit != "" {
			if _, err := checkVaultKey(ctx, vc, opts.VaultTransit); err != nil {
				return err
			}
		}
	}

	// Decide where a new recovery key goes before anything is created.
	var sheet *recoverySheet
	if withRecovery {
		var err error
		if sheet, err = a.newRecoverySheet(opts.RecoveryKeyFile); err != nil {
			return err
		}
		defer sheet.discard()
	}

	st, err := a.openStore(ctx, a.repo, storeCreate)
	if err != nil {
		return err
	}
	var lockers []archive.Locker
	var dedicated *dedicatedKMSLocker
	if withKMS {
		c, err := a.kms(ctx)
		if err != nil {
			return err
		}
		if opts.KMSCreate {
			dedicated = &dedicatedKMSLocker{KMS: c}
			lockers = append(lockers, dedicated)
		} else {
			lockers = append(lockers, archive.KMSLocker{KMS: c, KeyID: opts.KMS})
		}
	}
	var dedicatedVault *dedicatedVaultLocker
	switch {
	case opts.VaultCreate:
		dedicatedVault = &dedicatedVaultLocker{Vault: vc}
		lockers = append(lockers, dedicatedVault)
	case opts.VaultTransit != "":
		lockers = append(lockers, archive.VaultLocker{Vault: vc, Key: opts.VaultTransit})
	}
	for _, r := range opts.Recipients {
		lockers = append(lockers, a.ageLocker(r))
	}
	if withPassphrase {
		p, err := a.secretSource(keyFlags{passphraseFile: opts.PassphraseFile, passphraseCommand: opts.PassphraseCommand}, false).
			Passphrase(ctx, fmt.Sprintf("new passphrase for archive %q", label), true)
		if err != nil {
			return secretFileError(err)
		}
		defer clear(p)
		lockers = append(lockers, archive.PassphraseLocker{Passphrase: p})
	}
	var rkey recovery.Key
	if withRecovery {
		rkey, err = recovery.New(nil)
		if err != nil {
			return err
		}
		defer clear(rkey[:])
		lockers = append(lockers, archive.RecoveryLocker{Key: rkey})
	}

	ar, err := archive.Create(ctx, st, archive.CreateOptions{Label: label, Suite: suite, Lockers: lockers}, a.archiveOptions(""))
	if err != nil {
		if dedicated != nil && dedicated.created.ARN != "" {
			// The archive was not created: its dedicated key serves nothing.
			if date, derr := dedicated.KMS.Destroy(context.WithoutCancel(ctx), dedicated.created.ARN, awskms.MinPendingDays); derr != nil {
				a.warn(fmt.Sprintf("the KMS key %s made for the archive could not be scheduled for deletion: %v", dedicated.created.ARN, derr))
			} else {
				a.warn(fmt.Sprintf("the KMS key %s made for the archive was disabled and is scheduled for deletion on %s", dedicated.created.ARN, date.Format(time.DateOnly)))
			}
		}
		// Likewise its dedicated Vault key.
		dedicatedVault.destroy(ctx, a)
		return err
	}
	id, fp := ar.ID().String(), ar.Fingerprint()
	ws, err := ar.Wrappers(ctx)
	if err != nil {
		return err
	}

	if withRecovery {
		if err := sheet.write(rkey, id, fp, label); err != nil {
			return withHint(fmt.Errorf("archive %s was created, but its recovery key could not be saved: %w", id, err),
				"the recovery key is lost; create a new archive if you need one")
		}
	}

	rec := initRecord{Type: "archive", ID: id, Label: label, Fingerprint: fp, Cipher: ar.Suite(), RecoveryKey: opts.RecoveryKeyFile}
	for _, w := range ws {
		rec.Wrappers = append(rec.Wrappers, w.Type)
		switch w.Type {
		case archive.WrapperKMS:
			rec.KMSKey, rec.Dedicated = w.KeyID, w.Dedicated
			if w.Dedicated {
				rec.KMSAlias = awskms.AliasName(id)
			}
		case archive.WrapperVault:
			rec.VaultKey, rec.VaultKeyVersion, rec.VaultDedicated = w.KeyID, w.KeyVersion, w.Dedicated
		case archive.WrapperAge:
			rec.Recipients = append(rec.Recipients, w.Recipient)
		}
	}
	a.audit(ctx, audit.ActionInit, ar.ID(), map[string]any{"commit": 1, "fingerprint": fp, "wrappers": describeWrappers(ws)})
	if a.json {
		return a.emit(rec)
	}
	fmt.Fprintf(a.out, "created archive %q\n", label)
	fmt.Fprintf(a.out, "  id           %s\n", id)
	fmt.Fprintf(a.out, "  fingerprint  %s\n", fp)
	fmt.Fprintf(a.out, "  cipher       %s\n", ar.Suite())
	fmt.Fprintf(a.out, "  wrappers     %s\n", strings.Join(rec.Wrappers, ", "))
	if rec.KMSKey != "" {
		if rec.Dedicated {
			fmt.Fprintf(a.out, "  kms key      %s (dedicated to this archive, alias %s)\n", rec.KMSKey, rec.KMSAlias)
		} else {
			fmt.Fprintf(a.out, "  kms key      %s\n", rec.KMSKey)
		}
	}
	if rec.VaultKey != "" {
		if rec.VaultDedicated {
			fmt.Fprintf(a.out, "  vault key    %s v%d (dedicated to this archive)\n", rec.VaultKey, rec.VaultKeyVersion)
		} else {
			fmt.Fprintf(a.out, "  vault key    %s v%d\n", rec.VaultKey, rec.VaultKeyVersion)
		}
	}
	for _, r := range rec.Recipients {
		fmt.Fprintf(a.out, "  recipient    %s\n", r)
	}
	if opts.RecoveryKeyFile != "" {
		fmt.Fprintf(a.out, "recovery sheet written to %s: print it or move it somewhere safe, off this device\n", opts.RecoveryKeyFile)
	}
	return nil
}
