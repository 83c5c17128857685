package telegram

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// knownActions are the service actions Telegram Desktop writes
// (export_output_json.cpp); any other is kept as "unknown:<action>" with a
// warning.
var knownActions = map[string]bool{}

func init() {
	for _, a := range strings.Fields(`create_group edit_group_title edit_group_photo
		delete_group_photo invite_members remove_members join_group_by_link create_channel
		migrate_to_supergroup migrate_from_group pin_message clear_history score_in_game
		send_payment phone_call conference_call take_screenshot attach_menu_bot_allowed
		web_app_bot_allowed allow_sending_messages send_passport_values joined_telegram
		proximity_reached requested_phone_number group_call invite_to_group_call
		set_messages_ttl group_call_scheduled edit_chat_theme join_group_by_request
		send_webview_data send_premium_gift topic_created topic_edit suggest_profile_photo
		requested_peer gift_code_prize giveaway_launch giveaway_results set_chat_wallpaper
		set_same_chat_wallpaper boost_apply refunded_payment send_stars_gift send_ton_gift
		stars_prize send_star_gift paid_messages_refund paid_messages_price_change
		todo_completions todo_append_tasks process_suggested_post suggested_post_success
		suggested_post_refund suggest_birthday`) {
		knownActions[a] = true
	}
}

// customAction is the service name given to Telegram's custom service
// messages, which carry only "information_text" and no "action".
const customAction = "custom_action"

// msgFields holds the members of one message object that the importer
// reads, as spans of the captured bytes. Every other member stays in raw.
type msgFields struct {
	id, typ, date, dateUnix, edited, editedUnix                []byte
	from, fromID, actor, actorID, action, informationText      []byte
	replyTo, replyToPeer, textEntities, reactions              []byte
	photo, photoSize, file, fileName, fileSize, mime           []byte
	thumbnail, thumbnailSize, contactVcard                     []byte
	texts                                                      [][]byte // every "text" member (a known exporter bug writes two)
	hasID, hasType, hasDate, hasDateUnix, hasEdited, hasEdUnix bool
}

func (f *msgFields) set(key []byte, v []byte) {
	switch string(key) {
	case "id":
		f.id, f.hasID = v, true
	case "type":
		f.typ, f.hasType = v, true
	case "date":
		f.date, f.hasDate = v, true
	case "date_unixtime":
		f.dateUnix, f.hasDateUnix = v, true
	case "edited":
		f.edited, f.hasEdited = v, true
	case "edited_unixtime":
		f.editedUnix, f.hasEdUnix = v, true
	case "from":
		f.from = v
	case "from_id":
		f.fromID = v
	case "actor":
		f.actor = v
	case "actor_id":
		f.actorID = v
	case "action":
		f.action = v
	case "information_text":
		f.informationText = v
	case "reply_to_message_id":
		f.replyTo = v
	case "reply_to_peer_id":
		f.replyToPeer = v
	case "text":
		f.texts = append(f.texts, v)
	case "text_entities":
		f.textEntities = v
	case "reactions":
		f.reactions = v
	case "photo":
		f.photo = v
	case "photo_file_size":
		f.photoSize = v
	case "file":
		f.file = v
	case "file_name":
		f.fileName = v
	case "file_size":
		f.fileSize = v
	case "mime_type":
		f.mime = v
	case "thumbnail":
		f.thumbnail = v
	case "thumbnail_file_size":
		f.thumbnailSize = v
	case "contact_vcard":
		f.contactVcard = v
	}
}

// decodeKey returns the key of a captured member (raw includes the quotes).
func decodeKey(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var k string
	err := json.Unmarshal(raw, &k)
	return k, err
}

// str decodes a JSON string member; null or absent gives "".
func str(v []byte, key string) (string, error) {
	if len(v) == 0 || string(v) == "null" {
		return "", nil
	}
	if v[0] != '"' {
		return "", fmt.Errorf("%q is not a string", key)
	}
	if bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v) {
		return string(v[1 : len(v)-1]), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%q: %v", key, err)
	}
	return s, nil
}

// scalar decodes a string or a number (as written); null or absent gives "".
func scalar(v []byte, key string) (string, error) {
	if len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		return string(v), nil
	}
	return str(v, key)
}

// sizeOf reads a *_file_size member; anything unexpected gives 0.
func sizeOf(v []byte) int64 {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// textPart is one element of a "text" array: a string, or an entity object
// whose "text" is its visible text.
type textPart string

func (p *textPart) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*p = textPart(s)
	case len(b) > 0 && b[0] == '{':
		var e struct {
			Text json.RawMessage `json:"text"`
		}
		if err := json.Unmarshal(b, &e); err != nil {
			return err
		}
		if len(e.Text) > 0 {
			var t flatText
			if err := json.Unmarshal(e.Text, &t); err != nil {
				return err
			}
			*p = textPart(t)
		}
	case string(b) == "null":
	default:
		return fmt.Errorf("a text part is %s, not a string or an object", kindOf(b))
	}
	return nil
}

// flatText is a "text" value: a string or an array of parts, flattened.
type flatText string

func (t *flatText) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = flatText(s)
	case len(b) > 0 && b[0] == '[':
		var parts []textPart
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		var sb strings.Builder
		for _, p := range parts {
			sb.WriteString(string(p))
		}
		*t = flatText(sb.String())
	case string(b) == "null":
	default:
		return fmt.Errorf("text is %s, not a string or an array", kindOf(b))
	}
	return nil
}

func kindOf(b []byte) string {
	if len(b) == 0 {
		return "empty"
	}
	switch b[0] {
	case '{':
		return "an object"
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

func flatten(v []byte, key string) (string, error) {
	if len(v) > 0 && v[0] == '"' {
		return str(v, key)
	}
	if s, ok := flattenCompact(v); ok {
		return s, nil
	}
	var t flatText
	if err := json.Unmarshal(v, &t); err != nil {
		return "", fmt.Errorf("%q: %v", key, err)
	}
	return string(t), nil
}

// reaction is one element of "reactions".
type reaction struct {
	Type       string          `json:"type"`
	Count      json.Number     `json:"count"`
	Emoji      string          `json:"emoji"`
	DocumentID json.RawMessage `json:"document_id"`
	Recent     []struct {
		From   *string         `json:"from"`
		FromID json.RawMessage `json:"from_id"`
	} `json:"recent"`
}

// reactionsOf converts "reactions"; unknown reaction types are kept under
// their type name.
func reactionsOf(v []byte, unknown func(typ string)) ([]importers.Reaction, error) {
	if len(v) == 0 || string(v) == "null" {
		return nil, nil
	}
	var rs []reaction
	if err := json.Unmarshal(v, &rs); err != nil {
		return nil, fmt.Errorf(`"reactions": %v`, err)
	}
	out := make([]importers.Reaction, 0, len(rs))
	for _, r := range rs {
		var e importers.Reaction
		doc, _ := scalar(r.DocumentID, "document_id")
		switch {
		case r.Emoji != "":
			e.Emoji = r.Emoji
		case r.Type == "custom_emoji" || doc != "":
			e.Emoji = "custom_emoji:" + doc
		case r.Type != "":
			e.Emoji = r.Type // "paid" (stars) and types to come
		default:
			e.Emoji = "unknown"
		}
		if r.Type != "emoji" && r.Type != "custom_emoji" && r.Type != "paid" {
			unknown(r.Type)
		}
		if n, err := strconv.Atoi(r.Count.String()); err == nil && n >= 0 {
			e.Count = n
		}
		for _, who := range r.Recent {
			id, _ := scalar(who.FromID, "from_id")
			if id == "" && who.From != nil {
				id = *who.From
			}
			if id != "" {
				e.By = append(e.By, id)
			}
		}
		if e.Count < len(e.By) {
			e.Count = len(e.By)
		}
		out = append(out, e)
	}
	return out, nil
}

// recordError is a problem with one message; with SkipInvalid it is skipped.
type recordError struct {
	file  string
	off   int64  // byte offset of the message object
	where string // chat and message
	msg   string
}

func (e *recordError) Error() string {
	return fmt.Sprintf("%s: byte %d: %s: %s", e.file, e.off, e.where, e.msg)
}

func (e *recordError) Unwrap() error { return importers.ErrMalformed }

// synID is the id of a message without one: SHA-256 over the conversation
// key, the timestamp text as written, the sender, the text and the index
// among identical earlier messages, each length-prefixed.
func synID(conv, ts, sender, text string, dup int) string {
	h := sha256.New()
	for _, s := range []string{conv, ts, sender, text, strconv.Itoa(dup)} {
		var n [binaryLen]byte
		h.Write(strconv.AppendInt(n[:0], int64(len(s)), 10))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	return "syn:" + hex.EncodeToString(h.Sum(nil))
}

const binaryLen = 20

// build turns a captured message into a canonical record. raw is the
// message's bytes; fields locate its members.
func (src *source) build(c *chat, raw []byte, fields []field, off int64) (canon.Message, bool, error) {
	var f msgFields
	for _, fl := range fields {
		k := raw[fl.keyStart+1 : fl.valStart-2]
		if bytes.IndexByte(k, '\\') >= 0 {
			dk, err := decodeKey(raw[fl.keyStart : fl.valStart-1])
			if err != nil {
				return canon.Message{}, false, src.recErr(c, off, "", "bad key: %v", err)
			}
			k = []byte(dk)
		}
		f.set(k, raw[fl.valStart:fl.valEnd])
	}
	id, err := scalar(f.id, "id")
	if err != nil {
		return canon.Message{}, false, src.recErr(c, off, "", "%v", err)
	}
	typ, err := str(f.typ, "type")
	if err != nil {
		return canon.Message{}, false, src.recErr(c, off, id, "%v", err)
	}
	if typ == "unsupported" && !f.hasDate && !f.hasDateUnix {
		// Telegram Desktop writes only {id, type} for media it cannot
		// export: there is no time to file it under.
		c.unsupported++
		return canon.Message{}, false, nil
	}

	r := importers.Record{Conversation: c.key, ConversationName: c.convName}

	var st stamp
	if st.local, err = str(f.date, "date"); err != nil {
		return canon.Message{}, false, src.recErr(c, off, id, "%v", err)
	}
	st.hasLocal = f.hasDate && st.local != ""
	if st.unix, err = scalar(f.dateUnix, "date_unixtime"); err != nil {
		return canon.Message{}, false, src.recErr(c, off, id, "%v", err)
	}
	st.hasUnix = f.hasDateUnix && st.unix != ""
	var mismatch bool
	r.Time, r.TimeBasis, mismatch, err = st.resolve(src.opts.TZ)
	if err != nil {
		if errors.Is(err, errNoDate) {
			return canon.Message{}, false, src.recErr(c, off, id, `no "date" or "date_unixtime"`)
		}
		return canon.Message{}, false, src.recErr(c, off, id, "date: %v", err)
	}
	if mismatch && !src.warnedMismatch {
		src.warnedMismatch = true
		src.warn("%s: %s, message %s: \"date\" %q and \"date_unixtime\" %q differ by no plausible zone offset; times of such messages are written in UTC", src.name, c.label(), idOrIndex(id), st.local, st.unix)
	}
	if f.hasEdited || f.hasEdUnix {
		var ed stamp
		ed.local, _ = str(f.edited, "edited")
		ed.hasLocal = ed.local != ""
		ed.unix, _ = scalar(f.editedUnix, "edited_unixtime")
		ed.hasUnix = ed.unix != ""
		if t, _, _, err := ed.resolve(src.opts.TZ); err == nil {
			r.EditedAt = t
		} else if !errors.Is(err, errNoDate) {
			return canon.Message{}, false, src.recErr(c, off, id, "edited: %v", err)
		}
	}

	// Kind and service action.
	switch typ {
	case "message", "":
		r.Kind = canon.KindMessage
	case "service":
		r.Kind = canon.KindService
		action, err := str(f.action, "action")
		if err != nil {
			return canon.Message{}, false, src.recErr(c, off, id, "%v", err)
		}
		switch {
		case knownActions[action]:
			r.Service = action
		case action == "" && len(f.informationText) > 0:
			r.Service = customAction
		case action == "":
			r.Service = "unknown:none"
			src.warnUnknown(c, `service message without an action, kept as service "unknown:none"`, id)
		default:
			r.Service = "unknown:" + action
			src.warnUnknown(c, "service action "+strconv.Quote(action)+", kept as service "+strconv.Quote(r.Service), id)
		}
	default:
		// "unsupported" with a date, and types to come.
		r.Kind = canon.KindService
		r.Service = "unknown:" + typ
		src.warnUnknown(c, "message type "+strconv.Quote(typ)+", kept as service "+strconv.Quote(r.Service), id)
	}

	// Sender: the author of a message, the actor of a service message.
	sender, name := f.fromID, f.from
	if r.Kind == canon.KindService && (len(f.actorID) > 0 || len(f.actor) > 0) {
		sender, name = f.actorID, f.actor
	}
	if r.Sender, err = scalar(sender, "from_id"); err != nil {
		return canon.Message{}, false, src.recErr(c, off, id, "%v", err)
	}
	if r.SenderName, err = str(name, "from"); err != nil {
		return canon.Message{}, false, src.recErr(c, off, id, "%v", err)
	}

	// Text: "text" flattened; a duplicated "text" member (a Telegram
	// Desktop bug for gifts and web-app data) keeps every non-empty value.
	var texts []string
	for _, t := range f.texts {
		s, err := flatten(t, "text")
		if err != nil {
			return canon.Message{}, false, src.recErr(c, off, id, "%v", err)
		}
		if s != "" {
			texts = append(texts, s)
		}
	}
	if len(f.texts) > 1 && !src.warnedDupText {
		src.warnedDupText = true
		src.warn(`%s: %s, message %s has %d "text" members (a Telegram Desktop bug); their non-empty values are joined by newlines`, src.name, c.label(), idOrIndex(id), len(f.texts))
	}
	r.Text = strings.Join(texts, "\n")
	if len(f.texts) == 0 && len(f.textEntities) > 0 {
		if r.Text, err = flatten(f.textEntities, "text_entities"); err != nil {
			return canon.Message{}, false, src.recErr(c, off, id, "%v", err)
		}
	}
	if r.Text == "" && r.Service == customAction {
		r.Text, _ = str(f.informationText, "information_text")
	}
	r.HasText = r.Kind == canon.KindMessage && (len(f.texts) > 0 || len(f.textEntities) > 0)

	// Reply within the chat; a reply to another chat (reply_to_peer_id)
	// stays in raw only.
	if len(f.replyToPeer) == 0 {
		if r.ReplyTo, err = scalar(f.replyTo, "reply_to_message_id"); err != nil {
			return canon.Message{}, false, src.recErr(c, off, id, "%v", err)
		}
	}

	if r.Reactions, err = reactionsOf(f.reactions, func(typ string) {
		src.warnUnknown(c, "reaction type "+strconv.Quote(typ)+" (kept under its type name)", id)
	}); err != nil {
		return canon.Message{}, false, src.recErr(c, off, id, "%v", err)
	}

	// Attachments, in a fixed order.
	refs := make([]attachmentRef, 0, 2)
	addRef := func(key string, v []byte, name, mime string, size []byte) error {
		if len(v) == 0 || string(v) == "null" {
			return nil
		}
		p, err := str(v, key)
		if err != nil {
			return err
		}
		if p == "" {
			return nil
		}
		refs = append(refs, attachmentRef{key: key, value: p, name: name, mime: mime, sizeHint: sizeOf(size)})
		return nil
	}
	fileName, _ := str(f.fileName, "file_name")
	mime, _ := str(f.mime, "mime_type")
	for _, e := range []error{
		addRef("photo", f.photo, "", "", f.photoSize),
		addRef("file", f.file, fileName, mime, f.fileSize),
		addRef("thumbnail", f.thumbnail, "", "", f.thumbnailSize),
		addRef("contact_vcard", f.contactVcard, "", "", nil),
	} {
		if e != nil {
			return canon.Message{}, false, src.recErr(c, off, id, "%v", e)
		}
	}
	for _, ref := range refs {
		r.Attachments = append(r.Attachments, src.media.attachment(ref, &src.blobs, func(s string) {
			src.warn("%s: %s, message %s: %s", src.name, c.label(), idOrIndex(id), s)
		}))
	}

	// Id: the native one, else synthesized from the content.
	if id != "" {
		r.ID = id
	} else {
		ts := st.unix
		if !st.hasUnix {
			ts = st.local
		}
		r.ID = c.synthesize(ts, r.Sender+"\x00"+r.SenderName, r.Text)
	}

	r.Raw = raw
	m, err := r.Message()
	if err != nil {
		return canon.Message{}, false, src.recErr(c, off, id, "%v", err)
	}
	return m, true, nil
}

func idOrIndex(id string) string {
	if id == "" {
		return "(without id)"
	}
	return id
}

// synthesize returns the id of a message without one. Identical messages
// (same timestamp text, sender and text) are told apart by their order;
// only messages of the current timestamp are remembered, so memory stays
// bounded in a file sorted by time.
func (c *chat) synthesize(ts, sender, text string) string {
	if ts != c.synTS || c.synSeen == nil {
		c.synTS = ts
		c.synSeen = make(map[[32]byte]int)
	}
	k := sha256.Sum256([]byte(strconv.Itoa(len(sender)) + ":" + sender + text))
	dup := c.synSeen[k]
	c.synSeen[k] = dup + 1
	return synID(c.key, ts, sender, text, dup)
}

// flattenCompact flattens a text array straight from the captured bytes
// (valid JSON without insignificant whitespace, as the scanner writes it):
// strings and the "text" strings of entity objects are concatenated. It
// declines (ok false) anything unusual, which flatText then decodes or
// reports.
func flattenCompact(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '[' {
		return "", false
	}
	var sb strings.Builder
	appendStr := func(raw []byte) bool {
		if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
			sb.Write(raw[1 : len(raw)-1])
			return true
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return false
		}
		sb.WriteString(s)
		return true
	}
	i := 1
	if v[i] == ']' {
		return "", i+1 == len(v)
	}
	for {
		switch v[i] {
		case '"':
			j := skipCompact(v, i)
			if j < 0 || !appendStr(v[i:j]) {
				return "", false
			}
			i = j
		case '{':
			i++
			for i < len(v) && v[i] != '}' {
				if v[i] != '"' {
					return "", false
				}
				k := skipCompact(v, i)
				if k < 0 || k >= len(v) || v[k] != ':' {
					return "", false
				}
				vs := k + 1
				ve := skipCompact(v, vs)
				if ve < 0 || ve >= len(v) {
					return "", false
				}
				if string(v[i:k]) == `"text"` {
					if v[vs] != '"' || !appendStr(v[vs:ve]) {
						return "", false
					}
				}
				i = ve
				if v[i] == ',' {
					i++
				}
			}
			if i >= len(v) {
				return "", false
			}
			i++
		case 'n':
			if !bytes.HasPrefix(v[i:], []byte("null")) {
				return "", false
			}
			i += 4
		default:
			return "", false
		}
		if i >= len(v) {
			return "", false
		}
		switch v[i] {
		case ',':
			i++
		case ']':
			return sb.String(), i+1 == len(v)
		default:
			return "", false
		}
	}
}

// skipCompact returns the index just past the JSON value starting at i in
// compact, valid JSON, or -1.
func skipCompact(v []byte, i int) int {
	depth := 0
	for i < len(v) {
		switch c := v[i]; c {
		case '"':
			i++
			for i < len(v) && v[i] != '"' {
				if v[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(v) {
				return -1
			}
			i++
		case '{', '[':
			depth++
			i++
			continue
		case '}', ']':
			depth--
			if depth < 0 {
				return i
			}
			i++
		case ',', ':':
			if depth == 0 {
				return i
			}
			i++
			continue
		default:
			i++
			continue
		}
		if depth == 0 {
			return i
		}
	}
	if depth == 0 {
		return i
	}
	return -1
}
