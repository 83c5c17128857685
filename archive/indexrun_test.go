package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/remote"
)

func testRecord(i int64) indexRecord {
	var r indexRecord
	binary.BigEndian.PutUint64(r.IDHash[:], uint64(i))
	r.Rev[0] = byte(i)
	r.Commit = uint32(i)
	return r
}

func emitRecords(n int64) func(func(indexRecord) error) error {
	return func(emit func(indexRecord) error) error {
		for i := range n {
			if err := emit(testRecord(i)); err != nil {
				return err
			}
		}
		return nil
	}
}

// An index run larger than any object read whole (a conversation of 2.4 M
// messages changed by one export) is written and read back as a stream.
func TestIndexRunLargerThanObjectLimit(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	conv, key := ID{1}, bytes.Repeat([]byte{7}, 32)
	n := int64(maxListObject/indexRecordLen + 1000)
	ref, err := a.newBuilder().indexRun(e.ctx, &conv, key, n, emitRecords(n))
	if err != nil {
		t.Fatal(err)
	}
	if ref.Size <= maxListObject {
		t.Fatalf("run of %d bytes is not over the %d-byte limit", ref.Size, maxListObject)
	}
	var got int64
	err = a.eachIndexRecord(e.ctx, conv, key, ref, func(r indexRecord) error {
		if r != testRecord(got) {
			t.Fatalf("record %d: got %+v", got, r)
		}
		got++
		return nil
	})
	if err != nil || got != n {
		t.Fatalf("read %d of %d records: %v", got, n, err)
	}
}

// The writer refuses records out of order and a count that does not match.
func TestIndexRunWriterChecks(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	conv, key := ID{1}, bytes.Repeat([]byte{7}, 32)
	if _, err := a.newBuilder().indexRun(e.ctx, &conv, key, 3, emitRecords(2)); err == nil {
		t.Error("2 records written as 3: no error")
	}
	backwards := func(emit func(indexRecord) error) error {
		emit(testRecord(2))
		return emit(testRecord(1))
	}
	if _, err := a.newBuilder().indexRun(e.ctx, &conv, key, 2, backwards); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Errorf("records out of order: %v", err)
	}
}

// cutStore returns readers that fail after `after` bytes, as a dropped
// connection would.
type cutStore struct {
	remote.Store
	after int64
}

var errConnReset = errors.New("connection reset by peer")

func (s *cutStore) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := s.Store.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(rc, s.after), &failReader{errConnReset}), rc}, nil
}

type failReader struct{ err error }

func (f *failReader) Read([]byte) (int, error) { return 0, f.err }

// Damage to a stored run is an integrity failure naming the object; a failed
// read is not.
func TestIndexRunReadFaults(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	conv, key := ID{1}, bytes.Repeat([]byte{7}, 32)
	n := int64(10000) // several frames
	ref, err := a.newBuilder().indexRun(e.ctx, &conv, key, n, emitRecords(n))
	if err != nil {
		t.Fatal(err)
	}
	name := a.paths.object(areaObjects, ref.ID)
	path := filepath.Join(e.st.Root(), filepath.FromSlash(name))
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	count := func(a *Archive) error {
		return a.eachIndexRecord(e.ctx, conv, key, ref, func(indexRecord) error { return nil })
	}
	for what, b := range map[string][]byte{
		"flipped in the middle": append(append(bytes.Clone(orig[:len(orig)/2]), orig[len(orig)/2]^1), orig[len(orig)/2+1:]...),
		"truncated":             orig[:len(orig)-1],
		"cut at a frame":        orig[:len(orig)-(len(orig)-100)%(65536+16)],
		"extended":              append(bytes.Clone(orig), 0),
	} {
		os.Chmod(path, 0o600)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		err := count(a)
		if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), ref.ID.String()) {
			t.Errorf("%s: got %v, want an integrity failure naming %s", what, err, name)
		}
	}
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := count(a); err != nil {
		t.Fatalf("restored run: %v", err)
	}

	cut := *a
	cut.st = &cutStore{Store: e.st, after: int64(len(orig) / 2)}
	err = count(&cut)
	if !errors.Is(err, errConnReset) || errors.Is(err, ErrIntegrity) {
		t.Errorf("connection cut: got %v, want the read error, not damage", err)
	}
}
