package telegram

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// msg is a canonical line decoded for assertions.
type msg struct {
	Conversation     string                 `json:"conversation"`
	ID               string                 `json:"id"`
	Time             string                 `json:"time"`
	Kind             string                 `json:"kind"`
	ConversationName string                 `json:"conversation_name"`
	Sender           string                 `json:"sender"`
	SenderName       string                 `json:"sender_name"`
	Text             *string                `json:"text"`
	ReplyTo          string                 `json:"reply_to"`
	EditedAt         string                 `json:"edited_at"`
	Attachments      []importers.Attachment `json:"attachments"`
	Reactions        []importers.Reaction   `json:"reactions"`
	Service          string                 `json:"service"`
	TimeBasis        string                 `json:"time_basis"`
	Raw              json.RawMessage        `json:"raw"`
}

func (m msg) text() string {
	if m.Text == nil {
		return ""
	}
	return *m.Text
}

func decode(t testing.TB, r *result) []msg {
	t.Helper()
	out := make([]msg, len(r.lines))
	for i, l := range r.lines {
		if err := json.Unmarshal([]byte(l), &out[i]); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
	}
	return out
}

func byID(t testing.TB, ms []msg, id string) msg {
	t.Helper()
	for _, m := range ms {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("no message %q", id)
	return msg{}
}

func fixture(name string) string { return filepath.Join("testdata", name) }

func importFixture(t testing.TB, name string, o importers.Options) (*result, []msg) {
	t.Helper()
	if o.TZ == nil {
		o.TZ = berlin(t)
	}
	r := mustRun(t, fixture(name), o)
	return r, decode(t, r)
}

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		path string
		want bool
	}{
		{fixture("media"), true},
		{fixture("media/result.json"), true},
		{fixture("full_export"), true},
		{fixture("sorted_keys.json"), true},
		{fixture("saved_messages.json"), true},
		{fixture("html_export"), true}, // so that Open can say to re-export as JSON
		{fixture("golden"), false},
		{filepath.Join(dir, "missing"), false},
		{write("dce.json", `{"guild":{"id":"0"},"channel":{"id":"1"},"messages":[{"id":"1","timestamp":"2024-01-01T00:00:00+00:00","author":{"id":"2"},"content":"x"}]}`), false},
		{write("messenger.json", `{"participants":[{"name":"A"}],"messages":[{"sender_name":"A","timestamp_ms":1,"content":"x"}]}`), false},
		{write("chat.txt", "12/01/2024, 10:00 - Ann: hi\n"), false},
		{write("contacts_first.json", "{\n \"about\": \"x\",\n \"contacts\": {\n  \"about\": \"x\",\n  \"list\": []\n },\n \"frequent_contacts\": {\n  \"list\": ["+strings.Repeat(`{"id":1,"category":"people","type":"user","name":"A","rating":1},`, 200)), true},
		{write("array.json", `[{"messages":[], "date_unixtime":"1"}]`), false},
		{write("bom.json", "\ufeff{\"name\":\"x\",\"type\":\"personal_chat\",\"id\":1,\"messages\":[{\"id\":1,\"type\":\"message\",\"date_unixtime\":\"1\",\"text\":\"\"}]}"), true},
	} {
		if got := Detect(c.path); got != c.want {
			t.Errorf("Detect(%s) = %v, want %v", c.path, got, c.want)
		}
	}
}

// The folder and its result.json import identically.
func TestOpenFolderOrFile(t *testing.T) {
	a := mustRun(t, fixture("media"), importers.Options{TZ: berlin(t)})
	b := mustRun(t, fixture("media/result.json"), importers.Options{TZ: berlin(t)})
	if !bytes.Equal(a.jsonl(), b.jsonl()) {
		t.Fatal("importing the folder and its result.json differ")
	}
}

// Trap §1.5.1: control characters written as "\x07".
func TestTrapXEscapes(t *testing.T) {
	r, ms := importFixture(t, "repair_x_escape.json", importers.Options{})
	if got := byID(t, ms, "10").text(); got != "Ring the bell:\x07 and form feed:\x0c done" {
		t.Errorf("text %q", got)
	}
	if got := byID(t, ms, "11").text(); got != `A real backslash-x stays: \x41` {
		t.Errorf("an escaped backslash followed by x was changed: %q", got)
	}
	if !strings.Contains(string(byID(t, ms, "10").Raw), `"data":"q1\u0001a\u001F"`) {
		t.Errorf("raw does not carry the repaired button data: %s", byID(t, ms, "10").Raw)
	}
	if len(r.warnings) != 1 || !r.warned("repair_x_escape.json") || !r.warned(`6 \x escape(s)`) || !r.warned("first at byte 257") {
		t.Errorf("warnings %q", r.warnings)
	}
}

// Trap §1.5.2: tdesktop 4.1.1's unquoted "document_id".
func TestTrapUnquotedDocumentID(t *testing.T) {
	r, ms := importFixture(t, "repair_unquoted.json", importers.Options{})
	m := byID(t, ms, "66967")
	if m.text() != "😮😁🙂 wow" {
		t.Errorf("text %q", m.text())
	}
	var raw struct {
		Text []json.RawMessage `json:"text"`
		TE   []struct {
			DocumentID string `json:"document_id"`
		} `json:"text_entities"`
	}
	if err := json.Unmarshal(m.Raw, &raw); err != nil {
		t.Fatal(err)
	}
	var first, second struct {
		DocumentID string `json:"document_id"`
		Note       string `json:"note"`
	}
	json.Unmarshal(raw.Text[0], &first)
	json.Unmarshal(raw.Text[1], &second)
	if first.DocumentID != "video_files/sticker (2).webm" || second.DocumentID != "stickers/sticker.webp" || second.Note == "" {
		t.Errorf("repaired values %+v %+v", first, second)
	}
	if raw.TE[0].DocumentID != `video_files\sticker "quoted".webm` {
		t.Errorf("quotes and backslashes in an unquoted value: %q", raw.TE[0].DocumentID)
	}
	if !strings.Contains(string(byID(t, ms, "66968").Raw), `"height":-1.5e2,"flag":true,"none":null`) {
		t.Errorf("valid bare values were touched: %s", byID(t, ms, "66968").Raw)
	}
	if len(r.warnings) != 1 || !r.warned("repair_unquoted.json") || !r.warned("4 unquoted value(s)") {
		t.Errorf("warnings %q", r.warnings)
	}
}

// Trap §1.5.3: U+2028/U+2029 arrive escaped and must come out as the characters.
func TestTrapLineSeparators(t *testing.T) {
	_, ms := importFixture(t, "text_forms.json", importers.Options{})
	if got := byID(t, ms, "4").text(); !strings.Contains(got, "two\u2028after") || !strings.Contains(got, "separator\u2029after") {
		t.Errorf("text %q", got)
	}
}

// Trap §1.5.4: date only, date_unixtime only, both, and mixtures.
func TestTrapDateForms(t *testing.T) {
	_, ms := importFixture(t, "dates_mixed.json", importers.Options{})
	for _, c := range []struct{ id, time, basis string }{
		{"1", "2024-07-01T14:00:00+02:00", "exact"},
		{"2", "2024-01-15T09:00:00+01:00", "exact"},
		{"3", "2024-01-15T08:01:00Z", "exact"},
		{"4", "2021-03-28T03:30:00+02:00", "assumed_tz:Europe/Berlin"}, // 02:30 does not exist that night
		{"5", "2021-10-31T02:30:00+01:00", "assumed_tz:Europe/Berlin"},
		{"6", "2024-01-15T09:05:00+01:00", "exact"},
		{"7", "2024-01-15T08:06:00Z", "exact"},
		{"10", "2024-01-15T11:45:00+05:45", "exact"},
	} {
		m := byID(t, ms, c.id)
		if m.Time != c.time || m.TimeBasis != c.basis {
			t.Errorf("message %s: %s %s, want %s %s", c.id, m.Time, m.TimeBasis, c.time, c.basis)
		}
	}
	// Without --tz, date-only messages are the machine's local time.
	r := mustRun(t, fixture("dates_mixed.json"), importers.Options{})
	m := byID(t, decode(t, r), "9")
	if m.TimeBasis != "exporter_local" {
		t.Errorf("basis without TZ: %q", m.TimeBasis)
	}
	want := time.Date(2020, 1, 15, 10, 0, 0, 0, time.Local).Format(time.RFC3339)
	if m.Time != want {
		t.Errorf("time without TZ %s, want %s", m.Time, want)
	}
}

// Trap §1.5.5: text as a string or an array, with empty strings.
func TestTrapTextPolymorphism(t *testing.T) {
	_, ms := importFixture(t, "text_forms.json", importers.Options{})
	for id, want := range map[string]string{
		"1": "plain string",
		"2": "bold a link Ben code() secret",
		"3": "only text_entities",
		"5": "Happy birthday!",      // "text" written twice by the exporter
		"6": "Ann scored 10 points", // custom service message
		"7": "",
		"8": "escaped \"quotes\", a backslash \\ and a tab\t",
	} {
		if got := byID(t, ms, id).text(); got != want {
			t.Errorf("message %s: text %q, want %q", id, got, want)
		}
	}
	if m := byID(t, ms, "7"); m.Text == nil {
		t.Error(`an empty message text is left out; want "text":""`)
	}
	if m := byID(t, ms, "6"); m.Service != "custom_action" {
		t.Errorf("custom service: %q", m.Service)
	}
}

// Trap §1.5.6: null sender names and user/channel/chat ids.
func TestTrapSenders(t *testing.T) {
	_, ms := importFixture(t, "senders.json", importers.Options{})
	for _, c := range []struct{ id, sender, name string }{
		{"100", "user404", ""},
		{"101", "channel777", "Daily News"},
		{"102", "chat555", "Old Group"},
		{"107", "user1", "Ann 👩🏽‍💻"}, // a service message with from instead of actor
	} {
		m := byID(t, ms, c.id)
		if m.Sender != c.sender || m.SenderName != c.name {
			t.Errorf("message %s: sender %q %q, want %q %q", c.id, m.Sender, m.SenderName, c.sender, c.name)
		}
	}
}

// Trap §1.5.7: migrated groups' ids (shifted negative) and duplicates.
func TestTrapMigratedAndDuplicateIDs(t *testing.T) {
	_, ms := importFixture(t, "duplicates.json", importers.Options{})
	if len(ms) != 6 {
		t.Fatalf("%d messages", len(ms))
	}
	if ms[0].ID != "1" || ms[1].ID != "1" || ms[2].ID != "-999999998" {
		t.Errorf("ids %q %q %q", ms[0].ID, ms[1].ID, ms[2].ID)
	}
	// Identical id-less messages get distinct, deterministic ids.
	a, b, c := ms[3].ID, ms[4].ID, ms[5].ID
	if !strings.HasPrefix(a, "syn:") || len(a) != 4+64 || a == b || a == c || b == c {
		t.Errorf("synthesized ids %q %q %q", a, b, c)
	}
	if a != synID("telegram:9600", "1704099700", "\x00Ben", "ok", 0) || b != synID("telegram:9600", "1704099700", "\x00Ben", "ok", 1) {
		t.Error("synthesized ids do not follow the documented recipe")
	}
}

// Trap §1.5.8: skip notes and files missing from the folder.
func TestTrapMediaSkipNotesAndMissingFiles(t *testing.T) {
	r, ms := importFixture(t, "media", importers.Options{})
	for id, want := range map[string][]string{
		"6":  {"not_exported"},
		"7":  {"too_large", "unavailable"},
		"8":  {"not_exported"},
		"9":  {"not_found_in_input"},
		"11": {"outside_export"},
		"12": {"outside_export", "outside_export"},
		"16": {"not_a_regular_file"},
	} {
		m := byID(t, ms, id)
		if len(m.Attachments) != len(want) {
			t.Errorf("message %s: %+v", id, m.Attachments)
			continue
		}
		for i, a := range m.Attachments {
			if a.Missing != want[i] || a.SHA256 != "" || a.Blob != "" {
				t.Errorf("message %s attachment %d: %+v, want missing %q", id, i, a, want[i])
			}
		}
	}
	if a := byID(t, ms, "7").Attachments[0]; a.Name != "holiday.mp4" || a.Size != 2147483648 || a.Mime != "video/mp4" {
		t.Errorf("a missing file keeps its name, size and type: %+v", a)
	}
	if len(r.blobs["6"]) != 0 || len(r.blobs["9"]) != 0 || len(r.blobs["11"]) != 0 {
		t.Error("blobs offered for missing files")
	}
}

// Present files are hashed and offered as blobs whose Open reads them (also
// after later messages were read, until Close).
func TestMediaBlobs(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, fixture("media"), dir)
	src, err := Open(context.Background(), dir, importers.Options{TZ: berlin(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var ms []msg
	blobs := map[string][]canon.Blob{}
	for {
		m, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var d msg
		json.Unmarshal(m.Line, &d)
		ms = append(ms, d)
		blobs[d.ID] = append([]canon.Blob(nil), src.(canon.BlobLister).Blobs()...)
	}
	for _, id := range []string{"1", "2", "3", "4", "5", "10", "13", "14", "15"} {
		m := byID(t, ms, id)
		seen := map[string]bool{}
		for _, a := range m.Attachments {
			if a.Missing != "" || a.SHA256 == "" || a.Blob != a.SHA256 || a.Size <= 0 {
				t.Errorf("message %s: %+v", id, a)
			}
			seen[a.SHA256] = true
		}
		if len(blobs[id]) != len(seen) {
			t.Errorf("message %s: %d blobs for %d distinct files", id, len(blobs[id]), len(seen))
		}
		for _, b := range blobs[id] {
			if !seen[hex.EncodeToString(b.SHA256[:])] {
				t.Errorf("message %s: blob %x not among its attachments", id, b.SHA256)
			}
			rc, err := b.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(data) != b.SHA256 || int64(len(data)) != b.Size {
				t.Errorf("message %s: blob bytes do not match", id)
			}
		}
	}
	for _, id := range []string{"6", "7", "9", "11", "12", "16"} {
		if len(blobs[id]) != 0 {
			t.Errorf("message %s: blobs offered for missing files", id)
		}
	}
	// The same sticker twice, and another file with the same bytes: one blob id.
	if byID(t, ms, "4").Attachments[0].Blob != byID(t, ms, "5").Attachments[1].Blob {
		t.Error("identical bytes got different blob ids")
	}
	if len(blobs["5"]) != 1 {
		t.Errorf("message 5 offers %d blobs for one content", len(blobs["5"]))
	}
	// Two files with the same name but different bytes stay apart.
	if byID(t, ms, "2").Attachments[0].SHA256 == byID(t, ms, "15").Attachments[0].SHA256 {
		t.Error("different files with the same name share a hash")
	}
	// A file changed after the import is refused when read.
	if err := os.WriteFile(filepath.Join(dir, "photos", "photo_1@01-01-2024_10-00-00.jpg"), []byte("changed!"), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := blobs["1"][0].Open()
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, ErrChangedFile) {
		t.Errorf("reading a changed file: %v", err)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A symbolic link inside the export that leads out of it is never followed;
// one that stays inside is.
func TestMediaSymlinks(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "photos"), 0o755)
	os.MkdirAll(filepath.Join(dir, "files"), 0o755)
	os.WriteFile(filepath.Join(dir, "files", "real.txt"), []byte("inside"), 0o644)
	if err := os.Symlink(outside, filepath.Join(dir, "photos", "evil.jpg")); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	os.Symlink(filepath.Join("..", "files", "real.txt"), filepath.Join(dir, "photos", "ok.jpg"))
	os.Symlink(filepath.Dir(outside), filepath.Join(dir, "escape"))
	writeResult(t, dir, `{"name":"L","type":"personal_chat","id":1,"messages":[
 {"id":1,"type":"message","date_unixtime":"1","photo":"photos/evil.jpg","text":""},
 {"id":2,"type":"message","date_unixtime":"2","photo":"photos/ok.jpg","text":""},
 {"id":3,"type":"message","date_unixtime":"3","file":"escape/secret.txt","text":""}]}`)
	r := mustRun(t, dir, importers.Options{})
	ms := decode(t, r)
	if a := ms[0].Attachments[0]; a.Missing != "outside_export" || len(r.blobs["1"]) != 0 {
		t.Errorf("link out of the export: %+v", a)
	}
	if a := ms[2].Attachments[0]; a.Missing != "outside_export" || len(r.blobs["3"]) != 0 {
		t.Errorf("linked folder out of the export: %+v", a)
	}
	if a := ms[1].Attachments[0]; a.Missing != "" || a.Size != 6 {
		t.Errorf("link inside the export: %+v", a)
	}
	if !r.warned("leads outside the export") {
		t.Errorf("warnings %q", r.warnings)
	}
}

func writeResult(t testing.TB, dir, content string) string {
	t.Helper()
	p := filepath.Join(dir, ResultFile)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Trap §1.5.9: "edited" may come from a reaction; it is kept as written.
func TestTrapEditedAndReactions(t *testing.T) {
	r, ms := importFixture(t, "reactions.json", importers.Options{})
	m := ms[0]
	if m.EditedAt != "2024-11-08T10:10:30+01:00" {
		t.Errorf("edited_at %q", m.EditedAt)
	}
	want := []importers.Reaction{
		{Emoji: "😁", Count: 2, By: []string{"user54321", "user66666"}},
		{Emoji: "custom_emoji:5368324170671202286", Count: 1},
		{Emoji: "paid", Count: 25},
		{Emoji: "❤️", Count: 5, By: []string{"Only Name"}},
		{Emoji: "sparkle", Count: 1},
	}
	got, _ := json.Marshal(m.Reactions)
	w, _ := json.Marshal(want)
	if !bytes.Equal(got, w) {
		t.Errorf("reactions %s, want %s", got, w)
	}
	if !r.warned(`unknown reaction type "sparkle"`) {
		t.Errorf("warnings %q", r.warnings)
	}
}

// A file whose chats put name/type/id after "messages" (re-sorted by a tool).
func TestKeysAfterMessages(t *testing.T) {
	_, ms := importFixture(t, "sorted_keys.json", importers.Options{})
	if len(ms) != 2 || ms[0].Conversation != "telegram:4242" || ms[0].ConversationName != "Sorted Chat" || ms[1].ID != "2" {
		t.Fatalf("%+v", ms)
	}
	// The same in a full export, between normal chats, with an exclusion.
	dir := t.TempDir()
	writeResult(t, dir, `{"chats":{"list":[
 {"name":"A","type":"personal_chat","id":1,"messages":[{"id":1,"type":"message","date_unixtime":"1","text":"a1"}]},
 {"messages":[{"id":1,"type":"message","date_unixtime":"2","text":"b1"},{"id":2,"type":"message","date_unixtime":"3","text":"b2"}],"messages":[{"id":3,"type":"message","date_unixtime":"4","text":"b3"}],"id":2,"type":"private_group","name":"B"},
 {"messages":[{"id":1,"type":"message","date_unixtime":"5","text":"c1"}],"id":3,"type":"private_group","name":"C"},
 {"name":"D","type":"personal_chat","id":4,"messages":[{"id":1,"type":"message","date_unixtime":"6","text":"d1"}]}
]}}`)
	r := mustRun(t, dir, importers.Options{Exclude: map[string]bool{"telegram:3": true}})
	var got []string
	for _, m := range decode(t, r) {
		got = append(got, m.Conversation+"/"+m.ConversationName+"/"+m.text())
	}
	want := "telegram:1/A/a1 telegram:2/B/b1 telegram:2/B/b2 telegram:2/B/b3 telegram:4/D/d1"
	if strings.Join(got, " ") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestSavedMessagesHaveAnIDAndAName(t *testing.T) {
	_, ms := importFixture(t, "saved_messages.json", importers.Options{})
	if ms[0].Conversation != "telegram:111222333" || ms[0].ConversationName != "Saved Messages" {
		t.Errorf("%+v", ms[0])
	}
}

func TestHTMLExportRefused(t *testing.T) {
	r := run(t, fixture("html_export"), importers.Options{})
	if !errors.Is(r.err, importers.ErrMalformed) || !strings.Contains(r.err.Error(), "Machine-readable JSON") {
		t.Errorf("error %v", r.err)
	}
	r = run(t, t.TempDir(), importers.Options{})
	if !errors.Is(r.err, importers.ErrMalformed) || !strings.Contains(r.err.Error(), "no result.json") {
		t.Errorf("error %v", r.err)
	}
}

func TestExclude(t *testing.T) {
	r := mustRun(t, fixture("full_export"), importers.Options{Exclude: map[string]bool{"telegram:3": true, "telegram:111222333": true}})
	for _, m := range decode(t, r) {
		if m.Conversation == "telegram:3" || m.Conversation == "telegram:111222333" {
			t.Errorf("excluded conversation imported: %s", m.Conversation)
		}
	}
	if len(r.lines) != 3 {
		t.Errorf("%d lines", len(r.lines))
	}
}

func TestInvalidRecords(t *testing.T) {
	// Without SkipInvalid the first bad message ends the import, naming
	// the file, the byte offset and the message.
	r := run(t, fixture("invalid_record.json"), importers.Options{TZ: time.UTC})
	if len(r.lines) != 1 || !errors.Is(r.err, importers.ErrMalformed) {
		t.Fatalf("%d lines, error %v", len(r.lines), r.err)
	}
	for _, s := range []string{"invalid_record.json", "byte 257", "chat 9300, message 2", `"yesterday" is not a date`} {
		if !strings.Contains(r.err.Error(), s) {
			t.Errorf("error %q lacks %q", r.err, s)
		}
	}
	// With SkipInvalid, each bad one is reported and the rest imported.
	r = run(t, fixture("invalid_record.json"), importers.Options{TZ: time.UTC, SkipInvalid: true})
	if r.err != nil || len(r.lines) != 2 || len(r.skipped) != 4 {
		t.Fatalf("%d lines, %d skipped, error %v", len(r.lines), len(r.skipped), r.err)
	}
	for _, e := range r.skipped {
		if !errors.Is(e, importers.ErrMalformed) {
			t.Errorf("skipped error does not wrap ErrMalformed: %v", e)
		}
	}
}

// Every truncation of an export is an error naming the file and an offset;
// none panics or passes as complete.
func TestTruncatedFile(t *testing.T) {
	full, err := os.ReadFile(fixture("text_forms.json"))
	if err != nil {
		t.Fatal(err)
	}
	full = bytes.TrimRight(full, "\n")
	dir := t.TempDir()
	p := filepath.Join(dir, ResultFile)
	for n := 0; n < len(full); n += 3 {
		os.WriteFile(p, full[:n], 0o644)
		r := run(t, p, importers.Options{TZ: time.UTC, SkipInvalid: true})
		if r.err == nil {
			t.Fatalf("truncated at %d: no error", n)
		}
		var se *SyntaxError
		if !errors.As(r.err, &se) || !errors.Is(r.err, importers.ErrMalformed) || se.File != p {
			t.Fatalf("truncated at %d: %v", n, r.err)
		}
		if se.Offset > int64(n) {
			t.Fatalf("truncated at %d: offset %d beyond the end", n, se.Offset)
		}
	}
	r := run(t, fixture("truncated.json"), importers.Options{})
	if r.err == nil || !strings.Contains(r.err.Error(), "byte 700") || !strings.Contains(r.err.Error(), "truncated") {
		t.Errorf("error %v", r.err)
	}
}

// Syntax errors give the offset in the original file, also after repairs
// that made the stream longer.
func TestSyntaxErrorOffset(t *testing.T) {
	dir := t.TempDir()
	content := `{"id":1,"type":"personal_chat","name":"x","messages":[{"id":1,"type":"message","date_unixtime":"1","text":"a\x01\x02\x03"},{"id":2 "type":"message"}]}`
	p := writeResult(t, dir, content)
	r := run(t, p, importers.Options{})
	var se *SyntaxError
	if !errors.As(r.err, &se) {
		t.Fatalf("error %v", r.err)
	}
	if want := int64(strings.Index(content, `"type":"message"}]`)); se.Offset != want {
		t.Errorf("offset %d, want %d (%v)", se.Offset, want, se)
	}
	if len(r.lines) != 1 || !r.warned(`3 \x escape(s)`) {
		t.Errorf("%d lines, warnings %q", len(r.lines), r.warnings)
	}
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty":            "",
		"array":            `[]`,
		"string":           `"x"`,
		"messages object":  `{"id":1,"name":"x","type":"t","messages":{}}`,
		"bad escape":       `{"id":1,"name":"x","type":"t","messages":[{"text":"\q"}]}`,
		"bad x escape":     `{"id":1,"name":"x","type":"t","messages":[{"text":"\xZZ"}]}`,
		"bare in array":    `{"id":1,"name":"x","type":"t","messages":[nope]}`,
		"unclosed":         `{"id":1,"name":"x","type":"t","messages":[`,
		"deep":             `{"id":1,"name":"x","type":"t","messages":[{"a":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}]}`,
		"list not array":   `{"chats":{"list":{}}}`,
		"chat not object":  `{"chats":{"list":[1]}}`,
		"chats not object": `{"chats":[]}`,
		"missing colon":    `{"id" 1}`,
		"bad number":       `{"id":01,"messages":[]}`,
		"chat id object":   `{"id":{},"messages":[]}`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		os.WriteFile(p, []byte(content), 0o644)
		r := run(t, p, importers.Options{SkipInvalid: true})
		if !errors.Is(r.err, importers.ErrMalformed) || !strings.Contains(r.err.Error(), p) {
			t.Errorf("%s: %v", name, r.err)
		}
	}
}

func TestTrailingGarbage(t *testing.T) {
	r := run(t, fixture("trailing_garbage.json"), importers.Options{})
	if !errors.Is(r.err, importers.ErrMalformed) || !strings.Contains(r.err.Error(), "byte 217") {
		t.Errorf("error %v", r.err)
	}
}

func TestBOMAndCRLF(t *testing.T) {
	_, ms := importFixture(t, "bom_crlf.json", importers.Options{})
	if len(ms) != 1 || ms[0].text() != "a file saved with a BOM and CRLF line ends" {
		t.Errorf("%+v", ms)
	}
}

func TestContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src, err := Open(ctx, fixture("full_export"), importers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cancel()
	if _, err := src.Next(); !errors.Is(err, context.Canceled) {
		t.Errorf("Next after cancel: %v", err)
	}
}

// Importing the same export twice gives the same bytes; the time zone
// option changes no id.
func TestReimportDeterministic(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	entries, _ := os.ReadDir("testdata")
	for _, e := range entries {
		if e.Name() != "golden" && e.Name() != "fuzz" {
			paths = append(paths, fixture(e.Name()))
		}
	}
	for _, p := range paths {
		a := run(t, p, importers.Options{TZ: berlin(t), SkipInvalid: true})
		b := run(t, p, importers.Options{TZ: berlin(t), SkipInvalid: true})
		if !bytes.Equal(a.jsonl(), b.jsonl()) || strings.Join(a.warnings, "\n") != strings.Join(b.warnings, "\n") {
			t.Errorf("%s: two imports differ", p)
		}
		tokyo, _ := time.LoadLocation("Asia/Tokyo")
		c := run(t, p, importers.Options{TZ: tokyo, SkipInvalid: true})
		am, cm := decode(t, a), decode(t, c)
		if len(am) != len(cm) {
			t.Fatalf("%s: %d vs %d messages", p, len(am), len(cm))
		}
		for i := range am {
			if am[i].ID != cm[i].ID {
				t.Errorf("%s: id %q became %q under another --tz", p, am[i].ID, cm[i].ID)
			}
			if am[i].TimeBasis == "exact" && a.lines[i] != c.lines[i] {
				t.Errorf("%s: an exact time changed with --tz:\n%s\n%s", p, a.lines[i], c.lines[i])
			}
		}
	}
}

// Two overlapping exports of one chat, made on machines in different zones
// and months apart, give the same ids for the same messages.
func TestOverlappingExportsSameIDs(t *testing.T) {
	dir1, dir2 := t.TempDir(), t.TempDir()
	writeResult(t, dir1, `{"name":"Chat","type":"private_group","id":77,"messages":[
 {"id":1,"type":"message","date":"2024-01-01T10:00:00","date_unixtime":"1704099600","from":"A","from_id":"user1","text":"one"},
 {"id":2,"type":"message","date":"2024-01-01T10:01:00","date_unixtime":"1704099660","from":"A","from_id":"user1","text":"two"},
 {"type":"message","date":"2024-01-01T10:02:00","date_unixtime":"1704099720","from":"B","text":"no id"}]}`)
	writeResult(t, dir2, `{"name":"Chat renamed","type":"private_group","id":77,"messages":[
 {"id":2,"type":"message","date":"2024-01-01T04:01:00","date_unixtime":"1704099660","from":"A","from_id":"user1","text":"two"},
 {"type":"message","date":"2024-01-01T04:02:00","date_unixtime":"1704099720","from":"B","text":"no id"},
 {"id":3,"type":"message","date":"2024-01-01T04:03:00","date_unixtime":"1704099780","from":"A","from_id":"user1","text":"three"}]}`)
	a := decode(t, mustRun(t, dir1, importers.Options{}))
	b := decode(t, mustRun(t, dir2, importers.Options{}))
	if a[1].ID != b[0].ID || a[2].ID != b[1].ID || a[0].Conversation != b[0].Conversation {
		t.Errorf("ids differ: %q/%q %q/%q", a[1].ID, b[0].ID, a[2].ID, b[1].ID)
	}
	if a[1].Time != "2024-01-01T10:01:00+01:00" || b[0].Time != "2024-01-01T04:01:00-05:00" {
		t.Errorf("exporter offsets: %s %s", a[1].Time, b[0].Time)
	}
}
