package archive

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/remote/local"
)

// testKey is a fixed recovery key: tests use recovery wrappers, which skip
// Argon2id, unless they test passphrases.
var testKey = recovery.Key{1, 2, 3}

type env struct {
	t     *testing.T
	ctx   context.Context
	dir   string
	st    *local.Store
	state State
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := local.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: context.Background(), dir: dir, st: st, state: State{Dir: filepath.Join(dir, "state")}}
}

func (e *env) opts() Options { return Options{State: e.state} }

func (e *env) create(label string) *Archive {
	e.t.Helper()
	a, err := Create(e.ctx, e.st, CreateOptions{Label: label, Lockers: []Locker{RecoveryLocker{Key: testKey}}}, e.opts())
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) open(id ID) *Archive {
	e.t.Helper()
	a, err := Open(e.ctx, e.st, id, e.opts())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := a.Unlock(e.ctx, RecoveryUnlocker{Key: testKey}); err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) export(a *Archive, jsonl string, o ExportOptions) ExportResult {
	e.t.Helper()
	res, err := a.Export(e.ctx, canon.NewReader(strings.NewReader(jsonl), "input.jsonl"), o)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

type memWriter struct {
	out   map[string]*bytes.Buffer
	label string
}

func (m *memWriter) WriteLine(l []byte) error {
	m.out[m.label].Write(l)
	m.out[m.label].WriteByte('\n')
	return nil
}
func (m *memWriter) Close() error { return nil }

// restore returns each conversation's restored JSONL by source key.
func (e *env) restore(a *Archive, o RestoreOptions) map[string]string {
	e.t.Helper()
	out := map[string]*bytes.Buffer{}
	err := a.Restore(e.ctx, o, func(c ConversationInfo) (LineWriter, error) {
		out[c.SourceKey] = &bytes.Buffer{}
		return &memWriter{out: out, label: c.SourceKey}, nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	res := map[string]string{}
	for k, v := range out {
		res[k] = v.String()
	}
	return res
}

func msg(conv, id, time, text string) string {
	return fmt.Sprintf(`{"conversation":%q,"id":%q,"time":%q,"kind":"message","text":%q}`, conv, id, time, text) + "\n"
}

// expected groups input lines by conversation, in the order restore promises
// for inputs that are already time-ordered.
func byConv(lines ...string) map[string]string {
	out := map[string]string{}
	for _, l := range lines {
		m, err := canon.ParseLine([]byte(strings.TrimSuffix(l, "\n")))
		if err != nil {
			panic(err)
		}
		out[m.Conversation] += l
	}
	return out
}

func storeFiles(t *testing.T, root string) []string {
	var out []string
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}
