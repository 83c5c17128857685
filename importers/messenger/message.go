package messenger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// serviceTypes maps the "type" of a Facebook Messenger message to a service
// action; Generic and Share (and no type: Instagram) are ordinary messages.
var serviceTypes = map[string]string{
	"Call":        "phone_call",
	"Subscribe":   "invite_members",
	"Unsubscribe": "remove_members",
}

// attachmentKeys are the message keys holding media, in the order their
// attachments are listed ("media" is the end-to-end encrypted download's).
var attachmentKeys = []string{"photos", "videos", "audio_files", "gifs", "files", "sticker", "media"}

// maxMillis is 9999-12-31T23:59:59.999Z.
const maxMillis = 253402300799999

// repair undoes Meta's mojibake: the UTF-8 bytes of every string written as
// one U+0000–U+00FF code point each ("\u00c3\u00a9" for "é"). The string is
// re-read as UTF-8 only when every rune is ≤ U+00FF and the bytes are valid
// UTF-8; otherwise (text that was never mangled, like "café" or "€") it is
// kept as it is.
func repair(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for _, r := range s[i:] {
		if r > 0xFF { // includes U+FFFD for invalid UTF-8 in s
			return s
		}
		b = append(b, byte(r))
	}
	if !utf8.Valid(b) {
		return s
	}
	return string(b)
}

// fields are the parts of a message the canonical record needs, as decoded.
type fields map[string]json.RawMessage

// str returns the string under the first key present; a value that is not
// a string (or null) is reported once per file and key and ignored.
func (s *source) str(fs *fileStream, f fields, keys ...string) (string, bool) {
	for _, k := range keys {
		v, ok := f[k]
		if !ok || string(v) == "null" {
			continue
		}
		var out string
		if err := json.Unmarshal(v, &out); err != nil {
			s.warnOnce(fs.path+"\x00"+k, "%s: %q is not a string, ignored (kept in raw; further cases in this file not reported)", fs.path, k)
			continue
		}
		return out, true
	}
	return "", false
}

// decodeAs decodes f[k] into dst; a value of another shape is reported once
// per file and key and ignored.
func (s *source) decodeAs(fs *fileStream, f fields, k string, dst any) bool {
	v, ok := f[k]
	if !ok || string(v) == "null" {
		return false
	}
	if err := json.Unmarshal(v, dst); err != nil {
		s.warnOnce(fs.path+"\x00"+k, "%s: %q has an unexpected shape, ignored (kept in raw; further cases in this file not reported): %v", fs.path, k, err)
		return false
	}
	return true
}

type media struct {
	URI *string `json:"uri"`
}

type reaction struct {
	Reaction string `json:"reaction"`
	Actor    string `json:"actor"`
}

// timestamp reads timestamp_ms (or "timestamp": the end-to-end encrypted
// download's milliseconds, old exports' seconds), a number or a string
// holding one. It returns the value as written (a string's content) and the
// canonical time: values below 10^11 are seconds, others milliseconds.
func timestamp(f fields) (text, canonical string, key string, err string) {
	key = "timestamp_ms"
	v, ok := f[key]
	if !ok {
		key = "timestamp"
		if v, ok = f[key]; !ok {
			return "", "", "timestamp_ms", "no timestamp_ms"
		}
	}
	text = string(v)
	if len(v) > 0 && v[0] == '"' {
		if json.Unmarshal(v, &text) != nil {
			return "", "", key, "bad " + key
		}
		text = strings.TrimSpace(text)
	}
	n, perr := strconv.ParseInt(text, 10, 64)
	if perr != nil {
		fl, ferr := strconv.ParseFloat(text, 64)
		if ferr != nil || fl != float64(int64(fl)) || fl > 1e18 || fl < -1e18 {
			return "", "", key, key + " " + strconv.Quote(text) + " is not a whole number"
		}
		n = int64(fl)
	}
	if n < 0 {
		return "", "", key, key + " " + strconv.Quote(text) + " is negative"
	}
	if n < 1e11 {
		return text, time.Unix(n, 0).UTC().Format("2006-01-02T15:04:05Z07:00"), key, ""
	}
	if n > maxMillis {
		return "", "", key, key + " " + strconv.Quote(text) + " is out of range"
	}
	return text, time.UnixMilli(n).UTC().Format("2006-01-02T15:04:05.000Z07:00"), key, ""
}

// convert turns one message object into a canonical record.
func (s *source) convert(fs *fileStream, raw json.RawMessage, off int64) (canon.Message, error) {
	th := s.th
	var f fields
	if err := json.Unmarshal(raw, &f); err != nil || f == nil {
		return canon.Message{}, fs.errorf(off, nil, "a message is %s, not an object", describe(raw))
	}
	tsText, tsCanon, _, terr := timestamp(f)
	if terr != "" {
		return canon.Message{}, fs.errorf(off, nil, "message: %s", terr)
	}
	r := importers.Record{
		Conversation:     th.conv,
		Time:             tsCanon,
		TimeBasis:        "exact",
		Kind:             canon.KindMessage,
		ConversationName: s.name,
	}
	sender, _ := s.str(fs, f, "sender_name", "senderName")
	sender = repair(sender)
	r.Sender, r.SenderName = sender, sender
	content, _ := s.str(fs, f, "content", "text")
	content = repair(content)
	r.Text = content
	r.ID = synthID(&s.dup, th.conv, tsText, sender, content)
	where := func() string { return fs.path + ": message at " + r.Time }

	// Kind. Only Facebook's DYI has "type" (Instagram has none; the
	// encrypted download's types are not known and stay in raw).
	_, dyi := f["sender_name"]
	if typ, ok := s.str(fs, f, "type"); ok && dyi {
		switch svc, known := serviceTypes[typ]; {
		case known:
			r.Kind, r.Service = canon.KindService, svc
		case typ == "Generic" || typ == "Share" || typ == "":
		default:
			r.Kind, r.Service = canon.KindService, "unknown:"+typ
			s.warnOnce("type\x00"+typ, "%s: unknown message type %q kept as service %q (further messages of this type not reported)", where(), typ, r.Service)
		}
	}
	if _, ok := f["call_duration"]; ok && r.Kind == canon.KindMessage {
		r.Kind, r.Service = canon.KindService, "phone_call"
	}

	// Attachments.
	var blobs []canon.Blob
	for _, k := range attachmentKeys {
		var list []media
		if k == "sticker" {
			var one media
			if s.decodeAs(fs, f, k, &one) {
				list = []media{one}
			}
		} else {
			s.decodeAs(fs, f, k, &list)
		}
		for _, m := range list {
			if err := s.ctx.Err(); err != nil {
				return canon.Message{}, err
			}
			a, blob := s.attachment(fs, m)
			r.Attachments = append(r.Attachments, a)
			if blob != nil && !hasBlob(blobs, blob.SHA256) {
				blobs = append(blobs, *blob)
			}
		}
	}
	if err := s.ctx.Err(); err != nil {
		return canon.Message{}, err
	}

	// Reactions, grouped by emoji in order of first appearance.
	var rxs []reaction
	s.decodeAs(fs, f, "reactions", &rxs)
	idx := map[string]int{}
	for _, x := range rxs {
		emoji := repair(x.Reaction)
		if emoji == "" {
			s.warnOnce(fs.path+"\x00reaction", "%s: a reaction without an emoji ignored (kept in raw)", where())
			continue
		}
		k, ok := idx[emoji]
		if !ok {
			k = len(r.Reactions)
			idx[emoji] = k
			r.Reactions = append(r.Reactions, importers.Reaction{Emoji: emoji})
		}
		r.Reactions[k].Count++
		if actor := repair(x.Actor); actor != "" {
			r.Reactions[k].By = append(r.Reactions[k].By, actor)
		}
	}

	r.Raw = stripCredentials(raw, &s.rawBuf)
	msg, err := r.Message()
	if err != nil {
		return canon.Message{}, fs.errorf(off, err, "message cannot be stored")
	}
	if len(msg.Line) > canon.MaxLineSize {
		return canon.Message{}, fs.errorf(off, nil, "message larger than a canonical line may be (%d bytes)", canon.MaxLineSize)
	}
	s.blobs = blobs
	return msg, nil
}

func hasBlob(bs []canon.Blob, sum [32]byte) bool {
	for _, b := range bs {
		if b.SHA256 == sum {
			return true
		}
	}
	return false
}

// describe names the JSON type of raw for error messages.
func describe(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "empty"
	}
	switch c := raw[0]; {
	case c == '"':
		return "a string"
	case c == '[':
		return "an array"
	case c == '{':
		return "an object"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	}
	return "a number"
}

// synthID is "syn:" + hex SHA-256 over the conversation key, timestamp_ms
// as written, the sender's name and the content (both repaired) and the
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

// recent counts, per thread, identical (timestamp, sender, content)
// messages among the last window distinct ones: the duplicate index of a
// synthesized id. Two generations of maps bound the memory; identical
// messages further apart than the window share an id.
type recent struct {
	cur, prev map[[32]byte]uint32
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
