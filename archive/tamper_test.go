package archive

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// checkAll opens, unlocks, verifies and restores, returning the first error.
func (e *env) checkAll(id ID, keyless bool) error {
	a, err := Open(e.ctx, e.st, id, e.opts())
	if err != nil {
		return err
	}
	if keyless {
		_, err = a.Verify(e.ctx, VerifyOptions{Keyless: true})
		return err
	}
	if err := a.Unlock(e.ctx, RecoveryUnlocker{Key: testKey}); err != nil {
		return err
	}
	if _, err := a.Verify(e.ctx, VerifyOptions{ReadData: true}); err != nil {
		return err
	}
	return a.Restore(e.ctx, RestoreOptions{}, func(ConversationInfo) (LineWriter, error) {
		return &memWriter{out: map[string]*bytes.Buffer{"": {}}}, nil
	})
}

func tamperEnv(t *testing.T) (*env, *Archive, []string) {
	e := newEnv(t)
	a := e.create("x")
	in, _ := corpus(2, 300, 300, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	e.export(a, in, ExportOptions{SegmentSize: 32 << 10})
	e.export(a, msg("conv-0", "edit", "2020-01-01T00:00:00Z", "e")+msg("conv-0", "0", "2020-01-01T00:00:00Z", "changed"), ExportOptions{})
	var files []string
	for _, f := range storeFiles(t, e.st.Root()) {
		if strings.HasPrefix(f, "archives/") {
			files = append(files, f)
		}
	}
	if err := e.checkAll(a.ID(), false); err != nil {
		t.Fatalf("untouched archive: %v", err)
	}
	return e, a, files
}

// Flipping any byte of any object is an integrity failure, with and without
// the key; so is truncating any object.
func TestTamperEveryObject(t *testing.T) {
	e, a, files := tamperEnv(t)
	for _, f := range files {
		path := filepath.Join(e.st.Root(), filepath.FromSlash(f))
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		mutations := map[string][]byte{}
		for _, at := range []int{0, 5, len(orig) / 2, len(orig) - 1} {
			b := bytes.Clone(orig)
			b[at] ^= 0x20
			mutations[fmt.Sprint("flip ", at)] = b
		}
		mutations["truncate 1"] = orig[:len(orig)-1]
		if len(orig) > 65536+200 {
			mutations["truncate at frame"] = orig[:len(orig)-(len(orig)-100)%(65536+16)]
		}
		mutations["append"] = append(bytes.Clone(orig), 0)
		for name, b := range mutations {
			for _, keyless := range []bool{false, true} {
				os.Chmod(path, 0o600)
				if err := os.WriteFile(path, b, 0o600); err != nil {
					t.Fatal(err)
				}
				err := e.checkAll(a.ID(), keyless)
				if !errors.Is(err, ErrIntegrity) {
					t.Errorf("%s, %s (keyless %v): got %v, want an integrity failure", f, name, keyless, err)
				}
			}
		}
		if err := os.WriteFile(path, orig, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.checkAll(a.ID(), false); err != nil {
		t.Fatalf("restored archive: %v", err)
	}
}

func TestMissingObject(t *testing.T) {
	e, a, files := tamperEnv(t)
	for _, f := range files {
		path := filepath.Join(e.st.Root(), filepath.FromSlash(f))
		orig, _ := os.ReadFile(path)
		os.Remove(path)
		for _, keyless := range []bool{false, true} {
			if err := e.checkAll(a.ID(), keyless); !errors.Is(err, ErrIntegrity) {
				t.Errorf("%s missing (keyless %v): got %v", f, keyless, err)
			}
		}
		os.WriteFile(path, orig, 0o600)
	}
}

// Objects moved between conversations or archives do not open in their new place.
func TestSwappedObjects(t *testing.T) {
	e, a, files := tamperEnv(t)
	var segsA, segsB []string
	for _, f := range files {
		if strings.Contains(f, "/objects/") {
			segsA = append(segsA, f)
		}
	}
	// Every object swapped with every other of the same archive.
	for i := 0; i < len(segsA); i += 3 {
		for j := i + 1; j < len(segsA); j += 5 {
			p1 := filepath.Join(e.st.Root(), segsA[i])
			p2 := filepath.Join(e.st.Root(), segsA[j])
			b1, _ := os.ReadFile(p1)
			b2, _ := os.ReadFile(p2)
			os.WriteFile(p1, b2, 0o600)
			os.WriteFile(p2, b1, 0o600)
			if err := e.checkAll(a.ID(), false); !errors.Is(err, ErrIntegrity) {
				t.Errorf("swap %s %s: %v", segsA[i], segsA[j], err)
			}
			os.WriteFile(p1, b1, 0o600)
			os.WriteFile(p2, b2, 0o600)
		}
	}
	// A whole second archive's commit put in place of this one's.
	b := e.create("other")
	e.export(b, msg("c", "1", "2020-01-01T00:00:00Z", "x"), ExportOptions{})
	_ = segsB
	src := filepath.Join(e.st.Root(), "archives", b.ID().String(), "commits", "00000000000000000002")
	dst := filepath.Join(e.st.Root(), "archives", a.ID().String(), "commits", "00000000000000000002")
	orig, _ := os.ReadFile(dst)
	other, _ := os.ReadFile(src)
	os.WriteFile(dst, other, 0o600)
	if err := e.checkAll(a.ID(), true); !errors.Is(err, ErrIntegrity) {
		t.Errorf("foreign commit: %v", err)
	}
	os.WriteFile(dst, orig, 0o600)
}

// An old commit replayed at a newer number, a rolled-back store and a fork are
// all integrity failures.
func TestReplayRollbackFork(t *testing.T) {
	e, a, _ := tamperEnv(t)
	dir := filepath.Join(e.st.Root(), "archives", a.ID().String(), "commits")
	c2 := filepath.Join(dir, "00000000000000000002")
	c3 := filepath.Join(dir, "00000000000000000003")
	orig3, _ := os.ReadFile(c3)
	old2, _ := os.ReadFile(c2)
	os.WriteFile(c3, old2, 0o600)
	if err := e.checkAll(a.ID(), true); !errors.Is(err, ErrIntegrity) {
		t.Errorf("replayed commit: %v", err)
	}
	// Rollback: the store loses commit 3, which this device verified.
	os.Remove(c3)
	_, err := Open(e.ctx, e.st, a.ID(), e.opts())
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "vanished") {
		t.Errorf("rollback: %v", err)
	}
	// Fork: another device (own state) writes a different commit 3.
	other := &env{t: t, ctx: e.ctx, st: e.st, state: State{Dir: filepath.Join(e.dir, "state2")}}
	b := other.open(a.ID())
	other.export(b, msg("c", "fork", "2020-01-01T00:00:00Z", "fork"), ExportOptions{})
	_, err = Open(e.ctx, e.st, a.ID(), e.opts())
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "fork") {
		t.Errorf("fork: %v", err)
	}
	_ = orig3
}

// A pinned fingerprint refuses an archive with another identity.
func TestFingerprintPin(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	o := e.opts()
	o.State = State{}
	o.Pin = a.Fingerprint()
	if _, err := Open(e.ctx, e.st, a.ID(), o); err != nil {
		t.Fatal(err)
	}
	o.Pin = strings.Repeat("ab", 32)
	if _, err := Open(e.ctx, e.st, a.ID(), o); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("wrong pin: %v", err)
	}
	// A fresh archive under the same id (a wholesale replacement) is refused
	// by the device that knows the old one.
	dir := filepath.Join(e.st.Root(), "archives")
	f := newEnv(t)
	f.state = e.state
	b := f.create("impostor")
	os.RemoveAll(filepath.Join(dir, a.ID().String()))
	if err := exec.Command("cp", "-r", filepath.Join(f.st.Root(), "archives", b.ID().String()), filepath.Join(dir, a.ID().String())).Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(e.ctx, e.st, a.ID(), e.opts()); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("impostor: %v", err)
	}
}
