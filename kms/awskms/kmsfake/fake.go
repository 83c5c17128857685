// Package kmsfake is an in-memory AWS KMS for tests: it implements
// awskms.API with the behaviour of the real service where chatvault depends on
// it.
//
//   - Keys (symmetric only) have states: Enabled, Disabled, PendingDeletion with
//     a deletion date. Time comes from an injectable clock ([Fake.SetClock],
//     [Fake.Advance]); once the clock passes a key's deletion date the key and
//     its aliases are gone and every call naming it is NotFoundException, as in
//     AWS (local-kms never deletes anything).
//   - Aliases (alias/NAME and their ARNs) resolve to keys; tags are kept.
//   - Encrypt, Decrypt, ReEncrypt and GenerateDataKey really encrypt: AES-256-GCM
//     under the key's own random material with the encryption context as
//     additional data, so a wrong or missing context, a ciphertext of another key
//     or a tampered one fails with *types.InvalidCiphertextException (a KeyId
//     that is not the ciphertext's key: *types.IncorrectKeyException).
//   - Errors are the SDK's own types (*types.NotFoundException,
//     *types.DisabledException, *types.KMSInvalidStateException, …, and
//     *smithy.GenericAPIError for ValidationException), with AWS's answers for
//     disabled and pending-deletion keys. Set LocalKMSErrors to get local-kms's
//     AccessDeniedException for Decrypt without a KeyId on such keys instead.
//   - Every call is counted per operation ([Fake.Calls]), failed ones included,
//     so tests can assert how many KMS calls a command made, and [Fake.SetHook]
//     can make any call fail (e.g. with a transport error, to test outages).
//
// The ARNs look like AWS's: arn:aws:kms:us-east-1:111122223333:key/<uuid>.
package kmsfake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sort"
	"sync"
	"time"
)

// Region and Account appear in the ARNs the fake makes.
const (
	Region  = "us-east-1"
	Account = "111122223333"
)

// Fake is an in-memory KMS. The zero value is not usable; call New. It is safe
// for concurrent use.
type Fake struct {
	// LocalKMSErrors makes Decrypt without a KeyId on a disabled key or a key
	// pending deletion fail like local-kms (AccessDeniedException, as a
	// *smithy.GenericAPIError) instead of like AWS (DisabledException,
	// KMSInvalidStateException). With a KeyId, local-kms answers like AWS. Set
	// it before use.
	LocalKMSErrors bool

	mu      sync.Mutex
	keys    map[string]*key   // by key id (UUID)
	aliases map[string]string // alias name ("alias/x") → key id
	calls   map[string]int
	clock   func() time.Time
	offset  time.Duration
	hook    func(ctx context.Context, op string) error
}

type key struct {
	id           string
	created      time.Time
	description  string
	enabled      bool
	deletionDate time.Time // zero unless pending deletion
	pendingDays  int32
	material     []byte // 32 bytes
	tags         map[string]string
}

func (k *key) arn() string { return arnPrefix + "key/" + k.id }

const arnPrefix = "arn:aws:kms:" + Region + ":" + Account + ":"

// ARN returns the ARN of a resource of the fake: ARN("alias/x"),
// ARN("key/" + id).
func ARN(resource string) string { return arnPrefix + resource }

// New returns an empty fake on the real clock.
func New() *Fake {
	return &Fake{
		keys:    map[string]*key{},
		aliases: map[string]string{},
		calls:   map[string]int{},
		clock:   time.Now,
	}
}

// SetClock replaces the clock (nil: time.Now). Advance offsets still apply.
func (f *Fake) SetClock(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now == nil {
		now = time.Now
	}
	f.clock = now
}

// Advance moves the fake's clock forward by d (cumulative).
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.offset += d
}

// Now returns the fake's current time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now()
}

func (f *Fake) now() time.Time { return f.clock().Add(f.offset) }

// SetHook installs a function called at the start of every operation (after
// it is counted), with the operation's name ("Decrypt", …); a non-nil error is
// returned as the operation's error. nil removes the hook. The hook runs
// without the fake's lock held.
func (f *Fake) SetHook(hook func(ctx context.Context, op string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = hook
}

// Calls returns how many times operation op ("Encrypt", "Decrypt", …) was
// called since New or the last ResetCalls, failed calls included.
func (f *Fake) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// TotalCalls returns the number of calls of every operation.
func (f *Fake) TotalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

// CallCounts returns a copy of the per-operation counters.
func (f *Fake) CallCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]int, len(f.calls))
	for op, c := range f.calls {
		m[op] = c
	}
	return m
}

// ResetCalls zeroes the counters.
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.calls)
}

// Keys returns the ARNs of the keys that exist (not yet deleted), sorted.
func (f *Fake) Keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sweep()
	arns := make([]string, 0, len(f.keys))
	for _, k := range f.keys {
		arns = append(arns, k.arn())
	}
	sort.Strings(arns)
	return arns
}

// begin starts operation op: it counts the call and runs the hook (without
// holding the lock, so a hook may call the fake). The operation then calls
// lock.
func (f *Fake) begin(ctx context.Context, op string) error {
	f.mu.Lock()
	f.calls[op]++
	hook := f.hook
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if hook != nil {
		return hook(ctx, op)
	}
	return nil
}

// lock takes the lock (the caller unlocks) and deletes the keys past their
// deletion date.
func (f *Fake) lock() {
	f.mu.Lock()
	f.sweep()
}

// sweep deletes every key whose deletion date has passed, with its aliases.
func (f *Fake) sweep() {
	now := f.now()
	for id, k := range f.keys {
		if !k.deletionDate.IsZero() && !now.Before(k.deletionDate) {
			clear(k.material)
			delete(f.keys, id)
			for name, target := range f.aliases {
				if target == id {
					delete(f.aliases, name)
				}
			}
		}
	}
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
