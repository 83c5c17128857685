package slack

// One test per item of chat-formats.md §10 that applies to Slack exports.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chatvault/chatvault/importers"
)

var workspace = filepath.Join("testdata", "workspace")

const general = "slack:C0GENERAL1"

// §10.1: invalid JSON is an error naming the file, line and byte offset,
// wrapping ErrMalformed; with SkipInvalid the bad parts are reported and the
// rest imported. (Slack itself writes valid JSON: no repair pass.)
func TestChecklist1_InvalidJSON(t *testing.T) {
	const ok = `{"type":"message","user":"U1","text":"ok","ts":"1704067200.000001"}`
	cases := []struct {
		name, data string
		want       []string // parts of the error
	}{
		{"missing comma", "[\n" + ok + "\n" + ok + "\n]", []string{"2024-01-01.json", "line 3", "byte offset 70", "after array element"}},
		{"truncated", "[\n" + ok + ",\n{\"ts\":\"17", []string{"2024-01-01.json", "line 3", "byte offset 80", "truncated"}},
		{"not an array", `"hello"`, []string{"2024-01-01.json", "line 1", "byte offset 0", "want a JSON array"}},
		{"empty file", "", []string{"2024-01-01.json", "empty file"}},
		{"garbage after the array", "[" + ok + "]\nx", []string{"line 2", "byte offset 70", `unexpected 'x' after the end`}},
		{"element not an object", "[\n42]", []string{"line 2", "byte offset 2", "not a JSON object"}},
		{"no ts", "[\n{\"text\":\"x\"}]", []string{"line 2", "byte offset 2", `without a "ts"`}},
		{"bad ts", `[{"ts":"yesterday"}]`, []string{"byte offset 1", `ts "yesterday"`}},
		{"wrong field type", `[{"ts":"1.5","user":{"id":"U1"}}]`, []string{"byte offset 1", `field "user" is an object, want a string`}},
		{"bad utf-8 BOM only", "\xef\xbb\xbf", []string{"empty file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{
				"channels.json":           `[{"id":"C0GENERAL1","name":"general"}]`,
				"general/2024-01-01.json": c.data,
				"general/2024-01-02.json": "[" + strings.Replace(ok, "000001", "000002", 1) + "]",
			})
			_, err := tryRun(dir, importers.Options{})
			mustMalformed(t, err, c.want...)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("%T is not a *FileError", err)
			}
			r := run(t, dir, importers.Options{SkipInvalid: true})
			if len(r.skipped) != 1 {
				t.Fatalf("skipped %v, want one", r.skipped)
			}
			if !contains(r.lines, `"1704067200.000002"`) {
				t.Fatalf("the next file was not imported: %q", r.lines)
			}
		})
	}
}

// §10.1 with SkipInvalid over several bad records of one file and a bad
// metadata file: every good record is kept, every bad one reported.
func TestChecklist1_SkipInvalidKeepsGoodRecords(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"users.json":    `[{"id":"U1","name":"one"}, 7, {"id":"U2","name":"two"`,
		"channels.json": `[{"id":"C0GENERAL1","name":"general"},{"name":"no id"}]`,
		"general/2024-01-01.json": `[{"ts":"1.000001","user":"U1","text":"a"},{"text":"no ts"},
{"ts":"1.000002","user":"U2","text":"b"},null,{"ts":"1.000003","text":"c"}]`,
	})
	r := run(t, dir, importers.Options{SkipInvalid: true})
	if len(r.lines) != 3 || len(r.skipped) != 5 {
		t.Fatalf("%d lines, skipped %d: %v", len(r.lines), len(r.skipped), r.skipped)
	}
	for _, err := range r.skipped {
		mustMalformed(t, err)
	}
	if m := r.find(t, general, "1.000001"); m["sender_name"] != "one" {
		t.Errorf("users.json records before the truncation were lost: %v", m)
	}
}

// §10.2: huge exports stream; see TestChecklist2_LargeExportBoundedMemory in
// large_test.go. Here: a record larger than MaxRecordSize is refused without
// being buffered whole.
func TestChecklist2_OversizedRecordRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 17 MB")
	}
	big := `[{"ts":"1.000001","text":"` + strings.Repeat("a", MaxRecordSize+1024) + `"}]`
	dir := writeTree(t, map[string]string{"general/2024-01-01.json": big})
	_, err := tryRun(dir, importers.Options{})
	mustMalformed(t, err, "larger than", "byte offset 1")
}

// §10.3: ts is exact UTC epoch seconds with a microsecond sequence; the time
// keeps its digits, --tz changes nothing, a numeric ts keeps its text.
func TestChecklist3_TimeFromTS(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	for _, tz := range []*time.Location{nil, time.UTC, paris} {
		r := run(t, workspace, importers.Options{TZ: tz})
		m := r.find(t, general, "1704153700.000300")
		if m["time"] != "2024-01-02T00:01:40.000300Z" || m["time_basis"] != "exact" {
			t.Errorf("tz %v: time %v basis %v", tz, m["time"], m["time_basis"])
		}
		if m["edited_at"] != "2024-01-02T00:02:30.000000Z" {
			t.Errorf("edited_at %v", m["edited_at"])
		}
		if m := r.find(t, general, "1704240000.123456"); m["time"] != "2024-01-03T00:00:00.123456Z" {
			t.Errorf("numeric ts: %v", m)
		}
	}
	for in, want := range map[string]string{
		"0":                    "1970-01-01T00:00:00Z",
		"1452837352.000006":    "2016-01-15T05:55:52.000006Z",
		"1452837352.5":         "2016-01-15T05:55:52.5Z",
		"1452837352.123456789": "2016-01-15T05:55:52.123456789Z",
	} {
		if got, ok := parseTS(tsText(in)); !ok || got != want {
			t.Errorf("parseTS(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", ".5", "1.", "-1.0", "1e9", "1.0000000001", "123456789012.0", " 1.0", "1,5"} {
		if got, ok := parseTS(tsText(bad)); ok {
			t.Errorf("parseTS(%q) = %q, want refusal", bad, got)
		}
	}
}

// §10.4: day/month order does not arise; day file names are not used for
// time (a message dated 2021 inside 2024-01-03.json keeps its own time).
func TestChecklist4_DayFileNameNotUsedForTime(t *testing.T) {
	r := run(t, workspace, importers.Options{})
	if m := r.find(t, general, "1609459200.000001"); m["time"] != "2021-01-01T00:00:00.000001Z" {
		t.Errorf("time %v", m["time"])
	}
}

// §10.5: invisible characters stay verbatim in text; a UTF-8 BOM before a
// day file's array is skipped.
func TestChecklist5_InvisibleUnicode(t *testing.T) {
	r := run(t, workspace, importers.Options{})
	text := r.find(t, general, "1704155300.001900")["text"].(string)
	for _, c := range []string{"\u200e", "\u202b", "\u202c", "\u00a0", "\u202f", "\ufeff"} {
		if !strings.Contains(text, c) {
			t.Errorf("text lost %U: %q", []rune(c)[0], text)
		}
	}
	if m := r.find(t, "slack:C0RANDOM01", "1704326400.000001"); m["text"] != "file with a BOM" {
		t.Errorf("BOM file: %v", m)
	}
	// A display name starting with U+200E is kept as is (dave's real_name wins).
	if m := r.find(t, "slack:G0SECRET01", "1704412800.000001"); !strings.HasPrefix(m["sender_name"].(string), "Jose\u0301") {
		t.Errorf("sender_name %q", m["sender_name"])
	}
}

// §10.6: NFD text and names, ZWJ emoji and skin tones stay byte for byte.
func TestChecklist6_UnicodeVerbatim(t *testing.T) {
	r := run(t, workspace, importers.Options{})
	m := r.find(t, "slack:G0MPIM0001", "1704585600.000001")
	if m["sender_name"] != "Carol 👩🏽‍💻" || m["conversation_name"] != "Alice Liddell, bobby, Carol 👩🏽‍💻" {
		t.Errorf("names %q / %q", m["sender_name"], m["conversation_name"])
	}
	var found bool
	for _, l := range r.lines {
		if strings.Contains(l, "cafe\u0301 👩‍👩‍👧") {
			found = true
		}
		if !utf8.ValidString(l) {
			t.Errorf("invalid UTF-8 in %q", l)
		}
	}
	if !found {
		t.Error("NFD text or ZWJ sequence was altered")
	}
}

// §10.7: senders missing from users.json (Slack Connect, deleted, unknown),
// bots with only bot_id/username or bot_profile, USLACKBOT.
func TestChecklist7_Senders(t *testing.T) {
	r := run(t, workspace, importers.Options{})
	for id, want := range map[string][2]string{
		"1704154500.001100": {"U0GHOST001", "Grace External"}, // not in users.json: user_profile
		"1704154600.001200": {"U0NOBODY01", ""},               // not in users.json, no profile
		"1704154300.000900": {"B0BOT00001", "deploybot"},      // bot_profile
		"1704154400.001000": {"B0BOT00002", "ci-runner"},      // bot_id + username
		"1704154800.001400": {"USLACKBOT", "Slackbot"},
		"1704153900.000500": {"U0CAROL001", "Carol 👩🏽‍💻"}, // deleted user, still named
		"1704153800.000400": {"U0BOB00001", "bobby"},      // display_name when real_name is empty
	} {
		m := r.find(t, general, id)
		name, _ := m["sender_name"].(string)
		if m["sender"] != want[0] || name != want[1] {
			t.Errorf("%s: sender %v %q, want %q %q", id, m["sender"], name, want[0], want[1])
		}
	}
	// Without users.json every user is kept by id.
	dir := writeTree(t, map[string]string{"general/2024-01-01.json": `[{"ts":"1.000001","user":"U9","text":"x"}]`})
	if m := run(t, dir, importers.Options{}).find(t, "slack:name:general", "1.000001"); m["sender"] != "U9" || m["sender_name"] != nil {
		t.Errorf("%v", m)
	}
}

// §10.8: multi-line bodies, with a line that looks like another format's
// header, stay one message with the text verbatim.
func TestChecklist8_MultilineText(t *testing.T) {
	r := run(t, workspace, importers.Options{})
	text := r.find(t, general, "1704155300.001900")["text"].(string)
	if strings.Count(text, "\n") != 2 || !strings.Contains(text, "\n12/01/2024 10:00 - Bob: not a header") {
		t.Errorf("text %q", text)
	}
}

// §10.9: tokens in file URLs are stripped from raw and text; other query
// parameters and YouTube-style t=42 stay.
func TestChecklist9_TokensInURLs(t *testing.T) {
	r := run(t, workspace, importers.Options{})
	for _, l := range r.lines {
		for _, secret := range []string{"xoxe-", "EXAMPLETOKEN", "token=", "pub_secret=", "s3cret", "abcdef0123"} {
			if strings.Contains(l, secret) {
				t.Errorf("%q left in %s", secret, l)
			}
		}
	}
	m := r.find(t, general, "1704154000.000600")
	if want := "Files: <https://files.slack.com/files-pri/T0TEAM0001-F0PHOTO001/photo.png?dl=1|photo> and <https://www.youtube.com/watch?v=abc&amp;t=42|video at 42s> and <https://example.com/login?next=%2F|login>"; m["text"] != want {
		t.Errorf("text\n%q\nwant\n%q", m["text"], want)
	}
	files := m["raw"].(map[string]any)["files"].([]any)
	f0 := files[0].(map[string]any)
	if f0["url_private"] != "https://files.slack.com/files-pri/T0TEAM0001-F0PHOTO001/photo.png" ||
		f0["thumb_64"] != "https://files.slack.com/files-tmb/T0TEAM0001-F0PHOTO001-abc/photo.png_64.png?x=1" {
		t.Errorf("file urls %v / %v", f0["url_private"], f0["thumb_64"])
	}
	// The real sample carries redacted tokens: none survive either.
	rs := run(t, filepath.Join(samples, sampleZip), importers.Options{})
	if strings.Contains(rs.text(), "xoxe") || strings.Contains(rs.text(), "?t=") {
		t.Error("a token survived in the sample's output")
	}
}

// §10.9: attachments the export lacks are "missing", never an error; files
// the export has (slackdump layouts) are hashed and served as blobs.
func TestChecklist9_MediaMissingOrInExport(t *testing.T) {
	r := run(t, workspace, importers.Options{})
	m := r.find(t, general, "1704154000.000600")
	atts := m["attachments"].([]any)
	want := []string{"not in export", "deleted", "hidden by the workspace plan's limit", "external file", "", ""}
	if len(atts) != len(want) {
		t.Fatalf("%d attachments: %v", len(atts), atts)
	}
	for i, a := range atts {
		a := a.(map[string]any)
		missing, _ := a["missing"].(string)
		if missing != want[i] {
			t.Errorf("attachment %d: missing %q, want %q", i, missing, want[i])
		}
		if want[i] == "" && (a["sha256"] == nil || a["sha256"] != a["blob"]) {
			t.Errorf("attachment %d has no hash: %v", i, a)
		}
	}
	hello := atts[4].(map[string]any)
	if hello["sha256"] != "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03" || hello["size"] != jsonNumber("6") {
		t.Errorf("hello.txt: %v", hello)
	}
	bs := r.blobs[general+" 1704154000.000600"]
	if len(bs) != 2 || r.blobErr != nil {
		t.Fatalf("blobs %v: %v", bs, r.blobErr)
	}
}

// §10.9: __MACOSX and other "__" or dot folders are not conversations; a
// zip holding the export inside one folder is read from that folder.
func TestChecklist9_MacOSXAndWrappedZip(t *testing.T) {
	r := run(t, workspace, importers.Options{})
	for _, l := range r.lines {
		if strings.Contains(l, "MACOSX") || strings.Contains(l, "__uploads") {
			t.Errorf("junk folder imported: %s", l)
		}
	}
	wrapped := run(t, zipDir(t, workspace, "my-export/"), importers.Options{})
	if wrapped.text() != r.text() {
		t.Errorf("zip with a top folder differs:\n%s", wrapped.text())
	}
}

// §10.10: duplicates. Overlapping exports give the same bytes for the same
// messages; a ts repeated within a channel gives the same id twice (the
// archive keeps the last).
func TestChecklist10_Duplicates(t *testing.T) {
	day := func(n int) string {
		return `[{"type":"message","user":"U1","text":"day ` + string(rune('0'+n)) + `","ts":"170406720` + string(rune('0'+n)) + `.000001"}]`
	}
	meta := `[{"id":"C0GENERAL1","name":"general"}]`
	a := run(t, writeTree(t, map[string]string{"channels.json": meta, "general/2024-01-01.json": day(1), "general/2024-01-02.json": day(2)}), importers.Options{})
	b := run(t, writeTree(t, map[string]string{"channels.json": meta, "general/2024-01-02.json": day(2), "general/2024-01-03.json": day(3)}), importers.Options{})
	if a.lines[1] != b.lines[0] {
		t.Errorf("overlap differs:\n%s\n%s", a.lines[1], b.lines[0])
	}
	r := run(t, workspace, importers.Options{})
	n := 0
	for _, l := range r.lines {
		if strings.Contains(l, `"id":"1704155400.002000"`) {
			n++
		}
	}
	if n != 2 {
		t.Errorf("duplicated ts gave %d lines, want 2", n)
	}
	if m := r.find(t, general, "1704155400.002000"); !strings.HasPrefix(m["text"].(string), "Second copy") {
		t.Errorf("last occurrence: %v", m["text"])
	}
}

// §10.11: a reply stored before its parent (earlier day file, earlier ts)
// still points at the parent's ts; a broadcast reply too.
func TestChecklist11_RepliesBeforeParents(t *testing.T) {
	r := run(t, workspace, importers.Options{})
	first := decode(t, r.lines[0])
	for _, l := range r.lines {
		if m := decode(t, l); m["conversation"] == general {
			first = m
			break
		}
	}
	if first["id"] != "1704150000.000050" || first["reply_to"] != "1704153700.000300" {
		t.Errorf("first general message %v", first)
	}
	if m := r.find(t, general, "1704153900.000500"); m["reply_to"] != "1704153700.000300" || m["kind"] != "message" {
		t.Errorf("thread_broadcast %v", m)
	}
	if m := r.find(t, general, "1704153700.000300"); m["reply_to"] != nil {
		t.Errorf("a thread parent (thread_ts == ts) has reply_to %v", m["reply_to"])
	}
}

// §10.12: only the last edit exists (edited.ts); a bad edited.ts is warned
// about and left out, never fatal.
func TestChecklist12_Edits(t *testing.T) {
	r := run(t, filepath.Join(samples, sampleZip), importers.Options{})
	if m := r.find(t, "slack:C0JL6CGQ2", "1458972985.000010"); m["edited_at"] != "2016-03-26T08:32:14.000000Z" {
		t.Errorf("edited_at %v", m["edited_at"])
	}
	dir := writeTree(t, map[string]string{"general/2024-01-01.json": `[{"ts":"1.000001","text":"x","edited":{"user":"U1","ts":"soon"}}]`})
	r = run(t, dir, importers.Options{})
	if m := r.find(t, "slack:name:general", "1.000001"); m["edited_at"] != nil || !contains(r.warnings, `edited.ts "soon"`) {
		t.Errorf("%v / %q", m, r.warnings)
	}
}

// §10.13: unknown subtypes: with text or files a message, without a
// service "unknown:<subtype>"; an unknown type a service; each warned once.
func TestChecklist13_UnknownSubtypes(t *testing.T) {
	r := run(t, workspace, importers.Options{})
	if m := r.find(t, general, "1704155000.001600"); m["kind"] != "message" || m["service"] != nil {
		t.Errorf("unknown subtype with text: %v", m)
	}
	if m := r.find(t, general, "1704155100.001700"); m["kind"] != "service" || m["service"] != "unknown:future_event" {
		t.Errorf("unknown subtype without text: %v", m)
	}
	if m := r.find(t, general, "1704155200.001800"); m["kind"] != "service" || m["service"] != "unknown:presence_change" {
		t.Errorf("unknown type: %v", m)
	}
	for _, w := range []string{`"future_feature"`, `"future_event"`, `"presence_change"`} {
		if !contains(r.warnings, w) {
			t.Errorf("no warning about %s in %q", w, r.warnings)
		}
	}
	for id, svc := range map[string]string{"1704153600.000100": "channel_join", "1704153601.000200": "channel_topic",
		"1704154700.001300": "pinned_item", "1704154800.001400": "tombstone", "1704154900.001500": "huddle_thread"} {
		if m := r.find(t, general, id); m["kind"] != "service" || m["service"] != svc {
			t.Errorf("%s: %v", id, m)
		}
	}
	for _, id := range []string{"1704154200.000800", "1704154300.000900", "1704154100.000700"} { // me_message, bot_message, file_share
		if m := r.find(t, general, id); m["kind"] != "message" {
			t.Errorf("%s: %v", id, m)
		}
	}
}

// §10.14: every metadata file is optional; without them folders are keyed
// by name (warned) or by id when named like one.
func TestChecklist14_OptionalMetadata(t *testing.T) {
	src := workspace
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	for _, m := range metaFiles {
		os.Remove(filepath.Join(dir, m))
	}
	r := run(t, dir, importers.Options{})
	full := run(t, src, importers.Options{})
	if len(r.lines) != len(full.lines) {
		t.Errorf("%d messages without metadata, %d with", len(r.lines), len(full.lines))
	}
	if m := r.find(t, "slack:name:general", "1704153700.000300"); m["conversation_name"] != "#general" || m["sender_name"] != nil {
		t.Errorf("%v", m)
	}
	r.find(t, "slack:D0DM000001", "1704499200.000001")
	if m := r.find(t, "slack:name:mpdm-alice--bob--carol-1", "1704585600.000001"); m["conversation_name"] != "mpdm-alice--bob--carol-1" {
		t.Errorf("%v", m)
	}
	if !contains(r.warnings, `folder "general"`) {
		t.Errorf("no warning about the unnamed folder: %q", r.warnings)
	}
}

// Exclude skips a conversation without reading its files (its broken day
// file would otherwise fail the import).
func TestExclude(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"channels.json":           `[{"id":"C0GENERAL1","name":"general"},{"id":"C0RANDOM01","name":"random"}]`,
		"general/2024-01-01.json": `[{"ts":"1.0"`,
		"random/2024-01-01.json":  `[{"ts":"1.000001","text":"x"}]`,
	})
	r := run(t, dir, importers.Options{Exclude: map[string]bool{general: true}})
	if len(r.lines) != 1 || !strings.Contains(r.lines[0], "slack:C0RANDOM01") {
		t.Errorf("%q", r.lines)
	}
}

// Next stops with the context's error once it is canceled.
func TestContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src, err := Open(ctx, workspace, importers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := src.Next(); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}
