package vault

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/hashicorp/vault/api"
)

// class is the type of the error-class sentinels. A class with a group also
// matches that group (ErrRefused or ErrUnavailable) with errors.Is.
type class struct {
	msg   string
	group error
}

func (c *class) Error() string { return c.msg }

func (c *class) Is(target error) bool { return c.group != nil && target == c.group }

// Umbrella classes. Match them with errors.Is.
var (
	// ErrUnavailable matches ErrUnreachable and ErrSealed: the service could
	// not answer; try again later (chatvault's exit 5).
	ErrUnavailable error = &class{msg: "Vault unavailable (unreachable or sealed)"}
	// ErrRefused matches ErrDenied, ErrKeyNotFound, ErrWrongContext,
	// ErrTooOld, ErrUnsuitableKey and ErrNoMount: Vault answered, and the
	// answer is no (chatvault's exit 4).
	ErrRefused error = &class{msg: "Vault refused"}
)

// Error classes. See the package documentation for the Vault answers each
// one stands for.
var (
	ErrUnreachable error = &class{msg: "Vault unreachable", group: ErrUnavailable}
	ErrSealed      error = &class{msg: "Vault sealed (an operator must unseal it)", group: ErrUnavailable}

	ErrDenied        error = &class{msg: "permission denied (token invalid or expired, or its policy does not allow this)", group: ErrRefused}
	ErrKeyNotFound   error = &class{msg: "Transit key not found (never created, or deleted)", group: ErrRefused}
	ErrWrongContext  error = &class{msg: "the ciphertext does not open with this key and derivation context (wrapper of another archive or purpose, a re-created key, or damaged)", group: ErrRefused}
	ErrTooOld        error = &class{msg: "the ciphertext's key version is below the key's min_decryption_version", group: ErrRefused}
	ErrUnsuitableKey error = &class{msg: "the Transit key is not a derived aes256-gcm96 or chacha20-poly1305 key", group: ErrRefused}
	ErrNoMount       error = &class{msg: "no Transit secrets engine at this mount path (or namespace)", group: ErrRefused}

	// ErrKeyExists: CreateDedicated found a key of that name already. It is
	// in neither umbrella.
	ErrKeyExists error = &class{msg: "a Transit key of this name already exists"}
)

// Errors of the arguments, found before any Vault call.
var (
	// ErrKeySize: the key to wrap, or the plaintext Vault returned, is not 32 bytes.
	ErrKeySize = errors.New("not a 32-byte key")
	// ErrNoContext: a wrap, unwrap or rewrap was asked without a derivation context.
	ErrNoContext = errors.New("empty derivation context")
	// ErrBadKeyName: the key name is not one Transit accepts in a path.
	ErrBadKeyName = errors.New("not a Transit key name")
	// ErrBadArchiveID: the archive id cannot be used in a key name.
	ErrBadArchiveID = errors.New("archive id unusable in a Transit key name")
)

// Error is the error of a Vault call. Its message is one line:
//
//	vault: <op> <mount>/<key>: <class>: <what Vault said> (HTTP <code>)[; <hint>]
//
// It wraps its class (one of the sentinels, or none) and the underlying error
// (an *api.ResponseError for an answer of Vault, a transport error
// otherwise), so errors.As still reaches *api.ResponseError.
type Error struct {
	Op    string // what was attempted, e.g. "decrypt with"
	Key   string // "<mount>/<key name>", or "" for calls about no key
	Class error  // ErrUnreachable, ErrDenied, …; nil when unclassified
	Err   error  // the api client's error
	Hint  string // what to do about it, or ""
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("vault: ")
	b.WriteString(e.Op)
	if e.Key != "" {
		b.WriteString(" ")
		b.WriteString(e.Key)
	}
	if e.Class != nil {
		b.WriteString(": ")
		b.WriteString(e.Class.Error())
	}
	if d := detail(e.Err); d != "" {
		b.WriteString(": ")
		b.WriteString(d)
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap returns the class and the underlying error, so errors.Is and
// errors.As reach both.
func (e *Error) Unwrap() []error {
	switch {
	case e.Class == nil:
		return []error{e.Err}
	case e.Err == nil:
		return []error{e.Class}
	}
	return []error{e.Class, e.Err}
}

// classify wraps err, returned by a Vault call op on key, in an *Error with
// its class.
func classify(op, key string, err error) *Error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Key: key, Class: classOf(err), Err: err}
}

// Vault's messages, as Vault 1.21 writes them (all Transit refusals are HTTP
// 400 and differ only by text). Matched as substrings of each entry of the
// response's "errors".
var messageClasses = []struct {
	text  string
	class error
}{
	{"Vault is sealed", ErrSealed},
	{"permission denied", ErrDenied},
	{"encryption key not found", ErrKeyNotFound},                // encrypt/decrypt/rewrap
	{"could not delete key; not found", ErrKeyNotFound},         // DELETE keys/<k>
	{"no existing key named", ErrKeyNotFound},                   // keys/<k>/config: "no existing key named <k> could be found"
	{"cipher: message authentication failed", ErrWrongContext},  // wrong context, other key, damaged
	{"invalid ciphertext: version is too new", ErrWrongContext}, // the key was deleted and re-created
	{"disallowed by policy (too old)", ErrTooOld},
	{"no handler for route", ErrNoMount},
}

func classOf(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil // the caller gave up; not Vault's doing
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		return responseClass(re)
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return nil // a configuration problem (VAULT_CACERT), not an outage
	}
	var (
		uerr   *url.Error
		netErr net.Error
		opErr  *net.OpError
	)
	switch {
	case errors.As(err, &uerr), errors.As(err, &opErr),
		errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return ErrUnreachable
	}
	return nil
}

func responseClass(re *api.ResponseError) error {
	switch {
	case re.StatusCode == 503 && hasMessage(re, "Vault is sealed"):
		return ErrSealed
	case re.StatusCode == 403:
		return ErrDenied
	case re.StatusCode == 429, re.StatusCode >= 500 && re.StatusCode != 501:
		// Quotas and the server's own failures reach us after the api
		// client's retries.
		return ErrUnreachable
	}
	if re.RawError {
		return nil // not Vault's JSON (a proxy's page): read nothing into it
	}
	for _, m := range messageClasses {
		if hasMessage(re, m.text) {
			if m.class == ErrNoMount && re.StatusCode != 404 {
				continue
			}
			return m.class
		}
	}
	if re.StatusCode == 400 {
		for _, e := range re.Errors {
			if e == "key not found" { // keys/<k>/rotate
				return ErrKeyNotFound
			}
		}
	}
	return nil
}

func hasMessage(re *api.ResponseError, text string) bool {
	for _, e := range re.Errors {
		if strings.Contains(e, text) {
			return true
		}
	}
	return false
}

// detail is the informative part of an error on one line: Vault's messages
// and the HTTP status, or the innermost transport error, without the api
// client's multi-line "Error making API request. URL: …" form.
func detail(err error) string {
	if err == nil {
		return ""
	}
	var re *api.ResponseError
	var uerr *url.Error
	var s string
	switch {
	case errors.As(err, &re):
		var msgs []string
		for _, e := range re.Errors {
			if e = oneLine(e); e != "" {
				msgs = append(msgs, e)
			}
		}
		if len(msgs) == 0 {
			return fmt.Sprintf("HTTP %d", re.StatusCode)
		}
		return fmt.Sprintf("%s (HTTP %d)", strings.Join(msgs, "; "), re.StatusCode)
	case errors.As(err, &uerr) && uerr.Err != nil:
		s = uerr.Err.Error()
	default:
		s = err.Error()
	}
	return oneLine(s)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// argError reports a bad argument of op on key, found before any Vault call.
func argError(op, key string, err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if key != "" {
		return fmt.Errorf("vault: %s %s: %w: %s", op, key, err, msg)
	}
	return fmt.Errorf("vault: %s: %w: %s", op, err, msg)
}
