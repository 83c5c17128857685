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

// collect imports p and returns the lines joined, or the error.
func collect(t *testing.T, p string, o importers.Options) (string, error) {
	src, err := Open(context.Background(), p, o)
	if err != nil {
		return "", err
	}
	defer src.Close()
	var b strings.Builder
	ids := map[string]bool{}
	for {
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
			checkBlob(t, bl)
		}
		b.Write(m.Line)
		b.WriteByte('\n')
	}
}

// FuzzOpen imports arbitrary bytes as a chat text (or a zip when they start
// with "PK"): no panic, only ErrMalformed or ErrAmbiguousDates, valid
// canonical lines with unique ids, and the same output twice. flags: 1
// SkipInvalid, 2 DayFirst, 4 MonthFirst.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(android), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, flags uint8) {
		if len(data) > 1<<20 {
			return
		}
		name := "WhatsApp Chat with F.txt"
		isZip := bytes.HasPrefix(data, []byte("PK"))
		if isZip {
			name = "f.zip"
		}
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		o := importers.Options{TZ: time.UTC, SkipInvalid: flags&1 != 0, DayFirst: flags&2 != 0, MonthFirst: flags&4 != 0 && flags&2 == 0}
		out1, err1 := collect(t, p, o)
		out2, err2 := collect(t, p, o)
		if out1 != out2 || (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("two imports differ:\n%s\n%v\n%s\n%v", out1, err1, out2, err2)
		}
		if err1 != nil && !errors.Is(err1, importers.ErrMalformed) && !errors.Is(err1, importers.ErrAmbiguousDates) {
			t.Fatalf("unexpected error class: %v", err1)
		}
		if err1 != nil && !strings.Contains(err1.Error(), p) {
			t.Fatalf("error does not name the file: %v", err1)
		}
		if o.SkipInvalid && !isZip && out1 != "" && err1 != nil {
			t.Fatalf("SkipInvalid stopped a text import: %v", err1)
		}
	})
}

// TestFuzzCorpus fails when the seed corpus is missing.
func TestFuzzCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzOpen", "*"))
	if err != nil || len(files) < 10 {
		t.Fatalf("seed corpus testdata/fuzz/FuzzOpen missing or too small (%d files): %v", len(files), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || !bytes.HasPrefix(b, []byte("go test fuzz v1\n")) {
			t.Errorf("%s is not a fuzz corpus file: %v", f, err)
		}
	}
}
