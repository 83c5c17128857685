package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archive"
)

// textWriter renders canonical JSON lines as a readable transcript:
//
//	2024-03-01 10:00:00 +02:00  Alice: ↪ reply to 41  see you there (edited)
//
// one line per message (continuation lines of a multi-line text indented),
// with the time in the offset the source gave. Attachments show where their
// file was restored, or why there is no file.
type textWriter struct {
	w io.Writer
}

func (t *textWriter) header(c archive.ConversationInfo) error {
	label := c.Label
	if label == "" {
		label = "(no name)"
	}
	_, err := fmt.Fprintf(t.w, "# %s\n# conversation %s, %s\n\n", flattenText(label), c.ID, plural(c.Messages, "message"))
	return err
}

// message writes one message whose attachments the restore has resolved; a
// line that is not a JSON object is written as it is.
func (t *textWriter) message(m *chatMessage, line []byte) error {
	s := string(line)
	if m != nil {
		s = formatTextMessage(m, true)
	}
	_, err := io.WriteString(t.w, s+"\n")
	return err
}

// chatMessage is what the transcripts show of a canonical line. Every field is
// read leniently: a value of an unexpected type is left out.
type chatMessage struct {
	ID        string
	Time      string // as the source gave it
	Kind      string
	Sender    string // sender_name, else sender
	SenderKey string // sender, else sender_name
	Text      string // text; for service messages without text, service
	ReplyTo   string
	EditedAt  string
	Edited    bool
	TimeBasis string

	Attachments []chatAttachment
	Reactions   []chatReaction
}

type chatAttachment struct {
	Name    string // as given; "" when none
	MIME    string
	Size    int64 // 0 when unknown
	Blob    string
	Missing string // "true", a reason, or "" (also for false)

	// Set by the restore (see convFiles.resolve):
	File        string // restored file, relative to the output directory, with '/'
	NotIncluded string // why there is no file
}

type chatReaction struct {
	Emoji string
	Count int64 // 0 when not given
	By    []string
}

// parseMessage reads a canonical line; ok is false when the line is not a
// JSON object.
func parseMessage(line []byte) (*chatMessage, bool) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil || raw == nil {
		return nil, false
	}
	m := &chatMessage{
		ID:        jsonText(raw["id"]),
		Time:      jsonText(raw["time"]),
		Kind:      jsonText(raw["kind"]),
		Sender:    jsonText(raw["sender_name"]),
		SenderKey: jsonText(raw["sender"]),
		Text:      jsonText(raw["text"]),
		ReplyTo:   jsonText(raw["reply_to"]),
		TimeBasis: jsonText(raw["time_basis"]),
	}
	if m.Sender == "" {
		m.Sender = m.SenderKey
	}
	if m.SenderKey == "" {
		m.SenderKey = m.Sender
	}
	if m.Kind == "service" && m.Text == "" {
		m.Text = jsonText(raw["service"])
	}
	if e := bytes.TrimSpace(raw["edited_at"]); len(e) > 0 && string(e) != "null" {
		m.Edited = true
		m.EditedAt = jsonText(e)
	}
	m.Attachments = parseAttachments(raw["attachments"])
	var reactions []map[string]json.RawMessage
	_ = json.Unmarshal(raw["reactions"], &reactions)
	for _, r := range reactions {
		cr := chatReaction{Emoji: jsonText(r["emoji"])}
		cr.Count, _ = strconv.ParseInt(jsonText(r["count"]), 10, 64)
		var by []json.RawMessage
		_ = json.Unmarshal(r["by"], &by)
		for _, b := range by {
			if s := jsonText(b); s != "" {
				cr.By = append(cr.By, s)
			}
		}
		m.Reactions = append(m.Reactions, cr)
	}
	return m, true
}

func parseAttachments(raw json.RawMessage) []chatAttachment {
	var atts []map[string]json.RawMessage
	_ = json.Unmarshal(raw, &atts)
	var out []chatAttachment
	for _, a := range atts {
		ca := chatAttachment{Name: jsonText(a["name"]), MIME: jsonText(a["mime"]), Blob: jsonText(a["blob"])}
		ca.Size, _ = strconv.ParseInt(jsonText(a["size"]), 10, 64)
		if missing := jsonText(a["missing"]); missing != "false" {
			ca.Missing = missing
		}
		out = append(out, ca)
	}
	return out
}

// formatTextLine renders one canonical line as it stands, attachments
// described by the line alone. A line that is not a JSON object is shown as
// it is.
func formatTextLine(line []byte) string {
	m, ok := parseMessage(line)
	if !ok {
		return string(line)
	}
	return formatTextMessage(m, false)
}

// formatTextMessage renders one message. With files, each attachment says
// where its file was restored, or "[file not included: reason]".
func formatTextMessage(m *chatMessage, files bool) string {
	var b strings.Builder
	tm := m.Time
	if ts, err := time.Parse(time.RFC3339Nano, tm); err == nil {
		tm = ts.Format("2006-01-02 15:04:05 -07:00")
	}
	b.WriteString(tm + "  ")

	sender := m.Sender
	if m.Kind == "service" {
		b.WriteString("[service] ")
		if sender != "" {
			b.WriteString(sender + ": ")
		}
	} else {
		if sender == "" {
			sender = "?"
		}
		b.WriteString(sender + ": ")
	}

	var parts []string
	if m.ReplyTo != "" {
		parts = append(parts, "↪ reply to "+m.ReplyTo)
	}
	if m.Text != "" {
		parts = append(parts, m.Text)
	}
	for _, a := range m.Attachments {
		parts = append(parts, formatAttachment(a, files))
	}
	if m.Edited {
		parts = append(parts, "(edited)")
	}
	var rs []string
	for _, r := range m.Reactions {
		emoji := r.Emoji
		if r.Count > 1 {
			emoji += "×" + strconv.FormatInt(r.Count, 10)
		}
		rs = append(rs, emoji)
	}
	if len(rs) > 0 {
		parts = append(parts, "["+strings.Join(rs, " ")+"]")
	}
	body := strings.Join(parts, " ")
	// Continuation lines of a multi-line text are indented under the time.
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\n    ")
	b.WriteString(body)
	return strings.TrimRight(b.String(), " ")
}

// formatAttachment renders an attachment briefly: "[photo.jpg (image/jpeg,
// 2.0 KiB)]". With files it adds where the file is, "[photo.jpg (image/jpeg,
// 2.0 KiB) → Chat-0123456789ab.files/photo.jpg]", or why there is none:
// "[v.mp4 (video/mp4)] [file not included: not exported]".
func formatAttachment(a chatAttachment, files bool) string {
	name := a.Name
	if name == "" {
		name = "attachment"
	}
	var details []string
	if a.MIME != "" {
		details = append(details, a.MIME)
	}
	if a.Size > 0 {
		details = append(details, formatBytes(a.Size))
	}
	if !files {
		switch a.Missing {
		case "":
		case "true":
			details = append(details, "missing")
		default:
			details = append(details, "missing: "+a.Missing)
		}
	}
	s := "[" + flattenText(name)
	if len(details) > 0 {
		s += " (" + flattenText(strings.Join(details, ", ")) + ")"
	}
	switch {
	case !files:
		return s + "]"
	case a.File != "":
		return s + " → " + a.File + "]"
	default:
		return s + "] [file not included: " + flattenText(a.NotIncluded) + "]"
	}
}

// jsonText renders a JSON value as text: a string as is, a number or bool
// literally, an array by concatenating its strings and the "text" of its
// objects (rich text as Telegram exports it), an object by its "text" or
// "action" or "type" key; null and absent values as "".
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	switch c := raw[0]; {
	case c == '"': // the common case, without a decoder
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case c == '-' || c >= '0' && c <= '9' || string(raw) == "true" || string(raw) == "false":
		if json.Valid(raw) {
			return string(raw)
		}
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return string(raw)
	}
	return valueText(v)
}

func valueText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case []any:
		var b strings.Builder
		for _, item := range v {
			b.WriteString(valueText(item))
		}
		return b.String()
	case map[string]any:
		for _, k := range []string{"text", "action", "type"} {
			if s, ok := v[k].(string); ok {
				return s
			}
		}
	}
	return ""
}

// flattenText keeps s on one line.
func flattenText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
