package telegram

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/chatvault/chatvault/importers"
)

// maxDepth bounds the nesting of arrays and objects in result.json. A
// message sits at depth 3 (single chat) or 6 (full export), so its raw
// record stays far below canon.MaxDepth once nested in a canonical line.
const maxDepth = 256

// readBufSize is the bufio buffer of the scanner.
const readBufSize = 64 << 10

// SyntaxError is an error about the bytes of result.json: where it is and
// what is wrong. It wraps importers.ErrMalformed.
type SyntaxError struct {
	File   string // the file as named to Open
	Offset int64  // byte offset in the file (of the original bytes, before any repair); -1 when not about one place
	Msg    string
}

func (e *SyntaxError) Error() string {
	if e.Offset < 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s: byte %d: %s", e.File, e.Offset, e.Msg)
}

// Unwrap returns importers.ErrMalformed.
func (e *SyntaxError) Unwrap() error { return importers.ErrMalformed }

// Repairs of invalid JSON written by Telegram Desktop (chat-formats.md §1.5).
const (
	repXEscape  = iota // "\x0C": a C-style escape, rewritten as "\u000C"
	repUnquoted        // "document_id": video_files/sticker (2).webm — quoted up to the end of the line
	repControl         // a raw control character inside a string, escaped as "\u00XX"
	nRepairs
)

var repairNames = [nRepairs]string{
	repXEscape:  `\x escape(s) rewritten as \u00XX`,
	repUnquoted: "unquoted value(s) quoted",
	repControl:  `raw control character(s) in strings escaped as \u00XX`,
}

// scanner is a validating, streaming JSON reader over result.json that
// repairs Telegram Desktop's known invalid output as the bytes pass (the
// repair filter), keeps offsets in the original file, and can seek.
//
// Every parse method takes dst: when non-nil, the (repaired, whitespace-free)
// bytes of what it reads are appended to *dst; when nil they are only
// validated and dropped, so skipping a section costs no memory.
type scanner struct {
	rs   io.ReadSeeker
	r    *bufio.Reader
	off  int64 // file offset of the next byte r returns
	name string

	// pendComma: a repaired unquoted value ended in the comma that separates
	// it from the next member; the next structural read returns it.
	pendComma bool

	repairCount [nRepairs]int64
	repairFirst [nRepairs]int64
}

func newScanner(rs io.ReadSeeker, name string) *scanner {
	return &scanner{rs: rs, r: bufio.NewReaderSize(rs, readBufSize), name: name}
}

func (s *scanner) errAt(off int64, format string, args ...any) *SyntaxError {
	return &SyntaxError{File: s.name, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// ioErr turns a read error into the error to report: EOF inside a value is
// a truncated file; anything else is an I/O error, returned as is.
func (s *scanner) ioErr(err error, what string) error {
	if errors.Is(err, io.EOF) {
		return s.errAt(s.off, "unexpected end of file in %s (truncated export?)", what)
	}
	return fmt.Errorf("%s: reading at byte %d: %w", s.name, s.off, err)
}

// seek moves to file offset off.
func (s *scanner) seek(off int64) error {
	if _, err := s.rs.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	s.r.Reset(s.rs)
	s.off = off
	s.pendComma = false
	return nil
}

func (s *scanner) repaired(kind int, off int64) {
	if s.repairCount[kind] == 0 {
		s.repairFirst[kind] = off
	}
	s.repairCount[kind]++
}

// repairSummary describes the repairs made so far, or "" if none.
func (s *scanner) repairSummary() string {
	var parts []string
	for k := range nRepairs {
		if n := s.repairCount[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s (first at byte %d)", n, repairNames[k], s.repairFirst[k]))
		}
	}
	if parts == nil {
		return ""
	}
	return fmt.Sprintf("%s: repaired invalid JSON written by Telegram Desktop: %s", s.name, strings.Join(parts, "; "))
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// peek returns the next non-whitespace byte without consuming it; io.EOF at
// the end of the file.
func (s *scanner) peek() (byte, error) {
	if s.pendComma {
		return ',', nil
	}
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return 0, err
		}
		if !isSpace(c) {
			_ = s.r.UnreadByte()
			return c, nil
		}
		s.off++
	}
}

// next consumes and returns the next non-whitespace byte; what names the
// construct being read, for the truncation error.
func (s *scanner) next(what string) (byte, error) {
	if s.pendComma {
		s.pendComma = false
		return ',', nil
	}
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return 0, s.ioErr(err, what)
		}
		s.off++
		if !isSpace(c) {
			return c, nil
		}
	}
}

// expect consumes the next non-whitespace byte and checks it is want.
func (s *scanner) expect(want byte, what string) error {
	c, err := s.next(what)
	if err != nil {
		return err
	}
	if c != want {
		return s.errAt(s.off-1, "expected %q in %s, found %s", want, what, showByte(c))
	}
	return nil
}

func showByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func add(dst *[]byte, b ...byte) {
	if dst != nil {
		*dst = append(*dst, b...)
	}
}

// value reads one JSON value. member says the value follows a ':' in an
// object, the only place Telegram Desktop wrote unquoted strings.
func (s *scanner) value(dst *[]byte, depth int, member bool) error {
	c, err := s.peek()
	if err != nil {
		return s.ioErr(err, "a value")
	}
	switch {
	case c == '"':
		s.r.ReadByte()
		s.off++
		return s.str(dst)
	case c == '{':
		return s.object(dst, depth+1, nil)
	case c == '[':
		return s.array(dst, depth+1)
	case c == ',' || c == '}' || c == ']' || c == ':':
		return s.errAt(s.off, "expected a value, found %s", showByte(c))
	}
	return s.bare(dst, member)
}

// object reads an object (at '{'). With fields non-nil, it records each
// member's key and the span of its value in *dst (dst must be non-nil then).
func (s *scanner) object(dst *[]byte, depth int, fields *[]field) error {
	if depth > maxDepth {
		return s.errAt(s.off, "nesting deeper than %d", maxDepth)
	}
	if err := s.expect('{', "an object"); err != nil {
		return err
	}
	add(dst, '{')
	c, err := s.peek()
	if err != nil {
		return s.ioErr(err, "an object")
	}
	if c == '}' {
		s.next("an object")
		add(dst, '}')
		return nil
	}
	for {
		if err := s.expect('"', "an object (a key)"); err != nil {
			return err
		}
		ks := 0
		if dst != nil {
			ks = len(*dst)
		}
		if err := s.str(dst); err != nil {
			return err
		}
		if err := s.expect(':', "an object"); err != nil {
			return err
		}
		add(dst, ':')
		vs := 0
		if dst != nil {
			vs = len(*dst)
		}
		if err := s.value(dst, depth, true); err != nil {
			return err
		}
		if fields != nil {
			*fields = append(*fields, field{keyStart: ks, valStart: vs, valEnd: len(*dst)})
		}
		c, err := s.next("an object")
		if err != nil {
			return err
		}
		switch c {
		case ',':
			add(dst, ',')
		case '}':
			add(dst, '}')
			return nil
		default:
			return s.errAt(s.off-1, "expected ',' or '}' in an object, found %s", showByte(c))
		}
	}
}

// array reads an array (at '[').
func (s *scanner) array(dst *[]byte, depth int) error {
	if depth > maxDepth {
		return s.errAt(s.off, "nesting deeper than %d", maxDepth)
	}
	if err := s.expect('[', "an array"); err != nil {
		return err
	}
	add(dst, '[')
	c, err := s.peek()
	if err != nil {
		return s.ioErr(err, "an array")
	}
	if c == ']' {
		s.next("an array")
		add(dst, ']')
		return nil
	}
	for {
		if err := s.value(dst, depth, false); err != nil {
			return err
		}
		c, err := s.next("an array")
		if err != nil {
			return err
		}
		switch c {
		case ',':
			add(dst, ',')
		case ']':
			add(dst, ']')
			return nil
		default:
			return s.errAt(s.off-1, "expected ',' or ']' in an array, found %s", showByte(c))
		}
	}
}

const hexDigits = "0123456789ABCDEF"

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// str reads the rest of a string whose opening quote was consumed, appending
// it to dst with both quotes. It repairs \xHH escapes and raw control
// characters.
func (s *scanner) str(dst *[]byte) error {
	start := s.off - 1
	add(dst, '"')
	for {
		buf, _ := s.r.Peek(s.r.Buffered())
		if len(buf) == 0 {
			if _, err := s.r.Peek(1); err != nil {
				return s.ioErr(err, fmt.Sprintf("the string starting at byte %d", start))
			}
			continue
		}
		i := 0
		for i < len(buf) {
			c := buf[i]
			if c == '"' || c == '\\' || c < 0x20 {
				break
			}
			i++
		}
		add(dst, buf[:i]...)
		s.r.Discard(i)
		s.off += int64(i)
		if i == len(buf) {
			continue
		}
		c, _ := s.r.ReadByte()
		s.off++
		switch {
		case c == '"':
			add(dst, '"')
			return nil
		case c < 0x20:
			s.repaired(repControl, s.off-1)
			add(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		// A backslash.
		at := s.off - 1
		e, err := s.r.ReadByte()
		if err != nil {
			return s.ioErr(err, fmt.Sprintf("the string starting at byte %d", start))
		}
		s.off++
		switch e {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			add(dst, '\\', e)
		case 'u', 'x':
			n := 4
			if e == 'x' {
				n = 2
			}
			var h [4]byte
			for k := 0; k < n; k++ {
				d, err := s.r.ReadByte()
				if err != nil {
					return s.ioErr(err, fmt.Sprintf("the string starting at byte %d", start))
				}
				s.off++
				if !isHex(d) {
					return s.errAt(s.off-1, `invalid \%c escape in a string: %s is not a hex digit`, e, showByte(d))
				}
				h[k] = d
			}
			if e == 'x' {
				s.repaired(repXEscape, at)
				add(dst, '\\', 'u', '0', '0', h[0], h[1])
			} else {
				add(dst, '\\', 'u', h[0], h[1], h[2], h[3])
			}
		default:
			return s.errAt(at, `invalid escape "\%c" in a string`, e)
		}
	}
}

// isDelim ends a bare token (number or literal).
func isDelim(c byte) bool {
	return isSpace(c) || c == ',' || c == '}' || c == ']' || c == ':' || c == '"' || c == '{' || c == '['
}

// bare reads a number or literal; in member position, a token that is
// neither is Telegram Desktop's unquoted string, quoted up to the end of the
// line (a final comma is the member separator).
func (s *scanner) bare(dst *[]byte, member bool) error {
	start := s.off
	var tok []byte
	for len(tok) < 1024 {
		c, err := s.r.ReadByte()
		if err != nil {
			break
		}
		if isDelim(c) {
			_ = s.r.UnreadByte()
			break
		}
		s.off++
		tok = append(tok, c)
	}
	if validNumber(tok) || string(tok) == "true" || string(tok) == "false" || string(tok) == "null" {
		add(dst, tok...)
		return nil
	}
	if !member {
		return s.errAt(start, "invalid value %q", clip(string(tok)))
	}
	// The rest of the line is part of the value.
	line := tok
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			break
		}
		if c == '\n' {
			_ = s.r.UnreadByte()
			break
		}
		s.off++
		line = append(line, c)
		if len(line) > 64<<10 {
			return s.errAt(start, "invalid value (an unquoted string longer than 64 KiB)")
		}
	}
	v := strings.TrimRight(string(line), " \t\r")
	if strings.HasSuffix(v, ",") {
		v = strings.TrimRight(v[:len(v)-1], " \t")
		s.pendComma = true
	}
	if v == "" {
		return s.errAt(start, "expected a value")
	}
	s.repaired(repUnquoted, start)
	if dst != nil {
		*dst = appendJSONString(*dst, v)
	}
	return nil
}

// appendJSONString appends v as a JSON string, escaping only what JSON
// requires (other bytes, even invalid UTF-8, are kept as they are).
func appendJSONString(dst []byte, v string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// validNumber reports whether b is a JSON number.
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i == len(b) {
		return false
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(b)
}

// field locates one member of a captured object: the key (with quotes)
// starts at keyStart and ends at valStart-1 (before ':'); the value is
// [valStart, valEnd).
type field struct {
	keyStart, valStart, valEnd int
}
