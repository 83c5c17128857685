package signal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

const fuzzCorpus = "testdata/fuzz/FuzzOpen"

// extraSeeds are hand-made inputs for the parser's corners.
var extraSeeds = []string{
	"",
	"\n\n\n",
	"\xEF\xBB\xBF[2022-01-01 10:00:00] A: x\r\n\r\n",
	"[2022-01-01 10:00:00] A:",
	"[2022-01-01 10:00:00] A: \n\n> q\n\n  ",
	"[2022-01-01 10:00:00] A: \n\n> q\n> \n\nb  \n(- X: 👍, Y, Z: ❤️ -)\n(( 😀 ))![n](./media/n)  [m](../exported_stickers/p/1.webp)  ",
	"[2022-01-01 10:00:00] A: [](./)  [x](./..)  [y](./media/%zz)  ",
	"[2022-02-29 10:00:00] A: no leap day\n\n[2024-02-29 24:00:00] B: bad hour\n",
	"[2022-01-01, 10:00] A: x\n[2022-01-01 10:00:00] B: y\n\n[2022-01-01, 10:01] C: z\n",
	"[2022-01-01 10:00:00] A: x\n\n[2022-01-01 10:00:00] A: x\n\n[2022-01-01 10:00:00] A: x\n",
	"[0000-01-01 00:00:00] A: year zero\n",
	"[9999-12-31 23:59:59] A: last\n",
	"not a transcript\n[2022-01-01 10:00:00] A: x\n",
	"[2022-01-01 10:00:00] A: Missed video call  \n\n[2022-01-01 10:00:00] A: \x00\xff\n",
}

// TestFuzzSeedCorpus fails if the seed corpus is missing; with -update it
// rewrites it from the fixtures, the public samples and extraSeeds.
func TestFuzzSeedCorpus(t *testing.T) {
	if *update {
		os.RemoveAll(fuzzCorpus)
		if err := os.MkdirAll(fuzzCorpus, 0o755); err != nil {
			t.Fatal(err)
		}
		var files []string
		for _, pat := range []string{"testdata/*/*/chat.md", "testdata/v1/*.txt", "testdata/odd/*.md", filepath.Join(samplesDir, "*.txt")} {
			m, _ := filepath.Glob(pat)
			files = append(files, m...)
		}
		var inputs [][]byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			inputs = append(inputs, b)
		}
		for _, s := range extraSeeds {
			inputs = append(inputs, []byte(s))
		}
		for i, b := range inputs {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(fuzzCorpus, fmt.Sprintf("seed%03d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(fuzzCorpus)
	if err != nil {
		t.Fatalf("seed corpus missing: %v (run go test -run TestFuzzSeedCorpus -update)", err)
	}
	if len(entries) < 20 {
		t.Fatalf("seed corpus has %d inputs, want at least 20", len(entries))
	}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(fuzzCorpus, e.Name()))
		if !bytes.HasPrefix(b, []byte("go test fuzz v1\n[]byte(")) {
			t.Errorf("%s is not a fuzz corpus file", e.Name())
		}
	}
}

// collect imports p and returns the lines joined and the error that ended
// the import.
func collect(t *testing.T, p string, o importers.Options) (string, error) {
	src, err := Open(context.Background(), p, o)
	if err != nil {
		return "", err
	}
	defer src.Close()
	var b strings.Builder
	ids := map[string]bool{}
	for i := 0; ; i++ {
		if i > 1<<20 {
			t.Fatal("source does not end")
		}
		m, err := src.Next()
		if err == io.EOF {
			return b.String(), nil
		}
		if err != nil {
			return b.String(), err
		}
		if _, err := canon.ParseLine(m.Line); err != nil {
			t.Fatalf("invalid line %s: %v", m.Line, err)
		}
		if ids[m.ID] {
			t.Fatalf("duplicate id in %s", m.Line)
		}
		ids[m.ID] = true
		for _, bl := range src.(canon.BlobLister).Blobs() {
			if rc, err := bl.Open(); err == nil {
				rc.Close()
			}
		}
		b.Write(m.Line)
		b.WriteByte('\n')
	}
}

// FuzzOpen imports arbitrary bytes as a chat.md: no panic, only
// ErrMalformed errors naming the file, valid canonical lines with unique
// ids, SkipInvalid never failing, the same output twice and with one-byte
// reads.
func FuzzOpen(f *testing.F) {
	f.Add([]byte("[2022-01-01 10:00:00] A: hi  \n\n[2022-01-01 10:00:01] B: \n\n> hi\n\nyo  \n(- A: 👍 -)\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		dir := t.TempDir()
		p := filepath.Join(dir, "C", "chat.md")
		os.MkdirAll(filepath.Join(dir, "C", "media"), 0o755)
		os.WriteFile(filepath.Join(dir, "C", "media", "n"), []byte("n"), 0o644)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		o := importers.Options{TZ: time.UTC}
		out1, err1 := collect(t, p, o)
		if err1 != nil && (!errors.Is(err1, importers.ErrMalformed) || !strings.Contains(err1.Error(), p)) {
			t.Fatalf("unexpected error: %v", err1)
		}
		out2, err2 := collect(t, p, o)
		if out1 != out2 || fmt.Sprint(err1) != fmt.Sprint(err2) {
			t.Fatal("two imports differ")
		}
		lenient, lerr := collect(t, p, importers.Options{TZ: time.UTC, SkipInvalid: true})
		if lerr != nil {
			t.Fatalf("SkipInvalid failed: %v", lerr)
		}
		if !strings.HasPrefix(lenient, out1) {
			t.Fatal("SkipInvalid lost messages a strict run produced")
		}
		defer func(f func(io.Reader) io.Reader) { testReader = f }(testReader)
		testReader = iotest.OneByteReader
		small, serr := collect(t, p, o)
		if small != out1 || fmt.Sprint(serr) != fmt.Sprint(err1) {
			t.Fatalf("one-byte reads differ: %v vs %v", serr, err1)
		}
	})
}
