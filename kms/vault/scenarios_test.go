package vault_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/kms/vault"
	"github.com/chatvault/chatvault/kms/vault/vaulttest"
)

// The scenarios below run against the fake (fake_test.go) and against a
// real Vault (integration_test.go). Each gets a client and a fresh derived
// aes256-gcm96 key of its own.

type scenario struct {
	name string
	run  func(t *testing.T, c *vault.Client, key string)
}

var scenarios = []scenario{
	{"RoundTrip", testRoundTrip},
	{"WrongContext", testWrongContext},
	{"TypoKeyNeverCreated", testTypoKeyNeverCreated},
	{"RewrapAfterRotate", testRewrapAfterRotate},
	{"MinDecryptionVersion", testMinDecryptionVersion},
	{"Destroy", testDestroy},
	{"CreateDedicated", testCreateDedicated},
	{"NotDerived", testNotDerived},
	{"WrongToken", testWrongToken},
	{"NoMount", testNoMount},
	{"BadArguments", testBadArguments},
}

func newKey32(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, vault.KeySize)
	rand.Read(k)
	return k
}

func newArchiveID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// checkMessage checks an error's message is one line, names the key and
// carries none of the key's bytes.
func checkMessage(t *testing.T, err error, key string, secret []byte) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error message on several lines: %q", msg)
	}
	if key != "" && !strings.Contains(msg, key) {
		t.Errorf("error message does not name the key %s: %q", key, msg)
	}
	if secret != nil && (strings.Contains(msg, base64.StdEncoding.EncodeToString(secret)) || strings.Contains(msg, hex.EncodeToString(secret))) {
		t.Errorf("error message carries the key: %q", msg)
	}
}

func wrap(t *testing.T, c *vault.Client, key string, kdfContext, dataKey []byte) (string, int) {
	t.Helper()
	ct, ver, err := c.Wrap(context.Background(), key, kdfContext, dataKey)
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	return ct, ver
}

func mustUnwrap(t *testing.T, c *vault.Client, key string, kdfContext []byte, ct string, want []byte) {
	t.Helper()
	got, err := c.Unwrap(context.Background(), key, kdfContext, ct)
	if err != nil {
		t.Fatalf("Unwrap of %.12s…: %v", ct, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Unwrap of %.12s…: wrong key", ct)
	}
}

func setConfig(t *testing.T, c *vault.Client, key string, data map[string]any) {
	t.Helper()
	if _, err := c.API().Logical().WriteWithContext(context.Background(), c.Mount()+"/keys/"+key+"/config", data); err != nil {
		t.Fatalf("configuring %s: %v", key, err)
	}
}

func testRoundTrip(t *testing.T, c *vault.Client, key string) {
	id := newArchiveID(t)
	dk := newKey32(t)
	ct, ver := wrap(t, c, key, vault.Context(id), dk)
	if ver != 1 || !strings.HasPrefix(ct, "vault:v1:") {
		t.Fatalf("Wrap = %q, version %d; want vault:v1:…, 1", ct, ver)
	}
	if v, err := vault.CiphertextVersion(ct); err != nil || v != 1 {
		t.Errorf("CiphertextVersion = %d, %v", v, err)
	}
	if strings.Contains(ct, base64.StdEncoding.EncodeToString(dk)) {
		t.Fatal("the ciphertext holds the plaintext")
	}
	mustUnwrap(t, c, key, vault.Context(id), ct, dk)
	ct2, _ := wrap(t, c, key, vault.Context(id), dk)
	if ct2 == ct {
		t.Error("two wraps of the same key gave the same ciphertext")
	}
	info, exists, err := c.KeyInfo(context.Background(), key)
	if err != nil || !exists {
		t.Fatalf("KeyInfo = %+v, %v, %v", info, exists, err)
	}
	if info.Name != key || !info.Derived || info.Type != vault.TypeAES256 || info.LatestVersion != 1 || info.MinDecryptionVersion != 1 || info.Extractable() {
		t.Errorf("KeyInfo = %+v", info)
	}
}

func testWrongContext(t *testing.T, c *vault.Client, key string) {
	ctx := context.Background()
	id := newArchiveID(t)
	dk := newKey32(t)
	ct, _ := wrap(t, c, key, vault.Context(id), dk)
	tampered := []byte(ct)
	if i := len(tampered) - 3; tampered[i] == 'A' { // a base64 digit of the tag
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	for name, tc := range map[string]struct {
		kdfContext []byte
		ct         string
	}{
		"another archive":        {vault.Context(newArchiveID(t)), ct},
		"another purpose":        {vault.ContextFor(id, "other"), ct},
		"a tampered ciphertext":  {vault.Context(id), string(tampered)},
		"a context prefix":       {vault.Context(id)[:10], ct},
		"the archive id as such": {[]byte(id), ct},
	} {
		_, err := c.Unwrap(ctx, key, tc.kdfContext, tc.ct)
		t.Logf("Unwrap with %s: %v", name, err)
		if !errors.Is(err, vault.ErrWrongContext) || !errors.Is(err, vault.ErrRefused) || errors.Is(err, vault.ErrUnavailable) {
			t.Errorf("Unwrap with %s = %v, want ErrWrongContext", name, err)
			continue
		}
		checkMessage(t, err, key, dk)
		if _, _, err := c.Rewrap(ctx, key, tc.kdfContext, tc.ct); !errors.Is(err, vault.ErrWrongContext) {
			t.Errorf("Rewrap with %s = %v, want ErrWrongContext", name, err)
		}
	}
	mustUnwrap(t, c, key, vault.Context(id), ct, dk)
}

func testTypoKeyNeverCreated(t *testing.T, c *vault.Client, key string) {
	ctx := context.Background()
	typo := vaulttest.KeyName()
	_, _, err := c.Wrap(ctx, typo, vault.Context(newArchiveID(t)), newKey32(t))
	t.Logf("Wrap under a missing key: %v", err)
	if !errors.Is(err, vault.ErrKeyNotFound) || !errors.Is(err, vault.ErrRefused) {
		t.Fatalf("Wrap under a missing key = %v, want ErrKeyNotFound", err)
	}
	checkMessage(t, err, typo, nil)
	if !strings.Contains(err.Error(), "--vault-transit-create") {
		t.Errorf("the error does not mention --vault-transit-create: %v", err)
	}
	if _, exists, err := c.KeyInfo(ctx, typo); err != nil || exists {
		t.Fatalf("after Wrap, KeyInfo(%s) = exists %v, %v: the wrap created the key", typo, exists, err)
	}
	// decrypt and rewrap say not found and do not create either.
	_, err = c.Unwrap(ctx, typo, vault.Context("x"), "vault:v1:AAAA")
	if !errors.Is(err, vault.ErrKeyNotFound) {
		t.Errorf("Unwrap under a missing key = %v, want ErrKeyNotFound", err)
	}
	if _, _, err := c.Rewrap(ctx, typo, vault.Context("x"), "vault:v1:AAAA"); !errors.Is(err, vault.ErrKeyNotFound) {
		t.Errorf("Rewrap under a missing key = %v, want ErrKeyNotFound", err)
	}
	if err := c.Rotate(ctx, typo); !errors.Is(err, vault.ErrKeyNotFound) {
		t.Errorf("Rotate of a missing key = %v, want ErrKeyNotFound", err)
	}
	if _, exists, err := c.KeyInfo(ctx, typo); err != nil || exists {
		t.Fatalf("KeyInfo(%s) = exists %v, %v", typo, exists, err)
	}
}

func testRewrapAfterRotate(t *testing.T, c *vault.Client, key string) {
	ctx := context.Background()
	id := newArchiveID(t)
	dk := newKey32(t)
	ct1, _ := wrap(t, c, key, vault.Context(id), dk)
	if err := c.Rotate(ctx, key); err != nil {
		t.Fatal(err)
	}
	if info, _, err := c.KeyInfo(ctx, key); err != nil || info.LatestVersion != 2 {
		t.Fatalf("after Rotate, KeyInfo = %+v, %v; want latest_version 2", info, err)
	}
	ct2, ver, err := c.Rewrap(ctx, key, vault.Context(id), ct1)
	if err != nil {
		t.Fatal(err)
	}
	if ver != 2 || !strings.HasPrefix(ct2, "vault:v2:") {
		t.Fatalf("Rewrap = %q, version %d; want vault:v2:…, 2", ct2, ver)
	}
	mustUnwrap(t, c, key, vault.Context(id), ct2, dk)
	mustUnwrap(t, c, key, vault.Context(id), ct1, dk) // the old version still opens
	if _, err := c.Unwrap(ctx, key, vault.Context(newArchiveID(t)), ct2); !errors.Is(err, vault.ErrWrongContext) {
		t.Errorf("Unwrap of the rewrapped key with another context = %v, want ErrWrongContext", err)
	}
	if _, ver, err := c.Wrap(ctx, key, vault.Context(id), dk); err != nil || ver != 2 {
		t.Errorf("Wrap after Rotate: version %d, %v; want 2", ver, err)
	}
}

func testMinDecryptionVersion(t *testing.T, c *vault.Client, key string) {
	ctx := context.Background()
	id := newArchiveID(t)
	dk := newKey32(t)
	ct1, _ := wrap(t, c, key, vault.Context(id), dk)
	if err := c.Rotate(ctx, key); err != nil {
		t.Fatal(err)
	}
	ct2, _, err := c.Rewrap(ctx, key, vault.Context(id), ct1)
	if err != nil {
		t.Fatal(err)
	}
	setConfig(t, c, key, map[string]any{"min_decryption_version": 2})
	if info, _, err := c.KeyInfo(ctx, key); err != nil || info.MinDecryptionVersion != 2 {
		t.Fatalf("KeyInfo = %+v, %v; want min_decryption_version 2", info, err)
	}
	_, err = c.Unwrap(ctx, key, vault.Context(id), ct1)
	t.Logf("Unwrap of v1 with min_decryption_version 2: %v", err)
	if !errors.Is(err, vault.ErrTooOld) || !errors.Is(err, vault.ErrRefused) {
		t.Fatalf("Unwrap of v1 = %v, want ErrTooOld", err)
	}
	checkMessage(t, err, key, dk)
	if _, _, err := c.Rewrap(ctx, key, vault.Context(id), ct1); !errors.Is(err, vault.ErrTooOld) {
		t.Errorf("Rewrap of v1 = %v, want ErrTooOld", err)
	}
	mustUnwrap(t, c, key, vault.Context(id), ct2, dk)
	// Not trimmed: lowering it again is allowed, and v1 opens again.
	setConfig(t, c, key, map[string]any{"min_decryption_version": 1})
	mustUnwrap(t, c, key, vault.Context(id), ct1, dk)
}

func testDestroy(t *testing.T, c *vault.Client, key string) {
	ctx := context.Background()
	id := newArchiveID(t)
	ct, _ := wrap(t, c, key, vault.Context(id), newKey32(t))
	if info, _, err := c.KeyInfo(ctx, key); err != nil || info.DeletionAllowed {
		t.Fatalf("KeyInfo = %+v, %v; want deletion not allowed yet", info, err)
	}
	if err := c.Destroy(ctx, key); err != nil {
		t.Fatal(err)
	}
	if info, exists, err := c.KeyInfo(ctx, key); err != nil || exists {
		t.Fatalf("after Destroy, KeyInfo = %+v, exists %v, %v; want not exists", info, exists, err)
	}
	_, err := c.Unwrap(ctx, key, vault.Context(id), ct)
	t.Logf("Unwrap after Destroy: %v", err)
	if !errors.Is(err, vault.ErrKeyNotFound) || !errors.Is(err, vault.ErrRefused) {
		t.Fatalf("Unwrap after Destroy = %v, want ErrKeyNotFound", err)
	}
	checkMessage(t, err, key, nil)
	if _, _, err := c.Rewrap(ctx, key, vault.Context(id), ct); !errors.Is(err, vault.ErrKeyNotFound) {
		t.Errorf("Rewrap after Destroy = %v, want ErrKeyNotFound", err)
	}
	if _, _, err := c.Wrap(ctx, key, vault.Context(id), newKey32(t)); !errors.Is(err, vault.ErrKeyNotFound) {
		t.Errorf("Wrap after Destroy = %v, want ErrKeyNotFound", err)
	}
	if err := c.Destroy(ctx, key); err != nil {
		t.Errorf("Destroy of a deleted key = %v, want success", err)
	}
	if _, exists, err := c.KeyInfo(ctx, key); err != nil || exists {
		t.Fatalf("KeyInfo = exists %v, %v: something re-created the key", exists, err)
	}
}

func testCreateDedicated(t *testing.T, c *vault.Client, _ string) {
	ctx := context.Background()
	id := newArchiveID(t)
	name, err := c.CreateDedicated(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Destroy(context.Background(), name) })
	if name != "chatvault-"+id || name != vault.DedicatedName(id) {
		t.Fatalf("CreateDedicated = %q, want chatvault-%s", name, id)
	}
	info, exists, err := c.KeyInfo(ctx, name)
	if err != nil || !exists {
		t.Fatalf("KeyInfo = %v, %v", exists, err)
	}
	want := vault.Info{Name: name, Type: vault.TypeAES256, Derived: true, DeletionAllowed: true, LatestVersion: 1, MinDecryptionVersion: 1}
	if info != want {
		t.Errorf("KeyInfo = %+v, want %+v", info, want)
	}
	dk := newKey32(t)
	ct, _ := wrap(t, c, name, vault.Context(id), dk)
	mustUnwrap(t, c, name, vault.Context(id), ct, dk)

	_, err = c.CreateDedicated(ctx, id)
	t.Logf("second CreateDedicated: %v", err)
	if !errors.Is(err, vault.ErrKeyExists) || errors.Is(err, vault.ErrRefused) {
		t.Errorf("second CreateDedicated = %v, want ErrKeyExists", err)
	}
	if err := c.Destroy(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, exists, err := c.KeyInfo(ctx, name); err != nil || exists {
		t.Fatalf("after Destroy, KeyInfo = exists %v, %v", exists, err)
	}
	if _, err := c.Unwrap(ctx, name, vault.Context(id), ct); !errors.Is(err, vault.ErrKeyNotFound) {
		t.Errorf("Unwrap after Destroy = %v, want ErrKeyNotFound", err)
	}
	for _, bad := range []string{"", "a/b", "../x", "x y", "id-"} {
		if _, err := c.CreateDedicated(ctx, bad); !errors.Is(err, vault.ErrBadArchiveID) {
			t.Errorf("CreateDedicated(%q) = %v, want ErrBadArchiveID", bad, err)
		}
	}
}

func testNotDerived(t *testing.T, c *vault.Client, _ string) {
	ctx := context.Background()
	name := vaulttest.KeyName()
	if _, err := c.API().Logical().WriteWithContext(ctx, c.Mount()+"/keys/"+name, map[string]any{"type": vault.TypeAES256}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Destroy(context.Background(), name) })
	_, _, err := c.Wrap(ctx, name, vault.Context(newArchiveID(t)), newKey32(t))
	t.Logf("Wrap under a key that is not derived: %v", err)
	if !errors.Is(err, vault.ErrUnsuitableKey) || !errors.Is(err, vault.ErrRefused) {
		t.Fatalf("Wrap under a key that is not derived = %v, want ErrUnsuitableKey", err)
	}
	checkMessage(t, err, name, nil)
}

func testWrongToken(t *testing.T, c *vault.Client, key string) {
	ctx := context.Background()
	bad, err := vault.New(vault.Options{Address: c.Address(), Token: "not-a-real-token", Mount: c.Mount(), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	id := newArchiveID(t)
	dk := newKey32(t)
	ct, _ := wrap(t, c, key, vault.Context(id), dk)

	_, _, err = bad.Wrap(ctx, key, vault.Context(id), dk)
	t.Logf("Wrap with a wrong token: %v", err)
	if !errors.Is(err, vault.ErrDenied) || !errors.Is(err, vault.ErrRefused) {
		t.Errorf("Wrap with a wrong token = %v, want ErrDenied", err)
	} else {
		checkMessage(t, err, key, dk)
	}
	if _, err := bad.Unwrap(ctx, key, vault.Context(id), ct); !errors.Is(err, vault.ErrDenied) {
		t.Errorf("Unwrap with a wrong token = %v, want ErrDenied", err)
	}
	if _, exists, err := bad.KeyInfo(ctx, key); !errors.Is(err, vault.ErrDenied) || exists {
		t.Errorf("KeyInfo with a wrong token = exists %v, %v; want ErrDenied", exists, err)
	}
	if err := bad.Destroy(ctx, key); !errors.Is(err, vault.ErrDenied) {
		t.Errorf("Destroy with a wrong token = %v, want ErrDenied", err)
	}
	mustUnwrap(t, c, key, vault.Context(id), ct, dk)
}

func testNoMount(t *testing.T, c *vault.Client, key string) {
	ctx := context.Background()
	other, err := vault.New(vault.Options{Address: c.Address(), Token: c.API().Token(), Mount: "cvtest-no-such-mount", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	info, exists, err := other.KeyInfo(ctx, key)
	t.Logf("KeyInfo under a missing mount: %v", err)
	if !errors.Is(err, vault.ErrNoMount) || exists {
		t.Fatalf("KeyInfo under a missing mount = %+v, exists %v, %v; want ErrNoMount, never \"does not exist\"", info, exists, err)
	}
	if _, _, err := other.Wrap(ctx, key, vault.Context("x"), newKey32(t)); !errors.Is(err, vault.ErrNoMount) {
		t.Errorf("Wrap under a missing mount = %v, want ErrNoMount", err)
	}
	if _, err := other.Unwrap(ctx, key, vault.Context("x"), "vault:v1:AAAA"); !errors.Is(err, vault.ErrNoMount) {
		t.Errorf("Unwrap under a missing mount = %v, want ErrNoMount", err)
	}
	if err := other.Destroy(ctx, key); !errors.Is(err, vault.ErrNoMount) {
		t.Errorf("Destroy under a missing mount = %v, want ErrNoMount", err)
	}
}

func testBadArguments(t *testing.T, c *vault.Client, key string) {
	ctx := context.Background()
	id := vault.Context(newArchiveID(t))
	for _, name := range []string{"", "k/rotate", "../k", "k/", "-k", "k k", "k?x", strings.Repeat("k", 300)} {
		if _, _, err := c.Wrap(ctx, name, id, newKey32(t)); !errors.Is(err, vault.ErrBadKeyName) {
			t.Errorf("Wrap(%q) = %v, want ErrBadKeyName", name, err)
		}
		if _, err := c.Unwrap(ctx, name, id, "vault:v1:AAAA"); !errors.Is(err, vault.ErrBadKeyName) {
			t.Errorf("Unwrap(%q) = %v, want ErrBadKeyName", name, err)
		}
		if _, _, err := c.KeyInfo(ctx, name); !errors.Is(err, vault.ErrBadKeyName) {
			t.Errorf("KeyInfo(%q) = %v, want ErrBadKeyName", name, err)
		}
		if err := c.Destroy(ctx, name); !errors.Is(err, vault.ErrBadKeyName) {
			t.Errorf("Destroy(%q) = %v, want ErrBadKeyName", name, err)
		}
	}
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, _, err := c.Wrap(ctx, key, id, make([]byte, n)); !errors.Is(err, vault.ErrKeySize) {
			t.Errorf("Wrap of %d bytes = %v, want ErrKeySize", n, err)
		}
	}
	if _, _, err := c.Wrap(ctx, key, nil, newKey32(t)); !errors.Is(err, vault.ErrNoContext) {
		t.Errorf("Wrap without context = %v, want ErrNoContext", err)
	}
	if _, err := c.Unwrap(ctx, key, nil, "vault:v1:AAAA"); !errors.Is(err, vault.ErrNoContext) {
		t.Errorf("Unwrap without context = %v, want ErrNoContext", err)
	}
	if _, _, err := c.Rewrap(ctx, key, nil, "vault:v1:AAAA"); !errors.Is(err, vault.ErrNoContext) {
		t.Errorf("Rewrap without context = %v, want ErrNoContext", err)
	}
	// A key Vault answers a plaintext of another size for (wrapped by
	// someone else) is refused.
	raw, err := c.API().Logical().WriteWithContext(ctx, c.Mount()+"/encrypt/"+key, map[string]any{
		"plaintext": base64.StdEncoding.EncodeToString([]byte("sixteen bytes!!!")),
		"context":   base64.StdEncoding.EncodeToString(id),
	})
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := raw.Data["ciphertext"].(string)
	if _, err := c.Unwrap(ctx, key, id, ct); !errors.Is(err, vault.ErrKeySize) {
		t.Errorf("Unwrap of a 16-byte plaintext = %v, want ErrKeySize", err)
	}
}
