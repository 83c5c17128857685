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

// openRepoArchive opens the store of --repo and the archive name in it.
func (a *app) openRepoArchive(ctx context.Context, mode storeMode, name, pin string) (remote.Store, *archive.Archive, error) {
	st, err := a.openStore(ctx, a.repo, mode)
	if err != nil {
		return nil, nil, err
	}
	ar, err := a.openArchive(ctx, st, name, pin)
	return st, ar, err
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
	ar, err := archive.Open(ctx, st, id, a.archiveOptions(pin))
	if err != nil {
		return nil, err
	}
	if a.maxAge > 0 && !a.noAgeWarn {
		if ws, err := ar.Wrappers(ctx); err == nil {
			a.warnOldWrappers(ws)
		}
	}
	return ar, nil
}

// keyFlags are the flags that give the secret opening an archive.
type keyFlags struct {
	passphraseFile    string
	passphraseCommand string
	recoveryKeyFile   string
	recoveryKeyPrompt bool

	recoveryFileFlag string // the flag setting recoveryKeyFile, for messages
}

func (k *keyFlags) register(fs *pflag.FlagSet) { k.registerAs(fs, "recovery-key-file") }

// registerAs registers the flags with another name for the recovery key file:
// commands that make a new recovery key (keys add, rotate) keep
// --recovery-key-file for the new key's sheet, as init does.
func (k *keyFlags) registerAs(fs *pflag.FlagSet, recoveryFileFlag string) {
	k.recoveryFileFlag = recoveryFileFlag
	fs.StringVar(&k.passphraseFile, "passphrase-file", "", "read the passphrase from `FILE`")
	fs.StringVar(&k.passphraseCommand, "passphrase-command", "", "read the passphrase from the output of `COMMAND` (run with sh -c)")
	fs.StringVar(&k.recoveryKeyFile, recoveryFileFlag, "", "open the archive with the recovery key (or recovery sheet) in `FILE`")
	fs.BoolVar(&k.recoveryKeyPrompt, "recovery-key-prompt", false, "open the archive with a recovery key typed at a prompt (no echo)")
}

func (k keyFlags) fileFlag() string {
	if k.recoveryFileFlag == "" {
		return "--recovery-key-file"
	}
	return "--" + k.recoveryFileFlag
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

// unlock adds the archive key to ar. It tries, without prompting, this
// device's key (an age wrapper for it), AWS KMS and Vault Transit (a client
// is made only if the archive has an aws-kms or vault-transit wrapper), then
// the recovery key if one is given, else a passphrase (asked only if the
// archive has a passphrase wrapper).
func (a *app) unlock(ctx context.Context, ar *archive.Archive, k keyFlags, stdinIsData bool) error {
	var secretU archive.Unlocker
	hint := ""
	switch {
	case k.recoveryKeyFile != "" && k.recoveryKeyPrompt:
		return usageErrorf("%s and --recovery-key-prompt exclude each other", k.fileFlag())
	case k.recoveryKeyFile != "":
		key, err := recovery.ReadFile(k.recoveryKeyFile)
		if err != nil {
			return secretFileError(err)
		}
		secretU = archive.RecoveryUnlocker{Key: key}
		hint = "check that the recovery key in " + k.recoveryKeyFile + " belongs to this archive"
	case k.recoveryKeyPrompt:
		prompt := a.secretSource(k, stdinIsData).Prompt
		if prompt == nil {
			return usageErrorf("--recovery-key-prompt needs a terminal; use %s FILE", k.fileFlag())
		}
		secretU = &promptedRecovery{get: func() (recovery.Key, error) { return promptRecoveryKey(prompt, a.archiveName(ar.ID())) }}
		hint = "check that the recovery key you typed belongs to this archive"
	default:
		src := a.secretSource(k, stdinIsData)
		purpose := "passphrase for archive " + a.archiveName(ar.ID())
		secretU = &archive.PassphraseUnlocker{Get: func(ctx context.Context) ([]byte, error) {
			p, err := src.Passphrase(ctx, purpose, false)
			return p, secretFileError(err)
		}}
	}

	var unlockers []archive.Unlocker
	id, err := a.device()
	if err != nil {
		return err
	}
	if id != nil {
		unlockers = append(unlockers, archive.AgeUnlocker{Identity: id})
	}
	ku := &kmsUnlocker{app: a}
	vu := &vaultUnlocker{app: a}
	unlockers = append(unlockers, ku, vu, secretU)

	err = ar.Unlock(ctx, unlockers...)
	unreachable, down := ku.unreachable, map[string]bool{}
	if ku.unreachable != nil {
		down[archive.WrapperKMS] = true
	}
	if vu.unreachable != nil {
		down[archive.WrapperVault] = true
		if unreachable == nil {
			unreachable = vu.unreachable
		}
	}
	refused := ku.refused
	if refused == nil {
		refused = vu.refused
	}
	switch {
	case err == nil, errors.Is(err, archive.ErrIntegrity), ctx.Err() != nil:
		return err
	case unreachable != nil:
		// The KMS or Vault wrapper could not be tried: that, not the other
		// keys, is the failure.
		if onlyTypes(ctx, ar, down) {
			return unreachable
		}
		return fmt.Errorf("%w (and no other key given opens it: %v)", unreachable, err)
	case refused != nil && !errors.Is(err, refused):
		// KMS or Vault refused, then the other keys failed too (or no
		// passphrase was available): the refusal comes first, and decides
		// the hint.
		return fmt.Errorf("%w; %w", refused, err)
	}
	if errors.Is(err, archive.ErrWrongKey) && !kmsRefusal(err) && !vaultRefusal(err) {
		if hint == "" {
			hint = opensWith(ctx, ar)
		}
		if hint == "" {
			hint = "check the passphrase, or use " + k.fileFlag()
		}
		if hint != "" {
			return withHint(err, hint)
		}
	}
	return err
}

// opensWith is the hint of an archive no key given opens that has neither a
// passphrase nor a recovery key wrapper: what does open it.
func opensWith(ctx context.Context, ar *archive.Archive) string {
	ws, err := ar.Wrappers(ctx)
	if err != nil {
		return ""
	}
	var keys []string
	for _, w := range ws {
		switch w.Type {
		case archive.WrapperPassphrase, archive.WrapperRecovery:
			return ""
		case archive.WrapperAge:
			keys = append(keys, "the device key of "+w.Recipient)
		default:
			keys = append(keys, w.Type+" "+wrapperDetail(w))
		}
	}
	return "the archive opens only with " + strings.Join(keys, " or ") + " (a device key file is given with --identity FILE)"
}

// onlyTypes reports whether every wrapper of the archive is of one of the
// types (those whose service could not be reached).
func onlyTypes(ctx context.Context, ar *archive.Archive, types map[string]bool) bool {
	ws, err := ar.Wrappers(ctx)
	if err != nil {
		return false
	}
	for _, w := range ws {
		if !types[w.Type] {
			return false
		}
	}
	return true
}

// promptedRecovery asks for the recovery key only when the archive has a
// recovery wrapper and nothing tried before opened it.
type promptedRecovery struct {
	get func() (recovery.Key, error)
	key *recovery.Key
}

func (u *promptedRecovery) Unlock(ctx context.Context, id archive.ID, w *archive.Wrapper) ([]byte, error) {
	if w.Type != archive.WrapperRecovery {
		return nil, archive.ErrNotMine
	}
	if u.key == nil {
		k, err := u.get()
		if err != nil {
			return nil, err
		}
		u.key = &k
	}
	return archive.RecoveryUnlocker{Key: *u.key}.Unlock(ctx, id, w)
}

// archiveName is how prompts name an archive: its cached label and short id.
func (a *app) archiveName(id archive.ID) string {
	if pin, err := a.state().Load(id); err == nil && pin != nil && pin.Label != "" {
		return fmt.Sprintf("%q (%s)", pin.Label, id.Short())
	}
	return id.Short()
}
