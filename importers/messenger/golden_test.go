package messenger

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoldenSamples imports every real sample (chat-miner's Instagram and
// Messenger test logs) and compares the canonical lines with the golden
// files.
func TestGoldenSamples(t *testing.T) {
	if _, err := os.Stat(filepath.Join(samplesDir, "SOURCES.md")); err != nil {
		t.Skipf("shared samples not found: %v", err)
	}
	samples, err := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	if err != nil || len(samples) < 3 {
		t.Fatalf("samples: %v %v", samples, err)
	}
	for _, p := range samples {
		t.Run(filepath.Base(p), func(t *testing.T) {
			if !Detect(p) {
				t.Errorf("Detect(%s) = false", p)
			}
			r := goldenRun(t, p, "public/"+strings.TrimSuffix(filepath.Base(p), ".json"))
			if len(r.lines) == 0 || len(r.skipped) > 0 || r.err != nil {
				t.Fatalf("%d lines, skipped %v, err %v", len(r.lines), r.skipped, r.err)
			}
		})
	}
}

// TestGoldenFixtures imports the synthetic exports (testdata/gen_fixtures.py)
// at every level: export root, messages folder, thread folder, one part.
func TestGoldenFixtures(t *testing.T) {
	fb := filepath.Join("testdata", "facebook-jdoe-20240501")
	cases := map[string]string{
		"facebook":          fb,
		"facebook-messages": filepath.Join(fb, "your_facebook_activity", "messages"),
		"facebook-thread":   filepath.Join(fb, "your_facebook_activity", "messages", "inbox", "alicesmith_10158000000000001"),
		"facebook-part2":    filepath.Join(fb, "your_facebook_activity", "messages", "inbox", "alicesmith_10158000000000001", "message_2.json"),
		"instagram":         filepath.Join("testdata", "instagram-jdoe-20240501"),
		"secure_storage":    filepath.Join("testdata", "secure_storage"),
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			if !Detect(p) {
				t.Errorf("Detect(%s) = false", p)
			}
			goldenRun(t, p, name)
		})
	}
}
