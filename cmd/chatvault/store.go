package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/kms/secret"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/local"
	"github.com/chatvault/chatvault/remote/s3"
)

// storeMode says what a command does with a store.
type storeMode int

const (
	storeRead   storeMode = iota // read only
	storeWrite                   // add commits or objects
	storeCreate                  // init: a local directory may be created
)

// openStore opens the store named by repo: a local directory or s3://bucket/prefix.
// Only init may create a local store directory; the other commands refuse a
// missing one, so that a typo or an unmounted disk is not mistaken for an
// empty store. A store about to be written is probed once per device for
// create-exclusive writes (probeStore).
func (a *app) openStore(ctx context.Context, repo string, mode storeMode) (remote.Store, error) {
	if repo == "" {
		return nil, usageErrorf("no store: set --repo (or CHATVAULT_REPO)")
	}
	if strings.HasPrefix(repo, "s3://") {
		st, err := s3.Open(ctx, repo, a.s3.options())
		if err != nil {
			return nil, usageError(err)
		}
		if mode != storeRead {
			if err := a.probeStore(ctx, st); err != nil {
				return nil, err
			}
		}
		return st, nil
	}
	if strings.Contains(repo, "://") {
		return nil, usageErrorf("--repo %s: a store is a directory or s3://bucket/prefix", repo)
	}
	if mode != storeCreate {
		if _, err := os.Stat(repo); errors.Is(err, fs.ErrNotExist) {
			return nil, withHint(fmt.Errorf("no store at %s", repo),
				"create an archive there with `chatvault init LABEL`, or pass --repo")
		}
	}
	return local.Open(repo)
}

// openArchive resolves name in the store and opens the archive, locked.
func (a *app) openArchive(ctx context.Context, st remote.Store, name, pin string) (*archive.Archive, error) {
	id, err := archive.Resolve(ctx, st, name, a.state())
	if errors.Is(err, archive.ErrNotFound) {
		return nil, withHint(err, "run `chatvault ls` to list the archives in "+st.String())
	}
	if err != nil {
		return nil, err
	}
	a.notef("archive %s in %s", id, st)
	return archive.Open(ctx, st, id, a.archiveOptions(pin))
}

// keyFlags are the flags that give the secret opening an archive.
type keyFlags struct {
	passphraseFile    string
	passphraseCommand string
	recoveryKeyFile   string
	recoveryKeyPrompt bool
}

func (k *keyFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&k.passphraseFile, "passphrase-file", "", "read the passphrase from `FILE`")
	fs.StringVar(&k.passphraseCommand, "passphrase-command", "", "read the passphrase from the output of `COMMAND` (run with sh -c)")
	fs.StringVar(&k.recoveryKeyFile, "recovery-key-file", "", "open the archive with the recovery key (or recovery sheet) in `FILE`")
	fs.BoolVar(&k.recoveryKeyPrompt, "recovery-key-prompt", false, "open the archive with a recovery key typed at a prompt (no echo)")
}

// promptRecoveryKey asks for a recovery key without echo and parses it; a
// typo is caught by the key's checksum.
func promptRecoveryKey(prompt func(string) ([]byte, error), archiveName string) (recovery.Key, error) {
	if prompt == nil {
		return recovery.Key{}, usageErrorf("--recovery-key-prompt needs a terminal; use --recovery-key-file FILE")
	}
	typed, err := prompt("Recovery key for archive " + archiveName + ": ")
	if err != nil {
		return recovery.Key{}, err
	}
	defer clear(typed)
	return recovery.Parse(string(typed))
}

// secretSource is where passphrases come from in this run. stdinIsData says
// that standard input carries data (export -), so prompts use /dev/tty.
func (a *app) secretSource(k keyFlags, stdinIsData bool) secret.Source {
	src := secret.Source{
		File:    k.passphraseFile,
		Command: k.passphraseCommand,
		Env:     secret.DefaultEnv,
		Stderr:  a.errOut,
	}
	tty := a.stdinTTY
	if stdinIsData {
		tty = nil
		if f, err := os.Open("/dev/tty"); err == nil {
			tty = f // left open for the life of the process
		}
	} else {
		src.Stdin = a.in
	}
	if tty != nil {
		src.Prompt = secret.TerminalPrompt(tty, a.errOut)
	}
	return src
}

// unlock adds the archive key to ar, from the recovery key file if one is given,
// else from a passphrase.
func (a *app) unlock(ctx context.Context, ar *archive.Archive, k keyFlags, stdinIsData bool) error {
	var u archive.Unlocker
	hint := ""
	switch {
	case k.recoveryKeyFile != "" && k.recoveryKeyPrompt:
		return usageErrorf("--recovery-key-file and --recovery-key-prompt exclude each other")
	case k.recoveryKeyFile != "":
		key, err := recovery.ReadFile(k.recoveryKeyFile)
		if err != nil {
			return secretFileError(err)
		}
		u = archive.RecoveryUnlocker{Key: key}
		hint = "check that the recovery key in " + k.recoveryKeyFile + " belongs to this archive"
	case k.recoveryKeyPrompt:
		key, err := promptRecoveryKey(a.secretSource(k, stdinIsData).Prompt, a.archiveName(ar.ID()))
		if err != nil {
			return err
		}
		u = archive.RecoveryUnlocker{Key: key}
		hint = "check that the recovery key you typed belongs to this archive"
	default:
		src := a.secretSource(k, stdinIsData)
		purpose := "passphrase for archive " + a.archiveName(ar.ID())
		u = &archive.PassphraseUnlocker{Get: func(ctx context.Context) ([]byte, error) {
			p, err := src.Passphrase(ctx, purpose, false)
			return p, secretFileError(err)
		}}
	}
	err := ar.Unlock(ctx, u)
	if hint != "" && errors.Is(err, archive.ErrWrongKey) && !errors.Is(err, archive.ErrIntegrity) {
		return withHint(err, hint)
	}
	return err
}

// archiveName is how prompts name an archive: its cached label and short id.
func (a *app) archiveName(id archive.ID) string {
	if pin, err := a.state().Load(id); err == nil && pin != nil && pin.Label != "" {
		return fmt.Sprintf("%q (%s)", pin.Label, id.Short())
	}
	return id.Short()
}
