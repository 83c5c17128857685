package signal

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/chatvault/chatvault/importers"
)

// style is the shape of a header's timestamp: "2022-01-01 10:00:00" (today),
// "2019-12-24, 12:23" (v1), and the two other combinations merge.py accepts.
type style struct{ comma, seconds bool }

// header is a parsed "[timestamp] Sender: " line start.
type header struct {
	ts      string // the timestamp as written between the brackets
	st      style
	date    [6]int // year, month, day, hour, minute, second
	sender  string
	bodyOff int // where the body starts in the line
}

// parseHeader recognises `[YYYY-MM-DD[,] HH:MM[:SS]] Sender: body` (also
// "Sender:" at the end of the line). The values are checked later.
func parseHeader(line string) (header, bool) {
	var h header
	// [YYYY-MM-DD
	if len(line) < 19 || line[0] != '[' || line[5] != '-' || line[8] != '-' {
		return h, false
	}
	i := 1
	num := func(n int) (int, bool) {
		if i+n > len(line) {
			return 0, false
		}
		v := 0
		for _, c := range []byte(line[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		i += n
		return v, true
	}
	lit := func(c byte) bool {
		if i < len(line) && line[i] == c {
			i++
			return true
		}
		return false
	}
	var ok bool
	if h.date[0], ok = num(4); !ok || !lit('-') {
		return h, false
	}
	if h.date[1], ok = num(2); !ok || !lit('-') {
		return h, false
	}
	if h.date[2], ok = num(2); !ok {
		return h, false
	}
	h.st.comma = lit(',')
	if !lit(' ') {
		return h, false
	}
	if h.date[3], ok = num(2); !ok || !lit(':') {
		return h, false
	}
	if h.date[4], ok = num(2); !ok {
		return h, false
	}
	if lit(':') {
		h.st.seconds = true
		if h.date[5], ok = num(2); !ok {
			return h, false
		}
	}
	if !lit(']') {
		return h, false
	}
	h.ts = line[1 : i-1]
	if !lit(' ') {
		return h, false
	}
	rest := line[i:]
	if k := strings.Index(rest, ": "); k >= 0 {
		h.sender, h.bodyOff = rest[:k], i+k+2
	} else if strings.HasSuffix(rest, ":") {
		h.sender, h.bodyOff = rest[:len(rest)-1], len(line)
	} else {
		return h, false
	}
	return h, true
}

// valid reports whether the header's date and time exist.
func (h *header) valid() bool {
	y, mo, d, hh, mi, ss := h.date[0], h.date[1], h.date[2], h.date[3], h.date[4], h.date[5]
	if mo < 1 || mo > 12 || d < 1 || hh > 23 || mi > 59 || ss > 59 || y < 1 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[mo]
	if mo == 2 && (y%4 == 0 && y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}

// block is one message as read: its header and its lines.
type block struct {
	hdr      header
	line     int          // line number of the header
	raw      bytes.Buffer // the lines with their terminators
	lastTerm int          // length of the last line's terminator
	tooLarge bool         // a line or the whole message exceeded the limits
}

func (b *block) add(line []byte, term string, long bool) {
	if long || b.raw.Len()+len(line)+len(term) > maxMessage {
		b.tooLarge = true
		return
	}
	b.raw.Write(line)
	b.raw.WriteString(term)
	b.lastTerm = len(term)
}

// text is the message's lines without the final terminator.
func (b *block) text() []byte {
	return b.raw.Bytes()[:b.raw.Len()-b.lastTerm]
}

// pendingHeader is a header line read ahead: the start of the next message.
type pendingHeader struct {
	hdr  header
	line string
	term string
	n    int
	long bool
}

// chatReader splits one transcript into messages.
type chatReader struct {
	c       chat
	f       *os.File
	lr      lineReader
	st      style // the first header's
	sep     int   // 0 unknown, sepBlank, sepNone
	pending *pendingHeader
	blanks  []string // terminators of blank lines read since the last text line
	cur     block
	quotes  recent // text → id of recent messages, to link quotes

	foreign, foreignLine int // header-like lines of another style, kept as text
	inner, innerLine     int // header-like lines not after a blank line, kept as text
}

const (
	sepBlank = 1 + iota // messages are separated by a blank line (signal-export today)
	sepNone             // consecutive messages (v1)
)

// openChat opens a transcript and reads up to its first header: a file whose
// first non-blank line is no header is not a transcript.
func openChat(c chat) (*chatReader, error) {
	f, err := os.Open(c.path)
	if err != nil {
		return nil, err
	}
	cr := &chatReader{c: c, f: f}
	cr.lr.r = bufio.NewReaderSize(testReader(f), 64<<10)
	for {
		line, term, long, err := cr.lr.next()
		if err == io.EOF {
			return cr, nil // no messages
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		if len(line) == 0 && !long {
			continue
		}
		h, ok := parseHeader(string(line))
		if !ok {
			f.Close()
			return nil, &Error{File: c.path, Line: cr.lr.n, Msg: `not a signal-export transcript: expected a message header like "[2024-01-31 18:05:09] Name: text"`}
		}
		cr.st = h.st
		cr.pending = &pendingHeader{hdr: h, line: string(line), term: term, n: cr.lr.n, long: long}
		return cr, nil
	}
}

func (cr *chatReader) close() {
	if cr.f != nil {
		cr.f.Close()
		cr.f = nil
	}
}

// finish reports, at the end of a transcript, the header-like lines kept as
// message text.
func (cr *chatReader) finish(o importers.Options) {
	if cr.foreign > 0 {
		o.Warnf("%s: %d line(s) look like message headers of another style than the first header (first: line %d); kept as text of the message before them", cr.c.path, cr.foreign, cr.foreignLine)
	}
	if cr.inner > 0 {
		o.Warnf("%s: %d line(s) look like message headers but do not follow a blank line as every message does (first: line %d); kept as text of the message before them", cr.c.path, cr.inner, cr.innerLine)
	}
}

// next returns the next message block (valid until the next call), io.EOF
// at the end.
func (cr *chatReader) next() (*block, error) {
	if cr.pending == nil {
		return nil, io.EOF
	}
	p := cr.pending
	cr.pending = nil
	b := &cr.cur
	b.raw.Reset()
	b.hdr, b.line, b.tooLarge, b.lastTerm = p.hdr, p.n, p.long, 0
	b.add([]byte(p.line), p.term, p.long)
	cr.blanks = cr.blanks[:0]
	for {
		line, term, long, err := cr.lr.next()
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(line) == 0 && !long {
			cr.blanks = append(cr.blanks, term)
			continue
		}
		if line[0] == '[' {
			if h, ok := parseHeader(string(line)); ok {
				switch {
				case h.st != cr.st:
					cr.foreign++
					if cr.foreign == 1 {
						cr.foreignLine = cr.lr.n
					}
				default:
					if cr.sep == 0 {
						cr.sep = sepNone
						if len(cr.blanks) > 0 {
							cr.sep = sepBlank
						}
					}
					if cr.sep == sepBlank && len(cr.blanks) == 0 {
						cr.inner++
						if cr.inner == 1 {
							cr.innerLine = cr.lr.n
						}
						break
					}
					cr.pending = &pendingHeader{hdr: h, line: string(line), term: term, n: cr.lr.n, long: long}
					return b, nil
				}
			}
		}
		for _, t := range cr.blanks {
			b.add(nil, t, false)
		}
		cr.blanks = cr.blanks[:0]
		b.add(line, term, long)
	}
}

// link is a Markdown link signal-export appended for an attachment or a
// sticker: `![name](./media/file)  `, `[name](./media/file)  `,
// `[label](../exported_stickers/pack/id.webp)  `.
type link struct {
	name, target string
	image        bool
}

// parts are the pieces of a message body as signal-export writes it:
// `<quote><body>  [\n(- Name: 👍, … -)][\n(( 😀 ))]<links>`.
type parts struct {
	text      string
	quote     string
	hasQuote  bool
	reactions []importers.Reaction
	sticker   string // a sticker written as "(( label ))": not exported
	links     []link
}

// decompose splits the body text (everything after "Sender: ", lines joined
// with "\n") into its parts. Whatever does not have the exact shape
// signal-export writes stays text.
func decompose(p string) parts {
	var out parts
	end := len(p)
	for {
		q := strings.TrimRight(p[:end], " ")
		if !strings.HasSuffix(q, ")") {
			break
		}
		// The target starts with "./" or "../" (one backward search: a
		// body with many links stays linear).
		i := strings.LastIndex(q, "](.")
		if i < 0 || !(strings.HasPrefix(q[i+3:], "/") || strings.HasPrefix(q[i+3:], "./")) {
			break
		}
		target := q[i+2 : len(q)-1]
		if strings.ContainsAny(target, " \t\r\n") {
			break
		}
		start := -1
		if want := "[" + strings.ReplaceAll(baseName(target), "%20", " "); strings.HasSuffix(q[:i], want) {
			start = i - len(want)
		} else if j := strings.LastIndexByte(q[:i], '['); j >= 0 && !strings.Contains(q[j:i], "\n") {
			start = j
		}
		if start < 0 {
			break
		}
		l := link{name: q[start+1 : i], target: target}
		if start > 0 && q[start-1] == '!' {
			l.image = true
			start--
		}
		out.links = append(out.links, l)
		end = start
	}
	slicesReverse(out.links)
	r := p[:end]
	if k := strings.LastIndexByte(r, '\n'); k >= 0 {
		if last := r[k+1:]; len(last) >= 6 && strings.HasPrefix(last, "(( ") && strings.HasSuffix(last, " ))") {
			out.sticker = last[3 : len(last)-3]
			if out.sticker == "" {
				out.sticker = "sticker"
			}
			r = r[:k]
		}
	}
	if k := strings.LastIndexByte(r, '\n'); k >= 0 {
		if last := r[k+1:]; len(last) >= 6 && strings.HasPrefix(last, "(- ") && strings.HasSuffix(last, " -)") {
			if rx, ok := parseReactions(last[3 : len(last)-3]); ok {
				out.reactions = rx
				r = r[:k]
			}
		}
	}
	r = strings.TrimSuffix(r, "  ") // signal-export pads every body for Markdown line breaks
	if strings.HasPrefix(r, "\n\n>") {
		lines := strings.Split(r[2:], "\n")
		n := 0
		for n < len(lines) && (strings.HasPrefix(lines[n], "> ") || lines[n] == ">") {
			n++
		}
		if n > 0 && n < len(lines) && lines[n] == "" {
			q := make([]string, n)
			for i := range n {
				q[i] = strings.TrimPrefix(strings.TrimPrefix(lines[i], ">"), " ")
			}
			out.quote, out.hasQuote = strings.Join(q, "\n"), true
			r = strings.Join(lines[n+1:], "\n")
		}
	}
	out.text = r
	return out
}

func slicesReverse(l []link) {
	for i, j := 0, len(l)-1; i < j; i, j = i+1, j-1 {
		l[i], l[j] = l[j], l[i]
	}
}

// baseName is the last element of a slash or backslash path.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// parseReactions reads "Name: 👍, Other Name: ❤️" (names may hold ", " or
// ": "; an emoji holds neither, nor spaces) into reactions grouped by emoji
// in order of first appearance.
func parseReactions(s string) ([]importers.Reaction, bool) {
	var out []importers.Reaction
	idx := map[string]int{}
	start := 0 // start of the current item, which may span several parts
	for pos := 0; pos <= len(s); {
		end := len(s)
		if k := strings.Index(s[pos:], ", "); k >= 0 {
			end = pos + k
		}
		part := s[pos:end]
		pos = end + 2
		// ": " cannot straddle a ", ": look in the new part only.
		i := strings.LastIndex(part, ": ")
		if i < 0 {
			continue
		}
		name, emoji := s[start:end-len(part)+i], part[i+2:]
		if emoji == "" || strings.ContainsAny(emoji, " \t") {
			continue
		}
		start = pos
		k, ok := idx[emoji]
		if !ok {
			k = len(out)
			idx[emoji] = k
			out = append(out, importers.Reaction{Emoji: emoji})
		}
		out[k].Count++
		if name != "" {
			out[k].By = append(out[k].By, name)
		}
	}
	if start < len(s) || len(out) == 0 {
		return nil, false
	}
	return out, true
}

// callRE matches the text signal-export writes for a call record
// (create._format_call).
var callRE = regexp.MustCompile(`^(Incoming|Outgoing|Missed) (voice |video )?call( \([^()\n]*\))?$`)
