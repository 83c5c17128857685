package whatsapp

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

const (
	maxLine    = 4 << 20  // one line of the chat text
	maxMessage = 16 << 20 // one message with its continuation lines
	sniffSize  = 4 << 10
	readBuf    = 64 << 10
	// missing reasons
	missingNotExported = "not exported"
	missingNotFound    = "not found in export"
	missingUnreadable  = "unreadable in export"
)

var errLineTooLong = errors.New("line longer than 4 MiB")

// Detect reports whether path looks like a WhatsApp chat export: a .txt
// whose first line is a WhatsApp message header, or a .zip holding such a
// text as "_chat.txt" or "WhatsApp Chat with NAME.txt". It reads a few KiB.
func Detect(file string) bool {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".txt":
		f, err := os.Open(file)
		if err != nil {
			return false
		}
		defer f.Close()
		b := make([]byte, sniffSize)
		n, _ := io.ReadFull(f, b)
		_, named := chatNameFromBase(trimExt(filepath.Base(file)))
		return sniff(b[:n], named || strings.EqualFold(filepath.Base(file), "_chat.txt"))
	case ".zip":
		zr, err := zip.OpenReader(file)
		if err != nil {
			return false
		}
		defer zr.Close()
		for _, f := range zr.File {
			name := strings.ReplaceAll(f.Name, `\`, "/")
			if inMacOSX(name) || f.FileInfo().IsDir() {
				continue
			}
			base := path.Base(name)
			_, named := chatNameFromBase(trimExt(base))
			if !named && base != "_chat.txt" {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return false
			}
			b := make([]byte, sniffSize)
			n, _ := io.ReadFull(rc, b)
			rc.Close()
			return sniff(b[:n], true)
		}
	}
	return false
}

// sniff checks that the first non-blank line is a message header. Without a
// WhatsApp file name, "[2019-12-24, 12:23] Name:" is left to the Signal
// importer (signal-export's chat.md shape).
func sniff(b []byte, named bool) bool {
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		h, ok := parseHeader(line)
		if !ok {
			return false
		}
		if !named && h.st.bracket && h.st.yearPos == 0 && h.st.dsep == '-' && h.st.comma {
			return false
		}
		return true
	}
	return false
}

// source streams the messages of one export.
type source struct {
	ctx      context.Context
	o        importers.Options
	path     string // the file given
	where    string // how errors name the chat text
	conv     string
	convName string
	loc      *time.Location
	basis    string

	zip      *zipExport
	media    mediaStore
	openText func() (io.ReadCloser, error)

	style    style
	styleSet bool
	order    order

	rc     io.ReadCloser
	lr     lineReader
	lineNo int

	pend     []byte // the next message's header line
	pendH    header
	pendNo   int
	havePend bool
	msg      []byte // the current message's lines, terminators included
	ends     []int  // end offset of each line in msg

	done    bool
	err     error // sticky
	dup     dupTracker
	hashes  map[string]hashed
	named   map[string]bool
	blobs   []canon.Blob
	rawBuf  bytes.Buffer
	rawEnc  *json.Encoder
	badUTF8 bool

	foreign, foreignLine int   // lines with a header of another style
	readFailed           error // the chat text cannot be read further

	idBuf []byte
}

// Open opens a WhatsApp export (.txt or .zip) for streaming. It reads the
// chat text once to learn the header style and, unless o.DayFirst or
// o.MonthFirst says it, the date order: a file whose dates all fit both
// orders gives an error wrapping importers.ErrAmbiguousDates.
func Open(ctx context.Context, path string, o importers.Options) (importers.Source, error) {
	if o.DayFirst && o.MonthFirst {
		return nil, errors.New("whatsapp: DayFirst and MonthFirst are both set")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	s := &source{ctx: ctx, o: o, path: path, where: path, loc: o.TZ,
		hashes: map[string]hashed{}, named: map[string]bool{}}
	if s.loc == nil {
		s.loc = time.Local
	}
	s.basis = "assumed_tz:" + zoneName(s.loc)
	s.rawEnc = json.NewEncoder(&s.rawBuf)
	s.rawEnc.SetEscapeHTML(false)
	switch {
	case o.DayFirst:
		s.order = dayFirst
	case o.MonthFirst:
		s.order = monthFirst
	}

	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("whatsapp: %s is not a regular file", path)
	}
	if strings.EqualFold(filepath.Ext(path), ".zip") || isZip(path) {
		z, err := openZip(path, o.Warnf)
		if err != nil {
			return nil, err
		}
		s.zip, s.media = z, z
		s.where = path + " (" + z.chat.Name + ")"
		s.openText = func() (io.ReadCloser, error) { return openEntry(z.chat) }
		s.convName = chatName(path, z.chat.Name)
	} else {
		s.media = dirExport{dir: filepath.Dir(path)}
		s.openText = func() (io.ReadCloser, error) { return os.Open(path) }
		s.convName = chatName(path, "")
	}
	s.conv = "whatsapp:" + s.convName
	if o.Exclude[s.conv] {
		s.done = true
		return s, nil
	}
	if err := s.scan(); err != nil {
		s.Close()
		return nil, err
	}
	rc, err := s.openText()
	if err != nil {
		s.Close()
		return nil, s.readErr(0, err)
	}
	s.rc = rc
	s.lr.reset(rc)
	return s, nil
}

func isZip(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [4]byte
	_, err = io.ReadFull(f, b[:])
	return err == nil && string(b[:]) == "PK\x03\x04"
}

// zoneName names loc for time_basis; for the machine's zone, its IANA name
// when the system says it.
func zoneName(loc *time.Location) string {
	if loc != time.Local {
		return loc.String()
	}
	if tz, ok := os.LookupEnv("TZ"); ok {
		if tz == "" {
			return "UTC"
		}
		if l, err := time.LoadLocation(strings.TrimPrefix(tz, ":")); err == nil && l.String() != "Local" {
			return l.String()
		}
	}
	if p, err := os.Readlink("/etc/localtime"); err == nil {
		if i := strings.Index(p, "zoneinfo/"); i >= 0 && i+9 < len(p) {
			return p[i+9:]
		}
	}
	return "Local"
}

func (s *source) malformed(line int, format string, args ...any) error {
	if line > 0 {
		return fmt.Errorf("whatsapp: %s line %d: %s: %w", s.where, line, fmt.Sprintf(format, args...), importers.ErrMalformed)
	}
	return fmt.Errorf("whatsapp: %s: %s: %w", s.where, fmt.Sprintf(format, args...), importers.ErrMalformed)
}

// readErr classifies an error reading the chat text: damaged compressed data
// is a malformed export, anything else an I/O error.
func (s *source) readErr(line int, err error) error {
	var ce flate.CorruptInputError
	if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrAlgorithm) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ce) {
		return s.malformed(line, "damaged zip entry: %v", err)
	}
	if errors.Is(err, errLineTooLong) {
		return fmt.Errorf("whatsapp: %s line %d: %w: %w", s.where, line, errLineTooLong, importers.ErrMalformed)
	}
	return fmt.Errorf("whatsapp: reading %s: %w", s.where, err)
}

// scan is the first pass: the header style and the date order.
func (s *source) scan() error {
	rc, err := s.openText()
	if err != nil {
		return s.readErr(0, err)
	}
	defer rc.Close()
	var lr lineReader
	lr.reset(rc)
	lineNo, ambLine := 0, 0
	ambText := ""
	for {
		line, err := lr.next()
		if err == io.EOF {
			break
		}
		lineNo++
		if errors.Is(err, errLineTooLong) {
			continue // reported by the second pass
		}
		if err != nil {
			return s.readErr(lineNo, err)
		}
		if lineNo%4096 == 0 {
			if err := s.ctx.Err(); err != nil {
				return err
			}
		}
		h, ok := parseHeader(line)
		if !ok {
			continue
		}
		if !s.styleSet {
			s.style, s.styleSet = h.st, true
			if s.order != orderUnknown || h.st.yearPos == 0 {
				return nil
			}
		}
		if h.st != s.style {
			continue
		}
		ev, same := h.evidence()
		if ev != orderUnknown {
			s.order = ev
			return nil
		}
		if !same && ambLine == 0 {
			ambLine, ambText = lineNo, timestampText(line, &h)
		}
	}
	if !s.styleSet {
		return s.malformed(0, "no WhatsApp message header in the file")
	}
	if ambLine == 0 {
		s.order = dayFirst // every date reads the same either way
		return nil
	}
	return fmt.Errorf("whatsapp: %s: %w (every date fits both, e.g. line %d %q)", s.where, importers.ErrAmbiguousDates, ambLine, ambText)
}

// lineReader returns lines with their terminators, bounded in length; the
// first line loses a UTF-8 byte order mark.
type lineReader struct {
	br    *bufio.Reader
	long  []byte
	first bool
}

func (r *lineReader) reset(rd io.Reader) {
	r.br = bufio.NewReaderSize(rd, readBuf)
	r.first = true
}

// next returns the next line (valid until the next call), io.EOF at the end,
// or errLineTooLong for a line it skipped.
func (r *lineReader) next() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.long = append(r.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = r.br.ReadSlice('\n')
			if len(r.long)+len(line) > maxLine {
				for err == bufio.ErrBufferFull {
					_, err = r.br.ReadSlice('\n')
				}
				if cap(r.long) > readBuf {
					r.long = nil
				}
				if err != nil && err != io.EOF {
					return nil, err
				}
				r.first = false
				return nil, errLineTooLong
			}
			r.long = append(r.long, line...)
		}
		line = r.long
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if len(line) == 0 {
		return nil, io.EOF
	}
	if r.first {
		r.first = false
		line = bytes.TrimPrefix(line, []byte("\uFEFF"))
	}
	return line, nil
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// Next returns the next message.
func (s *source) Next() (canon.Message, error) {
	s.blobs = s.blobs[:0]
	for {
		if s.err != nil {
			return canon.Message{}, s.err
		}
		if s.done {
			return canon.Message{}, io.EOF
		}
		m, err := s.next()
		switch {
		case err == nil:
			return m, nil
		case err == io.EOF:
			s.done = true
			s.finish()
			return canon.Message{}, io.EOF
		case errors.Is(err, importers.ErrMalformed) && s.o.SkipInvalid && s.readFailed == nil:
			s.blobs = s.blobs[:0]
			if s.o.Skipped != nil {
				s.o.Skipped(err)
			}
		default:
			s.err = err
			return canon.Message{}, err
		}
	}
}

// readLine reads the next line of the second pass.
func (s *source) readLine() ([]byte, error) {
	if s.readFailed != nil {
		return nil, s.readFailed
	}
	line, err := s.lr.next()
	if err == io.EOF {
		return nil, err
	}
	s.lineNo++
	if err != nil {
		err = s.readErr(s.lineNo, err)
		if !errors.Is(err, errLineTooLong) {
			s.readFailed = err // the reader cannot go on
		}
		return nil, err
	}
	if s.lineNo%4096 == 0 {
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
	}
	return line, nil
}

// header parses a header of the file's style. A header of another style
// is counted (and stays text).
func (s *source) header(line []byte) (header, bool) {
	// Cheap reject: a header starts with '[', a digit or a mark.
	if len(line) == 0 || (line[0] != '[' && (line[0] < '0' || line[0] > '9') && line[0] < utf8.RuneSelf) {
		return header{}, false
	}
	h, ok := parseHeader(line)
	if ok && h.st != s.style {
		if s.foreign == 0 {
			s.foreignLine = s.lineNo
		}
		s.foreign++
		return h, false
	}
	return h, ok
}

func blank(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

// next reads one message.
func (s *source) next() (canon.Message, error) {
	for !s.havePend {
		line, err := s.readLine()
		if err != nil {
			return canon.Message{}, err
		}
		if blank(line) {
			continue
		}
		if h, ok := s.header(line); ok {
			s.pend = append(s.pend[:0], line...)
			s.pendH, s.pendNo, s.havePend = h, s.lineNo, true
			break
		}
		return canon.Message{}, s.malformed(s.lineNo, "text before the first message header: %q", short(trimEOL(line)))
	}
	h, start := s.pendH, s.pendNo
	s.msg = append(s.msg[:0], s.pend...)
	s.ends = append(s.ends[:0], len(s.msg))
	s.havePend = false
	var tooLong, lineErr error
	for {
		line, err := s.readLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !errors.Is(err, errLineTooLong) {
				return canon.Message{}, err
			}
			if lineErr == nil {
				lineErr = err
			}
			continue
		}
		if h2, ok := s.header(line); ok {
			s.pend = append(s.pend[:0], line...)
			s.pendH, s.pendNo, s.havePend = h2, s.lineNo, true
			break
		}
		if len(s.msg)+len(line) > maxMessage {
			if tooLong == nil {
				tooLong = s.malformed(start, "message longer than %d bytes", maxMessage)
			}
			continue
		}
		s.msg = append(s.msg, line...)
		s.ends = append(s.ends, len(s.msg))
	}
	if cap(s.msg) > 4*readBuf && len(s.msg) < readBuf {
		s.msg = nil // do not keep a huge buffer for small messages
	}
	if tooLong != nil {
		return canon.Message{}, tooLong
	}
	if lineErr != nil {
		return canon.Message{}, lineErr
	}
	return s.build(h, start)
}

func short(b []byte) string {
	if len(b) > 60 {
		b = b[:60]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
		return string(b) + "…"
	}
	return string(b)
}

// build turns the lines in s.msg into a canonical message.
func (s *source) build(h header, lineNo int) (canon.Message, error) {
	first := trimEOL(s.msg[:s.ends[0]])
	t, err := h.instant(s.order, s.loc)
	if err != nil {
		return canon.Message{}, s.malformed(lineNo, "%v", err)
	}
	ts := timestampText(first, &h)
	body := string(first[h.body:])
	author, text, hasAuthor := splitAuthor(body)

	var tb strings.Builder
	tb.Grow(len(s.msg))
	tb.WriteString(text)
	for k := 1; k < len(s.ends); k++ {
		tb.WriteByte('\n')
		tb.Write(trimEOL(s.msg[s.ends[k-1]:s.ends[k]]))
	}
	full := strings.TrimRight(tb.String(), "\n")
	if !s.badUTF8 && !utf8.ValidString(full) {
		s.badUTF8 = true
		s.o.Warnf("%s line %d: invalid UTF-8 replaced by U+FFFD (this and later messages)", s.where, lineNo)
	}

	rec := importers.Record{
		Conversation:     s.conv,
		Time:             importers.RFC3339(t),
		Kind:             canon.KindMessage,
		ConversationName: s.convName,
		Text:             full,
		TimeBasis:        s.basis,
	}
	if hasAuthor {
		rec.SenderName = strings.TrimSpace(clean(author))
		rec.Sender = senderKey(rec.SenderName)
		lrm := strings.HasPrefix(text, "\u200e")
		name, mk := mediaMarker(text, lrm, func(n string) bool { _, ok := s.media.lookup(n); return ok })
		switch mk {
		case attachedMedia:
			a, err := s.attachment(name, lineNo)
			if err != nil {
				return canon.Message{}, err
			}
			rec.Attachments = []importers.Attachment{a}
		case omittedMedia:
			a := importers.Attachment{Name: name, Missing: missingNotExported}
			if name != "" {
				a.Mime = mimeOf(name)
			}
			rec.Attachments = []importers.Attachment{a}
		default:
			if lrm && !isDeletedMarker(strings.TrimSpace(clean(text))) {
				rec.Kind = canon.KindService
				rec.Service = classify(full)
			}
		}
	} else {
		rec.Kind = canon.KindService
		rec.Service = classify(full)
	}
	rec.HasText = rec.Kind == canon.KindMessage
	rec.ID = s.synthID(ts, rec.Sender, full)

	s.rawBuf.Reset()
	if err := s.rawEnc.Encode(string(trimEOL(s.msg))); err != nil {
		return canon.Message{}, err
	}
	rec.Raw = bytes.TrimSuffix(s.rawBuf.Bytes(), []byte("\n"))
	m, err := rec.Message()
	if err != nil {
		return canon.Message{}, fmt.Errorf("whatsapp: %s line %d: %w", s.where, lineNo, err)
	}
	return m, nil
}

// attachment describes a file a message names, hashing it when the export
// holds it.
func (s *source) attachment(name string, lineNo int) (importers.Attachment, error) {
	a := importers.Attachment{Name: name, Mime: mimeOf(name)}
	mf, ok := s.media.lookup(name)
	if !ok {
		a.Missing = missingNotFound
		return a, nil
	}
	if s.zip != nil {
		s.named[mf.key] = true
	}
	hv, ok := s.hashes[mf.key]
	if !ok {
		var err error
		hv, err = hashFile(mf)
		if err != nil {
			err = s.malformed(lineNo, "reading attached file %q: %v", name, err)
			if !s.o.SkipInvalid {
				return a, err
			}
			if s.o.Skipped != nil {
				s.o.Skipped(err)
			}
			a.Missing = missingUnreadable
			return a, nil
		}
		if len(s.hashes) < 1<<17 {
			s.hashes[mf.key] = hv
		}
	}
	sum := hex.EncodeToString(hv.sum[:])
	a.Size, a.SHA256, a.Blob = hv.size, sum, sum
	s.blobs = append(s.blobs, canon.Blob{SHA256: hv.sum, Size: hv.size, Open: mf.open})
	return a, nil
}

// synthID is "syn:" + hex SHA-256 over the conversation key, the header's
// timestamp text, the sender key, the text and the duplicate index, each
// prefixed with its length as a uvarint (the index written in decimal).
func (s *source) synthID(ts, sender, text string) string {
	b := appendField(s.idBuf[:0], s.conv)
	b = appendField(b, ts)
	b = appendField(b, sender)
	b = appendField(b, text)
	base := sha256.Sum256(b)
	var num [20]byte
	b = appendField(b, string(strconv.AppendUint(num[:0], uint64(s.dup.next(base)), 10)))
	id := sha256.Sum256(b)
	if cap(b) <= 1<<16 {
		s.idBuf = b
	}
	var out [4 + 64]byte
	copy(out[:], "syn:")
	hex.Encode(out[4:], id[:])
	return string(out[:])
}

func appendField(b []byte, v string) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// dupTracker counts identical (timestamp text, sender, text) messages seen
// recently: the duplicate index of a synthesized id. It remembers at least
// the last dupWindow distinct messages (two generations of maps), which
// bounds its memory; identical messages further apart than that share an id.
type dupTracker struct {
	cur, prev map[[32]byte]uint32
}

const dupWindow = 4096

func (d *dupTracker) next(k [32]byte) uint32 {
	if d.cur == nil {
		d.cur = make(map[[32]byte]uint32)
	}
	n, ok := d.cur[k]
	if !ok {
		n = d.prev[k]
	}
	d.cur[k] = n + 1
	if len(d.cur) >= dupWindow {
		d.prev, d.cur = d.cur, make(map[[32]byte]uint32, dupWindow)
	}
	return n
}

// finish reports, at the end, the files of a zip no message named.
func (s *source) finish() {
	if s.foreign > 0 {
		s.o.Warnf("%s: %d line(s) look like message headers of another style than the file's first header (first: line %d); kept as text of the message before them",
			s.where, s.foreign, s.foreignLine)
	}
	if s.media == nil {
		return
	}
	if u := s.media.unused(s.named); len(u) > 0 {
		list := u
		if len(list) > 5 {
			list = list[:5]
		}
		more := ""
		if len(u) > len(list) {
			more = fmt.Sprintf(" and %d more", len(u)-len(list))
		}
		s.o.Warnf("%s: %d file(s) in the export are not named by any message and were not imported: %s%s",
			s.path, len(u), strings.Join(list, ", "), more)
	}
}

// Blobs returns the files of the message last returned by Next.
func (s *source) Blobs() []canon.Blob { return s.blobs }

// Close releases the files.
func (s *source) Close() error {
	var err error
	if s.rc != nil {
		err = s.rc.Close()
		s.rc = nil
	}
	if s.zip != nil {
		if e := s.zip.zr.Close(); err == nil {
			err = e
		}
		s.zip = nil
	}
	return err
}
