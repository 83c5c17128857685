package device

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"filippo.io/age"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	rand.Read(k)
	return k
}

func newIdentity(t *testing.T) *Identity {
	t.Helper()
	id, err := Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

const archiveID = "3f2a9c1e5b7d4a6c8e0f1a2b3c4d5e6f"

func TestRoundTrip(t *testing.T) {
	id := newIdentity(t)
	key := newKey(t)
	armored, err := Wrap(id.Recipient(), archiveID, key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(armored, "-----BEGIN AGE ENCRYPTED FILE-----\n") || !strings.HasSuffix(armored, "-----END AGE ENCRYPTED FILE-----\n") {
		t.Fatalf("not an armored age file:\n%s", armored)
	}
	if strings.Contains(armored, hex.EncodeToString(key)) || strings.Contains(armored, archiveID) {
		t.Fatal("the wrapper shows its payload")
	}
	got, err := id.Unwrap(archiveID, armored)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, key) {
		t.Fatal("unwrapped key differs")
	}

	// Loading the identity back from its file opens it too.
	loaded, err := Load(id.Path())
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Recipient() != id.Recipient() {
		t.Fatalf("loaded recipient %s, want %s", loaded.Recipient(), id.Recipient())
	}
	if got, err := loaded.Unwrap(archiveID, armored); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Unwrap with the loaded identity: %v", err)
	}
}

func TestAnotherIdentityCannotOpen(t *testing.T) {
	owner, other := newIdentity(t), newIdentity(t)
	armored, err := Wrap(owner.Recipient(), archiveID, newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	key, err := other.Unwrap(archiveID, armored)
	if !errors.Is(err, ErrNoIdentity) || key != nil {
		t.Fatalf("Unwrap with another identity = %v, want ErrNoIdentity", err)
	}
	if errors.Is(err, ErrMalformed) {
		t.Fatalf("%v is also ErrMalformed", err)
	}
	if _, err := Unwrap(nil, archiveID, armored); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("Unwrap without identities = %v, want ErrNoIdentity", err)
	}
	// Several identities: the matching one is found.
	got, err := Unwrap([]age.Identity{other.AgeIdentity(), owner.AgeIdentity()}, archiveID, armored)
	if err != nil || len(got) != KeySize {
		t.Fatalf("Unwrap with two identities: %v", err)
	}
}

func TestWrongArchiveRefused(t *testing.T) {
	id := newIdentity(t)
	armored, err := Wrap(id.Recipient(), archiveID, newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	key, err := id.Unwrap("00000000000000000000000000000000", armored)
	if !errors.Is(err, ErrWrongArchive) || key != nil {
		t.Fatalf("Unwrap for another archive = %v, want ErrWrongArchive", err)
	}
	if !strings.Contains(err.Error(), archiveID) {
		t.Errorf("%q does not say which archive the wrapper is for", err)
	}
}

func TestTamperedWrapperFails(t *testing.T) {
	id := newIdentity(t)
	key := newKey(t)
	armored, err := Wrap(id.Recipient(), archiveID, key)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(armored, "\n")
	// Flip one base64 character on every body line in turn (header, MAC and
	// payload), and truncate the armor.
	var variants []string
	for i := 1; i < len(lines)-2; i++ {
		for _, pos := range []int{0, len(lines[i]) / 2, len(lines[i]) - 2} {
			l := []byte(lines[i])
			if pos < 0 || pos >= len(l) {
				continue
			}
			if l[pos] == 'A' {
				l[pos] = 'B'
			} else {
				l[pos] = 'A'
			}
			v := append([]string(nil), lines...)
			v[i] = string(l)
			variants = append(variants, strings.Join(v, "\n"))
		}
	}
	variants = append(variants,
		strings.Join(append(append([]string(nil), lines[:len(lines)-3]...), lines[len(lines)-2:]...), "\n"),
		armored[:len(armored)/2],
		"",
		"not an age file",
		armored+armored,
	)
	for i, v := range variants {
		got, err := id.Unwrap(archiveID, v)
		if err == nil {
			t.Fatalf("variant %d opened:\n%s", i, v)
		}
		if got != nil {
			t.Fatalf("variant %d returned a key with %v", i, err)
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoIdentity) {
			t.Errorf("variant %d: %v, want ErrMalformed (or ErrNoIdentity for a damaged recipient stanza)", i, err)
		}
		if strings.Contains(err.Error(), hex.EncodeToString(key)) {
			t.Fatalf("variant %d: the error holds the key", i)
		}
	}
}

func TestMalformedPayloadRefused(t *testing.T) {
	id := newIdentity(t)
	key := hex.EncodeToString(newKey(t))
	good := PayloadHeader + "\narchive: " + archiveID + "\nkey: " + key + "\n"
	bad := map[string]string{
		"version 2":        strings.Replace(good, "v1", "v2", 1),
		"CRLF":             strings.ReplaceAll(good, "\n", "\r\n"),
		"no final newline": strings.TrimSuffix(good, "\n"),
		"trailing line":    good + "extra\n",
		"uppercase hex":    strings.Replace(good, key, strings.ToUpper(key), 1),
		"short key":        strings.Replace(good, key, key[:62], 1),
		"long key":         strings.Replace(good, key, key+"00", 1),
		"empty archive":    strings.Replace(good, archiveID, "", 1),
		"space in archive": strings.Replace(good, archiveID, "a b", 1),
		"lines swapped":    PayloadHeader + "\nkey: " + key + "\narchive: " + archiveID + "\n",
		"empty":            "",
	}
	if got, err := id.Unwrap(archiveID, encryptRaw(t, id.Recipient(), good)); err != nil || hex.EncodeToString(got) != key {
		t.Fatalf("the well-formed payload: %v", err)
	}
	for name, p := range bad {
		if _, err := id.Unwrap(archiveID, encryptRaw(t, id.Recipient(), p)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestWrapRefusesBadInput(t *testing.T) {
	id := newIdentity(t)
	if _, err := Wrap(id.Recipient(), archiveID, make([]byte, 16)); err == nil {
		t.Error("wrapped a 16-byte key")
	}
	for _, a := range []string{"", "a b", "a\nb", strings.Repeat("a", 257)} {
		if _, err := Wrap(id.Recipient(), a, newKey(t)); !errors.Is(err, ErrBadArchiveID) {
			t.Errorf("Wrap for archive %q = %v, want ErrBadArchiveID", a, err)
		}
	}
	if _, err := Wrap("age1notarecipient", archiveID, newKey(t)); err == nil {
		t.Error("wrapped for a malformed recipient")
	}
}

func TestIdentityFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "chatvault")
	id, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if id.Path() != filepath.Join(dir, FileName) {
		t.Errorf("path %s", id.Path())
	}
	data, err := os.ReadFile(id.Path())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) != 4 || lines[3] != "" ||
		!strings.HasPrefix(lines[0], "# created: ") ||
		lines[1] != "# public key: "+id.Recipient() ||
		!strings.HasPrefix(lines[2], "AGE-SECRET-KEY-1") {
		t.Fatalf("identity file is not in age-keygen's format:\n%s", data)
	}
	if runtime.GOOS != "windows" {
		st, err := os.Stat(id.Path())
		if err != nil {
			t.Fatal(err)
		}
		if m := st.Mode().Perm(); m != 0o600 {
			t.Errorf("identity file mode %o, want 600", m)
		}
		st, err = os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m := st.Mode().Perm(); m != 0o700 {
			t.Errorf("directory mode %o, want 700", m)
		}
	}

	_, err = Create(dir)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second Create = %v, want ErrExists", err)
	}
	after, err := os.ReadFile(id.Path())
	if err != nil || !bytes.Equal(after, data) {
		t.Fatal("the second Create changed the identity file")
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	a, b := newIdentity(t), newIdentity(t)
	ra, _ := os.ReadFile(a.Path())
	rb, _ := os.ReadFile(b.Path())
	cases := map[string]string{
		"empty":          "",
		"comments only":  "# nothing\n",
		"two identities": string(ra) + string(rb),
		"garbage":        "AGE-SECRET-KEY-1NOTAKEY\n",
	}
	for name, content := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); !errors.Is(err, ErrNotIdentity) {
			t.Errorf("%s: %v, want ErrNotIdentity", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/tmp/xdg-test")
	t.Setenv("HOME", "/tmp/home-test")
	p, err := DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.UserConfigDir()
	if want := filepath.Join(cfg, "chatvault", FileName); p != want {
		t.Fatalf("DefaultPath = %s, want %s", p, want)
	}
}
