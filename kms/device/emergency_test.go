package device

import (
	"bytes"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// The emergency path of the package documentation: open a wrapper with age
// alone, as someone without chatvault would.

// EnvAge names an age binary (e.g. built with
// `GOBIN=/tmp/age go install filippo.io/age/cmd/age@v1.3.2`) for
// TestEmergencyWithAgeCLI; unset, that test is skipped.
const EnvAge = "CHATVAULT_TEST_AGE"

// encryptRaw makes an armored age file of payload for recipient, as Wrap does
// but with any payload.
func encryptRaw(t *testing.T, recipient, payload string) string {
	t.Helper()
	r, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, payload)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// keyFromPayload reads the documented payload the way a person would: find
// the "archive:" and "key:" lines.
func keyFromPayload(t *testing.T, payload string) (archive string, key []byte) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(payload, "\n"), "\n")
	if len(lines) != 3 || lines[0] != "chatvault archive key v1" {
		t.Fatalf("payload is not the documented three lines:\n%s", payload)
	}
	archive, ok1 := strings.CutPrefix(lines[1], "archive: ")
	hexKey, ok2 := strings.CutPrefix(lines[2], "key: ")
	if !ok1 || !ok2 {
		t.Fatalf("payload lines are not \"archive: \" and \"key: \":\n%s", payload)
	}
	key, err := hex.DecodeString(hexKey)
	if err != nil {
		t.Fatal(err)
	}
	return archive, key
}

// writeWrapper writes a new identity and a wrapper of key to files, as the
// package documentation's recovery steps have them.
func writeWrapper(t *testing.T, key []byte) (identityPath, wrapperPath string) {
	t.Helper()
	dir := t.TempDir()
	id, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	armored, err := Wrap(id.Recipient(), archiveID, key)
	if err != nil {
		t.Fatal(err)
	}
	wrapperPath = filepath.Join(dir, "wrapper.age")
	if err := os.WriteFile(wrapperPath, []byte(armored), 0o600); err != nil {
		t.Fatal(err)
	}
	return id.Path(), wrapperPath
}

func TestEmergencyWithAgeLibrary(t *testing.T) {
	key := newKey(t)
	identityPath, wrapperPath := writeWrapper(t, key)

	// What `age -d -i identityPath wrapperPath` does, with age's API only.
	idFile, err := os.Open(identityPath)
	if err != nil {
		t.Fatal(err)
	}
	defer idFile.Close()
	ids, err := age.ParseIdentities(idFile)
	if err != nil {
		t.Fatal(err)
	}
	wf, err := os.Open(wrapperPath)
	if err != nil {
		t.Fatal(err)
	}
	defer wf.Close()
	r, err := age.Decrypt(armor.NewReader(wf), ids...)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	archive, got := keyFromPayload(t, string(plain))
	if archive != archiveID || !bytes.Equal(got, key) {
		t.Fatalf("recovered archive %q key %x, want %q %x", archive, got, archiveID, key)
	}
}

func TestEmergencyWithAgeCLI(t *testing.T) {
	bin := os.Getenv(EnvAge)
	if bin == "" && os.Getenv("CHATVAULT_TEST_REQUIRE_SERVERS") == "1" {
		t.Fatal(EnvAge + " is not set, and CHATVAULT_TEST_REQUIRE_SERVERS=1 (scripts/test.sh installs age and sets it)")
	}
	if bin == "" {
		t.Skip(EnvAge + " is not set: no age binary to test the emergency recovery with " +
			"(GOBIN=/tmp/age go install filippo.io/age/cmd/age@v1.3.2; " + EnvAge + "=/tmp/age/age)")
	}
	key := newKey(t)
	identityPath, wrapperPath := writeWrapper(t, key)

	out, err := exec.Command(bin, "-d", "-i", identityPath, wrapperPath).Output()
	if err != nil {
		t.Fatalf("age -d: %v\n%s", err, stderrOf(err))
	}
	archive, got := keyFromPayload(t, string(out))
	if archive != archiveID || !bytes.Equal(got, key) {
		t.Fatalf("age recovered archive %q key %x, want %q %x", archive, got, archiveID, key)
	}

	// The other way: a wrapper made by the age tool from a payload written by
	// hand opens with Unwrap.
	id, err := Load(identityPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-e", "-a", "-r", id.Recipient())
	cmd.Stdin = strings.NewReader(PayloadHeader + "\narchive: " + archiveID + "\nkey: " + hex.EncodeToString(key) + "\n")
	armored, err := cmd.Output()
	if err != nil {
		t.Fatalf("age -e: %v\n%s", err, stderrOf(err))
	}
	got, err = id.Unwrap(archiveID, string(armored))
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Unwrap of the age tool's wrapper: %v", err)
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
