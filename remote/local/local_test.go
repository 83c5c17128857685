package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/storetest"
)

// writeMode is one of the ways Create publishes a file.
type writeMode int

const (
	viaUnnamed writeMode = iota // the default: an unnamed file, linked (Linux), else as viaNamed
	viaNamed                    // a named temp file, linked
	viaLock                     // a named temp file, renamed under the lock file
)

func newStore(t *testing.T, m writeMode) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	s.unnamed = s.unnamed && m == viaUnnamed
	s.forceLock = m == viaLock
	return s
}

// eachMode runs f for every way of publishing a file.
func eachMode(t *testing.T, f func(t *testing.T, m writeMode)) {
	t.Run("unnamed", func(t *testing.T) { f(t, viaUnnamed) })
	t.Run("link", func(t *testing.T) { f(t, viaNamed) })
	t.Run("lockfile", func(t *testing.T) { f(t, viaLock) })
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) remote.Store { return newStore(t, viaUnnamed) })
}

func TestConformanceNamedTemp(t *testing.T) {
	storetest.Run(t, func(t *testing.T) remote.Store { return newStore(t, viaNamed) })
}

func TestConformanceLockFallback(t *testing.T) {
	storetest.Run(t, func(t *testing.T) remote.Store { return newStore(t, viaLock) })
}

// On Linux (O_TMPFILE on the test's filesystem) Create uses unnamed files.
func TestUnnamedOnLinux(t *testing.T) {
	s := newStore(t, viaUnnamed)
	if runtime.GOOS == "linux" && !s.unnamed {
		t.Fatalf("O_TMPFILE not usable in %s", s.tmp)
	}
	if runtime.GOOS != "linux" && s.unnamed {
		t.Fatal("unnamed files outside Linux")
	}
}

func create(t *testing.T, s *Store, name, data string) error {
	t.Helper()
	return s.Create(t.Context(), name, strings.NewReader(data), int64(len(data)))
}

func tempFiles(t *testing.T, s *Store) []string {
	t.Helper()
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestModes(t *testing.T) {
	for _, mask := range []int{0, 0o022, 0o277} {
		eachMode(t, func(t *testing.T, m writeMode) {
			old, ok := setUmask(mask)
			if !ok {
				t.Skip("no umask on this system")
			}
			defer setUmask(old)
			s := newStore(t, m)
			if err := create(t, s, "archives/a/objects/b", "x"); err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]fs.FileMode{
				".":                    fs.ModeDir | 0o700,
				"tmp":                  fs.ModeDir | 0o700,
				"archives":             fs.ModeDir | 0o700,
				"archives/a":           fs.ModeDir | 0o700,
				"archives/a/objects":   fs.ModeDir | 0o700,
				"archives/a/objects/b": 0o600,
			} {
				fi, err := os.Stat(s.path(name))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode() != want {
					t.Errorf("umask %03o: %s has mode %v, want %v", mask, name, fi.Mode(), want)
				}
			}
		})
	}
}

func TestInvalidNames(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"", "/abs", "/", "..", ".", "../x", "a/../b", "a/..", "./a", "a/./b", "a/.",
		"a//b", "a/", "a\\b", "..\\x", "a\x00b", "tmp", "tmp/x", "tmp/lock",
	} {
		ctx := t.Context()
		checks := map[string]error{
			"Create": s.Create(ctx, name, strings.NewReader("x"), 1),
			"Delete": s.Delete(ctx, name),
		}
		_, checks["Open"] = s.Open(ctx, name)
		_, checks["Stat"] = s.Stat(ctx, name)
		for op, err := range checks {
			if !errors.Is(err, ErrInvalidName) {
				t.Errorf("%s(%q): %v, want ErrInvalidName", op, name, err)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files appeared next to the store: %v", entries)
	}
	if got := tempFiles(t, s); len(got) != 0 {
		t.Errorf("files appeared in tmp/: %q", got)
	}
	// Valid names that merely look odd.
	for _, name := range []string{"..a", "a..", ".hidden/x", "a b/c", "tmpx/y", "x/tmp/y"} {
		if err := create(t, s, name, "x"); err != nil {
			t.Errorf("Create(%q): %v", name, err)
		}
	}
	// Prefixes that no valid name can start with list nothing.
	for _, prefix := range []string{"tmp/", "../", "/", "a//", "./"} {
		err := s.List(t.Context(), prefix, func(info remote.Info) error {
			t.Errorf("List(%q) listed %s", prefix, info.Name)
			return nil
		})
		if err != nil {
			t.Errorf("List(%q): %v", prefix, err)
		}
	}
}

func TestNoTempLeft(t *testing.T) {
	eachMode(t, func(t *testing.T, m writeMode) {
		s := newStore(t, m)
		if err := create(t, s, "a/b", "hello"); err != nil {
			t.Fatal(err)
		}
		if err := create(t, s, "a/b", "again"); !errors.Is(err, remote.ErrExists) {
			t.Errorf("Create of existing: %v", err)
		}
		if err := s.Create(t.Context(), "a/short", strings.NewReader("abc"), 4); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("Create with short reader: %v, want ErrUnexpectedEOF", err)
		}
		if err := s.Create(t.Context(), "a/long", strings.NewReader("abcde"), 4); err == nil {
			t.Error("Create with long reader succeeded")
		}
		if _, err := s.Stat(t.Context(), "a/long"); !errors.Is(err, remote.ErrNotFound) {
			t.Errorf("Stat after long reader: %v, want ErrNotFound", err)
		}
		if got := tempFiles(t, s); len(got) != 0 {
			t.Errorf("tmp/ holds %q", got)
		}
	})
}

func TestReaderErrorMidway(t *testing.T) {
	eachMode(t, func(t *testing.T, m writeMode) {
		s := newStore(t, m)
		boom := errors.New("disk on fire")
		r := io.MultiReader(bytes.NewReader(make([]byte, 100<<10)), iotest.ErrReader(boom))
		err := s.Create(t.Context(), "archives/a/objects/x", r, 200<<10)
		if !errors.Is(err, boom) {
			t.Errorf("Create: %v, want %v", err, boom)
		}
		if _, err := s.Stat(t.Context(), "archives/a/objects/x"); !errors.Is(err, remote.ErrNotFound) {
			t.Errorf("Stat after failed Create: %v, want ErrNotFound", err)
		}
		if got := tempFiles(t, s); len(got) != 0 {
			t.Errorf("tmp/ holds %q", got)
		}
	})
}

func TestRemoveStaleTemp(t *testing.T) {
	s := newStore(t, viaUnnamed)
	old := time.Now().Add(-2 * time.Hour)
	for name, mtime := range map[string]time.Time{
		"create-old": old, "create-new": time.Now(), lockName: old,
	} {
		p := filepath.Join(s.tmp, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.RemoveStaleTemp(time.Hour)
	if err != nil || n != 1 {
		t.Errorf("RemoveStaleTemp = %d, %v; want 1, nil", n, err)
	}
	if got := tempFiles(t, s); !slices.Equal(got, []string{"create-new", lockName}) {
		t.Errorf("tmp/ holds %q after RemoveStaleTemp", got)
	}
}

func TestLockFile(t *testing.T) {
	s := newStore(t, viaLock)
	lock := filepath.Join(s.tmp, lockName)
	if err := os.WriteFile(lock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := s.Create(ctx, "a", strings.NewReader("x"), 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Create while locked: %v, want DeadlineExceeded", err)
	}
	stale := time.Now().Add(-lockStale - time.Minute)
	if err := os.Chtimes(lock, stale, stale); err != nil {
		t.Fatal(err)
	}
	if err := create(t, s, "a", "x"); err != nil {
		t.Errorf("Create with a stale lock: %v", err)
	}
	if got := tempFiles(t, s); len(got) != 0 {
		t.Errorf("tmp/ holds %q", got)
	}
}

func TestSyncRemembersDirs(t *testing.T) {
	eachMode(t, func(t *testing.T, m writeMode) {
		s := newStore(t, m)
		dirty := func() []string {
			s.mu.Lock()
			defer s.mu.Unlock()
			return slices.Sorted(func(yield func(string) bool) {
				for d := range s.dirty {
					if !yield(d) {
						return
					}
				}
			})
		}
		if err := create(t, s, "a/b/c", "x"); err != nil {
			t.Fatal(err)
		}
		if got, want := dirty(), []string{".", "a", "a/b"}; !slices.Equal(got, want) {
			t.Errorf("after first Create, dirs to sync = %q, want %q", got, want)
		}
		if err := s.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := dirty(); len(got) != 0 {
			t.Errorf("after Sync, dirs to sync = %q", got)
		}
		if err := create(t, s, "a/b/d", "x"); err != nil {
			t.Fatal(err)
		}
		if got, want := dirty(), []string{"a/b"}; !slices.Equal(got, want) {
			t.Errorf("after second Create, dirs to sync = %q, want %q", got, want)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Sync(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Sync with cancelled context: %v", err)
		}
		if got, want := dirty(), []string{"a/b"}; !slices.Equal(got, want) {
			t.Errorf("after failed Sync, dirs to sync = %q, want %q", got, want)
		}
	})
}

func TestDirectoryNames(t *testing.T) {
	s := newStore(t, viaUnnamed)
	if err := create(t, s, "archives/a/objects/x", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(t.Context(), "archives/a"); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Open of a directory: %v, want ErrNotFound", err)
	}
	if _, err := s.Stat(t.Context(), "archives/a/objects/x/y"); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Stat below a file: %v, want ErrNotFound", err)
	}
	if err := create(t, s, "archives/a", "x"); !errors.Is(err, remote.ErrExists) {
		t.Errorf("Create over a directory: %v, want ErrExists", err)
	}
	for _, name := range []string{"archives/a/objects", "archives/a/objects/x"} {
		if err := s.Delete(t.Context(), name); err != nil {
			t.Errorf("Delete(%s): %v", name, err)
		}
	}
	if fi, err := os.Stat(s.path("archives/a/objects")); err != nil || !fi.IsDir() {
		t.Errorf("Delete removed a directory: %v", err)
	}
}

func TestUnavailable(t *testing.T) {
	s := newStore(t, viaUnnamed)
	if err := create(t, s, "archives/a/objects/x", "x"); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(s.root); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	_, openErr := s.Open(ctx, "archives/a/objects/x")
	_, statErr := s.Stat(ctx, "archives/a/objects/x")
	for op, err := range map[string]error{
		"Open":   openErr,
		"Stat":   statErr,
		"Create": create(t, s, "archives/a/objects/y", "y"),
		"List":   s.List(ctx, "archives/", func(remote.Info) error { return nil }),
		"Delete": s.Delete(ctx, "archives/a/objects/x"),
	} {
		if !errors.Is(err, remote.ErrUnavailable) {
			t.Errorf("%s with the root gone: %v, want ErrUnavailable", op, err)
		}
	}
	if _, err := os.Stat(s.root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the root was recreated: %v", err)
	}
}

func TestErrorMessages(t *testing.T) {
	s := newStore(t, viaUnnamed)
	if err := create(t, s, "a/b", "x"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{create(t, s, "a/b", "x"), "create a/b: object already exists"},
		{func() error { _, err := s.Open(t.Context(), "a/c"); return err }(), "open a/c: object not found"},
		{func() error { _, err := s.Stat(t.Context(), "a/c"); return err }(), "stat a/c: object not found"},
		{create(t, s, "a/../b", "x"), `create "a/../b": invalid object name`},
	} {
		if want := fmt.Sprintf("local store %s: %s", s.root, tc.want); tc.err == nil || !strings.HasPrefix(tc.err.Error(), want) {
			t.Errorf("error %q, want it to start with %q", tc.err, want)
		}
	}
	if s.String() != s.Root() || !filepath.IsAbs(s.Root()) {
		t.Errorf("String() = %q, Root() = %q", s.String(), s.Root())
	}
}

func TestLinkUnsupported(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&os.LinkError{Op: "link", Err: syscall.EPERM}, true},
		{&os.LinkError{Op: "link", Err: syscall.EXDEV}, true},
		{&os.LinkError{Op: "link", Err: syscall.ENOSYS}, true},
		{&os.LinkError{Op: "link", Err: errors.ErrUnsupported}, true},
		{&os.LinkError{Op: "link", Err: syscall.EEXIST}, false},
		{&os.LinkError{Op: "link", Err: syscall.ENOSPC}, false},
	} {
		if got := linkUnsupported(tc.err); got != tc.want {
			t.Errorf("linkUnsupported(%v) = %v", tc.err, got)
		}
	}
}

func TestSyncFlushesEveryWrittenFile(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 10 { // more than the syncfs threshold
		if err := s.Create(ctx, fmt.Sprintf("a/%d", i), strings.NewReader("x"), 1); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.unsynced) != 10 || len(s.dirty) == 0 {
		t.Fatalf("before Sync: %d files, %d dirs remembered", len(s.unsynced), len(s.dirty))
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if len(s.unsynced) != 0 || len(s.dirty) != 0 {
		t.Fatalf("after Sync: %d files, %d dirs remembered", len(s.unsynced), len(s.dirty))
	}
}
