package whatsapp

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/importers"
)

const (
	nnbsp = "\u202f"
	lrm   = "\u200e"
	rlm   = "\u200f"
	nbsp  = "\u00a0"
)

// android is a small month-first Android export used by several tests.
var android = lines(
	"12/30/21, 9:00 PM - Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them.",
	"12/30/21, 9:01 PM - Alice: hello",
	"12/30/21, 9:02 PM - Bob: hi",
	"there",
	"12/31/21, 11:59 PM - Alice: happy new year",
	"1/1/22, 12:00 AM - Bob: same!",
	"1/1/22, 12:01 AM - Alice: ok",
)

// TestChecklist1_InvalidBytesRepaired: the WhatsApp analogue of an exporter
// writing invalid data is a text that is not valid UTF-8. The bytes are
// replaced by U+FFFD (as encoding/json does) with one warning, not refused.
func TestChecklist1_InvalidBytesRepaired(t *testing.T) {
	r, ms := importText(t, "c.txt", lines(
		"12/30/21, 9:01 PM - Alice: caf\xe9",
		"12/30/21, 9:02 PM - Bob: \xff\xfe more",
	), importers.Options{})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if ms[0].text() != "caf\uFFFD" || ms[1].text() != "\uFFFD\uFFFD more" {
		t.Fatalf("texts %q %q", ms[0].text(), ms[1].text())
	}
	if len(r.warnings) != 1 || !strings.Contains(r.warnings[0], "invalid UTF-8") {
		t.Fatalf("warnings %q", r.warnings)
	}
	// Still deterministic.
	r2, _ := importText(t, "c.txt", lines(
		"12/30/21, 9:01 PM - Alice: caf\xe9",
		"12/30/21, 9:02 PM - Bob: \xff\xfe more",
	), importers.Options{})
	if r.jsonl() != r2.jsonl() {
		t.Fatal("not deterministic")
	}
}

// TestChecklist3_NaiveLocalTime: times are read in Options.TZ, recorded
// with that zone's offset and "assumed_tz:<zone>"; the ids do not change
// with the zone.
func TestChecklist3_NaiveLocalTime(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	_, a := importText(t, "c.txt", android, importers.Options{TZ: zurich(t)})
	_, b := importText(t, "c.txt", android, importers.Options{TZ: ny})
	_, u := importText(t, "c.txt", android, importers.Options{TZ: time.UTC})
	if len(a) != len(b) || len(a) != 6 {
		t.Fatalf("counts %d %d", len(a), len(b))
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].ID != u[i].ID {
			t.Errorf("message %d: id changed with the zone", i)
		}
	}
	if a[1].Time != "2021-12-30T21:01:00+01:00" || b[1].Time != "2021-12-30T21:01:00-05:00" || u[1].Time != "2021-12-30T21:01:00Z" {
		t.Errorf("times %s %s %s", a[1].Time, b[1].Time, u[1].Time)
	}
	if a[1].TimeBasis != "assumed_tz:Europe/Zurich" || b[1].TimeBasis != "assumed_tz:America/New_York" || u[1].TimeBasis != "assumed_tz:UTC" {
		t.Errorf("bases %s %s %s", a[1].TimeBasis, b[1].TimeBasis, u[1].TimeBasis)
	}
	// 12:00 AM is midnight.
	if a[4].Time != "2022-01-01T00:00:00+01:00" {
		t.Errorf("12:00 AM read as %s", a[4].Time)
	}

	t.Run("nil TZ is the machine's zone", func(t *testing.T) {
		p := writeFile(t, t.TempDir(), "c.txt", android)
		src, err := Open(context.Background(), p, importers.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		m, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2021, 12, 30, 21, 0, 0, 0, time.Local)
		if !m.Time.Equal(want) {
			t.Errorf("time %v, want %v", m.Time, want)
		}
		ms := decode(t, []string{string(m.Line)})
		if !strings.HasPrefix(ms[0].TimeBasis, "assumed_tz:") || ms[0].TimeBasis == "assumed_tz:" {
			t.Errorf("basis %q", ms[0].TimeBasis)
		}
	})

	t.Run("DST gap and overlap", func(t *testing.T) {
		// Europe/Zurich: 2021-03-28 02:00 → 03:00; 2021-10-31 03:00 → 02:00.
		_, ms := importText(t, "c.txt", lines(
			"28/03/21, 02:30 - A: in the gap",
			"31/10/21, 02:30 - A: in the overlap",
			"31/10/21, 02:10 - A: overlap, out of order",
		), importers.Options{TZ: zurich(t)})
		if len(ms) != 3 {
			t.Fatalf("%d messages", len(ms))
		}
		for _, m := range ms {
			if _, err := time.Parse(time.RFC3339, m.Time); err != nil {
				t.Fatalf("time %q: %v", m.Time, err)
			}
		}
		if ms[0].Time != "2021-03-28T03:30:00+02:00" {
			t.Errorf("gap time %s", ms[0].Time)
		}
		if !strings.HasPrefix(ms[1].Time, "2021-10-31T02:30:00+0") {
			t.Errorf("overlap time %s", ms[1].Time)
		}
		if ms[2].text() != "overlap, out of order" {
			t.Error("file order not kept")
		}
	})
}

// TestChecklist4_DayMonthOrder: the file decides the order where a day is
// above 12; otherwise ErrAmbiguousDates naming the file, unless an order is
// forced.
func TestChecklist4_DayMonthOrder(t *testing.T) {
	amb := lines(
		"01/02/21, 10:00 - A: one",
		"03/04/21, 10:00 - B: two",
	)
	t.Run("ambiguous", func(t *testing.T) {
		p := writeFile(t, t.TempDir(), "WhatsApp Chat with Amb.txt", amb)
		_, err := Open(context.Background(), p, importers.Options{})
		if !errors.Is(err, importers.ErrAmbiguousDates) {
			t.Fatalf("got %v", err)
		}
		if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("error does not name the file and line: %v", err)
		}
	})
	t.Run("forced", func(t *testing.T) {
		_, d := importText(t, "c.txt", amb, importers.Options{DayFirst: true, TZ: time.UTC})
		_, m := importText(t, "c.txt", amb, importers.Options{MonthFirst: true, TZ: time.UTC})
		if d[0].Time != "2021-02-01T10:00:00Z" || m[0].Time != "2021-01-02T10:00:00Z" {
			t.Errorf("day-first %s, month-first %s", d[0].Time, m[0].Time)
		}
		if d[0].ID != m[0].ID {
			t.Error("the id depends on the date order")
		}
	})
	t.Run("both flags", func(t *testing.T) {
		p := writeFile(t, t.TempDir(), "c.txt", amb)
		if _, err := Open(context.Background(), p, importers.Options{DayFirst: true, MonthFirst: true}); err == nil {
			t.Fatal("accepted DayFirst and MonthFirst together")
		}
	})
	t.Run("decided late", func(t *testing.T) {
		// The evidence is on the last line; every earlier date is read with it.
		_, ms := importText(t, "c.txt", amb+"04/13/21, 10:00 - A: thirteen\n", importers.Options{TZ: time.UTC})
		if len(ms) != 3 || ms[0].Time != "2021-01-02T10:00:00Z" || ms[2].Time != "2021-04-13T10:00:00Z" {
			t.Fatalf("%+v", ms)
		}
		_, ms = importText(t, "c.txt", amb+"13/04/21, 10:00 - A: thirteen\n", importers.Options{TZ: time.UTC})
		if len(ms) != 3 || ms[0].Time != "2021-02-01T10:00:00Z" {
			t.Fatalf("%+v", ms)
		}
	})
	t.Run("same either way", func(t *testing.T) {
		_, ms := importText(t, "c.txt", lines("01/01/21, 10:00 - A: x", "05/05/21, 10:00 - A: y"), importers.Options{TZ: time.UTC})
		if len(ms) != 2 || ms[1].Time != "2021-05-05T10:00:00Z" {
			t.Fatalf("%+v", ms)
		}
	})
	t.Run("contradiction", func(t *testing.T) {
		r, _ := importText(t, "c.txt", lines("13/01/21, 10:00 - A: day-first", "01/13/21, 10:00 - A: month-first"), importers.Options{})
		if !errors.Is(r.err, importers.ErrMalformed) || !strings.Contains(r.err.Error(), "line 2") {
			t.Fatalf("got %v", r.err)
		}
		// A forced order the file contradicts is malformed at the line.
		r, _ = importText(t, "c.txt", lines("01/13/21, 10:00 - A: month-first"), importers.Options{DayFirst: true})
		if !errors.Is(r.err, importers.ErrMalformed) || !strings.Contains(r.err.Error(), "line 1") || !strings.Contains(r.err.Error(), "day-first") {
			t.Fatalf("got %v", r.err)
		}
	})
	t.Run("year first", func(t *testing.T) {
		_, ms := importText(t, "c.txt", lines("2021-02-03 10:00 - A: x"), importers.Options{TZ: time.UTC})
		if ms[0].Time != "2021-02-03T10:00:00Z" {
			t.Fatal(ms[0].Time)
		}
	})
	t.Run("locale tokens", func(t *testing.T) {
		for _, c := range []struct{ line, want string }{
			{"13/6/18, 1:55 p.m. - a: m", "2018-06-13T13:55:00Z"},
			{"13/6/18, 1:55 p. m. - a: m", "2018-06-13T13:55:00Z"},
			{"13/6/18, 1:55 p." + nbsp + "m. - a: m", "2018-06-13T13:55:00Z"},
			{"13/6/18, 1:55" + nnbsp + "PM - a: m", "2018-06-13T13:55:00Z"},
			{"13/6/18, 1:55" + nbsp + "pm - a: m", "2018-06-13T13:55:00Z"},
			{"13/6/18, 12:55 AM - a: m", "2018-06-13T00:55:00Z"},
			{"13/6/18, 12:55 PM - a: m", "2018-06-13T12:55:00Z"},
			{"13/6/18, 13:55 PM - a: m", "2018-06-13T13:55:00Z"},
			{"[13/6/18 1:55:07 a. m.] a: m", "2018-06-13T01:55:07Z"},
			{"13.6.2018 klo 21.25.15 - a: m", "2018-06-13T21:25:15Z"},
			{"[13.6.2018 klo 21.25.15] a: m", "2018-06-13T21:25:15Z"},
			{"13. 6. 2018. 21:25 - a: m", "2018-06-13T21:25:00Z"},
			{"2018/06/13, 21:25. - a: m", "2018-06-13T21:25:00Z"},
			{"13/06/2018 21:25: a: m", "2018-06-13T21:25:00Z"},
			{"06/2018/13, 21:25 - a: m", "2018-06-13T21:25:00Z"},
		} {
			_, ms := importText(t, "c.txt", c.line+"\n", importers.Options{TZ: time.UTC})
			if len(ms) != 1 || ms[0].Time != c.want || ms[0].Sender != "a" || ms[0].text() != "m" {
				t.Errorf("%q: %+v", c.line, ms)
			}
		}
		r, _ := importText(t, "c.txt", "13/6/18, 13:55 AM - a: m\n", importers.Options{})
		if !errors.Is(r.err, importers.ErrMalformed) {
			t.Errorf("13:55 AM: %v", r.err)
		}
	})
}

// TestChecklist5_InvisibleUnicode: BOM, bidi marks, NBSP and NNBSP in
// headers and names. The same export written with U+202F or a plain space
// before PM gives the same ids.
func TestChecklist5_InvisibleUnicode(t *testing.T) {
	plain := lines(
		"12/30/21, 9:01 PM - Alice: hello",
		"12/31/21, 9:02 PM - \u202a+41 79 123 45 67\u202c: hi",
		"12/31/21, 9:03 PM - ~"+nnbsp+"Bob: hey",
	)
	fancy := "\ufeff" + strings.ReplaceAll(plain, " PM", nnbsp+"PM")
	fancy = strings.ReplaceAll(fancy, "12/31/21", lrm+"12"+lrm+"/31/21")
	r1, a := importText(t, "c.txt", plain, importers.Options{})
	r2, b := importText(t, "c.txt", fancy, importers.Options{})
	if r1.err != nil || r2.err != nil {
		t.Fatal(r1.err, r2.err)
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Time != b[i].Time {
			t.Errorf("message %d differs: %+v %+v", i, a[i], b[i])
		}
	}
	if b[1].Sender != "+41 79 123 45 67" || b[2].Sender != "Bob" || b[2].SenderName != "~ Bob" {
		t.Errorf("senders %q %q %q", b[1].Sender, b[2].Sender, b[2].SenderName)
	}
	if strings.HasPrefix(b[0].Raw, "\ufeff") {
		t.Error("the BOM is in raw")
	}
	// Text keeps its invisible characters verbatim.
	_, c := importText(t, "c.txt", "12/30/21, 9:01 PM - A: a"+nbsp+"b"+rlm+"\n", importers.Options{})
	if c[0].text() != "a"+nbsp+"b"+rlm {
		t.Errorf("text %q", c[0].text())
	}
}

// TestChecklist6_NamesAndNormalization: emoji with ZWJ and skin tones in
// names; NFD and NFC texts are kept byte for byte (and are different
// messages).
func TestChecklist6_NamesAndNormalization(t *testing.T) {
	family := "👩\u200d👩\u200d👧 Fam 👍🏽"
	nfc, nfd := "caf\u00e9", "cafe\u0301"
	_, ms := importText(t, "c.txt", lines(
		"13/01/21, 10:00 - "+family+": "+nfc,
		"13/01/21, 10:00 - "+family+": "+nfd,
	), importers.Options{})
	if ms[0].Sender != family || ms[0].SenderName != family {
		t.Errorf("sender %q", ms[0].Sender)
	}
	if ms[0].text() != nfc || ms[1].text() != nfd || ms[0].ID == ms[1].ID {
		t.Errorf("texts %q %q", ms[0].text(), ms[1].text())
	}
}

// TestChecklist7_Senders: name-only identity, phone numbers, "~ " names,
// names with dashes and parentheses, colons in bodies, empty bodies, system
// lines.
func TestChecklist7_Senders(t *testing.T) {
	_, ms := importText(t, "c.txt", lines(
		"13/01/21, 10:00 - +1 (555) 010-9999: a: b: c",
		"13/01/21, 10:01 - Jean-Luc (work): https://example.com/x?y=1",
		"13/01/21, 10:02 - Ann: ",
		"13/01/21, 10:03 - Ann:",
		"13/01/21, 10:04 - Ann:.",
		"13/01/21, 10:05 - You were added",
		"13/01/21, 10:06 - ~ Zoë: hi",
	), importers.Options{})
	want := []struct{ kind, sender, name, text string }{
		{"message", "+1 (555) 010-9999", "+1 (555) 010-9999", "a: b: c"},
		{"message", "Jean-Luc (work)", "Jean-Luc (work)", "https://example.com/x?y=1"},
		{"message", "Ann", "Ann", ""},
		{"message", "Ann", "Ann", ""},
		{"service", "", "", "Ann:."},
		{"service", "", "", "You were added"},
		{"message", "Zoë", "~ Zoë", "hi"},
	}
	if len(ms) != len(want) {
		t.Fatalf("%d messages", len(ms))
	}
	for i, w := range want {
		m := ms[i]
		if m.Kind != w.kind || m.Sender != w.sender || m.SenderName != w.name || m.text() != w.text {
			t.Errorf("%d: got %s %q %q %q, want %+v", i, m.Kind, m.Sender, m.SenderName, m.text(), w)
		}
		if w.kind == "message" && m.Text == nil {
			t.Errorf("%d: a message without a text key", i)
		}
	}
}

// TestChecklist8_MultilineAndLookalikes: continuation lines, lines that look
// like headers of another style, empty lines, trailing blank lines, a last
// line without newline, mixed CRLF/LF.
func TestChecklist8_MultilineAndLookalikes(t *testing.T) {
	in := "[13.01.21, 10:00:00] A: first\r\n" +
		"2016-04-29 10:30:00 - not a header here\r\n" +
		"12/31/21, 11:59 PM - nor this\n" +
		"[1/2/21 10:00] nor this (no seconds)\r\n" +
		"\r\n" +
		"after a blank line\n" +
		"\n" +
		"\r\n" +
		"[13.01.21, 10:00:01] B: second\n" +
		"[13.01.21, 10:00:02] B: last, no newline"
	r, ms := importText(t, "c.txt", in, importers.Options{})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(ms) != 3 {
		t.Fatalf("%d messages", len(ms))
	}
	want := "first\n2016-04-29 10:30:00 - not a header here\n12/31/21, 11:59 PM - nor this\n[1/2/21 10:00] nor this (no seconds)\n\nafter a blank line"
	if ms[0].text() != want {
		t.Errorf("text %q", ms[0].text())
	}
	wantRaw := "[13.01.21, 10:00:00] A: first\r\n2016-04-29 10:30:00 - not a header here\r\n12/31/21, 11:59 PM - nor this\n[1/2/21 10:00] nor this (no seconds)\r\n\r\nafter a blank line\n\n"
	if ms[0].Raw != wantRaw {
		t.Errorf("raw %q", ms[0].Raw)
	}
	if ms[2].text() != "last, no newline" {
		t.Errorf("last %q", ms[2].text())
	}
	if len(r.warnings) != 1 || !strings.Contains(r.warnings[0], "3 line(s) look like message headers") {
		t.Errorf("warnings %q", r.warnings)
	}
	// CRLF and LF give the same ids.
	_, lf := importText(t, "c.txt", strings.ReplaceAll(in, "\r\n", "\n"), importers.Options{})
	for i := range ms {
		if ms[i].ID != lf[i].ID {
			t.Errorf("%d: CRLF and LF ids differ", i)
		}
	}
}

// TestChecklist9_Media: markers, files present, missing, omitted, files
// without messages, __MACOSX, nested zips, duplicate names, backslashes.
func TestChecklist9_Media(t *testing.T) {
	photo := []byte("\xff\xd8\xff fake jpeg")
	nested := makeZipBytes(t, zipEntry{name: "_chat.txt", data: []byte("[13.01.21, 10:00:00] X: y\n")})
	chat := lines(
		"13/01/21, 10:00 - Alice: IMG-20210113-WA0001.jpg (file attached)",
		"caption line",
		"13/01/21, 10:01 - Bob: IMG-20210113-WA0002.jpg (file attached)",
		"13/01/21, 10:02 - Bob: <Media omitted>",
		"13/01/21, 10:03 - Alice: old.zip (file attached)",
		"13/01/21, 10:04 - Alice: IMG-20210113-WA0001.jpg (file attached)",
	)
	dir := t.TempDir()
	zp := makeZip(t, filepath.Join(dir, "WhatsApp Chat with Alice.zip"),
		zipEntry{name: "WhatsApp Chat with Alice.txt", data: []byte(chat)},
		zipEntry{name: "IMG-20210113-WA0001.jpg", data: photo, store: true},
		zipEntry{name: "old.zip", data: nested},
		zipEntry{name: "__MACOSX/._IMG-20210113-WA0001.jpg", data: []byte("junk")},
		zipEntry{name: `sub\VID-20210113-WA0003.mp4`, data: []byte("video")},
		zipEntry{name: "STK-20210113-WA0004.webp", data: []byte("sticker 1")},
		zipEntry{name: "STK-20210113-WA0004.webp", data: []byte("sticker 2")},
	)
	r := run(t, zp, importers.Options{})
	if r.err != nil {
		t.Fatal(r.err)
	}
	ms := decode(t, r.lines)
	if ms[0].Conversation != "whatsapp:Alice" || ms[0].ConversationName != "Alice" {
		t.Errorf("conversation %q %q", ms[0].Conversation, ms[0].ConversationName)
	}
	a := ms[0].Attachments
	if len(a) != 1 || a[0].Name != "IMG-20210113-WA0001.jpg" || a[0].Mime != "image/jpeg" || a[0].Size != int64(len(photo)) ||
		a[0].SHA256 != hexSum(photo) || a[0].Blob != a[0].SHA256 || a[0].Missing != "" {
		t.Errorf("present: %+v", a)
	}
	if ms[0].text() != "IMG-20210113-WA0001.jpg (file attached)\ncaption line" {
		t.Errorf("text %q", ms[0].text())
	}
	if a := ms[1].Attachments; len(a) != 1 || a[0].Missing != "not found in export" || a[0].SHA256 != "" {
		t.Errorf("dangling: %+v", a)
	}
	if a := ms[2].Attachments; len(a) != 1 || a[0].Missing != "not exported" {
		t.Errorf("omitted: %+v", a)
	}
	if a := ms[3].Attachments; len(a) != 1 || a[0].SHA256 != hexSum(nested) || a[0].Mime != "application/zip" {
		t.Errorf("nested zip: %+v", a)
	}
	if ms[4].Attachments[0].SHA256 != ms[0].Attachments[0].SHA256 {
		t.Error("same file twice, different hashes")
	}
	if len(r.blobs) != 2 {
		t.Errorf("blobs %v", r.blobs)
	}
	joined := strings.Join(r.warnings, "\n")
	if !strings.Contains(joined, `"STK-20210113-WA0004.webp" more than once`) {
		t.Errorf("no duplicate-name warning: %q", r.warnings)
	}
	if !strings.Contains(joined, "2 file(s) in the export are not named by any message") ||
		!strings.Contains(joined, "STK-20210113-WA0004.webp, sub/VID-20210113-WA0003.mp4") || strings.Contains(joined, "MACOSX") {
		t.Errorf("unused-files warning: %q", r.warnings)
	}

	t.Run("beside a txt", func(t *testing.T) {
		dir := t.TempDir()
		p := writeFile(t, dir, "_chat.txt", lines(
			"[13.01.21, 10:00:00] A: "+lrm+"<attached: 00000001-PHOTO-2021-01-13-10-00-00.jpg>",
			"[13.01.21, 10:00:01] A: "+lrm+"<attached: 00000002-PHOTO-2021-01-13-10-00-01.jpg>",
			"[13.01.21, 10:00:02] A: "+lrm+"<attached: ../secret.jpg>",
		))
		writeFile(t, dir, "00000001-PHOTO-2021-01-13-10-00-00.jpg", string(photo))
		writeFile(t, filepath.Dir(dir), "secret.jpg", "secret")
		if err := os.Symlink(filepath.Join(filepath.Dir(dir), "secret.jpg"), filepath.Join(dir, "00000002-PHOTO-2021-01-13-10-00-01.jpg")); err != nil {
			t.Skip("no symlinks:", err)
		}
		r := run(t, p, importers.Options{})
		ms := decode(t, r.lines)
		if ms[0].Attachments[0].SHA256 != hexSum(photo) {
			t.Errorf("file beside the txt not hashed: %+v", ms[0].Attachments)
		}
		if ms[1].Attachments[0].Missing == "" || ms[2].Attachments[0].Missing == "" {
			t.Errorf("followed a symlink or a path: %+v %+v", ms[1].Attachments, ms[2].Attachments)
		}
		if ms[0].Conversation != "whatsapp:"+filepath.Base(dir) {
			t.Errorf("unzipped _chat.txt named %q", ms[0].Conversation)
		}
	})
}

// TestChecklist9_ZipSafety: unsafe entries refuse the export with a clear error.
func TestChecklist9_ZipSafety(t *testing.T) {
	chat := zipEntry{name: "_chat.txt", data: []byte("[13.01.21, 10:00:00] A: " + lrm + "<attached: 00000001-PHOTO-2021-01-13-10-00-00.jpg>\n")}
	zeros := make([]byte, 8<<20)
	cases := []struct {
		name  string
		entry []zipEntry
		want  string
	}{
		{"dotdot", []zipEntry{chat, {name: "../evil.jpg", data: []byte("x")}}, `".." path component`},
		{"dotdot inside", []zipEntry{chat, {name: "a/../../evil.jpg", data: []byte("x")}}, `".." path component`},
		{"backslash dotdot", []zipEntry{chat, {name: `a\..\..\evil.jpg`, data: []byte("x")}}, `".." path component`},
		{"absolute", []zipEntry{chat, {name: "/etc/passwd", data: []byte("x")}}, "absolute path"},
		{"drive", []zipEntry{chat, {name: `C:\evil.jpg`, data: []byte("x")}}, "absolute path"},
		{"symlink", []zipEntry{chat, {name: "00000001-PHOTO-2021-01-13-10-00-00.jpg", data: []byte("/etc/passwd"), mode: os.ModeSymlink | 0o777}}, "symbolic link"},
		{"ratio bomb", []zipEntry{chat, {name: "bomb.bin", data: zeros}}, "zip bomb"},
		{"total bomb", func() []zipEntry {
			es := []zipEntry{chat}
			for i := 0; i < 24; i++ {
				es = append(es, zipEntry{name: "f" + string(rune('a'+i)), data: zeros[:1<<20]})
			}
			return es
		}(), "zip bomb"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := makeZip(t, filepath.Join(t.TempDir(), "x.zip"), c.entry...)
			_, err := Open(context.Background(), p, importers.Options{})
			if !errors.Is(err, importers.ErrMalformed) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("got %v, want an error about %q", err, c.want)
			}
		})
	}
	t.Run("entry larger than declared", func(t *testing.T) {
		p := makeZip(t, filepath.Join(t.TempDir(), "x.zip"), chat,
			zipEntry{name: "00000001-PHOTO-2021-01-13-10-00-00.jpg", data: []byte(strings.Repeat("abc", 1000)), raw: true, declared: 10})
		r := run(t, p, importers.Options{})
		if !errors.Is(r.err, importers.ErrMalformed) || !strings.Contains(r.err.Error(), "line 1") {
			t.Fatalf("got %v", r.err)
		}
		// SkipInvalid keeps the message and marks the file unreadable.
		r = run(t, p, importers.Options{SkipInvalid: true})
		ms := decode(t, r.lines)
		if r.err != nil || len(ms) != 1 || ms[0].Attachments[0].Missing != "unreadable in export" || len(r.skipped) != 1 {
			t.Fatalf("skip: %v %+v %q", r.err, ms, r.skipped)
		}
	})
	t.Run("chat text larger than declared", func(t *testing.T) {
		p := makeZip(t, filepath.Join(t.TempDir(), "x.zip"),
			zipEntry{name: "_chat.txt", data: []byte(strings.Repeat("[13.01.21, 10:00:00] A: b\n", 100)), raw: true, declared: 30})
		r := run(t, p, importers.Options{})
		if !errors.Is(r.err, importers.ErrMalformed) {
			t.Fatalf("got %v", r.err)
		}
	})
}

// TestChecklist10_Duplicates: overlapping exports of one chat give the same
// ids for the same messages; identical messages in one file get distinct
// ids.
func TestChecklist10_Duplicates(t *testing.T) {
	all := strings.Split(strings.TrimSuffix(android, "\n"), "\n")
	first := strings.Join(all[:5], "\n") + "\n"  // up to "happy new year"
	second := strings.Join(all[2:], "\n") + "\n" // from "Bob: hi"
	ra := run(t, writeFile(t, t.TempDir(), "WhatsApp Chat with Bob.txt", first), importers.Options{})
	rb := run(t, writeFile(t, t.TempDir(), "WhatsApp Chat with Bob.txt", second), importers.Options{})
	a, b := decode(t, ra.lines), decode(t, rb.lines)
	// a[2:] and b[:2] are the same messages (Bob's two-line "hi there", Alice's new year).
	if a[2].ID != b[0].ID || a[3].ID != b[1].ID || ra.lines[3] != rb.lines[1] {
		t.Errorf("overlap ids differ:\n%s\n%s", ra.lines[3], rb.lines[1])
	}
	// Android and iOS exports of one chat do not share ids (different timestamp text), but the
	// same export as .txt and in a zip does: see TestChecklist14_Containers.

	_, ms := importText(t, "c.txt", lines(
		"13/01/21, 10:00 - A: ok",
		"13/01/21, 10:00 - A: ok",
		"13/01/21, 10:00 - B: ok",
		"13/01/21, 10:01 - A: ok",
		"13/01/21, 10:00 - A: ok",
	), importers.Options{})
	seen := map[string]bool{}
	for i, m := range ms {
		if seen[m.ID] {
			t.Errorf("message %d: duplicate id", i)
		}
		seen[m.ID] = true
	}
}

// TestChecklist11_OrderKept: out-of-order lines stay in file order.
func TestChecklist11_OrderKept(t *testing.T) {
	_, ms := importText(t, "c.txt", lines(
		"14/01/21, 10:00 - A: later",
		"13/01/21, 10:00 - A: earlier, written after",
		"15/01/21, 10:00 - A: last",
	), importers.Options{TZ: time.UTC})
	if ms[0].text() != "later" || ms[1].Time != "2021-01-13T10:00:00Z" || ms[2].text() != "last" {
		t.Fatalf("%+v", ms)
	}
}

// TestChecklist12_EditedMarker: the marker stays in the text (verbatim)
// and edited_at is not invented; a media line keeps its attachment.
func TestChecklist12_EditedMarker(t *testing.T) {
	_, ms := importText(t, "c.txt", lines(
		"13/01/21, 10:00 - A: fixed <This message was edited>",
		"13/01/21, 10:01 - A: korrigiert <Diese Nachricht wurde bearbeitet>",
		"13/01/21, 10:02 - A: IMG-20210113-WA0001.jpg (file attached) <This message was edited>",
		"[not a header] <This message was edited>",
	), importers.Options{})
	if len(ms) != 3 {
		t.Fatalf("%d messages", len(ms))
	}
	if ms[0].text() != "fixed <This message was edited>" || ms[0].EditedAt != "" {
		t.Errorf("%+v", ms[0])
	}
	if a := ms[2].Attachments; len(a) != 1 || a[0].Name != "IMG-20210113-WA0001.jpg" {
		t.Errorf("media + edited: %+v", a)
	}
}

// TestChecklist13_UnknownSystemLines: system lines are free text; the known
// English ones get a verb, every other one "system", without warnings.
func TestChecklist13_UnknownSystemLines(t *testing.T) {
	r, ms := importText(t, "c.txt", lines(
		"13/01/21, 10:00 - Alice hat die Gruppe „X“ erstellt",
		"13/01/21, 10:01 - Alice changed this group's icon",
		"13/01/21, 10:02 - Alice removed Bob",
		"13/01/21, 10:03 - Bob joined using this group's invite link",
		"13/01/21, 10:04 - Your security code with Bob changed. Tap to learn more.",
		"13/01/21, 10:05 - Alice pinned a message",
		"13/01/21, 10:06 - Alice turned on disappearing messages. New messages will disappear from this chat 7 days after they're sent.",
		"13/01/21, 10:07 - Bob changed their phone number to a new number. Tap to message or add the new number.",
		"13/01/21, 10:08 - You're now an admin",
	), importers.Options{})
	want := []string{"system", "edit_group_photo", "remove_members", "join_group_by_link", "security_code_changed",
		"pin_message", "set_messages_ttl", "change_number", "edit_admins"}
	for i, w := range want {
		if ms[i].Kind != "service" || ms[i].Service != w || ms[i].Sender != "" {
			t.Errorf("%d: %s %q, want %q", i, ms[i].Kind, ms[i].Service, w)
		}
	}
	if len(r.warnings) != 0 {
		t.Errorf("warnings %q", r.warnings)
	}
}

// TestChecklist14_Containers: the same chat as a .txt, an Android zip, an
// iOS-style zip named "WhatsApp Chat - NAME.zip" and an unzipped folder gives
// one conversation key and the same ids.
func TestChecklist14_Containers(t *testing.T) {
	dir := t.TempDir()
	txt := writeFile(t, dir, "txt/WhatsApp Chat with Team.txt", android)
	android1 := makeZip(t, filepath.Join(dir, "WhatsApp Chat with Team.zip"), zipEntry{name: "WhatsApp Chat with Team.txt", data: []byte(android)})
	ios := makeZip(t, filepath.Join(dir, "WhatsApp Chat - Team.zip"), zipEntry{name: "_chat.txt", data: []byte(android)})
	odd := makeZip(t, filepath.Join(dir, "download.bin"), zipEntry{name: "WhatsApp Chat with Team.txt", data: []byte(android)})
	folder := writeFile(t, dir, "WhatsApp Chat - Team/_chat.txt", android)
	nested := makeZip(t, filepath.Join(dir, "nested.zip"), zipEntry{name: "WhatsApp Chat - Team/_chat.txt", data: []byte(android)},
		zipEntry{name: "WhatsApp Chat - Team/00000001-notes.txt", data: []byte("a document")})
	want := run(t, txt, importers.Options{}).jsonl()
	if !strings.Contains(want, `"conversation":"whatsapp:Team"`) {
		t.Fatalf("conversation: %s", want)
	}
	for _, p := range []string{android1, ios, odd, folder} {
		if got := run(t, p, importers.Options{}).jsonl(); got != want {
			t.Errorf("%s imports differently:\n%s", filepath.Base(p), got)
		}
	}
	if got := run(t, nested, importers.Options{}).jsonl(); !strings.Contains(got, `"conversation":"whatsapp:nested"`) {
		t.Errorf("nested: %s", got)
	}

	t.Run("no chat text", func(t *testing.T) {
		p := makeZip(t, filepath.Join(t.TempDir(), "x.zip"), zipEntry{name: "IMG-20210113-WA0001.jpg", data: []byte("x")})
		if _, err := Open(context.Background(), p, importers.Options{}); !errors.Is(err, importers.ErrMalformed) || !strings.Contains(err.Error(), "no chat text") {
			t.Fatal(err)
		}
	})
	t.Run("two candidates", func(t *testing.T) {
		p := makeZip(t, filepath.Join(t.TempDir(), "x.zip"), zipEntry{name: "a.txt", data: []byte(android)}, zipEntry{name: "b.txt", data: []byte(android)})
		if _, err := Open(context.Background(), p, importers.Options{}); !errors.Is(err, importers.ErrMalformed) || !strings.Contains(err.Error(), "a.txt, b.txt") {
			t.Fatal(err)
		}
	})
	t.Run("not a zip", func(t *testing.T) {
		p := writeFile(t, t.TempDir(), "x.zip", "PK\x03\x04 broken")
		if _, err := Open(context.Background(), p, importers.Options{}); !errors.Is(err, importers.ErrMalformed) {
			t.Fatal(err)
		}
	})
}

// TestExclude: an excluded conversation yields nothing, without reading
// (not even the ambiguity check).
func TestExclude(t *testing.T) {
	p := writeFile(t, t.TempDir(), "WhatsApp Chat with Amb.txt", lines("01/02/21, 10:00 - A: one", "03/04/21, 10:00 - B: two"))
	src, err := Open(context.Background(), p, importers.Options{Exclude: map[string]bool{"whatsapp:Amb": true}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Next(); err != io.EOF {
		t.Fatalf("got %v", err)
	}
}
