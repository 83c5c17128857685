package messenger

// Tests named after the cross-format checklist (chat-formats.md §10). Item 4
// (day/month order, locale tokens) does not apply: every time is a number.
// Item 2 is in large_test.go.

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

// TestChecklist1_InvalidJSON (§10.1): Meta's exporter writes valid JSON (no
// repair pass is known to be needed); damaged files are errors naming the
// file and the byte offset of the damage, and SkipInvalid goes on with the
// next file of the thread.
func TestChecklist1_InvalidJSON(t *testing.T) {
	dir := t.TempDir()
	th := filepath.Join(dir, "x_1")
	os.MkdirAll(th, 0o755)
	os.WriteFile(filepath.Join(th, "message_1.json"), []byte(`{"messages":[{"sender_name":"a","timestamp_ms":1700000000002,"content":"\x"}]}`), 0o644)
	os.WriteFile(filepath.Join(th, "message_2.json"), []byte(`{"messages":[{"sender_name":"a","timestamp_ms":1700000000001,"content":"older"}],"title":"X"}`), 0o644)
	r := run(t, th, importers.Options{})
	if r.err == nil || !strings.Contains(r.err.Error(), "message_1.json: byte offset 73: invalid JSON in a message") {
		t.Fatalf("%v", r.err)
	}
	s := run(t, th, importers.Options{SkipInvalid: true})
	if s.err != nil || len(s.lines) != 1 || len(s.skipped) != 1 || s.msgs[0]["conversation_name"] != "X" {
		t.Fatalf("SkipInvalid: %v %d %v", s.err, len(s.lines), s.skipped)
	}
	// A byte order mark (a file saved by an editor) is accepted.
	p := writeFile(t, "b_1/message_1.json", "\xEF\xBB\xBF"+`{"messages":[{"sender_name":"a","timestamp_ms":1700000000000}],"title":"B"}`)
	if r := mustRun(t, p, importers.Options{}); len(r.lines) != 1 || r.msgs[0]["conversation_name"] != "B" {
		t.Fatalf("BOM: %v", r.lines)
	}
}

// TestChecklist3_Time (§10.3): timestamp_ms is exact UTC with milliseconds,
// whatever Options.TZ; string-encoded numbers read the same (same id);
// seconds (old "timestamp", or a too-small timestamp_ms) are told by
// magnitude.
func TestChecklist3_Time(t *testing.T) {
	doc := `{"messages":[
		{"sender_name":"a","timestamp_ms":1668628203612,"content":"n"},
		{"sender_name":"a","timestamp_ms":"1668628203612","content":"n"},
		{"sender_name":"a","timestamp_ms":1668628203612.0,"content":"f"},
		{"sender_name":"a","timestamp":1500000000,"content":"s"},
		{"sender_name":"a","timestamp_ms":1500000000,"content":"s2"},
		{"sender_name":"a","timestamp":1668628203612,"content":"e2ee ms"},
		{"sender_name":"a","timestamp_ms":0,"content":"epoch"}]}`
	p := writeFile(t, "t_1/message_1.json", doc)
	utc := mustRun(t, p, importers.Options{TZ: time.UTC})
	ber := mustRun(t, p, importers.Options{TZ: berlin})
	if !slices.Equal(utc.lines, ber.lines) {
		t.Fatal("Options.TZ changes exact times")
	}
	var times []any
	for _, m := range utc.msgs {
		times = append(times, m["time"])
		if m["time_basis"] != "exact" {
			t.Fatalf("basis %v", m["time_basis"])
		}
	}
	want := []any{"2022-11-16T19:50:03.612Z", "2022-11-16T19:50:03.612Z", "2022-11-16T19:50:03.612Z", "2017-07-14T02:40:00Z",
		"2017-07-14T02:40:00Z", "2022-11-16T19:50:03.612Z", "1970-01-01T00:00:00Z"}
	if !slices.Equal(times, want) {
		t.Fatalf("times %v\nwant  %v", times, want)
	}
	// A number and the same number as a string: one message, the second a
	// duplicate of the first.
	q := writeFile(t, "t_1/message_1.json", `{"messages":[{"sender_name":"a","timestamp_ms":"1668628203612","content":"n"}]}`)
	if r := mustRun(t, q, importers.Options{}); r.msgs[0]["id"] != utc.msgs[0]["id"] {
		t.Fatal("a string-encoded timestamp changes the id")
	}
}

// TestChecklist5_InvisibleUnicode (§10.5): bidi marks, isolates, NBSP,
// NNBSP and BOM inside text stay verbatim (after the mojibake repair).
func TestChecklist5_InvisibleUnicode(t *testing.T) {
	r := mustRun(t, alice2, importers.Options{})
	r.byText(t, "Invisible:\u200e left\u200f right\u00a0nbsp\u202fnnbsp \u2066iso\u2069 👩‍👩‍👧 👍🏽 e\u0301 \ufeffbom")
}

// TestChecklist6_Mojibake (§10.6): names, contents, titles, reactions and
// file names repaired; NFD stays NFD; ZWJ sequences and skin tones intact.
func TestChecklist6_Mojibake(t *testing.T) {
	r := mustRun(t, fbRoot, importers.Options{})
	fam := r.byText(t, "Olá família 👨‍👩‍👧")
	if fam["sender"] != "João Silva" || fam["conversation_name"] != "Família 🏠" || fmt.Sprint(fam["reactions"]) != "[map[by:[Zoë Ünal] count:1 emoji:👍🏽]]" {
		t.Fatalf("%v", fam)
	}
	var names []string
	for _, m := range r.msgs {
		if a, ok := m["attachments"].([]any); ok {
			for _, x := range a {
				if n, ok := x.(map[string]any)["name"].(string); ok {
					names = append(names, n)
				}
			}
		}
	}
	if !slices.Contains(names, "résumé_303.pdf") {
		t.Fatalf("file names: %v", names)
	}
	if s := r.byText(t, "Invisible:\u200e left\u200f right\u00a0nbsp\u202fnnbsp \u2066iso\u2069 👩‍👩‍👧 👍🏽 e\u0301 \ufeffbom"); !strings.Contains(s["text"].(string), "e\u0301") {
		t.Fatal("NFD normalised")
	}
}

// TestChecklist7_Senders (§10.7): name-only identity; "Facebook user"
// (deleted account) kept; a message without sender_name has no sender;
// emoji-only names.
func TestChecklist7_Senders(t *testing.T) {
	r := mustRun(t, alice2, importers.Options{})
	if m := r.byText(t, "from a deleted account"); m["sender"] != "Facebook user" || m["sender_name"] != "Facebook user" {
		t.Errorf("%v", m)
	}
	if m := r.byText(t, "no sender at all"); m["sender"] != nil || m["sender_name"] != nil {
		t.Errorf("%v", m)
	}
	if _, err := os.Stat(mojibake); err == nil {
		s := mustRun(t, mojibake, importers.Options{})
		if m := s.byText(t, "Testing username only emoji: ❤️"); m["sender"] != "❤️" {
			t.Errorf("%v", m["sender"])
		}
	}
}

// TestChecklist8_MultilineBodies (§10.8): content with newlines is kept as
// is.
func TestChecklist8_MultilineBodies(t *testing.T) {
	mustRun(t, alice2, importers.Options{}).byText(t, "Line one\nLine two\n\nLine four")
}

// TestChecklist9_Media (§10.9): files found from the thread folder or any
// folder above (the uri is relative to the export root), remote urls not
// downloaded, "..", absolute paths and file: urls refused, Windows
// backslashes read, identical files one blob, symlinks and folders refused,
// a file of another zip part not found.
func TestChecklist9_Media(t *testing.T) {
	r := mustRun(t, alice1, importers.Options{})
	m := r.atTime(t, "2023-11-14T22:13:20.300Z")
	var got []string
	for _, a := range m["attachments"].([]any) {
		a := a.(map[string]any)
		got = append(got, fmt.Sprintf("%v/%v/%v", a["name"], a["missing"], a["blob"] != nil))
	}
	want := []string{"passwd/outside the export/false", "passwd/outside the export/false", "101_201.jpg/<nil>/true",
		"<nil>/no uri in export/false", "passwd/outside the export/false"}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	photo := r.atTime(t, "2023-11-14T22:13:26.000Z")
	if len(r.blobs[photo["id"].(string)]) != 1 {
		t.Fatal("identical photos should be one blob")
	}
	gif := r.atTime(t, "2023-11-14T22:13:24.000Z")
	if s := gif["attachments"].([]any); s[0].(map[string]any)["missing"] != "not downloaded" || s[1].(map[string]any)["missing"] != "not found in export" {
		t.Fatalf("gif and sticker (outside the thread folder): %v", s)
	}
	full := mustRun(t, fbRoot, importers.Options{})
	if s := full.byID(t, gif["id"].(string))["attachments"].([]any); s[1].(map[string]any)["blob"] == nil {
		t.Fatalf("sticker from the export root: %v", s)
	}

	// Symlinks and folders, inside a copy of a thread.
	dir := t.TempDir()
	th := filepath.Join(dir, "inbox", "z_9")
	os.MkdirAll(filepath.Join(th, "photos", "adir"), 0o755)
	secret := filepath.Join(t.TempDir(), "secret.jpg")
	os.WriteFile(secret, []byte("secret"), 0o644)
	if err := os.Symlink(secret, filepath.Join(th, "photos", "link.jpg")); err != nil {
		t.Skip("no symlinks here")
	}
	os.Symlink(filepath.Dir(secret), filepath.Join(th, "photos", "out"))
	doc := `{"messages":[{"sender_name":"a","timestamp_ms":1700000000000,"photos":[
		{"uri":"messages/inbox/z_9/photos/link.jpg"},{"uri":"messages/inbox/z_9/photos/adir"},
		{"uri":"messages/inbox/z_9/photos/out/secret.jpg"},{"uri":"messages/inbox/z_9/photos/gone.jpg"},
		{"uri":"C:\\Users\\x\\a.jpg"},{"uri":"messages/inbox/z_9/photos/../../../../x.jpg"}]}]}`
	os.WriteFile(filepath.Join(th, "message_1.json"), []byte(doc), 0o644)
	s := mustRun(t, filepath.Join(dir, "inbox"), importers.Options{})
	got = nil
	for _, a := range s.msgs[0]["attachments"].([]any) {
		got = append(got, fmt.Sprint(a.(map[string]any)["missing"]))
	}
	want = []string{"symlink refused", "not a regular file", "outside the export", "not found in export", "outside the export", "outside the export"}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

// TestChecklist10_Duplicates (§10.10): identical messages (same ms, sender,
// content) get distinct ids, counted across the parts of a thread; an
// overlapping later export, where newer messages pushed older ones into
// message_2, gives the same ids.
func TestChecklist10_Duplicates(t *testing.T) {
	r := mustRun(t, aliceDir, importers.Options{})
	ids := map[string]bool{}
	n := 0
	for _, m := range r.msgs {
		if m["text"] == "same ms, same text" {
			n++
			ids[m["id"].(string)] = true
		}
	}
	if n != 3 || len(ids) != 3 {
		t.Fatalf("%d duplicates, %d ids", n, len(ids))
	}
	msg := func(ms int, text string) string {
		return fmt.Sprintf(`{"sender_name":"A","timestamp_ms":%d,"content":%q}`, ms, text)
	}
	dir := t.TempDir()
	old := filepath.Join(dir, "old", "t_1")
	now := filepath.Join(dir, "new", "t_1")
	os.MkdirAll(old, 0o755)
	os.MkdirAll(now, 0o755)
	os.WriteFile(filepath.Join(old, "message_1.json"), []byte(`{"messages":[`+msg(1700000000003, "c")+","+msg(1700000000002, "b")+","+msg(1700000000002, "b")+","+msg(1700000000001, "a")+`]}`), 0o644)
	os.WriteFile(filepath.Join(now, "message_1.json"), []byte(`{"messages":[`+msg(1700000000005, "e")+","+msg(1700000000004, "d")+","+msg(1700000000003, "c")+`]}`), 0o644)
	os.WriteFile(filepath.Join(now, "message_2.json"), []byte(`{"messages":[`+msg(1700000000002, "b")+","+msg(1700000000002, "b")+","+msg(1700000000001, "a")+`]}`), 0o644)
	a := mustRun(t, old, importers.Options{})
	b := mustRun(t, now, importers.Options{})
	for i := range a.msgs {
		if a.msgs[i]["id"] != b.msgs[i+2]["id"] {
			t.Fatalf("message %d: ids differ between overlapping exports", i)
		}
	}
}

// TestChecklist11_Ordering (§10.11): newest-first files and parts are read
// in file order (message_2 after message_1, message_10 after message_9);
// the archive sorts by time.
func TestChecklist11_Ordering(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t_1")
	os.MkdirAll(dir, 0o755)
	for _, n := range []int{1, 2, 9, 10} {
		doc := fmt.Sprintf(`{"messages":[{"sender_name":"a","timestamp_ms":%d,"content":"part %d"}]}`, 1700000000000-int64(n), n)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("message_%d.json", n)), []byte(doc), 0o644)
	}
	r := mustRun(t, dir, importers.Options{})
	var got []any
	for _, m := range r.msgs {
		got = append(got, m["text"])
	}
	if !slices.Equal(got, []any{"part 1", "part 2", "part 9", "part 10"}) {
		t.Fatalf("order %v", got)
	}
}

// TestChecklist12_EditsAndDeletes (§10.12): Meta exports hold no edit
// history; an unsent message stays a message without text.
func TestChecklist12_EditsAndDeletes(t *testing.T) {
	r := mustRun(t, alice1, importers.Options{})
	m := r.atTime(t, "2023-11-14T22:13:20.500Z")
	if m["raw"].(map[string]any)["is_unsent"] != true || m["kind"] != "message" || m["text"] != nil || m["edited_at"] != nil {
		t.Fatalf("%v", m)
	}
}

// TestChecklist13_UnknownTypes (§10.13): an unknown Facebook type is kept
// as service "unknown:<type>" and warned once; the encrypted download's
// types are not interpreted.
func TestChecklist13_UnknownTypes(t *testing.T) {
	doc := `{"messages":[{"sender_name":"a","timestamp_ms":1700000000000,"type":"Payment"},{"sender_name":"a","timestamp_ms":1700000000001,"type":"Payment"},
		{"sender_name":"a","timestamp_ms":1700000000002,"type":"Generic"},{"sender_name":"a","timestamp_ms":1700000000003,"type":"Share"},
		{"sender_name":"a","timestamp_ms":1700000000004,"type":"Call"},{"sender_name":"a","timestamp_ms":1700000000005,"type":"Subscribe"},
		{"sender_name":"a","timestamp_ms":1700000000006,"type":"Unsubscribe"},{"sender_name":"a","timestamp_ms":1700000000007,"type":7}]}`
	r := mustRun(t, writeFile(t, "u_1/message_1.json", doc), importers.Options{})
	var got []string
	for _, m := range r.msgs {
		got = append(got, fmt.Sprint(m["kind"], "/", m["service"]))
	}
	want := []string{"service/unknown:Payment", "service/unknown:Payment", "message/<nil>", "message/<nil>", "service/phone_call",
		"service/invite_members", "service/remove_members", "message/<nil>"}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	if len(r.warns) != 2 || !r.warned(`unknown message type "Payment"`) || !r.warned(`"type" is not a string`) {
		t.Fatalf("warnings %v", r.warns)
	}
	e := mustRun(t, e2eeDir, importers.Options{})
	for _, m := range e.msgs {
		if m["kind"] != "message" {
			t.Fatalf("encrypted download type interpreted: %v", m)
		}
	}
}

// TestChecklist14_Containers (§10.14): a part, a thread folder, inbox /
// archived_threads / messages / the export root, a folder holding several
// exports and the encrypted download; metadata JSON beside threads ignored.
func TestChecklist14_Containers(t *testing.T) {
	convs := func(p string) []string {
		var out []string
		for _, m := range mustRun(t, p, importers.Options{}).msgs {
			if c := m["conversation"].(string); !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
		return out
	}
	all := []string{"messenger:famlia_2345678901234567", aliceConv}
	for _, p := range []string{fbRoot, fbMsgs} {
		if got := convs(p); !slices.Equal(got, all) {
			t.Errorf("%s: %v", p, got)
		}
	}
	if got := convs(filepath.Join(fbMsgs, "inbox")); !slices.Equal(got, []string{aliceConv}) {
		t.Errorf("inbox: %v", got)
	}
	if got := convs("testdata"); !slices.Equal(got, append(all, "instagram:janedoe_17841400000000000", "messenger:bob_1")) {
		t.Errorf("testdata: %v", got)
	}
}
