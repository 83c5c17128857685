package discord

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/importers"
)

// writeExport writes a minimal DCE export with the given message objects
// into dir and returns its path.
func writeExport(t testing.TB, dir, name string, messages ...string) string {
	t.Helper()
	doc := `{
  "guild": {"id": "100", "name": "G", "iconUrl": ""},
  "channel": {"id": "200", "type": "GuildTextChat", "categoryId": null, "category": null, "name": "c", "topic": null},
  "dateRange": {"after": null, "before": null},
  "exportedAt": "2024-01-02T00:00:00+00:00",
  "messages": [
` + strings.Join(messages, ",\n") + `
  ],
  "messageCount": ` + strconv.Itoa(len(messages)) + `
}`
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// dceMsg is a message object with the usual DCE keys; extra is spliced in
// before "author" (e.g. `"attachments": [...]` replaces nothing: DCE keys
// repeated later win in encoding/json, so tests put overrides in extra).
func dceMsg(id, ts, content, extra string) string {
	if extra != "" {
		extra += ", "
	}
	return fmt.Sprintf(`{"id": %q, "type": "Default", "timestamp": %q, "timestampEdited": null, "callEndedTimestamp": null,
  "isPinned": false, "content": %s, "author": {"id": "300", "name": "ann", "discriminator": "0000", "nickname": "Ann",
  "color": null, "isBot": false, "roles": [], "avatarUrl": ""}, "embeds": [], "stickers": [], "reactions": [], "mentions": [],
  %s"inlineEmojis": []}`, id, ts, strconv.Quote(content), extra)
}

// TestChecklist1_InvalidJSON (§10.1): DCE writes with validation off, and a
// crashed export leaves a truncated file. There is nothing to repair in
// place: a bad message or a truncated tail is an ErrMalformed error naming the
// file and offset, and with SkipInvalid the rest of the file is imported.
func TestChecklist1_InvalidJSON(t *testing.T) {
	bad := filepath.Join("testdata", "odd", "bad-records.json")
	r := run(t, bad, importers.Options{})
	if !errors.Is(r.err, importers.ErrMalformed) || len(r.msgs) != 1 ||
		!strings.Contains(r.err.Error(), "bad-records.json: byte offset 1616: invalid JSON in the message that starts at byte offset 1392") {
		t.Fatalf("strict: %d messages, %v", len(r.msgs), r.err)
	}
	r = mustRun(t, bad, importers.Options{SkipInvalid: true})
	var texts []string
	for _, m := range r.msgs {
		texts = append(texts, m["text"].(string))
	}
	if !slices.Equal(texts, []string{"good 0", "good 3", "good 4", "good 5"}) || len(r.skipped) != 4 {
		t.Fatalf("skip: %v, skipped %v", texts, r.skipped)
	}
	for _, e := range r.skipped {
		if !errors.Is(e, importers.ErrMalformed) || !strings.Contains(e.Error(), "byte offset") {
			t.Errorf("skipped error: %v", e)
		}
	}

	tr := filepath.Join("testdata", "odd", "truncated.json")
	r = run(t, tr, importers.Options{})
	if !errors.Is(r.err, importers.ErrMalformed) || !strings.Contains(r.err.Error(), "truncated export") || len(r.msgs) != 3 {
		t.Fatalf("truncated: %d messages, %v", len(r.msgs), r.err)
	}
	r = mustRun(t, tr, importers.Options{SkipInvalid: true})
	if len(r.msgs) != 3 || len(r.skipped) != 1 {
		t.Fatalf("truncated, skip: %d messages, %v", len(r.msgs), r.skipped)
	}

	// Escapes DCE may write that are valid JSON are not errors: lone
	// surrogates decode to U+FFFD in text, raw keeps the escape.
	dir := t.TempDir()
	p := writeExport(t, dir, "x.json", strings.Replace(dceMsg("1", "2024-01-01T00:00:00+00:00", "x", ""), `"content": "x"`, `"content": "a\ud800b"`, 1))
	r = mustRun(t, p, importers.Options{})
	if r.msgs[0]["text"] != "a\uFFFDb" || !strings.Contains(r.lines[0], `a\ud800b`) {
		t.Fatalf("lone surrogate: %v", r.lines[0])
	}
}

// TestChecklist3_Time (§10.3, §4.3): exporter-local offsets kept (and
// changing across DST inside one file), fraction digits of any length,
// "+00:00" and "Z", naive times in the assumed zone, the snowflake as a
// fallback and cross-check, and ids that do not depend on --tz.
func TestChecklist3_Time(t *testing.T) {
	r := mustRun(t, generalPath(), importers.Options{})
	var times []string
	for _, m := range r.msgs[:5] {
		times = append(times, m["time"].(string))
	}
	want := []string{
		"2024-03-30T21:15:04.264+01:00", // .264
		"2024-03-30T21:16:40.02+01:00",  // .02
		"2024-03-30T23:59:59+01:00",     // .0000000
		"2024-03-31T01:30:00+01:00",     // before the DST switch
		"2024-03-31T09:12:33.1+02:00",   // after it, same file
	}
	if !slices.Equal(times, want) {
		t.Fatalf("times %v", times)
	}
	if r.msgs[2]["edited_at"] != "2024-03-31T03:05:00.5+02:00" {
		t.Errorf("edited_at %v", r.msgs[2]["edited_at"])
	}
	// Every fixture time is the instant its snowflake encodes.
	for _, f := range fixtures(t) {
		rr := run(t, f, importers.Options{SkipInvalid: true, TZ: time.UTC})
		for _, m := range rr.msgs {
			id := m["id"].(string)
			st, ok := snowflakeTime(id)
			if !ok {
				continue
			}
			a, _ := time.Parse(time.RFC3339Nano, st)
			b, _ := time.Parse(time.RFC3339Nano, m["time"].(string))
			if d := b.Sub(a); d < 0 || d >= time.Millisecond {
				t.Errorf("%s: message %s at %s, snowflake says %s", f, id, m["time"], st)
			}
			if m["time_basis"] != "exact" && !strings.HasPrefix(m["time_basis"].(string), "assumed_tz:") {
				t.Errorf("time_basis %v", m["time_basis"])
			}
		}
	}

	mf := filepath.Join("testdata", "odd", "messages-first.json")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	a := mustRun(t, mf, importers.Options{TZ: berlin})
	b := mustRun(t, mf, importers.Options{TZ: tokyo})
	got := func(r *result, i int) string {
		return r.msgs[i]["time"].(string) + " " + r.msgs[i]["time_basis"].(string)
	}
	for i, w := range []string{
		"2024-10-10T10:00:00Z exact",
		"2024-10-10T10:01:00Z exact", // "+00:00"
		"2024-10-10T10:02:00.123456789-03:30 exact",
		"2024-10-10T10:03:00+02:00 assumed_tz:Europe/Berlin",
		"2024-10-10T10:04:00Z exact", // "yesterday at noon": from the snowflake
	} {
		if got(a, i) != w {
			t.Errorf("message %d: %s, want %s", i, got(a, i), w)
		}
	}
	if got(b, 3) != "2024-10-10T10:03:00+09:00 assumed_tz:Asia/Tokyo" {
		t.Errorf("tokyo: %s", got(b, 3))
	}
	for i := range a.msgs {
		if a.msgs[i]["id"] != b.msgs[i]["id"] {
			t.Fatal("ids changed with the zone")
		}
		if i != 3 && a.lines[i] != b.lines[i] {
			t.Errorf("a time with an offset changed with the zone: %s", a.lines[i])
		}
	}
	if !strings.Contains(strings.Join(a.warns, "\n"), `bad timestamp "yesterday at noon"`) {
		t.Errorf("no warning for the unreadable timestamp: %v", a.warns)
	}

	// No timestamp and no snowflake: an invalid message.
	dir := t.TempDir()
	p := writeExport(t, dir, "x.json", dceMsg("abc", "soon", "x", ""))
	if r := run(t, p, importers.Options{}); !errors.Is(r.err, importers.ErrMalformed) {
		t.Fatalf("no usable time: %v", r.err)
	}
}

// TestChecklist5_InvisibleUnicode (§10.5): bidi marks, isolates, NBSP,
// NNBSP, ZWSP and a BOM inside the text are kept verbatim; a BOM at the start
// of the file is skipped.
func TestChecklist5_InvisibleUnicode(t *testing.T) {
	r := mustRun(t, generalPath(), importers.Options{})
	m := r.msgs[11]
	text := m["text"].(string)
	for _, c := range []string{"\u202a", "\u202c", "\u2066", "\u2069", "\u00a0", "\u202f", "\u200b", "\ufeff"} {
		if !strings.Contains(text, c) {
			t.Errorf("text lost %U", []rune(c)[0])
		}
	}
	if name := m["sender_name"].(string); !strings.HasPrefix(name, "\u200e") || !strings.HasSuffix(name, "\u200f") {
		t.Errorf("sender_name not verbatim: %q", name)
	}
	data, _ := os.ReadFile(filepath.Join("testdata", "odd", "messages-first.json"))
	if !strings.HasPrefix(string(data), "\ufeff") {
		t.Fatal("fixture lost its BOM")
	}
	if r := mustRun(t, filepath.Join("testdata", "odd", "messages-first.json"), importers.Options{TZ: time.UTC}); len(r.msgs) != 5 {
		t.Fatalf("BOM file: %d messages", len(r.msgs))
	}
}

// TestChecklist6_UnicodeVerbatim (§10.6): NFD stays NFD, ZWJ sequences and
// skin tones survive, escaped surrogate pairs decode in text and stay as
// written in raw.
func TestChecklist6_UnicodeVerbatim(t *testing.T) {
	r := mustRun(t, generalPath(), importers.Options{})
	m := r.msgs[11]
	if !strings.Contains(m["text"].(string), "café vs cafe\u0301 👍🏽") {
		t.Errorf("NFC/NFD or skin tone changed: %q", m["text"])
	}
	if !strings.Contains(m["sender_name"].(string), "👩\u200d👩\u200d👧 Jose\u0301") {
		t.Errorf("ZWJ family or NFD name changed: %q", m["sender_name"])
	}
	dir := t.TempDir()
	p := writeExport(t, dir, "x.json", strings.Replace(dceMsg("1", "2024-01-01T00:00:00+00:00", "x", ""), `"content": "x"`, `"content": "\ud83d\udc4d \u00e9"`, 1))
	r = mustRun(t, p, importers.Options{})
	if r.msgs[0]["text"] != "👍 é" || !strings.Contains(r.lines[0], `"content":"\ud83d\udc4d \u00e9"`) {
		t.Fatalf("escapes: %s", r.lines[0])
	}
}

// TestChecklist7_Senders (§10.7, §4.4.2): deleted users, "0000"
// discriminators of new-style names, bots, webhooks, null authors.
func TestChecklist7_Senders(t *testing.T) {
	r := mustRun(t, generalPath(), importers.Options{})
	del := r.byText(t, "@Alice ✨ look at this")
	if del["sender"] != "456226577798135808" || del["sender_name"] != "Deleted User" {
		t.Errorf("deleted user: %v %v", del["sender"], del["sender_name"])
	}
	alice := r.msgs[0]
	if alice["sender_name"] != "Alice ✨" { // nickname over the "alice#0000" name
		t.Errorf("new-style user: %v", alice["sender_name"])
	}
	if bot := r.msgs[6]; bot["sender"] != "663320788992028672" || bot["sender_name"] != "Chatvault Bot" {
		t.Errorf("bot: %v", bot)
	}
	l := mustRun(t, filepath.Join("testdata", "odd", "lenient.json"), importers.Options{})
	if _, ok := l.msgs[2]["sender"]; ok {
		t.Errorf("null author gave a sender: %v", l.msgs[2])
	}
	if wh := l.msgs[4]; wh["sender"] != "42" || wh["sender_name"] != "webhook" { // nickname null → name
		t.Errorf("webhook: %v", wh)
	}
}

// TestChecklist8_MultilineContent (§10.8): newlines, quotes and lines that
// look like headers stay inside one message.
func TestChecklist8_MultilineContent(t *testing.T) {
	r := mustRun(t, generalPath(), importers.Options{})
	r.byText(t, "hi alice\nsecond line\n> quoted line\n\nthird paragraph\n")
	dir := t.TempDir()
	body := "line one\r\n[2024-01-01 10:00] Bob: not a header\n{\"messages\": [\n  \"not\" ]}\n"
	p := writeExport(t, dir, "x.json", dceMsg("1", "2024-01-01T00:00:00+00:00", body, ""), dceMsg("2", "2024-01-01T00:00:01+00:00", "after", ""))
	r = mustRun(t, p, importers.Options{})
	if len(r.msgs) != 2 || r.msgs[0]["text"] != body {
		t.Fatalf("multi-line: %v", r.msgs)
	}
}

// TestChecklist9_Media (§10.9, §4.4.3): downloaded media with Windows
// separators are hashed and offered as blobs; web urls, dangling paths,
// traversal, absolute paths and drive letters are "missing" with a reason;
// duplicate file names are told apart by content; files no message refers to
// are ignored; tokens in urls are stripped (TestCredentialsStripped).
func TestChecklist9_Media(t *testing.T) {
	r := mustRun(t, generalPath(), importers.Options{})
	photos := r.byText(t, "Photos from the trip, and the list")
	atts := photos["attachments"].([]any)
	cat := atts[0].(map[string]any)
	if cat["name"] != "cat.png" || cat["mime"] != "image/png" || cat["sha256"] == nil || cat["blob"] != cat["sha256"] || cat["size"] != 73.0 {
		t.Errorf("downloaded attachment: %v", cat)
	}
	if remote := atts[2].(map[string]any); remote["missing"] != "not downloaded" || remote["size"] != 7340032.0 || remote["sha256"] != nil {
		t.Errorf("remote attachment: %v", remote)
	}
	if bs := r.blobs[photos["id"].(string)]; len(bs) != 2 {
		t.Errorf("%d blobs for the photos message", len(bs))
	}
	astray := r.byText(t, "files that went astray")
	var reasons []string
	for _, a := range astray["attachments"].([]any) {
		a := a.(map[string]any)
		reason, _ := a["missing"].(string)
		if reason == "" {
			reason = a["sha256"].(string)[:8]
		}
		reasons = append(reasons, reason)
	}
	want := []string{"not found in export", "outside the export", "outside the export", "outside the export", "b1ff9c8e", "fce48193", "b1ff9c8e"}
	if !slices.Equal(reasons, want) {
		t.Errorf("reasons %v\nwant %v", reasons, want)
	}
	if bs := r.blobs[astray["id"].(string)]; len(bs) != 2 {
		t.Errorf("duplicate image.png files: %d blobs, want 2 (one per content)", len(bs))
	}

	// Paths that must never be read, and odd names.
	dir := t.TempDir()
	exp := filepath.Join(dir, "export")
	media := filepath.Join(exp, "x.json_Files")
	os.MkdirAll(media, 0o755)
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("outside"), 0o644)
	os.WriteFile(filepath.Join(media, "a b%.txt"), []byte("percent"), 0o644)
	os.WriteFile(filepath.Join(media, `back\slash.txt`), []byte("literal backslash"), 0o644)
	os.Mkdir(filepath.Join(media, "adir"), 0o755)
	symlinks := os.Symlink(filepath.Join(dir, "secret.txt"), filepath.Join(media, "escape.txt")) == nil &&
		os.Symlink("a b%.txt", filepath.Join(media, "inside.txt")) == nil &&
		os.Symlink(dir, filepath.Join(media, "updir")) == nil
	att := func(url string) string {
		return fmt.Sprintf(`"attachments": [{"id": "9", "url": %q, "fileName": "f.txt", "fileSizeBytes": 5}]`, url)
	}
	cases := []struct{ url, want string }{
		{`x.json_Files\a b%25.txt`, "percent"}, // URL-encoded by an old version
		{`x.json_Files/a b%.txt`, "percent"},
		{`x.json_Files/back\slash.txt`, "literal backslash"}, // DCE on Linux
		{`.\x.json_Files\.\a b%.txt`, "percent"},
		{`x.json_Files\adir`, "not a regular file"},
		{`..\secret.txt`, "outside the export"},
		{`x.json_Files\..\..\secret.txt`, "outside the export"},
		{`\\server\share\secret.txt`, "outside the export"},
		{`D:secret.txt`, "outside the export"},
		{`file:///etc/passwd`, "outside the export"},
		{`x.json_Files\missing.txt`, "not found in export"},
		{`x.json_Files\a b%.txt\sub`, "not found in export"},
		{``, "no url in export"},
	}
	if symlinks {
		cases = append(cases,
			struct{ url, want string }{`x.json_Files\escape.txt`, "symlink refused"},
			struct{ url, want string }{`x.json_Files\inside.txt`, "symlink refused"},
			struct{ url, want string }{`x.json_Files\updir\secret.txt`, "outside the export"})
	}
	var msgs []string
	for i, c := range cases {
		msgs = append(msgs, dceMsg(strconv.Itoa(i+1), "2024-01-01T00:00:00+00:00", "m", att(c.url)))
	}
	p := writeExport(t, exp, "x.json", msgs...)
	r = mustRun(t, p, importers.Options{})
	for i, c := range cases {
		a := r.msgs[i]["attachments"].([]any)[0].(map[string]any)
		got, _ := a["missing"].(string)
		if got == "" {
			bs := r.data[strconv.Itoa(i+1)]
			if len(bs) != 1 {
				t.Errorf("%s: no blob", c.url)
				continue
			}
			got = bs[0]
		}
		if got != c.want {
			t.Errorf("%q: got %q, want %q", c.url, got, c.want)
		}
	}
}

// TestChecklist10_Duplicates (§10.10, §4.4.1): a duplicate id inside one
// file, the same message in two partitions and in an overlapping later
// export all carry the same id; unchanged copies are byte-identical lines.
func TestChecklist10_Duplicates(t *testing.T) {
	r := mustRun(t, generalPath(), importers.Options{})
	if r.msgs[7]["id"] != r.msgs[10]["id"] || r.lines[7] != r.lines[10] {
		t.Fatal("the duplicate inside the file differs")
	}
	d := mustRun(t, filepath.Join("testdata", "guild"), importers.Options{})
	lines := map[string][]string{}
	for i, m := range d.msgs {
		k := m["conversation"].(string) + " " + m["id"].(string)
		lines[k] = append(lines[k], d.lines[i])
	}
	dups := 0
	for k, ls := range lines {
		if len(ls) > 1 {
			dups++
			for _, l := range ls[1:] {
				if l != ls[0] {
					t.Errorf("%s: copies differ", k)
				}
			}
		}
	}
	if dups != 2 { // general's own duplicate, announcement 3 in both parts
		t.Errorf("%d duplicated ids, want 2", dups)
	}
	ov, _ := filepath.Glob(filepath.Join("testdata", "overlap", "*.json"))
	o := mustRun(t, ov[0], importers.Options{})
	ids := map[string]bool{}
	for _, m := range d.msgs {
		ids[m["conversation"].(string)+" "+m["id"].(string)] = true
	}
	shared := 0
	for _, m := range o.msgs {
		if ids[m["conversation"].(string)+" "+m["id"].(string)] {
			shared++
		}
	}
	if shared != 2 {
		t.Errorf("overlapping export shares %d ids with the first, want 2", shared)
	}
}

// TestChecklist11_Ordering (§10.11): a newest-first export (replies before
// their parents) and a hand-edited file whose channel follows the messages.
func TestChecklist11_Ordering(t *testing.T) {
	m, _ := filepath.Glob(filepath.Join("testdata", "guild", "*Release planning*.json"))
	r := mustRun(t, m[0], importers.Options{})
	if r.msgs[0]["reply_to"] != r.msgs[1]["id"] {
		t.Errorf("reply before its parent: %v", r.msgs[0])
	}
	if _, ok := r.msgs[1]["reply_to"]; ok {
		t.Errorf("a reply to another channel's message got reply_to: %v", r.msgs[1])
	}
	if r.msgs[0]["time"].(string) < r.msgs[2]["time"].(string) {
		t.Error("file order not kept")
	}
	mf := mustRun(t, filepath.Join("testdata", "odd", "messages-first.json"), importers.Options{TZ: time.UTC})
	if mf.msgs[0]["conversation"] != "discord:584352446545948672" || mf.msgs[0]["conversation_name"] != "Chatvault Test Server / #edited-by-hand" {
		t.Errorf("channel after messages: %v", mf.msgs[0])
	}
	// No channel anywhere: an error, not messages filed under nothing.
	dir := t.TempDir()
	p := filepath.Join(dir, "x.json")
	os.WriteFile(p, []byte(`{"messages": [`+dceMsg("1", "2024-01-01T00:00:00Z", "x", "")+`], "guild": {"id": "1"}}`), 0o644)
	if r := run(t, p, importers.Options{}); !errors.Is(r.err, importers.ErrMalformed) || !strings.Contains(r.err.Error(), `no "channel"`) {
		t.Fatalf("no channel: %v", r.err)
	}
}

// TestChecklist12_Edits (§10.12): DCE keeps only the last edit, as
// timestampEdited → edited_at; a later export with the edit gives a new
// revision of the same id.
func TestChecklist12_Edits(t *testing.T) {
	r := mustRun(t, generalPath(), importers.Options{})
	if e := r.byText(t, "Photos from the trip, and the list")["edited_at"]; e != "2024-03-31T03:05:00.5+02:00" {
		t.Errorf("edited_at %v", e)
	}
	if _, ok := r.msgs[0]["edited_at"]; ok {
		t.Error("unedited message has edited_at")
	}
	part2, _ := filepath.Glob(filepath.Join("testdata", "guild", "*announcements*part 2*.json"))
	ov, _ := filepath.Glob(filepath.Join("testdata", "overlap", "*.json"))
	a := mustRun(t, part2[0], importers.Options{})
	b := mustRun(t, ov[0], importers.Options{})
	old, upd := a.byText(t, "Announcement number 4"), b.byText(t, "Announcement number 4 (corrected)")
	if old["id"] != upd["id"] || upd["edited_at"] != "2024-03-01T09:00:00-05:00" {
		t.Errorf("edit in a later export: %v / %v", old, upd)
	}
}

// TestChecklist13_UnknownTypes (§10.13): kinds DCE does not name are written
// as numbers; they and unknown names become service "unknown:<type>", warned
// once per type; unknown channel types still import.
func TestChecklist13_UnknownTypes(t *testing.T) {
	m, _ := filepath.Glob(filepath.Join("testdata", "odd", "*bot-spam*.json"))
	r := mustRun(t, m[0], importers.Options{})
	var got []string
	for _, x := range r.msgs {
		s, _ := x["service"].(string)
		got = append(got, x["kind"].(string)+"/"+s)
	}
	want := []string{"message/", "service/unknown:20", "service/unknown:20", "service/unknown:GuildBoost", "service/unknown:46", "message/"}
	if !slices.Equal(got, want) {
		t.Errorf("kinds %v", got)
	}
	if len(r.warns) != 3 {
		t.Errorf("want one warning per unknown type, got %q", r.warns)
	}
	dir := t.TempDir()
	p := writeExport(t, dir, "x.json", dceMsg("1", "2024-01-01T00:00:00Z", "x", ""))
	data, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(data), `"GuildTextChat"`, `"GuildMediaChannel"`, 1)), 0o644)
	if r := mustRun(t, p, importers.Options{}); len(r.msgs) != 1 || r.msgs[0]["conversation_name"] != "G / #c" {
		t.Errorf("unknown channel type: %v", r.msgs)
	}
}

// TestChecklist14_Containers (§10.14): one file per channel; a folder of
// them imports as one source; partitions are read in numeric order; other
// JSON in the folder and the media folders are left alone.
func TestChecklist14_Containers(t *testing.T) {
	r := mustRun(t, filepath.Join("testdata", "guild"), importers.Options{})
	convs := map[string]int{}
	for _, m := range r.msgs {
		convs[m["conversation"].(string)]++
	}
	if len(convs) != 3 || convs["discord:584351943229468672"] != 6 {
		t.Errorf("conversations %v", convs)
	}
	if len(r.warns) != 1 || !strings.Contains(r.warns[0], "channels-index.json: not a DiscordChatExporter JSON export") {
		t.Errorf("warnings %v", r.warns)
	}
	dir := t.TempDir()
	for _, part := range []int{10, 2, 1} {
		writeExport(t, dir, fmt.Sprintf("G - c [200] [part %d].json", part),
			dceMsg(strconv.Itoa(part), "2024-01-01T00:00:00Z", "part "+strconv.Itoa(part), ""))
	}
	os.Mkdir(filepath.Join(dir, "G - c [200] [part 1].json_Files"), 0o755)
	writeExport(t, filepath.Join(dir, "G - c [200] [part 1].json_Files"), "upload-12345.json", dceMsg("99", "2024-01-01T00:00:00Z", "inside media", ""))
	r = mustRun(t, dir, importers.Options{})
	var texts []string
	for _, m := range r.msgs {
		texts = append(texts, m["text"].(string))
	}
	if !slices.Equal(texts, []string{"part 1", "part 2", "part 10"}) {
		t.Errorf("order %v", texts)
	}
	if naturalCompare("a [part 2].json", "a [part 10].json") >= 0 || naturalCompare("a2", "a02") != -naturalCompare("a02", "a2") || naturalCompare("a2", "a02") == 0 {
		t.Error("naturalCompare")
	}
}
