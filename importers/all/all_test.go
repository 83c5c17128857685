package all

import (
	"os"
	"path/filepath"
	"testing"
)

func sample(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "..", "shared", "testdata-public"}, parts...)...)
}

// Each real sample is detected as its own format, and canonical lines whose
// raw records look like another format are still canonical lines.
func TestDetect(t *testing.T) {
	dir := t.TempDir()
	line := []byte(`{"conversation":"telegram:1","id":"1","time":"2024-01-01T00:00:00Z","kind":"message","raw":{"id":5,"date":"2024-01-01T00:00:00","date_unixtime":"1704067200","from_id":"user1","text_entities":[],"messages":[]}}` + "\n")
	canonical := filepath.Join(dir, "chats.jsonl")
	os.WriteFile(canonical, line, 0o600)
	// The same lines under another name: the Telegram sniffer would claim
	// them ("date_unixtime" in the first KiB), the canonical one comes first.
	renamed := filepath.Join(dir, "backup-2024.txt")
	os.WriteFile(renamed, line, 0o600)
	for path, want := range map[string]string{
		sample("telegram", "tg-parser_personal_chat.json"):                        "telegram",
		sample("whatsapp", "whatsapp-chat-parser-website_example-with-media.zip"): "whatsapp",
		sample("whatsapp", "chat-miner_test_ddmmyy_24hrs.txt"):                    "whatsapp",
		sample("slack", "slack-export-viewer_testarchive_redacted.zip"):           "slack",
		canonical:                           "jsonl",
		renamed:                             "jsonl",
		"../../testdata/sample/chats.jsonl": "jsonl",
	} {
		got, err := Detect(path)
		if err != nil || got != want {
			t.Errorf("%s: detected %q (%v), want %q", filepath.Base(path), got, err, want)
		}
	}
	other := filepath.Join(dir, "notes.txt")
	os.WriteFile(other, []byte("shopping list\n"), 0o600)
	if got, err := Detect(other); err == nil {
		t.Errorf("notes.txt detected as %q", got)
	}
}
