package canon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects a line may have; the
// top-level object is depth 1. It bounds the work and the memory (a fixed
// 128-byte stack) spent on a hostile line.
const MaxDepth = 1000

// Kind values.
const (
	KindMessage = "message"
	KindService = "service"
)

// ErrMalformed is wrapped by every error that rejects a line's content.
var ErrMalformed = errors.New("malformed line")

// ErrLineTooLong is wrapped by the error a [Reader] returns for a line longer
// than its size bound. Such a line may well be valid JSON; it is refused
// before being looked at.
var ErrLineTooLong = errors.New("line too long")

// Message is what the archive needs from one line. All fields except Line
// are owned by the caller; the strings are substrings of one allocation.
type Message struct {
	Conversation     string    // "conversation": the source's stable conversation key
	ID               string    // "id": unique within the conversation
	Time             time.Time // "time", parsed as time.RFC3339Nano
	TimeText         string    // "time" as written (after JSON unescaping)
	Kind             string    // "kind": KindMessage or KindService
	ConversationName string    // "conversation_name" if present and a string, else ""

	// Line is the input, byte for byte, aliasing the slice given to
	// ParseLine (no copy is made). From a Reader it aliases the Reader's
	// buffer and is valid only until the next call to Next: copy it
	// (bytes.Clone) to keep it.
	Line []byte
}

// LineError describes why a line was rejected.
type LineError struct {
	Name   string // file name, set by Reader ("" from ParseLine)
	Line   int    // 1-based line number, set by Reader (0 when unknown)
	Offset int    // 0-based byte offset in the line, or -1 when the error is not about one byte
	Reason string // what is wrong, e.g. `missing required key "time"`
	Err    error  // ErrMalformed or ErrLineTooLong
}

// Error formats the error as "name:line: reason at byte offset N", leaving
// out the parts that are unknown.
func (e *LineError) Error() string {
	var b []byte
	switch {
	case e.Name != "" && e.Line > 0:
		b = append(b, e.Name...)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(e.Line), 10)
	case e.Name != "":
		b = append(b, e.Name...)
	case e.Line > 0:
		b = append(b, "line "...)
		b = strconv.AppendInt(b, int64(e.Line), 10)
	default:
		b = append(b, "canon"...)
	}
	b = append(b, ": "...)
	b = append(b, e.Reason...)
	if e.Offset >= 0 {
		b = append(b, " at byte offset "...)
		b = strconv.AppendInt(b, int64(e.Offset), 10)
	}
	return string(b)
}

// Unwrap returns ErrMalformed or ErrLineTooLong.
func (e *LineError) Unwrap() error { return e.Err }

func malformed(off int, reason string) *LineError {
	return &LineError{Offset: off, Reason: reason, Err: ErrMalformed}
}

// Top-level keys ParseLine extracts, in the order they are stored.
const (
	kConversation = iota
	kID
	kTime
	kKind
	kConversationName
	nKeys
	nRequired = kConversationName
)

var keyNames = [nKeys]string{"conversation", "id", "time", "kind", "conversation_name"}

// span locates a top-level string value inside the line.
type span struct {
	start, end int  // value bytes between the quotes
	seen       bool // key occurred
	str        bool // last occurrence had a string value
	esc        bool // value contains a backslash escape
}

// ParseLine validates line as one canonical JSON Lines record and extracts
// the keys the archive needs. See the package documentation for the rules.
// The returned Message.Line aliases line. Errors are *LineError wrapping
// ErrMalformed.
func ParseLine(line []byte) (Message, error) {
	var f [nKeys]span
	if e := scan(line, &f); e != nil {
		return Message{}, e
	}
	for k := 0; k < nRequired; k++ {
		if !f[k].seen {
			return Message{}, malformed(-1, `missing required key "`+keyNames[k]+`"`)
		}
	}

	// One allocation holds every extracted string.
	var scratch [256]byte
	b := scratch[:0]
	var ends [nKeys]int
	for k := range f {
		if f[k].str {
			b = appendString(b, line[f[k].start:f[k].end], f[k].esc)
		}
		ends[k] = len(b)
	}
	all := string(b)
	m := Message{
		Conversation:     all[:ends[kConversation]],
		ID:               all[ends[kConversation]:ends[kID]],
		TimeText:         all[ends[kID]:ends[kTime]],
		ConversationName: all[ends[kKind]:ends[kConversationName]],
		Line:             line,
	}
	switch kind := all[ends[kTime]:ends[kKind]]; kind {
	case KindMessage:
		m.Kind = KindMessage
	case KindService:
		m.Kind = KindService
	default:
		return Message{}, malformed(f[kKind].start-1,
			`key "kind": `+quoteShort(kind)+` is not "message" or "service"`)
	}
	t, err := time.Parse(time.RFC3339Nano, m.TimeText)
	if err != nil {
		return Message{}, malformed(f[kTime].start-1,
			`key "time": `+quoteShort(m.TimeText)+` is not an RFC 3339 time with offset`)
	}
	m.Time = t
	return m, nil
}

// scan validates s and records the top-level keys in f.
func scan(s []byte, f *[nKeys]span) *LineError {
	var (
		n     = len(s)
		i     int
		depth int
		stack [MaxDepth/64 + 1]uint64 // bit d set: level d is an array
		c     byte
		ks    int // start of the current key
		top   int // start of a top-level value that is not an object, or -1
		esc   bool
		err   *LineError
	)
	i = skipSpace(s, 0)
	if i == n {
		return malformed(-1, "empty line, expected a JSON object")
	}
	if s[i] != '{' {
		if n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF {
			return malformed(0, "UTF-8 byte order mark is not allowed")
		}
		// Validate the value anyway, so that "nonsense" is reported as a
		// syntax error rather than as "null, not an object".
		top = i
		goto value
	}
	top = -1
	depth = 1
	i = skipSpace(s, i+1)
	if i < n && s[i] == '}' {
		i++
		depth = 0
		goto after
	}
	goto key

value: // s[i:] starts a value (whitespace already skipped)
	if i >= n {
		return eol(n, "looking for beginning of value")
	}
	c = s[i]
	switch {
	case c == '"':
		i, _, err = scanString(s, i)
	case c == '{':
		if depth == MaxDepth {
			return malformed(i, "nesting deeper than "+strconv.Itoa(MaxDepth))
		}
		depth++
		stack[depth>>6] &^= 1 << (depth & 63)
		i = skipSpace(s, i+1)
		if i < n && s[i] == '}' {
			i++
			depth--
			goto after
		}
		goto key
	case c == '[':
		if depth == MaxDepth {
			return malformed(i, "nesting deeper than "+strconv.Itoa(MaxDepth))
		}
		depth++
		stack[depth>>6] |= 1 << (depth & 63)
		i = skipSpace(s, i+1)
		if i < n && s[i] == ']' {
			i++
			depth--
			goto after
		}
		goto value
	case c == '-' || c-'0' < 10:
		i, err = scanNumber(s, i)
	case c == 't':
		i, err = scanLiteral(s, i, "true")
	case c == 'f':
		i, err = scanLiteral(s, i, "false")
	case c == 'n':
		i, err = scanLiteral(s, i, "null")
	default:
		return invalid(s, i, "looking for beginning of value")
	}
	if err != nil {
		return err
	}

after: // a value ended at s[i]
	if depth == 0 {
		i = skipSpace(s, i)
		if i != n {
			return invalid(s, i, "after top-level value")
		}
		if top >= 0 { // the top-level value, at s[top], is not an object
			return malformed(top, "top-level value is "+valueType(s[top])+", not an object")
		}
		return nil
	}
	i = skipSpace(s, i)
	if i >= n {
		return eol(n, "")
	}
	c = s[i]
	if stack[depth>>6]&(1<<(depth&63)) != 0 {
		switch c {
		case ',':
			i = skipSpace(s, i+1)
			goto value
		case ']':
			i++
			depth--
			goto after
		}
		return invalid(s, i, "after array element")
	}
	switch c {
	case ',':
		i = skipSpace(s, i+1)
		goto key
	case '}':
		i++
		depth--
		goto after
	}
	return invalid(s, i, "after object key:value pair")

key: // s[i:] starts an object key (whitespace already skipped)
	if i >= n {
		return eol(n, "looking for beginning of object key string")
	}
	if s[i] != '"' {
		return invalid(s, i, "looking for beginning of object key string")
	}
	ks = i
	i, esc, err = scanString(s, i)
	if err != nil {
		return err
	}
	if depth == 1 {
		if k := keyIndex(s[ks+1:i-1], esc); k >= 0 {
			err = topLevel(s, &i, k, ks, &f[k])
			if err != nil {
				return err
			}
			if f[k].str {
				goto after
			}
			goto value
		}
	}
	i = skipSpace(s, i)
	if i >= n {
		return eol(n, "after object key")
	}
	if s[i] != ':' {
		return invalid(s, i, "after object key")
	}
	i = skipSpace(s, i+1)
	goto value
}

// topLevel handles the ':' and value of top-level key k whose quoted name
// starts at ks and ends at *pi. If the value is a string it is consumed and
// recorded; otherwise *pi is left at the value for the generic tokenizer.
func topLevel(s []byte, pi *int, k, ks int, sp *span) *LineError {
	n := len(s)
	i := skipSpace(s, *pi)
	if i >= n {
		return eol(n, "after object key")
	}
	if s[i] != ':' {
		return invalid(s, i, "after object key")
	}
	i = skipSpace(s, i+1)
	if k < nRequired && sp.seen {
		return malformed(ks, `duplicate key "`+keyNames[k]+`"`)
	}
	sp.seen = true
	if i < n && s[i] == '"' {
		end, esc, err := scanString(s, i)
		if err != nil {
			return err
		}
		sp.start, sp.end, sp.esc, sp.str = i+1, end-1, esc, true
		*pi = end
		return nil
	}
	sp.str = false
	if k < nRequired && i < n {
		if what := valueType(s[i]); what != "" {
			return malformed(i, `key "`+keyNames[k]+`" must be a string, not `+what)
		}
	}
	*pi = i
	return nil
}

// keyIndex reports which extracted key the raw (still escaped) key name is,
// or -1.
func keyIndex(raw []byte, esc bool) int {
	if esc {
		// An escape takes at most 6 bytes per character.
		if len(raw) > 6*len("conversation_name") {
			return -1
		}
		var tmp [6 * len("conversation_name")]byte
		raw = appendUnescaped(tmp[:0], raw)
	}
	switch string(raw) {
	case "conversation":
		return kConversation
	case "id":
		return kID
	case "time":
		return kTime
	case "kind":
		return kKind
	case "conversation_name":
		return kConversationName
	}
	return -1
}

// stopByte marks the bytes that end the fast scan of a string.
var stopByte = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// scanString validates the string starting with the quote at s[i]. It
// returns the offset just past the closing quote and whether the string
// contains a backslash escape.
func scanString(s []byte, i int) (int, bool, *LineError) {
	n := len(s)
	esc := false
	i++
	for {
		// Find the first '"', '\\' or control byte, eight bytes at a time
		// while they last.
		var c byte
		for {
			if i+8 <= n {
				v := binary.LittleEndian.Uint64(s[i:])
				q := v ^ ('"' * lsb)
				b := v ^ ('\\' * lsb)
				m := ((v - 0x20*lsb) &^ v) | ((q - lsb) &^ q) | ((b - lsb) &^ b)
				if m &= msb; m == 0 {
					i += 8
					continue
				}
				i += bits.TrailingZeros64(m) >> 3
				c = s[i]
				break
			}
			for i < n && !stopByte[s[i]] {
				i++
			}
			if i >= n {
				return 0, false, eol(n, "in string literal")
			}
			c = s[i]
			break
		}
		switch c {
		case '"':
			return i + 1, esc, nil
		case '\\':
			esc = true
			if i+1 >= n {
				return 0, false, eol(n, "in string escape code")
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for j := i + 2; j < i+6; j++ {
					if j >= n {
						return 0, false, eol(n, "in \\u hexadecimal character escape")
					}
					if unhex(s[j]) < 0 {
						return 0, false, invalid(s, j, "in \\u hexadecimal character escape")
					}
				}
				i += 6
			default:
				return 0, false, invalid(s, i+1, "in string escape code")
			}
		default:
			return 0, false, invalid(s, i, "in string literal")
		}
	}
}

func scanNumber(s []byte, i int) (int, *LineError) {
	n := len(s)
	if s[i] == '-' {
		i++
		if i >= n {
			return 0, eol(n, "in numeric literal")
		}
	}
	switch c := s[i]; {
	case c == '0':
		i++
	case c-'1' < 9:
		i++
		for i < n && s[i]-'0' < 10 {
			i++
		}
	default:
		return 0, invalid(s, i, "in numeric literal")
	}
	if i < n && s[i] == '.' {
		i++
		if i >= n {
			return 0, eol(n, "after decimal point in numeric literal")
		}
		if s[i]-'0' >= 10 {
			return 0, invalid(s, i, "after decimal point in numeric literal")
		}
		for i < n && s[i]-'0' < 10 {
			i++
		}
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= n {
			return 0, eol(n, "in exponent of numeric literal")
		}
		if s[i]-'0' >= 10 {
			return 0, invalid(s, i, "in exponent of numeric literal")
		}
		for i < n && s[i]-'0' < 10 {
			i++
		}
	}
	return i, nil
}

func scanLiteral(s []byte, i int, lit string) (int, *LineError) {
	if i+len(lit) <= len(s) && string(s[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	for j := 1; j < len(lit); j++ {
		if i+j >= len(s) {
			return 0, eol(len(s), "in literal "+lit)
		}
		if s[i+j] != lit[j] {
			return 0, invalid(s, i+j, "in literal "+lit+" (expecting '"+lit[j:j+1]+"')")
		}
	}
	panic("unreachable")
}

func skipSpace(s []byte, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func unhex(c byte) rune {
	switch {
	case c-'0' < 10:
		return rune(c - '0')
	case c-'a' < 6:
		return rune(c - 'a' + 10)
	case c-'A' < 6:
		return rune(c - 'A' + 10)
	}
	return -1
}

// valueType names the JSON type a value starting with c would have, or ""
// if c cannot start a value.
func valueType(c byte) string {
	switch {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || c-'0' < 10:
		return "a number"
	}
	return ""
}

func invalid(s []byte, i int, context string) *LineError {
	c := s[i]
	var what string
	if c >= 0x20 && c < 0x7f {
		what = "character " + strconv.QuoteRuneToASCII(rune(c))
	} else {
		what = fmt.Sprintf("byte 0x%02X", c)
	}
	return malformed(i, "invalid "+what+" "+context)
}

func eol(n int, context string) *LineError {
	if context == "" {
		return malformed(n, "unexpected end of line")
	}
	return malformed(n, "unexpected end of line "+context)
}

// quoteShort quotes s for an error message, truncated to keep errors small.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

// appendString appends the decoded value of the raw JSON string contents
// raw (already validated by scanString).
func appendString(dst, raw []byte, esc bool) []byte {
	if !esc && utf8.Valid(raw) {
		return append(dst, raw...)
	}
	return appendUnescaped(dst, raw)
}

// appendUnescaped decodes validated string contents exactly like
// encoding/json: escapes are resolved, a valid surrogate pair becomes one
// rune, and a lone surrogate or an invalid UTF-8 byte becomes U+FFFD.
func appendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			e := raw[i+1]
			i += 2
			switch e {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(raw[i:])
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						r2 = hex4(raw[i+2:])
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						dst = utf8.AppendRune(dst, d)
						i += 6
						continue
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
			default: // '"', '\\', '/'
				dst = append(dst, e)
			}
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, raw[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

// hex4 decodes four hex digits, or returns -1 if they are not.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		h := unhex(c)
		if h < 0 {
			return -1
		}
		r = r<<4 | h
	}
	return r
}
