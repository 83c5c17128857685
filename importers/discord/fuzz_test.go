package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// importAll runs one import of path and returns the lines and the error that
// ended it (nil at io.EOF). It fails the test if the source does not end.
func importAll(t *testing.T, path string, o importers.Options, budget int) ([]string, error) {
	src, err := Open(context.Background(), path, o)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var lines []string
	for i := 0; ; i++ {
		if i > budget {
			t.Fatalf("source does not end after %d calls", i)
		}
		m, err := src.Next()
		if err == io.EOF {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
		if !strings.HasPrefix(m.Conversation, "discord:") || m.ID == "" {
			t.Fatalf("bad keys: %q %q", m.Conversation, m.ID)
		}
		if _, err := canon.ParseLine(m.Line); err != nil {
			t.Fatalf("invalid canonical line: %v", err)
		}
		for _, b := range src.(canon.BlobLister).Blobs() {
			if rc, err := b.Open(); err == nil {
				rc.Close()
			}
		}
		lines = append(lines, string(m.Line))
	}
}

// FuzzOpen feeds arbitrary bytes to the importer as a .json file: it must
// never panic or loop, every error must wrap ErrMalformed, SkipInvalid must
// never fail, and two runs must give the same lines.
func FuzzOpen(f *testing.F) {
	// The seed corpus is testdata/fuzz/FuzzOpen (TestFuzzCorpusPresent);
	// two tiny seeds keep the target useful if it is run elsewhere.
	f.Add([]byte(`{"guild":{"id":"1","name":"g"},"channel":{"id":"2","name":"c"},"messages":[{"id":"3","timestamp":"2024-01-01T00:00:00+01:00","content":"hi"}],"messageCount":1}`))
	f.Add([]byte(`{"messages":[{"id":"3","timestamp":"2024-01-01T00:00:00Z"}],"channel":{"id":"2"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "f.json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		budget := len(data) + 4
		strict, err := importAll(t, p, importers.Options{}, budget)
		if err != nil && !errors.Is(err, importers.ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		var skipped int
		lenient, lerr := importAll(t, p, importers.Options{SkipInvalid: true, Skipped: func(error) { skipped++ }}, budget)
		if lerr != nil {
			t.Fatalf("SkipInvalid failed: %v", lerr)
		}
		if len(lenient) < len(strict) {
			t.Fatalf("SkipInvalid gave fewer messages (%d) than a strict run (%d)", len(lenient), len(strict))
		}
		if err == nil && skipped > 0 {
			t.Fatalf("a strict run succeeded but SkipInvalid skipped %d records", skipped)
		}
		again, _ := importAll(t, p, importers.Options{SkipInvalid: true}, budget)
		if strings.Join(again, "\n") != strings.Join(lenient, "\n") {
			t.Fatal("two runs differ")
		}
		// Reading one byte at a time must not change anything.
		defer func(f func(io.Reader) io.Reader) { testReader = f }(testReader)
		testReader = iotest.OneByteReader
		small, serr := importAll(t, p, importers.Options{}, budget)
		if strings.Join(small, "\n") != strings.Join(strict, "\n") || (serr == nil) != (err == nil) ||
			(err != nil && serr.Error() != err.Error()) {
			t.Fatalf("one-byte reads differ: %v vs %v", serr, err)
		}
		// Where encoding/json reads a messages array, no message is lost.
		var doc map[string]json.RawMessage
		var msgs []json.RawMessage
		if err == nil && json.Unmarshal(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")), &doc) == nil &&
			json.Unmarshal(doc["messages"], &msgs) == nil && len(strict) < len(msgs) {
			t.Fatalf("%d messages imported, encoding/json sees %d", len(strict), len(msgs))
		}
	})
}

// TestFuzzCorpusPresent fails if the seed corpus of FuzzOpen is missing.
func TestFuzzCorpusPresent(t *testing.T) {
	m, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzOpen", "*"))
	if err != nil || len(m) < 10 {
		t.Fatalf("seed corpus testdata/fuzz/FuzzOpen has %d files, want at least 10 (%v)", len(m), err)
	}
	for _, p := range m {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(b, []byte("go test fuzz v1\n[]byte(")) {
			t.Fatalf("%s is not a corpus file (%v)", p, err)
		}
	}
}
