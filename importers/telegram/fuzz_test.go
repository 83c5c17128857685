package telegram

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

const fuzzCorpus = "testdata/fuzz/FuzzOpen"

// extraSeeds are hand-made inputs for the parser's corners.
var extraSeeds = []string{
	``,
	`{}`,
	`[]`,
	`{"messages":[]}`,
	`{"messages":[{}]}`,
	`{"messages":[{"date_unixtime":"1"}],"id":1}`,
	`{"id":1,"name":"a","type":"t","messages":[{"id":1,"date":"2024-01-01T00:00:00","text":"\x41\u0041"}]}`,
	"{\"id\":1,\"name\":\"a\",\"type\":\"t\",\"messages\":[{\"id\":1,\"date_unixtime\":\"1\",\"photo\": photos/a b.jpg,\n\"text\":\"\"}]}",
	`{"id":1,"name":"a","type":"t","messages":[{"id":1,"date_unixtime":"1","text":["a",{"type":"bold","text":"b"},null,""]}]}`,
	`{"chats":{"list":[{"messages":[{"id":2,"date_unixtime":"2","text":"x"}],"id":9},{"id":8,"name":"n","type":"t","messages":[]}]},"left_chats":{"list":[]}}`,
	`{"id":1,"name":"a","type":"t","messages":[{"id":1,"type":"service","date_unixtime":"1","action":"x","text":"a","text":"b"}]}`,
	`{"id":1,"name":"a","type":"t","messages":[{"id":1,"date_unixtime":"99999999999999999999","text":""}]}`,
	`{"id":1,"name":"a","type":"t","messages":[{"id":1,"date_unixtime":"1","file":"../x","thumbnail":"/x","photo":"result.json","text":""}]}`,
	`{"id":1,"name":"a","type":"t","messages":[{"id":1,"date_unixtime":"1","reactions":[{"type":"emoji","count":"x"}],"text":""}]}`,
}

// TestFuzzSeedCorpus fails if the seed corpus is missing; with -update it
// rewrites it from the fixtures, the public samples and extraSeeds.
func TestFuzzSeedCorpus(t *testing.T) {
	if *update {
		os.RemoveAll(fuzzCorpus)
		if err := os.MkdirAll(fuzzCorpus, 0o755); err != nil {
			t.Fatal(err)
		}
		var inputs [][]byte
		files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
		files = append(files, filepath.Join("testdata", "media", ResultFile), filepath.Join("testdata", "full_export", ResultFile))
		samples, _ := filepath.Glob(filepath.Join(samplesDir, "*.json"))
		files = append(files, samples...)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			inputs = append(inputs, b)
		}
		for _, s := range extraSeeds {
			inputs = append(inputs, []byte(s))
		}
		for i, b := range inputs {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(fuzzCorpus, fmt.Sprintf("seed%03d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(fuzzCorpus)
	if err != nil {
		t.Fatalf("seed corpus missing: %v (run go test -run TestFuzzSeedCorpus -update)", err)
	}
	if len(entries) < 20 {
		t.Fatalf("seed corpus has %d inputs, want at least 20", len(entries))
	}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(fuzzCorpus, e.Name()))
		if !bytes.HasPrefix(b, []byte("go test fuzz v1\n")) {
			t.Errorf("%s is not a fuzz corpus file", e.Name())
		}
	}
}

// importAll runs one import of data and returns the lines, or the error
// that ended it.
func importAll(t *testing.T, path string, o importers.Options) ([]string, error) {
	src, err := Open(context.Background(), path, o)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var lines []string
	for n := 0; n < 100000; n++ {
		m, err := src.Next()
		if err == io.EOF {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
		if _, err := canon.ParseLine(m.Line); err != nil {
			t.Fatalf("invalid canonical line %q: %v", m.Line, err)
		}
		for _, b := range src.(canon.BlobLister).Blobs() {
			if b.Open == nil || b.Size < 0 {
				t.Fatal("bad blob")
			}
		}
		lines = append(lines, string(m.Line))
	}
	t.Fatal("more than 100000 messages from a small input")
	return nil, nil
}

// FuzzOpen: any input either imports or fails with an error wrapping
// importers.ErrMalformed; never a panic, a hang, or an invalid line; and
// the same input always gives the same lines.
func FuzzOpen(f *testing.F) {
	for _, s := range extraSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, ResultFile)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, skip := range []bool{false, true} {
			o := importers.Options{TZ: time.UTC, SkipInvalid: skip, Skipped: func(err error) {
				if !errors.Is(err, importers.ErrMalformed) {
					t.Fatalf("skipped error does not wrap ErrMalformed: %v", err)
				}
			}}
			a, errA := importAll(t, p, o)
			if errA != nil && !errors.Is(errA, importers.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", errA)
			}
			if errA != nil && !strings.Contains(errA.Error(), p) {
				t.Fatalf("error does not name the file: %v", errA)
			}
			b, errB := importAll(t, p, o)
			if strings.Join(a, "\n") != strings.Join(b, "\n") || (errA == nil) != (errB == nil) {
				t.Fatal("two imports of the same input differ")
			}
		}
	})
}
