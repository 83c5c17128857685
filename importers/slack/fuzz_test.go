package slack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// Fuzz modes: where the fuzzed bytes go.
const (
	fuzzDayFile  = iota // general/2024-01-01.json of a folder export
	fuzzUsers           // users.json
	fuzzChannels        // channels.json
	fuzzZip             // the whole export, as a zip
	fuzzModes
)

// fuzzExport writes an export whose one fuzzed part is data.
func fuzzExport(t *testing.T, data []byte, mode byte) string {
	dir := t.TempDir()
	files := map[string][]byte{
		"users.json":                 []byte(`[{"id":"U1","name":"one","profile":{"real_name":"One"}}]`),
		"channels.json":              []byte(`[{"id":"C0GENERAL1","name":"general","members":["U1"]}]`),
		"general/2024-01-01.json":    []byte(`[{"type":"message","user":"U1","text":"hi","ts":"1704067200.000001"}]`),
		"general/2024-01-02.json":    []byte(`[{"type":"message","user":"U1","text":"later","ts":"1704153600.000001"}]`),
		"D0DM000001/2024-01-01.json": []byte(`[{"type":"message","user":"U2","text":"dm","ts":"1704067200.000002"}]`),
	}
	switch mode % fuzzModes {
	case fuzzDayFile:
		files["general/2024-01-01.json"] = data
	case fuzzUsers:
		files["users.json"] = data
	case fuzzChannels:
		files["channels.json"] = data
	case fuzzZip:
		p := filepath.Join(dir, "export.zip")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fuzzImport reads everything; it returns the lines and the first error.
func fuzzImport(t *testing.T, path string, skip bool) ([]string, error) {
	o := importers.Options{SkipInvalid: skip, Skipped: func(err error) {
		if !errors.Is(err, importers.ErrMalformed) {
			t.Fatalf("skipped a non-malformed error: %v", err)
		}
	}}
	src, err := Open(context.Background(), path, o)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var lines []string
	for i := 0; ; i++ {
		if i > 1<<20 {
			t.Fatal("Next does not end")
		}
		m, err := src.Next()
		if err == io.EOF {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
		if _, perr := canon.ParseLine(m.Line); perr != nil {
			t.Fatalf("invalid line %s: %v", m.Line, perr)
		}
		for _, b := range src.(canon.BlobLister).Blobs() {
			rc, err := b.Open()
			if err != nil {
				t.Fatalf("blob: %v", err)
			}
			rc.Close()
		}
		lines = append(lines, string(m.Line))
	}
}

// FuzzOpen feeds arbitrary bytes to a day file, a metadata file or the
// whole zip. Invariants: no panic; errors are ErrMalformed (the files are
// local, so nothing else can fail); with SkipInvalid nothing fails after
// Open; two imports give the same lines; no credential parameter survives
// in raw or text.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(`[{"ts":"1.000001","text":"x"}]`), byte(fuzzDayFile))
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		path := fuzzExport(t, data, mode)
		lines, err := fuzzImport(t, path, false)
		if err != nil && !errors.Is(err, importers.ErrMalformed) {
			t.Fatalf("error not ErrMalformed: %v", err)
		}
		again, err2 := fuzzImport(t, path, false)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) || len(again) != len(lines) {
			t.Fatalf("two imports differ: %v / %v", err, err2)
		}
		for i := range lines {
			if lines[i] != again[i] {
				t.Fatalf("two imports differ:\n%s\n%s", lines[i], again[i])
			}
		}
		skipped, err := fuzzImport(t, path, true)
		if err != nil {
			var fe *FileError
			if errors.As(err, &fe) || !errors.Is(err, importers.ErrMalformed) {
				t.Fatalf("SkipInvalid still failed: %v", err)
			}
			return // Open refused the zip
		}
		if len(skipped) < len(lines) {
			t.Fatalf("SkipInvalid gave fewer lines (%d) than a clean run (%d)", len(skipped), len(lines))
		}
		for _, l := range skipped {
			checkNoCredentials(t, l)
		}
	})
}

// checkNoCredentials fails if stripping credentials would still change a
// string of the line's raw or text.
func checkNoCredentials(t *testing.T, line string) {
	m := decode(t, line)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if stripURLCredentials(v) != v {
				t.Fatalf("credential left in %q of %s", v, line)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for k, e := range v {
				walk(k)
				walk(e)
			}
		}
	}
	walk(m["raw"])
	walk(m["text"])
}

// TestFuzzSeedCorpus fails if the seed corpus went missing: without it
// FuzzOpen runs on one seed in an ordinary go test.
func TestFuzzSeedCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzOpen", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("testdata/fuzz/FuzzOpen has %d seeds, want at least 20", len(files))
	}
	modes := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("go test fuzz v1\n")) {
			t.Errorf("%s is not a Go fuzz corpus file", f)
		}
		if i := bytes.LastIndex(b, []byte("byte(")); i >= 0 {
			modes[string(b[i:])] = true
		}
	}
	if len(modes) < fuzzModes {
		t.Errorf("the seeds cover %d modes, want %d", len(modes), fuzzModes)
	}
}
