package recovery

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testKey is bytes 0..31. Its encoding and KEK were computed independently with
// Python (base64.b32encode translated to Crockford's alphabet; HKDF from hmac).
var testKey = func() Key {
	var k Key
	for i := range k {
		k[i] = byte(i)
	}
	return k
}()

const (
	testKeyString = "000G4-0R40M-30E20-9185G-R38E1-W8124-GK2GA-HC5RR-34D1P-70X3R-FP638"
	testKeyKEK    = "9a6ff2767ad84a7645109c547c313ca3d2e9c1c25095c647310c17ebf0c29105"
)

func TestStringVector(t *testing.T) {
	if got := testKey.String(); got != testKeyString {
		t.Errorf("String = %s, want %s", got, testKeyString)
	}
	k, err := Parse(testKeyString)
	if err != nil {
		t.Fatal(err)
	}
	if k != testKey {
		t.Errorf("Parse = %v, want %v", k, testKey)
	}
}

func TestKEKVector(t *testing.T) {
	kek := testKey.KEK()
	if got := hex.EncodeToString(kek[:]); got != testKeyKEK {
		t.Errorf("KEK = %s, want %s", got, testKeyKEK)
	}
	if kek == [32]byte(testKey) {
		t.Error("KEK is the raw recovery key")
	}
}

var formatRE = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){10}$`)

func TestNewRoundTrip(t *testing.T) {
	seen := map[Key]bool{}
	for range 200 {
		k, err := New(nil)
		if err != nil {
			t.Fatal(err)
		}
		if seen[k] {
			t.Fatal("New returned the same key twice")
		}
		seen[k] = true
		s := k.String()
		if !formatRE.MatchString(s) {
			t.Fatalf("String = %q, not 11 groups of 5 Crockford characters", s)
		}
		got, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if got != k {
			t.Fatalf("Parse(String()) = %v, want %v", got, k)
		}
	}
}

func TestNewFromReader(t *testing.T) {
	k, err := New(bytes.NewReader(testKey[:]))
	if err != nil || k != testKey {
		t.Errorf("New(reader) = %v, %v; want %v", k, err, testKey)
	}
	if _, err := New(bytes.NewReader(make([]byte, 31))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("New(short reader) err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestParseLenient(t *testing.T) {
	plain := strings.ReplaceAll(testKeyString, "-", "")
	for name, in := range map[string]string{
		"canonical":       testKeyString,
		"lower case":      strings.ToLower(testKeyString),
		"no dashes":       plain,
		"spaces":          strings.ReplaceAll(testKeyString, "-", " "),
		"lines":           plain[:20] + "\n" + plain[20:40] + "\r\n" + plain[40:] + "\n",
		"surrounding":     "  \t" + testKeyString + "\n\n",
		"O for 0":         strings.ReplaceAll(testKeyString, "0", "O"),
		"o for 0":         strings.ReplaceAll(testKeyString, "0", "o"),
		"I for 1":         strings.ReplaceAll(testKeyString, "1", "I"),
		"l for 1":         strings.ReplaceAll(testKeyString, "1", "l"),
		"L for 1":         strings.ReplaceAll(testKeyString, "1", "L"),
		"unicode dashes":  strings.ReplaceAll(testKeyString, "-", "\u2013"),
		"byte order mark": "\uFEFF" + testKeyString,
		"double dashes":   strings.ReplaceAll(testKeyString, "-", "--"),
	} {
		k, err := Parse(in)
		if err != nil {
			t.Errorf("%s: Parse: %v", name, err)
		} else if k != testKey {
			t.Errorf("%s: Parse = %v, want %v", name, k, testKey)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	plain := strings.ReplaceAll(testKeyString, "-", "")
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "wrong length: 0 characters, want 55"},
		{"blank", " - \n", "wrong length: 0 characters"},
		{"one short", plain[:54], "wrong length: 54 characters, want 55"},
		{"one long", plain + "0", "wrong length: 56 characters"},
		{"doubled", plain + plain, "wrong length: 110 characters"},
		{"U", "U" + plain[1:], `bad character 'U' at position 1 (group 1, character 1)`},
		{"u in group 3", plain[:12] + "u" + plain[13:], `bad character 'u' at position 13 (group 3, character 3)`},
		{"punctuation", testKeyString[:6] + "." + testKeyString[6:], `bad character '.' at position 6 (group 2, character 1)`},
		{"underscore", strings.ReplaceAll(testKeyString, "-", "_"), `bad character '_' at position 6`},
		{"non-ASCII", "Ä" + plain[1:], `bad character 'Ä' at position 1`},
		{"changed character", "1" + plain[1:], "checksum mismatch (probably a typo)"},
		{"swapped", plain[:3] + plain[4:5] + plain[3:4] + plain[5:], "checksum mismatch (probably a typo)"},
		{"padding bits", plain[:54] + "9", "character 55 is not possible as the last one"},
		{"sheet text", "CHATVAULT RECOVERY KEY", `bad character 'U'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := Parse(tt.in)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse = %v, %v; want an error wrapping ErrInvalid", k, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %q, want it to contain %q", err, tt.want)
			}
			if k != (Key{}) {
				t.Errorf("Parse returned a non-zero key with an error")
			}
		})
	}
}

// TestSingleCharacterChange replaces each character of fixed keys by every other
// character of the alphabet: each change must be rejected.
func TestSingleCharacterChange(t *testing.T) {
	keys := []Key{testKey, {}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	for _, k := range keys {
		s := []byte(strings.ReplaceAll(k.String(), "-", ""))
		for i := range s {
			orig := s[i]
			for _, c := range []byte(Alphabet) {
				if c == orig {
					continue
				}
				s[i] = c
				if got, err := Parse(string(s)); !errors.Is(err, ErrInvalid) {
					t.Errorf("key %v: changing character %d to %c: Parse = %v, %v; want ErrInvalid", k, i+1, c, got, err)
				}
			}
			s[i] = orig
		}
	}
}

func TestErrorsDoNotLeakKey(t *testing.T) {
	plain := strings.ReplaceAll(testKeyString, "-", "")
	for _, in := range []string{plain[:54], plain + "0", "1" + plain[1:], plain[:30] + "U" + plain[31:]} {
		_, err := Parse(in)
		if err == nil {
			t.Fatalf("Parse(%q) succeeded", in)
		}
		for _, g := range strings.Split(testKeyString, "-") {
			if strings.Contains(err.Error(), g) {
				t.Errorf("error %q contains key group %s", err, g)
			}
		}
	}
}

func TestSheet(t *testing.T) {
	created := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	sheet := Sheet(testKey, "arch-7f3a", "SHA256:abcd", "Family chats", created)
	for _, want := range []string{
		"CHATVAULT RECOVERY KEY",
		"Anyone who has this key can read the whole archive",
		"offline",
		"Key: 000G4-0R40M-30E20-9185G\n",
		"Key: R38E1-W8124-GK2GA-HC5RR\n",
		"Key: 34D1P-70X3R-FP638\n",
		"Archive:     arch-7f3a\n",
		"Fingerprint: SHA256:abcd\n",
		"Label:       Family chats\n",
		"Created:     2026-03-04 04:06:07 UTC\n",
		"chatvault restore ... --recovery-key-file FILE",
	} {
		if !strings.Contains(sheet, want) {
			t.Errorf("sheet lacks %q:\n%s", want, sheet)
		}
	}
	for i, line := range strings.Split(sheet, "\n") {
		if len(line) > 78 {
			t.Errorf("sheet line %d is %d characters long: %q", i+1, len(line), line)
		}
	}

	bare := Sheet(testKey, "", "", "", time.Time{})
	for _, unwanted := range []string{"Archive:", "Fingerprint:", "Label:", "Created:"} {
		if strings.Contains(bare, unwanted) {
			t.Errorf("sheet without fields contains %q", unwanted)
		}
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "recovery.txt")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadFileSheetRoundTrip(t *testing.T) {
	for range 20 {
		k, err := New(nil)
		if err != nil {
			t.Fatal(err)
		}
		sheet := Sheet(k, "arch-1", "fp", "label", time.Now())
		got, err := ReadFile(writeFile(t, sheet))
		if err != nil {
			t.Fatalf("ReadFile(sheet): %v\n%s", err, sheet)
		}
		if got != k {
			t.Fatalf("ReadFile(sheet) = %v, want %v", got, k)
		}
	}
}

func TestReadFileVariants(t *testing.T) {
	sheet := Sheet(testKey, "arch-1", "fp", "label", time.Now())
	plain := strings.ReplaceAll(testKeyString, "-", "")
	for name, content := range map[string]string{
		"sheet":               sheet,
		"sheet CRLF":          strings.ReplaceAll(sheet, "\n", "\r\n"),
		"sheet indented":      strings.ReplaceAll(sheet, "Key: ", "    key:  "),
		"sheet in markdown":   "# My keys\n\n" + strings.ReplaceAll(sheet, "Key: ", "- Key: ") + "\n",
		"only key lines":      "Key: 000G4-0R40M-30E20-9185G\nKey: R38E1-W8124-GK2GA-HC5RR\nKey: 34D1P-70X3R-FP638\n",
		"bare key":            testKeyString + "\n",
		"bare key no newline": testKeyString,
		"bare key lines":      plain[:25] + "\n" + plain[25:] + "\n",
		"bare key lower":      strings.ToLower(testKeyString) + "\r\n",
	} {
		k, err := ReadFile(writeFile(t, content))
		if err != nil {
			t.Errorf("%s: ReadFile: %v", name, err)
		} else if k != testKey {
			t.Errorf("%s: ReadFile = %v, want %v", name, k, testKey)
		}
	}
}

// A label cannot inject a "Key:" line into a sheet.
func TestSheetFieldsCannotForgeKeyLines(t *testing.T) {
	other, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	evil := "x\nKey: " + other.String() + "\rKey: 00000\u2028Key: 11111"
	sheet := Sheet(testKey, evil, evil, evil, time.Time{})
	k, err := ReadFile(writeFile(t, sheet))
	if err != nil {
		t.Fatalf("ReadFile: %v\n%s", err, sheet)
	}
	if k != testKey {
		t.Fatalf("ReadFile = %v, want %v\n%s", k, testKey, sheet)
	}
}

func TestReadFileErrors(t *testing.T) {
	sheet := Sheet(testKey, "arch-1", "fp", "label", time.Time{})
	tests := []struct {
		name, content, want string
		invalid             bool
	}{
		{"empty", "", "wrong length: 0", true},
		{"prose", "my recovery key is in the safe\n", "no \"Key:\" lines and is not a bare recovery key", true},
		{"missing key line", strings.Replace(sheet, "Key: R38E1-W8124-GK2GA-HC5RR\n", "", 1), "wrong length: 35 characters", true},
		{"typo on key line", strings.Replace(sheet, "Key: R38E1", "Key: R38E2", 1), "checksum mismatch", true},
		{"two sheets", sheet + sheet, "wrong length: 110", true},
		{"huge", strings.Repeat("0", maxFileSize+1), "not a recovery key file", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content)
			_, err := ReadFile(path)
			if err == nil {
				t.Fatal("ReadFile succeeded")
			}
			if tt.invalid != errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = %v, want %v", err, !tt.invalid, tt.invalid)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q should contain %q and the path", err, tt.want)
			}
		})
	}

	_, err := ReadFile(filepath.Join(t.TempDir(), "missing"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want os.ErrNotExist", err)
	}
}
