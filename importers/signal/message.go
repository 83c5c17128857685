package signal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash/maphash"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// noSender is what signal-export writes when it cannot name the sender.
const noSender = "No-Sender"

// convert turns one message block into a canonical record.
func (s *source) convert(cr *chatReader, b *block) (canon.Message, error) {
	c := cr.c
	if b.tooLarge {
		return canon.Message{}, &Error{File: c.path, Line: b.line, Msg: "message larger than the limit (16 MiB, 4 MiB per line)"}
	}
	h := &b.hdr
	if !h.valid() {
		return canon.Message{}, &Error{File: c.path, Line: b.line, Msg: "no such date or time: " + strconv.Quote(h.ts)}
	}
	rawText := b.text()
	if !utf8.Valid(rawText) {
		s.warnOnce("utf8:"+c.path, "%s: line %d: invalid UTF-8 replaced by U+FFFD (further cases in this file not reported)", c.path, b.line)
		rawText = []byte(strings.ToValidUTF8(string(rawText), "\uFFFD"))
	}
	// The body: the rest of the header line and the following lines, "\r"
	// of CRLF files dropped.
	body := string(rawText[min(h.bodyOff, len(rawText)):])
	if strings.Contains(body, "\r\n") {
		body = strings.ReplaceAll(body, "\r\n", "\n")
	}
	p := decompose(body)

	t := time.Date(h.date[0], time.Month(h.date[1]), h.date[2], h.date[3], h.date[4], h.date[5], 0, s.loc)
	r := importers.Record{
		Conversation:     c.conv,
		Time:             importers.RFC3339(t),
		TimeBasis:        s.basis,
		Kind:             canon.KindMessage,
		ConversationName: c.name,
		SenderName:       h.sender,
		Text:             p.text,
	}
	if h.sender != noSender {
		r.Sender = h.sender
	}
	r.ID = synthID(&cr.quotes, c.conv, h.ts, h.sender, p.text)
	if len(p.text) > 0 && (p.text[0] == 'I' || p.text[0] == 'O' || p.text[0] == 'M') && len(p.links) == 0 && !p.hasQuote && callRE.MatchString(p.text) {
		r.Kind, r.Service = canon.KindService, "phone_call"
	}
	if p.hasQuote && p.quote != "" {
		r.ReplyTo = cr.quotes.lookup(p.quote)
	}
	r.Reactions = p.reactions

	var blobs []canon.Blob
	for _, l := range p.links {
		if err := s.ctx.Err(); err != nil {
			return canon.Message{}, err
		}
		a, blob := s.attachment(cr, b.line, l)
		r.Attachments = append(r.Attachments, a)
		if blob != nil && !hasBlob(blobs, blob.SHA256) {
			blobs = append(blobs, *blob)
		}
	}
	if err := s.ctx.Err(); err != nil {
		return canon.Message{}, err
	}
	if p.sticker != "" {
		r.Attachments = append(r.Attachments, importers.Attachment{Name: p.sticker, Missing: missingNotExported})
	}

	raw, err := s.jsonString(rawText)
	if err != nil {
		return canon.Message{}, err
	}
	r.Raw = raw
	m, err := r.Message()
	if err != nil {
		return canon.Message{}, &Error{File: c.path, Line: b.line, Msg: "message cannot be stored: " + err.Error()}
	}
	if p.text != "" {
		cr.quotes.remember(p.text, r.ID)
	}
	s.blobs = blobs
	return m, nil
}

func hasBlob(bs []canon.Blob, sum [32]byte) bool {
	for _, b := range bs {
		if b.SHA256 == sum {
			return true
		}
	}
	return false
}

// jsonString encodes the original lines as a JSON string, HTML characters
// left as they are. The result is valid until the next call.
func (s *source) jsonString(b []byte) (json.RawMessage, error) {
	if s.rawEnc == nil {
		s.rawEnc = json.NewEncoder(&s.rawBuf)
		s.rawEnc.SetEscapeHTML(false)
	}
	s.rawBuf.Reset()
	if err := s.rawEnc.Encode(string(b)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(s.rawBuf.Bytes(), []byte("\n")), nil
}

func (s *source) warnOnce(key, format string, args ...any) {
	if s.warned[key] {
		return
	}
	s.warned[key] = true
	s.o.Warnf(format, args...)
}

// synthID is "syn:" + hex SHA-256 over the conversation key, the timestamp
// as written between the brackets, the sender as written, the text and the
// duplicate index, each prefixed with its length as a uvarint (the index
// written in decimal).
func synthID(rc *recent, conv, ts, sender, text string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	put := func(v string) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(v)))])
		io.WriteString(h, v)
	}
	put(conv)
	put(ts)
	put(sender)
	put(text)
	var base, id [32]byte
	h.Sum(base[:0]) // Sum does not change the state: the index follows
	var num [20]byte
	idx := strconv.AppendUint(num[:0], uint64(rc.dup(base)), 10)
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(idx)))])
	h.Write(idx)
	h.Sum(id[:0])
	var out [4 + 64]byte
	copy(out[:], "syn:")
	hex.Encode(out[4:], id[:])
	return string(out[:])
}

// recent remembers, per transcript, the last window distinct (timestamp,
// sender, text) keys with how often each was seen (the duplicate index of a
// synthesized id), and the id of the last message with each text (to link a
// quote to the message it quotes). Two generations of maps bound the memory:
// identical messages further apart than the window share an id, and a quote
// of an older message is not linked.
type recent struct {
	cur, prev  map[[32]byte]uint32
	texts, old map[uint64]string
	seed       maphash.Seed
}

const window = 4096

func (r *recent) dup(k [32]byte) uint32 {
	if r.cur == nil {
		r.cur = make(map[[32]byte]uint32)
	}
	n, ok := r.cur[k]
	if !ok {
		n = r.prev[k]
	}
	r.cur[k] = n + 1
	if len(r.cur) >= window {
		r.prev, r.cur = r.cur, make(map[[32]byte]uint32, window)
	}
	return n
}

// remember notes id as the latest message with text. Texts are keyed by a
// 64-bit hash (seeded per transcript): the maps live for one import only.
func (r *recent) remember(text, id string) {
	if r.texts == nil {
		r.texts = make(map[uint64]string)
		r.seed = maphash.MakeSeed()
	}
	r.texts[maphash.String(r.seed, text)] = id
	if len(r.texts) >= window {
		r.old, r.texts = r.texts, make(map[uint64]string, window)
	}
}

func (r *recent) lookup(text string) string {
	if r.texts == nil {
		return ""
	}
	k := maphash.String(r.seed, text)
	if id, ok := r.texts[k]; ok {
		return id
	}
	return r.old[k]
}
