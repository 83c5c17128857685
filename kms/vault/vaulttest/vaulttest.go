// Package vaulttest connects tests to a Vault server: a real one (the dev
// server scripts start from tools/vault, which export VAULT_ADDR,
// VAULT_TOKEN and CHATVAULT_TEST_VAULT=1) or the in-process fake of package
// vaultfake.
//
// Environment read by Client:
//
//	VAULT_ADDR                      the server; unset: tests needing it are skipped
//	VAULT_TOKEN                     its token (a dev server's root token)
//	CHATVAULT_TEST_VAULT            "1": VAULT_ADDR is a test server. Without it a
//	                                VAULT_ADDR that is not a loopback address is
//	                                refused (skip), so that `go test` never writes
//	                                keys into a Vault someone left in the environment
//	CHATVAULT_TEST_REQUIRE_SERVERS  "1": a missing server fails the test instead (CI)
//
// Client enables the Transit engine at "transit" if the server has none. Every
// test gets its own uniquely named keys (Key), deleted when it ends, so tests
// may run in parallel against one server.
package vaulttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/chatvault/chatvault/kms/vault"
	"github.com/chatvault/chatvault/kms/vault/vaultfake"
)

// Environment variables read by this package.
const (
	EnvAddr           = "VAULT_ADDR"
	EnvToken          = "VAULT_TOKEN"
	EnvTestVault      = "CHATVAULT_TEST_VAULT"
	EnvRequireServers = "CHATVAULT_TEST_REQUIRE_SERVERS"
)

// Addr returns $VAULT_ADDR. When there is no usable test server it skips the
// test, or fails it if CHATVAULT_TEST_REQUIRE_SERVERS=1 (or
// CHATVAULT_TEST_VAULT=1).
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(EnvAddr)
	enabled := os.Getenv(EnvTestVault) == "1"
	required := os.Getenv(EnvRequireServers) == "1"
	var why string
	switch {
	case addr == "":
		why = EnvAddr + " is not set; start a Vault dev server (tools/vault) and export " + EnvAddr + " and " + EnvToken
		required = required || enabled
	case !enabled && !loopback(addr):
		why = EnvAddr + "=" + addr + " is not a loopback address; set " + EnvTestVault + "=1 if it is a test server tests may write keys to"
	default:
		return addr
	}
	if required {
		t.Fatal(why + " (" + EnvRequireServers + "=1 or " + EnvTestVault + "=1 requires a server)")
	}
	t.Skip(why)
	return ""
}

func loopback(addr string) bool {
	u, err := url.Parse(addr)
	if err != nil {
		return false
	}
	if u.Scheme == "unix" {
		return true
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Options returns client options for the test server (skipping the test if
// there is none, see Addr): the token from VAULT_TOKEN, one retry after 50 ms,
// 10 s per call.
func Options(t testing.TB) vault.Options {
	t.Helper()
	return vault.Options{
		Address:    Addr(t),
		MaxRetries: 1,
		RetryWait:  50 * time.Millisecond,
		Timeout:    10 * time.Second,
	}
}

var (
	mountMu sync.Mutex
	mounted = map[string]bool{} // addresses whose transit mount was checked
)

// Client returns a client of the test server (skipping the test if there is
// none, see Addr), after checking the server is up and unsealed and that the
// Transit engine is mounted at "transit" (mounting it if not).
func Client(t testing.TB) *vault.Client {
	t.Helper()
	c, err := vault.New(Options(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mountMu.Lock()
	defer mountMu.Unlock()
	if mounted[c.Address()] {
		return c
	}
	if _, err := c.Health(ctx); err != nil {
		t.Fatalf("test Vault: %v", err)
	}
	if err := EnableTransit(ctx, c.API(), c.Mount()); err != nil {
		t.Fatalf("test Vault at %s: enabling Transit at %s/: %v", c.Address(), c.Mount(), err)
	}
	mounted[c.Address()] = true
	return c
}

// EnableTransit mounts the Transit engine at mount unless something is
// mounted there already.
func EnableTransit(ctx context.Context, c *api.Client, mount string) error {
	mounts, err := c.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return err
	}
	if m, ok := mounts[mount+"/"]; ok {
		if m.Type != "transit" {
			return &mountError{mount: mount, typ: m.Type}
		}
		return nil
	}
	err = c.Sys().MountWithContext(ctx, mount, &api.MountInput{Type: "transit"})
	if err != nil && strings.Contains(err.Error(), "path is already in use") {
		return nil // a parallel test process mounted it
	}
	return err
}

type mountError struct{ mount, typ string }

func (e *mountError) Error() string {
	return "a " + e.typ + " engine, not transit, is mounted at " + e.mount + "/"
}

// Key creates a uniquely named derived aes256-gcm96 key on the test server
// (skipping the test if there is none, see Addr) and deletes it when the
// test ends.
func Key(t testing.TB) string {
	t.Helper()
	return KeyOn(t, Client(t))
}

// KeyOn creates a uniquely named derived aes256-gcm96 key ("cvtest-<hex>")
// with c, real server or fake, and deletes it when the test ends.
func KeyOn(t testing.TB, c *vault.Client) string {
	t.Helper()
	name := KeyName()
	_, err := c.API().Logical().WriteWithContext(context.Background(), c.Mount()+"/keys/"+name, map[string]any{
		"type":    vault.TypeAES256,
		"derived": true,
	})
	if err != nil {
		t.Fatalf("creating the test key %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := c.Destroy(context.Background(), name); err != nil {
			t.Logf("deleting the test key: %v", err)
		}
	})
	return name
}

// KeyName returns a fresh key name, "cvtest-<16 hex digits>", for a key that
// does not exist yet.
func KeyName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "cvtest-" + hex.EncodeToString(b)
}

// Fake starts a vaultfake server for the test (closed when it ends) and
// returns it with a client of it: root token, one retry after 1 ms, 5 s per
// call.
func Fake(t testing.TB) (*vaultfake.Fake, *vault.Client) {
	t.Helper()
	f := vaultfake.New()
	t.Cleanup(f.Close)
	c, err := vault.New(vault.Options{
		Address:    f.URL(),
		Token:      f.Token(),
		MaxRetries: 1,
		RetryWait:  time.Millisecond,
		Timeout:    5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}
