package signal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// Transcript names signal-export writes in a chat folder: chat.md today,
// index.md in early versions.
var transcriptNames = []string{"chat.md", "index.md"}

const (
	sniffSize  = 4 << 10
	maxLine    = 4 << 20  // longest line read
	maxMessage = 16 << 20 // largest message (all its lines)
	maxChats   = 1 << 16  // chat folders listed in one export folder
)

// Detect reports whether path is a signal-export transcript (chat.md,
// index.md, or a .md/.txt file whose first line is a message header), a chat
// folder holding one, or an export folder with chat folders.
func Detect(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	if fi.IsDir() {
		if findTranscript(path) != "" {
			return true
		}
		ents, err := os.ReadDir(path)
		if err != nil {
			return false
		}
		n := 0
		for _, e := range ents {
			if n >= 32 {
				break
			}
			p := filepath.Join(path, e.Name())
			switch {
			case e.IsDir():
				n++
				if findTranscript(p) != "" {
					return true
				}
			case e.Type().IsRegular() && isTranscriptName(e.Name()):
				n++
				if sniffNonEmpty(p) {
					return true
				}
			}
		}
		return false
	}
	return fi.Mode().IsRegular() && isTranscriptName(filepath.Base(path)) && sniffFile(path)
}

// isTranscriptName accepts .md and .txt files, except the names WhatsApp
// gives its chat texts (their bracketed headers look alike).
func isTranscriptName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	if ext == ".md" {
		return true
	}
	if ext != ".txt" {
		return false
	}
	l := strings.ToLower(name)
	return !strings.Contains(l, "whatsapp") && l != "_chat.txt"
}

// findTranscript returns the transcript of a chat folder, or "".
func findTranscript(dir string) string {
	for _, n := range transcriptNames {
		p := filepath.Join(dir, n)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && sniffFile(p) {
			return p
		}
	}
	return ""
}

// sniffNonEmpty is sniffFile for a file that must hold a message: a folder
// is not a Signal export because it holds an empty .md file.
func sniffNonEmpty(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Size() > 0 && sniffFile(path)
}

func sniffFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, sniffSize)
	n, _ := io.ReadFull(f, head)
	return sniff(head[:n])
}

// sniff: the first non-blank line is a message header. An empty transcript
// (a chat with no messages) is accepted too.
func sniff(b []byte) bool {
	b = bytes.TrimPrefix(b, bom)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		line := b
		if i >= 0 {
			line = b[:i]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 {
			_, ok := parseHeader(string(line))
			return ok
		}
		if i < 0 {
			break
		}
		b = b[i+1:]
	}
	return true
}

var bom = []byte("\xEF\xBB\xBF")

// Error is a malformed-input error: the file, the line, and the cause. It
// wraps importers.ErrMalformed.
type Error struct {
	File string
	Line int // 0 when not about one line
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return "signal: " + e.File + ": line " + strconv.Itoa(e.Line) + ": " + e.Msg
	}
	return "signal: " + e.File + ": " + e.Msg
}

// Unwrap returns importers.ErrMalformed.
func (e *Error) Unwrap() error { return importers.ErrMalformed }

// chat is one transcript to read.
type chat struct {
	path string // OS path of the transcript
	dir  string // slash path of its folder relative to the export root ("." for the root)
	name string // the chat folder's name, or the file's name without extension
	conv string // "signal:" + name
}

// Open reads a signal-export transcript, a chat folder, or an export folder
// (every chat folder in it, and .md/.txt transcripts directly in it).
// Attachments are looked up relative to each transcript, never outside the
// folder given (or the transcript's folder when a file is given).
func Open(ctx context.Context, path string, o importers.Options) (importers.Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	s := &source{ctx: ctx, o: o, loc: o.TZ, warned: map[string]bool{}, hashes: map[string]hashed{}}
	if s.loc == nil {
		s.loc = time.Local
	}
	s.basis = "assumed_tz:" + zoneName(s.loc)
	var rootDir string
	switch {
	case fi.IsDir():
		rootDir = path
		if t := findTranscript(path); t != "" {
			s.chats = []chat{newChat(t, ".", dirName(path))}
		} else {
			s.chats, err = listChats(path, o)
			if err != nil {
				return nil, err
			}
			if len(s.chats) == 0 {
				return nil, &Error{File: path, Msg: "no signal-export transcript (chat.md) in this folder or its chat folders"}
			}
		}
	case fi.Mode().IsRegular():
		rootDir = filepath.Dir(path)
		base := filepath.Base(path)
		name := strings.TrimSuffix(base, filepath.Ext(base))
		if slices.Contains(transcriptNames, strings.ToLower(base)) {
			name = dirName(rootDir)
		}
		s.chats = []chat{newChat(path, ".", name)}
	default:
		return nil, fmt.Errorf("signal: %s is not a file or folder", path)
	}
	s.root, err = os.OpenRoot(rootDir)
	if err != nil {
		return nil, err
	}
	// Open the first chat now, so that a file that is no transcript at all
	// fails here rather than at the first Next.
	if err := s.openNext(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func newChat(path, dir, name string) chat {
	return chat{path: path, dir: dir, name: name, conv: "signal:" + name}
}

// dirName is the name of a folder, resolving "." and the like.
func dirName(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Base(dir)
}

// listChats lists the chat folders of an export folder (sorted by name),
// then the transcripts lying directly in it.
func listChats(dir string, o importers.Options) ([]chat, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var chats []chat
	seen := map[string]string{}
	add := func(c chat) {
		if prev, ok := seen[c.conv]; ok {
			o.Warnf("%s: same conversation key %q as %s: both imported into it", c.path, c.conv, prev)
		}
		seen[c.conv] = c.path
		chats = append(chats, c)
	}
	for _, e := range ents {
		if !e.IsDir() || len(chats) >= maxChats {
			continue
		}
		if t := findTranscript(filepath.Join(dir, e.Name())); t != "" {
			add(newChat(t, e.Name(), e.Name()))
		}
	}
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !isTranscriptName(n) || len(chats) >= maxChats {
			continue
		}
		p := filepath.Join(dir, n)
		if sniffFile(p) {
			add(newChat(p, ".", strings.TrimSuffix(n, filepath.Ext(n))))
		}
	}
	return chats, nil
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

// source streams the messages of the chats of one export.
type source struct {
	ctx    context.Context
	o      importers.Options
	loc    *time.Location
	basis  string
	root   *os.Root
	chats  []chat
	next   int
	cur    *chatReader
	blobs  []canon.Blob
	err    error // sticky
	warned map[string]bool
	hashes map[string]hashed // files already hashed, by path in the root
	rawBuf bytes.Buffer
	rawEnc *json.Encoder
}

// openNext opens the next chat not excluded. A transcript that is not one
// (no header on its first line) is skipped when SkipInvalid is set.
func (s *source) openNext() error {
	for s.next < len(s.chats) {
		c := s.chats[s.next]
		s.next++
		if s.o.Exclude[c.conv] {
			continue
		}
		cr, err := openChat(c)
		if err != nil {
			if s.o.SkipInvalid && errors.Is(err, importers.ErrMalformed) {
				s.skipped(err)
				continue
			}
			return err
		}
		s.cur = cr
		return nil
	}
	return nil
}

func (s *source) skipped(err error) {
	if s.o.Skipped != nil {
		s.o.Skipped(err)
	}
}

// Next returns the next message, io.EOF at the end.
func (s *source) Next() (canon.Message, error) {
	s.blobs = nil
	if s.err != nil {
		return canon.Message{}, s.err
	}
	for {
		if err := s.ctx.Err(); err != nil {
			return canon.Message{}, err
		}
		if s.cur == nil {
			if err := s.openNext(); err != nil {
				s.err = err
				return canon.Message{}, err
			}
			if s.cur == nil {
				s.err = io.EOF
				return canon.Message{}, io.EOF
			}
		}
		blk, err := s.cur.next()
		if err == io.EOF {
			s.cur.finish(s.o)
			s.cur.close()
			s.cur = nil
			continue
		}
		var m canon.Message
		if err == nil {
			m, err = s.convert(s.cur, blk)
		}
		if err != nil {
			if s.o.SkipInvalid && errors.Is(err, importers.ErrMalformed) {
				s.skipped(err)
				s.blobs = nil
				continue
			}
			if !errors.Is(err, importers.ErrMalformed) && s.ctx.Err() == nil {
				// An I/O error: the transcript cannot be read further.
				err = fmt.Errorf("signal: %s: %w", s.cur.c.path, err)
			}
			s.err = err
			return canon.Message{}, err
		}
		return m, nil
	}
}

// Blobs returns the files of the message last returned by Next.
func (s *source) Blobs() []canon.Blob { return s.blobs }

// Close releases the open files. Blob.Open fails after Close.
func (s *source) Close() error {
	if s.cur != nil {
		s.cur.close()
		s.cur = nil
	}
	if s.root != nil {
		err := s.root.Close()
		s.root = nil
		return err
	}
	return nil
}

// testReader lets tests read transcripts in small pieces.
var testReader = func(r io.Reader) io.Reader { return r }

// lineReader reads lines of at most maxLine bytes.
type lineReader struct {
	r    *bufio.Reader
	buf  []byte
	n    int // lines read
	bom  bool
	done bool
}

// next returns the next line without its terminator, the terminator, and
// whether the line was cut at maxLine bytes. The line is valid until the
// next call.
func (lr *lineReader) next() (line []byte, term string, long bool, err error) {
	if lr.done {
		return nil, "", false, io.EOF
	}
	lr.buf = lr.buf[:0]
	for {
		frag, err := lr.r.ReadSlice('\n')
		if len(lr.buf)+len(frag) <= maxLine {
			lr.buf = append(lr.buf, frag...)
		} else {
			long = true
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			lr.done = true
			if len(lr.buf) == 0 && !long {
				return nil, "", false, io.EOF
			}
			break
		}
		if err != nil {
			return nil, "", false, err
		}
		break
	}
	lr.n++
	line = lr.buf
	if !lr.bom {
		lr.bom = true
		line = bytes.TrimPrefix(line, bom)
	}
	switch {
	case bytes.HasSuffix(line, []byte("\r\n")):
		line, term = line[:len(line)-2], "\r\n"
	case bytes.HasSuffix(line, []byte("\n")):
		line, term = line[:len(line)-1], "\n"
	}
	return line, term, long, nil
}
