package discord

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// flexString accepts a JSON string, a number (kept as written: hand-edited
// exports and forks write snowflakes as numbers) or null ("").
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0:
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		*f = flexString(b)
	case bytes.Equal(b, []byte("null")):
		*f = ""
	default:
		return fmt.Errorf("expected a string, got %s", jsonType(b[0]))
	}
	return nil
}

// flexInt accepts a number, a numeric string or null (0).
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*f = 0
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		fl, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || fl != float64(int64(fl)) {
			return fmt.Errorf("expected an integer, got %.40q", s)
		}
		n = int64(fl)
	}
	*f = flexInt(n)
	return nil
}

func jsonType(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	}
	return "an invalid value"
}

// The DiscordChatExporter JSON schema (JsonMessageWriter), only the parts
// the canonical record needs. Everything else stays in raw.

type dceGuild struct {
	ID   flexString `json:"id"`
	Name flexString `json:"name"`
}

type dceChannel struct {
	ID         flexString `json:"id"`
	Type       flexString `json:"type"`
	CategoryID flexString `json:"categoryId"`
	Category   flexString `json:"category"`
	Name       flexString `json:"name"`
}

// dceMessage holds the scalar fields strictly (a message without a usable id
// is invalid) and the optional objects as raw bytes, decoded leniently one by
// one so that one odd field does not cost the whole message.
type dceMessage struct {
	ID               flexString      `json:"id"`
	Type             json.RawMessage `json:"type"`
	Timestamp        flexString      `json:"timestamp"`
	TimestampEdited  json.RawMessage `json:"timestampEdited"`
	Content          json.RawMessage `json:"content"`
	Author           json.RawMessage `json:"author"`
	Attachments      json.RawMessage `json:"attachments"`
	Reactions        json.RawMessage `json:"reactions"`
	Reference        json.RawMessage `json:"reference"`
	ForwardedMessage json.RawMessage `json:"forwardedMessage"`
}

type dceUser struct {
	ID       flexString `json:"id"`
	Name     flexString `json:"name"`
	Nickname flexString `json:"nickname"`
}

type dceAttachment struct {
	ID            flexString `json:"id"`
	URL           flexString `json:"url"`
	FileName      flexString `json:"fileName"`
	FileSizeBytes flexInt    `json:"fileSizeBytes"`
}

type dceEmoji struct {
	ID   flexString `json:"id"`
	Name flexString `json:"name"`
	Code flexString `json:"code"`
}

type dceReaction struct {
	Emoji dceEmoji  `json:"emoji"`
	Count flexInt   `json:"count"`
	Users []dceUser `json:"users"`
}

type dceReference struct {
	Type      flexString `json:"type"`
	MessageID flexString `json:"messageId"`
	ChannelID flexString `json:"channelId"`
}

type dceForward struct {
	Content     flexString      `json:"content"`
	Attachments json.RawMessage `json:"attachments"`
}
