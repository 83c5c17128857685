package messenger

import (
	"bytes"
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

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

var (
	fbRoot    = filepath.Join("testdata", "facebook-jdoe-20240501")
	fbMsgs    = filepath.Join(fbRoot, "your_facebook_activity", "messages")
	aliceDir  = filepath.Join(fbMsgs, "inbox", "alicesmith_10158000000000001")
	alice1    = filepath.Join(aliceDir, "message_1.json")
	alice2    = filepath.Join(aliceDir, "message_2.json")
	igRoot    = filepath.Join("testdata", "instagram-jdoe-20240501")
	e2eeDir   = filepath.Join("testdata", "secure_storage")
	mojibake  = filepath.Join(samplesDir, "chat-miner_instagram_testlog_mojibake.json")
	aliceConv = "messenger:alicesmith_10158000000000001"
)

// TestDetect: thread files and folders at every level are recognised;
// other JSON is not.
func TestDetect(t *testing.T) {
	for _, p := range []string{fbRoot, fbMsgs, aliceDir, alice1, alice2, igRoot, e2eeDir, filepath.Join(e2eeDir, "bob_1.json"), "testdata"} {
		if !Detect(p) {
			t.Errorf("Detect(%s) = false", p)
		}
	}
	others := map[string]string{
		"result.json":          `{"name":"Saved Messages","type":"saved_messages","id":1,"messages":[{"id":1,"from":"a","date":"2024-01-01T00:00:00"}]}`,
		"dce.json":             `{"guild":{"id":"1"},"channel":{"id":"2"},"messages":[]}`,
		"array.json":           `[{"sender_name":"a","timestamp_ms":1}]`,
		"notes.txt":            `{"sender_name":"a","timestamp_ms":1}`,
		"autofill.json":        `{"autofill_information_v2":{}}`,
		"empty.json":           ``,
		"message_x.json":       `{"participants":[]}`,
		"message_1.json.bak":   `{"participants":[],"messages":[]}`,
		"sub/photos/p.json":    `{"sender_name":"a","timestamp_ms":1,"a":"sub is no export: photos/ is not walked"}`,
		"sub/message_1.txt":    `{"participants":[],"messages":[]}`,
		"deep/a/b/c/d/e/f/g/x": `{}`,
	}
	dir := t.TempDir()
	for name, content := range others {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
		if Detect(p) && !strings.Contains(name, "photos") {
			t.Errorf("Detect(%s) = true", name)
		}
	}
	if Detect(dir) || Detect(filepath.Join(dir, "sub")) {
		t.Error("a folder without threads was detected")
	}
	os.WriteFile(filepath.Join(dir, "message_1.json"), []byte(`{"participants":[{"name":"a"}],"messages":[]}`), 0o644)
	if !Detect(dir) || !Detect(filepath.Join(dir, "message_1.json")) {
		t.Error("an empty thread was not detected")
	}
}

// TestMapping spells out the mapping on the Facebook fixture.
func TestMapping(t *testing.T) {
	r := mustRun(t, fbRoot, importers.Options{})
	m := r.byText(t, "Café 😀 à bientôt")
	want := map[string]any{
		"conversation":      aliceConv,
		"conversation_name": "Alice Smith",
		"kind":              "message",
		"time":              "2023-11-14T22:13:29.000Z",
		"time_basis":        "exact",
		"sender":            "Alice Smith",
		"sender_name":       "Alice Smith",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if id := m["id"].(string); !strings.HasPrefix(id, "syn:") || len(id) != 68 {
		t.Errorf("id %s", id)
	}
	raw := m["raw"].(map[string]any)
	if raw["content"] != "Caf\u00c3\u00a9 \u00f0\u009f\u0098\u0080 \u00c3\u00a0 bient\u00c3\u00b4t" || raw["is_geoblocked_for_viewer"] != false {
		t.Errorf("raw is not the record as read: %v", raw)
	}
	if !strings.Contains(r.lines[2], `"raw":{"sender_name":"Alice Smith","timestamp_ms":1700000009000,"content":"Caf\u00c3\u00a9`) {
		t.Errorf("raw not compacted as written: %s", r.lines[2])
	}
	fam := r.byText(t, "Olá família 👨‍👩‍👧")
	if fam["conversation"] != "messenger:famlia_2345678901234567" || fam["conversation_name"] != "Família 🏠" {
		t.Errorf("group: %v", fam)
	}
	photo := r.atTime(t, "2023-11-14T22:13:26.000Z")
	if got := fmt.Sprint(photo["reactions"]); got != "[map[by:[John Doe Zoë Ünal] count:2 emoji:❤️] map[by:[Zoë Ünal] count:1 emoji:😆]]" {
		t.Errorf("reactions %s", got)
	}
	if len(r.lines) != 28 {
		t.Errorf("%d messages, want 28", len(r.lines))
	}
	ig := mustRun(t, igRoot, importers.Options{})
	for _, m := range ig.msgs {
		if m["conversation"] != "instagram:janedoe_17841400000000000" {
			t.Fatalf("instagram conversation %v", m["conversation"])
		}
	}
	if c := ig.byText(t, "Audio call ended"); c["service"] != "phone_call" {
		t.Errorf("instagram call: %v", c)
	}
}

// TestTrapMojibake (§7): repaired only when every rune is ≤ U+00FF and the
// bytes are valid UTF-8; the sample's names, contents and reactions both
// sides.
func TestTrapMojibake(t *testing.T) {
	cases := map[string]string{
		"":                "",
		"plain ascii":     "plain ascii",
		"Caf\u00c3\u00a9": "Café",
		"J\u00e2\u009d\u00a4\u00ef\u00b8\u008fhn": "J❤️hn",
		"\u00f0\u009f\u0092\u0096":                "💖",
		"\u00c3\u00a9":                            "é",                      // a real "Ã©" cannot be told from mojibake: repaired
		"\u00c3\u00a9 caf\u00e9":                  "\u00c3\u00a9 caf\u00e9", // é alone is not UTF-8: kept
		"\u00c3":                                  "\u00c3",
		"na\u00efve":                              "na\u00efve",
		"\u00c3\u00a9 \u20ac":                     "\u00c3\u00a9 \u20ac", // a rune above U+00FF: kept
		"😀 \u00c3\u00a9":                          "😀 \u00c3\u00a9",
		"bad \xff utf8 \u00c3\u00a9":              "bad \xff utf8 \u00c3\u00a9",
		"\u00c2\u00a0nbsp":                        "\u00a0nbsp",
		"\u0000\u00c3\u00a9":                      "\u0000é",
	}
	for in, want := range cases {
		if got := repair(in); got != want {
			t.Errorf("repair(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := os.Stat(mojibake); err != nil {
		t.Skip("shared samples not found")
	}
	r := mustRun(t, mojibake, importers.Options{})
	if m := r.byText(t, "Testing username with emoji: J❤️hn Doe"); m["sender"] != "J❤️hn Doe" {
		t.Errorf("sender %v", m["sender"])
	}
	if m := r.byText(t, "Testing username only emoji: ❤️"); m["sender_name"] != "❤️" {
		t.Errorf("sender %v", m["sender_name"])
	}
	if m := r.byText(t, "Testing message with reactions."); fmt.Sprint(m["reactions"]) != "[map[by:[J❤️hn Doe] count:1 emoji:❤️] map[by:[Jane Doe] count:1 emoji:💖]]" {
		t.Errorf("reactions %v", m["reactions"])
	}
	for _, l := range r.lines {
		if strings.Contains(l, `"text":"`) && strings.ContainsRune(strings.SplitN(l, `"raw"`, 2)[0], 'Ã') {
			t.Errorf("mojibake left outside raw: %s", l)
		}
	}
	// The other side: strings that are not mojibake stay.
	f := mustRun(t, alice1, importers.Options{})
	f.byText(t, "naïve café stays")
	f.byText(t, "Ã© and €: not mojibake, kept")
	f.byText(t, "Ã")
	f.byText(t, "genuine \u00c3\u00a9 next to caf\u00e9: repairing would give invalid UTF-8, kept")
}

// TestOpenAtEveryLevel: the export root, the messages folder, the thread
// folder and each part give the same conversation and ids; only files
// outside the folder given (the sticker) and the duplicate index of
// identical messages split across parts differ.
func TestOpenAtEveryLevel(t *testing.T) {
	root := mustRun(t, fbRoot, importers.Options{})
	ids := map[string]string{} // id → line
	for _, l := range root.lines {
		m, _ := canon.ParseLine([]byte(l))
		ids[m.ID] = l
	}
	for _, p := range []string{fbMsgs, aliceDir, alice1, alice2} {
		r := mustRun(t, p, importers.Options{})
		for i, m := range r.msgs {
			l, ok := ids[m["id"].(string)]
			if !ok {
				if p == alice2 && m["text"] == "same ms, same text" {
					continue // index 0 alone, 2 after message_1's two
				}
				t.Fatalf("%s: id of %v not in the full import", p, m["text"])
			}
			if l != r.lines[i] && !strings.Contains(l, "stickers_used") {
				t.Errorf("%s: line differs:\n%s\n%s", p, l, r.lines[i])
			}
		}
	}
}

// TestTrapRenamedFileNamedByThreadPath: a thread file not named
// message_N.json is the conversation of its thread_path.
func TestTrapRenamedFileNamedByThreadPath(t *testing.T) {
	b, _ := os.ReadFile(alice1)
	p := writeFile(t, "renamed.json", string(b))
	r := mustRun(t, p, importers.Options{})
	full := mustRun(t, alice1, importers.Options{})
	for i := range full.msgs {
		if r.msgs[i]["id"] != full.msgs[i]["id"] || r.msgs[i]["conversation"] != aliceConv || r.msgs[i]["conversation_name"] != "Alice Smith" {
			t.Fatalf("a renamed part differs from message_1.json: %v", r.msgs[i])
		}
	}
	p = writeFile(t, "no_path.json", `{"messages":[{"sender_name":"a","timestamp_ms":1700000000000}],"thread_path":"inbox/"}`)
	if r := mustRun(t, p, importers.Options{}); r.msgs[0]["conversation"] != "messenger:no_path" {
		t.Fatalf("no usable thread_path: %v", r.msgs[0]["conversation"])
	}
}

// TestPlatform: Instagram or Messenger from the folders.
func TestPlatform(t *testing.T) {
	cases := []struct {
		path   string
		thread bool
		want   string
	}{
		{"/x/instagram-jdoe-2024/your_instagram_activity/messages/inbox/bob_1/message_1.json", true, "instagram"},
		{"/x/facebook-jdoe-2024/your_facebook_activity/messages/inbox/instagramfans_1/message_1.json", true, "messenger"},
		{"/x/instagram-jdoe/your_facebook_activity/messages/inbox/bob_1", true, "messenger"},
		{"/x/dl/messages/inbox/instagramfans_1", true, "messenger"},
		{"/x/messenger-instagram/chat-miner_instagram_testlog.json", false, "instagram"},
		{"/x/messenger-instagram/chat-miner_facebookMessenger_testlog.json", false, "messenger"},
		{"/x/messenger-instagram/message_1.json", true, "messenger"},
		{"/x/instagram/messenger-instagram/thread_1", true, "instagram"},
	}
	for _, c := range cases {
		if got := platformFor(c.path, c.thread); got != c.want {
			t.Errorf("platformFor(%s) = %s, want %s", c.path, got, c.want)
		}
	}
}

// TestCredentialsStripped: CDN query strings and access tokens never reach
// raw; the urls themselves do.
func TestCredentialsStripped(t *testing.T) {
	for _, p := range []string{fbRoot, igRoot} {
		r := mustRun(t, p, importers.Options{})
		for _, l := range r.lines {
			if strings.Contains(l, "SECRET") || strings.Contains(l, "oh=") || strings.Contains(l, "access_token") {
				t.Fatalf("%s: credential left in %s", p, l)
			}
		}
	}
	cases := map[string]string{
		"https://scontent.xx.fbcdn.net/v/a.jpg?_nc_cat=1&oh=2&oe=3":     "https://scontent.xx.fbcdn.net/v/a.jpg",
		"https://scontent.cdninstagram.com/v/a.jpg?stp=1&oh=2#frag":     "https://scontent.cdninstagram.com/v/a.jpg#frag",
		"https://cdn.fbsbx.com/v/t59/file.pdf?dl=1":                     "https://cdn.fbsbx.com/v/t59/file.pdf",
		"https://graph.facebook.com/me?fields=id&access_token=EAAB&x=1": "https://graph.facebook.com/me?fields=id&x=1",
		"https://example.com/?access%5Ftoken=1":                         "https://example.com/",
		"https://example.com/a?b=c":                                     "",
		"https://notfbcdn.net/a?oh=1":                                   "",
		"ftp://scontent.fbcdn.net/a?oh=1":                               "",
		"https://www.instagram.com/p/Cabc/?igsh=1":                      "",
	}
	for in, want := range cases {
		got, ok := stripURL(in)
		if ok != (want != "") || got != want {
			t.Errorf("stripURL(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	esc := []byte(`{"uri":"https:\/\/x.fbcdn.net\/a.jpg?oh=1\u0026oe=2","k":"fbcdn","n":1}`)
	if got := string(stripCredentials(esc, new(bytes.Buffer))); got != `{"uri":"https://x.fbcdn.net/a.jpg","k":"fbcdn","n":1}` {
		t.Errorf("escaped url: %s", got)
	}
}

// TestErrors: malformed input is an ErrMalformed *Error naming the file
// (and the byte offset where it can); SkipInvalid reports and goes on.
func TestErrors(t *testing.T) {
	msg := `{"sender_name":"a","timestamp_ms":1700000000000,"content":"ok"}`
	cases := map[string]struct{ content, want string }{
		"array":        {`[` + msg + `]`, "byte offset 0: not a Messenger or Instagram thread"},
		"empty":        {``, "unexpected end of file in the top-level object"},
		"truncated":    {`{"messages":[` + msg + `,{"sender_name":"b","timesta`, "unexpected end of file in a message"},
		"syntax":       {`{"messages":[` + msg + `,{"sender_name" "b"}]}`, "byte offset 92: invalid JSON in a message"},
		"not-array":    {`{"messages":{"a":1}}`, `"messages" is not an array`},
		"trailing":     {`{"messages":[` + msg + `]} {}`, "unexpected data after the top-level object"},
		"not-object":   {`{"messages":[` + msg + `, 12]}`, "byte offset 78: a message is a number, not an object"},
		"no-timestamp": {`{"messages":[` + msg + `, {"content":"x"}]}`, "message: no timestamp_ms"},
		"bad-ts":       {`{"messages":[{"timestamp_ms":"soon"},` + msg + `]}`, `timestamp_ms "soon" is not a whole number`},
		"negative-ts":  {`{"messages":[{"timestamp_ms":-5},` + msg + `]}`, "is negative"},
		"far-ts":       {`{"messages":[{"timestamp_ms":253402300800000},` + msg + `]}`, "out of range"},
		"bad-key":      {`{"messages":[` + msg + `], 1:2}`, "invalid JSON in the top-level object"},
	}
	for name, c := range cases {
		p := writeFile(t, "t_"+name+"/message_1.json", c.content)
		r := run(t, p, importers.Options{})
		var me *Error
		if r.err == nil || !errors.Is(r.err, importers.ErrMalformed) || !errors.As(r.err, &me) ||
			!strings.Contains(r.err.Error(), p) || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, r.err, c.want)
			continue
		}
		s := run(t, p, importers.Options{SkipInvalid: true})
		if s.err != nil || len(s.skipped) != 1 {
			t.Errorf("%s with SkipInvalid: err %v, skipped %v", name, s.err, s.skipped)
		}
		if len(s.lines) < len(r.lines) {
			t.Errorf("%s: SkipInvalid lost messages", name)
		}
	}
	// A bad file in a thread does not stop the next one with SkipInvalid.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a_1"), 0o755)
	os.MkdirAll(filepath.Join(dir, "b_2"), 0o755)
	os.WriteFile(filepath.Join(dir, "a_1", "message_1.json"), []byte(`{"messages":[`+msg+`,`), 0o644)
	os.WriteFile(filepath.Join(dir, "b_2", "message_1.json"), []byte(`{"messages":[`+msg+`]}`), 0o644)
	s := run(t, dir, importers.Options{SkipInvalid: true})
	if s.err != nil || len(s.lines) != 2 || len(s.skipped) != 1 {
		t.Fatalf("next thread: %v %d %v", s.err, len(s.lines), s.skipped)
	}
	if r := run(t, t.TempDir(), importers.Options{}); !errors.Is(r.err, importers.ErrMalformed) {
		t.Fatalf("empty folder: %v", r.err)
	}
}

// TestValueTooLarge: a message over 32 MiB is refused without holding it.
func TestValueTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 33 MB")
	}
	big := `{"messages":[{"sender_name":"a","timestamp_ms":1700000000000,"content":"` + strings.Repeat("x", maxRecord+1<<17) + `"},{"sender_name":"a","timestamp_ms":1700000000001}]}`
	p := writeFile(t, "big/message_1.json", big)
	r := run(t, p, importers.Options{})
	if r.err == nil || !strings.Contains(r.err.Error(), "in a message larger than 33554432 bytes") {
		t.Fatalf("%v", r.err)
	}
	if s := run(t, p, importers.Options{SkipInvalid: true}); s.err != nil || len(s.skipped) != 1 {
		t.Fatalf("SkipInvalid: %v %v", s.err, s.skipped)
	}
}

// TestExclude: excluded conversations are skipped.
func TestExclude(t *testing.T) {
	all := mustRun(t, fbRoot, importers.Options{})
	ex := mustRun(t, fbRoot, importers.Options{Exclude: map[string]bool{aliceConv: true}})
	if len(ex.lines) != 2 || len(all.lines) != 28 {
		t.Fatalf("exclude: %d of %d", len(ex.lines), len(all.lines))
	}
	if one := mustRun(t, alice1, importers.Options{Exclude: map[string]bool{aliceConv: true}}); len(one.lines) != 0 {
		t.Fatal("excluded thread imported")
	}
	if r := mustRun(t, mojibake, importers.Options{Exclude: map[string]bool{"instagram:testlog_2765720812686121": true}}); len(r.lines) != 0 {
		t.Fatal("excluded single-file thread imported")
	}
}

// TestReimportDeterministic imports every fixture twice: byte-identical
// lines and logs.
func TestReimportDeterministic(t *testing.T) {
	for _, p := range []string{fbRoot, aliceDir, igRoot, e2eeDir, samplesDir, "testdata"} {
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
	src, err := Open(ctx, fbRoot, importers.Options{})
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
	src, err := Open(context.Background(), "testdata", importers.Options{Warn: func(string) {}})
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
	if len(all) != 7 {
		t.Fatalf("%d blobs, want 7 (Facebook 5, Instagram 1, encrypted download 1)", len(all))
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
// nothing, in the first pass (title) or the second.
func TestSmallReads(t *testing.T) {
	defer func(f func(io.Reader) io.Reader) { testReader = f }(testReader)
	for _, p := range []string{"testdata", samplesDir} {
		testReader = func(r io.Reader) io.Reader { return r }
		want := run(t, p, importers.Options{SkipInvalid: true})
		for _, wrap := range []func(io.Reader) io.Reader{iotest.OneByteReader, iotest.HalfReader, iotest.DataErrReader} {
			testReader = wrap
			got := run(t, p, importers.Options{SkipInvalid: true})
			if !slices.Equal(got.lines, want.lines) || got.log() != want.log() {
				t.Fatalf("%s: small reads change the result", p)
			}
		}
	}
}

// TestPrescanTitle: the first pass finds the title after messages holding
// brackets, quotes and backslashes in strings, at any buffer boundary, and
// stops quietly on damage.
func TestPrescanTitle(t *testing.T) {
	tricky := `{"participants":[{"name":"a]}"}],"messages":[{"content":"}\"]\\\"{[","x":[1,{"y":"\\\\"}],"n":-1.5e3,"t":true,"f":null}],` +
		`"title":"T\u00c3\u00adtulo \"q\"","thread_path":"inbox/t_1","after":{"title":"not this"}}`
	defer func(f func(io.Reader) io.Reader) { testReader = f }(testReader)
	for _, wrap := range []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }, iotest.OneByteReader, iotest.HalfReader} {
		testReader = wrap
		for _, pad := range []int{0, 1, 100, 65535, 65536, 65537} {
			doc := strings.Replace(tricky, `"content":"`, `"pad":"`+strings.Repeat("\\\\", pad/2)+strings.Repeat("z", pad%2)+`","content":"`, 1)
			p := writeFile(t, "p.json", doc)
			h, err := prescan(p)
			if err != nil || h.title != "T\u00c3\u00adtulo \"q\"" || h.threadPath != "inbox/t_1" {
				t.Fatalf("pad %d: %+v %v", pad, h, err)
			}
		}
	}
	for _, bad := range []string{``, `[]`, `{"title":1,"messages":[`, `{"messages":[}],"title":"x"}`, `{"title"`, `{"a":"\`} {
		p := writeFile(t, "p.json", bad)
		if _, err := prescan(p); err != nil {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

// TestReadErrorIsNotMalformed: an I/O error is returned as such, not as
// malformed input, and SkipInvalid does not hide it.
func TestReadErrorIsNotMalformed(t *testing.T) {
	defer func(f func(io.Reader) io.Reader) { testReader = f }(testReader)
	testReader = func(r io.Reader) io.Reader { return iotest.TimeoutReader(iotest.HalfReader(r)) }
	for _, o := range []importers.Options{{}, {SkipInvalid: true}} {
		r := run(t, aliceDir, o)
		if !errors.Is(r.err, iotest.ErrTimeout) || errors.Is(r.err, importers.ErrMalformed) {
			t.Fatalf("read error: %v", r.err)
		}
	}
}
