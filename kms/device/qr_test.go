package device

import (
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

// TestQRDrawsTheBitmap reads the drawing back into modules and compares it
// with the QR library's bitmap (a decoder was used by hand to confirm the
// drawing scans: zbarimg on a rendering of it).
func TestQRDrawsTheBitmap(t *testing.T) {
	id := newIdentity(t)
	s, err := QR(id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	q, err := qrcode.New(id.Recipient(), qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	want := q.Bitmap()
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) != (len(want)+1)/2 {
		t.Fatalf("%d lines for %d module rows", len(lines), len(want))
	}
	for y, line := range lines {
		cells := []rune(line)
		if len(cells) != len(want[0]) {
			t.Fatalf("line %d has %d cells, want %d", y, len(cells), len(want[0]))
		}
		for x, c := range cells {
			var top, bottom bool // light modules
			switch c {
			case '█':
				top, bottom = true, true
			case '▀':
				top = true
			case '▄':
				bottom = true
			case ' ':
			default:
				t.Fatalf("unexpected character %q", c)
			}
			if top != !want[2*y][x] {
				t.Fatalf("module (%d,%d) drawn wrong", x, 2*y)
			}
			if 2*y+1 < len(want) && bottom != !want[2*y+1][x] {
				t.Fatalf("module (%d,%d) drawn wrong", x, 2*y+1)
			}
		}
	}
	// The quiet zone is light: the first line is all full blocks.
	if strings.Trim(lines[0], "█") != "" {
		t.Errorf("first line %q is not quiet zone", lines[0])
	}
}

func TestQRRefusesNonRecipient(t *testing.T) {
	if _, err := QR("hello"); err == nil {
		t.Fatal("QR of a non-recipient")
	}
}
