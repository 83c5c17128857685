package archive

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/crypto/seal"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/remote/local"
)

// The second golden archive, testdata/golden/v1-keys: format v1 with the key
// machinery at work. Commit 1 inits it with one recovery key (ChaCha20-Poly1305
// suite), commit 2 exports, commit 3 is a keys commit adding a second recovery
// wrapper and removing the first, commit 4 re-keys it (a new archive key and
// signing key, key-change record, remap, a third recovery key), commit 5
// exports under the new key (an edit, a new message in an existing
// conversation, a new conversation). Every later chatvault must still open,
// verify and restore it exactly. -update-keys writes it afresh; never change
// it once released.
var updateKeys = flag.Bool("update-keys", false, "rewrite testdata/golden/v1-keys")

const goldenKeysDir = "../testdata/golden/v1-keys"

// goldenKeysRecovery returns the n-th fixed recovery key (1, 2, 3) of the
// keys golden archive: 1 made at init, 2 added by the keys commit, 3 made by
// the re-key.
func goldenKeysRecovery(n byte) recovery.Key {
	var k recovery.Key
	for i := range k {
		k[i] = n<<4 | byte(i)
	}
	return k
}

func goldenKeysInputs() []string {
	return []string{
		msg("signal:+4915550001", "m1", "2024-02-01T08:00:00+01:00", "Guten Morgen ☀️") +
			msg("signal:+4915550001", "m2", "2024-02-01T08:05:00+01:00", "keys are rotated on Friday") +
			msg("discord:42/7", "900000000000000001", "2024-02-02T18:30:00Z", "gg"),
		// after the re-key: an edit, a new message in an existing
		// conversation (found through its source hash recomputed under the
		// new key) and a new conversation
		msg("signal:+4915550001", "m2", "2024-02-01T08:05:00+01:00", "keys are rotated on Friday (edited)") +
			msg("signal:+4915550001", "m3", "2024-02-09T09:00:00+01:00", "rekeyed\ttoo") +
			msg("discord:42/7", "900000000000000001", "2024-02-02T18:30:00Z", "gg") +
			msg("whatsapp:Family", "w1", "2024-02-10T12:00:00+02:00", "🎉"),
	}
}

// goldenKeysShape is what the chain must look like: kind and key epoch of
// each commit.
var goldenKeysShape = []struct {
	kind  string
	epoch uint32
}{{KindInit, 0}, {KindExport, 0}, {KindKeys, 0}, {KindRekey, 1}, {KindExport, 1}}

func TestGoldenArchiveV1Keys(t *testing.T) {
	if *updateKeys {
		writeGoldenKeys(t)
	}
	ctx := context.Background()
	// Work on a copy: opening writes nothing, but the store wants its tmp/.
	dir := t.TempDir()
	if err := exec.Command("cp", "-r", filepath.Join(goldenKeysDir, "store"), dir).Run(); err != nil {
		t.Fatal(err)
	}
	st, err := local.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ListArchives(ctx, st)
	if err != nil || len(ids) != 1 {
		t.Fatalf("golden store: %v %v", ids, err)
	}
	fp, err := os.ReadFile(filepath.Join(goldenKeysDir, "fingerprint"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		name string
		opts Options
	}{
		{"no state, pinned", Options{Pin: strings.TrimSpace(string(fp))}},
		{"fresh state", Options{State: State{Dir: filepath.Join(t.TempDir(), "state")}}},
	} {
		t.Run(o.name, func(t *testing.T) {
			a, err := Open(ctx, st, ids[0].ID, o.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Fingerprint(); got != strings.TrimSpace(string(fp)) {
				t.Errorf("fingerprint %s, want %s", got, fp)
			}
			if a.Head() != uint64(len(goldenKeysShape)) {
				t.Fatalf("head %d, want %d", a.Head(), len(goldenKeysShape))
			}
			for i, want := range goldenKeysShape {
				c := a.commits[i].body
				if c.Kind != want.kind || c.Epoch != want.epoch || (c.KeyChange != nil) != (want.kind == KindRekey) || (c.Remap != nil) != (want.kind == KindRekey) {
					t.Errorf("commit %d: kind %s epoch %d key change %v remap %v, want %s epoch %d", i+1, c.Kind, c.Epoch, c.KeyChange != nil, c.Remap != nil, want.kind, want.epoch)
				}
			}
			if _, err := a.Verify(ctx, VerifyOptions{Keyless: true}); err != nil {
				t.Fatalf("keyless verify: %v", err)
			}
			// The keys commit and the re-key deleted what they tombstoned.
			if left, err := a.FinishTombstones(ctx); err != nil || len(left) != 0 {
				t.Errorf("tombstoned objects still in the store: %v %v", left, err)
			}
			// Keys 1 (removed by the keys commit) and 2 (replaced by the
			// re-key) no longer open it; key 3 does.
			for _, n := range []byte{1, 2} {
				if err := a.Unlock(ctx, RecoveryUnlocker{Key: goldenKeysRecovery(n)}); !errors.Is(err, ErrWrongKey) {
					t.Errorf("recovery key %d after the re-key: %v", n, err)
				}
			}
			if err := a.Unlock(ctx, RecoveryUnlocker{Key: goldenKeysRecovery(3)}); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Verify(ctx, VerifyOptions{ReadData: true}); err != nil {
				t.Fatalf("verify --read-data: %v", err)
			}
			for v := uint64(1); v <= a.Head(); v++ {
				got, err := goldenKeysRestore(ctx, a, v)
				if err != nil {
					t.Fatalf("version %d: %v", v, err)
				}
				want, err := os.ReadFile(filepath.Join(goldenKeysDir, fmt.Sprintf("restore-v%d.jsonl", v)))
				if err != nil {
					t.Fatal(err)
				}
				if got != string(want) {
					t.Errorf("version %d restores\n%s\nwant\n%s", v, got, want)
				}
			}
		})
	}
}

// goldenKeysRestore restores one version into one text: each conversation's
// source key after "# ", then its lines.
func goldenKeysRestore(ctx context.Context, a *Archive, v uint64) (string, error) {
	var got bytes.Buffer
	err := a.Restore(ctx, RestoreOptions{Version: v, Jobs: 1}, func(c ConversationInfo) (LineWriter, error) {
		got.WriteString("# " + c.SourceKey + "\n")
		return &bufWriter{&got}, nil
	})
	return got.String(), err
}

func writeGoldenKeys(t *testing.T) {
	os.RemoveAll(goldenKeysDir)
	st, err := local.Open(filepath.Join(goldenKeysDir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	rnd := chachaReader{rand.NewChaCha8([32]byte{'c', 'h', 'a', 't', 'v', 'a', 'u', 'l', 't', ' ', 'k', 'e', 'y', 's'})}
	clock := time.Date(2024, 2, 1, 7, 0, 0, 0, time.UTC)
	opts := Options{Rand: rnd, Now: func() time.Time { clock = clock.Add(time.Minute); return clock }}
	ctx := context.Background()
	inputs := goldenKeysInputs()
	export := func(a *Archive, in string) {
		t.Helper()
		if _, err := a.Export(ctx, canon.NewReader(strings.NewReader(in), "golden"), ExportOptions{Jobs: 1}); err != nil {
			t.Fatal(err)
		}
	}

	a, err := Create(ctx, st, CreateOptions{Label: "golden v1 keys", Suite: seal.ChaCha20Poly1305, Lockers: []Locker{
		RecoveryLocker{Key: goldenKeysRecovery(1), Rand: rnd},
	}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	export(a, inputs[0])
	first, err := a.Wrappers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ChangeWrappers(ctx, WrapperChange{Add: []Locker{RecoveryLocker{Key: goldenKeysRecovery(2), Rand: rnd}}, Remove: []ID{first[0].ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Rekey(ctx, []Locker{RecoveryLocker{Key: goldenKeysRecovery(3), Rand: rnd}}); err != nil {
		t.Fatal(err)
	}
	export(a, inputs[1])

	os.RemoveAll(filepath.Join(goldenKeysDir, "store", "tmp"))
	os.WriteFile(filepath.Join(goldenKeysDir, "fingerprint"), []byte(a.Fingerprint()+"\n"), 0o644)
	for v := uint64(1); v <= a.Head(); v++ {
		got, err := goldenKeysRestore(ctx, a, v)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(goldenKeysDir, fmt.Sprintf("restore-v%d.jsonl", v)), []byte(got), 0o644)
	}
	t.Logf("wrote %s", goldenKeysDir)
}
