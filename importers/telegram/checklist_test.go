package telegram

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/importers"
)

// One test per item of chat-formats.md §10 that applies to Telegram.

func TestChecklist1_InvalidJSONRepaired(t *testing.T) {
	dir := t.TempDir()
	// Both exporter bugs and a raw control character, in tdesktop's layout.
	p := writeResult(t, dir, "{\n \"name\": \"R\",\n \"type\": \"personal_chat\",\n \"id\": 1,\n \"messages\": [\n  {\n   \"id\": 1,\n   \"type\": \"message\",\n   \"date_unixtime\": \"1\",\n   \"text\": [\n    {\n     \"type\": \"custom_emoji\",\n     \"text\": \"a\\x1Fb\tc\",\n     \"document_id\": stickers/x (1).webp\n    }\n   ]\n  }\n ]\n}\n")
	r := mustRun(t, p, importers.Options{})
	ms := decode(t, r)
	if ms[0].text() != "a\x1fb\tc" {
		t.Errorf("text %q", ms[0].text())
	}
	if !strings.Contains(string(ms[0].Raw), `"document_id":"stickers/x (1).webp"`) {
		t.Errorf("raw %s", ms[0].Raw)
	}
	if len(r.warnings) != 1 {
		t.Fatalf("warnings %q", r.warnings)
	}
	for _, s := range []string{p, `1 \x escape(s)`, "1 unquoted value(s)", "1 raw control character(s)"} {
		if !strings.Contains(r.warnings[0], s) {
			t.Errorf("warning %q lacks %q", r.warnings[0], s)
		}
	}
}

// The importer returns the first message long before it has read the file.
func TestChecklist2_HugeFileStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), ResultFile)
	genExport(t, path, 8<<20)
	src, err := Open(context.Background(), path, importers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Next(); err != nil {
		t.Fatal(err)
	}
	if off := src.(*source).sc.off; off > 1<<20 {
		t.Errorf("read %d bytes before the first message", off)
	}
}

func TestChecklist3_TimeBases(t *testing.T) {
	_, ms := importFixture(t, "dates_mixed.json", importers.Options{})
	// Exact UTC from date_unixtime, string or number, with the exporter's offset.
	if m := byID(t, ms, "6"); m.Time != "2024-01-15T09:05:00+01:00" || m.TimeBasis != "exact" {
		t.Errorf("numeric date_unixtime: %s %s", m.Time, m.TimeBasis)
	}
	// Naive local time in the zone given, DST-aware.
	ny, _ := time.LoadLocation("America/New_York")
	_, ms = importFixture(t, "dates_mixed.json", importers.Options{TZ: ny})
	if m := byID(t, ms, "9"); m.Time != "2020-01-15T10:00:00-05:00" || m.TimeBasis != "assumed_tz:America/New_York" || m.EditedAt != "2020-01-15T11:00:00-05:00" {
		t.Errorf("naive date: %s %s %s", m.Time, m.TimeBasis, m.EditedAt)
	}
	if m := byID(t, ms, "1"); m.Time != "2024-07-01T14:00:00+02:00" {
		t.Errorf("exact time moved with --tz: %s", m.Time)
	}
}

// Telegram dates are ISO: the day/month options change nothing.
func TestChecklist4_DateOrderOptionsIgnored(t *testing.T) {
	a := mustRun(t, fixture("dates_mixed.json"), importers.Options{TZ: time.UTC})
	b := mustRun(t, fixture("dates_mixed.json"), importers.Options{TZ: time.UTC, DayFirst: true})
	c := mustRun(t, fixture("dates_mixed.json"), importers.Options{TZ: time.UTC, MonthFirst: true})
	if !bytes.Equal(a.jsonl(), b.jsonl()) || !bytes.Equal(a.jsonl(), c.jsonl()) {
		t.Error("--day-first/--month-first changed a Telegram import")
	}
}

func TestChecklist5_InvisibleUnicode(t *testing.T) {
	_, ms := importFixture(t, "senders.json", importers.Options{})
	m := byID(t, ms, "109")
	if m.SenderName != "\u200eRTL \u202bمرحبا\u202c Name\u00a0" {
		t.Errorf("sender name %q", m.SenderName)
	}
	if m.text() != "\ufeffinvisible: \u200e\u200f\u202a\u202e\u2066\u2069 nbsp:\u00a0 nnbsp:\u202f end" {
		t.Errorf("text %q", m.text())
	}
	// A byte order mark before the JSON itself is skipped.
	_, ms = importFixture(t, "bom_crlf.json", importers.Options{})
	if len(ms) != 1 {
		t.Error("BOM file not imported")
	}
}

func TestChecklist6_UnicodeVerbatim(t *testing.T) {
	_, ms := importFixture(t, "senders.json", importers.Options{})
	m := byID(t, ms, "110")
	if !strings.HasPrefix(m.text(), "Zoe\u0308 (NFD)") || m.SenderName != "Zo\u00eb (NFC)" || !strings.Contains(m.text(), "Ã©") {
		t.Errorf("normalised or re-encoded: %q %q", m.SenderName, m.text())
	}
	if byID(t, ms, "103").SenderName != "Ann 👩🏽‍💻" {
		t.Error("ZWJ emoji sequence in a name changed")
	}
}

func TestChecklist7_Senders(t *testing.T) {
	_, ms := importFixture(t, "senders.json", importers.Options{})
	if m := byID(t, ms, "100"); m.Sender != "user404" || m.SenderName != "" {
		t.Errorf("deleted account: %q %q", m.Sender, m.SenderName)
	}
	if m := byID(t, ms, "104"); !strings.Contains(string(m.Raw), `"via_bot":"@gif"`) || m.Sender != "user1" {
		t.Errorf("bot-assisted message: %+v", m)
	}
	// Name-only senders (hand-made files) keep their name and no key.
	_, ms = importFixture(t, "duplicates.json", importers.Options{})
	if m := ms[3]; m.Sender != "" || m.SenderName != "Ben" {
		t.Errorf("name-only sender: %q %q", m.Sender, m.SenderName)
	}
}

func TestChecklist8_MultilineBodies(t *testing.T) {
	_, ms := importFixture(t, "text_forms.json", importers.Options{})
	m := byID(t, ms, "4")
	if !strings.Contains(m.text(), "line one\nline two") || !strings.HasSuffix(m.text(), "\n\n12.01.24, 10:00 - Fake: a line that looks like a header") {
		t.Errorf("text %q", m.text())
	}
	if len(ms) != 8 {
		t.Errorf("%d messages: a body line was taken for a message", len(ms))
	}
}

func TestChecklist9_Media(t *testing.T) {
	_, ms := importFixture(t, "media", importers.Options{})
	if a := byID(t, ms, "10").Attachments[0]; a.Missing != "" || a.SHA256 == "" {
		t.Errorf("Windows path: %+v", a)
	}
	if a := byID(t, ms, "11").Attachments[0]; a.Missing != "outside_export" {
		t.Errorf("'..' path: %+v", a)
	}
	if a := byID(t, ms, "6").Attachments[0]; a.Missing != "not_exported" {
		t.Errorf("skip note: %+v", a)
	}
	if a := byID(t, ms, "9").Attachments[0]; a.Missing != "not_found_in_input" {
		t.Errorf("dangling path: %+v", a)
	}
	if a, b := byID(t, ms, "2").Attachments[0], byID(t, ms, "15").Attachments[0]; a.Name != b.Name || a.SHA256 == b.SHA256 {
		t.Errorf("duplicate file names: %+v %+v", a, b)
	}
	for _, m := range ms {
		for _, a := range m.Attachments {
			if strings.Contains(a.Name, "orphan") {
				t.Error("a file no message names was attached")
			}
		}
	}
}

func TestChecklist10_Duplicates(t *testing.T) {
	// Duplicated ids inside one file: both lines are the same bytes, so the
	// archive keeps one.
	r, ms := importFixture(t, "duplicates.json", importers.Options{})
	if ms[0].ID != ms[1].ID || r.lines[0] != r.lines[1] {
		t.Error("an exact duplicate did not give the same line")
	}
	// Overlapping exports: see TestOverlappingExportsSameIDs.
	TestOverlappingExportsSameIDs(t)
}

func TestChecklist11_Ordering(t *testing.T) {
	_, ms := importFixture(t, "senders.json", importers.Options{})
	if ms[5].ID != "105" || ms[5].ReplyTo != "106" || ms[6].ID != "106" {
		t.Error("a reply to a later message was reordered or lost")
	}
	if m := byID(t, ms, "106"); m.ReplyTo != "" {
		t.Errorf("a reply into another chat points into this one: %q", m.ReplyTo)
	}
	// File order is kept even where time goes backwards (migrated history).
	_, ms = importFixture(t, "duplicates.json", importers.Options{})
	if ms[2].ID != "-999999998" {
		t.Error("file order not kept")
	}
}

func TestChecklist12_Edits(t *testing.T) {
	_, ms := importFixture(t, "dates_mixed.json", importers.Options{})
	if m := byID(t, ms, "8"); m.EditedAt != "2024-01-15T10:30:00+01:00" {
		t.Errorf("edited_at %q", m.EditedAt)
	}
	if m := byID(t, ms, "1"); m.EditedAt != "" {
		t.Errorf("unedited message has edited_at %q", m.EditedAt)
	}
	// Reaction-induced "edited" is indistinguishable and kept as written.
	_, ms = importFixture(t, "reactions.json", importers.Options{})
	if ms[0].EditedAt == "" {
		t.Error("edited dropped")
	}
}

func TestChecklist13_UnknownEnums(t *testing.T) {
	r, ms := importFixture(t, "service_unknown.json", importers.Options{})
	want := map[string]string{"1": "unknown:send_hologram", "2": "unknown:send_hologram", "5": "unknown:story_reply", "6": "unknown:none", "8": "topic_created"}
	for id, svc := range want {
		if m := byID(t, ms, id); m.Service != svc || m.Kind != "service" {
			t.Errorf("message %s: %s %q", id, m.Kind, m.Service)
		}
	}
	if m := byID(t, ms, "7"); m.Kind != "message" || m.text() == "" {
		t.Errorf("unknown media_type: %+v", m)
	}
	if len(ms) != 6 {
		t.Errorf("%d messages (the two dateless unsupported ones are left out)", len(ms))
	}
	for _, w := range []string{`unknown service action "send_hologram"`, `unknown message type "story_reply"`, `2 message(s) of type "unsupported"`} {
		if !r.warned(w) {
			t.Errorf("no warning %q in %q", w, r.warnings)
		}
	}
	// One warning per unknown value, not per message.
	n := 0
	for _, w := range r.warnings {
		if strings.Contains(w, "send_hologram") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d warnings for one unknown action", n)
	}
}

func TestChecklist14_Containers(t *testing.T) {
	// Full export: chats.list and left_chats.list, other sections skipped.
	_, ms := importFixture(t, "full_export", importers.Options{})
	convs := map[string]string{}
	for _, m := range ms {
		convs[m.Conversation] = m.ConversationName
	}
	want := map[string]string{"telegram:1": "Ann", "telegram:111222333": "Saved Messages", "telegram:3": "Project Group", "telegram:4": "Old Channel"}
	if len(convs) != len(want) {
		t.Errorf("conversations %v", convs)
	}
	for k, v := range want {
		if convs[k] != v {
			t.Errorf("conversation %s named %q, want %q", k, convs[k], v)
		}
	}
	// The minimal shapes of the public samples: chats.list without ids,
	// and a root with only messages.
	r := mustRun(t, filepath.Join(samplesDir, "chat-miner_test_batch_export.json"), importers.Options{})
	if ms := decode(t, r); len(ms) != 2 || ms[0].Conversation != "telegram:name:Chatname" {
		t.Errorf("batch sample: %+v", ms)
	}
	r = mustRun(t, filepath.Join(samplesDir, "chat-miner_test_single_export.json"), importers.Options{})
	if ms := decode(t, r); len(ms) != 2 || ms[0].Conversation != "telegram:unknown" || !r.warned("neither") {
		t.Errorf("single sample: %+v %q", ms, r.warnings)
	}
	// A full export with the chats section unticked, and a root that is
	// both a chat and a container.
	dir := t.TempDir()
	p := writeResult(t, dir, `{"about":"x","personal_information":{"user_id":1},"contacts":{"about":"x","list":[]}}`)
	r = mustRun(t, p, importers.Options{})
	if len(r.lines) != 0 || !r.warned("holds no chats") {
		t.Errorf("%d lines, warnings %q", len(r.lines), r.warnings)
	}
	p = writeResult(t, dir, `{"name":"Root","type":"personal_chat","id":5,"messages":[{"id":1,"type":"message","date_unixtime":"1","text":"r"}],
		"left_chats":{"about":"x","list":[{"name":"L","type":"public_channel","id":6,"messages":[{"id":1,"type":"message","date_unixtime":"2","text":"l"}]}]}}`)
	ms = decode(t, mustRun(t, p, importers.Options{}))
	if len(ms) != 2 || ms[0].Conversation != "telegram:5" || ms[1].Conversation != "telegram:6" {
		t.Errorf("%+v", ms)
	}
}
