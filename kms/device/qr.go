package device

import (
	"fmt"
	"strings"

	"filippo.io/age"
	qrcode "github.com/skip2/go-qrcode"
)

// QR returns the recipient ("age1…") as a QR code to print on a terminal:
// two modules per character cell, stacked (the half blocks ▀ ▄ █ and space),
// with the 4-module quiet zone the standard requires, one line per two module
// rows, each ending in "\n". Error correction is level M (15 %).
//
// It assumes light text on a dark background, the default of most terminals:
// light modules (and the quiet zone) are drawn with block characters and dark
// modules are left blank, so the code appears dark on a light frame as
// scanners expect. On a light-background terminal the code appears inverted,
// which most phone scanners also read.
func QR(recipient string) (string, error) {
	if _, err := age.ParseX25519Recipient(recipient); err != nil {
		return "", fmt.Errorf("device: QR of recipient %q: %w", recipient, err)
	}
	q, err := qrcode.New(recipient, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("device: QR: %w", err)
	}
	return halfBlocks(q.Bitmap()), nil
}

// halfBlocks draws a bitmap (true = dark module) two rows per line, drawing
// light modules; an odd last row is paired with a dark (blank) one.
func halfBlocks(bits [][]bool) string {
	light := func(y, x int) bool { return y < len(bits) && !bits[y][x] }
	var b strings.Builder
	for y := 0; y < len(bits); y += 2 {
		for x := range bits[y] {
			switch top, bottom := light(y, x), light(y+1, x); {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
