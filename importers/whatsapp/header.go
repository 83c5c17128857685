package whatsapp

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// style is the shape of a file's message headers. The first header of a file
// fixes it; later lines start a message only when their header has the same
// shape, so a continuation line that merely looks like a header of another
// style ("2016-04-29 10:30:00 - …" inside an Android "12/31/21, 11:59 PM - "
// file) stays part of the message it belongs to.
type style struct {
	bracket bool // "[date time] "
	dsep    byte // date separator: '/', '.' or '-'
	yearPos int8 // index of the 4-digit date group, or -1 (2-digit year, last)
	comma   bool // "," after the date
	word    bool // a word between date and time ("klo")
	tsep    byte // time separator: ':' or '.'
	seconds bool
	ampm    bool
	timeDot bool // "13:34." (a dot after the time)
	sep     byte // what ends the header: ']' (brackets), '-' (" - ") or ':' ("DATE TIME: ")
}

// header is one parsed message header. Offsets index the line it came from.
type header struct {
	st             style
	g              [3]int // date groups as written
	hour, min, sec int
	pm, am         bool
	tsStart, tsEnd int // the timestamp text (date through AM/PM marker)
	body           int // where the body starts
}

// ignorable reports the invisible formatting marks WhatsApp sprinkles over
// headers, names and numbers: bidi marks and embeddings, the Arabic letter
// mark, and the byte order mark.
func ignorable(r rune) bool {
	switch {
	case r == 0x200E, r == 0x200F, r == 0x061C, r == 0xFEFF:
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// spaceLike reports the spaces found between the parts of a header: the
// ASCII space, NO-BREAK SPACE, NARROW NO-BREAK SPACE (Android and iOS since
// 2023) and THIN SPACE.
func spaceLike(r rune) bool {
	return r == ' ' || r == 0x00A0 || r == 0x202F || r == 0x2009
}

func runeAt(b []byte, i int) (rune, int) {
	if i >= len(b) {
		return -1, 0
	}
	if c := b[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRune(b[i:])
}

func skipIgn(b []byte, i int) int {
	for i < len(b) && b[i] >= utf8.RuneSelf {
		r, n := utf8.DecodeRune(b[i:])
		if !ignorable(r) {
			break
		}
		i += n
	}
	return i
}

// skipSpaces skips spaces and ignorable marks and returns the new offset and
// how many spaces it saw.
func skipSpaces(b []byte, i int) (int, int) {
	n := 0
	for i < len(b) {
		r, w := runeAt(b, i)
		switch {
		case spaceLike(r):
			n++
		case ignorable(r):
		default:
			return i, n
		}
		i += w
	}
	return i, n
}

// digitAt reads one decimal digit: ASCII, Arabic-Indic (U+0660–0669) or
// Extended Arabic-Indic (U+06F0–06F9).
func digitAt(b []byte, i int) (int, int) {
	if i >= len(b) {
		return -1, 0
	}
	if c := b[i]; c >= '0' && c <= '9' {
		return int(c - '0'), 1
	} else if c < utf8.RuneSelf {
		return -1, 0
	}
	r, w := utf8.DecodeRune(b[i:])
	switch {
	case r >= 0x0660 && r <= 0x0669:
		return int(r - 0x0660), w
	case r >= 0x06F0 && r <= 0x06F9:
		return int(r - 0x06F0), w
	}
	return -1, 0
}

// number reads up to max digits and returns the value, the digit count and the
// new offset.
func number(b []byte, i, max int) (v, n, j int) {
	j = i
	for n < max {
		d, w := digitAt(b, j)
		if d < 0 {
			break
		}
		v = v*10 + d
		n++
		j += w
	}
	return v, n, j
}

// ampmAt reads an AM/PM marker at b[i:]: AM PM am pm a.m. p.m. a. m. p. m.
// (any case, the inner space may be any space-like rune), or Arabic ص / م.
func ampmAt(b []byte, i int) (pm bool, j int, ok bool) {
	if i >= len(b) {
		return false, i, false
	}
	// Arabic: ص (morning), م (evening), as one letter.
	if r, w := runeAt(b, i); r == 0x0635 || r == 0x0645 {
		if r2, _ := runeAt(b, i+w); r2 >= 0 && unicode.IsLetter(r2) {
			return false, i, false
		}
		return r == 0x0645, i + w, true
	}
	switch b[i] {
	case 'a', 'A':
	case 'p', 'P':
		pm = true
	default:
		return false, i, false
	}
	j = i + 1
	dot := false
	if j < len(b) && b[j] == '.' {
		dot = true
		j++
	}
	if dot {
		j, _ = skipSpaces(b, j)
	}
	if j >= len(b) || (b[j] != 'm' && b[j] != 'M') {
		return false, i, false
	}
	j++
	if j < len(b) && b[j] == '.' {
		j++
	}
	if r, _ := runeAt(b, j); r >= 0 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
		return false, i, false
	}
	return pm, j, true
}

// parseHeader recognizes a message header at the start of line (which may
// still carry its line terminator). It checks the shape only; the numbers are
// validated when the time is computed.
func parseHeader(line []byte) (h header, ok bool) {
	b := line
	i := skipIgn(b, 0)
	if i < len(b) && b[i] == '[' {
		h.st.bracket = true
		i = skipIgn(b, i+1)
	}
	h.tsStart = i
	// Date: three groups of 1, 2 or 4 digits.
	four := -1
	for k := 0; k < 3; k++ {
		if k > 0 {
			if i >= len(b) || b[i] != h.st.dsep {
				return h, false
			}
			i, _ = skipSpaces(b, i+1)
		}
		v, n, j := number(b, i, 4)
		if n == 0 || n == 3 {
			return h, false
		}
		if n == 4 {
			if four >= 0 {
				return h, false
			}
			four = k
		}
		if j < len(b) && b[j] >= '0' && b[j] <= '9' {
			return h, false
		}
		h.g[k] = v
		i = skipIgn(b, j)
		if k == 0 {
			if i >= len(b) {
				return h, false
			}
			switch b[i] {
			case '/', '.', '-':
				h.st.dsep = b[i]
			default:
				return h, false
			}
		}
	}
	h.st.yearPos = int8(four)
	if h.st.dsep == '.' && i < len(b) && b[i] == '.' { // "13. 6. 2018."
		i = skipIgn(b, i+1)
	}
	if i < len(b) && b[i] == ',' {
		h.st.comma = true
		i++
	} else if r, w := runeAt(b, i); r == 0x060C { // Arabic comma
		h.st.comma = true
		i += w
	}
	i, ns := skipSpaces(b, i)
	if ns == 0 {
		return h, false
	}
	// An optional word before the time ("klo").
	if r, _ := runeAt(b, i); r >= 0 && unicode.IsLetter(r) {
		j, letters := i, 0
		for {
			r, w := runeAt(b, j)
			if r < 0 || !unicode.IsLetter(r) {
				break
			}
			j += w
			letters++
		}
		if letters > 6 {
			return h, false
		}
		if j < len(b) && b[j] == '.' {
			j++
		}
		j, ns = skipSpaces(b, j)
		if ns == 0 {
			return h, false
		}
		h.st.word = true
		i = j
	}
	// Time: H:MM, H:MM:SS, or with dots.
	var n int
	h.hour, n, i = number(b, i, 2)
	if n == 0 || i >= len(b) || (b[i] != ':' && b[i] != '.') {
		return h, false
	}
	h.st.tsep = b[i]
	h.min, n, i = number(b, i+1, 2)
	if n != 2 {
		return h, false
	}
	if i < len(b) && b[i] == h.st.tsep {
		if s, n, j := number(b, i+1, 2); n == 2 {
			if d, _ := digitAt(b, j); d < 0 {
				h.sec, h.st.seconds, i = s, true, j
			}
		}
	}
	if d, _ := digitAt(b, i); d >= 0 {
		return h, false
	}
	h.tsEnd = i
	if j, _ := skipSpaces(b, i); j < len(b) {
		if pm, k, ok := ampmAt(b, j); ok {
			h.st.ampm = true
			h.pm, h.am = pm, !pm
			i, h.tsEnd = k, k
		}
	}
	if i < len(b) && b[i] == '.' && !h.st.ampm {
		h.st.timeDot = true
		i++
	}
	i = skipIgn(b, i)
	if h.st.bracket {
		if i >= len(b) || b[i] != ']' {
			return h, false
		}
		h.st.sep = ']'
		i++
		if r, w := runeAt(b, i); spaceLike(r) {
			i += w
		} else if r >= 0 && r != '\r' && r != '\n' {
			return h, false
		}
		h.body = i
		return h, true
	}
	j, ns := skipSpaces(b, i)
	if r, w := runeAt(b, j); ns > 0 && (r == '-' || r == 0x2013) {
		j += w
		if r, w := runeAt(b, j); spaceLike(r) {
			j += w
		} else if r >= 0 && r != '\r' && r != '\n' {
			return h, false
		}
		h.st.sep = '-'
		h.body = j
		return h, true
	}
	if ns == 0 && j < len(b) && b[j] == ':' && !h.st.timeDot {
		if r, w := runeAt(b, j+1); spaceLike(r) {
			h.st.sep = ':'
			h.body = j + 1 + w
			return h, true
		}
	}
	return h, false
}

// timestampText is the header's own text of the date and time, the input of
// synthesized ids: invisible marks removed and the various spaces written as
// ASCII spaces, so that an export written after WhatsApp switched to U+202F
// before "PM" gives the same ids as an older one.
func timestampText(line []byte, h *header) string {
	s := line[h.tsStart:h.tsEnd]
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, w := runeAt(s, i)
		switch {
		case ignorable(r):
		case spaceLike(r):
			b.WriteByte(' ')
		default:
			b.Write(s[i : i+w])
		}
		i += w
	}
	return b.String()
}

// order is how the two non-year date groups are read.
type order int

const (
	orderUnknown order = iota
	dayFirst
	monthFirst
)

func (o order) String() string {
	switch o {
	case dayFirst:
		return "day-first"
	case monthFirst:
		return "month-first"
	}
	return "unknown"
}

// dayMonth returns the positions of the day/month groups: a before b in the line.
func (st *style) dayMonth() (a, b int) {
	switch st.yearPos {
	case 0:
		return 1, 2
	case 1:
		return 0, 2
	}
	return 0, 1
}

// evidence says what one header tells about the date order: dayFirst or
// monthFirst when one group cannot be a month, orderUnknown when both fit.
// same reports that both readings give the same date (e.g. 01/01).
func (h *header) evidence() (o order, same bool) {
	if h.st.yearPos == 0 {
		return monthFirst, false // y/m/d
	}
	a, b := h.st.dayMonth()
	x, y := h.g[a], h.g[b]
	switch {
	case x > 12 && y > 12:
		return orderUnknown, true // invalid either way; reported later
	case x > 12:
		return dayFirst, false
	case y > 12:
		return monthFirst, false
	}
	return orderUnknown, x == y
}

var errDate = errors.New("invalid date or time")

// instant computes the header's wall-clock time in loc.
func (h *header) instant(ord order, loc *time.Location) (time.Time, error) {
	var year, month, day int
	if p := h.st.yearPos; p >= 0 {
		year = h.g[p]
	} else {
		year = 2000 + h.g[2]
	}
	a, b := h.st.dayMonth()
	if h.st.yearPos == 0 || ord == monthFirst {
		month, day = h.g[a], h.g[b]
	} else {
		day, month = h.g[a], h.g[b]
	}
	if month < 1 || month > 12 {
		return time.Time{}, fmt.Errorf("%w: month %d (dates read %s)", errDate, month, ord)
	}
	if day < 1 || day > daysIn(year, month) {
		return time.Time{}, fmt.Errorf("%w: day %d of month %d (dates read %s)", errDate, day, month, ord)
	}
	hour := h.hour
	switch {
	case h.am && hour > 12:
		return time.Time{}, fmt.Errorf("%w: hour %d AM", errDate, hour)
	case h.am && hour == 12:
		hour = 0
	case h.pm && hour < 12:
		hour += 12
	}
	// 13–23 "PM" is read as that hour (a contradiction seen in the wild,
	// harmless); 0 "AM" as midnight.
	if hour > 23 || h.min > 59 || h.sec > 59 {
		return time.Time{}, fmt.Errorf("%w: %02d:%02d:%02d", errDate, h.hour, h.min, h.sec)
	}
	return time.Date(year, time.Month(month), day, hour, h.min, h.sec, 0, loc), nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
