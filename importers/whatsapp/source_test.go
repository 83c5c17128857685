package whatsapp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

func TestParseHeader(t *testing.T) {
	for _, c := range []struct {
		line string
		ok   bool
		ts   string // timestamp text
		body string
	}{
		{"12/31/21, 11:59 PM - Name: text", true, "12/31/21, 11:59 PM", "Name: text"},
		{"12/31/21, 11:59" + nnbsp + "PM - Name: text", true, "12/31/21, 11:59 PM", "Name: text"},
		{"[31.12.21, 23:59:59] Name: text", true, "31.12.21, 23:59:59", "Name: text"},
		{lrm + "[31.12.21, 23:59:59] Name: text", true, "31.12.21, 23:59:59", "Name: text"},
		{"\ufeff31/12/2021, 23:59 - x", true, "31/12/2021, 23:59", "x"},
		{"[3/6/18 1:55:00 p. m.] a: m", true, "3/6/18 1:55:00 p. m.", "a: m"},
		{"13.6.2018 klo 21.25.15 - a: m", true, "13.6.2018 klo 21.25.15", "a: m"},
		{"2022/12/14, 13:34. - a: m", true, "2022/12/14, 13:34", "a: m"},
		{"[20.06.19, 15:58:47]", true, "20.06.19, 15:58:47", ""},
		{"12/31/21, 11:59 PM - ", true, "12/31/21, 11:59 PM", ""},
		{"12/31/21 11:59: Name: text", true, "12/31/21 11:59", "Name: text"},
		{"12/31/21, 11:59 – Name: text", true, "12/31/21, 11:59", "Name: text"},
		{"٢٠/٠٦/٢٠٢٣، ١٠:٣٠ م - أحمد: مرحبا", true, "٢٠/٠٦/٢٠٢٣، ١٠:٣٠ م", "أحمد: مرحبا"},
		// not headers
		{"", false, "", ""},
		{"hello", false, "", ""},
		{"12/31, 11:59 - x", false, "", ""},
		{"12/31/21 - x", false, "", ""},
		{"12/31/21, 11:59 x", false, "", ""},
		{"12/31/21, 11:59PMx - y", false, "", ""},
		{"123/31/21, 11:59 - x", false, "", ""},
		{"12/31.21, 11:59 - x", false, "", ""},
		{"2021/2022/01, 11:59 - x", false, "", ""},
		{"[12/31/21, 11:59 - x", false, "", ""},
		{"12/31/21, 11:5 - x", false, "", ""},
		{"12/31/21, 11:599 - x", false, "", ""},
		{"1.5 hours - later", false, "", ""},
		{"12/31/21,11:59 - x", false, "", ""},
		{"[31.12.21, 23:59:59]Name", false, "", ""},
	} {
		h, ok := parseHeader([]byte(c.line))
		if ok != c.ok {
			t.Errorf("%q: ok=%v", c.line, ok)
			continue
		}
		if !ok {
			continue
		}
		if ts := timestampText([]byte(c.line), &h); ts != c.ts {
			t.Errorf("%q: timestamp %q, want %q", c.line, ts, c.ts)
		}
		if body := c.line[h.body:]; body != c.body {
			t.Errorf("%q: body %q, want %q", c.line, body, c.body)
		}
	}
}

func TestChatName(t *testing.T) {
	for _, c := range []struct{ file, inner, want string }{
		{"/x/WhatsApp Chat with Bob Smith.txt", "", "Bob Smith"},
		{"/x/whatsapp chat with bob.txt", "", "bob"},
		{"/x/WhatsApp-Chat mit Anna.txt", "", "Anna"},
		{"/x/WhatsApp Chat - Pokemon Chat.zip", "_chat.txt", "Pokemon Chat"},
		{"/x/download.zip", "WhatsApp Chat with Team (1).txt", "Team (1)"},
		{"/x/download.zip", "_chat.txt", "download"},
		{"/x/WhatsApp Chat with .txt", "", "WhatsApp Chat with "},
		{"/x/WhatsApp Chat - Family/_chat.txt", "", "Family"},
		{"/x/export/_chat.txt", "", "export"},
		{"/x/plain.txt", "", "plain"},
	} {
		if got := chatName(filepath.FromSlash(c.file), c.inner); got != c.want {
			t.Errorf("%s + %q: %q, want %q", c.file, c.inner, got, c.want)
		}
	}
}

func TestDetect(t *testing.T) {
	for _, c := range goldenCases {
		if !Detect(filepath.Join(samplesDir, c.file)) {
			t.Errorf("%s not detected", c.file)
		}
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "synthetic", "*.txt"))
	for _, f := range files {
		if !Detect(f) {
			t.Errorf("%s not detected", f)
		}
	}
	for _, f := range []string{
		filepath.Join(samplesDir, "..", "signal", "chat-miner_signal_test_export.txt"),
		filepath.Join(samplesDir, "..", "telegram", "chat-miner_test_single_export.json"),
		filepath.Join(samplesDir, "..", "slack", "slack-export-viewer_testarchive_redacted.zip"),
		filepath.Join(samplesDir, "SOURCES.md"),
		filepath.Join(samplesDir, "does-not-exist.txt"),
	} {
		if Detect(f) {
			t.Errorf("%s detected", f)
		}
	}
	dir := t.TempDir()
	if Detect(writeFile(t, dir, "notes.txt", "just some notes\n12/31/21, 11:59 PM - x: y\n")) {
		t.Error("notes detected")
	}
	if !Detect(writeFile(t, dir, "WhatsApp Chat with S.txt", "[2019-12-24, 12:23] Jane Doe: Hello\n")) {
		t.Error("a named export with an ISO bracket header not detected")
	}
}

// TestMalformed: errors wrap ErrMalformed and name the file and line; with
// SkipInvalid the bad record is reported and the rest imported.
func TestMalformed(t *testing.T) {
	for _, c := range []struct {
		name, content string
		line          string // "line N" the error must name ("" for file-level)
		kept          int    // messages imported with SkipInvalid
	}{
		{"text before header", "garbage\n13/01/21, 10:00 - A: x\n", "line 1", 1},
		{"bad month", lines("13/01/21, 10:00 - A: x", "13/13/21, 10:00 - A: bad", "continued", "14/01/21, 10:00 - A: y"), "line 2", 2},
		{"bad day", lines("13/01/21, 10:00 - A: x", "31/02/21, 10:00 - A: bad"), "line 2", 1},
		{"bad hour", lines("13/01/21, 10:00 - A: x", "14/01/21, 25:00 - A: bad"), "line 2", 1},
		{"bad minute", lines("13/01/21, 10:00 - A: x", "14/01/21, 10:61 - A: bad"), "line 2", 1},
		{"long line", "13/01/21, 10:00 - A: x\n" + strings.Repeat("y", maxLine+10) + "\n13/01/21, 10:01 - A: z\n", "line 2", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _ := importText(t, "c.txt", c.content, importers.Options{})
			if !errors.Is(r.err, importers.ErrMalformed) || !strings.Contains(r.err.Error(), "c.txt") || !strings.Contains(r.err.Error(), c.line) {
				t.Fatalf("got %v", r.err)
			}
			r, ms := importText(t, "c.txt", c.content, importers.Options{SkipInvalid: true})
			if r.err != nil || len(ms) != c.kept || len(r.skipped) != 1 || !strings.Contains(r.skipped[0], c.line) {
				t.Fatalf("SkipInvalid: err %v, %d messages, skipped %q", r.err, len(ms), r.skipped)
			}
		})
	}
	for _, c := range []struct{ name, content string }{
		{"empty", ""},
		{"blank", "\n\n  \n"},
		{"no header", "hello\nworld\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "c.txt", c.content)
			_, err := Open(context.Background(), p, importers.Options{SkipInvalid: true})
			if !errors.Is(err, importers.ErrMalformed) || !strings.Contains(err.Error(), p) {
				t.Fatalf("got %v", err)
			}
		})
	}
	t.Run("damaged zip", func(t *testing.T) {
		p := makeZip(t, filepath.Join(t.TempDir(), "x.zip"), zipEntry{name: "_chat.txt", data: []byte(android), store: true})
		b, _ := os.ReadFile(p)
		i := bytes.Index(b, []byte("hello"))
		b[i] = 'j' // the CRC no longer matches
		os.WriteFile(p, b, 0o644)
		// Open reads only until the date order is known; the damage shows at the end.
		r := run(t, p, importers.Options{SkipInvalid: true})
		if !errors.Is(r.err, importers.ErrMalformed) || !strings.Contains(r.err.Error(), "x.zip") || !strings.Contains(r.err.Error(), "checksum") {
			t.Fatalf("got %v", r.err)
		}
	})
	t.Run("truncated zip", func(t *testing.T) {
		p := makeZip(t, filepath.Join(t.TempDir(), "x.zip"), zipEntry{name: "_chat.txt", data: []byte(android)})
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[:len(b)/2], 0o644)
		if _, err := Open(context.Background(), p, importers.Options{}); !errors.Is(err, importers.ErrMalformed) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		if _, err := Open(context.Background(), t.TempDir(), importers.Options{}); err == nil {
			t.Fatal("opened a directory")
		}
	})
}

// TestReimportDeterminism: importing the same export twice gives
// byte-identical lines, for every sample and synthetic fixture.
func TestReimportDeterminism(t *testing.T) {
	var paths []string
	opts := map[string]importers.Options{}
	for _, c := range goldenCases {
		p := filepath.Join(samplesDir, c.file)
		paths = append(paths, p)
		opts[p] = c.opt
	}
	syn, _ := filepath.Glob(filepath.Join("testdata", "synthetic", "*.txt"))
	for _, p := range syn {
		paths = append(paths, p)
		opts[p] = importers.Options{DayFirst: strings.Contains(p, "dayfirst")}
	}
	for _, p := range paths {
		a, b := run(t, p, opts[p]), run(t, p, opts[p])
		if a.err != nil || b.err != nil || a.jsonl() != b.jsonl() || len(a.lines) == 0 {
			t.Errorf("%s: not byte-identical (%v, %v)", p, a.err, b.err)
		}
	}
}

// TestBlobs: Blobs lists the files of the last message only, and a blob
// opens after later messages were read.
func TestBlobs(t *testing.T) {
	p := filepath.Join(samplesDir, "whatsapp-chat-parser-website_example-with-media.zip")
	src, err := Open(context.Background(), p, importers.Options{TZ: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	bl := src.(canon.BlobLister)
	var kept []canon.Blob
	n := 0
	for {
		m, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		hasAtt := bytes.Contains(m.Line, []byte(`"attachments"`))
		if got := len(bl.Blobs()); (got == 1) != hasAtt || got > 1 {
			t.Fatalf("message %d: %d blobs, attachments %v", n, got, hasAtt)
		}
		kept = append(kept, bl.Blobs()...)
	}
	if len(kept) != 4 {
		t.Fatalf("%d blobs", len(kept))
	}
	for _, b := range kept {
		checkBlob(t, b)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestContextCanceled(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 10000; i++ {
		b.WriteString("01/01/21, 10:00 - A: x\n")
	}
	p := writeFile(t, t.TempDir(), "c.txt", b.String())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, p, importers.Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}
