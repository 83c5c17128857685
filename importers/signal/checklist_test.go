package signal

// Tests named after the cross-format checklist (chat-formats.md §10). Items
// that do not apply to a Markdown transcript: 1 (invalid JSON) and 13
// (unknown enum values: the transcript has none; unknown shapes stay text,
// see TestChecklist13_UnknownShapesStayText). Item 2 is in large_test.go.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/importers"
)

// TestChecklist3_NaiveLocalTimeAndDST (§10.3, §5): times are read in
// Options.TZ with time_basis assumed_tz; the zone changes times but never
// ids; a time in the spring gap moves forward, an ambiguous autumn time
// takes one offset, and both are deterministic.
func TestChecklist3_NaiveLocalTimeAndDST(t *testing.T) {
	p := writeFile(t, "DST/chat.md", "[2022-03-27 02:30:00] Me: in the gap\n\n[2022-10-30 02:30:00] Me: twice\n\n[2022-07-01 12:00:00] Me: summer\n\n")
	ber := mustRun(t, p, importers.Options{TZ: berlin})
	utc := mustRun(t, p, importers.Options{TZ: time.UTC})
	ny, _ := time.LoadLocation("America/New_York")
	nyr := mustRun(t, p, importers.Options{TZ: ny})
	for i := range ber.msgs {
		if ber.msgs[i]["id"] != utc.msgs[i]["id"] || ber.msgs[i]["id"] != nyr.msgs[i]["id"] {
			t.Fatal("ids depend on the zone")
		}
		if ber.msgs[i]["time_basis"] != "assumed_tz:Europe/Berlin" || utc.msgs[i]["time_basis"] != "assumed_tz:UTC" {
			t.Fatalf("time_basis %v %v", ber.msgs[i]["time_basis"], utc.msgs[i]["time_basis"])
		}
	}
	got := []any{ber.msgs[0]["time"], ber.msgs[1]["time"], ber.msgs[2]["time"], utc.msgs[2]["time"], nyr.msgs[2]["time"]}
	want := []any{"2022-03-27T03:30:00+02:00", "2022-10-30T02:30:00+01:00", "2022-07-01T12:00:00+02:00", "2022-07-01T12:00:00Z", "2022-07-01T12:00:00-04:00"}
	if !slices.Equal(got, want) {
		t.Fatalf("times %v, want %v", got, want)
	}
	// Seconds or not, comma or not: the four header forms merge.py reads.
	q := writeFile(t, "forms.md", "[2022-01-02 03:04] A: a\n[2022-01-02 03:05] A: b\n")
	if r := mustRun(t, q, importers.Options{TZ: time.UTC}); r.msgs[1]["time"] != "2022-01-02T03:05:00Z" {
		t.Fatalf("no comma, no seconds: %v", r.msgs[1]["time"])
	}
	q = writeFile(t, "forms.md", "[2022-01-02, 03:04:05] A: a\n")
	if r := mustRun(t, q, importers.Options{TZ: time.UTC}); r.msgs[0]["time"] != "2022-01-02T03:04:05Z" {
		t.Fatalf("comma and seconds: %v", r.msgs[0]["time"])
	}
	// No zone given: the machine's, named.
	if r := mustRun(t, p, importers.Options{}); !strings.HasPrefix(r.msgs[0]["time_basis"].(string), "assumed_tz:") {
		t.Fatalf("local basis %v", r.msgs[0]["time_basis"])
	}
}

// TestChecklist4_DateOrderOptionsIgnored (§10.4): signal-export always
// writes year-month-day; DayFirst/MonthFirst change nothing.
func TestChecklist4_DateOrderOptionsIgnored(t *testing.T) {
	a := mustRun(t, aliceMD, importers.Options{TZ: berlin})
	b := mustRun(t, aliceMD, importers.Options{TZ: berlin, DayFirst: true})
	c := mustRun(t, aliceMD, importers.Options{TZ: berlin, MonthFirst: true})
	if !slices.Equal(a.lines, b.lines) || !slices.Equal(a.lines, c.lines) {
		t.Fatal("date order options change a Signal import")
	}
}

// TestChecklist5_InvisibleUnicode (§10.5): a leading BOM is dropped; bidi
// marks, isolates, NBSP, NNBSP and a BOM inside text stay verbatim; a header
// preceded by an invisible mark is not a header.
func TestChecklist5_InvisibleUnicode(t *testing.T) {
	r := mustRun(t, aliceMD, importers.Options{TZ: berlin})
	want := "Invisible:\u200e left\u200f right\u00a0nbsp\u202fnnbsp \u2066iso\u2069 👩‍👩‍👧 👍🏽 e\u0301 \ufeffbom"
	r.byText(t, want)
	bom := mustRun(t, filepath.Join("testdata", "odd", "crlf_bom.md"), importers.Options{TZ: berlin})
	if raw := bom.msgs[0]["raw"].(string); !strings.HasPrefix(raw, "[2022") {
		t.Fatalf("BOM kept: %q", raw)
	}
	p := writeFile(t, "m.md", "[2022-01-01 10:00:00] A: x\n\n\u200e[2022-01-01 10:00:01] B: y\n\n")
	if r := mustRun(t, p, importers.Options{TZ: time.UTC}); len(r.lines) != 1 || r.msgs[0]["text"] != "x\n\n\u200e[2022-01-01 10:00:01] B: y" {
		t.Fatalf("marked header: %d lines %q", len(r.lines), r.msgs[0]["text"])
	}
}

// TestChecklist6_UnicodeVerbatim (§10.6): names with emoji, ZWJ sequences
// and skin tones, NFD text: kept byte for byte (no NFC), in ids too.
func TestChecklist6_UnicodeVerbatim(t *testing.T) {
	nfd, nfc := "Jose\u0301", "Jos\u00e9"
	p := writeFile(t, "u.txt", "[2022-01-01, 10:00] 👩‍💻 Zoë 👍🏿: "+nfd+"\n[2022-01-01, 10:00] 👩‍💻 Zoë 👍🏿: "+nfc+"\n")
	r := mustRun(t, p, importers.Options{TZ: time.UTC})
	if r.msgs[0]["sender"] != "👩‍💻 Zoë 👍🏿" || r.msgs[0]["text"] != nfd || r.msgs[1]["text"] != nfc {
		t.Fatalf("%v %q %q", r.msgs[0]["sender"], r.msgs[0]["text"], r.msgs[1]["text"])
	}
	if r.msgs[0]["id"] == r.msgs[1]["id"] {
		t.Fatal("NFC and NFD texts share an id")
	}
}

// TestChecklist7_Senders (§10.7): name-only identity; "Me" for the
// exporter, "No-Sender" (signal-export's unknown) has no sender key, phone
// numbers and names with ": " or "." are read up to the first ": ".
func TestChecklist7_Senders(t *testing.T) {
	p := writeFile(t, "s.md", strings.Join([]string{
		"[2022-01-01 10:00:00] Me: mine",
		"[2022-01-01 10:00:01] No-Sender: unknown",
		"[2022-01-01 10:00:02] +41 79 123 45 67: a number",
		"[2022-01-01 10:00:03] Dr. Who: time: now",
		"[2022-01-01 10:00:04] : empty name",
		"",
	}, "\n\n"))
	r := mustRun(t, p, importers.Options{TZ: time.UTC})
	type sn struct{ sender, name, text any }
	var got []sn
	for _, m := range r.msgs {
		got = append(got, sn{m["sender"], m["sender_name"], m["text"]})
	}
	want := []sn{{"Me", "Me", "mine"}, {nil, "No-Sender", "unknown"}, {"+41 79 123 45 67", "+41 79 123 45 67", "a number"},
		{"Dr. Who", "Dr. Who", "time: now"}, {nil, nil, "empty name"}}
	if !slices.Equal(got, want) {
		t.Fatalf("senders %v, want %v", got, want)
	}
}

// TestChecklist8_MultilineBodies (§10.8): blank lines inside a message stay;
// a header-like line inside a message that does not follow a blank line
// stays text (signal-export separates every message with one), as does one
// of another header style; a v1 file without blank lines splits at every
// header.
func TestChecklist8_MultilineBodies(t *testing.T) {
	r := mustRun(t, aliceMD, importers.Options{TZ: berlin})
	r.byText(t, "Hi!\nSecond line\n\nAfter a blank line")
	r.byText(t, "Forwarding the old log:\n[2021-12-31 23:59:59] Someone: happy new year\nend of log")
	if !r.warned("1 line(s) look like message headers but do not follow a blank line") {
		t.Errorf("no warning: %v", r.warns)
	}
	v1 := mustRun(t, filepath.Join("testdata", "v1", "Bob Jones.txt"), importers.Options{TZ: berlin})
	v1.byText(t, "Hi Bob\nthis is line two\n[2020-03-01 09:02:00] Bob Jones: a header of another style stays text")
	if len(v1.lines) != 6 || !v1.warned("another style") {
		t.Fatalf("v1: %d messages, warnings %v", len(v1.lines), v1.warns)
	}
	// Trailing blank lines of the last message are not text.
	p := writeFile(t, "t.md", "[2022-01-01 10:00:00] A: x\n\n\n\n")
	if r := mustRun(t, p, importers.Options{TZ: time.UTC}); r.msgs[0]["text"] != "x" {
		t.Fatalf("trailing blanks: %q", r.msgs[0]["text"])
	}
}

// TestChecklist9_Media (§10.9): present files hashed and offered as blobs,
// dangling links missing, Windows backslashes and %20 resolved, ".." and
// absolute paths refused, symlinks and folders refused, identical files one
// blob.
func TestChecklist9_Media(t *testing.T) {
	r := mustRun(t, exportDir, importers.Options{TZ: berlin})
	att := func(ts string) []string {
		var out []string
		for _, a := range r.at(t, ts)["attachments"].([]any) {
			a := a.(map[string]any)
			s := fmt.Sprint(a["name"], " ", a["missing"])
			if a["blob"] != nil {
				s = fmt.Sprint(a["name"], " blob")
			}
			out = append(out, s)
		}
		return out
	}
	cases := map[string][]string{
		"2022-01-01 10:04:00": {"2022-01-01T10-04-00.000_00_notes.pdf blob", "2022-01-01T10-04-00.000_01_missing.zip not found in export"},
		"2022-01-01 10:10:00": {"2022-01-01T10-10-00.000_00_win.png blob"},
		"2022-01-01 10:11:00": {"my file.txt blob"},
		"2022-01-01 10:12:00": {"passwd outside the export"},
		"2023-06-10 18:01:00": {"2023-06-10T18-01-00.000_00_cake.jpg blob", "2023-06-10T18-01-00.000_01_cake.jpg blob"},
	}
	for ts, want := range cases {
		if got := att(ts); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", ts, got, want)
		}
	}
	cake := r.at(t, "2023-06-10 18:01:00")
	if len(r.blobs[cake["id"].(string)]) != 1 {
		t.Errorf("two identical files should be one blob: %d", len(r.blobs[cake["id"].(string)]))
	}

	// Symlinks, folders, absolute paths, a link through a file.
	dir := t.TempDir()
	chat := filepath.Join(dir, "C")
	os.MkdirAll(filepath.Join(chat, "media", "adir"), 0o755)
	secret := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(secret, []byte("secret"), 0o644)
	os.WriteFile(filepath.Join(chat, "media", "real.txt"), []byte("real"), 0o644)
	if err := os.Symlink(secret, filepath.Join(chat, "media", "link.txt")); err != nil {
		t.Skip("no symlinks here")
	}
	os.Symlink(filepath.Dir(secret), filepath.Join(chat, "media", "out"))
	md := ""
	for i, target := range []string{"./media/link.txt", "./media/adir", "./media/out/secret.txt", "./media/real.txt/x", "./media/real.txt", "../C/media/real.txt", "./%2e%2e/%2e%2e/x"} {
		md += fmt.Sprintf("[2022-01-01 10:00:%02d] Me:   [f](%s)  \n\n", i, target)
	}
	md += "[2022-01-01 10:01:00] Me: /etc/passwd  [f](/etc/passwd)  \n\n"
	os.WriteFile(filepath.Join(chat, "chat.md"), []byte(md), 0o644)
	s := mustRun(t, chat, importers.Options{TZ: time.UTC})
	var got []string
	for _, m := range s.msgs {
		a := m["attachments"]
		if a == nil {
			got = append(got, "text:"+m["text"].(string))
			continue
		}
		am := a.([]any)[0].(map[string]any)
		got = append(got, fmt.Sprintf("%v %v", am["missing"], am["size"]))
	}
	want := []string{"symlink refused <nil>", "not a regular file <nil>", "outside the export <nil>", "not found in export <nil>", "<nil> 4", "outside the export <nil>", "outside the export <nil>", "text:/etc/passwd  [f](/etc/passwd)"}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	for _, l := range s.lines {
		if strings.Contains(l, "secret") && !strings.Contains(l, "out/secret.txt") {
			t.Fatal("read outside the export")
		}
	}
}

// TestChecklist10_Duplicates (§10.10): identical messages in the same second
// get distinct ids; an overlapping later export (more messages, reactions
// added) gives the same ids to the same messages.
func TestChecklist10_Duplicates(t *testing.T) {
	r := mustRun(t, aliceMD, importers.Options{TZ: berlin})
	var oks []string
	for _, m := range r.msgs {
		if m["text"] == "ok" {
			oks = append(oks, m["id"].(string))
		}
	}
	if len(oks) != 2 || oks[0] == oks[1] {
		t.Fatalf("duplicates: %v", oks)
	}
	first := "[2022-01-01 10:00:00] A: hello  \n\n[2022-01-01 10:00:00] A: hello  \n\n[2022-01-01 10:01:00] B: photo  \n\n"
	later := "[2022-01-01 10:00:00] A: hello  \n\n[2022-01-01 10:00:00] A: hello  \n(- B: 👍 -)\n\n[2022-01-01 10:01:00] B: photo  \n(- A: ❤️ -)\n\n[2022-01-02 09:00:00] A: next day  \n\n"
	a := mustRun(t, writeFile(t, "X/chat.md", first), importers.Options{TZ: time.UTC})
	b := mustRun(t, writeFile(t, "X/chat.md", later), importers.Options{TZ: time.UTC})
	for i := range a.msgs {
		if a.msgs[i]["id"] != b.msgs[i]["id"] || a.msgs[i]["conversation"] != b.msgs[i]["conversation"] {
			t.Fatalf("message %d: ids differ between overlapping exports", i)
		}
	}
	if b.msgs[1]["reactions"] == nil {
		t.Fatal("later reactions lost")
	}
}

// TestChecklist11_Ordering (§10.11): lines out of time order are kept in file
// order without complaint; a quote of a message that comes later is not
// linked.
func TestChecklist11_Ordering(t *testing.T) {
	p := writeFile(t, "o.md", "[2022-01-02 10:00:00] A: later  \n\n[2022-01-01 10:00:00] B: \n\n> earlier\n\nreply first  \n\n[2022-01-01 09:00:00] A: earlier  \n\n")
	r := mustRun(t, p, importers.Options{TZ: time.UTC})
	if len(r.lines) != 3 || r.msgs[0]["text"] != "later" || r.msgs[1]["reply_to"] != nil || len(r.warns) != 0 {
		t.Fatalf("%d lines, %v, warnings %v", len(r.lines), r.msgs[1], r.warns)
	}
}

// TestChecklist12_EditsAndDeletes (§10.12): signal-export writes the latest
// text of an edited message and no edit time; a deleted message is a line of
// its own text.
func TestChecklist12_EditsAndDeletes(t *testing.T) {
	r := mustRun(t, exportDir, importers.Options{TZ: berlin})
	for _, m := range r.msgs {
		if m["edited_at"] != nil {
			t.Fatal("edited_at invented")
		}
	}
	d := r.byText(t, "(This message was deleted)")
	if d["kind"] != "message" || d["sender"] != "AliceSmith" {
		t.Fatalf("deleted: %v", d)
	}
}

// TestChecklist13_UnknownShapesStayText (§10.13): markers of an unknown or
// damaged shape stay text and raise no warning.
func TestChecklist13_UnknownShapesStayText(t *testing.T) {
	body := strings.Join([]string{
		"[2022-01-01 10:00:00] A: x  \n(- no emoji here -)",
		"[2022-01-01 10:00:01] A: x  \n(( ))",
		"[2022-01-01 10:00:02] A: [a](https://e.com/x.png)  ",
		"[2022-01-01 10:00:03] A: [a](./has space.png)  ",
		"[2022-01-01 10:00:04] A: (- A: 👍 -)",
	}, "\n\n") + "\n\n"
	r := mustRun(t, writeFile(t, "u.md", body), importers.Options{TZ: time.UTC})
	want := []string{"x  \n(- no emoji here -)", "x  \n(( ))", "[a](https://e.com/x.png)", "[a](./has space.png)", "(- A: 👍 -)"}
	for i, m := range r.msgs {
		if m["text"] != want[i] || m["attachments"] != nil || m["reactions"] != nil {
			t.Errorf("%d: %q %v %v", i, m["text"], m["attachments"], m["reactions"])
		}
	}
	if len(r.warns) != 0 {
		t.Errorf("warnings: %v", r.warns)
	}
}

// TestChecklist14_Containers (§10.14): an export folder (chat folders and
// loose transcripts), a chat folder, chat.md or index.md alone.
func TestChecklist14_Containers(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "Old"), 0o755)
	os.MkdirAll(filepath.Join(dir, "Empty"), 0o755)
	os.WriteFile(filepath.Join(dir, "Old", "index.md"), []byte("[2020-01-01, 10:00] A: old name\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "loose.txt"), []byte("[2020-01-01, 10:00] B: loose\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("# not a chat\n"), 0o644)
	r := mustRun(t, dir, importers.Options{TZ: time.UTC})
	var convs []string
	for _, m := range r.msgs {
		convs = append(convs, m["conversation"].(string))
	}
	if !slices.Equal(convs, []string{"signal:Old", "signal:loose"}) {
		t.Fatalf("conversations %v", convs)
	}
	if one := mustRun(t, filepath.Join(dir, "Old", "index.md"), importers.Options{TZ: time.UTC}); one.msgs[0]["conversation"] != "signal:Old" {
		t.Fatalf("index.md: %v", one.msgs[0]["conversation"])
	}
	if !Detect(dir) || Detect(filepath.Join(dir, "Empty")) {
		t.Fatal("Detect on containers")
	}
}
