package discord

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	_ "time/tzdata" // Europe/Berlin on machines without a zone database

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
	"github.com/chatvault/chatvault/importers/importertest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// result is everything an import run produced.
type result struct {
	lines   []string
	msgs    []map[string]any // the lines decoded
	warns   []string
	skipped []error
	blobs   map[string][]canon.Blob // by message id (last occurrence)
	data    map[string][]string     // the blobs' bytes, read while the source was open
	err     error                   // the error that ended the run (nil at io.EOF)
}

func (r *result) byID(t *testing.T, id string) map[string]any {
	t.Helper()
	for i := len(r.msgs) - 1; i >= 0; i-- {
		if r.msgs[i]["id"] == id {
			return r.msgs[i]
		}
	}
	t.Fatalf("no message %s", id)
	return nil
}

// byText finds the message whose text is s.
func (r *result) byText(t *testing.T, s string) map[string]any {
	t.Helper()
	for _, m := range r.msgs {
		if m["text"] == s {
			return m
		}
	}
	t.Fatalf("no message with text %q", s)
	return nil
}

func run(t testing.TB, path string, o importers.Options) *result {
	t.Helper()
	r := &result{blobs: map[string][]canon.Blob{}, data: map[string][]string{}}
	o.Warn = func(s string) { r.warns = append(r.warns, s) }
	o.Skipped = func(err error) { r.skipped = append(r.skipped, err) }
	src, err := Open(context.Background(), path, o)
	if err != nil {
		r.err = err
		return r
	}
	defer src.Close()
	for {
		m, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			r.err = err
			break
		}
		r.lines = append(r.lines, string(m.Line))
		var v map[string]any
		if err := json.Unmarshal(m.Line, &v); err != nil {
			t.Fatalf("line is not JSON: %v\n%s", err, m.Line)
		}
		r.msgs = append(r.msgs, v)
		if bs := src.(canon.BlobLister).Blobs(); len(bs) > 0 {
			r.blobs[m.ID] = bs
			r.data[m.ID] = nil
			for _, b := range bs {
				rc, err := b.Open()
				if err != nil {
					t.Fatalf("message %s: blob: %v", m.ID, err)
				}
				data, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || int64(len(data)) != b.Size || [32]byte(sha(data)) != b.SHA256 {
					t.Fatalf("message %s: blob bytes do not match size and hash (%v)", m.ID, err)
				}
				r.data[m.ID] = append(r.data[m.ID], string(data))
			}
		}
	}
	return r
}

func mustRun(t testing.TB, path string, o importers.Options) *result {
	t.Helper()
	r := run(t, path, o)
	if r.err != nil {
		t.Fatalf("%s: %v", path, r.err)
	}
	return r
}

// log renders warnings, skipped records and blobs for the golden files.
func (r *result) log() string {
	var b strings.Builder
	for _, w := range r.warns {
		fmt.Fprintf(&b, "warn: %s\n", w)
	}
	for _, e := range r.skipped {
		fmt.Fprintf(&b, "skipped: %s\n", e)
	}
	ids := make([]string, 0, len(r.blobs))
	for id := range r.blobs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		for _, bl := range r.blobs[id] {
			fmt.Fprintf(&b, "blob: message %s: %x %d bytes\n", id, bl.SHA256, bl.Size)
		}
	}
	if r.err != nil {
		fmt.Fprintf(&b, "error: %s\n", r.err)
	}
	return b.String()
}

func fixtures(t *testing.T) []string {
	var files []string
	for _, dir := range []string{"guild", "dm", "overlap", "odd"} {
		m, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if Detect(f) {
				files = append(files, f)
			}
		}
	}
	if len(files) < 10 {
		t.Fatalf("fixtures missing: %v", files)
	}
	return files
}

// compareGolden checks got against testdata/golden/<name>, or rewrites it.
func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	importertest.CheckGolden(t, name, got, *update)
}

// berlin is the zone golden runs read naive times in, so that the golden
// files do not depend on the machine's zone.
var berlin = func() *time.Location {
	l, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return l
}()

func goldenRun(t *testing.T, path, name string) {
	r := run(t, path, importers.Options{SkipInvalid: true, TZ: berlin})
	compareGolden(t, name+".jsonl", strings.Join(r.lines, "\n")+"\n")
	compareGolden(t, name+".log", r.log())
}

// TestGoldenFixtures imports every synthetic fixture (modelled on DCE's
// JsonMessageWriter) and compares the canonical lines with the golden files.
func TestGoldenFixtures(t *testing.T) {
	for _, f := range fixtures(t) {
		rel, _ := filepath.Rel("testdata", f)
		t.Run(rel, func(t *testing.T) {
			goldenRun(t, f, strings.TrimSuffix(rel, ".json"))
		})
	}
}

// TestGoldenPublicSamples imports each DCE JSON in the shared samples
// folder. It holds none today (SOURCES.md: no permissively licensed DCE
// export exists), so this test only checks that the folder is there and
// picks samples up as soon as one is added.
func TestGoldenPublicSamples(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "testdata-public", "discord")
	if _, err := os.Stat(filepath.Join(dir, "SOURCES.md")); err != nil {
		t.Skipf("shared samples not found: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Log("no public DCE sample (see SOURCES.md); synthetic fixtures cover the format")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			goldenRun(t, f, filepath.Join("public", strings.TrimSuffix(filepath.Base(f), ".json")))
		})
	}
}

// TestGoldenDirectory imports a whole DCE output folder (several channels,
// a thread and two partitions) in one run.
func TestGoldenDirectory(t *testing.T) {
	goldenRun(t, filepath.Join("testdata", "guild"), "dir-guild")
}

// TestReimportDeterministic imports every fixture twice: the lines must be
// byte-identical.
func TestReimportDeterministic(t *testing.T) {
	for _, f := range append(fixtures(t), filepath.Join("testdata", "guild")) {
		a := run(t, f, importers.Options{SkipInvalid: true})
		b := run(t, f, importers.Options{SkipInvalid: true})
		if !slices.Equal(a.lines, b.lines) || len(a.lines) == 0 {
			t.Fatalf("%s: re-import differs or is empty (%d vs %d lines)", f, len(a.lines), len(b.lines))
		}
		if a.log() != b.log() {
			t.Fatalf("%s: warnings differ between runs", f)
		}
	}
}

func generalPath() string {
	return filepath.Join("testdata", "guild", "Chatvault Test Server - Text Channels - general [584351691571228672].json")
}

// TestMapping spells out the field mapping on the main fixture.
func TestMapping(t *testing.T) {
	r := mustRun(t, generalPath(), importers.Options{})
	m := r.byText(t, "Hello everyone! 👋")
	want := map[string]any{
		"conversation":      "discord:584351691571228672",
		"conversation_name": "Chatvault Test Server / #general",
		"kind":              "message",
		"time":              "2024-03-30T21:15:04.264+01:00",
		"time_basis":        "exact",
		"sender":            "584682622156828672",
		"sender_name":       "Alice ✨",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if got := fmt.Sprint(m["reactions"]); got != "[map[by:[585045010022428672 584682622156828672] count:2 emoji:👋]]" {
		t.Errorf("reactions %s", got)
	}
	raw := m["raw"].(map[string]any)
	if raw["id"] != m["id"] || raw["embeds"] == nil || raw["mentions"] == nil {
		t.Errorf("raw is not the message object: %v", raw)
	}
	reply := r.byText(t, "hi alice\nsecond line\n> quoted line\n\nthird paragraph\n")
	if reply["reply_to"] != m["id"] || reply["kind"] != "message" {
		t.Errorf("reply: %v", reply)
	}
	bot := r.byID(t, r.msgs[6]["id"].(string))
	if _, ok := bot["text"]; ok || bot["sender_name"] != "Chatvault Bot" {
		t.Errorf("embed-only bot message: %v", bot)
	}
	if emb := bot["raw"].(map[string]any)["embeds"].([]any); len(emb) != 1 {
		t.Errorf("embeds not kept in raw")
	}
	sticker := r.msgs[8]
	if st := sticker["raw"].(map[string]any)["stickers"].([]any); len(st) != 1 {
		t.Errorf("stickers not kept in raw: %v", sticker)
	}
}

// TestServiceKinds covers every MessageKind DCE names.
func TestServiceKinds(t *testing.T) {
	gen := mustRun(t, generalPath(), importers.Options{})
	dm := mustRun(t, filepath.Join("testdata", "dm"), importers.Options{})
	got := map[string]string{}
	for _, r := range []*result{gen, dm} {
		for _, m := range r.msgs {
			typ := m["raw"].(map[string]any)["type"].(string)
			svc, _ := m["service"].(string)
			got[typ] = m["kind"].(string) + "/" + svc
		}
	}
	want := map[string]string{
		"Default": "message/", "Reply": "message/",
		"RecipientAdd": "service/RecipientAdd", "RecipientRemove": "service/RecipientRemove",
		"Call": "service/Call", "ChannelNameChange": "service/ChannelNameChange",
		"ChannelIconChange": "service/ChannelIconChange", "ChannelPinnedMessage": "service/ChannelPinnedMessage",
		"GuildMemberJoin": "service/GuildMemberJoin", "ThreadCreated": "service/ThreadCreated",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("type %s → %q, want %q", k, got[k], v)
		}
	}
	pin := gen.byText(t, "Pinned a message.")
	photos := gen.byText(t, "Photos from the trip, and the list")
	if pin["reply_to"] != photos["id"] {
		t.Errorf("a pin refers to the pinned message: %v", pin["reply_to"])
	}
	if th := gen.byText(t, "Started a thread."); th["reply_to"] != nil {
		t.Errorf("ThreadCreated references the thread channel, not a message: %v", th["reply_to"])
	}
}

// TestDirectMessages: guild id "0", the DM channel's own name.
func TestDirectMessages(t *testing.T) {
	r := mustRun(t, filepath.Join("testdata", "dm"), importers.Options{})
	names := map[string]bool{}
	for _, m := range r.msgs {
		names[m["conversation_name"].(string)] = true
	}
	if !names["alice"] || !names["weekend plans"] || len(names) != 2 {
		t.Fatalf("DM names: %v", names)
	}
	call := r.byText(t, "Started a call that lasted 5 minutes.")
	if call["service"] != "Call" || call["time"] != "2024-07-04T18:30:00-07:00" {
		t.Errorf("call: %v", call)
	}
}

// TestThread: a thread file is its own conversation, named under its
// parent channel (channel.category holds the parent's name).
func TestThread(t *testing.T) {
	m, _ := filepath.Glob(filepath.Join("testdata", "guild", "*Release planning*.json"))
	r := mustRun(t, m[0], importers.Options{})
	if r.msgs[0]["conversation"] != "discord:1223919717580828672" ||
		r.msgs[0]["conversation_name"] != "Chatvault Test Server / #general / Release planning" {
		t.Fatalf("thread: %v", r.msgs[0])
	}
}

// TestFileNameDisagrees (§4.1): the channel id in the JSON wins over the one
// in the file name.
func TestFileNameDisagrees(t *testing.T) {
	r := mustRun(t, filepath.Join("testdata", "odd", "Old Server Name - misc - old-channel-name [123456789].json"), importers.Options{})
	if r.msgs[0]["conversation"] != "discord:584352698204188672" || r.msgs[0]["conversation_name"] != "Chatvault Test Server / #renamed-channel" {
		t.Fatalf("%v", r.msgs[0])
	}
}

// TestCredentialsStripped: the ex/is/hm signature of CDN urls never reaches
// raw; the url itself does.
func TestCredentialsStripped(t *testing.T) {
	for _, f := range fixtures(t) {
		r := run(t, f, importers.Options{SkipInvalid: true})
		for _, l := range r.lines {
			if strings.Contains(l, "hm=") || strings.Contains(l, "ex=") || strings.Contains(l, "is=66") {
				t.Fatalf("%s: signature left in %s", f, l)
			}
		}
	}
	r := mustRun(t, generalPath(), importers.Options{})
	m := r.byText(t, "Photos from the trip, and the list")
	raw, _ := json.Marshal(m["raw"])
	if !bytes.Contains(raw, []byte(`holiday.mp4"`)) || !bytes.Contains(raw, []byte("cdn.discordapp.com/attachments/584351691571228672/")) {
		t.Fatalf("url lost: %s", raw)
	}
	cases := map[string]string{
		"https://cdn.discordapp.com/attachments/1/2/a.png?ex=1&is=2&hm=3&":      "https://cdn.discordapp.com/attachments/1/2/a.png",
		"https://media.discordapp.net/attachments/1/2/a.png?size=64&hm=3#frag":  "https://media.discordapp.net/attachments/1/2/a.png?size=64#frag",
		"https://example.com/a.png?hm=3":                                        "",
		"https://cdn.discordapp.com/avatars/1/2.png?size=512":                   "",
		"https://cdn.discordapp.com/attachments/1/2/a.png?%68m=3&width=10&is=4": "https://cdn.discordapp.com/attachments/1/2/a.png?width=10",
	}
	for in, want := range cases {
		got, ok := stripURL(in)
		if ok != (want != "") || got != want {
			t.Errorf("stripURL(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	esc := []byte(`{"url":"https:\/\/cdn.discordapp.com\/attachments\/1\/2\/a.png?ex=1\u0026hm=2","n":"hm"}`)
	if got := string(stripCredentials(esc)); got != `{"url":"https://cdn.discordapp.com/attachments/1/2/a.png","n":"hm"}` {
		t.Errorf("escaped url: %s", got)
	}
}

// TestDetect: DCE files and folders are recognised; other JSON is not.
func TestDetect(t *testing.T) {
	for _, p := range []string{generalPath(), filepath.Join("testdata", "guild"), filepath.Join("testdata", "dm"),
		filepath.Join("testdata", "odd", "lenient.json")} {
		if !Detect(p) {
			t.Errorf("Detect(%s) = false", p)
		}
	}
	dir := t.TempDir()
	others := map[string]string{
		"result.json":   `{"name":"Saved Messages","type":"saved_messages","id":1,"messages":[]}`,
		"array.json":    `[{"guild":{}}]`,
		"text.txt":      `{"guild":{},"channel":{}}`,
		"noguild.json":  `{"channel":{"id":"1"},"messages":[]}`,
		"strings.json":  `{"text":"\"guild\": {\"channel\": {"}`,
		"empty.json":    ``,
		"channels.json": `{"channels":[1,2]}`,
	}
	for name, content := range others {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		if Detect(p) && name != "strings.json" {
			t.Errorf("Detect(%s) = true", name)
		}
	}
	if Detect(dir) || Detect(filepath.Join(dir, "nope.json")) {
		t.Error("a folder without DCE files was detected")
	}
}

// TestErrorsNameFileAndOffset: malformed input is an ErrMalformed error
// naming the file and a byte offset.
func TestErrorsNameFileAndOffset(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"not-object.json":   `[1, 2]`,
		"no-messages.json":  `{"guild":{"id":"1","name":"g"},"channel":{"id":"2","name":"c"}}`,
		"no-channel.json":   `{"guild":{"id":"1","name":"g"},"messages":[]}`,
		"channel-noid.json": `{"guild":{"id":"1","name":"g"},"channel":{"name":"c"},"messages":[]}`,
		"bad-key.json":      `{"guild":{"id":"1"},"channel":{"id":"2"},"messages":[],"x" 1}`,
		"trailing.json":     `{"guild":{"id":"1"},"channel":{"id":"2"},"messages":[]} {}`,
		"msgs-object.json":  `{"guild":{"id":"1"},"channel":{"id":"2"},"messages":{}}`,
		"bad-channel.json":  `{"guild":{"id":"1"},"channel":[],"messages":[]}`,
		"empty.json":        ``,
		"cut-key.json":      `{"guild":{"id":"1"},"channel":{"id":"2"},"mess`,
		"bad-sep.json":      `{"guild":{"id":"1"},"channel":{"id":"2"},"messages":[{"id":"1","timestamp":"2024-01-01T00:00:00Z"};]}`,
	}
	for name, content := range cases {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		r := run(t, p, importers.Options{})
		if r.err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !errors.Is(r.err, importers.ErrMalformed) || !strings.Contains(r.err.Error(), p) {
			t.Errorf("%s: %v", name, r.err)
		}
		var de *Error
		if !errors.As(r.err, &de) {
			t.Errorf("%s: not a *discord.Error: %T", name, r.err)
		}
		// With SkipInvalid nothing fails.
		if r := run(t, p, importers.Options{SkipInvalid: true}); r.err != nil || len(r.skipped) == 0 {
			t.Errorf("%s with SkipInvalid: err %v, skipped %v", name, r.err, r.skipped)
		}
	}
	r := run(t, filepath.Join("testdata", "odd", "bad-records.json"), importers.Options{})
	if r.err == nil || !strings.Contains(r.err.Error(), "bad-records.json: byte offset 1616: invalid JSON") {
		t.Fatalf("bad-records: %v", r.err)
	}
}

// TestExclude: an excluded conversation is skipped without reading it.
func TestExclude(t *testing.T) {
	all := mustRun(t, filepath.Join("testdata", "guild"), importers.Options{})
	ex := mustRun(t, filepath.Join("testdata", "guild"), importers.Options{Exclude: map[string]bool{"discord:584351691571228672": true}})
	for _, m := range ex.msgs {
		if m["conversation"] == "discord:584351691571228672" {
			t.Fatal("excluded conversation imported")
		}
	}
	if len(ex.msgs) == 0 || len(ex.msgs) >= len(all.msgs) {
		t.Fatalf("exclude: %d of %d", len(ex.msgs), len(all.msgs))
	}
	one := mustRun(t, generalPath(), importers.Options{Exclude: map[string]bool{"discord:584351691571228672": true}})
	if len(one.msgs) != 0 {
		t.Fatal("excluded single file imported")
	}
}

// TestContextCancelled: Next stops when the context ends.
func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src, err := Open(ctx, generalPath(), importers.Options{})
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

// TestBlobsReadable: blobs can be opened after later messages were read and
// hold the hashed bytes.
func TestBlobsReadable(t *testing.T) {
	src, err := Open(context.Background(), generalPath(), importers.Options{})
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
	if len(all) != 4 {
		t.Fatalf("%d blobs, want 4 (cat, notes, two distinct image.png)", len(all))
	}
	for _, b := range all {
		rc, err := b.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if int64(len(data)) != b.Size || hex.EncodeToString(sha(data)) != hex.EncodeToString(b.SHA256[:]) {
			t.Fatal("blob bytes do not match their hash")
		}
	}
	src.Close()
	if _, err := all[0].Open(); err == nil {
		t.Fatal("blob opened after Close")
	}
}

// TestOneByteReads imports every fixture reading one byte at a time, then a
// few bytes at a time, so that every string, escape and value straddles a
// read boundary: the lines and messages must not change.
func TestOneByteReads(t *testing.T) {
	defer func(f func(io.Reader) io.Reader) { testReader = f }(testReader)
	for _, f := range append(fixtures(t), filepath.Join("testdata", "guild")) {
		testReader = func(r io.Reader) io.Reader { return r }
		want := run(t, f, importers.Options{SkipInvalid: true, TZ: berlin})
		for _, wrap := range []func(io.Reader) io.Reader{iotest.OneByteReader, iotest.HalfReader, iotest.DataErrReader} {
			testReader = wrap
			got := run(t, f, importers.Options{SkipInvalid: true, TZ: berlin})
			if !slices.Equal(got.lines, want.lines) || got.log() != want.log() {
				t.Fatalf("%s: small reads change the result:\n%s\nvs\n%s", f, got.log(), want.log())
			}
		}
	}
}

// TestReadErrorIsNotMalformed: an I/O error while reading is returned as
// such, not as malformed input, and SkipInvalid does not hide it.
func TestReadErrorIsNotMalformed(t *testing.T) {
	defer func(f func(io.Reader) io.Reader) { testReader = f }(testReader)
	testReader = func(r io.Reader) io.Reader { return iotest.TimeoutReader(iotest.HalfReader(r)) }
	for _, o := range []importers.Options{{}, {SkipInvalid: true}} {
		r := run(t, generalPath(), o)
		if !errors.Is(r.err, iotest.ErrTimeout) || errors.Is(r.err, importers.ErrMalformed) {
			t.Fatalf("read error: %v", r.err)
		}
	}
}
