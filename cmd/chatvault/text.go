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
// with the time in the offset the source gave.
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

func (t *textWriter) message(line []byte) error {
	_, err := io.WriteString(t.w, formatTextLine(line)+"\n")
	return err
}

// formatTextLine renders one canonical line. It reads the keys it shows
// leniently (a value of an unexpected type is left out); a line that is not a
// JSON object is shown as it is.
func formatTextLine(line []byte) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return string(line)
	}
	var b strings.Builder
	tm := jsonText(m["time"])
	if ts, err := time.Parse(time.RFC3339Nano, tm); err == nil {
		tm = ts.Format("2006-01-02 15:04:05 -07:00")
	}
	b.WriteString(tm + "  ")

	sender := jsonText(m["sender_name"])
	if sender == "" {
		sender = jsonText(m["sender"])
	}
	text := jsonText(m["text"])
	if jsonText(m["kind"]) == "service" {
		b.WriteString("[service] ")
		if sender != "" {
			b.WriteString(sender + ": ")
		}
		if text == "" {
			text = jsonText(m["service"])
		}
	} else {
		if sender == "" {
			sender = "?"
		}
		b.WriteString(sender + ": ")
	}

	var parts []string
	if r := jsonText(m["reply_to"]); r != "" {
		parts = append(parts, "↪ reply to "+r)
	}
	if text != "" {
		parts = append(parts, text)
	}
	var atts []map[string]json.RawMessage
	_ = json.Unmarshal(m["attachments"], &atts)
	for _, a := range atts {
		parts = append(parts, formatAttachment(a))
	}
	if e := m["edited_at"]; len(e) > 0 && string(e) != "null" {
		parts = append(parts, "(edited)")
	}
	var reactions []map[string]json.RawMessage
	_ = json.Unmarshal(m["reactions"], &reactions)
	var rs []string
	for _, r := range reactions {
		emoji := jsonText(r["emoji"])
		if n, err := strconv.ParseInt(jsonText(r["count"]), 10, 64); err == nil && n > 1 {
			emoji += "×" + strconv.FormatInt(n, 10)
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

// formatAttachment renders an attachment briefly: "[photo.jpg (image/jpeg, 2.0 KiB)]".
func formatAttachment(a map[string]json.RawMessage) string {
	name := jsonText(a["name"])
	if name == "" {
		name = "attachment"
	}
	var details []string
	if mime := jsonText(a["mime"]); mime != "" {
		details = append(details, mime)
	}
	if size, err := strconv.ParseInt(jsonText(a["size"]), 10, 64); err == nil && size > 0 {
		details = append(details, formatBytes(size))
	}
	switch missing := jsonText(a["missing"]); missing {
	case "", "false":
	case "true":
		details = append(details, "missing")
	default:
		details = append(details, "missing: "+missing)
	}
	if len(details) == 0 {
		return "[" + flattenText(name) + "]"
	}
	return "[" + flattenText(name) + " (" + strings.Join(details, ", ") + ")]"
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
