package archive

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	e := newEnv(t)
	a := e.create("my chats")
	lines := []string{
		msg("alice", "1", "2024-01-01T10:00:00Z", "hi"),
		msg("bob", "1", "2024-01-01T09:00:00+02:00", "hello bob"),
		msg("alice", "2", "2024-01-01T10:01:00Z", "how are you"),
		msg("bob", "2", "2024-01-02T09:00:00+02:00", "second"),
	}
	res := e.export(a, strings.Join(lines, ""), ExportOptions{})
	if res.Commit != 2 || res.Added != 4 || res.NewConversations != 2 || res.Segments != 2 {
		t.Fatalf("export: %+v", res)
	}
	b := e.open(a.ID())
	got := e.restore(b, RestoreOptions{})
	if want := byConv(lines...); !maps.Equal(got, want) {
		t.Fatalf("restore:\n%q\nwant\n%q", got, want)
	}
	// Exporting the same input again adds nothing and makes no commit.
	again := e.export(b, strings.Join(lines, ""), ExportOptions{})
	if again.Commit != 0 || again.Added != 0 || again.Unchanged != 4 {
		t.Fatalf("re-export: %+v", again)
	}
	if b.Head() != 2 {
		t.Fatalf("head %d after re-export", b.Head())
	}
	if _, err := b.Verify(e.ctx, VerifyOptions{ReadData: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(e.ctx, VerifyOptions{Keyless: true}); err != nil {
		t.Fatal(err)
	}
	label, err := b.Label(e.ctx)
	if err != nil || label != "my chats" {
		t.Fatalf("label %q, %v", label, err)
	}
}

func TestWrongKey(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	b, err := Open(e.ctx, e.st, a.ID(), e.opts())
	if err != nil {
		t.Fatal(err)
	}
	err = b.Unlock(e.ctx, RecoveryUnlocker{Key: [32]byte{9}})
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("got %v", err)
	}
}
