package slack

// Traps of chat-formats.md §3 that the real samples do not cover, on the
// synthetic fixtures under testdata/, and the safety rules for zips and
// folders.

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/importers"
)

// dms.json, mpims.json and groups.json: keys by id, names as the brief says.
func TestTrap_DMsGroupsMPIMs(t *testing.T) {
	r := run(t, workspace, importers.Options{})
	for _, c := range []struct{ conv, id, name string }{
		{"slack:G0SECRET01", "1704412800.000001", "#secret-plans"},
		{"slack:D0DM000001", "1704499200.000001", "Alice Liddell, bobby"},
		{"slack:G0MPIM0001", "1704585600.000001", "Alice Liddell, bobby, Carol 👩🏽‍💻"},
		{"slack:C0RANDOM01", "1704326400.000001", "#random"},
	} {
		if m := r.find(t, c.conv, c.id); m["conversation_name"] != c.name {
			t.Errorf("%s: conversation_name %v, want %q", c.conv, m["conversation_name"], c.name)
		}
	}
	if m := r.find(t, "slack:G0SECRET01", "1704412700.000001"); m["service"] != "group_join" {
		t.Errorf("group_join: %v", m)
	}
}

// A dms.json entry without members (slackdump, PR #119) and a DM folder no
// metadata names: both keyed by the folder's id, no name, no warning.
func TestTrap_DMWithoutMembers(t *testing.T) {
	r := run(t, workspace, importers.Options{})
	for _, c := range []struct{ conv, id string }{{"slack:D0DM000002", "1704499300.000001"}, {"slack:D0NOMETA01", "1704499400.000001"}} {
		if m := r.find(t, c.conv, c.id); m["conversation_name"] != nil {
			t.Errorf("%s: name %v", c.conv, m["conversation_name"])
		}
	}
	if contains(r.warnings, "D0DM") || contains(r.warnings, "D0NOMETA01") {
		t.Errorf("warnings %q", r.warnings)
	}
}

// A folder no metadata file names is imported under "slack:name:<folder>"
// with a warning; an empty folder is silently ignored; a stray JSON file in
// a channel folder is warned about.
func TestTrap_FolderWithoutMetadata(t *testing.T) {
	r := run(t, workspace, importers.Options{})
	if m := r.find(t, "slack:name:orphan-folder", "1704672000.000001"); m["conversation_name"] != "#orphan-folder" {
		t.Errorf("%v", m)
	}
	if !contains(r.warnings, `folder "orphan-folder"`) || contains(r.warnings, "empty-channel") {
		t.Errorf("warnings %q", r.warnings)
	}
	if !contains(r.warnings, "not named YYYY-MM-DD.json") {
		t.Errorf("no warning about general/notes.json: %q", r.warnings)
	}
}

// Reactions: count may exceed the users listed; a missing count is the
// number of users; skin tones stay in the shortcode.
func TestTrap_Reactions(t *testing.T) {
	r := run(t, workspace, importers.Options{})
	got := r.find(t, general, "1704153700.000300")["reactions"].([]any)
	want := []struct {
		emoji string
		count string
		by    int
	}{{":+1:", "5", 2}, {":thumbsup::skin-tone-2:", "1", 1}, {":party-parrot:", "1", 1}}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i, w := range want {
		g := got[i].(map[string]any)
		if g["emoji"] != w.emoji || g["count"] != jsonNumber(w.count) || len(g["by"].([]any)) != w.by {
			t.Errorf("reaction %d: %v, want %+v", i, g, w)
		}
	}
}

// The legacy singular "file" object (pre-2019 file_share) becomes an
// attachment like files[] entries.
func TestTrap_LegacyFileObject(t *testing.T) {
	r := run(t, filepath.Join(samples, sampleZip), importers.Options{})
	m := r.find(t, "slack:C0JL6CGQ2", "1459052866.000012")
	atts := m["attachments"].([]any)
	if len(atts) != 1 {
		t.Fatalf("%v", atts)
	}
	a := atts[0].(map[string]any)
	if a["name"] != "100_cities.js" || a["mime"] != "text/plain" || a["size"] != jsonNumber("4163") || a["missing"] != "not in export" {
		t.Errorf("%v", a)
	}
}

// ts is the id as written: a float would lose the sequence digits.
func TestTrap_TSKeptAsString(t *testing.T) {
	dir := writeTree(t, map[string]string{"general/2024-01-01.json": `[{"ts":"1452837352.000010","text":"a"},{"ts":1452837352.000010,"text":"b"}]`})
	r := run(t, dir, importers.Options{})
	for _, l := range r.lines {
		if !strings.Contains(l, `"id":"1452837352.000010","time":"2016-01-15T05:55:52.000010Z"`) {
			t.Errorf("%s", l)
		}
	}
}

// A day file holding one object (Zulip's fixtures, some tools) is read as
// one message, with a warning.
func TestTrap_DayFileSingleObject(t *testing.T) {
	dir := writeTree(t, map[string]string{"general/2024-01-01.json": "\n  {\"ts\":\"1.000001\",\"text\":\"a\"}\n"})
	r := run(t, dir, importers.Options{})
	if len(r.lines) != 1 || !contains(r.warnings, "one object") {
		t.Errorf("%q %q", r.lines, r.warnings)
	}
	dir = writeTree(t, map[string]string{"general/2024-01-01.json": `{"ts":"1.000001"} {"ts":"1.000002"}`})
	_, err := tryRun(dir, importers.Options{})
	mustMalformed(t, err, "byte offset 18")
}

// A zip of the export's folder (all entries under one top folder) is read
// from inside that folder, with or without metadata files.
func TestTrap_ZipOfTheFolder(t *testing.T) {
	day := []byte(`[{"ts":"1.000001","text":"x"}]`)
	for _, entries := range [][]zipEntry{
		{{name: "export/general/2024-01-01.json", data: day}},
		{{name: "export/users.json", data: []byte("[]")}, {name: "export/general/2024-01-01.json", data: day}},
		{{name: "export/general/2024-01-01.json", data: day}, {name: "__MACOSX/export/._x", data: []byte("x")}},
	} {
		r := run(t, writeZip(t, entries), importers.Options{})
		if len(r.lines) != 1 || !strings.Contains(r.lines[0], `"slack:name:general"`) {
			t.Errorf("%v: %q", entries[0].name, r.lines)
		}
	}
	// A channel folder at the top is not a wrapper.
	r := run(t, writeZip(t, []zipEntry{{name: "general/2024-01-01.json", data: day}}), importers.Options{})
	if len(r.lines) != 1 || !strings.Contains(r.lines[0], `"slack:name:general"`) {
		t.Errorf("%q", r.lines)
	}
}

// Channels and day files are read in byte order of their names, whatever
// order the zip stores them in.
func TestTrap_DeterministicOrder(t *testing.T) {
	msg := func(ts string) []byte { return []byte(`[{"ts":"` + ts + `","text":"x"}]`) }
	a := writeZip(t, []zipEntry{
		{name: "b/2024-01-02.json", data: msg("4.0")}, {name: "a/2024-01-02.json", data: msg("2.0")},
		{name: "b/2024-01-01.json", data: msg("3.0")}, {name: "a/2024-01-01.json", data: msg("1.0")},
	})
	r := run(t, a, importers.Options{})
	var ids []string
	for _, l := range r.lines {
		ids = append(ids, decode(t, l)["id"].(string))
	}
	if strings.Join(ids, " ") != "1.0 2.0 3.0 4.0" {
		t.Errorf("order %v", ids)
	}
}

// Zip safety: hostile entries are refused with a clear error before
// anything is read.
func TestChecklist9_ZipHostileEntriesRefused(t *testing.T) {
	day := []byte(`[{"ts":"1.0","text":"x"}]`)
	zeros := make([]byte, 8<<20)
	cases := []struct {
		name    string
		entries []zipEntry
		want    string
	}{
		{"dotdot", []zipEntry{{name: "../evil/2024-01-01.json", data: day}}, `".." component`},
		{"dotdot inside", []zipEntry{{name: "general/../../x.json", data: day}}, `".." component`},
		{"backslash dotdot", []zipEntry{{name: `general\..\..\x.json`, data: day}}, `".." component`},
		{"absolute", []zipEntry{{name: "/etc/passwd", data: day}}, "absolute"},
		{"drive letter", []zipEntry{{name: `C:\x\2024-01-01.json`, data: day}}, "absolute"},
		{"symlink", []zipEntry{{name: "general/2024-01-01.json", data: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}}, "symlink"},
		{"duplicate", []zipEntry{{name: "general/2024-01-01.json", data: day}, {name: "general/2024-01-01.json", data: day}}, "twice"},
		{"file and folder", []zipEntry{{name: "general", data: day}, {name: "general/2024-01-01.json", data: day}}, "both a file and a folder"},
		{"bomb", []zipEntry{{name: "general/2024-01-01.json", data: zeros}}, "zip bomb"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(t.Context(), writeZip(t, c.entries), importers.Options{})
			mustMalformed(t, err, "refusing", c.want)
		})
	}
	// Not a zip at all.
	p := filepath.Join(t.TempDir(), "x.zip")
	os.WriteFile(p, []byte("PK\x03\x04 not really"), 0o644)
	_, err := Open(t.Context(), p, importers.Options{})
	mustMalformed(t, err, "not a readable zip")
}

// An entry that holds more bytes than its header declares is refused while
// reading (archive/zip and our own limit).
func TestChecklist9_ZipLyingSize(t *testing.T) {
	data := []byte(`[{"ts":"1.000001","text":"` + strings.Repeat("y", 200) + `"}]`)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "general/2024-01-01.json", Method: zip.Store,
		CompressedSize64: uint64(len(data)), UncompressedSize64: 10, CRC32: 0})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	zw.Close()
	p := filepath.Join(t.TempDir(), "lie.zip")
	os.WriteFile(p, buf.Bytes(), 0o644)
	_, err = tryRun(p, importers.Options{})
	mustMalformed(t, err, "general/2024-01-01.json")
}

// Folder exports: symlinks inside are refused (os.Root also keeps every
// open inside the folder).
func TestChecklist9_FolderSymlinksRefused(t *testing.T) {
	outside := writeTree(t, map[string]string{"secret/2024-01-01.json": `[{"ts":"1.0","text":"secret"}]`, "users.json": "[]"})
	for _, c := range []struct{ link, target string }{
		{"general/2024-01-01.json", filepath.Join(outside, "secret", "2024-01-01.json")},
		{"secret", filepath.Join(outside, "secret")},
		{"users.json", filepath.Join(outside, "users.json")},
	} {
		t.Run(c.link, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"channels.json": "[]", "general/2024-01-02.json": "[]"})
			if err := os.Symlink(c.target, filepath.Join(dir, filepath.FromSlash(c.link))); err != nil {
				t.Skip(err)
			}
			_, err := tryRun(dir, importers.Options{})
			mustMalformed(t, err, "symlink")
		})
	}
}

func TestDetect(t *testing.T) {
	notZip := filepath.Join(t.TempDir(), "notes.zip")
	os.WriteFile(notZip, []byte("hello"), 0o644)
	otherZip := writeZip(t, []zipEntry{{name: "_chat.txt", data: []byte("[1/2/24, 10:00] A: hi")}})
	onlyDays := writeZip(t, []zipEntry{{name: "general/2024-01-01.json", data: []byte("[]")}})
	dayDir := writeTree(t, map[string]string{"general/2024-01-01.json": "[]"})
	usersOnly := writeTree(t, map[string]string{"users.json": "[]"})
	jsonFile := filepath.Join(workspace, "general", "2024-01-02.json")
	for p, want := range map[string]bool{
		filepath.Join(samples, sampleZip):  true,
		filepath.Join(samples, "zulip"):    true,
		workspace:                          true,
		zipDir(t, workspace, ""):           true,
		zipDir(t, workspace, "wrapped/"):   true,
		onlyDays:                           true,
		dayDir:                             true,
		notZip:                             false,
		otherZip:                           false,
		usersOnly:                          false,
		jsonFile:                           false,
		filepath.Join(t.TempDir(), "nope"): false,
	} {
		if got := Detect(p); got != want {
			t.Errorf("Detect(%s) = %v, want %v", p, got, want)
		}
	}
}

func TestStripURLCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"https://files.slack.com/a.png?t=xoxe-1-abc":                   "https://files.slack.com/a.png",
		"https://files.slack.com/a.png?t=xoxe-1-abc&dl=1":              "https://files.slack.com/a.png?dl=1",
		"https://files.slack.com/a.png?dl=1&t=xoxe-1-abc":              "https://files.slack.com/a.png?dl=1",
		"https://files.slack.com/a.png?dl=1&amp;t=xoxe&amp;x=2":        "https://files.slack.com/a.png?dl=1&amp;x=2",
		"https://files.slack.com/a.png?t=xoxe&amp;x=2":                 "https://files.slack.com/a.png?x=2",
		"<https://x.com/a?token=abc&t=1|label> and https://y?T=xoxp-9": "<https://x.com/a?t=1|label> and https://y",
		"https://www.youtube.com/watch?v=abc&t=1m30s":                  "https://www.youtube.com/watch?v=abc&t=1m30s",
		"https://youtu.be/abc?t=42":                                    "https://youtu.be/abc?t=42",
		"https://x.com/f?pub_secret=abc#frag":                          "https://x.com/f#frag",
		"https://x.com/a b.png?t=xoxe-1":                               "https://x.com/a b.png",
		"https://x.com/?t=a&t=b&t=c":                                   "https://x.com/",
		"no url, a=b, what?t=xoxe":                                     "no url, a=b, what",
		"?t=":                                                          "",
		"plain text":                                                   "plain text",
		"https://x.com/?start=1&at=2":                                  "https://x.com/?start=1&at=2",
	} {
		if got := stripURLCredentials(in); got != want {
			t.Errorf("stripURLCredentials(%q) = %q, want %q", in, got, want)
		}
	}
	raw := []byte(`{"a":"https:\/\/f.slack.com\/x?t=xoxe-1","b":["\u0068ttps://y?t\u003dxoxe-2"],"c":"keep \"quoted\" https:\/\/z?a=1"}`)
	want := `{"a":"https://f.slack.com/x","b":["https://y"],"c":"keep \"quoted\" https:\/\/z?a=1"}`
	if got := stripRaw(raw); string(got) != want {
		t.Errorf("stripRaw:\n%s\nwant\n%s", got, want)
	}
}
