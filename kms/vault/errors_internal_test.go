package vault

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"

	"github.com/hashicorp/vault/api"
)

func TestClassOf(t *testing.T) {
	re := func(status int, msgs ...string) error {
		return &api.ResponseError{HTTPMethod: "PUT", URL: "http://x/v1/transit/decrypt/k", StatusCode: status, Errors: msgs}
	}
	for _, tc := range []struct {
		err  error
		want error
	}{
		{re(400, "encryption key not found"), ErrKeyNotFound},
		{re(400, "no existing key named k could be found"), ErrKeyNotFound},
		{re(400, "error deleting policy k: could not delete key; not found"), ErrKeyNotFound},
		{re(400, "key not found"), ErrKeyNotFound},
		{re(400, "cipher: message authentication failed"), ErrWrongContext},
		{re(400, "invalid ciphertext: version is too new"), ErrWrongContext},
		{re(400, "ciphertext or signature version is disallowed by policy (too old)"), ErrTooOld},
		{re(403, "permission denied"), ErrDenied},
		{re(403, "1 error occurred:\n\t* permission denied\n\n"), ErrDenied},
		{re(403), ErrDenied},
		{re(404, `no handler for route "x/keys/k". route entry not found.`), ErrNoMount},
		{re(503, "Vault is sealed"), ErrSealed},
		{re(503, "Vault is in standby"), ErrUnreachable},
		{re(500, "internal error"), ErrUnreachable},
		{re(502), ErrUnreachable},
		{re(429, "rate limit quota exceeded"), ErrUnreachable},
		{re(501, "not implemented"), nil},
		{re(400, "missing 'context' for key derivation; …"), nil},
		{re(400, "no handler for route"), nil}, // only a 404 is a missing route
		{re(400, "something else"), nil},
		{&api.ResponseError{StatusCode: 400, RawError: true, Errors: []string{"<html>encryption key not found</html>"}}, nil},
		{fmt.Errorf("wrapped: %w", re(400, "encryption key not found")), ErrKeyNotFound},
		{&url.Error{Op: "Put", URL: "http://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}, ErrUnreachable},
		{&url.Error{Op: "Put", URL: "http://x", Err: context.DeadlineExceeded}, ErrUnreachable},
		{&url.Error{Op: "Put", URL: "http://x", Err: context.Canceled}, nil},
		{&url.Error{Op: "Put", URL: "https://x", Err: &tls.CertificateVerificationError{Err: errors.New("x509: unknown authority")}}, nil},
		{errors.New("other"), nil},
	} {
		if got := classOf(tc.err); got != tc.want {
			t.Errorf("classOf(%q) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	e := classify("decrypt with", "transit/k", &api.ResponseError{StatusCode: 400, Errors: []string{"1 error occurred:\n\t* cipher: message authentication failed\n\n"}})
	want := "vault: decrypt with transit/k: " + ErrWrongContext.Error() + ": 1 error occurred: * cipher: message authentication failed (HTTP 400)"
	if e.Error() != want {
		t.Errorf("message %q, want %q", e, want)
	}
	var re *api.ResponseError
	if !errors.As(e, &re) || !errors.Is(e, ErrWrongContext) || !errors.Is(e, ErrRefused) || errors.Is(e, ErrUnavailable) {
		t.Error("the error does not reach its class and the api error")
	}
	e = &Error{Op: "encrypt under", Key: "transit/k", Class: ErrKeyNotFound, Hint: "do this"}
	if got := e.Error(); got != "vault: encrypt under transit/k: "+ErrKeyNotFound.Error()+"; do this" {
		t.Errorf("message %q", got)
	}
	if !errors.Is(e, ErrKeyNotFound) {
		t.Error("no class")
	}
	for _, c := range []error{ErrDenied, ErrKeyNotFound, ErrWrongContext, ErrTooOld, ErrUnsuitableKey, ErrNoMount} {
		if !errors.Is(c, ErrRefused) || errors.Is(c, ErrUnavailable) {
			t.Errorf("%v: umbrella", c)
		}
	}
	for _, c := range []error{ErrUnreachable, ErrSealed} {
		if errors.Is(c, ErrRefused) || !errors.Is(c, ErrUnavailable) {
			t.Errorf("%v: umbrella", c)
		}
	}
	if errors.Is(ErrKeyExists, ErrRefused) || errors.Is(ErrKeyExists, ErrUnavailable) {
		t.Error("ErrKeyExists in an umbrella")
	}
}
