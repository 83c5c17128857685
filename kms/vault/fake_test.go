package vault_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/kms/vault"
	"github.com/chatvault/chatvault/kms/vault/vaultfake"
	"github.com/chatvault/chatvault/kms/vault/vaulttest"
)

// These tests run the client over the in-process fake (a real HTTP server,
// so the real api client); integration_test.go runs the shared scenarios
// against a real Vault.

func TestFakeScenarios(t *testing.T) {
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			_, c := vaulttest.Fake(t)
			s.run(t, c, vaulttest.KeyOn(t, c))
		})
	}
}

// setup returns a fake, a client of it and a derived key, with the counters
// reset.
func setup(t *testing.T) (*vaultfake.Fake, *vault.Client, string) {
	t.Helper()
	f, c := vaulttest.Fake(t)
	key := vaulttest.KeyOn(t, c)
	f.ResetCalls()
	return f, c, key
}

func TestContextBytes(t *testing.T) {
	got := string(vault.Context("0123abcd"))
	want := `{"chatvault:archive":"0123abcd","chatvault:purpose":"archive-key"}`
	if got != want {
		t.Fatalf("Context = %s, want %s", got, want)
	}
	if got := string(vault.ContextFor("0123abcd", "other")); got != `{"chatvault:archive":"0123abcd","chatvault:purpose":"other"}` {
		t.Fatalf("ContextFor = %s", got)
	}
}

func TestCallsPerOperation(t *testing.T) {
	f, c, key := setup(t)
	ctx := context.Background()
	id := vault.Context("abc")
	dk := newKey32(t)
	ct, _, err := c.Wrap(ctx, key, id, dk)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.CallCounts(); got[vaultfake.OpKeyRead] != 1 || got[vaultfake.OpEncrypt] != 1 || f.TotalCalls() != 2 {
		t.Errorf("Wrap made %v, want one read and one encrypt", got)
	}
	f.ResetCalls()
	if _, err := c.Unwrap(ctx, key, id, ct); err != nil {
		t.Fatal(err)
	}
	if f.Calls(vaultfake.OpDecrypt) != 1 || f.TotalCalls() != 1 {
		t.Errorf("Unwrap made %v, want one decrypt", f.CallCounts())
	}
	f.ResetCalls()
	if _, _, err := c.Rewrap(ctx, key, id, ct); err != nil {
		t.Fatal(err)
	}
	if f.Calls(vaultfake.OpRewrap) != 1 || f.TotalCalls() != 1 {
		t.Errorf("Rewrap made %v, want one rewrap", f.CallCounts())
	}

	// A typo: one read, no encrypt, no key.
	f.ResetCalls()
	typo := key + "x"
	if _, _, err := c.Wrap(ctx, typo, id, dk); !errors.Is(err, vault.ErrKeyNotFound) {
		t.Fatalf("Wrap under %s = %v", typo, err)
	}
	if got := f.CallCounts(); got[vaultfake.OpKeyRead] != 1 || f.TotalCalls() != 1 {
		t.Errorf("Wrap under a missing key made %v, want one read only", got)
	}
	if _, ok := f.Key("transit", typo); ok {
		t.Fatal("the fake has the mistyped key")
	}

	// KeyInfo only reads.
	f.ResetCalls()
	if _, _, err := c.KeyInfo(ctx, typo); err != nil {
		t.Fatal(err)
	}
	if f.Calls(vaultfake.OpKeyRead) != 1 || f.TotalCalls() != 1 {
		t.Errorf("KeyInfo made %v", f.CallCounts())
	}
}

func TestFakeUpsertIsWhatWrapAvoids(t *testing.T) {
	// The raw encrypt endpoint creates a missing key, as Vault's does: this is
	// what Wrap's read guards against.
	f, c, _ := setup(t)
	name := vaulttest.KeyName()
	_, err := c.API().Logical().Write("transit/encrypt/"+name, map[string]any{"plaintext": "AAAA", "context": "AAAA"})
	if err != nil {
		t.Fatal(err)
	}
	st, ok := f.Key("transit", name)
	if !ok || !st.Derived || st.LatestVersion != 1 {
		t.Fatalf("after a raw encrypt, the key is %+v, %v; want an upserted derived key", st, ok)
	}
}

func TestCreateDedicatedFlags(t *testing.T) {
	f, c, _ := setup(t)
	id := newArchiveID(t)
	name, err := c.CreateDedicated(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := f.Key("transit", name)
	want := vaultfake.KeyState{Name: "chatvault-" + id, Type: "aes256-gcm96", Derived: true, DeletionAllowed: true, LatestVersion: 1, MinDecryptionVersion: 1}
	if !ok || st != want {
		t.Fatalf("the fake holds %+v, %v; want %+v", st, ok, want)
	}
	if got := f.CallCounts(); got[vaultfake.OpKeyRead] != 2 || got[vaultfake.OpKeyCreate] != 1 || got[vaultfake.OpKeyConfig] != 1 || f.TotalCalls() != 4 {
		t.Errorf("CreateDedicated made %v", got)
	}
}

func TestDestroyCalls(t *testing.T) {
	f, c, key := setup(t)
	ctx := context.Background()
	if err := c.Destroy(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got := f.CallCounts(); got[vaultfake.OpKeyRead] != 2 || got[vaultfake.OpKeyConfig] != 1 || got[vaultfake.OpKeyDelete] != 1 || f.TotalCalls() != 4 {
		t.Errorf("Destroy made %v", got)
	}
	if _, ok := f.Key("transit", key); ok {
		t.Fatal("the key survived Destroy")
	}
	f.ResetCalls()
	if err := c.Destroy(ctx, key); err != nil {
		t.Fatal(err)
	}
	if f.Calls(vaultfake.OpKeyRead) != 1 || f.TotalCalls() != 1 {
		t.Errorf("Destroy of a missing key made %v, want one read", f.CallCounts())
	}
}

func TestSealed(t *testing.T) {
	f, c, key := setup(t)
	ctx := context.Background()
	id := vault.Context("abc")
	dk := newKey32(t)
	ct, _, err := c.Wrap(ctx, key, id, dk)
	if err != nil {
		t.Fatal(err)
	}
	f.Seal()
	f.ResetCalls()
	start := time.Now()
	_, _, err = c.Wrap(ctx, key, id, dk)
	t.Logf("Wrap on a sealed Vault: %v", err)
	if !errors.Is(err, vault.ErrSealed) || !errors.Is(err, vault.ErrUnavailable) || errors.Is(err, vault.ErrRefused) || errors.Is(err, vault.ErrUnreachable) {
		t.Fatalf("Wrap on a sealed Vault = %v, want ErrSealed", err)
	}
	checkMessage(t, err, key, dk)
	if n := f.Calls(vaultfake.OpKeyRead); n != 1 || f.TotalCalls() != 1 {
		t.Errorf("a sealed Vault was asked %v; want one read, not retried", f.CallCounts())
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("ErrSealed took %v", d)
	}
	if _, err := c.Unwrap(ctx, key, id, ct); !errors.Is(err, vault.ErrSealed) {
		t.Errorf("Unwrap on a sealed Vault = %v, want ErrSealed", err)
	}
	if _, exists, err := c.KeyInfo(ctx, key); !errors.Is(err, vault.ErrSealed) || exists {
		t.Errorf("KeyInfo on a sealed Vault = %v, %v; want ErrSealed", exists, err)
	}
	if err := c.Destroy(ctx, key); !errors.Is(err, vault.ErrSealed) {
		t.Errorf("Destroy on a sealed Vault = %v, want ErrSealed", err)
	}
	if _, err := c.Health(ctx); !errors.Is(err, vault.ErrSealed) {
		t.Errorf("Health of a sealed Vault = %v, want ErrSealed", err)
	}
	f.Unseal()
	if v, err := c.Health(ctx); err != nil || v != vaultfake.Version {
		t.Errorf("Health = %q, %v", v, err)
	}
	if _, err := c.Unwrap(ctx, key, id, ct); err != nil {
		t.Errorf("Unwrap after Unseal: %v", err)
	}
}

func TestDeniedByPolicy(t *testing.T) {
	// A token allowed encrypt and decrypt but not to read the key: Wrap
	// refuses (it reads first) and says why.
	f, c, key := setup(t)
	f.AddToken("narrow", func(method, path string) bool {
		return strings.HasPrefix(path, "transit/encrypt/") || strings.HasPrefix(path, "transit/decrypt/")
	})
	narrow, err := vault.New(vault.Options{Address: f.URL(), Token: "narrow"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, _, err = narrow.Wrap(ctx, key, vault.Context("abc"), newKey32(t))
	t.Logf("Wrap without read on the key: %v", err)
	if !errors.Is(err, vault.ErrDenied) || !strings.Contains(err.Error(), "needs read on transit/keys/"+key) {
		t.Fatalf("Wrap without read on the key = %v, want ErrDenied with advice", err)
	}
	if f.Calls(vaultfake.OpEncrypt) != 0 {
		t.Error("Wrap encrypted after a refused read")
	}
	ct, _, err := c.Wrap(ctx, key, vault.Context("abc"), newKey32(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := narrow.Unwrap(ctx, key, vault.Context("abc"), ct); err != nil {
		t.Errorf("Unwrap with decrypt allowed: %v", err)
	}
	if _, _, err := narrow.Rewrap(ctx, key, vault.Context("abc"), ct); !errors.Is(err, vault.ErrDenied) {
		t.Errorf("Rewrap without rewrap allowed = %v, want ErrDenied", err)
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close()
	ctx := context.Background()
	for _, retries := range []int{-1, 2} {
		c, err := vault.New(vault.Options{Address: addr, Token: "t", MaxRetries: retries, RetryWait: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, _, err = c.Wrap(ctx, "k", vault.Context("abc"), newKey32(t))
		d := time.Since(start)
		t.Logf("Wrap to a closed port (retries %d) after %v: %v", retries, d, err)
		if !errors.Is(err, vault.ErrUnreachable) || !errors.Is(err, vault.ErrUnavailable) || errors.Is(err, vault.ErrRefused) {
			t.Fatalf("Wrap to a closed port = %v, want ErrUnreachable", err)
		}
		if !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("the error does not say why: %v", err)
		}
		if d > 2*time.Second {
			t.Errorf("ErrUnreachable took %v", d)
		}
		if _, exists, err := c.KeyInfo(ctx, "k"); !errors.Is(err, vault.ErrUnreachable) || exists {
			t.Errorf("KeyInfo to a closed port = %v, %v; want ErrUnreachable", exists, err)
		}
		if err := c.Destroy(ctx, "k"); !errors.Is(err, vault.ErrUnreachable) {
			t.Errorf("Destroy to a closed port = %v, want ErrUnreachable", err)
		}
		if _, err := c.Health(ctx); !errors.Is(err, vault.ErrUnreachable) {
			t.Errorf("Health of a closed port = %v, want ErrUnreachable", err)
		}
	}
}

func TestServerErrorsRetried(t *testing.T) {
	f, c, key := setup(t) // one retry
	ctx := context.Background()
	var failures atomic.Int32
	f.SetHook(func(r *http.Request, op string) (int, []string) {
		if op == vaultfake.OpKeyRead && failures.Add(-1) >= 0 {
			return http.StatusBadGateway, []string{"upstream trouble"}
		}
		return 0, nil
	})
	failures.Store(1) // one failure, then success
	if _, _, err := c.Wrap(ctx, key, vault.Context("abc"), newKey32(t)); err != nil {
		t.Fatalf("Wrap after one 502: %v", err)
	}
	if n := f.Calls(vaultfake.OpKeyRead); n != 2 {
		t.Errorf("%d reads, want 2 (one retry)", n)
	}
	f.ResetCalls()
	failures.Store(100)
	_, _, err := c.Wrap(ctx, key, vault.Context("abc"), newKey32(t))
	t.Logf("Wrap with 502s: %v", err)
	if !errors.Is(err, vault.ErrUnreachable) || !strings.Contains(err.Error(), "upstream trouble (HTTP 502)") {
		t.Fatalf("Wrap with 502s = %v, want ErrUnreachable", err)
	}
	checkMessage(t, err, key, nil)
	if n := f.Calls(vaultfake.OpKeyRead); n != 2 || f.Calls(vaultfake.OpEncrypt) != 0 {
		t.Errorf("calls %v, want 2 reads, no encrypt", f.CallCounts())
	}
}

func TestTimeout(t *testing.T) {
	f, _, key := setup(t)
	t.Cleanup(func() { f.SetHook(nil) }) // before the key's deletion
	f.SetHook(func(r *http.Request, op string) (int, []string) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return http.StatusGatewayTimeout, nil
	})
	c, err := vault.New(vault.Options{Address: f.URL(), Token: f.Token(), MaxRetries: -1, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Unwrap(context.Background(), key, vault.Context("abc"), "vault:v1:AAAA")
	t.Logf("Unwrap timing out after %v: %v", time.Since(start), err)
	if !errors.Is(err, vault.ErrUnreachable) {
		t.Fatalf("Unwrap timing out = %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the timeout took %v", d)
	}
	start = time.Now()
	if _, _, err := c.KeyInfo(context.Background(), key); !errors.Is(err, vault.ErrUnreachable) || time.Since(start) > 2*time.Second {
		t.Errorf("KeyInfo timing out = %v after %v, want ErrUnreachable", err, time.Since(start))
	}
}

func TestCancelledIsNotAnOutage(t *testing.T) {
	_, c, key := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Unwrap(ctx, key, vault.Context("abc"), "vault:v1:AAAA")
	if err == nil || errors.Is(err, vault.ErrUnavailable) || errors.Is(err, vault.ErrRefused) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Unwrap with a cancelled context = %v, want an unclassified context.Canceled", err)
	}
}

func TestUnclassifiedAnswer(t *testing.T) {
	f, c, key := setup(t)
	f.SetHook(func(r *http.Request, op string) (int, []string) {
		return http.StatusBadRequest, []string{"something new"}
	})
	_, err := c.Unwrap(context.Background(), key, vault.Context("abc"), "vault:v1:AAAA")
	var ve *vault.Error
	if !errors.As(err, &ve) || ve.Class != nil || errors.Is(err, vault.ErrRefused) || errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("Unwrap with an unknown 400 = %v, want an unclassified *vault.Error", err)
	}
	if want := "vault: decrypt with transit/" + key + ": something new (HTTP 400)"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestOptionsAndEnvironment(t *testing.T) {
	f, _, key := setup(t)
	var seen atomic.Value
	f.SetHook(func(r *http.Request, op string) (int, []string) {
		seen.Store(r.Header.Get("X-Vault-Namespace"))
		return 0, nil
	})
	ctx := context.Background()
	for _, v := range []string{"VAULT_AGENT_ADDR", "VAULT_NAMESPACE", "VAULT_CACERT", "VAULT_CAPATH", "VAULT_MAX_RETRIES", "VAULT_CLIENT_TIMEOUT"} {
		t.Setenv(v, "")
	}

	// The environment alone.
	t.Setenv("VAULT_ADDR", f.URL())
	t.Setenv("VAULT_TOKEN", f.Token())
	t.Setenv("VAULT_NAMESPACE", "team-a")
	c, err := vault.New(vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Mount() != "transit" || c.Address() != f.URL() {
		t.Errorf("Mount %q, Address %q", c.Mount(), c.Address())
	}
	if _, exists, err := c.KeyInfo(ctx, key); err != nil || !exists {
		t.Fatalf("KeyInfo with the environment's settings: %v, %v", exists, err)
	}
	if got := seen.Load(); got != "team-a" {
		t.Errorf("namespace header %q, want team-a", got)
	}

	// Options override it.
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
	t.Setenv("VAULT_TOKEN", "wrong")
	c, err = vault.New(vault.Options{Address: f.URL(), Token: f.Token(), Namespace: "team-b", Mount: "/transit/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, exists, err := c.KeyInfo(ctx, key); err != nil || !exists {
		t.Fatalf("KeyInfo with options: %v, %v", exists, err)
	}
	if got := seen.Load(); got != "team-b" {
		t.Errorf("namespace header %q, want team-b", got)
	}

	// No token anywhere: the vault CLI's ~/.vault-token.
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("VAULT_TOKEN", "")
	if err := os.WriteFile(filepath.Join(home, ".vault-token"), []byte(f.Token()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = vault.New(vault.Options{Address: f.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if _, exists, err := c.KeyInfo(ctx, key); err != nil || !exists {
		t.Fatalf("KeyInfo with ~/.vault-token: %v, %v", exists, err)
	}

	if _, err := vault.New(vault.Options{CACert: filepath.Join(home, "missing.pem")}); err == nil {
		t.Error("New with a missing CA certificate succeeded")
	}
	for _, m := range []string{"a/../b", "a b", "x?"} {
		if _, err := vault.New(vault.Options{Mount: m}); err == nil {
			t.Errorf("New with mount %q succeeded", m)
		}
	}
}

func TestOtherMount(t *testing.T) {
	f, _ := vaulttest.Fake(t)
	f.Mount("kek/transit", "transit")
	c, err := vault.New(vault.Options{Address: f.URL(), Token: f.Token(), Mount: "kek/transit"})
	if err != nil {
		t.Fatal(err)
	}
	name, err := c.CreateDedicated(context.Background(), "abc123")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Key("kek/transit", name); !ok {
		t.Fatalf("the key is not under kek/transit: %v", f.Keys("transit"))
	}
	if _, _, err := c.Wrap(context.Background(), name, vault.Context("abc123"), newKey32(t)); err != nil {
		t.Fatal(err)
	}
	f.Unmount("kek/transit")
	if _, exists, err := c.KeyInfo(context.Background(), name); !errors.Is(err, vault.ErrNoMount) || exists {
		t.Fatalf("KeyInfo after the unmount = %v, %v; want ErrNoMount", exists, err)
	}
}

// CreateDedicatedNamed makes chatvault-<id>-<suffix>, with the properties of
// CreateDedicated; IsDedicatedName knows both names.
func TestCreateDedicatedNamed(t *testing.T) {
	f, c, _ := setup(t)
	ctx := context.Background()
	id := newArchiveID(t)
	if _, err := c.CreateDedicated(ctx, id); err != nil {
		t.Fatal(err)
	}
	name, err := c.CreateDedicatedNamed(ctx, id, "c3-0a1b")
	if err != nil {
		t.Fatal(err)
	}
	want := vaultfake.KeyState{Name: "chatvault-" + id + "-c3-0a1b", Type: "aes256-gcm96", Derived: true, DeletionAllowed: true, LatestVersion: 1, MinDecryptionVersion: 1}
	if st, ok := f.Key("transit", name); !ok || st != want || name != vault.NamedDedicatedName(id, "c3-0a1b") {
		t.Fatalf("the fake holds %+v, %v for %q; want %+v", st, ok, name, want)
	}
	if _, err := c.CreateDedicatedNamed(ctx, id, "c3-0a1b"); !errors.Is(err, vault.ErrKeyExists) {
		t.Errorf("second CreateDedicatedNamed: %v", err)
	}
	for _, bad := range []string{"", "a/b", "x-", strings.Repeat("x", 41)} {
		if _, err := c.CreateDedicatedNamed(ctx, id, bad); !errors.Is(err, vault.ErrBadArchiveID) {
			t.Errorf("suffix %q: %v", bad, err)
		}
	}
	for name, ok := range map[string]bool{
		"chatvault-" + id: true, "chatvault-" + id + "-c3-0a1b": true,
		"chatvault-" + id + "-": false, "chatvault-" + id + "x": false, "other-" + id: false,
	} {
		if vault.IsDedicatedName(name, id) != ok {
			t.Errorf("IsDedicatedName(%s) = %v", name, !ok)
		}
	}
}
