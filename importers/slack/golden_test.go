package slack

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chatvault/chatvault/importers"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// golden compares got with testdata/golden/name (or rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (go test -update rewrites it)\n got:\n%s", p, got)
	}
}

const sampleZip = "slack-export-viewer_testarchive_redacted.zip"

// TestGoldenSlackExportViewerZip imports the real export zip.
func TestGoldenSlackExportViewerZip(t *testing.T) {
	r := run(t, filepath.Join(samples, sampleZip), importers.Options{})
	if len(r.lines) != 158 {
		t.Errorf("%d messages, want 158 (the day files' array elements)", len(r.lines))
	}
	if len(r.warnings) != 0 || len(r.skipped) != 0 {
		t.Errorf("warnings %q, skipped %v", r.warnings, r.skipped)
	}
	golden(t, "slack-export-viewer_testarchive.jsonl", r.text())
}

// TestGoldenSlackExportViewerFolder imports the same export unpacked: same
// bytes as from the zip.
func TestGoldenSlackExportViewerFolder(t *testing.T) {
	dir := unzip(t, filepath.Join(samples, sampleZip))
	r := run(t, dir, importers.Options{})
	golden(t, "slack-export-viewer_testarchive.jsonl", r.text())
}

// TestGoldenZulipFixtures imports each of Zulip's Slack fixtures as the day
// file of channel "random" of an export whose channels.json is Zulip's.
func TestGoldenZulipFixtures(t *testing.T) {
	dir := filepath.Join(samples, "zulip")
	channels, err := os.ReadFile(filepath.Join(dir, "channels.json"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	dateRE := regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)
	n := 0
	for _, f := range files {
		base := filepath.Base(f)
		if base == "channels.json" {
			continue
		}
		n++
		t.Run(base, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			day := dateRE.FindString(base)
			if day == "" {
				day = "2000-01-01"
			}
			tree := writeTree(t, map[string]string{"channels.json": string(channels), "random/" + day + ".json": string(data)})
			r := run(t, tree, importers.Options{})
			if len(r.lines) == 0 || len(r.skipped) != 0 {
				t.Fatalf("%d lines, skipped %v", len(r.lines), r.skipped)
			}
			golden(t, "zulip_"+base[:len(base)-len(".json")]+".jsonl", r.text())
		})
	}
	if n != 6 {
		t.Errorf("%d zulip fixtures, want 6", n)
	}
}

// TestGoldenWorkspace imports the synthetic workspace fixture (every trap
// the real samples lack), as a folder and as a zip.
func TestGoldenWorkspace(t *testing.T) {
	r := run(t, filepath.Join("testdata", "workspace"), importers.Options{})
	golden(t, "workspace.jsonl", r.text())
	if r.blobErr != nil || len(r.blobs) != 1 {
		t.Errorf("blobs %v: %v", r.blobs, r.blobErr)
	}
	rz := run(t, zipDir(t, filepath.Join("testdata", "workspace"), ""), importers.Options{})
	if rz.text() != r.text() {
		t.Errorf("the zip gives other lines than the folder:\n%s", rz.text())
	}
	if rz.blobErr != nil || len(rz.blobs) != 1 {
		t.Errorf("zip blobs %v: %v", rz.blobs, rz.blobErr)
	}
}

// TestReimportDeterministic: importing the same export twice gives
// byte-identical lines.
func TestReimportDeterministic(t *testing.T) {
	for _, p := range []string{filepath.Join(samples, sampleZip), filepath.Join("testdata", "workspace")} {
		a := run(t, p, importers.Options{})
		b := run(t, p, importers.Options{})
		if a.text() != b.text() || a.text() == "" {
			t.Errorf("%s: two imports differ", p)
		}
	}
}
