package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/archive/shred"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/secret"
	"github.com/chatvault/chatvault/kms/vault"
	"github.com/chatvault/chatvault/remote"
)

// Exit codes. exitTable below is the one place that says what they mean; the
// root command's --help prints it and the README copies it.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitIntegrity   = 3
	exitKey         = 4
	exitUnavailable = 5
	exitConflict    = 6
	exitInterrupted = 130
)

var exitTable = []struct {
	code    int
	meaning string
}{
	{exitOK, "success"},
	{exitError, "error (a malformed input file, an unknown archive, a file restore will not overwrite; verify-shred: a best-effort shred without --allow-best-effort; a shred whose audit record cannot be written)"},
	{exitUsage, "usage (bad flags or arguments, an ambiguous ARCHIVE or conversation, no passphrase in an unattended run, a config file holding a secret)"},
	{exitIntegrity, "integrity failure (tampered, truncated, missing, forked or rolled-back data; verify-shred: evidence contradicting a shred report)"},
	{exitKey, "key failure (the passphrase or recovery key does not open the archive; KMS refused the key: access denied, disabled, pending deletion, not found or wrong encryption context; Vault refused: permission denied, Transit key not found, wrong derivation context, key version below min_decryption_version)"},
	{exitUnavailable, "a store, AWS KMS or Vault is unreachable, or Vault is sealed"},
	{exitConflict, "conflict or not complete (another writer committed first, a lease is held, rotate --all had failures or was interrupted, a key change's deletions failed after its commit, a shred not finished, verify-shred: a shred pending until its date without --allow-pending): run again"},
	{exitInterrupted, "interrupted"},
}

// exitStatusHelp renders exitTable for --help.
func exitStatusHelp() string {
	var b strings.Builder
	b.WriteString("\nExit status:\n")
	for _, e := range exitTable {
		fmt.Fprintf(&b, "  %3d  %s\n", e.code, e.meaning)
	}
	return b.String()
}

// cliError attaches an exit code (0: decided by the wrapped error) and a hint
// for the user to an error.
type cliError struct {
	err  error
	code int
	hint string
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// usageError marks err as a usage error (exit 2).
func usageError(err error) error { return &cliError{err: err, code: exitUsage} }

func usageErrorf(format string, args ...any) error {
	return usageError(fmt.Errorf(format, args...))
}

// withHint adds a hint line, printed under the error.
func withHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &cliError{err: err, hint: hint}
}

// exitCode maps an error to its exit code and a hint ("" for none). started
// tells whether the command's run function was reached: errors before that
// come from parsing flags, arguments or the configuration and are usage errors.
func exitCode(ctx context.Context, err error, started bool) (int, string) {
	if err == nil {
		return exitOK, ""
	}
	code, hint := 0, ""
	var ce *cliError
	if errors.As(err, &ce) {
		code, hint = ce.code, ce.hint
	}
	if code == 0 {
		code = classify(ctx, err)
		if !started && code == exitError {
			code = exitUsage
		}
	}
	if hint == "" {
		hint = defaultHint(err, code)
	}
	return code, hint
}

// classify maps the engine's and the libraries' sentinels. Integrity comes
// before key failures: a damaged wrapper is exit 3, never a wrong key.
func classify(ctx context.Context, err error) int {
	switch {
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return exitInterrupted
	case errors.Is(err, shred.ErrIncomplete):
		// First: it also wraps the failure that stopped the shred.
		return exitConflict
	case errors.Is(err, archive.ErrIntegrity):
		return exitIntegrity
	case errors.Is(err, awskms.ErrUnreachable), errors.Is(err, vault.ErrUnavailable):
		// Before key failures: a KMS or Vault that could not be asked refused nothing.
		return exitUnavailable
	case errors.Is(err, archive.ErrWrongKey), kmsRefusal(err), vaultRefusal(err):
		return exitKey
	case errors.Is(err, archive.ErrConflict):
		// Before unavailable: a commit written whose deletions then failed
		// (the store went away) is finished by running the command again.
		return exitConflict
	case errors.Is(err, remote.ErrUnavailable):
		return exitUnavailable
	case errors.Is(err, archive.ErrAmbiguous), errors.Is(err, secret.ErrNoSecret), errors.Is(err, secret.ErrEmpty):
		return exitUsage
	}
	return exitError
}

func defaultHint(err error, code int) string {
	switch {
	case code == exitKey && errors.Is(err, awskms.ErrWrongContext):
		return "the KMS wrapper does not open with its key and this archive's encryption context (a wrapper of another archive, or damaged); open the archive with another of its keys"
	case code == exitKey && vaultRefusal(err) && !kmsRefusal(err):
		return vaultHint(err)
	case code == exitKey && kmsRefusal(err):
		return "the AWS KMS key named above refused: check that it exists, is enabled and not pending deletion, and that your AWS identity may use it (kms:Decrypt, kms:Encrypt, kms:ReEncrypt*); another wrapper of the archive (a passphrase, --recovery-key-file, a device key) may still open it"
	case code == exitKey:
		return "check the passphrase, or use --recovery-key-file"
	case code == exitUnavailable && errors.Is(err, vault.ErrUnavailable) && !errors.Is(err, awskms.ErrUnreachable):
		return vaultHint(err)
	case code == exitUnavailable && errors.Is(err, awskms.ErrUnreachable):
		return "check the network and the KMS endpoint (--kms-endpoint, AWS_ENDPOINT_URL_KMS, AWS_REGION), then run the command again"
	case code == exitConflict:
		return "another writer changed the archive or is still at work; run the command again (a lease left by a killed run expires after 10 minutes)"
	case errors.Is(err, canon.ErrMalformed), errors.Is(err, canon.ErrLineTooLong):
		return "nothing was committed; fix the input and run the command again"
	case errors.Is(err, syscall.ENOSPC):
		return "a disk is full: nothing was committed; free some space (export also spills its encrypted message-id index to TMPDIR: point TMPDIR at a disk with room) and run the command again"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files: nothing was committed; raise the limit (ulimit -Hn, then ulimit -n) and run the command again"
	}
	return ""
}

// secretFileError makes a missing secret file a usage error (an unattended
// run without the secret it needs).
func secretFileError(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return usageError(err)
	}
	return err
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
