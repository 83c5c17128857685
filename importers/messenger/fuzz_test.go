package messenger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

const fuzzCorpus = "testdata/fuzz/FuzzOpen"

// extraSeeds are hand-made inputs for the decoder's corners.
var extraSeeds = []string{
	``,
	`{}`,
	`[]`,
	`null`,
	`{"messages":[]}`,
	`{"messages":[{}]}`,
	`{"messages":null}`,
	`{"messages":[1,"a",null,[],{"timestamp_ms":1}]}`,
	`{"messages":[{"timestamp_ms":"1700000000000","sender_name":"\u00c3\u00a9","content":"\u00c3"}],"title":"\u00f0\u009f\u0092\u0096"}`,
	`{"messages":[{"timestamp_ms":1e3},{"timestamp_ms":-1},{"timestamp_ms":99999999999999999999}]}`,
	`{"messages":[{"timestamp_ms":1700000000000,"photos":[{"uri":"../x"},{"uri":"/x"},{"uri":"photos/x"},{"uri":"https://a.fbcdn.net/x?oh=1"}]}]}`,
	`{"messages":[{"timestamp_ms":1700000000000,"reactions":[{"reaction":"","actor":""},{"reaction":"x"}],"type":"Weird"}]}`,
	`{"title":"t","messages":[{"timestamp_ms":1700000000000}],"messages":[{"timestamp_ms":1700000000001}]}`,
	`{"messages":[{"timestamp_ms":1700000000000}]} x`,
	`{"messages":[{"timestamp_ms":1700000000000},`,
	"\xEF\xBB\xBF" + `{"participants":["a"],"threadName":"x","messages":[{"senderName":"a","timestamp":1700000000000,"text":"t","media":[{"uri":"./media/m"}]}]}`,
}

// TestFuzzSeedCorpus fails if the seed corpus is missing; with -update it
// rewrites it from the fixtures, the public samples and extraSeeds.
func TestFuzzSeedCorpus(t *testing.T) {
	if *update {
		os.RemoveAll(fuzzCorpus)
		if err := os.MkdirAll(fuzzCorpus, 0o755); err != nil {
			t.Fatal(err)
		}
		var files []string
		filepath.WalkDir("testdata", func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") && !strings.Contains(p, "golden") && !strings.Contains(p, "fuzz") {
				files = append(files, p)
			}
			return nil
		})
		samples, _ := filepath.Glob(filepath.Join(samplesDir, "*.json"))
		files = append(files, samples...)
		var inputs [][]byte
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
		if !bytes.HasPrefix(b, []byte("go test fuzz v1\n[]byte(")) {
			t.Errorf("%s is not a fuzz corpus file", e.Name())
		}
	}
}

// collect imports p and returns the lines, the number of skipped records
// and the error that ended the import.
func collect(t *testing.T, p string, o importers.Options) ([]string, int, error) {
	skipped := 0
	o.Skipped = func(error) { skipped++ }
	src, err := Open(context.Background(), p, o)
	if err != nil {
		return nil, 0, err
	}
	defer src.Close()
	var lines []string
	ids := map[string]bool{}
	for i := 0; ; i++ {
		if i > 1<<20 {
			t.Fatal("source does not end")
		}
		m, err := src.Next()
		if err == io.EOF {
			return lines, skipped, nil
		}
		if err != nil {
			return lines, skipped, err
		}
		if _, err := canon.ParseLine(m.Line); err != nil {
			t.Fatalf("invalid line %s: %v", m.Line, err)
		}
		if ids[m.ID] {
			t.Fatalf("duplicate id in %s", m.Line)
		}
		ids[m.ID] = true
		for _, bl := range src.(canon.BlobLister).Blobs() {
			if rc, err := bl.Open(); err == nil {
				rc.Close()
			}
		}
		lines = append(lines, string(m.Line))
	}
}

// FuzzOpen imports arbitrary bytes as a thread's message_1.json: no panic,
// only ErrMalformed errors naming the file, valid canonical lines with
// unique ids, SkipInvalid never failing, the same output twice and with
// one-byte reads, and no message lost where encoding/json reads the
// messages array.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(`{"participants":[{"name":"a"}],"messages":[{"sender_name":"a","timestamp_ms":1700000000000,"content":"Caf\u00c3\u00a9"}],"title":"t"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		dir := t.TempDir()
		th := filepath.Join(dir, "t_1")
		os.MkdirAll(filepath.Join(th, "photos"), 0o755)
		os.WriteFile(filepath.Join(th, "photos", "x"), []byte("x"), 0o644)
		p := filepath.Join(th, "message_1.json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		strict, _, err := collect(t, p, importers.Options{})
		if err != nil && (!errors.Is(err, importers.ErrMalformed) || !strings.Contains(err.Error(), p)) {
			t.Fatalf("unexpected error: %v", err)
		}
		again, _, err2 := collect(t, p, importers.Options{})
		if strings.Join(again, "\n") != strings.Join(strict, "\n") || fmt.Sprint(err) != fmt.Sprint(err2) {
			t.Fatal("two imports differ")
		}
		lenient, skipped, lerr := collect(t, th, importers.Options{SkipInvalid: true})
		if lerr != nil {
			t.Fatalf("SkipInvalid failed: %v", lerr)
		}
		if len(lenient) < len(strict) || err == nil && skipped > 0 {
			t.Fatalf("SkipInvalid: %d lines vs %d, %d skipped", len(lenient), len(strict), skipped)
		}
		defer func(f func(io.Reader) io.Reader) { testReader = f }(testReader)
		testReader = iotest.OneByteReader
		small, _, serr := collect(t, p, importers.Options{})
		if strings.Join(small, "\n") != strings.Join(strict, "\n") || fmt.Sprint(serr) != fmt.Sprint(err) {
			t.Fatalf("one-byte reads differ: %v vs %v", serr, err)
		}
		// Where encoding/json reads the messages array, every message is a
		// line (or, with SkipInvalid, a line or a skipped record).
		var doc map[string]json.RawMessage
		var msgs []json.RawMessage
		if json.Unmarshal(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")), &doc) == nil && json.Unmarshal(doc["messages"], &msgs) == nil &&
			bytes.Count(data, []byte(`"messages"`)) == 1 &&
			(err == nil && len(strict) != len(msgs) || len(lenient)+skipped < len(msgs)) {
			t.Fatalf("%d lines (%d + %d skipped with SkipInvalid), encoding/json sees %d messages", len(strict), len(lenient), skipped, len(msgs))
		}
	})
}
