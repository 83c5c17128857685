package discord

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// MessageKind names DCE writes (DiscordChatExporter.Core/Discord/Data/MessageKind.cs).
// Kinds missing from DCE's enum are written as their number ("20").
var serviceKinds = map[string]bool{
	"RecipientAdd":         true,
	"RecipientRemove":      true,
	"Call":                 true,
	"ChannelNameChange":    true,
	"ChannelIconChange":    true,
	"ChannelPinnedMessage": true,
	"GuildMemberJoin":      true,
	"ThreadCreated":        true,
}

// discordEpochMs is the start of Discord's snowflake clock (2015-01-01T00:00:00Z).
const discordEpochMs = 1420070400000

// fields are the parts of a message the canonical record needs.
type fields struct {
	ID               flexString      `json:"id"`
	Type             flexString      `json:"type"`
	Timestamp        flexString      `json:"timestamp"`
	TimestampEdited  flexString      `json:"timestampEdited"`
	Content          flexString      `json:"content"`
	Author           *dceUser        `json:"author"`
	Attachments      []dceAttachment `json:"attachments"`
	Reactions        []dceReaction   `json:"reactions"`
	Reference        *dceReference   `json:"reference"`
	ForwardedMessage *struct {
		Content     flexString      `json:"content"`
		Attachments []dceAttachment `json:"attachments"`
	} `json:"forwardedMessage"`
}

// decode reads the fields of one message object. A message whose optional
// parts have an unexpected shape is decoded again field by field, and the
// parts that do not fit are reported and left to raw.
func (s *source) decode(fs *fileSource, raw []byte, off int64) (*fields, error) {
	f := new(fields)
	err := json.Unmarshal(raw, f)
	if err == nil {
		return f, nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return nil, fs.errorf(off+se.Offset, nil, "invalid JSON in the message that starts at byte offset %d: %v", off, err)
	}
	if !bytes.HasPrefix(raw, []byte("{")) {
		return nil, fs.errorf(off, nil, "message is %s, not an object", describe(raw))
	}
	var m dceMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fs.errorf(off, err, "bad message")
	}
	f = &fields{ID: m.ID, Timestamp: m.Timestamp}
	lenient := func(field string, b json.RawMessage, dst any) bool {
		if len(b) == 0 || string(b) == "null" {
			return false
		}
		if err := json.Unmarshal(b, dst); err != nil {
			s.o.Warnf("%s: message %s: %s ignored (kept in raw): %v", fs.path, string(m.ID), field, err)
			return false
		}
		return true
	}
	if len(m.Type) > 0 && json.Unmarshal(m.Type, &f.Type) != nil {
		f.Type = flexString(describe(m.Type))
	}
	lenient("timestampEdited", m.TimestampEdited, &f.TimestampEdited)
	lenient("content", m.Content, &f.Content)
	var author dceUser
	if lenient("author", m.Author, &author) {
		f.Author = &author
	}
	lenient("attachments", m.Attachments, &f.Attachments)
	lenient("reactions", m.Reactions, &f.Reactions)
	var ref dceReference
	if lenient("reference", m.Reference, &ref) {
		f.Reference = &ref
	}
	var fwd dceForward
	if lenient("forwardedMessage", m.ForwardedMessage, &fwd) {
		f.ForwardedMessage = &struct {
			Content     flexString      `json:"content"`
			Attachments []dceAttachment `json:"attachments"`
		}{Content: fwd.Content}
		lenient("forwardedMessage.attachments", fwd.Attachments, &f.ForwardedMessage.Attachments)
	}
	return f, nil
}

// convert turns one message object into a canonical record.
func (s *source) convert(fs *fileSource, raw []byte, off int64) (canon.Message, error) {
	m, err := s.decode(fs, raw, off)
	if err != nil {
		return canon.Message{}, err
	}
	id := string(m.ID)
	if id == "" {
		return canon.Message{}, fs.errorf(off, nil, "message has no id")
	}
	where := func() string { return fs.path + ": message " + id }

	r := importers.Record{
		Conversation:     fs.conv,
		ID:               id,
		ConversationName: fs.name,
		Kind:             canon.KindMessage,
	}

	// Kind.
	switch t := string(m.Type); {
	case t == "" || t == "Default" || t == "Reply":
	case serviceKinds[t]:
		r.Kind, r.Service = canon.KindService, t
	default:
		r.Kind, r.Service = canon.KindService, "unknown:"+t
		s.warnOnce("type:"+t, "%s: unknown message type %q kept as service %q (further messages of this type not reported)", where(), t, r.Service)
	}

	// Times.
	tt, basis, err := s.parseTime(string(m.Timestamp))
	if err != nil {
		st, ok := snowflakeTime(id)
		if !ok {
			return canon.Message{}, fs.errorf(off, nil, "message %s: bad timestamp %q and the id is not a snowflake", id, string(m.Timestamp))
		}
		s.o.Warnf("%s: bad timestamp %q, using the time encoded in the id", where(), string(m.Timestamp))
		tt, basis = st, "exact"
	}
	r.Time, r.TimeBasis = tt, basis
	if m.TimestampEdited != "" {
		if et, _, err := s.parseTime(string(m.TimestampEdited)); err == nil {
			r.EditedAt = et
		} else {
			s.o.Warnf("%s: timestampEdited %q ignored (kept in raw): not a time", where(), string(m.TimestampEdited))
		}
	}

	// Text.
	r.Text = string(m.Content)
	if r.Text == "" && m.ForwardedMessage != nil {
		r.Text = string(m.ForwardedMessage.Content)
	}

	// Sender.
	if a := m.Author; a != nil {
		r.Sender = string(a.ID)
		r.SenderName = string(a.Nickname)
		if r.SenderName == "" {
			r.SenderName = string(a.Name)
		}
	}

	// Reply.
	if ref := m.Reference; ref != nil && ref.MessageID != "" && ref.Type != "Forward" &&
		(ref.ChannelID == "" || "discord:"+string(ref.ChannelID) == fs.conv) {
		r.ReplyTo = string(ref.MessageID)
	}

	// Attachments, including those of a forwarded message.
	atts := m.Attachments
	if m.ForwardedMessage != nil {
		atts = append(atts[:len(atts):len(atts)], m.ForwardedMessage.Attachments...)
	}
	var blobs []canon.Blob
	for _, a := range atts {
		if err := s.ctx.Err(); err != nil {
			return canon.Message{}, err
		}
		att, blob := s.attachment(fs, id, a)
		r.Attachments = append(r.Attachments, att)
		if blob != nil && !hasBlob(blobs, blob.SHA256) {
			blobs = append(blobs, *blob)
		}
	}
	if err := s.ctx.Err(); err != nil { // cancelled while hashing
		return canon.Message{}, err
	}

	// Reactions.
	for _, x := range m.Reactions {
		emoji := string(x.Emoji.Name)
		if emoji == "" {
			emoji = string(x.Emoji.ID)
		}
		if emoji == "" {
			emoji = string(x.Emoji.Code)
		}
		if emoji == "" {
			s.o.Warnf("%s: a reaction without an emoji name or id ignored (kept in raw)", where())
			continue
		}
		rx := importers.Reaction{Emoji: emoji, Count: int(x.Count)}
		for _, u := range x.Users {
			if u.ID != "" {
				rx.By = append(rx.By, string(u.ID))
			}
		}
		if rx.Count < len(rx.By) {
			rx.Count = len(rx.By)
		}
		r.Reactions = append(r.Reactions, rx)
	}

	r.Raw = stripCredentials(raw)
	msg, err := r.Message()
	if err != nil {
		return canon.Message{}, fs.errorf(off, err, "message %s cannot be stored", id)
	}
	if len(msg.Line) > canon.MaxLineSize {
		return canon.Message{}, fs.errorf(off, nil, "message %s is larger than a canonical line may be (%d bytes)", id, canon.MaxLineSize)
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

// parseTime reads a DCE timestamp: ISO 8601 with the exporter's offset
// (DateTimeOffset), 0 to 7 fraction digits. The result keeps that offset
// ("Z" for +00:00) and drops trailing zero fraction digits. A time without an
// offset (not written by DCE, but seen in hand-edited files) is read in
// Options.TZ.
func (s *source) parseTime(text string) (string, string, error) {
	if t, err := time.Parse(time.RFC3339Nano, text); err == nil {
		return importers.RFC3339(t), "exact", nil
	}
	if t, err := time.Parse("2006-01-02 15:04:05.999999999Z07:00", text); err == nil {
		return importers.RFC3339(t), "exact", nil
	}
	loc := s.o.TZ
	if loc == nil {
		loc = time.Local
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.ParseInLocation(layout, text, loc); err == nil {
			return importers.RFC3339(t), "assumed_tz:" + loc.String(), nil
		}
	}
	return "", "", errors.New("not a time")
}

// snowflakeTime is the UTC instant a Discord snowflake id encodes.
func snowflakeTime(id string) (string, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n>>22 == 0 {
		return "", false
	}
	return importers.RFC3339(time.UnixMilli(int64(n>>22) + discordEpochMs).UTC()), true
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
	case c == '-' || isDigit(c):
		return "a number"
	}
	return "not JSON"
}
