package telegram

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// ResultFile is the name of the JSON file of a Telegram Desktop export.
const ResultFile = "result.json"

// sniffSize is how much of a file Detect reads.
const sniffSize = 8 << 10

// Detect reports whether path looks like a Telegram Desktop JSON export: a
// folder holding result.json (or, to explain that it is not supported, the
// HTML export's messages.html), or a JSON file whose first KiB have
// Telegram's keys. It reads at most a few KiB.
func Detect(path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false
	}
	if st.IsDir() {
		if sniffJSON(filepath.Join(path, ResultFile)) {
			return true
		}
		_, err := os.Stat(filepath.Join(path, ResultFile))
		return err != nil && sniffHTML(filepath.Join(path, "messages.html"))
	}
	return sniffJSON(path)
}

func readHead(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	b := make([]byte, sniffSize)
	n, _ := io.ReadFull(f, b)
	return b[:n]
}

func sniffJSON(path string) bool {
	b := readHead(path)
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	has := func(s string) bool { return bytes.Contains(b, []byte(s)) }
	// Other exporters' JSON (DiscordChatExporter, Messenger, Element).
	if has(`"guild"`) || has(`"timestamp_ms"`) || has(`"room_id"`) || has(`"participants"`) {
		return false
	}
	// Sections of a full-account export, which may fill the first KiB
	// before any chat.
	if has(`"personal_information"`) || has(`"frequent_contacts"`) || has(`"profile_pictures"`) ||
		has(`"left_chats"`) || has(`"last_active_unixtime"`) {
		return true
	}
	return has(`"date_unixtime"`) ||
		(has(`"messages"`) && (has(`"from_id"`) || has(`"personal_chat"`) || has(`"private_supergroup"`) ||
			has(`"saved_messages"`) || has(`"text_entities"`))) ||
		(has(`"chats"`) && has(`"list"`) && has(`"messages"`))
}

func sniffHTML(path string) bool {
	b := readHead(path)
	return bytes.Contains(b, []byte("Exported Data")) || bytes.Contains(b, []byte(`class="page_wrap"`))
}

// Open starts reading a Telegram Desktop export: path is result.json (any
// JSON file of that form) or the folder holding it. Files the messages
// name are looked up relative to that folder and never outside it.
func Open(ctx context.Context, path string, o importers.Options) (importers.Source, error) {
	file := path
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		file = filepath.Join(path, ResultFile)
		if _, err := os.Stat(file); err != nil {
			if sniffHTML(filepath.Join(path, "messages.html")) {
				return nil, &SyntaxError{File: path, Offset: -1, Msg: `this is Telegram Desktop's HTML export, which chatvault does not read: export the chat again with the format "Machine-readable JSON"`}
			}
			return nil, &SyntaxError{File: path, Offset: -1, Msg: "no " + ResultFile + " in this folder"}
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	src := &source{
		ctx:   ctx,
		opts:  o,
		name:  file,
		f:     f,
		media: openMedia(filepath.Dir(file)),
	}
	src.sc = newScanner(f, file)
	if err := src.start(); err != nil {
		src.Close()
		return nil, err
	}
	return src, nil
}

type frameKind int

const (
	fRoot     frameKind = iota // the top-level object: a chat, a full export, or both
	fChat                      // a chat object of chats.list / left_chats.list
	fSection                   // "chats" / "left_chats"
	fList                      // their "list"
	fMessages                  // a "messages" array
)

type frame struct {
	kind   frameKind
	first  bool   // no member or element read yet
	closed bool   // fRoot/fChat: '}' read, deferred message arrays pending
	chat   *chat  // fRoot, fChat, fMessages
	list   string // fSection, fList: "chats" or "left_chats"
	index  int    // fList: index of the next chat
	resume int64  // fMessages: offset to go back to at its end, or -1
}

// chat is one conversation of the export.
type chat struct {
	where                   string // "root" or "chats.list[3]", for messages
	id, name, typ           string
	hasID, hasName, hasType bool
	deferred                []int64 // offsets of "messages" arrays seen before the chat's id and name

	ready       bool // key computed
	key         string
	convName    string
	excluded    bool
	unsupported int

	synTS   string
	synSeen map[[32]byte]int
}

// label names the chat in messages: its id, else its place in the file.
func (c *chat) label() string {
	if c.id != "" {
		return "chat " + c.id
	}
	return c.where
}

// complete: the members that name the chat were read, so its messages can
// be streamed as they come (Telegram Desktop writes name, type, id first).
func (c *chat) complete() bool {
	return c.hasID && c.hasType && (c.hasName || c.typ == "saved_messages" || c.typ == "replies")
}

type source struct {
	ctx   context.Context
	opts  importers.Options
	name  string
	f     *os.File
	sc    *scanner
	media *media

	stack []frame
	done  bool
	err   error // sticky
	buf   []byte
	flds  []field
	blobs []canon.Blob
	count int // messages read
	steps int // calls of step, for checking the context now and then

	warnedMismatch, warnedDupText bool
	warnedUnknown                 map[string]bool
	chatsSeen                     int
	rootChat                      bool
}

func (src *source) warn(format string, args ...any) { src.opts.Warnf(format, args...) }

func (src *source) warnUnknown(c *chat, what, id string) {
	if src.warnedUnknown == nil {
		src.warnedUnknown = make(map[string]bool)
	}
	if !src.warnedUnknown[what] {
		src.warnedUnknown[what] = true
		src.warn("%s: %s, message %s: unknown %s (further ones not reported)", src.name, c.label(), idOrIndex(id), what)
	}
}

func (src *source) recErr(c *chat, off int64, id, format string, args ...any) error {
	where := c.label()
	if id != "" {
		where += ", message " + id
	} else {
		where += fmt.Sprintf(", message #%d", src.count+1)
	}
	return &recordError{file: src.name, off: off, where: where, msg: fmt.Sprintf(format, args...)}
}

// start reads up to the root object's '{'.
func (src *source) start() error {
	sc := src.sc
	// A UTF-8 byte order mark (an editor's) is skipped.
	if b, err := sc.r.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		sc.r.Discard(3)
		sc.off = 3
	}
	c, err := sc.peek()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return sc.errAt(sc.off, "empty file, expected a JSON object")
		}
		return sc.ioErr(err, "the file")
	}
	if c != '{' {
		return sc.errAt(sc.off, "expected a JSON object, found %s", showByte(c))
	}
	sc.next("the file")
	src.stack = append(src.stack, frame{kind: fRoot, first: true, chat: &chat{where: "root"}})
	return nil
}

// Blobs returns the files of the message last returned by Next.
func (src *source) Blobs() []canon.Blob { return src.blobs }

// Close releases the files.
func (src *source) Close() error {
	src.finishWarnings()
	err := src.media.close()
	if e := src.f.Close(); err == nil {
		err = e
	}
	return err
}

func (src *source) finishWarnings() {
	if s := src.sc.repairSummary(); s != "" {
		src.warn("%s", s)
		src.sc.repairCount = [nRepairs]int64{}
	}
}

// Next returns the next message.
func (src *source) Next() (canon.Message, error) {
	src.blobs = src.blobs[:0]
	if src.err != nil {
		return canon.Message{}, src.err
	}
	if src.done {
		return canon.Message{}, io.EOF
	}
	for {
		m, ok, err := src.step()
		if err != nil {
			var re *recordError
			if errors.As(err, &re) && src.opts.SkipInvalid {
				src.count++
				if src.opts.Skipped != nil {
					src.opts.Skipped(err)
				}
				continue
			}
			src.err = err
			return canon.Message{}, err
		}
		if ok {
			src.count++
			return m, nil
		}
		if src.done {
			return canon.Message{}, io.EOF
		}
	}
}

// memberStart reads, in an object frame, either the end of the object
// (end true) or the next key.
func (src *source) memberStart(fr *frame, what string) (key string, end bool, err error) {
	sc := src.sc
	c, err := sc.next(what)
	if err != nil {
		return "", false, err
	}
	if !fr.first {
		switch c {
		case '}':
			return "", true, nil
		case ',':
			c, err = sc.next(what)
			if err != nil {
				return "", false, err
			}
		default:
			return "", false, sc.errAt(sc.off-1, "expected ',' or '}' in %s, found %s", what, showByte(c))
		}
	} else if c == '}' {
		return "", true, nil
	}
	fr.first = false
	if c != '"' {
		return "", false, sc.errAt(sc.off-1, "expected a key in %s, found %s", what, showByte(c))
	}
	src.buf = src.buf[:0]
	if err := sc.str(&src.buf); err != nil {
		return "", false, err
	}
	k, err := decodeKey(src.buf)
	if err != nil {
		return "", false, sc.errAt(sc.off, "bad key: %v", err)
	}
	if err := sc.expect(':', what); err != nil {
		return "", false, err
	}
	return k, false, nil
}

// elementStart reads, in an array frame, either its end or the separator
// before the next element.
func (src *source) elementStart(fr *frame, what string) (end bool, err error) {
	sc := src.sc
	c, err := sc.peek()
	if err != nil {
		return false, sc.ioErr(err, what)
	}
	if c == ']' {
		sc.next(what)
		return true, nil
	}
	if !fr.first {
		if c != ',' {
			return false, sc.errAt(sc.off, "expected ',' or ']' in %s, found %s", what, showByte(c))
		}
		sc.next(what)
	}
	fr.first = false
	return false, nil
}

// step advances the parse by one member or element; ok is true when it
// produced a message.
func (src *source) step() (m canon.Message, ok bool, err error) {
	src.steps++
	if src.steps&255 == 1 {
		if err := src.ctx.Err(); err != nil {
			return m, false, err
		}
	}
	sc := src.sc
	fr := &src.stack[len(src.stack)-1]
	switch fr.kind {
	case fRoot, fChat:
		c := fr.chat
		what := "the export"
		if fr.kind == fChat {
			what = "the chat at " + c.where
		}
		if fr.closed {
			return src.endChat(fr)
		}
		key, end, err := src.memberStart(fr, what)
		if err != nil {
			return m, false, err
		}
		if end {
			fr.closed = true
			return src.endChat(fr)
		}
		switch key {
		case "name", "type", "id":
			src.buf = src.buf[:0]
			if err := sc.value(&src.buf, len(src.stack), true); err != nil {
				return m, false, err
			}
			v, err := scalar(src.buf, key)
			if err != nil {
				return m, false, sc.errAt(sc.off, "%s: %v", c.where, err)
			}
			switch key {
			case "name":
				c.name, c.hasName = v, true
			case "type":
				c.typ, c.hasType = v, true
			case "id":
				c.id, c.hasID = v, true
			}
			return m, false, nil
		case "messages":
			if p, err := sc.peek(); err != nil {
				return m, false, sc.ioErr(err, what)
			} else if p != '[' {
				return m, false, sc.errAt(sc.off, `%s: "messages" is not an array`, c.where)
			}
			if fr.kind == fRoot {
				src.rootChat = true
			}
			if !c.complete() {
				// Its name or id may follow: come back to it at the end.
				c.deferred = append(c.deferred, sc.off)
				return m, false, sc.value(nil, len(src.stack), true)
			}
			return m, false, src.startMessages(c, -1)
		case "chats", "left_chats":
			if fr.kind == fRoot {
				if err := sc.expect('{', key); err != nil {
					return m, false, err
				}
				src.stack = append(src.stack, frame{kind: fSection, first: true, list: key})
				return m, false, nil
			}
		}
		return m, false, sc.value(nil, len(src.stack), true)

	case fSection:
		key, end, err := src.memberStart(fr, `"`+fr.list+`"`)
		if err != nil {
			return m, false, err
		}
		if end {
			src.stack = src.stack[:len(src.stack)-1]
			return m, false, nil
		}
		if key == "list" {
			if err := sc.expect('[', fr.list+".list"); err != nil {
				return m, false, err
			}
			src.stack = append(src.stack, frame{kind: fList, first: true, list: fr.list})
			return m, false, nil
		}
		return m, false, sc.value(nil, len(src.stack), true)

	case fList:
		what := fr.list + ".list"
		end, err := src.elementStart(fr, what)
		if err != nil {
			return m, false, err
		}
		if end {
			src.stack = src.stack[:len(src.stack)-1]
			return m, false, nil
		}
		if err := sc.expect('{', "a chat of "+what); err != nil {
			return m, false, err
		}
		where := fmt.Sprintf("%s[%d]", what, fr.index)
		fr.index++
		src.chatsSeen++
		src.stack = append(src.stack, frame{kind: fChat, first: true, chat: &chat{where: where}})
		return m, false, nil

	case fMessages:
		c := fr.chat
		end, err := src.elementStart(fr, c.where+" messages")
		if err != nil {
			return m, false, err
		}
		if end {
			resume := fr.resume
			src.stack = src.stack[:len(src.stack)-1]
			if c.unsupported > 0 {
				src.warn("%s: %s: %d message(s) of type \"unsupported\" (Telegram Desktop could not export them) have no date and were left out", src.name, c.label(), c.unsupported)
				c.unsupported = 0
			}
			if resume >= 0 {
				return m, false, sc.seek(resume)
			}
			return m, false, nil
		}
		p, err := sc.peek()
		if err != nil {
			return m, false, sc.ioErr(err, c.where+" messages")
		}
		off := sc.off
		if p != '{' {
			// Not an object: invalid as a message, but the array goes on.
			if err := sc.value(nil, len(src.stack), false); err != nil {
				return m, false, err
			}
			return m, false, src.recErr(c, off, "", "a message is %s, not an object", kindOfByte(p))
		}
		if c.excluded {
			return m, false, sc.value(nil, len(src.stack), false)
		}
		src.buf = src.buf[:0]
		src.flds = src.flds[:0]
		if err := sc.object(&src.buf, len(src.stack)+1, &src.flds); err != nil {
			return m, false, err
		}
		src.blobs = src.blobs[:0]
		m, ok, err := src.build(c, src.buf, src.flds, off)
		if err != nil || !ok {
			src.blobs = src.blobs[:0]
		}
		return m, ok, err
	}
	return m, false, fmt.Errorf("telegram: bad parser state %d", fr.kind)
}

func kindOfByte(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// startMessages settles the chat's key (once) and pushes a frame reading
// its messages array at the current position.
func (src *source) startMessages(c *chat, resume int64) error {
	src.settle(c)
	if err := src.sc.expect('[', c.where+" messages"); err != nil {
		return err
	}
	src.stack = append(src.stack, frame{kind: fMessages, first: true, chat: c, resume: resume})
	return nil
}

// settle computes the chat's conversation key and name.
func (src *source) settle(c *chat) {
	if c.ready {
		return
	}
	c.ready = true
	switch {
	case c.id != "":
		c.key = "telegram:" + c.id
	case c.name != "":
		c.key = "telegram:name:" + c.name
		src.warn("%s: %s has no \"id\"; its conversation key is made from its name: %s", src.name, c.where, c.key)
	case c.where == "root":
		c.key = "telegram:unknown"
		src.warn("%s: the chat has neither \"id\" nor \"name\"; its conversation key is %s", src.name, c.key)
	default:
		c.key = "telegram:unknown:" + c.where
		src.warn("%s: %s has neither \"id\" nor \"name\"; its conversation key is %s", src.name, c.where, c.key)
	}
	c.convName = c.name
	if c.convName == "" {
		switch c.typ {
		case "saved_messages":
			c.convName = "Saved Messages"
		case "replies":
			c.convName = "Replies"
		}
	}
	c.excluded = src.opts.Exclude[c.key]
}

// endChat runs at the '}' of a chat (or of the root): it reads the message
// arrays put off until the chat's name and id were known, then pops.
func (src *source) endChat(fr *frame) (canon.Message, bool, error) {
	c := fr.chat
	if len(c.deferred) > 0 {
		at := c.deferred[0]
		c.deferred = c.deferred[1:]
		resume := src.sc.off
		src.settle(c)
		if c.excluded {
			return canon.Message{}, false, nil
		}
		if err := src.sc.seek(at); err != nil {
			return canon.Message{}, false, err
		}
		return canon.Message{}, false, src.startMessages(c, resume)
	}
	if fr.kind == fChat {
		src.stack = src.stack[:len(src.stack)-1]
		return canon.Message{}, false, nil
	}
	// The root's end: only whitespace may follow.
	sc := src.sc
	if c, err := sc.peek(); err == nil {
		return canon.Message{}, false, sc.errAt(sc.off, "unexpected %s after the end of the export's JSON object", showByte(c))
	} else if !errors.Is(err, io.EOF) {
		return canon.Message{}, false, sc.ioErr(err, "the file")
	}
	src.stack = src.stack[:0]
	src.done = true
	src.finishWarnings()
	if !src.rootChat && src.chatsSeen == 0 {
		src.warn("%s: the export holds no chats (neither \"messages\" nor \"chats\"/\"left_chats\")", src.name)
	}
	return canon.Message{}, false, nil
}

var _ canon.BlobLister = (*source)(nil)
