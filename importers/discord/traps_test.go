package discord

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/importers"
)

// Traps of chat-formats.md §4 that the checklist tests do not already name:
// §4.4.1 duplicates → TestChecklist10_Duplicates, §4.4.2 deleted users →
// TestChecklist7_Senders, §4.4.3 media paths → TestChecklist9_Media,
// §4.4.4 big channels → TestChecklist2_HugeFileBoundedMemory, §4.1 file
// names → TestFileNameDisagrees, §4.2 threads → TestThread, DMs →
// TestDirectMessages, numeric kinds → TestChecklist13_UnknownTypes, §4.3
// exporter offsets → TestChecklist3_Time.

// TestTrapLenientOptionalObjects (§4.4.5): optional objects of an odd shape
// (attachments as an object, a reaction without an emoji, a malformed embed
// colour, null content and author, numbers where strings belong, an
// unreadable timestampEdited) cost only that field, with a warning; raw keeps
// everything.
func TestTrapLenientOptionalObjects(t *testing.T) {
	r := mustRun(t, filepath.Join("testdata", "odd", "lenient.json"), importers.Options{})
	if len(r.msgs) != 5 {
		t.Fatalf("%d messages", len(r.msgs))
	}
	if _, ok := r.msgs[0]["attachments"]; ok || r.msgs[0]["raw"].(map[string]any)["attachments"] == nil {
		t.Errorf("attachments object: %v", r.msgs[0])
	}
	if got := fmt.Sprint(r.msgs[1]["reactions"]); got != "[map[count:2 emoji:1090000000000000001]]" {
		t.Errorf("reactions %s", got)
	}
	if emb := r.msgs[1]["raw"].(map[string]any)["embeds"].([]any)[0].(map[string]any); emb["color"] != "#-1" {
		t.Errorf("embed colour not kept verbatim: %v", emb)
	}
	pin := r.msgs[2]
	if _, ok := pin["text"]; ok || pin["service"] != "ChannelPinnedMessage" || pin["edited_at"] != nil || pin["reply_to"] != nil {
		t.Errorf("null content/author/messageId, bad timestampEdited: %v", pin)
	}
	num := r.msgs[3]
	if num["id"] != "1312705499627941888" || !strings.Contains(r.lines[3], `"id":1312705499627941888`) {
		t.Errorf("numeric id: %v", num["id"])
	}
	if a := num["attachments"].([]any)[0].(map[string]any); a["size"] != 1234.0 || a["missing"] != "not downloaded" {
		t.Errorf("string fileSizeBytes: %v", a)
	}
	if r.msgs[4]["text"] != "12345" {
		t.Errorf("numeric content: %v", r.msgs[4]["text"])
	}
	warns := strings.Join(r.warns, "\n")
	for _, w := range []string{"attachments ignored (kept in raw)", "a reaction without an emoji name or id ignored", `timestampEdited "not a time" ignored`} {
		if !strings.Contains(warns, w) {
			t.Errorf("no warning %q in\n%s", w, warns)
		}
	}
}

// TestTrapEmojiIDs (§4.2): standard emoji have id "" or null depending on
// the DCE version and are named by the emoji itself; custom emoji by name.
func TestTrapEmojiIDs(t *testing.T) {
	r := mustRun(t, generalPath(), importers.Options{})
	var got []string
	for _, m := range r.msgs {
		rs, _ := m["reactions"].([]any)
		for _, x := range rs {
			got = append(got, x.(map[string]any)["emoji"].(string))
		}
	}
	// 👋 has id "", 🧑‍💻 has id null, chatvault is a custom emoji.
	if strings.Join(got, " ") != "👋 chatvault 🧑\u200d💻 chatvault 🧑\u200d💻" {
		t.Errorf("emoji %q", got)
	}
}

// TestTrapForwardedMessage: a forward carries its text and files in
// forwardedMessage and references another channel; it is not a reply.
func TestTrapForwardedMessage(t *testing.T) {
	r := mustRun(t, generalPath(), importers.Options{})
	m := r.byText(t, "forwarded: the meeting moved to 3pm")
	if m["reply_to"] != nil || len(m["attachments"].([]any)) != 1 {
		t.Errorf("forward: %v", m)
	}
}

// TestTrapSystemMessagesKeepFallbackText: DCE writes readable fallback text
// for system messages; it is the text of the service record.
func TestTrapSystemMessagesKeepFallbackText(t *testing.T) {
	r := mustRun(t, generalPath(), importers.Options{})
	if m := r.byText(t, "Joined the server."); m["service"] != "GuildMemberJoin" || m["sender_name"] != "newbie" {
		t.Errorf("join: %v", m)
	}
}
