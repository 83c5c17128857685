package messenger

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/chatvault/chatvault/importers"
	"github.com/chatvault/chatvault/importers/importertest"
)

var words = []string{"lorem", "ipsum", "dolor", "sit", "amet", "caf\\u00c3\\u00a9", "na\\u00c3\\u00afve", "elit", "sed", "do",
	"\\u00f0\\u009f\\u0099\\u0082", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua", "ok", "see", "you", "tomorrow"}

// genThread writes a thread folder of at least size bytes the way Meta
// does (indented, mojibake escapes, newest first, 10000 messages per
// message_N.json, some photos, reactions and shares) and returns the folder
// and the bytes written.
func genThread(t testing.TB, dir string, size int64) (string, int64) {
	t.Helper()
	th := filepath.Join(dir, fmt.Sprintf("big_%d", size))
	if err := os.MkdirAll(th, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	senders := []string{"John Doe", "Alice Smith", "Zo\\u00c3\\u00ab \\u00c3\\u009cnal", "Jo\\u00c3\\u00a3o Silva"}
	ts := int64(1700000000000)
	var total int64
	for part := 1; total < size; part++ {
		f, err := os.Create(filepath.Join(th, fmt.Sprintf("message_%d.json", part)))
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		n, _ := fmt.Fprint(w, "{\n  \"participants\": [\n    {\n      \"name\": \"John Doe\"\n    },\n    {\n      \"name\": \"Alice Smith\"\n    }\n  ],\n  \"messages\": [")
		total += int64(n)
		for i := 0; i < 10000 && total < size; i++ {
			if i > 0 {
				w.WriteString(",")
				total++
			}
			text := ""
			for k, nw := 0, 3+rng.IntN(25); k < nw; k++ {
				if k > 0 {
					text += " "
				}
				text += words[rng.IntN(len(words))]
			}
			extra := ""
			switch rng.IntN(20) {
			case 0:
				extra = fmt.Sprintf(",\n      \"photos\": [\n        {\n          \"uri\": \"your_facebook_activity/messages/inbox/big_1/photos/%d_%d.jpg\",\n          \"creation_timestamp\": %d\n        }\n      ]", ts, i, ts/1000)
			case 1:
				extra = ",\n      \"reactions\": [\n        {\n          \"reaction\": \"\\u00e2\\u009d\\u00a4\\u00ef\\u00b8\\u008f\",\n          \"actor\": \"John Doe\"\n        }\n      ]"
			case 2:
				extra = ",\n      \"share\": {\n        \"link\": \"https://example.com/a?b=c\"\n      }"
			}
			n, _ := fmt.Fprintf(w, "\n    {\n      \"sender_name\": \"%s\",\n      \"timestamp_ms\": %d,\n      \"content\": \"%s\"%s,\n      \"is_geoblocked_for_viewer\": false\n    }",
				senders[rng.IntN(len(senders))], ts, text, extra)
			total += int64(n)
			ts -= int64(1 + rng.IntN(60000))
		}
		n, _ = fmt.Fprint(w, "\n  ],\n  \"title\": \"Big\",\n  \"is_still_participant\": true,\n  \"thread_path\": \"inbox/big_1\",\n  \"magic_words\": []\n}")
		total += int64(n)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return th, total
}

// peakHeap imports path and returns the peak HeapInuse and the message count.
func peakHeap(t testing.TB, path string) (uint64, int) {
	return importertest.PeakHeap(t, func() (importers.Source, error) {
		return Open(context.Background(), path, importers.Options{Warn: func(string) {}})
	})
}

// TestChecklist2_HugeExportBoundedMemory (§10.2): peak heap while importing
// an 80 MB thread (50 MB under the race detector) is about that of a 10 MB
// one, and small in absolute terms; so is a single part of about 30 MB.
func TestChecklist2_HugeExportBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("generates ~130 MB of input")
	}
	mb := int64(80) // 50 under the race detector, which is ten times slower
	if raceEnabled {
		mb = 50
	}
	dir := t.TempDir()
	small, smallSize := genThread(t, dir, 10<<20)
	large, largeSize := genThread(t, dir, mb<<20)
	ps, ns := peakHeap(t, small)
	pl, nl := peakHeap(t, large)
	t.Logf("small: %d MB, %d messages, peak HeapInuse %.1f MiB", smallSize>>20, ns, float64(ps)/(1<<20))
	t.Logf("large: %d MB, %d messages, peak HeapInuse %.1f MiB", largeSize>>20, nl, float64(pl)/(1<<20))
	if nl < int(mb/10-1)*ns {
		t.Fatalf("large input too small: %d vs %d messages", nl, ns)
	}
	if pl > ps+8<<20 || pl > 48<<20 {
		t.Fatalf("peak heap grows with the input: %.1f MiB for %d MB vs %.1f MiB for %d MB",
			float64(pl)/(1<<20), largeSize>>20, float64(ps)/(1<<20), smallSize>>20)
	}
	// One part holding everything: the decoder streams the array.
	one := filepath.Join(dir, "one_1")
	os.MkdirAll(one, 0o755)
	b, _ := os.ReadFile(filepath.Join(large, "message_1.json"))
	f, _ := os.Create(filepath.Join(one, "message_1.json"))
	w := bufio.NewWriter(f)
	head := b[:len(b)-len("\n  ],\n  \"title\": \"Big\",\n  \"is_still_participant\": true,\n  \"thread_path\": \"inbox/big_1\",\n  \"magic_words\": []\n}")]
	w.Write(head)
	body := head[len("{\n  \"participants\": [\n    {\n      \"name\": \"John Doe\"\n    },\n    {\n      \"name\": \"Alice Smith\"\n    }\n  ],\n  \"messages\": ["):]
	for range 10 {
		w.WriteString(",")
		w.Write(body)
	}
	w.Write(b[len(head):])
	w.Flush()
	fi, _ := f.Stat()
	f.Close()
	po, no := peakHeap(t, one)
	t.Logf("one part: %d MB, %d messages, peak HeapInuse %.1f MiB", fi.Size()>>20, no, float64(po)/(1<<20))
	if po > ps+8<<20 || po > 48<<20 {
		t.Fatalf("peak heap grows with one large part: %.1f MiB", float64(po)/(1<<20))
	}
}

var benchThread struct {
	once sync.Once
	dir  string
	path string
	size int64
}

// BenchmarkImport measures import throughput in MB/s of thread JSON.
func BenchmarkImport(b *testing.B) {
	benchThread.once.Do(func() {
		dir, err := os.MkdirTemp("", "messenger-bench")
		if err != nil {
			b.Fatal(err)
		}
		benchThread.dir = dir
		benchThread.path, benchThread.size = genThread(b, dir, 32<<20)
	})
	b.SetBytes(benchThread.size)
	b.ReportAllocs()
	for b.Loop() {
		src, err := Open(context.Background(), benchThread.path, importers.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		src.Close()
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchThread.dir != "" {
		os.RemoveAll(benchThread.dir)
	}
	os.Exit(code)
}
