// Package recovery implements recovery keys: 256 random bits that a user keeps
// offline (printed, or in a password manager) and that can unwrap an archive key
// when the passphrase is lost.
//
// # Human format
//
// A recovery key is written as its 32 bytes followed by a 2-byte checksum (the first
// two bytes of SHA-256 of the key), 34 bytes in all, in Crockford's base32
// (alphabet 0123456789ABCDEFGHJKMNPQRSTVWXYZ, no padding, uppercase). That is
// exactly 55 characters, the last of which carries 3 zero padding bits, shown as 11
// groups of 5 separated by '-':
//
//	0QX4F-...-5ZJ8G
//
// [Parse] is forgiving about how the key was copied and strict about what it
// means: it ignores case, whitespace (spaces, tabs, line breaks) and dashes, reads
// I and L as 1 and O as 0 as Crockford intends, then requires exactly 55
// characters, zero padding bits and a matching checksum. A typo is therefore
// reported as such (wrong length, bad character at a position, or checksum
// mismatch) instead of surfacing later as "wrong key"; a random typo slips through
// with probability about 1/65536.
//
// # Recovery sheet
//
// [Sheet] renders a plain-text page describing the key. Each line carrying part of
// the key starts with "Key: ", and no other line of a sheet can start that way
// (caller-supplied fields are flattened onto their own line), so [ReadFile] accepts
// either a whole sheet or a file holding only the key.
//
// # KEK
//
// The key is never used directly as a key-encryption key: [Key.KEK] derives one
// with HKDF-SHA-256 and a fixed label, keeping the KEK independent of anything
// else computed from the recovery key (such as the checksum printed on the sheet).
package recovery

import (
	"bufio"
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"
)

const (
	// Size is the size of a recovery key in bytes.
	Size = 32
	// checksumSize is the number of SHA-256 bytes appended to the key.
	checksumSize = 2
	// EncodedLen is the number of base32 characters in a recovery key.
	EncodedLen = ((Size+checksumSize)*8 + 4) / 5 // 55
	// GroupLen is the number of characters per dash-separated group.
	GroupLen = 5

	// Alphabet is Crockford's base32 alphabet.
	Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

	// KeyLinePrefix starts every line of a [Sheet] that carries part of the key.
	KeyLinePrefix = "Key: "

	// FileFlag is the chatvault flag that reads a recovery key file, as printed on
	// the sheet.
	FileFlag = "--recovery-key-file"

	// groupsPerLine is how many groups a sheet prints per "Key: " line.
	groupsPerLine = 4
	// maxFileSize bounds what ReadFile reads; a sheet is about 1.5 KiB.
	maxFileSize = 64 << 10
	// kekInfo is the HKDF info string of Key.KEK; changing it changes every KEK.
	kekInfo = "chatvault recovery-key KEK v1"
)

// ErrInvalid is wrapped by every error about a malformed recovery key.
var ErrInvalid = errors.New("invalid recovery key")

var encoding = base32.NewEncoding(Alphabet).WithPadding(base32.NoPadding)

// padBits is the number of zero bits that complete the last character.
const padBits = EncodedLen*5 - (Size+checksumSize)*8 // 3

// Key is a recovery key. Its String method returns the secret itself: never log
// or print a Key except to show it to its owner.
type Key [Size]byte

// New returns a fresh recovery key read from rand (crypto/rand.Reader if nil).
func New(rand io.Reader) (Key, error) {
	if rand == nil {
		rand = cryptoRand
	}
	var k Key
	if _, err := io.ReadFull(rand, k[:]); err != nil {
		return Key{}, fmt.Errorf("recovery: generating key: %w", err)
	}
	return k, nil
}

var cryptoRand = rand.Reader

func (k Key) checksum() [checksumSize]byte {
	sum := sha256.Sum256(k[:])
	return [checksumSize]byte(sum[:checksumSize])
}

// encoded returns the 55 ungrouped characters.
func (k Key) encoded() string {
	sum := k.checksum()
	var raw [Size + checksumSize]byte
	copy(raw[:], k[:])
	copy(raw[Size:], sum[:])
	return encoding.EncodeToString(raw[:])
}

// String returns the key in its human format: 11 groups of 5 Crockford base32
// characters separated by '-'. This is the secret; see [Key].
func (k Key) String() string {
	return strings.Join(groups(k.encoded()), "-")
}

func groups(s string) []string {
	var g []string
	for len(s) > GroupLen {
		g = append(g, s[:GroupLen])
		s = s[GroupLen:]
	}
	return append(g, s)
}

// KEK returns the 32-byte key-encryption key protected by this recovery key:
// HKDF-SHA-256 with the recovery key as input keying material, no salt (the input
// is already 256 uniformly random bits) and the info "chatvault recovery-key KEK v1".
func (k Key) KEK() [32]byte {
	out, err := hkdf.Key(sha256.New, k[:], nil, kekInfo, 32)
	if err != nil {
		// Only possible for oversized outputs or, in FIPS 140-only mode, keys
		// shorter than 112 bits; neither applies to a 32-byte output from a
		// 32-byte key.
		panic("recovery: hkdf: " + err.Error())
	}
	kek := [32]byte(out)
	clear(out)
	return kek
}

// Parse reads a recovery key in the human format. It ignores case, whitespace and
// dashes and maps I and L to 1 and O to 0; then it requires exactly 55 characters of
// the Crockford alphabet and a matching checksum. Errors wrap [ErrInvalid], say
// what is wrong and, being about a secret, quote at most the offending character
// (never one of the key's characters).
func Parse(s string) (Key, error) {
	norm := make([]byte, 0, EncodedLen+1)
	defer clear(norm[:cap(norm)])
	n := 0 // key characters seen, including bad ones
	for _, r := range s {
		if isSeparator(r) {
			continue
		}
		n++
		c, ok := normalize(r)
		if !ok {
			return Key{}, fmt.Errorf("%w: bad character %q at position %d (group %d, character %d); a recovery key uses only digits and the letters A-Z except U",
				ErrInvalid, r, n, (n-1)/GroupLen+1, (n-1)%GroupLen+1)
		}
		if len(norm) < EncodedLen+1 { // enough to know it is too long
			norm = append(norm, c)
		}
	}
	if n != EncodedLen {
		return Key{}, fmt.Errorf("%w: wrong length: %d characters, want %d (%d groups of %d)",
			ErrInvalid, n, EncodedLen, (EncodedLen+GroupLen-1)/GroupLen, GroupLen)
	}
	// encoding/base32 ignores the padding bits of the last character; a typo
	// there would otherwise go unnoticed, since they are not covered by the checksum.
	if last := strings.IndexByte(Alphabet, norm[EncodedLen-1]); last&(1<<padBits-1) != 0 {
		return Key{}, fmt.Errorf("%w: character %d is not possible as the last one (probably a typo)", ErrInvalid, EncodedLen)
	}
	raw := make([]byte, Size+checksumSize)
	defer clear(raw)
	if m, err := encoding.Decode(raw, norm); err != nil || m != len(raw) {
		return Key{}, fmt.Errorf("%w: cannot decode: %v", ErrInvalid, err) // unreachable: input validated above
	}
	var k Key
	copy(k[:], raw[:Size])
	if sum := k.checksum(); !bytes.Equal(sum[:], raw[Size:]) {
		return Key{}, fmt.Errorf("%w: checksum mismatch (probably a typo)", ErrInvalid)
	}
	return k, nil
}

// isSeparator reports whether Parse skips r: whitespace, a byte-order mark, or a
// dash (ASCII or one of the Unicode dashes that word processors substitute).
func isSeparator(r rune) bool {
	switch {
	case r == '-', r == '\uFEFF', r == '\u2212', r >= '\u2010' && r <= '\u2015':
		return true
	}
	return unicode.IsSpace(r)
}

// normalize maps r to its canonical Crockford character.
func normalize(r rune) (byte, bool) {
	switch {
	case r >= '0' && r <= '9':
		return byte(r), true
	case r >= 'a' && r <= 'z':
		r -= 'a' - 'A'
	case r >= 'A' && r <= 'Z':
	default:
		return 0, false
	}
	switch r {
	case 'I', 'L':
		return '1', true
	case 'O':
		return '0', true
	case 'U':
		return 0, false
	}
	return byte(r), true
}

// Sheet returns a plain-text recovery sheet for k, meant to be printed or stored
// in a password manager: what the key is for, the key itself on "Key: " lines (four
// groups per line), the archive it belongs to, and how to use it. Empty fields and
// a zero created time are left out. Control characters in the fields are replaced,
// so that a label cannot forge or break the "Key: " lines. [ReadFile] reads the
// key back from the sheet.
func Sheet(k Key, archiveID, fingerprint, label string, created time.Time) string {
	var b strings.Builder
	b.WriteString("CHATVAULT RECOVERY KEY\n")
	b.WriteString("======================\n\n")
	b.WriteString("This recovery key unlocks the chatvault archive described below if its\n")
	b.WriteString("passphrase is lost. Anyone who has this key can read the whole archive.\n")
	b.WriteString("Keep it offline (printed, or in a password manager), and never store it\n")
	b.WriteString("next to the archive itself.\n\n")

	g := groups(k.encoded())
	for i := 0; i < len(g); i += groupsPerLine {
		b.WriteString(KeyLinePrefix)
		b.WriteString(strings.Join(g[i:min(i+groupsPerLine, len(g))], "-"))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')

	field := func(name, value string) {
		if value = flatten(value); value != "" {
			fmt.Fprintf(&b, "%-13s%s\n", name+":", value)
		}
	}
	field("Archive", archiveID)
	field("Fingerprint", fingerprint)
	field("Label", label)
	if !created.IsZero() {
		field("Created", created.UTC().Format("2006-01-02 15:04:05 UTC"))
	}

	b.WriteString("\nTo restore with this key, save this sheet (or only its Key: lines) to a\n")
	b.WriteString("file and run:\n\n")
	fmt.Fprintf(&b, "    chatvault restore ... %s FILE\n\n", FileFlag)
	b.WriteString("When typing the key, case, spaces and dashes do not matter; O may be\n")
	b.WriteString("typed as 0 and I or L as 1. A typo is detected by a checksum.\n")
	return b.String()
}

// flatten makes s safe for one line of a sheet.
func flatten(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\uFEFF' {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// ReadFile reads a recovery key from a file written by the user: either a whole
// [Sheet] (or any text whose key lines start with "Key: ", matched after leading
// whitespace and ignoring case, all such lines being concatenated in order) or a
// file containing nothing but the key, in any layout [Parse] accepts. Errors wrap
// [ErrInvalid] for a malformed key and name the file, never its contents.
func ReadFile(path string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("recovery: reading key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return Key{}, fmt.Errorf("recovery: reading key file: %w", err)
	}
	defer clear(data)
	if len(data) > maxFileSize {
		return Key{}, fmt.Errorf("recovery: key file %s: %w: larger than %d KiB, not a recovery key file",
			path, ErrInvalid, maxFileSize>>10)
	}

	var keyText strings.Builder
	found := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxFileSize+1)
	prefix := strings.TrimSpace(KeyLinePrefix)
	for sc.Scan() {
		line := strings.TrimLeftFunc(sc.Text(), isSeparator)
		if len(line) >= len(prefix) && strings.EqualFold(line[:len(prefix)], prefix) {
			found = true
			keyText.WriteString(line[len(prefix):])
			keyText.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return Key{}, fmt.Errorf("recovery: reading key file %s: %w", path, err)
	}

	if found {
		k, err := Parse(keyText.String())
		if err != nil {
			return Key{}, fmt.Errorf("recovery: key file %s: %w", path, err)
		}
		return k, nil
	}
	k, err := Parse(string(data))
	if err != nil {
		return Key{}, fmt.Errorf("recovery: key file %s has no %q lines and is not a bare recovery key: %w",
			path, prefix, err)
	}
	return k, nil
}
