package discord

import (
	"bytes"
	"cmp"
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

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

const sniffSize = 8 << 10

// Detect reports whether path is a DiscordChatExporter JSON export: a .json
// file whose first KiB hold a top-level object with "guild" and "channel"
// objects, or a directory holding such files.
func Detect(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	if fi.IsDir() {
		files, _ := listDir(path, 16)
		return len(files) > 0
	}
	return fi.Mode().IsRegular() && strings.EqualFold(filepath.Ext(path), ".json") && sniffFile(path)
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

// sniff looks for `{ … "guild": {` and `"channel": {` in the head of a file.
func sniff(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	return hasObjectKey(b, `"guild"`) && hasObjectKey(b, `"channel"`)
}

func hasObjectKey(b []byte, key string) bool {
	for {
		i := bytes.Index(b, []byte(key))
		if i < 0 {
			return false
		}
		b = b[i+len(key):]
		rest := bytes.TrimLeft(b, " \t\r\n")
		if len(rest) > 0 && rest[0] == ':' {
			rest = bytes.TrimLeft(rest[1:], " \t\r\n")
			if len(rest) > 0 && rest[0] == '{' {
				return true
			}
		}
	}
}

// listDir returns the DiscordChatExporter files directly in dir (not in
// subdirectories: the *.json_Files media folders may hold .json attachments),
// in natural order so that "[part 2]" comes before "[part 10]". It stops
// after limit matches when limit > 0. others lists .json files that are not
// DCE exports.
func listDir(dir string, limit int) (files, others []string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.Type().IsRegular() && strings.EqualFold(filepath.Ext(e.Name()), ".json") {
			names = append(names, e.Name())
		}
	}
	slices.SortFunc(names, naturalCompare)
	for _, n := range names {
		p := filepath.Join(dir, n)
		if sniffFile(p) {
			files = append(files, p)
			if limit > 0 && len(files) >= limit {
				break
			}
		} else {
			others = append(others, p)
		}
	}
	return files, others
}

// naturalCompare orders strings with runs of digits compared by value
// (ties broken bytewise, so that the order is total).
func naturalCompare(a, b string) int {
	if c := naturalCompare1(a, b); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func naturalCompare1(a, b string) int {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			i, j := digitRun(a), digitRun(b)
			da, db := strings.TrimLeft(a[:i], "0"), strings.TrimLeft(b[:j], "0")
			if c := cmp.Compare(len(da), len(db)); c != 0 {
				return c
			}
			if c := strings.Compare(da, db); c != 0 {
				return c
			}
			a, b = a[i:], b[j:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitRun(s string) int {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// Error is a malformed-input error: the file, the byte offset where the
// problem is, and the cause. It wraps importers.ErrMalformed.
type Error struct {
	File   string
	Offset int64 // -1 when not about one place
	Msg    string
	Err    error // the underlying cause, if any (e.g. a *json.SyntaxError)
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Offset >= 0 {
		b.WriteString(": byte offset ")
		b.WriteString(strconv.FormatInt(e.Offset, 10))
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns importers.ErrMalformed and the cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{importers.ErrMalformed, e.Err}
	}
	return []error{importers.ErrMalformed}
}

// Open reads a DiscordChatExporter JSON file, or every such file directly in
// a directory (one per channel, thread or partition). Media referenced by
// relative paths are read from the directory that holds the JSON file.
func Open(ctx context.Context, path string, o importers.Options) (importers.Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	s := &source{ctx: ctx, o: o, warned: map[string]bool{}}
	var dir string
	if fi.IsDir() {
		dir = path
		var others []string
		s.files, others = listDir(path, 0)
		for _, p := range others {
			o.Warnf("%s: not a DiscordChatExporter JSON export, ignored", p)
		}
		if len(s.files) == 0 {
			return nil, &Error{File: path, Offset: -1, Msg: "no DiscordChatExporter JSON export in this directory"}
		}
	} else {
		dir = filepath.Dir(path)
		s.files = []string{path}
	}
	s.root, err = os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	// Open the first file now, so that a file that is not an export at all
	// fails here rather than at the first Next.
	if err := s.openNext(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// source streams the messages of one or more export files.
type source struct {
	ctx    context.Context
	o      importers.Options
	files  []string
	next   int
	cur    *fileSource
	root   *os.Root // the directory of the JSON files: attachments resolve inside it
	blobs  []canon.Blob
	err    error // sticky
	warned map[string]bool
}

// openNext opens s.files[s.next]. A malformed file is skipped (reported)
// when SkipInvalid is set.
func (s *source) openNext() error {
	for s.next < len(s.files) {
		p := s.files[s.next]
		s.next++
		fs, err := openFile(p, s.o)
		if err != nil {
			if s.o.SkipInvalid && errors.Is(err, importers.ErrMalformed) {
				s.skipped(err)
				continue
			}
			return err
		}
		if s.o.Exclude[fs.conv] {
			fs.close()
			continue
		}
		s.cur = fs
		return nil
	}
	return nil
}

func (s *source) skipped(err error) {
	if s.o.Skipped != nil {
		s.o.Skipped(err)
	}
}

// warnOnce sends a warning the first time key is seen.
func (s *source) warnOnce(key, format string, args ...any) {
	if s.warned[key] {
		return
	}
	s.warned[key] = true
	s.o.Warnf(format, args...)
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
		raw, off, err := s.cur.next()
		if err == io.EOF {
			s.cur.close()
			s.cur = nil
			continue
		}
		var m canon.Message
		if err == nil {
			m, err = s.convert(s.cur, raw, off)
		}
		if err != nil {
			if s.o.SkipInvalid && errors.Is(err, importers.ErrMalformed) {
				s.skipped(err)
				s.blobs = nil
				continue
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

// testReader lets tests read files in small pieces to reach every buffer
// boundary of the lexer.
var testReader = func(r io.Reader) io.Reader { return r }

// fileSource walks one export file.
type fileSource struct {
	path    string
	f       *os.File
	lx      *lexer
	o       importers.Options
	state   int
	channel dceChannel
	guild   dceGuild
	haveCh  bool
	conv    string // "discord:<channel id>"
	name    string // conversation_name
	count   int64  // messages seen
	claimed int64  // messageCount, -1 when absent
}

const (
	stKeys       = iota // expecting a top-level key or the end of the object
	stKeysComma         // after a top-level value: ',' or '}'
	stArrayFirst        // just after "messages": [
	stArrayNext         // after a message: ',' or ']'
	stDone
)

func (fs *fileSource) errorf(off int64, cause error, format string, args ...any) *Error {
	return &Error{File: fs.path, Offset: off, Msg: fmt.Sprintf(format, args...), Err: cause}
}

func openFile(path string, o importers.Options) (*fileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fs := &fileSource{path: path, f: f, lx: newLexer(testReader(f)), o: o, claimed: -1}
	if err := fs.header(); err != nil {
		fs.close()
		return nil, err
	}
	return fs, nil
}

func (fs *fileSource) close() {
	if fs.f != nil {
		fs.f.Close()
		fs.f = nil
	}
}

// header reads the top-level object up to the start of the messages array.
// If the channel comes after the messages (a hand-edited file), a first pass
// over the file finds it.
func (fs *fileSource) header() error {
	fs.lx.skipBOM()
	c, err := fs.lx.peek()
	if err != nil {
		if err == io.EOF {
			return fs.errorf(fs.lx.offset(), nil, "empty file, expected a DiscordChatExporter JSON object")
		}
		return err
	}
	if c != '{' {
		return fs.errorf(fs.lx.offset(), nil, "not a DiscordChatExporter export: expected '{', found %q", c)
	}
	fs.lx.pos++
	fs.state = stKeys
	found, err := fs.keys(false)
	if err != nil {
		return err
	}
	if !found {
		return fs.errorf(-1, nil, `no "messages" array: not a DiscordChatExporter export`)
	}
	if !fs.haveCh {
		if err := fs.prescan(); err != nil {
			return err
		}
	}
	return fs.setConversation()
}

// keys reads top-level keys until the messages array opens (true) or the
// object ends (false). In skim mode the messages arrays are skipped, for the
// first pass that looks for the channel.
func (fs *fileSource) keys(skim bool) (bool, error) {
	lx := fs.lx
	for {
		c, err := lx.peek()
		if err != nil {
			return false, fs.eofError(err, "in the top-level object")
		}
		if fs.state == stKeysComma {
			switch c {
			case ',':
				lx.pos++
				fs.state = stKeys
				continue
			case '}':
				lx.pos++
				fs.state = stDone
				return false, fs.trailer()
			}
			return false, fs.errorf(lx.offset(), nil, "expected ',' or '}' after a top-level value, found %q", c)
		}
		if c == '}' {
			lx.pos++
			fs.state = stDone
			return false, fs.trailer()
		}
		if c != '"' {
			return false, fs.errorf(lx.offset(), nil, "expected a top-level key, found %q", c)
		}
		kraw, koff, err := lx.scanValue(true, maxKey)
		if err != nil {
			return false, fs.scanError(err, koff, "top-level key", maxKey)
		}
		var key string
		if err := json.Unmarshal(kraw, &key); err != nil {
			return false, fs.errorf(koff, err, "bad top-level key")
		}
		c, err = lx.peek()
		if err != nil {
			return false, fs.eofError(err, "after a top-level key")
		}
		if c != ':' {
			return false, fs.errorf(lx.offset(), nil, "expected ':' after key %q, found %q", key, c)
		}
		lx.pos++
		fs.state = stKeysComma
		switch key {
		case "messages":
			c, err := lx.peek()
			if err != nil {
				return false, fs.eofError(err, `after "messages":`)
			}
			if c != '[' {
				return false, fs.errorf(lx.offset(), nil, `"messages" is not an array`)
			}
			if skim {
				if _, off, err := lx.scanValue(false, 0); err != nil {
					return false, fs.scanError(err, off, `"messages" array`, 0)
				}
				continue
			}
			lx.pos++
			fs.state = stArrayFirst
			return true, nil
		case "guild", "channel", "messageCount":
			raw, off, err := lx.scanValue(true, maxHeader)
			if err != nil {
				return false, fs.scanError(err, off, strconv.Quote(key), maxHeader)
			}
			if err := fs.headerValue(key, raw, off); err != nil {
				return false, err
			}
		default:
			if _, off, err := lx.scanValue(false, 0); err != nil {
				return false, fs.scanError(err, off, strconv.Quote(key), 0)
			}
		}
	}
}

func (fs *fileSource) headerValue(key string, raw []byte, off int64) error {
	var err error
	switch key {
	case "guild":
		if fs.conv != "" { // already known from the first pass
			return nil
		}
		fs.guild = dceGuild{}
		err = json.Unmarshal(raw, &fs.guild)
	case "channel":
		if fs.conv != "" {
			return nil
		}
		fs.channel = dceChannel{}
		err = json.Unmarshal(raw, &fs.channel)
		fs.haveCh = err == nil
	case "messageCount":
		var n flexInt
		if err := json.Unmarshal(raw, &n); err != nil {
			fs.o.Warnf("%s: byte offset %d: messageCount ignored: %v", fs.path, off, err)
			return nil
		}
		fs.claimed = int64(n)
	}
	if err != nil {
		return fs.errorf(off, err, "bad %q object", key)
	}
	return nil
}

// prescan reads the file once to find the channel and guild objects that
// follow the messages array.
func (fs *fileSource) prescan() error {
	f, err := os.Open(fs.path)
	if err != nil {
		return err
	}
	defer f.Close()
	ps := &fileSource{path: fs.path, lx: newLexer(testReader(f)), o: importers.Options{}, claimed: -1}
	ps.lx.skipBOM()
	if c, err := ps.lx.peek(); err != nil || c != '{' {
		return fs.errorf(0, nil, "file changed while reading")
	}
	ps.lx.pos++
	if _, err := ps.keys(true); err != nil {
		return err
	}
	if !ps.haveCh {
		return fs.errorf(-1, nil, `no "channel" object: cannot tell which conversation the messages belong to`)
	}
	fs.channel, fs.guild, fs.haveCh = ps.channel, ps.guild, true
	return nil
}

// setConversation derives the conversation key and name from the header.
func (fs *fileSource) setConversation() error {
	ch, g := fs.channel, fs.guild
	if ch.ID == "" {
		return fs.errorf(-1, nil, `the "channel" object has no id`)
	}
	fs.conv = "discord:" + string(ch.ID)
	name := string(ch.Name)
	if name == "" {
		name = string(ch.ID)
	}
	switch {
	case g.ID == "0" || ch.Type == "DirectTextChat" || ch.Type == "DirectGroupTextChat":
		fs.name = name // a DM or group DM: the channel is named after its recipients
	case isThread(string(ch.Type)) && ch.Category != "":
		fs.name = string(g.Name) + " / #" + string(ch.Category) + " / " + name
	default:
		fs.name = string(g.Name) + " / #" + name
		if g.Name == "" {
			fs.name = "#" + name
		}
	}
	return nil
}

func isThread(t string) bool {
	return t == "GuildPublicThread" || t == "GuildPrivateThread" || t == "GuildNewsThread"
}

// trailer checks that nothing but whitespace follows the top-level object,
// and the message count.
func (fs *fileSource) trailer() error {
	if fs.claimed >= 0 && fs.claimed != fs.count && fs.o.Warn != nil {
		fs.o.Warnf("%s: messageCount is %d but the file holds %d messages", fs.path, fs.claimed, fs.count)
	}
	c, err := fs.lx.peek()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	return fs.errorf(fs.lx.offset(), nil, "unexpected %q after the top-level object", c)
}

func (fs *fileSource) eofError(err error, where string) error {
	if err == io.EOF || err == errEOF {
		fs.state = stDone
		return fs.errorf(fs.lx.offset(), nil, "unexpected end of file %s (truncated export?)", where)
	}
	return err
}

func (fs *fileSource) scanError(err error, off int64, what string, limit int) error {
	switch err {
	case errEOF, io.EOF:
		fs.state = stDone
		return fs.errorf(off, nil, "unexpected end of file in the %s that starts here (truncated export?)", what)
	case errTooLarge:
		return fs.errorf(off, nil, "%s larger than %d bytes", what, limit)
	}
	return err
}

// next returns the bytes of the next message object and their offset, or
// io.EOF at the end of the file. An error that leaves the file unreadable
// sets the state to stDone, so that with SkipInvalid the next call ends the
// file.
func (fs *fileSource) next() ([]byte, int64, error) {
	lx := fs.lx
	for {
		switch fs.state {
		case stDone:
			return nil, 0, io.EOF
		case stKeys, stKeysComma:
			found, err := fs.keys(false)
			if err != nil {
				fs.state = stDone
				return nil, 0, err
			}
			if !found {
				return nil, 0, io.EOF
			}
			continue
		}
		c, err := lx.peek()
		if err != nil {
			return nil, 0, fs.eofError(err, "in the messages array")
		}
		if fs.state == stArrayNext {
			switch c {
			case ',':
				lx.pos++
			case ']':
				lx.pos++
				fs.state = stKeysComma
				continue
			case '{':
				// A missing comma: report it, and read on from this message
				// when skipping invalid records.
				fs.state = stArrayFirst
				if !fs.o.SkipInvalid {
					fs.state = stDone
				}
				return nil, 0, fs.errorf(lx.offset(), nil, "expected ',' or ']' after a message, found '{'")
			default:
				fs.state = stDone
				return nil, 0, fs.errorf(lx.offset(), nil, "expected ',' or ']' after a message, found %q", c)
			}
		} else if c == ']' {
			lx.pos++
			fs.state = stKeysComma
			continue
		}
		raw, off, err := lx.scanValue(true, maxRecord)
		fs.state = stArrayNext
		if err != nil {
			if err == errTooLarge {
				fs.count++
			}
			return nil, 0, fs.scanError(err, off, "message", maxRecord)
		}
		fs.count++
		return raw, off, nil
	}
}
