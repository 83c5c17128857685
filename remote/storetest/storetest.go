// Package storetest is the conformance suite for [remote.Store] implementations:
// every store (the local directory, S3, ...) must pass [Run].
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chatvault/chatvault/remote"
)

// Run runs the conformance suite. newStore must return a new, empty store for
// each call; it is called once per subtest.
func Run(t *testing.T, newStore func(t *testing.T) remote.Store) {
	t.Run("CreateOpen", func(t *testing.T) {
		s := newStore(t)
		for _, size := range []int{0, 1, 64 << 10, 1<<20 + 1} {
			name := fmt.Sprintf("archives/a1/objects/size-%d", size)
			want := randomBytes(uint64(size), size)
			create(t, s, name, want)
			if got := read(t, s, name); !bytes.Equal(got, want) {
				t.Errorf("Open(%s): got %d bytes, want the %d written", name, len(got), len(want))
			}
		}
	})

	t.Run("CreateExisting", func(t *testing.T) {
		s := newStore(t)
		create(t, s, "chatvault.json", []byte("first"))
		err := s.Create(t.Context(), "chatvault.json", strings.NewReader("second!"), 7)
		if !errors.Is(err, remote.ErrExists) {
			t.Fatalf("second Create: %v, want ErrExists", err)
		}
		if got := read(t, s, "chatvault.json"); string(got) != "first" {
			t.Errorf("after lost Create the object holds %q, want %q", got, "first")
		}
	})

	t.Run("CreateRace", func(t *testing.T) {
		s := newStore(t)
		const n = 8
		const name = "archives/a1/commits/00000001"
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  [n]error
			data  [n][]byte
		)
		for i := range n {
			data[i] = randomBytes(uint64(100+i), 64<<10)
			wg.Go(func() {
				<-start
				errs[i] = s.Create(t.Context(), name, bytes.NewReader(data[i]), int64(len(data[i])))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("writers %d and %d both won", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, remote.ErrExists):
				t.Errorf("writer %d: %v, want nil or ErrExists", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no writer won")
		}
		if got := read(t, s, name); !bytes.Equal(got, data[winner]) {
			t.Errorf("object does not hold the winner's bytes")
		}
	})

	t.Run("CreateShortReader", func(t *testing.T) {
		s := newStore(t)
		const name = "archives/a1/objects/short"
		if err := s.Create(t.Context(), name, strings.NewReader("12345"), 10); err == nil {
			t.Fatal("Create with 5 of 10 bytes succeeded")
		}
		if _, err := s.Stat(t.Context(), name); !errors.Is(err, remote.ErrNotFound) {
			t.Errorf("Stat after failed Create: %v, want ErrNotFound", err)
		}
		if names := list(t, s, ""); len(names) != 0 {
			t.Errorf("failed Create left objects %q", names)
		}
	})

	t.Run("CreateRefusesFailingReader", func(t *testing.T) {
		// A reader that hands over every byte and then an error (a caller
		// checking a hash as the bytes stream): nothing may be stored.
		s := newStore(t)
		for _, size := range []int{10, 1<<20 + 7} {
			name := fmt.Sprintf("archives/a1/objects/refused-%d", size)
			r := &lateErrReader{data: randomBytes(7, size)}
			if err := s.Create(t.Context(), name, r, int64(size)); !errors.Is(err, errLate) {
				t.Errorf("Create of %d bytes from a reader failing at its end: %v, want the reader's error", size, err)
			}
			if _, err := s.Stat(t.Context(), name); !errors.Is(err, remote.ErrNotFound) {
				t.Errorf("Stat after refused Create: %v, want ErrNotFound", err)
			}
		}
	})

	t.Run("Missing", func(t *testing.T) {
		s := newStore(t)
		const name = "archives/a1/objects/missing"
		r, err := s.Open(t.Context(), name)
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, remote.ErrNotFound) || !strings.Contains(err.Error(), name) {
			t.Errorf("Open of missing object: %v, want ErrNotFound naming %s", err, name)
		}
		_, err = s.Stat(t.Context(), name)
		if !errors.Is(err, remote.ErrNotFound) || !strings.Contains(err.Error(), name) {
			t.Errorf("Stat of missing object: %v, want ErrNotFound naming %s", err, name)
		}
	})

	t.Run("Stat", func(t *testing.T) {
		s := newStore(t)
		const name = "archives/a1/objects/stat"
		create(t, s, name, make([]byte, 1234))
		info, err := s.Stat(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if info.Name != name || info.Size != 1234 || info.ModTime.IsZero() {
			t.Errorf("Stat = %+v, want name %s, size 1234 and a time", info, name)
		}
	})

	t.Run("List", func(t *testing.T) {
		s := newStore(t)
		// Names with bytes below '/' ('-', '.') check that order is by full name.
		all := []string{
			"archives/abc/objects/02",
			"chatvault.json",
			"archives/abd/x",
			"archives-old/x",
			"archives/abc/objects/01",
			"archives.txt",
			"archives/b",
			"archives/abc.d",
		}
		sizes := map[string]int64{}
		for i, name := range all {
			create(t, s, name, make([]byte, i))
			sizes[name] = int64(i)
		}
		slices.Sort(all)
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"", all},
			{"archives/abc/", []string{"archives/abc/objects/01", "archives/abc/objects/02"}},
			{"archives/ab", []string{"archives/abc.d", "archives/abc/objects/01", "archives/abc/objects/02", "archives/abd/x"}},
			{"archives", []string{"archives-old/x", "archives.txt", "archives/abc.d", "archives/abc/objects/01", "archives/abc/objects/02", "archives/abd/x", "archives/b"}},
			{"archives/abc/objects/01", []string{"archives/abc/objects/01"}},
			{"chatvault.json", []string{"chatvault.json"}},
			{"nomatch/", nil},
			{"archives/z", nil},
			{"zzz", nil},
		} {
			if got := list(t, s, tc.prefix); !slices.Equal(got, tc.want) {
				t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
			}
		}
		err := s.List(t.Context(), "", func(info remote.Info) error {
			if info.Size != sizes[info.Name] || info.ModTime.IsZero() {
				t.Errorf("List: %+v, want size %d and a time", info, sizes[info.Name])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		stop := errors.New("stop here")
		calls := 0
		err = s.List(t.Context(), "archives/", func(remote.Info) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("List with failing fn: %v after %d calls, want %v after 1", err, calls, stop)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		const name = "archives/a1/objects/del"
		create(t, s, name, []byte("doomed"))
		create(t, s, "archives/a1/objects/keep", []byte("kept"))
		if err := s.Delete(t.Context(), name); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(t.Context(), name); !errors.Is(err, remote.ErrNotFound) {
			t.Errorf("Open after Delete: %v, want ErrNotFound", err)
		}
		if got := list(t, s, ""); !slices.Equal(got, []string{"archives/a1/objects/keep"}) {
			t.Errorf("List after Delete = %q", got)
		}
		if err := s.Delete(t.Context(), name); err != nil {
			t.Errorf("Delete of missing object: %v", err)
		}
		create(t, s, name, []byte("reborn")) // the name is free again
		if got := read(t, s, name); string(got) != "reborn" {
			t.Errorf("re-created object holds %q", got)
		}
	})

	t.Run("Sync", func(t *testing.T) {
		s := newStore(t)
		syncer, ok := s.(remote.Syncer)
		if !ok {
			t.Skip("store does not implement remote.Syncer")
		}
		create(t, s, "archives/a1/objects/x", []byte("x"))
		create(t, s, "chatvault.json", []byte("{}"))
		for range 2 {
			if err := syncer.Sync(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := newStore(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		const name = "archives/a1/objects/cancelled"
		err := s.Create(ctx, name, strings.NewReader("data"), 4)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Create with cancelled context: %v, want context.Canceled", err)
		}
		if _, err := s.Stat(t.Context(), name); !errors.Is(err, remote.ErrNotFound) {
			t.Errorf("Stat after cancelled Create: %v, want ErrNotFound", err)
		}
	})
}

var errLate = errors.New("checksum mismatch at the end of the stream")

// lateErrReader returns its data, then errLate with the last bytes and on
// every later read.
type lateErrReader struct {
	data []byte
	off  int
}

func (r *lateErrReader) Read(p []byte) (int, error) {
	if r.off == len(r.data) {
		return 0, errLate
	}
	n := copy(p, r.data[r.off:])
	r.off += n
	if r.off == len(r.data) {
		return n, errLate
	}
	return n, nil
}

func create(t *testing.T, s remote.Store, name string, data []byte) {
	t.Helper()
	if err := s.Create(t.Context(), name, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Create(%s): %v", name, err)
	}
}

func read(t *testing.T, s remote.Store, name string) []byte {
	t.Helper()
	r, err := s.Open(t.Context(), name)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return data
}

func list(t *testing.T, s remote.Store, prefix string) []string {
	t.Helper()
	var names []string
	err := s.List(t.Context(), prefix, func(info remote.Info) error {
		names = append(names, info.Name)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return names
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
