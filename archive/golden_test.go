package archive

import (
	"bytes"
	"context"
	"flag"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/remote/local"
)

// The golden archive: a small archive made once by format v1 and committed
// under testdata/golden/v1. Every later version of chatvault must still open,
// verify and restore it exactly. Regenerate it only when adding a new golden
// version (-update writes testdata/golden/v1 afresh; never change v1 once released).
var update = flag.Bool("update", false, "rewrite testdata/golden/v1")

const (
	goldenDir        = "../testdata/golden/v1"
	goldenPassphrase = "correct horse battery staple"
)

func goldenRecoveryKey() recovery.Key {
	var k recovery.Key
	for i := range k {
		k[i] = byte(0xf0 - i)
	}
	return k
}

func goldenInputs() []string {
	return []string{
		msg("telegram:1001", "1", "2023-03-01T09:00:00+01:00", "Hallo! 👋") +
			`{"conversation":"telegram:1001","id":"2","time":"2023-03-01T09:01:30+01:00","kind":"service","service":"pinned","big":123456789012345678901234567890,"null":null}` + "\n" +
			msg("slack:C01", "1690000000.000100", "2023-07-22T04:26:40Z", "standup in 5"),
		// second export: a new message, an edit and an unchanged one
		msg("telegram:1001", "1", "2023-03-01T09:00:00+01:00", "Hallo! 👋 (edited)") +
			msg("telegram:1001", "3", "2023-03-02T10:00:00+01:00", "line one\nline two") +
			msg("slack:C01", "1690000000.000100", "2023-07-22T04:26:40Z", "standup in 5"),
	}
}

func TestGoldenArchiveV1(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	// Work on a copy: opening writes nothing, but the store wants its tmp/.
	dir := t.TempDir()
	if err := exec.Command("cp", "-r", filepath.Join(goldenDir, "store"), dir).Run(); err != nil {
		t.Fatal(err)
	}
	st, err := local.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ListArchives(context.Background(), st)
	if err != nil || len(ids) != 1 {
		t.Fatalf("golden store: %v %v", ids, err)
	}
	fp, _ := os.ReadFile(filepath.Join(goldenDir, "fingerprint"))
	for _, u := range []Unlocker{
		&PassphraseUnlocker{Get: func(context.Context) ([]byte, error) { return []byte(goldenPassphrase), nil }},
		RecoveryUnlocker{Key: goldenRecoveryKey()},
	} {
		a, err := Open(context.Background(), st, ids[0].ID, Options{Pin: strings.TrimSpace(string(fp))})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Unlock(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(context.Background(), VerifyOptions{ReadData: true}); err != nil {
			t.Fatal(err)
		}
		for v, file := range map[uint64]string{2: "restore-v2.jsonl", 3: "restore-v3.jsonl"} {
			var got bytes.Buffer
			err := a.Restore(context.Background(), RestoreOptions{Version: v}, func(c ConversationInfo) (LineWriter, error) {
				got.WriteString("# " + c.SourceKey + "\n")
				return &bufWriter{&got}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(goldenDir, file))
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != string(want) {
				t.Errorf("version %d restores\n%s\nwant\n%s", v, got.String(), want)
			}
		}
	}
}

type bufWriter struct{ b *bytes.Buffer }

func (w *bufWriter) WriteLine(l []byte) error { w.b.Write(l); w.b.WriteByte('\n'); return nil }
func (w *bufWriter) Close() error             { return nil }

// chachaReader is a deterministic randomness source for the golden archive.
type chachaReader struct{ r *rand.ChaCha8 }

func (c chachaReader) Read(p []byte) (int, error) { return c.r.Read(p) }

func writeGolden(t *testing.T) {
	os.RemoveAll(goldenDir)
	st, err := local.Open(filepath.Join(goldenDir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	rnd := chachaReader{rand.NewChaCha8([32]byte{'c', 'h', 'a', 't', 'v', 'a', 'u', 'l', 't'})}
	clock := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	opts := Options{Rand: rnd, Now: func() time.Time { clock = clock.Add(time.Minute); return clock }}
	ctx := context.Background()
	a, err := Create(ctx, st, CreateOptions{Label: "golden v1", Suite: 1, Lockers: []Locker{
		PassphraseLocker{Passphrase: []byte(goldenPassphrase), Rand: rnd},
		RecoveryLocker{Key: goldenRecoveryKey(), Rand: rnd},
	}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range goldenInputs() {
		if _, err := a.Export(ctx, canon.NewReader(strings.NewReader(in), "golden"), ExportOptions{Jobs: 1}); err != nil {
			t.Fatal(err)
		}
	}
	os.RemoveAll(filepath.Join(goldenDir, "store", "tmp"))
	os.WriteFile(filepath.Join(goldenDir, "fingerprint"), []byte(a.Fingerprint()+"\n"), 0o644)
	for v, file := range map[uint64]string{2: "restore-v2.jsonl", 3: "restore-v3.jsonl"} {
		var got bytes.Buffer
		err := a.Restore(ctx, RestoreOptions{Version: v}, func(c ConversationInfo) (LineWriter, error) {
			got.WriteString("# " + c.SourceKey + "\n")
			return &bufWriter{&got}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(goldenDir, file), got.Bytes(), 0o644)
	}
	t.Logf("wrote %s", goldenDir)
}
