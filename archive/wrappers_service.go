package archive

import (
	"context"
	"errors"
	"fmt"

	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/device"
)

// Wrapper types held by services or devices rather than by a secret typed in.
const (
	WrapperKMS = "aws-kms"
	WrapperAge = "age"
)

// KMSLocker wraps the archive key with AWS KMS Encrypt under an encryption
// context that binds the archive id and the purpose; KMS logs contexts in
// plaintext, so they hold nothing else. Dedicated marks a key made for this
// archive alone (init --kms-create), which a shred may destroy.
type KMSLocker struct {
	KMS       *awskms.Client
	KeyID     string // key id, ARN or alias
	Dedicated bool
}

func (l KMSLocker) Lock(ctx context.Context, archive ID, w *Wrapper, key []byte) error {
	ec := awskms.Context(archive.String(), awskms.PurposeArchiveKey)
	arn, ct, err := l.KMS.Wrap(ctx, l.KeyID, ec, key)
	if err != nil {
		return kmsError(err)
	}
	w.Type, w.KeyID, w.Context, w.Ciphertext, w.Dedicated = WrapperKMS, arn, ec, ct, l.Dedicated
	return nil
}

// Unlock opens a wrapper this locker made: how a new wrapper is checked.
func (l KMSLocker) Unlock(ctx context.Context, archive ID, w *Wrapper) ([]byte, error) {
	return KMSUnlocker{KMS: l.KMS}.Unlock(ctx, archive, w)
}

// KMSUnlocker opens aws-kms wrappers with KMS Decrypt, naming the wrapper's
// key and the context it must have been made with: a wrapper moved from
// another archive fails the context check. No secret is asked for, so it is
// safe to try first.
type KMSUnlocker struct {
	KMS *awskms.Client
}

func (u KMSUnlocker) Unlock(ctx context.Context, archive ID, w *Wrapper) ([]byte, error) {
	if w.Type != WrapperKMS {
		return nil, ErrNotMine
	}
	want := awskms.Context(archive.String(), awskms.PurposeArchiveKey)
	if len(w.Context) != len(want) || w.Context[awskms.ContextArchive] != want[awskms.ContextArchive] || w.Context[awskms.ContextPurpose] != want[awskms.ContextPurpose] {
		return nil, fmt.Errorf("%w: KMS wrapper %s is bound to another archive or purpose", ErrIntegrity, w.ID.Short())
	}
	key, err := u.KMS.Unwrap(ctx, w.KeyID, want, w.Ciphertext)
	if err != nil {
		return nil, kmsError(err)
	}
	return key, nil
}

// kmsError keeps KMS's own classes (errors.Is with the awskms sentinels) and
// adds ErrWrongKey to the refusals (denied, disabled, pending deletion, wrong
// context, no such key), so that another wrapper may still open the archive.
// An unreachable KMS stops the unlock: it is not a key that was refused.
func kmsError(err error) error {
	switch {
	case errors.Is(err, awskms.ErrUnreachable):
		return err
	case errors.Is(err, awskms.ErrUnusable), errors.Is(err, awskms.ErrWrongContext), errors.Is(err, awskms.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrWrongKey, err)
	}
	return err
}

// AgeLocker wraps the archive key for a device's X25519 recipient (an age
// file: the stock age tool alone recovers the key from it).
type AgeLocker struct {
	Recipient string
}

func (l AgeLocker) Lock(ctx context.Context, archive ID, w *Wrapper, key []byte) error {
	armored, err := device.Wrap(l.Recipient, archive.String(), key)
	if err != nil {
		return err
	}
	w.Type, w.Recipient, w.Armored = WrapperAge, l.Recipient, armored
	return nil
}

// AgeUnlocker opens age wrappers made for this device's identity. The age
// file is not authenticated by its sender: the key check after unwrapping is
// what refuses a wrapper someone else made.
type AgeUnlocker struct {
	Identity *device.Identity
}

func (u AgeUnlocker) Unlock(ctx context.Context, archive ID, w *Wrapper) ([]byte, error) {
	if w.Type != WrapperAge {
		return nil, ErrNotMine
	}
	if w.Recipient != u.Identity.Recipient() {
		return nil, fmt.Errorf("%w: age wrapper %s is for %s, not this device", ErrWrongKey, w.ID.Short(), w.Recipient)
	}
	key, err := u.Identity.Unwrap(archive.String(), w.Armored)
	switch {
	case errors.Is(err, device.ErrNoIdentity):
		return nil, fmt.Errorf("%w: %w", ErrWrongKey, err)
	case err != nil:
		return nil, fmt.Errorf("%w: age wrapper %s: %w", ErrIntegrity, w.ID.Short(), err)
	}
	return key, nil
}

// KMSRewrapLocker makes a KMS wrapper from an existing one with ReEncrypt:
// KMS decrypts the wrapped key under the old key and encrypts it under the
// new one without the key leaving it. (The keys commit that records the new
// wrapper is still signed with the key derived from the archive key, so the
// client unlocks the archive first either way.)
type KMSRewrapLocker struct {
	KMS   *awskms.Client
	From  *Wrapper // an aws-kms wrapper of this archive
	KeyID string   // the new key: id, ARN or alias
}

func (l KMSRewrapLocker) Lock(ctx context.Context, archive ID, w *Wrapper, key []byte) error {
	if l.From.Type != WrapperKMS {
		return fmt.Errorf("wrapper %s is a %s wrapper, not an aws-kms one", l.From.ID.Short(), l.From.Type)
	}
	ec := awskms.Context(archive.String(), awskms.PurposeArchiveKey)
	arn, ct, err := l.KMS.Rewrap(ctx, l.From.Ciphertext, l.From.Context, l.KeyID, ec)
	if err != nil {
		return kmsError(err)
	}
	w.Type, w.KeyID, w.Context, w.Ciphertext = WrapperKMS, arn, ec, ct
	return nil
}

// Unlock opens a wrapper this locker made: how a new wrapper is checked.
func (l KMSRewrapLocker) Unlock(ctx context.Context, archive ID, w *Wrapper) ([]byte, error) {
	return KMSUnlocker{KMS: l.KMS}.Unlock(ctx, archive, w)
}
