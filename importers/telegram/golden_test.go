package telegram

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zones for tests, the same on every machine

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// samplesDir holds the real samples (shared/ sits beside the repository).
var samplesDir = filepath.Join("..", "..", "..", "shared", "testdata-public", "telegram")

func berlin(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// result is everything one import produced.
type result struct {
	lines    []string
	warnings []string
	skipped  []error
	blobs    map[string][]canon.Blob // by message id
	err      error                   // the error that ended the import (nil at EOF)
}

func (r *result) jsonl() []byte {
	var b bytes.Buffer
	for _, l := range r.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func (r *result) warned(sub string) bool {
	for _, w := range r.warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// run imports path with o (Warn and Skipped are filled in).
func run(t testing.TB, path string, o importers.Options) *result {
	t.Helper()
	r := &result{blobs: map[string][]canon.Blob{}}
	o.Warn = func(s string) { r.warnings = append(r.warnings, s) }
	o.Skipped = func(err error) { r.skipped = append(r.skipped, err) }
	src, err := Open(context.Background(), path, o)
	if err != nil {
		r.err = err
		return r
	}
	defer func() {
		if err := src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	for {
		m, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			r.err = err
			break
		}
		if _, err := canon.ParseLine(m.Line); err != nil {
			t.Fatalf("invalid canonical line %s: %v", m.Line, err)
		}
		r.lines = append(r.lines, string(m.Line))
		if b := src.(canon.BlobLister).Blobs(); len(b) > 0 {
			r.blobs[m.ID] = append([]canon.Blob(nil), b...)
		}
	}
	// After the end, Next keeps returning the same answer.
	if r.err == nil {
		if _, err := src.Next(); err != io.EOF {
			t.Fatalf("Next after EOF: %v", err)
		}
	}
	return r
}

// mustRun imports and fails the test on an error.
func mustRun(t testing.TB, path string, o importers.Options) *result {
	t.Helper()
	r := run(t, path, o)
	if r.err != nil {
		t.Fatalf("import %s: %v", path, r.err)
	}
	return r
}

// checkGolden compares got with testdata/golden/name (or rewrites it).
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestGoldenSamples imports every real sample and compares the canonical
// lines with the committed golden files.
func TestGoldenSamples(t *testing.T) {
	samples, err := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) < 4 {
		t.Fatalf("expected the 4 public samples in %s, found %d", samplesDir, len(samples))
	}
	for _, p := range samples {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			if !Detect(p) {
				t.Errorf("Detect(%s) = false", name)
			}
			r := mustRun(t, p, importers.Options{TZ: berlin(t)})
			if len(r.lines) == 0 {
				t.Fatal("no messages")
			}
			checkGolden(t, strings.TrimSuffix(name, ".json")+".jsonl", r.jsonl())
		})
	}
}

// TestGoldenFixtures does the same for the synthetic fixtures under
// testdata/ (each also has a named test checking what it is about).
func TestGoldenFixtures(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if name == "golden" || name == "fuzz" || strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join("testdata", name)
		if !e.IsDir() && !strings.HasSuffix(name, ".json") {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			r := run(t, p, importers.Options{TZ: berlin(t), SkipInvalid: true})
			var b bytes.Buffer
			b.Write(r.jsonl())
			for _, w := range r.warnings {
				b.WriteString("# warning: " + relName(w) + "\n")
			}
			for _, s := range r.skipped {
				b.WriteString("# skipped: " + relName(s.Error()) + "\n")
			}
			if r.err != nil {
				b.WriteString("# error: " + relName(r.err.Error()) + "\n")
				if !errors.Is(r.err, importers.ErrMalformed) {
					t.Errorf("error does not wrap ErrMalformed: %v", r.err)
				}
			}
			checkGolden(t, strings.TrimSuffix(name, ".json")+".jsonl", b.Bytes())
		})
	}
	if n < 10 {
		t.Fatalf("only %d fixtures found under testdata/", n)
	}
}

// relName makes messages independent of the OS path separator.
func relName(s string) string { return filepath.ToSlash(s) }
