package slack

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// samples is where the shared real samples live, beside the repository.
var samples = filepath.Join("..", "..", "..", "shared", "testdata-public", "slack")

// result is everything one import produced.
type result struct {
	lines    []string
	warnings []string
	skipped  []error
	blobs    map[string][]canon.Blob // "conversation id" → blobs of that message
	blobErr  error                   // from reading every blob at the end, before Close
}

// text is the canonical JSONL output.
func (r *result) text() string {
	if len(r.lines) == 0 {
		return ""
	}
	return strings.Join(r.lines, "\n") + "\n"
}

// find returns the decoded line of a message.
func (r *result) find(t *testing.T, conv, id string) map[string]any {
	t.Helper()
	var found map[string]any
	for _, l := range r.lines {
		m := decode(t, l)
		if m["conversation"] == conv && m["id"] == id {
			found = m // the last occurrence wins, as in the archive
		}
	}
	if found == nil {
		t.Fatalf("no message %s %s in\n%s", conv, id, r.text())
	}
	return found
}

func decode(t *testing.T, line string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(line))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decoding %s: %v", line, err)
	}
	return m
}

// run imports path with o (Warn and Skipped are collected) and fails the
// test on an error.
func run(t testing.TB, path string, o importers.Options) *result {
	t.Helper()
	r, err := tryRun(path, o)
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	return r
}

func tryRun(path string, o importers.Options) (*result, error) {
	r := &result{blobs: map[string][]canon.Blob{}}
	o.Warn = func(s string) { r.warnings = append(r.warnings, s) }
	o.Skipped = func(err error) { r.skipped = append(r.skipped, err) }
	src, err := Open(context.Background(), path, o)
	if err != nil {
		return r, err
	}
	defer src.Close()
	bl := src.(canon.BlobLister)
	for {
		m, err := src.Next()
		if err == io.EOF {
			r.blobErr = verifyBlobs(r) // after later messages, before Close
			return r, nil
		}
		if err != nil {
			return r, err
		}
		r.lines = append(r.lines, string(m.Line))
		if b := bl.Blobs(); len(b) > 0 {
			r.blobs[m.Conversation+" "+m.ID] = append([]canon.Blob(nil), b...)
		}
	}
}

// writeTree writes files (slash-separated names) under a new temp folder.
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// zipEntry is one entry of a test zip; header fields override the defaults.
type zipEntry struct {
	name string
	data []byte
	mode fs.FileMode // 0: regular file
}

func writeZip(t testing.TB, entries []zipEntry) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "export.zip")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// zipDir zips a folder's files, each name prefixed with prefix.
func zipDir(t testing.TB, dir, prefix string) string {
	t.Helper()
	var entries []zipEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		entries = append(entries, zipEntry{name: prefix + filepath.ToSlash(rel), data: data})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return writeZip(t, entries)
}

// unzip extracts a (trusted, test) zip into a new temp folder.
func unzip(t testing.TB, p string) string {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	dir := t.TempDir()
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, filepath.FromSlash(f.Name))
		os.MkdirAll(filepath.Dir(out), 0o755)
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// verifyBlobs reads every blob and checks its hash and size.
func verifyBlobs(r *result) error {
	for k, bs := range r.blobs {
		for _, b := range bs {
			rc, err := b.Open()
			if err != nil {
				return fmt.Errorf("%s: open blob: %v", k, err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return fmt.Errorf("%s: read blob: %v", k, err)
			}
			if sha256.Sum256(data) != b.SHA256 || int64(len(data)) != b.Size {
				return fmt.Errorf("%s: blob bytes do not match its hash/size", k)
			}
		}
	}
	return nil
}

// mustMalformed fails unless err wraps importers.ErrMalformed and mentions
// every part.
func mustMalformed(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, importers.ErrMalformed) {
		t.Fatalf("error %q does not wrap ErrMalformed", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
}

func contains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func jsonNumber(s string) any { return json.Number(s) }
