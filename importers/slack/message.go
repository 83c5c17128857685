package slack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// tsText is a Slack timestamp as written: a JSON string, or a number taken
// by its literal text.
type tsText string

func (t *tsText) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*t = ""
	case len(b) >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0:
		*t = tsText(b[1 : len(b)-1])
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = tsText(s)
	case len(b) > 0 && (b[0] >= '0' && b[0] <= '9'):
		*t = tsText(b)
	default:
		return fmt.Errorf("timestamp %s is neither a string nor a number", b)
	}
	return nil
}

type slackFile struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Title      string `json:"title"`
	Mimetype   string `json:"mimetype"`
	Size       int64  `json:"size"`
	Mode       string `json:"mode"`
	IsExternal bool   `json:"is_external"`
}

type message struct {
	Type     string  `json:"type"`
	Subtype  string  `json:"subtype"`
	TS       tsText  `json:"ts"`
	ThreadTS tsText  `json:"thread_ts"`
	User     string  `json:"user"`
	BotID    string  `json:"bot_id"`
	Username string  `json:"username"`
	Text     *string `json:"text"`
	Edited   *struct {
		TS tsText `json:"ts"`
	} `json:"edited"`
	Reactions []struct {
		Name  string   `json:"name"`
		Count *int     `json:"count"`
		Users []string `json:"users"`
	} `json:"reactions"`
	Files       []*slackFile `json:"files"`
	File        *slackFile   `json:"file"`
	UserProfile *struct {
		RealName    string `json:"real_name"`
		DisplayName string `json:"display_name"`
		Name        string `json:"name"`
	} `json:"user_profile"`
	BotProfile *struct {
		Name string `json:"name"`
	} `json:"bot_profile"`
}

// contentSubtypes are subtypes of ordinary readable messages.
var contentSubtypes = map[string]bool{
	"bot_message": true, "me_message": true, "file_share": true, "file_comment": true,
	"file_mention": true, "thread_broadcast": true, "reply_broadcast": true,
	"slackbot_response": true,
}

// serviceSubtypes are channel events: kind "service", service = subtype.
var serviceSubtypes = map[string]bool{
	"channel_join": true, "channel_leave": true, "channel_topic": true, "channel_purpose": true,
	"channel_name": true, "channel_archive": true, "channel_unarchive": true,
	"channel_convert_to_private": true, "channel_convert_to_public": true,
	"channel_posting_permissions": true, "channel_canvas_updated": true,
	"group_join": true, "group_leave": true, "group_topic": true, "group_purpose": true,
	"group_name": true, "group_archive": true, "group_unarchive": true,
	"bot_add": true, "bot_remove": true, "bot_enable": true, "bot_disable": true,
	"pinned_item": true, "unpinned_item": true, "reminder_add": true,
	"sh_room_created": true, "sh_room_shared": true, "tombstone": true, "huddle_thread": true,
	"app_conversation_join": true, "app_conversation_leave": true, "joiner_notification": true,
	"ekm_access_denied": true,
}

// parseTS turns "1452837352.000006" into "2016-01-15T05:55:52.000006Z": UTC,
// the fraction digits as written.
func parseTS(ts tsText) (string, bool) {
	s := string(ts)
	sec, frac, hasFrac := strings.Cut(s, ".")
	if sec == "" || len(sec) > 11 || !allDigits(sec) || (hasFrac && (frac == "" || len(frac) > 9 || !allDigits(frac))) {
		return "", false
	}
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return "", false
	}
	t := time.Unix(n, 0).UTC().Format("2006-01-02T15:04:05")
	if hasFrac {
		t += "." + frac
	}
	return t + "Z", true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// message builds the canonical message of one raw Slack message object at
// byte offset off of the current day file.
func (s *source) message(raw []byte, off int64, decodeErr *recordErr) (canon.Message, error) {
	bad := func(format string, args ...any) (canon.Message, error) {
		return canon.Message{}, s.arr.errAt(off, fmt.Errorf(format, args...))
	}
	if raw[0] != '{' {
		return bad("message is not a JSON object")
	}
	if decodeErr != nil {
		return bad("message: %v", decodeErr)
	}
	m := &s.msg
	if m.TS == "" {
		return bad(`message without a "ts"`)
	}
	tm, ok := parseTS(m.TS)
	if !ok {
		return bad("message ts %q is not a Slack timestamp", m.TS)
	}
	f := s.cur
	r := importers.Record{
		Conversation:     f.key,
		ID:               string(m.TS),
		Time:             tm,
		Kind:             canon.KindMessage,
		ConversationName: f.convName,
		TimeBasis:        "exact",
		Raw:              stripRaw(raw),
	}
	if m.Text != nil {
		r.Text, r.HasText = stripURLCredentials(*m.Text), true
	}
	hasContent := r.Text != "" || len(m.Files) > 0 || m.File != nil
	switch {
	case m.Type != "" && m.Type != "message":
		r.Kind, r.Service = canon.KindService, "unknown:"+m.Type
		s.warnOnce("type:"+m.Type, "slack: messages of unknown type %q kept as service %q", m.Type, r.Service)
	case m.Subtype == "" || contentSubtypes[m.Subtype]:
	case serviceSubtypes[m.Subtype]:
		r.Kind, r.Service = canon.KindService, m.Subtype
	case hasContent:
		s.warnOnce("subtype:"+m.Subtype, "slack: unknown message subtype %q: messages with text or files are kept as ordinary messages", m.Subtype)
	default:
		r.Kind, r.Service = canon.KindService, "unknown:"+m.Subtype
		s.warnOnce("subtype:"+m.Subtype, "slack: unknown message subtype %q without text kept as service %q", m.Subtype, r.Service)
	}

	r.Sender = firstNonEmpty(m.User, m.BotID)
	if m.User != "" {
		r.SenderName = s.meta.userName(m.User)
	}
	if r.SenderName == "" && m.UserProfile != nil {
		r.SenderName = firstNonEmpty(m.UserProfile.RealName, m.UserProfile.DisplayName, m.UserProfile.Name)
	}
	if r.SenderName == "" && m.BotProfile != nil {
		r.SenderName = firstNonEmpty(m.BotProfile.Name)
	}
	if r.SenderName == "" {
		r.SenderName = firstNonEmpty(m.Username)
	}

	if m.ThreadTS != "" && m.ThreadTS != m.TS {
		r.ReplyTo = string(m.ThreadTS)
	}
	if m.Edited != nil && m.Edited.TS != "" {
		if e, ok := parseTS(m.Edited.TS); ok {
			r.EditedAt = e
		} else {
			s.o.Warnf("slack: %s: message %s: edited.ts %q is not a Slack timestamp; edited_at left out", s.fsys.display(s.arr.name), m.TS, m.Edited.TS)
		}
	}
	for _, re := range m.Reactions {
		if re.Name == "" {
			continue
		}
		n := len(re.Users)
		if re.Count != nil && *re.Count > 0 {
			n = *re.Count
		}
		r.Reactions = append(r.Reactions, importers.Reaction{Emoji: ":" + re.Name + ":", Count: n, By: re.Users})
	}
	files := m.Files
	if m.File != nil {
		files = append(files, m.File)
	}
	for _, sf := range files {
		if sf == nil {
			continue
		}
		a, err := s.attachment(sf)
		if err != nil {
			return canon.Message{}, err
		}
		r.Attachments = append(r.Attachments, a)
	}
	msg, err := r.Message()
	if err != nil {
		return bad("%v", err)
	}
	return msg, nil
}

// fileRef is a file found in the export, hashed.
type fileRef struct {
	path string
	sum  [32]byte
	size int64
}

// maxFileCache bounds the cache of hashed files (a file shared in several
// messages is hashed once while the cache has room).
const maxFileCache = 100000

// attachment describes one Slack file, hashing its bytes when the export
// holds them.
func (s *source) attachment(sf *slackFile) (importers.Attachment, error) {
	a := importers.Attachment{Name: firstNonEmpty(sf.Name, sf.Title, sf.ID), Mime: sf.Mimetype, Size: sf.Size}
	switch {
	case sf.Mode == "tombstone":
		a.Missing = "deleted"
		return a, nil
	case sf.Mode == "hidden_by_limit":
		a.Missing = "hidden by the workspace plan's limit"
		return a, nil
	case sf.IsExternal || sf.Mode == "external":
		a.Missing = "external file"
		return a, nil
	}
	ref, ok, err := s.findFile(sf)
	if err != nil {
		if err = s.skipOr(err); err != nil {
			return a, err
		}
		a.Missing = "unreadable in export"
		return a, nil
	}
	if !ok {
		a.Missing = "not in export"
		return a, nil
	}
	a.Size = ref.size
	a.SHA256 = hex.EncodeToString(ref.sum[:])
	a.Blob = a.SHA256
	fsys, p := s.fsys, ref.path
	s.blobs = append(s.blobs, canon.Blob{SHA256: ref.sum, Size: ref.size, Open: func() (io.ReadCloser, error) { return fsys.open(p) }})
	return a, nil
}

// validFileID keeps file ids that are safe as path components.
func validFileID(id string) bool {
	if len(id) < 2 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// findFile looks for the file's bytes: <folder>/attachments/<id>-<name>
// (slackdump "standard"), then __uploads/<id>/<name> (slackdump and
// slack-advanced-exporter "mattermost").
func (s *source) findFile(sf *slackFile) (fileRef, bool, error) {
	if !validFileID(sf.ID) || (s.attach == nil && !s.hasUploads) {
		return fileRef{}, false, nil
	}
	if ref, ok := s.files[sf.ID]; ok {
		return ref, true, nil
	}
	p := s.attach[sf.ID]
	if p == "" && s.hasUploads {
		ents, err := s.fsys.readDir("__uploads/" + sf.ID)
		if err == nil {
			var regular []string
			for _, e := range ents {
				if e.regular {
					regular = append(regular, e.name)
				}
			}
			for _, n := range regular {
				if n == sf.Name {
					p = "__uploads/" + sf.ID + "/" + n
				}
			}
			if p == "" && len(regular) > 0 {
				p = "__uploads/" + sf.ID + "/" + regular[0]
			}
		}
	}
	if p == "" {
		return fileRef{}, false, nil
	}
	// A zip's errors already wrap ErrMalformed; a folder's are I/O errors.
	wrap := func(err error) error {
		if errors.Is(err, errMalformed) {
			return err
		}
		return fmt.Errorf("slack: reading %s: %w", s.fsys.display(p), err)
	}
	rc, err := s.fsys.open(p)
	if err != nil {
		return fileRef{}, false, wrap(err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fileRef{}, false, wrap(err)
	}
	ref := fileRef{path: p, size: n}
	h.Sum(ref.sum[:0])
	if len(s.files) < maxFileCache {
		s.files[sf.ID] = ref
	}
	return ref, true, nil
}

// indexAttachments maps file ids to the files of a folder's attachments/
// folder, named "<file id>-<name>".
func (s *source) indexAttachments(dir string) {
	ents, err := s.fsys.readDir(dir)
	if err != nil {
		return
	}
	s.attach = map[string]string{}
	for _, e := range ents {
		if !e.regular {
			continue
		}
		id, _, ok := strings.Cut(e.name, "-")
		if ok && validFileID(id) {
			if _, dup := s.attach[id]; !dup {
				s.attach[id] = dir + "/" + e.name
			}
		}
	}
}

// typeErr words encoding/json's type errors without Go type names.
func typeErr(err error) error {
	var ute *json.UnmarshalTypeError
	if !errors.As(err, &ute) {
		return err
	}
	want := "another type"
	switch k := ute.Type.Kind(); {
	case k == reflect.String:
		want = "a string"
	case k == reflect.Slice || k == reflect.Array:
		want = "an array"
	case k == reflect.Struct || k == reflect.Pointer || k == reflect.Map:
		want = "an object"
	case k >= reflect.Int && k <= reflect.Float64:
		want = "a number"
	case k == reflect.Bool:
		want = "true or false"
	}
	return fmt.Errorf("field %q is %s, want %s", ute.Field, article(ute.Value), want)
}

func article(v string) string {
	switch v {
	case "array", "object":
		return "an " + v
	}
	return "a " + v
}
