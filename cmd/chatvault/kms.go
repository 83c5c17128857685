package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/device"
)

// kms returns the run's KMS client, made on first use: commands that never
// meet an aws-kms wrapper never load the AWS configuration.
func (a *app) kms(ctx context.Context) (*awskms.Client, error) {
	a.kmsOnce.Do(func() {
		if a.newKMS != nil {
			a.kmsClient, a.kmsErr = a.newKMS(ctx)
			return
		}
		if a.kmsEndpoint != "" {
			u, err := url.Parse(a.kmsEndpoint)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				a.kmsErr = usageErrorf("--kms-endpoint %q: want http://HOST:PORT or https://HOST", a.kmsEndpoint)
				return
			}
		}
		a.kmsClient, a.kmsErr = awskms.New(ctx, awskms.Options{Endpoint: a.kmsEndpoint})
	})
	return a.kmsClient, a.kmsErr
}

// kmsUnlocker opens aws-kms wrappers with the run's KMS client, made only when
// the archive has such a wrapper. A KMS that cannot be reached does not stop
// the unlock at once: the next unlockers (a passphrase, a recovery key) may
// still open the archive, and if none does, the unreachable KMS is the error
// (exit 5), not a refused key.
type kmsUnlocker struct {
	app         *app
	unreachable error // the KMS could not be reached
	refused     error // KMS refused a wrapper (denied, disabled, …)
}

func (u *kmsUnlocker) Unlock(ctx context.Context, id archive.ID, w *archive.Wrapper) ([]byte, error) {
	if w.Type != archive.WrapperKMS || u.unreachable != nil {
		return nil, archive.ErrNotMine
	}
	c, err := u.app.kms(ctx)
	if err != nil {
		return nil, err
	}
	key, err := archive.KMSUnlocker{KMS: c}.Unlock(ctx, id, w)
	if errors.Is(err, awskms.ErrUnreachable) && ctx.Err() == nil {
		u.unreachable = fmt.Errorf("archive %s: wrapper %s: %w", id.Short(), w.ID.Short(), err)
		return nil, archive.ErrNotMine
	}
	if err != nil && errors.Is(err, archive.ErrWrongKey) {
		u.refused = err
	}
	return key, err
}

// dedicatedKMSLocker makes a KMS key for this archive alone (init
// --kms-create) once the archive id is known, then wraps the archive key
// under it; the wrapper is marked Dedicated, which a shred relies on.
type dedicatedKMSLocker struct {
	KMS     *awskms.Client
	created awskms.KeyInfo // the key made, for the report (or to destroy on failure)
}

func (l *dedicatedKMSLocker) Lock(ctx context.Context, id archive.ID, w *archive.Wrapper, key []byte) error {
	ki, err := l.KMS.CreateDedicated(ctx, id.String())
	if err != nil {
		return err
	}
	l.created = ki
	return archive.KMSLocker{KMS: l.KMS, KeyID: ki.ARN, Dedicated: true}.Lock(ctx, id, w, key)
}

// Unlock opens a wrapper this locker made: how the engine checks it.
func (l *dedicatedKMSLocker) Unlock(ctx context.Context, id archive.ID, w *archive.Wrapper) ([]byte, error) {
	return archive.KMSUnlocker{KMS: l.KMS}.Unlock(ctx, id, w)
}

// selfAgeLocker wraps the archive key for this device's own recipient; unlike
// an AgeLocker for another device it can open what it made, so the engine
// checks the new wrapper before committing it.
type selfAgeLocker struct {
	Identity *device.Identity
}

func (l selfAgeLocker) Lock(ctx context.Context, id archive.ID, w *archive.Wrapper, key []byte) error {
	return archive.AgeLocker{Recipient: l.Identity.Recipient()}.Lock(ctx, id, w, key)
}

func (l selfAgeLocker) Unlock(ctx context.Context, id archive.ID, w *archive.Wrapper) ([]byte, error) {
	return archive.AgeUnlocker{Identity: l.Identity}.Unlock(ctx, id, w)
}

// ageLocker returns the locker of an age recipient: checked when it is this
// device's own.
func (a *app) ageLocker(recipient string) archive.Locker {
	if id, err := a.device(); err == nil && id != nil && id.Recipient() == recipient {
		return selfAgeLocker{Identity: id}
	}
	return archive.AgeLocker{Recipient: recipient}
}

// checkRecipients refuses anything but age X25519 recipients ("age1…").
func checkRecipients(rs []string) error {
	for _, r := range rs {
		if _, err := age.ParseX25519Recipient(r); err != nil {
			return usageErrorf("--recipient %q: not an age X25519 recipient (age1…): %v", r, err)
		}
	}
	return nil
}

// identityPath is where this device's identity lives: --identity, else the
// default path. explicit says the user named it.
func (a *app) identityPath() (path string, explicit bool, err error) {
	if a.identity != "" {
		return a.identity, true, nil
	}
	p, err := device.DefaultPath()
	return p, false, err
}

// device returns this device's identity, nil if it has none. A named
// --identity that cannot be read is an error; a default one that cannot be
// read is a warning (the other unlockers still run).
func (a *app) device() (*device.Identity, error) {
	a.deviceOnce.Do(func() {
		path, explicit, err := a.identityPath()
		if err != nil {
			return
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if explicit {
				a.deviceErr = usageErrorf("--identity %s: no such file (create one with `chatvault device init --identity FILE`)", path)
			}
			return
		}
		id, err := device.Load(path)
		switch {
		case err != nil && explicit:
			a.deviceErr = err
		case err != nil:
			a.warn(fmt.Sprintf("device key not used: %v", err))
		default:
			a.deviceID = id
			a.notef("device key %s (%s)", path, id.Recipient())
		}
	})
	return a.deviceID, a.deviceErr
}

// wrapperDetail is what identifies a wrapper's KEK: the KMS key ARN, the
// Vault Transit mount/key and key version ("transit/k v2"), the age
// recipient, the Argon2id parameters; "" for a recovery key.
func wrapperDetail(w *archive.Wrapper) string {
	switch w.Type {
	case archive.WrapperKMS:
		return w.KeyID
	case archive.WrapperVault:
		return fmt.Sprintf("%s v%d", w.KeyID, w.KeyVersion)
	case archive.WrapperAge:
		return w.Recipient
	case archive.WrapperPassphrase:
		if w.KDF != nil {
			return fmt.Sprintf("argon2id t=%d m=%s p=%d", w.KDF.Time, formatKiB(w.KDF.MemoryKiB), w.KDF.Threads)
		}
	}
	return w.KeyID // another service's key, or ""
}

// describeWrapper names a wrapper in messages: "1a2b3c4d5e6f (aws-kms, arn:…)".
func describeWrapper(w *archive.Wrapper) string {
	if d := wrapperDetail(w); d != "" && w.Type != archive.WrapperPassphrase {
		return fmt.Sprintf("%s (%s, %s)", w.ID.Short(), w.Type, d)
	}
	return fmt.Sprintf("%s (%s)", w.ID.Short(), w.Type)
}

func formatKiB(kib uint32) string {
	switch {
	case kib%(1<<20) == 0:
		return fmt.Sprintf("%dGiB", kib>>20)
	case kib%(1<<10) == 0:
		return fmt.Sprintf("%dMiB", kib>>10)
	}
	return fmt.Sprintf("%dKiB", kib)
}

// formatAge renders how old something is: "41d", or "5h" / "12m" under a day.
func formatAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0m"
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dm", int(d/time.Minute))
}

// ageDays is a wrapper's age in whole days.
func ageDays(created, now time.Time) int {
	if now.Before(created) {
		return 0
	}
	return int(now.Sub(created) / (24 * time.Hour))
}

// wrapperAges is the short list of ls: "aws-kms 3d, passphrase 41d".
func wrapperAges(ws []*archive.Wrapper, now time.Time) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.Type + " " + formatAge(now.Sub(w.Created))
	}
	return strings.Join(parts, ", ")
}

// warnOldWrappers warns once per wrapper and run about wrappers older than
// rotation.max_age.
func (a *app) warnOldWrappers(ws []*archive.Wrapper) {
	if a.maxAge <= 0 || a.noAgeWarn {
		return
	}
	now := time.Now()
	for _, w := range ws {
		if now.Sub(w.Created) <= a.maxAge {
			continue
		}
		a.outMu.Lock()
		if a.warnedAge == nil {
			a.warnedAge = map[archive.ID]bool{}
		}
		seen := a.warnedAge[w.ID]
		a.warnedAge[w.ID] = true
		a.outMu.Unlock()
		if !seen {
			a.warn(fmt.Sprintf("wrapper %s is %s old, older than %s (%s): rotate it (`chatvault rotate`)",
				describeWrapper(w), plural(ageDays(w.Created, now), "day"), maxAgeKey, a.maxAgeText))
		}
	}
}

// kmsRefusal reports whether err is KMS refusing a key (denied, disabled,
// pending deletion, not found, wrong context), as opposed to a passphrase or
// recovery key that does not fit.
func kmsRefusal(err error) bool {
	return errors.Is(err, awskms.ErrUnusable) || errors.Is(err, awskms.ErrWrongContext) || errors.Is(err, awskms.ErrNotFound)
}
