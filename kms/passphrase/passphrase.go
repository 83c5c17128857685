// Package passphrase turns a user's passphrase into a key-encryption key (KEK)
// that wraps an archive key.
//
// # Algorithm
//
// The KEK is Argon2id (RFC 9106) over the passphrase bytes with the parameters in
// [Params], producing 32 bytes:
//
//	KEK = Argon2id(password=passphrase, salt=Params.Salt,
//	               t=Params.Time, m=Params.MemoryKiB, p=Params.Threads, tag length=32)
//
// with no secret value K and no associated data X. The implementation is
// golang.org/x/crypto/argon2 ([argon2.IDKey]), Argon2 version 0x13. The passphrase is
// used exactly as the bytes given: it is not trimmed or Unicode-normalized, so the
// same characters typed in a different normalization form give a different KEK.
//
// New parameters ([NewParams]) follow the second recommended option of RFC 9106
// section 4: t=3, m=64 MiB, p=4, with a fresh 16-byte random salt per passphrase
// slot. They are stored next to the wrapped key, so every archive records the cost
// it was created with and the defaults can be raised later without breaking old
// archives.
//
// # Untrusted parameters
//
// Parameters read back from a store are attacker-controlled (anyone who can write
// to the store can edit them), and Argon2 allocates m KiB and runs for t passes: a
// forged header with m=4 TiB would otherwise make chatvault allocate until it is
// killed. [Params.Check] therefore bounds every field before any derivation, and
// [DeriveKEK] always calls it. The memory bound is explicit: [DeriveKEK] uses
// [DefaultMaxMemoryKiB] (256 MiB, four times the default cost), and a caller that
// has been told by the user to trust a costlier archive (a command-line flag) passes
// its own bound to [DeriveKEKWithLimit].
//
// # One derivation at a time
//
// Every derivation holds a package-level mutex for its whole duration, so at most
// one Argon2 computation runs in the process at any moment. Each one needs 64 MiB
// or more (up to the memory bound) and already uses p threads; a command such as
// `chatvault ls` that opens many archives concurrently would otherwise multiply
// that memory by the number of archives and could be OOM-killed on a small machine,
// without finishing any sooner since the CPU is already busy.
package passphrase

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/crypto/argon2"
)

const (
	// KeySize is the size in bytes of a derived KEK.
	KeySize = 32

	// DefaultTime, DefaultMemoryKiB and DefaultThreads are the Argon2id costs of
	// new parameters (RFC 9106 section 4, second recommended option).
	DefaultTime      = 3
	DefaultMemoryKiB = 64 * 1024 // 64 MiB
	DefaultThreads   = 4
	// DefaultSaltSize is the salt length of new parameters (RFC 9106 recommends 16).
	DefaultSaltSize = 16

	// DefaultMaxMemoryKiB is the largest memory cost accepted from stored
	// parameters unless the caller explicitly allows more (256 MiB).
	DefaultMaxMemoryKiB = 256 * 1024

	// Bounds enforced by [Params.Check] besides the memory limit.
	MinTime     = 1
	MaxTime     = 16
	MinThreads  = 1
	MaxThreads  = 16
	MinSaltSize = 16
	MaxSaltSize = 64
)

var (
	// ErrBadParams is wrapped by every error of [Params.Check]: the stored KDF
	// parameters are out of the accepted bounds (corrupted, forged, or from a
	// chatvault with a higher limit).
	ErrBadParams = errors.New("unacceptable passphrase KDF parameters")

	// ErrEmptyPassphrase is returned by the derivation functions for an empty
	// passphrase.
	ErrEmptyPassphrase = errors.New("empty passphrase")
)

// Params are the Argon2id parameters of one passphrase slot. They are not secret
// and are stored in the clear next to the key they protect, as JSON such as
//
//	{"t":3,"m":65536,"p":4,"salt":"<base64>"}
//
// Params read from a store must pass [Params.Check] before use (the derivation
// functions do this themselves).
type Params struct {
	Time      uint32 `json:"t"`    // number of passes over memory
	MemoryKiB uint32 `json:"m"`    // memory in KiB
	Threads   uint8  `json:"p"`    // degree of parallelism (lanes)
	Salt      []byte `json:"salt"` // random, unique per passphrase slot; base64 in JSON
}

// NewParams returns the default parameters for a new passphrase slot with a
// fresh DefaultSaltSize-byte salt read from rand (crypto/rand.Reader if nil).
func NewParams(rand io.Reader) (Params, error) {
	if rand == nil {
		rand = cryptoRand
	}
	salt := make([]byte, DefaultSaltSize)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return Params{}, fmt.Errorf("passphrase: generating salt: %w", err)
	}
	return Params{
		Time:      DefaultTime,
		MemoryKiB: DefaultMemoryKiB,
		Threads:   DefaultThreads,
		Salt:      salt,
	}, nil
}

var cryptoRand = rand.Reader

// Check reports whether p may be used, given the largest memory cost the caller
// accepts in KiB (0 means [DefaultMaxMemoryKiB]). It accepts
//
//	MemoryKiB ≤ maxMemKiB
//	1 ≤ Time ≤ 16
//	1 ≤ Threads ≤ 16
//	16 ≤ len(Salt) ≤ 64
//	MemoryKiB ≥ 8*Threads (Argon2's own minimum)
//
// and otherwise returns an error wrapping [ErrBadParams] that names the bound.
func (p Params) Check(maxMemKiB uint32) error {
	if maxMemKiB == 0 {
		maxMemKiB = DefaultMaxMemoryKiB
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadParams, fmt.Sprintf(format, args...))
	}
	switch {
	case p.Time < MinTime || p.Time > MaxTime:
		return bad("time cost %d outside [%d, %d]", p.Time, MinTime, MaxTime)
	case p.Threads < MinThreads || p.Threads > MaxThreads:
		return bad("parallelism %d outside [%d, %d]", p.Threads, MinThreads, MaxThreads)
	case len(p.Salt) < MinSaltSize || len(p.Salt) > MaxSaltSize:
		return bad("salt length %d bytes outside [%d, %d]", len(p.Salt), MinSaltSize, MaxSaltSize)
	case p.MemoryKiB > maxMemKiB:
		return bad("memory cost %d KiB exceeds the limit of %d KiB", p.MemoryKiB, maxMemKiB)
	case p.MemoryKiB < 8*uint32(p.Threads):
		return bad("memory cost %d KiB below the Argon2 minimum of 8 KiB per lane (%d KiB for parallelism %d)",
			p.MemoryKiB, 8*uint32(p.Threads), p.Threads)
	}
	return nil
}

// String describes the costs (not the salt), e.g. "argon2id t=3 m=65536KiB p=4".
func (p Params) String() string {
	return fmt.Sprintf("argon2id t=%d m=%dKiB p=%d", p.Time, p.MemoryKiB, p.Threads)
}

// DeriveKEK derives the 32-byte KEK for passphrase under p, refusing parameters
// whose memory cost exceeds [DefaultMaxMemoryKiB]. It is
// DeriveKEKWithLimit(passphrase, p, DefaultMaxMemoryKiB).
func DeriveKEK(passphrase []byte, p Params) ([KeySize]byte, error) {
	return DeriveKEKWithLimit(passphrase, p, DefaultMaxMemoryKiB)
}

// DeriveKEKWithLimit derives the 32-byte KEK for passphrase under p after
// checking p with p.Check(maxMemKiB). Use it only when the user has explicitly
// allowed a larger memory cost than [DefaultMaxMemoryKiB].
//
// Derivations are serialized process-wide (see the package documentation): a call
// blocks while another derivation runs. An error wraps [ErrBadParams] or is
// [ErrEmptyPassphrase]; it never contains the passphrase.
func DeriveKEKWithLimit(passphrase []byte, p Params, maxMemKiB uint32) ([KeySize]byte, error) {
	var kek [KeySize]byte
	if err := p.Check(maxMemKiB); err != nil {
		return kek, fmt.Errorf("passphrase: %w", err)
	}
	if len(passphrase) == 0 {
		return kek, fmt.Errorf("passphrase: %w", ErrEmptyPassphrase)
	}

	deriveMu.Lock()
	out := idKey(passphrase, p.Salt, p.Time, p.MemoryKiB, p.Threads, KeySize)
	deriveMu.Unlock()

	copy(kek[:], out)
	clear(out)
	return kek, nil
}

// deriveMu serializes Argon2 derivations process-wide; see the package
// documentation for why.
var deriveMu sync.Mutex

// idKey is argon2.IDKey; a variable so that tests can observe concurrency.
var idKey = argon2.IDKey
