// Package importers holds what every importer shares: the options an export
// run passes them, the stream of canonical messages they produce, and the
// encoder that writes a canonical record with its keys in a fixed order (so
// that importing the same export twice gives the same bytes, hence the same
// revisions, hence no duplicates).
//
// Each format lives in its own package (importers/telegram, importers/whatsapp,
// importers/slack, importers/discord, …) with an Open function returning a
// [Source]. The canonical model is defined in docs/FORMAT.md §5 and the
// architecture notes; chat-formats.md describes each source format and its traps.
package importers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chatvault/chatvault/archive/canon"
)

// ErrMalformed is wrapped by every error about the content of an export
// (never about I/O): the CLI maps it to exit 1.
var ErrMalformed = canon.ErrMalformed

// Options are the settings of one import run.
type Options struct {
	// TZ is the zone of naive local times (WhatsApp, Telegram's "date" without
	// "date_unixtime"); nil means the machine's local zone, recorded as such
	// in each message's time_basis.
	TZ *time.Location
	// DayFirst / MonthFirst force the date order of formats that cannot always
	// decide it (WhatsApp). Neither: detect, and stop with ErrAmbiguousDates
	// when the file does not decide.
	DayFirst, MonthFirst bool
	// Exclude lists source conversation keys to skip entirely.
	Exclude map[string]bool
	// SkipInvalid keeps going past malformed records, reporting them through Skipped.
	SkipInvalid bool
	// Warn receives non-fatal notes (a repaired file, an unknown record type).
	Warn func(msg string)
	// Skipped receives each record left out by SkipInvalid, with the reason.
	Skipped func(err error)
}

// ErrAmbiguousDates: the file does not decide between day-first and
// month-first dates; the user must say which.
var ErrAmbiguousDates = errors.New("cannot tell whether dates are day-first or month-first: rerun with --day-first or --month-first")

// Warnf sends a warning if the options have a Warn function.
func (o Options) Warnf(format string, args ...any) {
	if o.Warn != nil {
		o.Warn(fmt.Sprintf(format, args...))
	}
}

// Source is a stream of canonical messages read from one export. Next returns
// io.EOF at the end; the Message's Line is valid until the next call. Close
// releases files.
type Source interface {
	Next() (canon.Message, error)
	Close() error
}

// Attachment is a file a message refers to.
type Attachment struct {
	Name    string `json:"name,omitempty"`
	Mime    string `json:"mime,omitempty"`
	Size    int64  `json:"size,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Blob    string `json:"blob,omitempty"`    // id of the blob holding the bytes in the archive
	Missing string `json:"missing,omitempty"` // why the export left the bytes out
}

// Reaction is an emoji reaction and who gave it.
type Reaction struct {
	Emoji string   `json:"emoji"`
	Count int      `json:"count"`
	By    []string `json:"by,omitempty"`
}

// Record is one canonical message before encoding.
type Record struct {
	Conversation     string // required: the source's stable conversation key
	ID               string // required: unique within the conversation, deterministic
	Time             string // required: RFC 3339 with the source's offset
	Kind             string // required: canon.KindMessage or canon.KindService
	ConversationName string
	Sender           string
	SenderName       string
	Text             string
	HasText          bool // write "text" even when empty
	ReplyTo          string
	EditedAt         string
	Attachments      []Attachment
	Reactions        []Reaction
	Service          string
	TimeBasis        string          // exact | exporter_local | assumed_tz:<zone>
	Raw              json.RawMessage // the source record as read (valid JSON), credentials stripped
}

// Encode writes the record as one canonical JSON line (no newline), keys in
// the fixed order of the model, empty optional keys left out.
func (r *Record) Encode() ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(r.Raw) + 2*len(r.Text) + 256)
	b.WriteByte('{')
	first := true
	put := func(key string, v any) error {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(`"` + key + `":`)
		if raw, ok := v.(json.RawMessage); ok {
			return json.Compact(&b, raw)
		}
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
		return nil
	}
	fields := []struct {
		key  string
		v    any
		keep bool
	}{
		{"conversation", r.Conversation, true},
		{"id", r.ID, true},
		{"time", r.Time, true},
		{"kind", r.Kind, true},
		{"conversation_name", r.ConversationName, r.ConversationName != ""},
		{"sender", r.Sender, r.Sender != ""},
		{"sender_name", r.SenderName, r.SenderName != ""},
		{"text", r.Text, r.Text != "" || r.HasText},
		{"reply_to", r.ReplyTo, r.ReplyTo != ""},
		{"edited_at", r.EditedAt, r.EditedAt != ""},
		{"attachments", r.Attachments, len(r.Attachments) > 0},
		{"reactions", r.Reactions, len(r.Reactions) > 0},
		{"service", r.Service, r.Service != ""},
		{"time_basis", r.TimeBasis, r.TimeBasis != ""},
		{"raw", r.Raw, len(r.Raw) > 0},
	}
	for _, f := range fields {
		if !f.keep {
			continue
		}
		if err := put(f.key, f.v); err != nil {
			return nil, fmt.Errorf("encoding %s of message %q: %w", f.key, r.ID, err)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Message encodes the record and parses it back as the archive will, so that
// an importer can never produce a line the canonical reader would refuse.
func (r *Record) Message() (canon.Message, error) {
	line, err := r.Encode()
	if err != nil {
		return canon.Message{}, err
	}
	m, err := canon.ParseLine(line)
	if err != nil {
		return canon.Message{}, fmt.Errorf("importer produced an invalid record for message %q: %w", r.ID, err)
	}
	return m, nil
}

// RFC3339 formats t with its own offset ("Z" for UTC), seconds precision
// unless t has sub-second digits.
func RFC3339(t time.Time) string { return t.Format(time.RFC3339Nano) }
