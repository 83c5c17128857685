package archive

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/chatvault/chatvault/crypto/seal"
	"github.com/chatvault/chatvault/kms/passphrase"
	"github.com/chatvault/chatvault/kms/recovery"
)

// A Locker wraps the archive key under one KEK, returning the filled envelope
// (Type, KDF or service fields, Sealed or Ciphertext). Created, Epoch and ID are
// set by the caller.
type Locker interface {
	Lock(ctx context.Context, archive ID, w *Wrapper, key []byte) error
}

// An Unlocker recovers the archive key from a wrapper with the secret it holds.
// It returns ErrNotMine for wrapper types it does not handle and an error
// wrapping ErrWrongKey when its secret does not open the wrapper.
type Unlocker interface {
	Unlock(ctx context.Context, archive ID, w *Wrapper) ([]byte, error)
}

// ErrNotMine is returned by an Unlocker for a wrapper of another type.
var ErrNotMine = errors.New("wrapper of another type")

// sealKey seals the archive key under a local KEK (passphrase, recovery key) as
// an object of kind wrapped-key bound to the archive, the wrapper id and epoch.
// Wrapped keys always use ChaCha20-Poly1305, which is constant-time on every CPU.
func sealKey(kek []byte, archive ID, w *Wrapper, key []byte, rand io.Reader) ([]byte, error) {
	h := &seal.Header{Suite: seal.ChaCha20Poly1305, Kind: seal.KindWrappedKey, ArchiveID: archive[:], ObjectID: w.ID[:], Epoch: w.Epoch}
	return seal.Seal(kek, h, key, rand)
}

func openKey(kek []byte, archive ID, w *Wrapper) ([]byte, error) {
	key, err := seal.Open(kek, seal.Expect{Kind: seal.KindWrappedKey, ArchiveID: archive[:], ObjectID: w.ID[:], Epoch: w.Epoch}, w.Sealed, seal.KeySize)
	switch {
	case errors.Is(err, seal.ErrWrongKey):
		return nil, fmt.Errorf("%w: the %s does not open wrapper %s", ErrWrongKey, w.Type, w.ID.Short())
	case err != nil:
		return nil, fmt.Errorf("%w: wrapper %s: %v", ErrIntegrity, w.ID.Short(), err)
	case len(key) != seal.KeySize:
		return nil, fmt.Errorf("%w: wrapper %s holds a key of %d bytes", ErrIntegrity, w.ID.Short(), len(key))
	}
	return key, nil
}

// PassphraseLocker wraps the archive key under a passphrase (Argon2id, new
// parameters with a fresh salt).
type PassphraseLocker struct {
	Passphrase []byte
	Rand       io.Reader // nil: crypto/rand
}

func (l PassphraseLocker) Lock(ctx context.Context, archive ID, w *Wrapper, key []byte) error {
	params, err := passphrase.NewParams(l.Rand)
	if err != nil {
		return err
	}
	kek, err := passphrase.DeriveKEK(l.Passphrase, params)
	if err != nil {
		return err
	}
	defer clear(kek[:])
	w.Type, w.KDF = WrapperPassphrase, &params
	w.Sealed, err = sealKey(kek[:], archive, w, key, randOr(l.Rand))
	return err
}

// Unlock opens a wrapper this locker made: how a new wrapper is checked.
func (l PassphraseLocker) Unlock(ctx context.Context, archive ID, w *Wrapper) ([]byte, error) {
	u := &PassphraseUnlocker{Get: func(context.Context) ([]byte, error) { return l.Passphrase, nil }}
	return u.Unlock(ctx, archive, w)
}

// PassphraseUnlocker opens passphrase wrappers. Get is called at most once, and
// only when a passphrase wrapper is tried (so that no prompt appears for
// archives it cannot help with). MaxMemoryKiB bounds the Argon2id memory
// accepted from a wrapper (0: passphrase.DefaultMaxMemoryKiB).
type PassphraseUnlocker struct {
	Get          func(ctx context.Context) ([]byte, error)
	MaxMemoryKiB uint32
	cached       []byte
}

func (u *PassphraseUnlocker) Unlock(ctx context.Context, archive ID, w *Wrapper) ([]byte, error) {
	if w.Type != WrapperPassphrase {
		return nil, ErrNotMine
	}
	if w.KDF == nil {
		return nil, fmt.Errorf("%w: passphrase wrapper %s has no KDF parameters", ErrIntegrity, w.ID.Short())
	}
	limit := u.MaxMemoryKiB
	if limit == 0 {
		limit = passphrase.DefaultMaxMemoryKiB
	}
	if err := w.KDF.Check(limit); err != nil {
		return nil, fmt.Errorf("%w: passphrase wrapper %s: %v", ErrIntegrity, w.ID.Short(), err)
	}
	if u.cached == nil {
		p, err := u.Get(ctx)
		if err != nil {
			return nil, err
		}
		u.cached = p
	}
	kek, err := passphrase.DeriveKEKWithLimit(u.cached, *w.KDF, limit)
	if err != nil {
		return nil, err
	}
	defer clear(kek[:])
	return openKey(kek[:], archive, w)
}

// RecoveryLocker wraps the archive key under a recovery key.
type RecoveryLocker struct {
	Key  recovery.Key
	Rand io.Reader // nil: crypto/rand
}

func (l RecoveryLocker) Lock(ctx context.Context, archive ID, w *Wrapper, key []byte) error {
	kek := l.Key.KEK()
	defer clear(kek[:])
	w.Type = WrapperRecovery
	var err error
	w.Sealed, err = sealKey(kek[:], archive, w, key, randOr(l.Rand))
	return err
}

// Unlock opens a wrapper this locker made: how a new wrapper is checked.
func (l RecoveryLocker) Unlock(ctx context.Context, archive ID, w *Wrapper) ([]byte, error) {
	return RecoveryUnlocker{Key: l.Key}.Unlock(ctx, archive, w)
}

// RecoveryUnlocker opens recovery-key wrappers.
type RecoveryUnlocker struct{ Key recovery.Key }

func (u RecoveryUnlocker) Unlock(ctx context.Context, archive ID, w *Wrapper) ([]byte, error) {
	if w.Type != WrapperRecovery {
		return nil, ErrNotMine
	}
	kek := u.Key.KEK()
	defer clear(kek[:])
	return openKey(kek[:], archive, w)
}

func randOr(r io.Reader) io.Reader {
	if r == nil {
		return defaultRand
	}
	return r
}
