package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/kms/vault"
	"github.com/chatvault/chatvault/kms/vault/vaultfake"
	"github.com/chatvault/chatvault/kms/vault/vaulttest"
)

// TestScriptsVault drives the binary against the real Vault dev server of the
// test run (scripts/vaultserver.sh; see vaulttest: skipped without
// VAULT_ADDR, failed instead with CHATVAULT_TEST_REQUIRE_SERVERS=1):
// testdata/vaultscript/*.txtar. The scripts get VAULT_ADDR and VAULT_TOKEN
// (also in $ROOT_ADDR and $ROOT_TOKEN, to put back after testing bad ones) and
// VAULT_MAX_RETRIES=1. Extra commands, besides exitcode, capture and catglob:
//
//	vaultkey VAR           create a derived aes256-gcm96 Transit key under transit/
//	                       with a new name, set $VAR to it (deleted when the script ends)
//	vaultrotate KEY        rotate KEY in Vault (a new key version)
//	vaultminver KEY N      set KEY's min_decryption_version to N
//	vaultinfo KEY          print "missing", or "latest=N min_decryption=N derived=B
//	                       exportable=B plaintext_backup=B deletion_allowed=B"
//	                       (read only: GET transit/keys/KEY)
func TestScriptsVault(t *testing.T) {
	c := vaulttest.Client(t)
	addr, token := c.Address(), c.API().Token()
	runScripts(t, "vaultscript", func(env *testscript.Env) error {
		env.Setenv("VAULT_ADDR", addr)
		env.Setenv("VAULT_TOKEN", token)
		env.Setenv("ROOT_TOKEN", token)
		env.Setenv("ROOT_ADDR", addr)
		env.Setenv("VAULT_MAX_RETRIES", "1")
		return nil
	}, map[string]scriptCmd{
		"vaultkey":    vaultKeyCmd(c),
		"vaultrotate": vaultRotateCmd(c),
		"vaultminver": vaultMinVerCmd(c),
		"vaultinfo":   vaultInfoCmd(c),
	})
}

func vaultKeyCmd(c *vault.Client) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: vaultkey VAR")
		}
		name := vaulttest.KeyName()
		_, err := c.API().Logical().WriteWithContext(context.Background(), c.Mount()+"/keys/"+name, map[string]any{"type": vault.TypeAES256, "derived": true})
		ts.Check(err)
		ts.Defer(func() { c.Destroy(context.Background(), name) })
		ts.Setenv(args[0], name)
	}
}

func vaultRotateCmd(c *vault.Client) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: vaultrotate KEY")
		}
		ts.Check(c.Rotate(context.Background(), args[0]))
	}
}

func vaultMinVerCmd(c *vault.Client) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: vaultminver KEY N")
		}
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		_, err = c.API().Logical().WriteWithContext(context.Background(), c.Mount()+"/keys/"+args[0]+"/config", map[string]any{"min_decryption_version": n})
		ts.Check(err)
	}
}

func vaultInfoCmd(c *vault.Client) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: vaultinfo KEY")
		}
		info, exists, err := c.KeyInfo(context.Background(), args[0])
		ts.Check(err)
		if !exists {
			fmt.Fprintln(ts.Stdout(), "missing")
			return
		}
		fmt.Fprintf(ts.Stdout(), "latest=%d min_decryption=%d derived=%v exportable=%v plaintext_backup=%v deletion_allowed=%v\n",
			info.LatestVersion, info.MinDecryptionVersion, info.Derived, info.Exportable, info.AllowPlaintextBackup, info.DeletionAllowed)
	}
}

// fakeVaultEnv runs CLI commands in this process against the in-process
// Vault of vaultfake (through VAULT_ADDR and VAULT_TOKEN, as a user sets
// them), in a fresh home, store and state directory.
type fakeVaultEnv struct {
	*fakeKMSEnv
	vault  *vaultfake.Fake
	client *vault.Client
}

func newFakeVaultEnv(t *testing.T) *fakeVaultEnv {
	e := newFakeKMSEnv(t)
	f, c := vaulttest.Fake(t)
	for k, v := range map[string]string{
		"VAULT_ADDR": f.URL(), "VAULT_TOKEN": f.Token(), "VAULT_MAX_RETRIES": "0",
		"VAULT_NAMESPACE": "", "VAULT_AGENT_ADDR": "", "VAULT_CACERT": "", "VAULT_CAPATH": "", "CHATVAULT_VAULT_MOUNT": "",
	} {
		t.Setenv(k, v)
	}
	return &fakeVaultEnv{fakeKMSEnv: e, vault: f, client: c}
}

var initID = regexp.MustCompile(`id +([0-9a-f]{32})`)

func (e *fakeVaultEnv) initArchive(args ...string) string {
	e.t.Helper()
	out := e.mustRun(append([]string{"init"}, args...)...)
	m := initID.FindStringSubmatch(out)
	if m == nil {
		e.t.Fatalf("no archive id in %q", out)
	}
	return m[1]
}

// The calls each command makes: init --vault-transit reads the key (twice:
// before anything is asked, and in Wrap) and encrypts once, then decrypts
// once to check the wrapper; opening the archive is one decrypt; commands
// that need no key make no call, and a device key tried first makes Vault
// unnecessary.
func TestVaultCallsPerRun(t *testing.T) {
	e := newFakeVaultEnv(t)
	key := vaulttest.KeyOn(t, e.client)
	e.vault.ResetCalls()
	e.mustRun("init", "Work", "--vault-transit", key)
	if n := e.vault.Calls(vaultfake.OpEncrypt); n != 1 || e.vault.Calls(vaultfake.OpKeyCreate) != 0 || e.vault.TotalCalls() > 4 {
		t.Errorf("init --vault-transit: %v", e.vault.CallCounts())
	}
	chats := e.writeFile("chats.jsonl", testChats)
	for _, tc := range []struct {
		args    []string
		decrypt int
	}{
		{[]string{"export", "Work", chats}, 1},
		{[]string{"restore", "Work", "-o", filepath.Join(e.dir, "out")}, 1},
		{[]string{"ls"}, 0},
		{[]string{"keys", "list", "Work"}, 0},
		{[]string{"verify", "Work", "--keyless"}, 0},
	} {
		e.vault.ResetCalls()
		e.mustRun(tc.args...)
		if got := e.vault.Calls(vaultfake.OpDecrypt); got != tc.decrypt || e.vault.TotalCalls() != tc.decrypt {
			t.Errorf("%v: %v; want %d decrypt", tc.args, e.vault.CallCounts(), tc.decrypt)
		}
	}
	out := e.mustRun("device", "init")
	rec := strings.Fields(strings.SplitAfter(out, "recipient ")[1])[0]
	e.mustRun("keys", "add", "Work", "--recipient", rec)
	e.vault.ResetCalls()
	e.mustRun("export", "Work", chats)
	if n := e.vault.TotalCalls(); n != 0 {
		t.Errorf("export with a device key: %d Vault calls, want 0", n)
	}
}

// Vault's failures and their exit codes and hints: sealed or unreachable is
// 5, a refusal 4 with a hint about Vault (never about a passphrase); a typo
// creates no key.
func TestVaultFailuresExitCodes(t *testing.T) {
	e := newFakeVaultEnv(t)
	key := vaulttest.KeyOn(t, e.client)
	e.mustRun("init", "Work", "--vault-transit", key)

	// A typo: exit 4, no key made, not even an encrypt call.
	e.vault.ResetCalls()
	code, _, errOut := e.run("init", "Typo", "--vault-transit", key+"x")
	if code != exitKey || !strings.Contains(errOut, "Transit key not found") || !strings.Contains(errOut, "--vault-transit-create") || strings.Contains(errOut, "passphrase") {
		t.Errorf("typo: exit %d\n%s", code, errOut)
	}
	if _, ok := e.vault.Key("transit", key+"x"); ok || e.vault.Calls(vaultfake.OpEncrypt) != 0 {
		t.Errorf("a typo created a key: %v", e.vault.CallCounts())
	}
	// A key that is not derived cannot wrap.
	if _, err := e.client.API().Logical().Write("transit/keys/plain", map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := e.run("init", "Plain", "--vault-transit", "plain"); code != exitKey || !strings.Contains(errOut, "not derived") || !strings.Contains(errOut, "hint: chatvault wraps only with derived") {
		t.Errorf("a key not derived: exit %d\n%s", code, errOut)
	}

	for _, tc := range []struct {
		name  string
		setup func()
		undo  func()
		code  int
		msg   string
		hint  string
	}{
		{"sealed", e.vault.Seal, e.vault.Unseal, exitUnavailable, "Vault sealed", "hint: check VAULT_ADDR and the network, and that Vault is unsealed"},
		{"outage", func() {
			e.vault.SetHook(func(r *http.Request, op string) (int, []string) { return 502, []string{"bad gateway"} })
		}, func() { e.vault.SetHook(nil) }, exitUnavailable, "Vault unreachable", "hint: check VAULT_ADDR"},
		{"denied", func() { t.Setenv("VAULT_TOKEN", "wrong") }, func() { t.Setenv("VAULT_TOKEN", e.vault.Token()) }, exitKey, "permission denied", "hint: Vault denied the token"},
		{"too old", func() {
			e.client.Rotate(context.Background(), key)
			e.client.API().Logical().Write("transit/keys/"+key+"/config", map[string]any{"min_decryption_version": 2})
		}, func() {
			e.client.API().Logical().Write("transit/keys/"+key+"/config", map[string]any{"min_decryption_version": 1})
		}, exitKey, "key version 1)", "hint: the wrapper's Transit key version is below the key's min_decryption_version"},
		{"no mount", func() { e.vault.Unmount("transit") }, func() { e.vault.Mount("transit", "transit") }, exitKey, "no Transit secrets engine", "hint: no Transit secrets engine at that path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			defer tc.undo()
			code, _, errOut := e.run("ls", "Work")
			if code != tc.code || !strings.Contains(errOut, tc.msg) || !strings.Contains(errOut, tc.hint) || strings.Contains(errOut, "check the passphrase") {
				t.Errorf("exit %d, want %d with %q and %q:\n%s", code, tc.code, tc.msg, tc.hint, errOut)
			}
		})
	}
	// The no-mount case dropped the keys: the wrapper's key is gone.
	code, _, errOut = e.run("ls", "Work")
	if code != exitKey || !strings.Contains(errOut, "Transit key not found") || !strings.Contains(errOut, "hint: the Transit key named above does not exist") {
		t.Errorf("key gone: exit %d\n%s", code, errOut)
	}
}

// With a passphrase wrapper too, an unreachable Vault is no failure when the
// passphrase opens the archive; without the passphrase it is (exit 5), with
// both causes named.
func TestVaultUnreachableFallsBack(t *testing.T) {
	e := newFakeVaultEnv(t)
	key := vaulttest.KeyOn(t, e.client)
	pass := e.writeFile("pass.txt", "vault-fallback-pass")
	e.mustRun("init", "Work", "--vault-transit", key, "--passphrase", "--passphrase-file", pass)
	e.vault.Seal()
	e.mustRun("ls", "Work", "--passphrase-file", pass)
	code, _, errOut := e.run("ls", "Work")
	if code != exitUnavailable || !strings.Contains(errOut, "Vault sealed") || !strings.Contains(errOut, "no other key given opens it") {
		t.Errorf("sealed, no passphrase: exit %d\n%s", code, errOut)
	}
}

// --vault-mount (and the config key vault-mount) choose the Transit engine of
// new wrappers; an existing wrapper opens with the mount it records, whatever
// --vault-mount says.
func TestVaultMount(t *testing.T) {
	e := newFakeVaultEnv(t)
	e.vault.Mount("team/transit", "transit")
	team, err := vault.NewFromAPI(e.client.API(), "team/transit")
	if err != nil {
		t.Fatal(err)
	}
	key := vaulttest.KeyOn(t, team)
	out := e.mustRun("--vault-mount", "team/transit", "init", "Work", "--vault-transit", key)
	if !strings.Contains(out, "  vault key    team/transit/"+key+" v1\n") {
		t.Errorf("init: %s", out)
	}
	e.mustRun("ls", "Work") // default --vault-mount
	// The key is not on the default mount: refused, naming the mount.
	if code, _, errOut := e.run("keys", "add", "Work", "--vault-transit", key); code != exitKey || !strings.Contains(errOut, " transit/"+key+": Transit key not found") {
		t.Errorf("keys add on the default mount: exit %d\n%s", code, errOut)
	}
	t.Setenv("CHATVAULT_VAULT_MOUNT", "team/transit")
	out = e.mustRun("keys", "add", "Work", "--vault-transit", key)
	if !strings.Contains(out, "(vault-transit, team/transit/"+key+" v1)") {
		t.Errorf("keys add with vault-mount from the environment: %s", out)
	}
	if code, _, errOut := e.run("--vault-mount", "../x", "init", "Bad", "--vault-transit", key); code != exitUsage || !strings.Contains(errOut, "not a mount path") {
		t.Errorf("a bad mount: exit %d\n%s", code, errOut)
	}
}

// init --vault-transit-create makes chatvault-<id> (derived, not exportable,
// no plaintext backup, deletion allowed) and marks the wrapper dedicated; an
// init that fails after making the key deletes it.
func TestVaultCreateDedicated(t *testing.T) {
	e := newFakeVaultEnv(t)
	id := e.initArchive("Ded", "--vault-transit-create")
	ks, ok := e.vault.Key("transit", vault.DedicatedName(id))
	if !ok || !ks.Derived || ks.Exportable || ks.AllowPlaintextBackup || !ks.DeletionAllowed || ks.Type != vault.TypeAES256 {
		t.Fatalf("dedicated key: %+v %v", ks, ok)
	}
	out := e.mustRun("keys", "list", "Ded")
	if !regexp.MustCompile(`(?m)^[0-9a-f]{12}  vault-transit  transit/chatvault-` + id + ` v1  yes `).MatchString(out) {
		t.Errorf("keys list: %s", out)
	}
	out = e.mustRun("--json", "keys", "list", "Ded")
	if !strings.Contains(out, `"wrapper_type":"vault-transit","vault_key":"transit/chatvault-`+id+`","key_version":1,"dedicated":true`) {
		t.Errorf("keys list --json: %s", out)
	}
	// A re-key keeps it dedicated.
	out = e.mustRun("rotate", "Ded", "--rekey")
	if !strings.Contains(out, "(vault-transit, transit/chatvault-"+id+" v1)") {
		t.Errorf("rekey: %s", out)
	}
	if out := e.mustRun("--json", "keys", "list", "Ded"); !strings.Contains(out, `"dedicated":true`) {
		t.Errorf("after the re-key: %s", out)
	}

	// The engine checks the new wrapper by decrypting it: make that fail.
	e.vault.SetHook(func(r *http.Request, op string) (int, []string) {
		if op == vaultfake.OpDecrypt {
			return 400, []string{"cipher: message authentication failed"}
		}
		return 0, nil
	})
	before := e.vault.Keys("transit")
	code, _, errOut := e.run("init", "Fails", "--vault-transit-create")
	e.vault.SetHook(nil)
	if code == 0 || !strings.Contains(errOut, "made for the archive was deleted") {
		t.Errorf("failing init: exit %d\n%s", code, errOut)
	}
	if after := e.vault.Keys("transit"); len(after) != len(before) {
		t.Errorf("keys before %v, after %v", before, after)
	}

	// A token that may not create keys: exit 4, and no word of deleting a
	// key that was never made.
	e.vault.AddToken("reader", func(method, path string) bool { return method == "GET" })
	t.Setenv("VAULT_TOKEN", "reader")
	code, _, errOut = e.run("init", "Denied", "--vault-transit-create")
	if code != exitKey || !strings.Contains(errOut, "permission denied") || strings.Contains(errOut, "made for the archive") {
		t.Errorf("init with a read-only token: exit %d\n%s", code, errOut)
	}
	// A token that may create keys but not encrypt: the key made is deleted.
	e.vault.AddToken("noencrypt", func(method, path string) bool { return !strings.Contains(path, "/encrypt/") })
	t.Setenv("VAULT_TOKEN", "noencrypt")
	code, _, errOut = e.run("init", "NoEncrypt", "--vault-transit-create")
	if code != exitKey || !strings.Contains(errOut, "made for the archive was deleted") {
		t.Errorf("init with a token that may not encrypt: exit %d\n%s", code, errOut)
	}
	if after := e.vault.Keys("transit"); len(after) != len(before) {
		t.Errorf("keys before %v, after %v", before, after)
	}
}

// rotate --rewrap after a rotation in Vault, and --to-vault-transit, on the
// fake; a wrapper Vault no longer rewraps (below min_decryption_version) is
// encrypted again when another key opened the archive.
func TestVaultRotate(t *testing.T) {
	e := newFakeVaultEnv(t)
	key := vaulttest.KeyOn(t, e.client)
	pass := e.writeFile("pass.txt", "vault-rotate-pass")
	e.mustRun("init", "Work", "--vault-transit", key, "--passphrase", "--passphrase-file", pass)
	if out := e.mustRun("rotate", "Work", "--rewrap"); !strings.Contains(out, "nothing to rewrap") {
		t.Errorf("rewrap with nothing to do: %s", out)
	}
	e.client.Rotate(context.Background(), key)
	e.vault.ResetCalls()
	out := e.mustRun("rotate", "Work", "--rewrap")
	if !strings.Contains(out, "added    ") || !strings.Contains(out, key+" v2)") || e.vault.Calls(vaultfake.OpRewrap) != 1 || e.vault.Calls(vaultfake.OpEncrypt) != 0 {
		t.Errorf("rewrap: %v\n%s", e.vault.CallCounts(), out)
	}
	// Below min_decryption_version: rewrap refused, the passphrase opens, and
	// the newest version encrypts instead.
	e.client.Rotate(context.Background(), key)
	e.client.Rotate(context.Background(), key)
	e.client.API().Logical().Write("transit/keys/"+key+"/config", map[string]any{"min_decryption_version": 3})
	e.vault.ResetCalls()
	out = e.mustRun("-v", "rotate", "Work", "--rewrap", "--passphrase-file", pass)
	if !strings.Contains(out, key+" v4)") || e.vault.Calls(vaultfake.OpEncrypt) != 1 {
		t.Errorf("rewrap of a version too old: %v\n%s", e.vault.CallCounts(), out)
	}
	for _, args := range [][]string{
		{"rotate", "Work", "--rewrap", "--passphrase"},
		{"rotate", "Work", "--rewrap", "--rekey"},
		{"rotate", "--rewrap"},
		{"rotate", "Work", "--rewrap", "--replace"},
		{"rotate", "--all", "--from-kms", "a", "--to-vault-transit", key},
	} {
		if code, _, _ := e.run(args...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	other := vaulttest.KeyOn(t, e.client)
	out = e.mustRun("rotate", "Work", "--to-vault-transit", other)
	if !strings.Contains(out, "(vault-transit, transit/"+other+" v1)") || !strings.Contains(out, "removed  ") {
		t.Errorf("--to-vault-transit: %s", out)
	}
	if code, _, errOut := e.run("rotate", "Work", "--to-vault-transit", other); code != exitUsage || !strings.Contains(errOut, "--rewrap") {
		t.Errorf("rotate to the same key: exit %d\n%s", code, errOut)
	}
	e.mustRun("restore", "Work", "-o", filepath.Join(e.dir, "out"))
}

func TestVaultExitCode(t *testing.T) {
	ctx := context.Background()
	wrapped := func(class error) error {
		return fmt.Errorf("archive x: %w: %w", archive.ErrWrongKey, &vault.Error{Op: "decrypt with", Key: "transit/k", Class: class})
	}
	for _, tc := range []struct {
		err  error
		code int
		hint string
	}{
		{&vault.Error{Class: vault.ErrUnreachable}, exitUnavailable, "check VAULT_ADDR"},
		{fmt.Errorf("%w (and no other key given opens it: %w)", &vault.Error{Class: vault.ErrSealed}, archive.ErrWrongKey), exitUnavailable, "unsealed"},
		{wrapped(vault.ErrDenied), exitKey, "Vault denied the token"},
		{wrapped(vault.ErrKeyNotFound), exitKey, "does not exist"},
		{wrapped(vault.ErrWrongContext), exitKey, "derivation context"},
		{wrapped(vault.ErrTooOld), exitKey, "min_decryption_version"},
		{&vault.Error{Class: vault.ErrKeyNotFound}, exitKey, "--vault-transit-create"},
		{&vault.Error{Class: vault.ErrKeyExists}, exitError, ""},
	} {
		code, hint := exitCode(ctx, tc.err, true)
		if code != tc.code || !strings.Contains(hint, tc.hint) || strings.Contains(hint, "passphrase, or") || (tc.hint == "" && hint != "") {
			t.Errorf("%v: exit %d %q, want %d %q", tc.err, code, hint, tc.code, tc.hint)
		}
	}
	if !errors.Is(wrapped(vault.ErrTooOld), vault.ErrRefused) {
		t.Fatal("ErrTooOld is not a refusal")
	}
}
