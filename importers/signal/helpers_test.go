package signal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zones for tests, the same on every machine

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
	"github.com/chatvault/chatvault/importers/importertest"
)

var update = flag.Bool("update", false, "rewrite the golden files and the fuzz seed corpus under testdata/")

// samplesDir holds the real samples (shared/ sits beside the repository).
var samplesDir = filepath.Join("..", "..", "..", "shared", "testdata-public", "signal")

// berlin is the zone golden runs read naive times in, so that the golden
// files do not depend on the machine's zone.
var berlin = func() *time.Location {
	l, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return l
}()

// result is everything one import produced.
type result struct {
	lines   []string
	msgs    []map[string]any
	warns   []string
	skipped []error
	blobs   map[string][]canon.Blob // by message id
	err     error                   // the error that ended the import (nil at EOF)
}

func run(t testing.TB, path string, o importers.Options) *result {
	t.Helper()
	r := &result{blobs: map[string][]canon.Blob{}}
	o.Warn = func(s string) { r.warns = append(r.warns, s) }
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
		var v map[string]any
		if err := json.Unmarshal(m.Line, &v); err != nil {
			t.Fatalf("line is not JSON: %v\n%s", err, m.Line)
		}
		r.msgs = append(r.msgs, v)
		if bs := src.(canon.BlobLister).Blobs(); len(bs) > 0 {
			r.blobs[m.ID] = slices.Clone(bs)
			for _, b := range bs {
				rc, err := b.Open()
				if err != nil {
					t.Fatalf("message %s: blob: %v", m.ID, err)
				}
				data, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || int64(len(data)) != b.Size || sha256.Sum256(data) != b.SHA256 {
					t.Fatalf("message %s: blob bytes do not match size and hash (%v)", m.ID, err)
				}
			}
		}
	}
	if r.err == nil {
		if _, err := src.Next(); err != io.EOF {
			t.Fatalf("Next after EOF: %v", err)
		}
	}
	return r
}

func mustRun(t testing.TB, path string, o importers.Options) *result {
	t.Helper()
	r := run(t, path, o)
	if r.err != nil {
		t.Fatalf("import %s: %v", path, r.err)
	}
	return r
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

// at finds the message whose raw starts with the header "[ts] ".
func (r *result) at(t *testing.T, ts string) map[string]any {
	t.Helper()
	for _, m := range r.msgs {
		if raw, _ := m["raw"].(string); strings.HasPrefix(raw, "["+ts+"] ") {
			return m
		}
	}
	t.Fatalf("no message at %s", ts)
	return nil
}

func (r *result) warned(sub string) bool {
	for _, w := range r.warns {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// log renders warnings, skipped records, blobs and the error for the golden
// files.
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

// checkGolden compares got with testdata/golden/name, or rewrites it.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	importertest.CheckGolden(t, name, got, *update)
}

// goldenRun imports path (SkipInvalid, Europe/Berlin) and compares the
// lines and the log with testdata/golden/<name>.jsonl and .log. Warnings
// name files by their path: the test directory is replaced by "$DIR".
func goldenRun(t *testing.T, path, name string) *result {
	t.Helper()
	r := run(t, path, importers.Options{SkipInvalid: true, TZ: berlin})
	var jsonl bytes.Buffer
	for _, l := range r.lines {
		jsonl.WriteString(l)
		jsonl.WriteByte('\n')
	}
	checkGolden(t, name+".jsonl", jsonl.String())
	checkGolden(t, name+".log", r.log())
	return r
}

// writeFile writes a transcript into a fresh temporary folder.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
