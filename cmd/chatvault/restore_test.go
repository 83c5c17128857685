package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archive"
)

// mayHaveBlob must be true for every line whose attachments parseMessage
// finds a blob in, however the key is spelled.
func TestMayHaveBlob(t *testing.T) {
	const sha = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
	line := func(key string) string {
		return `{"conversation":"c","id":"1","time":"2024-03-01T10:00:00Z","kind":"message","text":"a\u2028b \ud83d\ude00",` +
			`"attachments":[{"name":"p.jpg","` + key + `":"` + sha + `"}]}`
	}
	// Every spelling of "blob" with any of its letters escaped, in either case.
	esc := map[byte][]string{'b': {`\u0062`}, 'l': {`\u006c`, `\u006C`}, 'o': {`\u006f`, `\u006F`}}
	keys := []string{""}
	for _, c := range []byte("blob") {
		var next []string
		for _, k := range keys {
			next = append(next, k+string(c))
			for _, e := range esc[c] {
				next = append(next, k+e)
			}
		}
		keys = next
	}
	if len(keys) != 2*3*3*2 {
		t.Fatalf("%d spellings", len(keys))
	}
	for _, k := range keys {
		l := []byte(line(k))
		m, ok := parseMessage(l)
		if !ok || len(m.Attachments) != 1 || m.Attachments[0].Blob != sha {
			t.Fatalf("%s: the test line does not parse to a blob", k)
		}
		if !mayHaveBlob(l) {
			t.Errorf("mayHaveBlob false for key %s", k)
		}
	}
	// Lines that cannot name a blob, escapes of other characters included.
	for _, k := range []string{"sha256", "blobs", "Blob", "BLOB", `\u0042lob`, "blob_"} {
		l := []byte(line(k))
		if m, ok := parseMessage(l); !ok || m.Attachments[0].Blob != "" {
			t.Fatalf("%s: the test line parses to a blob", k)
		}
		if mayHaveBlob(l) {
			t.Errorf("mayHaveBlob true for key %s", k)
		}
	}
}

// The syncer closes every file handed over, syncing many at once or one by
// one, and reports the first failure.
func TestFileSyncer(t *testing.T) {
	dir := t.TempDir()
	create := func(n int) []*os.File {
		var fs []*os.File
		for i := range n {
			f, err := os.CreateTemp(dir, "f")
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(f, "file %d", i)
			fs = append(fs, f)
		}
		return fs
	}
	for _, n := range []int{0, 1, 3, 100} {
		s := newFileSyncer(dir)
		fs := create(n)
		for _, f := range fs {
			s.add(f)
		}
		if err := s.wait(); err != nil {
			t.Fatalf("%d files: %v", n, err)
		}
		if err := s.wait(); err != nil {
			t.Fatalf("second wait: %v", err)
		}
		for _, f := range fs {
			if _, err := f.Write([]byte("x")); err == nil {
				t.Fatalf("%d files: %s left open", n, f.Name())
			}
		}
	}
	s := newFileSyncer(dir)
	fs := create(3)
	fs[1].Close() // its Sync fails
	for _, f := range fs {
		s.add(f)
	}
	if err := s.wait(); err == nil {
		t.Fatal("no error for a file that cannot be synced")
	}
	if _, err := fs[2].Write([]byte("x")); err == nil {
		t.Fatal("file after the failure left open")
	}
}

// When the files cannot be made durable, commit renames nothing and removes
// the temp files.
func TestRestoreCommitSyncFailure(t *testing.T) {
	dir := t.TempDir()
	w := &restoreWriter{ctx: context.Background(), dir: dir, ext: ".jsonl", format: "jsonl",
		names: map[archive.ID]string{}, taken: map[string]bool{}, syncer: newFileSyncer(dir)}
	for i := range 3 {
		lw, err := w.open(archive.ConversationInfo{ID: archive.ID{byte(i + 1)}, Label: fmt.Sprint("c", i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := lw.WriteLine([]byte(`{"id":"1"}`)); err != nil {
			t.Fatal(err)
		}
		if err := lw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	broken, err := os.CreateTemp(dir, ".chatvault-restore-*")
	if err != nil {
		t.Fatal(err)
	}
	broken.Close()
	os.Remove(broken.Name())
	w.syncer.add(broken) // as if fsync failed
	if _, err := w.commit(); err == nil {
		t.Fatal("commit succeeded")
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	hidden, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left)+len(hidden) != 0 {
		t.Fatalf("left behind: %s", strings.Join(append(left, hidden...), ", "))
	}
}
