package whatsapp

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/importers"
)

// The traps of chat-formats.md §2 that no public sample covers, each checked
// on the synthetic fixtures in testdata/synthetic (whose full output is also
// pinned by TestGoldenSynthetic).

func synthetic(t *testing.T, file string, o importers.Options) []msg {
	t.Helper()
	if o.TZ == nil {
		o.TZ = time.UTC
	}
	r := run(t, filepath.Join("testdata", "synthetic", file), o)
	if r.err != nil {
		t.Fatal(r.err)
	}
	return decode(t, r.lines)
}

func find(t *testing.T, ms []msg, textPrefix string) msg {
	t.Helper()
	for _, m := range ms {
		if strings.HasPrefix(m.text(), textPrefix) {
			return m
		}
	}
	t.Fatalf("no message starting %q", textPrefix)
	return msg{}
}

// U+202F NARROW NO-BREAK SPACE before AM/PM (Android/iOS 2023+), with a BOM.
func TestTrapNarrowNoBreakSpace(t *testing.T) {
	ms := synthetic(t, "WhatsApp Chat with Alice.txt", importers.Options{})
	if len(ms) != 18 || ms[0].Time != "2021-12-31T23:58:00Z" || ms[5].Time != "2022-01-01T00:00:00Z" {
		t.Fatalf("%d messages, times %s %s", len(ms), ms[0].Time, ms[5].Time)
	}
	if ms[0].Conversation != "whatsapp:Alice" || ms[0].ConversationName != "Alice" {
		t.Errorf("conversation %q", ms[0].Conversation)
	}
}

// "<Media omitted>" (text-only Android export) and its Spanish form.
func TestTrapMediaOmitted(t *testing.T) {
	m := find(t, synthetic(t, "WhatsApp Chat with Alice.txt", importers.Options{}), "<Media omitted>")
	if m.Kind != "message" || len(m.Attachments) != 1 || m.Attachments[0].Missing != "not exported" {
		t.Errorf("%+v", m)
	}
	m = find(t, synthetic(t, "spanish_ampm_dayfirst.txt", importers.Options{DayFirst: true}), "<Multimedia omitido>")
	if len(m.Attachments) != 1 || m.Attachments[0].Missing != "not exported" {
		t.Errorf("%+v", m)
	}
}

// "IMG-… (file attached)" with a caption, a localized "(Datei angehängt)",
// and a document name with a space.
func TestTrapFileAttached(t *testing.T) {
	ms := synthetic(t, "WhatsApp Chat with Alice.txt", importers.Options{})
	for _, c := range []struct{ prefix, name, mime string }{
		{"IMG-20220101-WA0001.jpg (file attached)\nFireworks", "IMG-20220101-WA0001.jpg", "image/jpeg"},
		{"DOC-20220101-WA0003.pdf (Datei angehängt)", "DOC-20220101-WA0003.pdf", "application/pdf"},
		{"notes final.pdf (file attached)", "notes final.pdf", "application/pdf"},
	} {
		m := find(t, ms, c.prefix)
		if len(m.Attachments) != 1 || m.Attachments[0].Name != c.name || m.Attachments[0].Mime != c.mime || m.Attachments[0].Missing != "not found in export" {
			t.Errorf("%q: %+v", c.prefix, m.Attachments)
		}
	}
}

// iOS "‎<attached: …>", "‎image omitted", "‎NAME • N pages ‎document omitted",
// and the old iOS "NAME <‎attached>".
func TestTrapIOSMediaMarkers(t *testing.T) {
	ms := synthetic(t, "ios_bracket_crlf.txt", importers.Options{})
	for _, c := range []struct{ prefix, name, missing string }{
		{lrm + "<attached: 00000012", "00000012-PHOTO-2021-12-31-23-59-59.jpg", "not found in export"},
		{lrm + "image omitted", "", "not exported"},
		{lrm + "Report.pdf", "Report.pdf", "not exported"},
		{"2015-08-04-PHOTO-00004762.jpg", "2015-08-04-PHOTO-00004762.jpg", "not found in export"},
	} {
		m := find(t, ms, c.prefix)
		if m.Kind != "message" || len(m.Attachments) != 1 || m.Attachments[0].Name != c.name || m.Attachments[0].Missing != c.missing {
			t.Errorf("%q: %s %+v", c.prefix, m.Kind, m.Attachments)
		}
	}
}

// iOS system lines are attributed to the chat and start with U+200E: kind
// service, sender as written.
func TestTrapIOSSystemLines(t *testing.T) {
	ms := synthetic(t, "ios_bracket_crlf.txt", importers.Options{})
	if ms[0].Kind != "service" || ms[0].Service != "encryption_notice" || ms[0].Sender != "Pokémon Chat" {
		t.Errorf("%+v", ms[0])
	}
	if ms[1].Service != "invite_members" {
		t.Errorf("%+v", ms[1])
	}
	if m := find(t, ms, lrm+"Missed voice call"); m.Kind != "service" || m.Service != "phone_call" || m.Sender != "Loris" {
		t.Errorf("%+v", m)
	}
}

// "This message was deleted" (with or without LRM) is a message.
func TestTrapDeletedMessage(t *testing.T) {
	m := find(t, synthetic(t, "ios_bracket_crlf.txt", importers.Options{}), lrm+"This message was deleted")
	if m.Kind != "message" || m.Sender != "Emily" {
		t.Errorf("%+v", m)
	}
	m = find(t, synthetic(t, "WhatsApp Chat with Alice.txt", importers.Options{}), "This message was deleted")
	if m.Kind != "message" {
		t.Errorf("%+v", m)
	}
}

// "<This message was edited>" stays in the text; no edited_at is invented.
func TestTrapEditedMarker(t *testing.T) {
	m := find(t, synthetic(t, "ios_bracket_crlf.txt", importers.Options{}), "Edited text")
	if m.text() != "Edited text "+lrm+"<This message was edited>" || m.EditedAt != "" {
		t.Errorf("%+v", m)
	}
}

// Arabic-Indic digits, RLM marks, the Arabic comma and ص/م for AM/PM.
func TestTrapArabicIndicDigits(t *testing.T) {
	ms := synthetic(t, "arabic_digits.txt", importers.Options{})
	if len(ms) != 2 || ms[0].Time != "2023-06-20T22:30:00Z" || ms[1].Time != "2023-06-21T09:05:00Z" || ms[0].Sender != "أحمد" {
		t.Fatalf("%+v", ms)
	}
}

// Finnish "klo" and dotted times; the order decided by a later line.
func TestTrapFinnishKlo(t *testing.T) {
	ms := synthetic(t, "finnish_klo.txt", importers.Options{})
	if len(ms) != 3 || ms[0].Time != "2018-06-01T21:25:15Z" || ms[2].Time != "2018-06-13T08:00:00Z" {
		t.Fatalf("%+v", ms)
	}
}

// Spanish "a. m." / "p. m." with NBSP; 12 a. m. is midnight, 12 p. m. noon.
func TestTrapSpanishAMPM(t *testing.T) {
	ms := synthetic(t, "spanish_ampm_dayfirst.txt", importers.Options{DayFirst: true})
	want := []string{"2018-06-03T00:05:00Z", "2018-06-03T12:05:00Z", "2018-06-03T13:55:00Z", "2018-06-04T23:59:00Z"}
	for i, w := range want {
		if ms[i].Time != w {
			t.Errorf("%d: %s, want %s", i, ms[i].Time, w)
		}
	}
}

// Polls: OPTION lines with LF only inside a CRLF file stay in the message.
func TestTrapPollMixedLineEndings(t *testing.T) {
	m := find(t, synthetic(t, "ios_bracket_crlf.txt", importers.Options{}), "POLL:")
	if m.text() != "POLL:\nWhere?\nOPTION: Here (1 vote)" || m.Raw != "[01.01.22, 00:03:00] Loris: POLL:\r\nWhere?\r\nOPTION: Here (1 vote)" {
		t.Errorf("%q %q", m.text(), m.Raw)
	}
}
