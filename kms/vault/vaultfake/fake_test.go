package vaultfake_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/kms/vault/vaultfake"
)

// These tests pin the fake's answers to Vault 1.21's, as recorded in
// docs (status codes and texts), over plain HTTP.

type answer struct {
	status int
	body   map[string]any
}

func do(t *testing.T, f *vaultfake.Fake, token, method, path string, body any) answer {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.URL()+"/v1/"+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode}
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("%s %s: body %q is not JSON", method, path, raw)
		}
	}
	return a
}

// root does a request with the root token.
func root(t *testing.T, f *vaultfake.Fake, method, path string, body any) answer {
	t.Helper()
	return do(t, f, vaultfake.RootToken, method, path, body)
}

func (a answer) errors() []string {
	var out []string
	list, _ := a.body["errors"].([]any)
	for _, e := range list {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

func (a answer) data() map[string]any {
	d, _ := a.body["data"].(map[string]any)
	return d
}

func expectError(t *testing.T, what string, a answer, status int, msg string) {
	t.Helper()
	errs := a.errors()
	if a.status != status || len(errs) != 1 || errs[0] != msg {
		t.Errorf("%s: %d %v, want %d [%q]", what, a.status, errs, status, msg)
	}
}

var (
	b64     = base64.StdEncoding.EncodeToString
	context = b64([]byte("ctx"))
	secret  = b64(bytes.Repeat([]byte{7}, 32))
)

func TestVaultAnswers(t *testing.T) {
	f := vaultfake.New()
	defer f.Close()

	a := root(t, f, "GET", "transit/keys/k", nil)
	if a.status != 404 || a.body["errors"] == nil || len(a.errors()) != 0 {
		t.Errorf("read of a missing key: %d %v, want 404 {\"errors\":[]}", a.status, a.body)
	}
	expectError(t, "decrypt with a missing key", root(t, f, "PUT", "transit/decrypt/k", map[string]any{"ciphertext": "vault:v1:AAAA", "context": context}), 400, "encryption key not found")
	expectError(t, "rewrap with a missing key", root(t, f, "PUT", "transit/rewrap/k", map[string]any{"ciphertext": "vault:v1:AAAA", "context": context}), 400, "encryption key not found")
	expectError(t, "config of a missing key", root(t, f, "POST", "transit/keys/k/config", map[string]any{"deletion_allowed": true}), 400, "no existing key named k could be found")
	expectError(t, "rotate of a missing key", root(t, f, "POST", "transit/keys/k/rotate", nil), 400, "key not found")
	expectError(t, "delete of a missing key", root(t, f, "DELETE", "transit/keys/k", nil), 400, "error deleting policy k: could not delete key; not found")

	if a := root(t, f, "POST", "transit/keys/k", map[string]any{"derived": true, "type": "aes256-gcm96", "deletion_allowed": true}); a.status != 200 ||
		len(a.body["warnings"].([]any)) != 1 || !strings.Contains(a.body["warnings"].([]any)[0].(string), "[deletion_allowed]") {
		t.Errorf("create with an unknown parameter: %d %v", a.status, a.body)
	}
	d := root(t, f, "GET", "transit/keys/k", nil).data()
	if d["derived"] != true || d["kdf"] != "hkdf_sha256" || d["latest_version"] != 1.0 || d["min_decryption_version"] != 1.0 || d["deletion_allowed"] != false || d["exportable"] != false {
		t.Errorf("read: %v", d)
	}
	expectError(t, "encrypt without context", root(t, f, "PUT", "transit/encrypt/k", map[string]any{"plaintext": secret}), 400,
		"missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key")
	expectError(t, "encrypt of a plaintext that is not base64", root(t, f, "PUT", "transit/encrypt/k", map[string]any{"plaintext": "abc!", "context": context}), 400, "illegal base64 data at input byte 3")

	enc := root(t, f, "PUT", "transit/encrypt/k", map[string]any{"plaintext": secret, "context": context}).data()
	ct, _ := enc["ciphertext"].(string)
	if !strings.HasPrefix(ct, "vault:v1:") || enc["key_version"] != 1.0 {
		t.Fatalf("encrypt: %v", enc)
	}
	if got := root(t, f, "PUT", "transit/decrypt/k", map[string]any{"ciphertext": ct, "context": context}).data()["plaintext"]; got != secret {
		t.Errorf("decrypt: %v", got)
	}
	expectError(t, "decrypt with a wrong context", root(t, f, "PUT", "transit/decrypt/k", map[string]any{"ciphertext": ct, "context": b64([]byte("other"))}), 400, "cipher: message authentication failed")
	expectError(t, "decrypt without prefix", root(t, f, "PUT", "transit/decrypt/k", map[string]any{"ciphertext": "AAAA", "context": context}), 400, "invalid ciphertext: no prefix")
	expectError(t, "decrypt of a future version", root(t, f, "PUT", "transit/decrypt/k", map[string]any{"ciphertext": "vault:v9:AAAA", "context": context}), 400, "invalid ciphertext: version is too new")

	root(t, f, "POST", "transit/keys/k/rotate", nil)
	rw := root(t, f, "PUT", "transit/rewrap/k", map[string]any{"ciphertext": ct, "context": context}).data()
	ct2, _ := rw["ciphertext"].(string)
	if !strings.HasPrefix(ct2, "vault:v2:") || rw["key_version"] != 2.0 {
		t.Fatalf("rewrap: %v", rw)
	}
	expectError(t, "min_decryption_version above latest", root(t, f, "POST", "transit/keys/k/config", map[string]any{"min_decryption_version": 3}), 400, "cannot set min decryption version of 3, latest key version is 2")
	root(t, f, "POST", "transit/keys/k/config", map[string]any{"min_decryption_version": 2})
	expectError(t, "decrypt below min_decryption_version", root(t, f, "PUT", "transit/decrypt/k", map[string]any{"ciphertext": ct, "context": context}), 400, "ciphertext or signature version is disallowed by policy (too old)")
	expectError(t, "rewrap below min_decryption_version", root(t, f, "PUT", "transit/rewrap/k", map[string]any{"ciphertext": ct, "context": context}), 400, "ciphertext or signature version is disallowed by policy (too old)")

	expectError(t, "delete without deletion_allowed", root(t, f, "DELETE", "transit/keys/k", nil), 400, "error deleting policy k: deletion is not allowed for this key")
	root(t, f, "POST", "transit/keys/k/config", map[string]any{"deletion_allowed": true})
	if a := root(t, f, "DELETE", "transit/keys/k", nil); a.status != 204 {
		t.Errorf("delete: %d %v", a.status, a.body)
	}
	expectError(t, "decrypt after the deletion", root(t, f, "PUT", "transit/decrypt/k", map[string]any{"ciphertext": ct2, "context": context}), 400, "encryption key not found")

	// Encrypt upserts, and the re-created key does not open the old
	// ciphertexts.
	if a := root(t, f, "PUT", "transit/encrypt/k", map[string]any{"plaintext": secret, "context": context}); a.status != 200 {
		t.Fatalf("encrypt to a missing key: %d %v", a.status, a.body)
	}
	if d := root(t, f, "GET", "transit/keys/k", nil).data(); d["derived"] != true || d["latest_version"] != 1.0 {
		t.Errorf("the upserted key: %v", d)
	}
	expectError(t, "old v2 under the re-created key", root(t, f, "PUT", "transit/decrypt/k", map[string]any{"ciphertext": ct2, "context": context}), 400, "invalid ciphertext: version is too new")
	expectError(t, "old v1 under the re-created key", root(t, f, "PUT", "transit/decrypt/k", map[string]any{"ciphertext": ct, "context": context}), 400, "cipher: message authentication failed")

	expectError(t, "no route", root(t, f, "GET", "nowhere/keys/k", nil), 404, `no handler for route "nowhere/keys/k". route entry not found.`)
	expectError(t, "no token", do(t, f, "", "GET", "transit/keys/k", nil), 403, "permission denied")
	expectError(t, "wrong token", do(t, f, "nope", "GET", "transit/keys/k", nil), 403, "permission denied")
	f.AddToken("ro", func(method, path string) bool { return method == "GET" })
	expectError(t, "refused by policy", do(t, f, "ro", "PUT", "transit/encrypt/k", map[string]any{"plaintext": secret, "context": context}), 403, "1 error occurred:\n\t* permission denied\n\n")
	if a := do(t, f, "ro", "GET", "transit/keys/k", nil); a.status != 200 {
		t.Errorf("allowed by policy: %d %v", a.status, a.body)
	}

	// Mounts.
	expectError(t, "mount twice", root(t, f, "POST", "sys/mounts/transit", map[string]any{"type": "transit"}), 400, "path is already in use at transit/")
	if a := root(t, f, "POST", "sys/mounts/t2", map[string]any{"type": "transit"}); a.status != 204 {
		t.Errorf("mount: %d %v", a.status, a.body)
	}
	if m := root(t, f, "GET", "sys/mounts", nil).data(); m["t2/"] == nil || m["transit/"] == nil {
		t.Errorf("mounts: %v", m)
	}
	if a := root(t, f, "POST", "t2/keys/x", nil); a.status != 200 {
		t.Errorf("create under t2: %d %v", a.status, a.body)
	}

	// Sealed.
	f.Seal()
	expectError(t, "sealed", root(t, f, "GET", "transit/keys/k", nil), 503, "Vault is sealed")
	if a := do(t, f, "", "GET", "sys/health", nil); a.status != 503 || a.body["sealed"] != true {
		t.Errorf("health when sealed: %d %v", a.status, a.body)
	}
	if a := do(t, f, "", "GET", "sys/health?sealedcode=299", nil); a.status != 299 {
		t.Errorf("health with sealedcode: %d", a.status)
	}
	f.Unseal()
	if a := do(t, f, "", "GET", "sys/health", nil); a.status != 200 || a.body["sealed"] != false || a.body["version"] != vaultfake.Version {
		t.Errorf("health: %d %v", a.status, a.body)
	}

	if f.Calls(vaultfake.OpDecrypt) != 9 || f.Calls(vaultfake.OpHealth) != 3 {
		t.Errorf("counters %v", f.CallCounts())
	}
}

func TestConfigRules(t *testing.T) {
	f := vaultfake.New()
	defer f.Close()
	root(t, f, "POST", "transit/keys/e", map[string]any{"exportable": true, "allow_plaintext_backup": "true"})
	st, ok := f.Key("transit", "e")
	if !ok || !st.Exportable || !st.AllowPlaintextBackup || st.Derived || st.Type != "aes256-gcm96" {
		t.Fatalf("key %+v", st)
	}
	expectError(t, "exportable back to false", root(t, f, "POST", "transit/keys/e/config", map[string]any{"exportable": false}), 400, "exportability cannot be disabled after enabled")
	expectError(t, "plaintext backup back to false", root(t, f, "POST", "transit/keys/e/config", map[string]any{"allow_plaintext_backup": false}), 400, "plaintext backup cannot be disabled after enabled")
	expectError(t, "unknown type", root(t, f, "POST", "transit/keys/r", map[string]any{"type": "rsa-9"}), 400, "unknown key type rsa-9")

	// A key that is not derived ignores a context, as Vault's does.
	enc := root(t, f, "PUT", "transit/encrypt/e", map[string]any{"plaintext": secret, "context": context}).data()
	if got := root(t, f, "PUT", "transit/decrypt/e", map[string]any{"ciphertext": enc["ciphertext"], "context": b64([]byte("other"))}).data()["plaintext"]; got != secret {
		t.Errorf("a non-derived key used the context: %v", got)
	}
}
