package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/crypto/seal"
	"github.com/chatvault/chatvault/kms/recovery"
)

type initOptions struct {
	app *app

	Label             string
	Passphrase        bool
	RecoveryKey       bool
	RecoveryKeyFile   string
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

The archive key is wrapped by a passphrase (the default when no other wrapper is
chosen; asked twice at a prompt) and/or a new recovery key (--recovery-key).
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
	f.StringVar(&opts.Cipher, "cipher", "auto", "cipher suite: auto, aes-256-gcm or chacha20-poly1305")
	f.StringVar(&opts.PassphraseFile, "passphrase-file", "", "read the new passphrase from `FILE`")
	f.StringVar(&opts.PassphraseCommand, "passphrase-command", "", "read the new passphrase from the output of `COMMAND` (run with sh -c)")
	return cmd
}

type initRecord struct {
	Type        string   `json:"type"`
	ID          string   `json:"id"`
	Label       string   `json:"label"`
	Fingerprint string   `json:"fingerprint"`
	Cipher      string   `json:"cipher"`
	Wrappers    []string `json:"wrappers"`
	RecoveryKey string   `json:"recovery_key_file,omitempty"`
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
	withRecovery := opts.RecoveryKey || opts.RecoveryKeyFile != ""
	withPassphrase := opts.Passphrase || !withRecovery

	// Decide where a new recovery key goes before anything is created.
	var sheetOut io.Writer
	var sheetFile *os.File
	if withRecovery {
		switch {
		case opts.RecoveryKeyFile != "":
			f, err := os.OpenFile(opts.RecoveryKeyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("recovery key file: %w", err)
			}
			sheetFile, sheetOut = f, f
			defer func() {
				if sheetFile != nil { // not completed: remove what we created
					sheetFile.Close()
					os.Remove(opts.RecoveryKeyFile)
				}
			}()
		case a.stdoutTTY && !a.json:
			sheetOut = a.out
		case a.stderrTTY:
			sheetOut = a.errOut
		default:
			return usageErrorf("a new recovery key is shown only on a terminal or written to --recovery-key-file, and there is no terminal: use --recovery-key-file FILE")
		}
	}

	st, err := a.openStore(ctx, a.repo, storeCreate)
	if err != nil {
		return err
	}
	var lockers []archive.Locker
	var wrappers []string
	if withPassphrase {
		p, err := a.secretSource(keyFlags{passphraseFile: opts.PassphraseFile, passphraseCommand: opts.PassphraseCommand}, false).
			Passphrase(ctx, fmt.Sprintf("new passphrase for archive %q", label), true)
		if err != nil {
			return secretFileError(err)
		}
		defer clear(p)
		lockers = append(lockers, archive.PassphraseLocker{Passphrase: p})
		wrappers = append(wrappers, archive.WrapperPassphrase)
	}
	var rkey recovery.Key
	if withRecovery {
		rkey, err = recovery.New(nil)
		if err != nil {
			return err
		}
		defer clear(rkey[:])
		lockers = append(lockers, archive.RecoveryLocker{Key: rkey})
		wrappers = append(wrappers, archive.WrapperRecovery)
	}

	ar, err := archive.Create(ctx, st, archive.CreateOptions{Label: label, Suite: suite, Lockers: lockers}, a.archiveOptions(""))
	if err != nil {
		return err
	}
	id, fp := ar.ID().String(), ar.Fingerprint()

	if withRecovery {
		sheet := recovery.Sheet(rkey, id, fp, label, time.Now())
		_, err := io.WriteString(sheetOut, sheet)
		if sheetFile != nil {
			if err == nil {
				err = sheetFile.Sync()
			}
			if cerr := sheetFile.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				sheetFile = nil // keep it
			}
		}
		if err != nil {
			return withHint(fmt.Errorf("archive %s was created, but its recovery key could not be saved: %w", id, err),
				"the recovery key is lost; create a new archive if you need one")
		}
	}

	if a.json {
		return a.emit(initRecord{Type: "archive", ID: id, Label: label, Fingerprint: fp, Cipher: ar.Suite(),
			Wrappers: wrappers, RecoveryKey: opts.RecoveryKeyFile})
	}
	fmt.Fprintf(a.out, "created archive %q\n", label)
	fmt.Fprintf(a.out, "  id           %s\n", id)
	fmt.Fprintf(a.out, "  fingerprint  %s\n", fp)
	fmt.Fprintf(a.out, "  cipher       %s\n", ar.Suite())
	fmt.Fprintf(a.out, "  wrappers     %s\n", strings.Join(wrappers, ", "))
	if opts.RecoveryKeyFile != "" {
		fmt.Fprintf(a.out, "recovery sheet written to %s: print it or move it somewhere safe, off this device\n", opts.RecoveryKeyFile)
	}
	return nil
}
