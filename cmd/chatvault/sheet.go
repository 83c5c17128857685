package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/kms/secret"
)

// recoverySheet is where a new recovery key's sheet goes: --recovery-key-file
// (created 0600, never overwritten), else the terminal. It is decided before
// anything is created, so that a run that cannot show the key changes nothing.
type recoverySheet struct {
	path string
	out  io.Writer
	file *os.File // open until the sheet is written
}

// newRecoverySheet picks the sheet's destination; path "" means the terminal
// (stdout, or stderr when stdout is redirected or --json), and no terminal is
// a usage error. Call discard when the command fails before write.
func (a *app) newRecoverySheet(path string) (*recoverySheet, error) {
	switch {
	case path != "":
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("recovery key file: %w", err)
		}
		return &recoverySheet{path: path, out: f, file: f}, nil
	case a.stdoutTTY && !a.json:
		return &recoverySheet{out: a.out}, nil
	case a.stderrTTY:
		return &recoverySheet{out: a.errOut}, nil
	}
	return nil, usageErrorf("a new recovery key is shown only on a terminal or written to --recovery-key-file, and there is no terminal: use --recovery-key-file FILE")
}

// write prints the recovery sheet and, for a file, makes it durable.
func (s *recoverySheet) write(k recovery.Key, id, fp, label string) error {
	_, err := io.WriteString(s.out, recovery.Sheet(k, id, fp, label, time.Now()))
	if s.file != nil {
		if err == nil {
			err = s.file.Sync()
		}
		if cerr := s.file.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			s.file = nil // complete: keep it
		}
	}
	return err
}

// discard removes a sheet file that was created but not completed.
func (s *recoverySheet) discard() {
	if s != nil && s.file != nil {
		s.file.Close()
		os.Remove(s.path)
		s.file = nil
	}
}

// newPassphraseSource is where a NEW passphrase comes from in keys add and
// rotate: --new-passphrase-file, --new-passphrase-command or a prompt (asked
// twice), never CHATVAULT_PASSPHRASE, which holds the passphrase that opens
// the archive.
func (a *app) newPassphraseSource(file, command string) secret.Source {
	src := a.secretSource(keyFlags{passphraseFile: file, passphraseCommand: command}, false)
	src.Env = ""
	src.FileFlag, src.CommandFlag = "--new-passphrase-file", "--new-passphrase-command"
	return src
}

// newPassphraseLocker asks for a new passphrase (twice at a prompt).
func (a *app) newPassphraseLocker(ctx context.Context, src secret.Source, archiveName string) (archive.PassphraseLocker, error) {
	p, err := src.Passphrase(ctx, "new passphrase for archive "+archiveName, true)
	if err != nil {
		return archive.PassphraseLocker{}, secretFileError(err)
	}
	return archive.PassphraseLocker{Passphrase: p}, nil
}
