package audit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archive/audit"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/local"
)

func rec(action string, details map[string]any) audit.Record {
	return audit.Record{Action: action, Archive: "00112233445566778899aabbccddeeff", Operator: "alice@host", IdentitySource: "local-user", Details: details}
}

// Records are appended, never rewritten; the file is created 0600; every
// line is one JSON record.
func TestAppendOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := &audit.Log{Path: path}
	ctx := t.Context()
	if err := l.Append(ctx, rec(audit.ActionInit, map[string]any{"wrappers": []string{"recovery"}})); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
	if err := l.Append(ctx, rec(audit.ActionKeysAdd, map[string]any{"wrapper_id": "ab12", "type": "aws-kms", "kms_key": "arn:aws:kms:us-east-1:1:key/x"})); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	r := rec(audit.ActionShred, map[string]any{"grade": "final", "commit": 3})
	r.Time = at
	if err := l.Append(ctx, r); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.HasPrefix(after, before) || bytes.Count(after, []byte("\n")) != 3 {
		t.Fatalf("the log was rewritten:\n%s\n→\n%s", before, after)
	}
	recs, err := audit.ReadFile(path)
	if err != nil || len(recs) != 3 {
		t.Fatalf("ReadFile: %v %d", err, len(recs))
	}
	if recs[2].Action != audit.ActionShred || !recs[2].Time.Equal(at) || recs[2].Time.Location() != time.UTC || recs[0].Time.IsZero() {
		t.Errorf("records: %+v", recs)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(after)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		for k := range m {
			switch k {
			case "time", "action", "archive", "operator", "identity_source", "details":
			default:
				t.Errorf("unexpected field %q", k)
			}
		}
	}
}

// Secrets never reach the log: details naming one, or holding bytes, are
// refused before anything is written.
func TestNoSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := &audit.Log{Path: path}
	for _, d := range []map[string]any{
		{"passphrase": "hunter2"},
		{"Recovery-Key": "abcd"},
		{"nested": map[string]any{"aws_secret_access_key": "x"}},
		{"list": []any{map[string]any{"token": "x"}}},
		{"key": []byte{1, 2, 3}},
		{"archive_key": "00"},
		{"fn": func() {}},
	} {
		err := l.Append(t.Context(), rec(audit.ActionRekey, d))
		if err == nil {
			t.Errorf("details %v accepted", d)
		}
		if _, ok := d["fn"]; !ok && !errors.Is(err, audit.ErrSecret) {
			t.Errorf("details %v: %v", d, err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("a refused record created the log")
	}
	if err := l.Append(t.Context(), rec("drop-table", nil)); err == nil {
		t.Error("unknown action accepted")
	}
	// Ids of secrets are not secrets.
	if err := l.Append(t.Context(), rec(audit.ActionRekey, map[string]any{"recovery_key_id": "ab12", "passphrase_wrapper_id": "cd34"})); err != nil {
		t.Error(err)
	}
}

// A line cut short by a crash does not swallow the next record.
func TestCutLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	os.WriteFile(path, []byte(`{"time":"2026-01-01T00:00:00Z","action":"init","archive":"a"}`+"\n"+`{"time":"2026-01-01T00:00:00Z","act`), 0o600)
	l := &audit.Log{Path: path}
	if err := l.Append(t.Context(), rec(audit.ActionRotate, nil)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], `"rotate"`) {
		t.Fatalf("log: %q", b)
	}
	var r audit.Record
	if err := json.Unmarshal([]byte(lines[2]), &r); err != nil {
		t.Fatal(err)
	}
}

// Concurrent appends give whole lines.
func TestConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := &audit.Log{Path: path}
			if err := l.Append(t.Context(), rec(audit.ActionKeysRemove, map[string]any{"n": i, "pad": strings.Repeat("x", 2000)})); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	recs, err := audit.ReadFile(path)
	if err != nil || len(recs) != 20 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
}

// The store sink writes one object per record, create-exclusive, named by
// time.
func TestStoreSink(t *testing.T) {
	st, err := local.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := &audit.Log{Path: path, Store: st}
	for _, a := range []string{audit.ActionInit, audit.ActionShredConversation} {
		if err := l.Append(t.Context(), rec(a, map[string]any{"conversation": "c1"})); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	st.List(t.Context(), "audit/", func(i remote.Info) error { names = append(names, i.Name); return nil })
	if len(names) != 2 || !strings.HasSuffix(names[0], ".json") {
		t.Fatalf("objects: %v", names)
	}
	rc, _ := st.Open(t.Context(), names[1])
	var r audit.Record
	json.NewDecoder(rc).Decode(&r)
	rc.Close()
	if r.Action != audit.ActionShredConversation {
		t.Errorf("second object: %+v", r)
	}
	if recs, _ := audit.ReadFile(path); len(recs) != 2 {
		t.Errorf("file has %d records", len(recs))
	}
}
