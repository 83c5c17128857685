// Package vaultfake is an in-process HashiCorp Vault for tests: an
// httptest.Server speaking the few endpoints chatvault uses, with Vault
// 1.21's status codes and error messages, so that the real
// github.com/hashicorp/vault/api client (and its retries, timeouts and error
// parsing) is exercised.
//
// Endpoints (under /v1/; every Transit path works under any mount of type
// "transit"):
//
//	GET          sys/health                 200, or 503 (or ?sealedcode=) when sealed; no token needed
//	GET          sys/mounts                 the mounts
//	POST|PUT     sys/mounts/<path>          enable an engine ({"type":"transit"}); 400 "path is already in use at <path>/"
//	DELETE       sys/mounts/<path>          disable it, dropping its keys
//	POST|PUT     <mount>/keys/<k>           create (type, derived, exportable, allow_plaintext_backup); an existing key is kept, with a warning
//	GET          <mount>/keys/<k>           read; a missing key is 404 {"errors":[]}
//	DELETE       <mount>/keys/<k>           needs deletion_allowed
//	POST|PUT     <mount>/keys/<k>/config    min_decryption_version, min_encryption_version, deletion_allowed, exportable, allow_plaintext_backup
//	POST|PUT     <mount>/keys/<k>/rotate
//	POST|PUT     <mount>/encrypt/<k>        plaintext, context (base64); UPSERTS a missing key, as Vault does
//	POST|PUT     <mount>/decrypt/<k>        ciphertext, context
//	POST|PUT     <mount>/rewrap/<k>         ciphertext, context → the latest version
//
// Errors are {"errors":[...]} with Vault's texts: every Transit refusal is
// HTTP 400 ("encryption key not found", "cipher: message authentication
// failed", "ciphertext or signature version is disallowed by policy (too
// old)", "invalid ciphertext: version is too new", …), a path under no mount
// is 404 "no handler for route …", a missing or unknown token is 403
// "permission denied", and everything but sys/health is 503 "Vault is
// sealed" while [Fake.Seal] holds.
//
// Cryptography is real and enforces the context: every key version has 32
// random bytes; a derived key encrypts under HKDF-SHA-256(version material,
// info = context), a non-derived one under the material itself (and, like
// Vault, ignores a context), with AES-256-GCM and a random 96-bit nonce.
// Ciphertexts are "vault:v<N>:" + base64(nonce ‖ sealed). Every key type the
// fake accepts (aes128-gcm96, aes256-gcm96, chacha20-poly1305) is AES-256-GCM
// inside; only the reported type differs.
//
// Every request is counted per operation ([Fake.Calls]), refused ones
// included, and [Fake.SetHook] can answer any request instead (a 500, a
// delay) to test outages.
package vaultfake

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"
)

// RootToken is the token New accepts for everything.
const RootToken = "vaultfake-root-token"

// Operations, as counted by Calls.
const (
	OpHealth      = "sys/health"
	OpMounts      = "sys/mounts"
	OpKeyCreate   = "keys/create"
	OpKeyRead     = "keys/read"
	OpKeyDelete   = "keys/delete"
	OpKeyConfig   = "keys/config"
	OpKeyRotate   = "keys/rotate"
	OpEncrypt     = "encrypt"
	OpDecrypt     = "decrypt"
	OpRewrap      = "rewrap"
	OpUnsupported = "unsupported"
)

// Version is what sys/health reports.
const Version = "1.21.1-vaultfake"

// Fake is an in-process Vault. Create it with New; Close it when done. It is
// safe for concurrent use.
type Fake struct {
	srv *httptest.Server

	mu     sync.Mutex
	sealed bool
	tokens map[string]Policy          // other tokens than RootToken
	mounts map[string]string          // path (no slashes at the ends) → type
	keys   map[string]map[string]*key // mount → key name → key
	calls  map[string]int
	hook   Hook
}

// Policy decides whether a token may do method ("GET", "POST", "PUT",
// "DELETE") on path (without /v1/, e.g. "transit/encrypt/k"). Vault's
// create-versus-update distinction is not modelled.
type Policy func(method, path string) bool

// Hook sees every request before the fake handles it, with its operation
// (OpEncrypt, …; counted already). If it returns a status other than 0, the
// fake answers that status with {"errors": errs} instead of handling the
// request. It runs without the fake's lock held, so it may sleep (watch
// r.Context()) or call the fake.
type Hook func(r *http.Request, op string) (status int, errs []string)

type key struct {
	name                 string
	typ                  string
	derived              bool
	exportable           bool
	allowPlaintextBackup bool
	deletionAllowed      bool
	minDecryptionVersion int
	minEncryptionVersion int
	versions             map[int][]byte // version → 32 bytes of material
	created              map[int]time.Time
	latest               int
}

// New starts a fake Vault on a loopback port, unsealed, with the Transit
// engine mounted at "transit" and RootToken valid.
func New() *Fake {
	f := &Fake{
		tokens: map[string]Policy{},
		mounts: map[string]string{"transit": "transit", "sys": "system", "secret": "kv", "cubbyhole": "cubbyhole"},
		keys:   map[string]map[string]*key{},
		calls:  map[string]int{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// Close shuts the server down (blocking until outstanding requests finish).
func (f *Fake) Close() { f.srv.Close() }

// URL returns the address to give the client ("http://127.0.0.1:PORT").
func (f *Fake) URL() string { return f.srv.URL }

// Token returns RootToken.
func (f *Fake) Token() string { return RootToken }

// AddToken makes token valid, restricted by allow (nil: allowed everything).
// A request allow refuses is 403 with Vault's ACL message.
func (f *Fake) AddToken(token string, allow Policy) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if allow == nil {
		allow = func(string, string) bool { return true }
	}
	f.tokens[token] = allow
}

// Seal seals the fake: every request but sys/health is 503 "Vault is sealed"
// until Unseal. Keys are kept.
func (f *Fake) Seal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sealed = true
}

// Unseal undoes Seal.
func (f *Fake) Unseal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sealed = false
}

// SetHook installs hook (nil removes it).
func (f *Fake) SetHook(hook Hook) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = hook
}

// Mount enables an engine of type typ at path, as POST sys/mounts/<path>
// would (no error if it exists already: the type is replaced).
func (f *Fake) Mount(path, typ string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mounts[strings.Trim(path, "/")] = typ
}

// Unmount disables the engine at path and drops its keys.
func (f *Fake) Unmount(path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path = strings.Trim(path, "/")
	delete(f.mounts, path)
	delete(f.keys, path)
}

// Calls returns how many requests of operation op (OpEncrypt, …) the fake
// received since New or the last ResetCalls, refused ones included.
func (f *Fake) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// TotalCalls returns the number of requests of every operation.
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

// KeyState is a snapshot of a key of the fake, for assertions.
type KeyState struct {
	Name                 string
	Type                 string
	Derived              bool
	Exportable           bool
	AllowPlaintextBackup bool
	DeletionAllowed      bool
	LatestVersion        int
	MinDecryptionVersion int
	MinEncryptionVersion int
}

// Key returns the state of the key name under mount, and whether it exists.
func (f *Fake) Key(mount, name string) (KeyState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.keys[strings.Trim(mount, "/")][name]
	if k == nil {
		return KeyState{}, false
	}
	return KeyState{
		Name: k.name, Type: k.typ, Derived: k.derived, Exportable: k.exportable,
		AllowPlaintextBackup: k.allowPlaintextBackup, DeletionAllowed: k.deletionAllowed,
		LatestVersion: k.latest, MinDecryptionVersion: k.minDecryptionVersion, MinEncryptionVersion: k.minEncryptionVersion,
	}, true
}

// Keys returns the names of the keys under mount, sorted.
func (f *Fake) Keys(mount string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for n := range f.keys[strings.Trim(mount, "/")] {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
