package whatsapp

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests use named zones whatever the machine has

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var samplesDir = filepath.Join("..", "..", "..", "shared", "testdata-public", "whatsapp")

func zurich(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// result is everything an import produced.
type result struct {
	lines    []string
	warnings []string
	skipped  []string
	blobs    map[string]int64 // sha256 hex → size, from Blobs()
	err      error
}

func (r *result) jsonl() string {
	if len(r.lines) == 0 {
		return ""
	}
	return strings.Join(r.lines, "\n") + "\n"
}

// run imports path with o (TZ defaults to Europe/Zurich) and collects the
// lines, warnings, skips and blobs; the blobs are opened and re-hashed.
func run(t testing.TB, path string, o importers.Options) *result {
	t.Helper()
	r := &result{blobs: map[string]int64{}}
	if o.TZ == nil {
		o.TZ = zurich(t)
	}
	o.Warn = func(m string) { r.warnings = append(r.warnings, m) }
	o.Skipped = func(err error) { r.skipped = append(r.skipped, err.Error()) }
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
			return r
		}
		if _, err := canon.ParseLine(m.Line); err != nil {
			t.Fatalf("invalid line %s: %v", m.Line, err)
		}
		r.lines = append(r.lines, string(m.Line))
		if bl, ok := src.(canon.BlobLister); ok {
			for _, b := range bl.Blobs() {
				checkBlob(t, b)
				r.blobs[fmt.Sprintf("%x", b.SHA256)] = b.Size
			}
		}
	}
	if _, err := src.Next(); err != io.EOF {
		t.Fatalf("Next after EOF: %v", err)
	}
	return r
}

func checkBlob(t testing.TB, b canon.Blob) {
	t.Helper()
	rc, err := b.Open()
	if err != nil {
		t.Fatalf("blob open: %v", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("blob read: %v", err)
	}
	if int64(len(data)) != b.Size || sha(data) != b.SHA256 {
		t.Fatalf("blob %x: content does not match its size/hash", b.SHA256)
	}
}

// goldenCases are the real samples and the options each needs: files whose
// dates all fit both orders get the order their origin documents.
var goldenCases = []struct {
	file string
	opt  importers.Options
}{
	{"chat-miner_test_bracket-mmddyy_24hrs.txt", importers.Options{}},
	{"chat-miner_test_dateformat1.txt", importers.Options{}},
	{"chat-miner_test_dateformat2.txt", importers.Options{}},
	{"chat-miner_test_dateformat3.txt", importers.Options{}},
	{"chat-miner_test_dateformat4.txt", importers.Options{DayFirst: true}},
	{"chat-miner_test_dateformat5.txt", importers.Options{}},
	{"chat-miner_test_dateformat6.txt", importers.Options{}},
	{"chat-miner_test_ddmmyy_24hrs.txt", importers.Options{}},
	{"chat-miner_test_mmddyy_24hrs.txt", importers.Options{}},
	{"chat-miner_test_mmddyyyy_12hrs.txt", importers.Options{}},
	{"chat-miner_test_unicode.txt", importers.Options{MonthFirst: true}},
	{"chat-miner_test_yyyymmdd_24hrs.txt", importers.Options{}},
	{"chat-miner_testlog.txt", importers.Options{}},
	{"whatsapp-chat-parser-website_example-with-media.zip", importers.Options{}},
	{"whatsapp-chat-parser-website_old-example_chat.txt", importers.Options{}},
	{"whatsapp-chat-parser_short-chat.txt", importers.Options{DayFirst: true}},
}

// goldenText is what a golden file holds: the JSONL, then any warnings and
// skips as "#" lines.
func goldenText(r *result) string {
	var b strings.Builder
	b.WriteString(r.jsonl())
	for _, w := range r.warnings {
		b.WriteString("# warning: " + w + "\n")
	}
	for _, s := range r.skipped {
		b.WriteString("# skipped: " + s + "\n")
	}
	if r.err != nil {
		b.WriteString("# error: " + r.err.Error() + "\n")
	}
	return b.String()
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\ngot  %s\nwant %s", path, i+1, g, w)
			}
		}
	}
}

// relPaths makes the sample paths in warnings and errors independent of
// where the test runs.
func relPaths(s string) string {
	return strings.ReplaceAll(s, samplesDir+string(filepath.Separator), "")
}

func TestGoldenSamples(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join(samplesDir, c.file)
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("sample missing: %v", err)
			}
			r := run(t, path, c.opt)
			if r.err != nil {
				t.Fatalf("import: %v", r.err)
			}
			compareGolden(t, strings.TrimSuffix(c.file, filepath.Ext(c.file))+".jsonl", relPaths(goldenText(r)))
		})
	}
}

// The samples whose dates fit both orders stop with ErrAmbiguousDates when
// no order is given, naming the file.
func TestGoldenAmbiguousSamples(t *testing.T) {
	for _, c := range goldenCases {
		if !c.opt.DayFirst && !c.opt.MonthFirst {
			continue
		}
		path := filepath.Join(samplesDir, c.file)
		_, err := Open(context.Background(), path, importers.Options{TZ: time.UTC})
		if !errors.Is(err, importers.ErrAmbiguousDates) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v, want ErrAmbiguousDates naming the file", c.file, err)
		}
	}
}

// Synthetic fixtures under testdata/synthetic each have a golden file too.
func TestGoldenSynthetic(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "synthetic", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no synthetic fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			o := importers.Options{}
			if strings.Contains(f, "dayfirst") {
				o.DayFirst = true
			}
			r := run(t, f, o)
			got := strings.ReplaceAll(goldenText(r), filepath.Join("testdata", "synthetic")+string(filepath.Separator), "")
			compareGolden(t, "synthetic_"+strings.TrimSuffix(filepath.Base(f), ".txt")+".jsonl", got)
		})
	}
}

func sha(b []byte) [32]byte {
	return sha256Sum(b)
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
