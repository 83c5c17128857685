package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/kms/secret"
	"github.com/chatvault/chatvault/remote"
)

func TestExitCode(t *testing.T) {
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	lineErr := &canon.LineError{Name: "f.jsonl", Line: 3, Reason: "bad", Err: canon.ErrMalformed}
	tests := []struct {
		name    string
		ctx     context.Context
		err     error
		started bool
		code    int
		hint    string
	}{
		{"ok", ctx, nil, true, 0, ""},
		{"plain", ctx, errors.New("boom"), true, 1, ""},
		{"before run", ctx, errors.New(`unknown flag: --x`), false, 2, ""},
		{"usage", ctx, usageErrorf("bad"), true, 2, ""},
		{"malformed", ctx, fmt.Errorf("export: %w", lineErr), true, 1, "nothing was committed"},
		{"integrity", ctx, fmt.Errorf("x: %w", archive.ErrIntegrity), true, 3, ""},
		{"integrity wins over wrong key", ctx, fmt.Errorf("%w: %w", archive.ErrIntegrity, archive.ErrWrongKey), true, 3, ""},
		{"wrong key", ctx, fmt.Errorf("x: %w", archive.ErrWrongKey), true, 4, "check the passphrase"},
		{"unavailable", ctx, fmt.Errorf("x: %w", remote.ErrUnavailable), true, 5, ""},
		{"conflict", ctx, fmt.Errorf("x: %w", archive.ErrConflict), true, 6, "run the command again"},
		{"ambiguous", ctx, fmt.Errorf("x: %w", archive.ErrAmbiguous), true, 2, ""},
		{"no secret", ctx, fmt.Errorf("x: %w", secret.ErrNoSecret), true, 2, ""},
		{"missing secret file", ctx, secretFileError(&fs.PathError{Op: "open", Path: "p", Err: fs.ErrNotExist}), true, 2, ""},
		{"not found", ctx, withHint(fmt.Errorf("x: %w", archive.ErrNotFound), "run ls"), true, 1, "run ls"},
		{"canceled", ctx, fmt.Errorf("x: %w", context.Canceled), true, 130, ""},
		{"kms unreachable", ctx, fmt.Errorf("archive x: %w", &awskms.Error{Op: "decrypt with", Key: "arn", Class: awskms.ErrUnreachable}), true, 5, "check the network and the KMS endpoint"},
		{"kms unreachable, other keys refused", ctx, fmt.Errorf("%w (and: %w)", &awskms.Error{Class: awskms.ErrUnreachable}, archive.ErrWrongKey), true, 5, "KMS endpoint"},
		{"kms disabled", ctx, fmt.Errorf("%w: %w", archive.ErrWrongKey, &awskms.Error{Op: "decrypt with", Key: "arn", Class: awskms.ErrDisabled}), true, 4, "the AWS KMS key named above refused"},
		{"kms denied", ctx, fmt.Errorf("%w: %w", archive.ErrWrongKey, &awskms.Error{Class: awskms.ErrDenied}), true, 4, "the AWS KMS key named above refused"},
		{"kms pending deletion", ctx, &awskms.Error{Class: awskms.ErrInvalidState}, true, 4, "the AWS KMS key named above refused"},
		{"kms key not found", ctx, &awskms.Error{Class: awskms.ErrNotFound}, true, 4, "the AWS KMS key named above refused"},
		{"kms wrong context", ctx, fmt.Errorf("%w: %w", archive.ErrWrongKey, &awskms.Error{Class: awskms.ErrWrongContext}), true, 4, "encryption context"},
		{"deletion after commit failed", ctx, fmt.Errorf("%w: commit 3 is written but deleting x failed (%w)", archive.ErrConflict, remote.ErrUnavailable), true, 6, "run the command again"},
		{"interrupted", canceled, errors.New("some error"), true, 130, ""},
		{"disk full", ctx, fmt.Errorf("writing temporary index file /tmp/chatvault-idx-1: %w", syscall.ENOSPC), true, 1, "TMPDIR"},
		{"too many open files", ctx, fmt.Errorf("creating temporary index file in /tmp: %w", &fs.PathError{Op: "open", Path: "/tmp/chatvault-idx-9", Err: syscall.EMFILE}), true, 1, "ulimit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, hint := exitCode(tt.ctx, tt.err, tt.started)
			if code != tt.code || !strings.Contains(hint, tt.hint) || (tt.hint == "" && hint != "") {
				t.Errorf("exitCode = %d, %q; want %d, %q", code, hint, tt.code, tt.hint)
			}
		})
	}
}

func TestExitStatusHelpListsEveryCode(t *testing.T) {
	help := exitStatusHelp()
	for _, c := range []int{0, 1, 2, 3, 4, 5, 6, 130} {
		if !strings.Contains(help, fmt.Sprintf("%3d  ", c)) {
			t.Errorf("exit status %d missing from help:\n%s", c, help)
		}
	}
}

func TestRestoreFileName(t *testing.T) {
	id := archive.ID{0xab, 0xcd, 0xef, 0x01, 0x23, 0x45}
	tests := []struct{ label, want string }{
		{"Alice & Bob", "Alice___Bob-abcdef012345.jsonl"},
		{"", "conversation-abcdef012345.jsonl"},
		{"../../etc/passwd", "_._.._etc_passwd-abcdef012345.jsonl"},
		{".hidden", "_hidden-abcdef012345.jsonl"},
		{"a/b\\c\x00d", "a_b_c_d-abcdef012345.jsonl"},
		{"Привет-мир_2.0", "Привет-мир_2.0-abcdef012345.jsonl"},
		{strings.Repeat("x", 100), strings.Repeat("x", 60) + "-abcdef012345.jsonl"},
		// Truncation never splits a character: 30 two-byte letters fit, the 31st does not.
		{strings.Repeat("é", 31), strings.Repeat("é", 30) + "-abcdef012345.jsonl"},
	}
	for _, tt := range tests {
		got := restoreFileName(tt.label, id, ".jsonl")
		if got != tt.want {
			t.Errorf("restoreFileName(%q) = %q, want %q", tt.label, got, tt.want)
		}
		if strings.ContainsAny(got, "/\\\x00") || strings.HasPrefix(got, ".") {
			t.Errorf("restoreFileName(%q) = %q is not a plain file name", tt.label, got)
		}
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"8MiB": 8 << 20, "8mib": 8 << 20, "512KiB": 512 << 10, "1M": 1 << 20, "1MB": 1000000,
		"4096": 4096, "64MiB": 64 << 20, " 2 MiB ": 2 << 20, "100b": 100,
	}
	for in, want := range good {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1MiB", "65MiB", "2GiB", "1.5MiB", "MiB", "8 parsecs", "9223372036854775807KiB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
	var s sizeFlag = 8 << 20
	if s.String() != "8MiB" {
		t.Errorf("sizeFlag.String() = %q", s.String())
	}
}

func TestFormatTextLine(t *testing.T) {
	tests := []struct{ line, want string }{
		{`{"conversation":"c","id":"1","time":"2024-03-01T10:00:00+02:00","kind":"message","sender":"alice","sender_name":"Alice","text":"hello"}`,
			"2024-03-01 10:00:00 +02:00  Alice: hello"},
		{`{"conversation":"c","id":"2","time":"2024-03-01T08:00:00Z","kind":"message","sender":"bob","text":["a ",{"type":"link","text":"b"}," c"],"reply_to":1}`,
			"2024-03-01 08:00:00 +00:00  bob: ↪ reply to 1 a b c"},
		{`{"conversation":"c","id":"3","time":"2024-03-01T08:00:00Z","kind":"message","text":"x","edited_at":"2024-03-01T09:00:00Z","reactions":[{"emoji":"👍","count":3}]}`,
			"2024-03-01 08:00:00 +00:00  ?: x (edited) [👍×3]"},
		{`{"conversation":"c","id":"4","time":"2024-03-01T08:00:00Z","kind":"message","sender_name":"A","attachments":[{"name":"v.mp4","missing":"not exported"}]}`,
			"2024-03-01 08:00:00 +00:00  A: [v.mp4 (missing: not exported)]"},
		{`{"conversation":"c","id":"5","time":"2024-03-01T08:00:00Z","kind":"service","sender_name":"A","service":{"action":"pin_message"}}`,
			"2024-03-01 08:00:00 +00:00  [service] A: pin_message"},
		{`{"conversation":"c","id":"7","time":"2024-03-01T08:00:00Z","kind":"message","sender_name":"A","text":"t","attachments":"oops","reactions":[{"emoji":"❤"}]}`,
			"2024-03-01 08:00:00 +00:00  A: t [❤]"},
		{`{"conversation":"c","id":"8","time":"2024-03-01T08:00:00Z","kind":"message","sender_name":"A","attachments":[{"name":"a.pdf","size":"2048","missing":true}]}`,
			"2024-03-01 08:00:00 +00:00  A: [a.pdf (2.0 KiB, missing)]"},
		{`{"conversation":"c","id":"6","time":"2024-03-01T08:00:00Z","kind":"message","sender":42,"text":"one\ntwo"}`,
			"2024-03-01 08:00:00 +00:00  42: one\n    two"},
	}
	for _, tt := range tests {
		if got := formatTextLine([]byte(tt.line)); got != tt.want {
			t.Errorf("formatTextLine(%s)\n got %q\nwant %q", tt.line, got, tt.want)
		}
	}
}

func TestIsSecretFlag(t *testing.T) {
	for _, name := range []string{"passphrase", "passphrase-file", "passphrase_command", "PASSPHRASE", "recovery-key", "recovery_key_file", "yes",
		"new-passphrase-file", "new_passphrase_command", "unlock-recovery-key-file"} {
		if !isSecretFlag(name) {
			t.Errorf("isSecretFlag(%q) = false", name)
		}
	}
	for _, name := range []string{"repo", "state-dir", "json", "format", "yesterday", "identity", "kms-endpoint", "kms", "recipient"} {
		if isSecretFlag(name) {
			t.Errorf("isSecretFlag(%q) = true", name)
		}
	}
}

// TestExportFlags parses a command line with the command's runF replaced, so flag
// handling is tested without a store.
func TestExportFlags(t *testing.T) {
	a := newApp(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	var got *exportOptions
	root := newRootCmd(a)
	for _, c := range root.Commands() {
		if c.Name() == "export" {
			root.RemoveCommand(c)
		}
	}
	root.AddCommand(newExportCmd(a, func(_ context.Context, o *exportOptions) error { got = o; return nil }))
	t.Setenv("CHATVAULT_JOBS", "3")
	t.Setenv("CHATVAULT_CONFIG", "/nonexistent/config.yaml")
	root.SetArgs([]string{"export", "Arch", "a.jsonl", "-", "--segment-size", "512KiB", "--format", "jsonl"})
	err := root.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nonexistent") {
		t.Fatalf("a missing --config file: err = %v, want an error naming it", err)
	}

	t.Setenv("CHATVAULT_CONFIG", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	root.SetArgs([]string{"export", "Arch", "a.jsonl", "-", "--segment-size", "512KiB", "--format", "jsonl"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("runF not called")
	}
	if got.Archive != "Arch" || strings.Join(got.Files, ",") != "a.jsonl,-" || got.SegmentSize != 512<<10 || got.Format != "jsonl" || got.Jobs != 3 || got.Compression != "fastest" {
		t.Errorf("options = %+v", *got)
	}
}

func TestPlural(t *testing.T) {
	if got := plural(1, "message"); got != "1 message" {
		t.Error(got)
	}
	if got := plural(int64(0), "message"); got != "0 messages" {
		t.Error(got)
	}
}

func TestAttachmentFileName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"photo.jpg", "photo.jpg"},
		{"Urlaub 2024.JPEG", "Urlaub_2024.JPEG"},
		{"../../x", "_._.._x"},
		{"/etc/passwd", "_etc_passwd"},
		{".bashrc", "_bashrc"},
		{"a/b", "a_b"},
		{`a\b.txt`, "a_b.txt"},
		{"nul\x00name.txt", "nul_name.txt"},
		{"", "attachment"},
		{".", "_"},
		{"..", "_."},
		{"x.tar.gz", "x.tar.gz"},
		{"evil.jpg/../../x", "evil.jpg_.._.._x"},
		{"name.with space", "name.with_space"},
		{"фото.jpg", "фото.jpg"},
		{strings.Repeat("x", 300) + ".jpg", strings.Repeat("x", 80) + ".jpg"},
		{"a." + strings.Repeat("e", 100), ("a." + strings.Repeat("e", 100))[:80]}, // no extension that long
		{strings.Repeat("é", 41), strings.Repeat("é", 40)},
	}
	for _, tt := range tests {
		got := attachmentFileName(tt.name)
		if got != tt.want {
			t.Errorf("attachmentFileName(%q) = %q, want %q", tt.name, got, tt.want)
		}
		if strings.ContainsAny(got, "/\\\x00") || strings.HasPrefix(got, ".") || got == "" || len(got) > 96 {
			t.Errorf("attachmentFileName(%q) = %q is not a plain file name", tt.name, got)
		}
	}
}

// pickName: a different content under a name in use gets a hash, also when
// only the case differs; the hashed names never clash either.
func TestAttachmentNameCollisions(t *testing.T) {
	c := &convFiles{taken: map[string]bool{}}
	shaA := strings.Repeat("a", 64)
	shaB := strings.Repeat("b", 64)
	shaC := strings.Repeat("c", 64)
	got := []string{
		c.pickName("p.jpg", shaA),
		c.pickName("P.JPG", shaB),
		c.pickName("p-cccccccc.jpg", shaC), // takes the name the next one would get
		c.pickName("p.jpg", shaC),
		c.pickName("p.jpg", shaC),
	}
	want := []string{"p.jpg", "P-bbbbbbbb.JPG", "p-cccccccc.jpg", "p-cccccccccccccccc.jpg", "p-" + shaC + ".jpg"}
	if !slices.Equal(got, want) {
		t.Errorf("names %q, want %q", got, want)
	}
}

func TestFormatTextMessageWithFiles(t *testing.T) {
	line := `{"conversation":"c","id":"1","time":"2024-03-01T08:00:00Z","kind":"message","sender_name":"A","text":"look","attachments":[` +
		`{"name":"p.jpg","mime":"image/jpeg","size":2048,"blob":"ab"},{"name":"v.mp4","missing":"not exported"},{"name":"x","missing":true},{"name":"y"},{"name":"a\nb","blob":"cd"}]}`
	m, ok := parseMessage([]byte(line))
	if !ok {
		t.Fatal("not parsed")
	}
	m.Attachments[0].File = "Chat-0123456789ab.files/p.jpg"
	m.Attachments[4].File = "Chat-0123456789ab.files/a_b"
	for i, reason := range []string{"not exported", "missing from the export", "not in the archive"} {
		if got := notIncluded(m.Attachments[i+1].Missing); got != reason {
			t.Errorf("notIncluded(%q) = %q", m.Attachments[i+1].Missing, got)
		}
		m.Attachments[i+1].NotIncluded = reason
	}
	want := "2024-03-01 08:00:00 +00:00  A: look [p.jpg (image/jpeg, 2.0 KiB) → Chat-0123456789ab.files/p.jpg] [v.mp4] [file not included: not exported] " +
		"[x] [file not included: missing from the export] [y] [file not included: not in the archive] [a b → Chat-0123456789ab.files/a_b]"
	if got := formatTextMessage(m, true); got != want {
		t.Errorf("formatTextMessage\n got %q\nwant %q", got, want)
	}
}

func TestPromptRecoveryKey(t *testing.T) {
	k, err := recovery.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	typed := func(s string) func(string) ([]byte, error) {
		return func(prompt string) ([]byte, error) {
			if !strings.Contains(prompt, "Recovery key for archive") {
				t.Errorf("prompt %q", prompt)
			}
			return []byte(s), nil
		}
	}
	got, err := promptRecoveryKey(typed(strings.ToLower(k.String())), "x")
	if err != nil || got != k {
		t.Fatalf("typed key: %v", err)
	}
	bad := []byte(k.String())
	bad[0] ^= 1
	if _, err := promptRecoveryKey(typed(string(bad)), "x"); !errors.Is(err, recovery.ErrInvalid) {
		t.Fatalf("typo: %v", err)
	}
	if _, err := promptRecoveryKey(nil, "x"); err == nil {
		t.Fatal("no terminal: no error")
	} else if code, _ := exitCode(context.Background(), err, true); code != 2 {
		t.Fatalf("no terminal: exit %d, want 2", code)
	}
}
