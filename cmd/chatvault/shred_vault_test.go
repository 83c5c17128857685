package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archive/shred"
	"github.com/chatvault/chatvault/kms/vault"
	"github.com/chatvault/chatvault/kms/vault/vaultfake"
)

const twoConversations = `{"conversation":"telegram:1001","conversation_name":"Alpha chat","id":"1","time":"2024-03-01T08:00:00Z","kind":"message","text":"one"}
{"conversation":"telegram:2002","conversation_name":"Beta chat","id":"2","time":"2024-03-01T10:00:00Z","kind":"message","text":"three"}
`

// A conversation shred of an archive whose Vault key is dedicated to it
// (init --vault-transit-create) moves the archive to a new dedicated key,
// chatvault-<id>-<suffix>, and deletes the old one after the commit. A new
// key that cannot be made changes nothing; an old key that cannot be deleted
// leaves the shred incomplete (exit 6), and a rerun deletes it.
func TestShredConversationVaultDedicated(t *testing.T) {
	e := newFakeVaultEnv(t)
	id := e.initArchive("Ded", "--vault-transit-create")
	old := vault.DedicatedName(id)
	e.mustRun("export", "Ded", e.writeFile("chats.jsonl", twoConversations))

	// Creating the new key fails: nothing is committed, the old key stays.
	e.vault.SetHook(func(r *http.Request, op string) (int, []string) {
		if op == vaultfake.OpKeyCreate {
			return http.StatusForbidden, []string{"permission denied"}
		}
		return 0, nil
	})
	code, out, errOut := e.run("shred", "Ded", "--conversation", "Alpha chat", "--yes")
	e.vault.SetHook(nil)
	if code == 0 || !strings.Contains(errOut, "making a new dedicated Vault key") {
		t.Fatalf("shred with no key creation: exit %d\n%s%s", code, out, errOut)
	}
	if ks := e.vault.Keys("transit"); len(ks) != 1 || ks[0] != old {
		t.Fatalf("keys after a failed shred: %v", ks)
	}
	if out := e.mustRun("ls", "Ded"); strings.Contains(out, "shred") || !strings.Contains(out, "Alpha chat") {
		t.Fatalf("ls after a failed shred: %s", out)
	}

	// Deleting the old key fails after the commit: incomplete (6).
	e.vault.SetHook(func(r *http.Request, op string) (int, []string) {
		if op == vaultfake.OpKeyDelete {
			return http.StatusServiceUnavailable, []string{"Vault is sealed"}
		}
		return 0, nil
	})
	report := filepath.Join(e.dir, "conv.json")
	code, out, errOut = e.run("shred", "Ded", "--conversation", "Alpha chat", "--yes", "--report", report)
	e.vault.SetHook(nil)
	if code != exitConflict {
		t.Fatalf("shred with no key deletion: exit %d\n%s%s", code, out, errOut)
	}
	ks := e.vault.Keys("transit")
	newKey := ""
	for _, k := range ks {
		if strings.HasPrefix(k, old+"-") {
			newKey = k
		}
	}
	if len(ks) != 2 || newKey == "" || !vault.IsDedicatedName(newKey, id) {
		t.Fatalf("keys after an incomplete shred: %v", ks)
	}
	if st, ok := e.vault.Key("transit", newKey); !ok || !st.Derived || st.Exportable || st.AllowPlaintextBackup || !st.DeletionAllowed {
		t.Fatalf("new key: %+v", st)
	}
	out = e.mustRun("keys", "list", "Ded")
	if !regexp.MustCompile(`(?m)^[0-9a-f]{12}  vault-transit  transit/`+newKey+` v1  yes `).MatchString(out) || strings.Contains(out, old+" ") {
		t.Fatalf("keys list: %s", out)
	}

	// The rerun finishes: the old key is deleted, and the report says so.
	out = e.mustRun("shred", "Ded", "--conversation", "Alpha chat", "--yes", "--report", report)
	if !strings.Contains(out, "finishing the interrupted shred") || !strings.Contains(out, "Vault key transit/"+old+": deleted by this shred") {
		t.Fatalf("rerun: %s", out)
	}
	if _, ok := e.vault.Key("transit", old); ok {
		t.Fatalf("the old key %s survives", old)
	}
	if _, ok := e.vault.Key("transit", newKey); !ok {
		t.Fatalf("the new key %s is gone", newKey)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	r, err := shred.ParseReport(b)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Complete || r.Grade != shred.GradeFinal {
		t.Errorf("report: complete %v, grade %s", r.Complete, r.Grade)
	}
	found := false
	for _, k := range r.VaultKeys {
		found = found || k.Key == "transit/"+old && k.Action == shred.VaultDeleted
	}
	if !found {
		t.Errorf("report's Vault keys: %+v", r.VaultKeys)
	}

	// The archive opens with the new key; the other conversation restores.
	e.mustRun("verify", "Ded", "--read-data")
	out = e.mustRun("restore", "Ded", "-o", filepath.Join(e.dir, "out"))
	if !strings.Contains(out, "restored 1 conversation (1 message)") {
		t.Errorf("restore: %s", out)
	}
}
