package signal

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/importers"
)

// TestGoldenSamples imports every real sample (signal-export v1 text from
// chat-miner) and compares the canonical lines with the golden files.
func TestGoldenSamples(t *testing.T) {
	if _, err := os.Stat(filepath.Join(samplesDir, "SOURCES.md")); err != nil {
		t.Skipf("shared samples not found: %v", err)
	}
	var samples []string
	for _, pat := range []string{"*.txt", "*.md"} {
		m, err := filepath.Glob(filepath.Join(samplesDir, pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			if filepath.Base(p) != "SOURCES.md" {
				samples = append(samples, p)
			}
		}
	}
	if len(samples) == 0 {
		t.Fatal("no Signal sample found")
	}
	for _, p := range samples {
		t.Run(filepath.Base(p), func(t *testing.T) {
			if !Detect(p) {
				t.Errorf("Detect(%s) = false", p)
			}
			r := goldenRun(t, p, "public/"+strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)))
			if len(r.lines) == 0 || len(r.skipped) > 0 || r.err != nil {
				t.Fatalf("%d lines, skipped %v, err %v", len(r.lines), r.skipped, r.err)
			}
		})
	}
	// The whole samples folder: the same messages.
	dir := run(t, samplesDir, importers.Options{TZ: berlin})
	one := run(t, samples[0], importers.Options{TZ: berlin})
	if dir.err != nil || len(samples) == 1 && !slices.Equal(dir.lines, one.lines) {
		t.Fatalf("folder import differs from the file import: %v", dir.err)
	}
}

// TestGoldenFixtures imports the synthetic fixtures (written by
// testdata/gen_fixtures.py after signal-export's to_md).
func TestGoldenFixtures(t *testing.T) {
	cases := map[string]string{
		"export":        filepath.Join("testdata", "export"),
		"export-alice":  filepath.Join("testdata", "export", "AliceSmith"),
		"export-family": filepath.Join("testdata", "export", "Family", "chat.md"),
		"v1":            filepath.Join("testdata", "v1", "Bob Jones.txt"),
		"crlf_bom":      filepath.Join("testdata", "odd", "crlf_bom.md"),
		"bad_date":      filepath.Join("testdata", "odd", "bad_date.md"),
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			goldenRun(t, p, name)
		})
	}
}
