package signal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

var (
	exportDir = filepath.Join("testdata", "export")
	aliceDir  = filepath.Join("testdata", "export", "AliceSmith")
	aliceMD   = filepath.Join("testdata", "export", "AliceSmith", "chat.md")
)

// TestDetect: transcripts, chat folders and export folders are recognised;
// other text is not.
func TestDetect(t *testing.T) {
	for _, p := range []string{exportDir, aliceDir, aliceMD, filepath.Join("testdata", "v1", "Bob Jones.txt"),
		filepath.Join("testdata", "odd", "crlf_bom.md"), filepath.Join("testdata", "v1")} {
		if !Detect(p) {
			t.Errorf("Detect(%s) = false", p)
		}
	}
	dir := t.TempDir()
	others := map[string]string{
		"notes.md":                      "# notes\n[2022-01-01 10:00:00] Me: x\n",
		"result.json":                   `{"messages":[]}`,
		"WhatsApp Chat with Bob.txt":    "[2022-01-01, 10:00] Bob: hi\n",
		"_chat.txt":                     "[2022-01-01, 10:00] Bob: hi\n",
		"chat.log":                      "[2022-01-01 10:00:00] Me: hi\n",
		"no-colon.md":                   "[2022-01-01 10:00:00] Me hi\n",
		"slashes.txt":                   "[01/01/2022, 10:00] Bob: hi\n",
		"short.md":                      "[2022-01-01 10:00] \n",
		"empty-folder/placeholder.json": "{}",
	}
	for name, content := range others {
		p := writeFile(t, name, content)
		if Detect(p) {
			t.Errorf("Detect(%s) = true", name)
		}
		os.Rename(p, filepath.Join(dir, filepath.Base(p)))
	}
	if Detect(dir) || Detect(filepath.Join(dir, "nope.md")) {
		t.Error("a folder without transcripts was detected")
	}
}

// TestMapping spells out the field mapping on the main fixture.
func TestMapping(t *testing.T) {
	r := mustRun(t, exportDir, importers.Options{TZ: berlin})
	m := r.byText(t, "Look at this")
	want := map[string]any{
		"conversation":      "signal:AliceSmith",
		"conversation_name": "AliceSmith",
		"kind":              "message",
		"time":              "2022-01-01T10:03:00+01:00",
		"time_basis":        "assumed_tz:Europe/Berlin",
		"sender":            "AliceSmith",
		"sender_name":       "AliceSmith",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if !strings.HasPrefix(m["id"].(string), "syn:") || len(m["id"].(string)) != 68 {
		t.Errorf("id %v", m["id"])
	}
	if got := fmt.Sprint(m["reactions"]); got != "[map[by:[Me] count:1 emoji:👍] map[by:[BobJones] count:1 emoji:❤️]]" {
		t.Errorf("reactions %s", got)
	}
	if got := fmt.Sprint(m["attachments"]); !strings.Contains(got, "name:2022-01-01T10-03-00.000_00_photo.jpg") || !strings.Contains(got, "mime:image/jpeg") || !strings.Contains(got, "size:22") {
		t.Errorf("attachments %s", got)
	}
	if raw := m["raw"].(string); !strings.HasPrefix(raw, "[2022-01-01 10:03:00] AliceSmith: Look at this  \n(- Me:") || strings.HasSuffix(raw, "\n") {
		t.Errorf("raw %q", raw)
	}
	fam := r.byText(t, "Yes!")
	if got := fmt.Sprint(fam["reactions"]); got != "[map[by:[AliceSmith Me] count:2 emoji:👍] map[by:[CarolDeLaCruz] count:1 emoji:😂]]" {
		t.Errorf("grouped reactions %s", got)
	}
	if len(r.lines) != 26 {
		t.Errorf("%d messages, want 26 (22 + 4)", len(r.lines))
	}
}

// TestOpenFolderChatFolderOrFile: the three ways to name a chat give the
// same conversation and ids; only the sticker outside the chat folder
// differs.
func TestOpenFolderChatFolderOrFile(t *testing.T) {
	all := mustRun(t, exportDir, importers.Options{TZ: berlin})
	folder := mustRun(t, aliceDir, importers.Options{TZ: berlin})
	file := mustRun(t, aliceMD, importers.Options{TZ: berlin})
	if !slices.Equal(folder.lines, file.lines) {
		t.Fatal("chat folder and chat.md differ")
	}
	var ids []string
	for _, m := range all.msgs {
		if m["conversation"] == "signal:AliceSmith" {
			ids = append(ids, m["id"].(string))
		}
	}
	var fids []string
	diff := 0
	for i, m := range folder.msgs {
		fids = append(fids, m["id"].(string))
		if folder.lines[i] != all.lines[i] {
			diff++
			if !strings.Contains(folder.lines[i], "exported_stickers") {
				t.Errorf("unexpected difference: %s", folder.lines[i])
			}
		}
	}
	if !slices.Equal(ids, fids) || diff != 1 {
		t.Fatalf("ids differ or %d lines differ", diff)
	}
}

// TestTrapQuotes (§5): a quote is left out of the text and linked to the
// latest message with exactly the quoted text; a quote of nothing known
// has no reply_to.
func TestTrapQuotes(t *testing.T) {
	r := mustRun(t, aliceMD, importers.Options{TZ: berlin})
	parent := r.byText(t, "Hi!\nSecond line\n\nAfter a blank line")
	reply := r.byText(t, "Glad you wrote")
	if reply["reply_to"] != parent["id"] {
		t.Errorf("reply_to %v, want %v", reply["reply_to"], parent["id"])
	}
	if m := r.byText(t, "nothing quoted matches"); m["reply_to"] != nil {
		t.Errorf("unmatched quote linked: %v", m["reply_to"])
	}
	// Parts unit cases.
	cases := []struct {
		in, text, quote string
	}{
		{"\n\n> q\n\nbody  ", "body", "q"},
		{"\n\n> \n\n  ", "", ""},
		{"\n\n> a\n> \n> b\n\n  ", "", "a\n\nb"},
		{"\n\n> no blank after\nbody  ", "\n\n> no blank after\nbody", ""},
		{"> not a quote  ", "> not a quote", ""},
	}
	for _, c := range cases {
		p := decompose(c.in)
		if p.text != c.text || p.quote != c.quote {
			t.Errorf("decompose(%q) = text %q quote %q, want %q %q", c.in, p.text, p.quote, c.text, c.quote)
		}
	}
}

// TestTrapReactionLines (§5): "(- Name: emoji, … -)" after the body, names
// with ", " or ": " in them; a body line of that shape (padded) stays text.
func TestTrapReactionLines(t *testing.T) {
	rx, ok := parseReactions("Smith, John: 👍, Dr: Who: ❤️, Me: 👍, : 😂")
	if !ok || fmt.Sprint(rx) != "[{👍 2 [Smith, John Me]} {❤️ 1 [Dr: Who]} {😂 1 []}]" {
		t.Errorf("parseReactions: %v %v", rx, ok)
	}
	for _, bad := range []string{"", "no colon", "a: b c", "a: 👍, trailing"} {
		if _, ok := parseReactions(bad); ok {
			t.Errorf("parseReactions(%q) accepted", bad)
		}
	}
	r := mustRun(t, aliceMD, importers.Options{TZ: berlin})
	if m := r.byText(t, "my list:\n(- a: b -)\n(( not a sticker ))"); m["reactions"] != nil || m["attachments"] != nil {
		t.Errorf("a padded body line was read as a marker: %v", m)
	}
	p := decompose("hi  \n(- A: 👍 -)\n(( 😀 ))![x.jpg](./media/x.jpg)  [y.pdf](./media/y.pdf)  ")
	if p.text != "hi" || len(p.reactions) != 1 || p.sticker != "😀" || len(p.links) != 2 || !p.links[0].image || p.links[1].image {
		t.Errorf("full body: %+v", p)
	}
}

// TestTrapStickers (§5): a sticker with a file is a link into
// ../exported_stickers, found only when the whole export is imported; one
// without is "(( label ))", an attachment that was not exported.
func TestTrapStickers(t *testing.T) {
	all := mustRun(t, exportDir, importers.Options{TZ: berlin})
	one := mustRun(t, aliceDir, importers.Options{TZ: berlin})
	find := func(r *result) map[string]any {
		for _, m := range r.msgs {
			if strings.Contains(m["raw"].(string), "exported_stickers") {
				return m
			}
		}
		t.Fatal("no sticker message")
		return nil
	}
	a := find(all)["attachments"].([]any)[0].(map[string]any)
	if a["name"] != "1.webp" || a["blob"] == nil || a["mime"] != "image/webp" {
		t.Errorf("sticker in a full export: %v", a)
	}
	b := find(one)["attachments"].([]any)[0].(map[string]any)
	if b["missing"] != "outside the export" || b["blob"] != nil {
		t.Errorf("sticker outside the chat folder: %v", b)
	}
	m := all.at(t, "2022-01-01 10:05:00")
	if _, ok := m["text"]; ok || fmt.Sprint(m["attachments"]) != "[map[missing:not exported name:😀]]" {
		t.Errorf("sticker without a file: %v", m)
	}
}

// TestTrapCallsAndDeleted (§5): call records are service phone_call; a
// deleted message keeps signal-export's text.
func TestTrapCallsAndDeleted(t *testing.T) {
	r := mustRun(t, exportDir, importers.Options{TZ: berlin})
	for _, s := range []string{"Outgoing voice call (accepted, 1m 5s)", "Missed video call", "Incoming call"} {
		if m := r.byText(t, s); m["kind"] != "service" || m["service"] != "phone_call" {
			t.Errorf("%q: %v %v", s, m["kind"], m["service"])
		}
	}
	if m := r.byText(t, "(This message was deleted)"); m["kind"] != "message" {
		t.Errorf("deleted: %v", m)
	}
	for _, s := range []string{"Incoming call!", "missed call", "Outgoing call (a) (b)", "Outgoing call\nmore"} {
		if callRE.MatchString(s) {
			t.Errorf("%q taken for a call record", s)
		}
	}
}

// TestTrapPadding (§5): the two spaces signal-export adds are not text; a
// body's own trailing spaces are, and backticks were removed by the exporter.
func TestTrapPadding(t *testing.T) {
	p := writeFile(t, "Pad/chat.md", "[2022-01-01 10:00:00] Me: three spaces   \n\n[2022-01-01 10:00:01] Me: none\n\n")
	r := mustRun(t, p, importers.Options{TZ: time.UTC})
	if r.msgs[0]["text"] != "three spaces " || r.msgs[1]["text"] != "none" {
		t.Errorf("padding: %q %q", r.msgs[0]["text"], r.msgs[1]["text"])
	}
	if r.msgs[0]["conversation"] != "signal:Pad" {
		t.Errorf("chat.md is named after its folder: %v", r.msgs[0]["conversation"])
	}
}

// TestErrors: malformed input is an ErrMalformed *Error naming the file and
// line; SkipInvalid reports and goes on.
func TestErrors(t *testing.T) {
	notes := filepath.Join("testdata", "odd", "notes.md")
	r := run(t, notes, importers.Options{})
	var se *Error
	if !errors.As(r.err, &se) || !errors.Is(r.err, importers.ErrMalformed) || se.Line != 1 || !strings.Contains(r.err.Error(), notes+": line 1: not a signal-export transcript") {
		t.Fatalf("not a transcript: %v", r.err)
	}
	if r := run(t, notes, importers.Options{SkipInvalid: true}); r.err != nil || len(r.skipped) != 1 || len(r.lines) != 0 {
		t.Fatalf("SkipInvalid: %v %v", r.err, r.skipped)
	}
	bad := filepath.Join("testdata", "odd", "bad_date.md")
	r = run(t, bad, importers.Options{TZ: time.UTC})
	if r.err == nil || !strings.Contains(r.err.Error(), bad+`: line 3: no such date or time: "2022-02-30 10:00:00"`) || len(r.lines) != 1 {
		t.Fatalf("bad date: %v (%d lines)", r.err, len(r.lines))
	}
	r = run(t, bad, importers.Options{TZ: time.UTC, SkipInvalid: true})
	if r.err != nil || len(r.lines) != 2 || len(r.skipped) != 1 {
		t.Fatalf("bad date, SkipInvalid: %v %d %v", r.err, len(r.lines), r.skipped)
	}
	// A line longer than 4 MiB.
	long := "[2022-01-01 10:00:00] Me: ok\n\n[2022-01-01 10:00:01] Me: " + strings.Repeat("x", maxLine+10) + "\n\n[2022-01-01 10:00:02] Me: after\n\n"
	p := writeFile(t, "long.md", long)
	r = run(t, p, importers.Options{TZ: time.UTC})
	if r.err == nil || !strings.Contains(r.err.Error(), "line 3: message larger than the limit") {
		t.Fatalf("long line: %v", r.err)
	}
	r = run(t, p, importers.Options{TZ: time.UTC, SkipInvalid: true})
	if r.err != nil || len(r.lines) != 2 || r.msgs[1]["text"] != "after" {
		t.Fatalf("long line, SkipInvalid: %v %d", r.err, len(r.lines))
	}
	// An export folder without transcripts.
	if r := run(t, t.TempDir(), importers.Options{}); !errors.Is(r.err, importers.ErrMalformed) {
		t.Fatalf("empty folder: %v", r.err)
	}
	// An empty transcript: no messages, no error.
	if r := run(t, writeFile(t, "Empty/chat.md", ""), importers.Options{}); r.err != nil || len(r.lines) != 0 {
		t.Fatalf("empty: %v", r.err)
	}
}

// TestInvalidUTF8: replaced, warned once.
func TestInvalidUTF8(t *testing.T) {
	p := writeFile(t, "u.md", "[2022-01-01 10:00:00] Me: bad \xff byte\n\n[2022-01-01 10:00:01] Me: again \xfe\n\n")
	r := mustRun(t, p, importers.Options{TZ: time.UTC})
	if r.msgs[0]["text"] != "bad \uFFFD byte" || len(r.warns) != 1 {
		t.Fatalf("%v %v", r.msgs[0]["text"], r.warns)
	}
}

// TestExclude: an excluded conversation is skipped.
func TestExclude(t *testing.T) {
	all := mustRun(t, exportDir, importers.Options{})
	ex := mustRun(t, exportDir, importers.Options{Exclude: map[string]bool{"signal:AliceSmith": true}})
	if len(ex.lines) != 4 || len(all.lines) != 26 {
		t.Fatalf("exclude: %d of %d", len(ex.lines), len(all.lines))
	}
	for _, m := range ex.msgs {
		if m["conversation"] != "signal:Family" {
			t.Fatal("excluded conversation imported")
		}
	}
	if one := mustRun(t, aliceMD, importers.Options{Exclude: map[string]bool{"signal:AliceSmith": true}}); len(one.lines) != 0 {
		t.Fatal("excluded single chat imported")
	}
}

// TestReimportDeterministic imports every fixture twice: byte-identical
// lines and logs.
func TestReimportDeterministic(t *testing.T) {
	paths := []string{exportDir, aliceDir, filepath.Join("testdata", "v1"), filepath.Join("testdata", "odd", "crlf_bom.md"), samplesDir}
	for _, p := range paths {
		a := run(t, p, importers.Options{SkipInvalid: true})
		b := run(t, p, importers.Options{SkipInvalid: true})
		if !slices.Equal(a.lines, b.lines) || len(a.lines) == 0 || a.log() != b.log() {
			t.Fatalf("%s: re-import differs or is empty (%d vs %d lines)", p, len(a.lines), len(b.lines))
		}
	}
}

// TestContextCancelled: Next stops when the context ends.
func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src, err := Open(ctx, exportDir, importers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := src.Next(); !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %v", err)
	}
}

// TestBlobsReadable: blobs open after later messages were read, and not
// after Close.
func TestBlobsReadable(t *testing.T) {
	src, err := Open(context.Background(), exportDir, importers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var all []canon.Blob
	for {
		_, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, src.(canon.BlobLister).Blobs()...)
	}
	if len(all) != 6 {
		t.Fatalf("%d blobs, want 6 (photo, pdf, sticker, png, txt, one cake for two identical files)", len(all))
	}
	for _, b := range all {
		rc, err := b.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if int64(len(data)) != b.Size {
			t.Fatal("blob size differs")
		}
	}
	src.Close()
	if _, err := all[0].Open(); err == nil {
		t.Fatal("blob opened after Close")
	}
}

// TestSmallReads: reading one byte (or half a buffer) at a time changes
// nothing.
func TestSmallReads(t *testing.T) {
	defer func(f func(io.Reader) io.Reader) { testReader = f }(testReader)
	for _, p := range []string{exportDir, filepath.Join("testdata", "v1"), filepath.Join("testdata", "odd")} {
		testReader = func(r io.Reader) io.Reader { return r }
		want := run(t, p, importers.Options{SkipInvalid: true, TZ: berlin})
		for _, wrap := range []func(io.Reader) io.Reader{iotest.OneByteReader, iotest.HalfReader, iotest.DataErrReader} {
			testReader = wrap
			got := run(t, p, importers.Options{SkipInvalid: true, TZ: berlin})
			if !slices.Equal(got.lines, want.lines) || got.log() != want.log() {
				t.Fatalf("%s: small reads change the result", p)
			}
		}
	}
}

// TestReadErrorIsNotMalformed: an I/O error is returned as such, not as
// malformed input, and SkipInvalid does not hide it.
func TestReadErrorIsNotMalformed(t *testing.T) {
	defer func(f func(io.Reader) io.Reader) { testReader = f }(testReader)
	testReader = func(r io.Reader) io.Reader { return iotest.TimeoutReader(iotest.HalfReader(r)) }
	for _, o := range []importers.Options{{}, {SkipInvalid: true}} {
		r := run(t, aliceMD, o)
		if !errors.Is(r.err, iotest.ErrTimeout) || errors.Is(r.err, importers.ErrMalformed) {
			t.Fatalf("read error: %v", r.err)
		}
	}
}

// TestPathologicalBodiesAreLinear: a message made of 100k links, or a
// reaction-like line of 100k items without a name, is read quickly.
func TestPathologicalBodiesAreLinear(t *testing.T) {
	for _, body := range []string{
		strings.Repeat("[x](./m/x)  ", 100000),
		"x  \n(- " + strings.Repeat("a, ", 200000) + "b: 👍 -)",
		"x  \n(- " + strings.Repeat("a: b c, ", 100000) + " -)",
		strings.Repeat("](.", 300000) + ")",
		strings.Repeat("[", 300000) + "](./x)",
	} {
		start := time.Now()
		p := writeFile(t, "p.md", "[2022-01-01 10:00:00] A: "+body+"\n")
		r := mustRun(t, p, importers.Options{TZ: time.UTC})
		limit := 5 * time.Second // quadratic work would take hours
		if raceEnabled {
			limit *= 10
		}
		if len(r.lines) != 1 || time.Since(start) > limit {
			t.Fatalf("%d lines in %v", len(r.lines), time.Since(start))
		}
	}
}
