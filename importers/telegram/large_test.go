package telegram

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/importers"
)

// genExport writes a full-account export of about size bytes: two chats,
// the first in Telegram Desktop's member order, the second with its
// messages before its id and name (so the importer reads it by seeking
// back), with entity arrays, reactions, replies, skip notes and the \x
// escapes the repair pass rewrites. It returns the number of messages.
func genExport(t testing.TB, path string, size int64) int {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	cw := &countWriter{w: w}
	fmt.Fprint(cw, "{\n \"about\": \"generated\",\n \"personal_information\": {\n  \"user_id\": 1,\n  \"first_name\": \"Me\"\n },\n \"chats\": {\n  \"about\": \"x\",\n  \"list\": [\n")
	n := 0
	writeMessages := func(limit int64) {
		for i := 0; cw.n < limit; i++ {
			if i > 0 {
				fmt.Fprint(cw, ",\n")
			}
			n++
			unix := 1700000000 + int64(i)*37
			date := time.Unix(unix, 0).In(time.FixedZone("", 3600)).Format("2006-01-02T15:04:05")
			fmt.Fprintf(cw, "     {\n      \"id\": %d,\n      \"type\": \"message\",\n      \"date\": \"%s\",\n      \"date_unixtime\": \"%d\",\n      \"from\": \"User %d\",\n      \"from_id\": \"user%d\",\n", i+1, date, unix, i%17, i%17)
			switch i % 5 {
			case 0:
				fmt.Fprintf(cw, "      \"text\": \"Message number %d with some ordinary words in it, like a real chat line would have.\"\n     }", i)
			case 1:
				fmt.Fprintf(cw, "      \"reply_to_message_id\": %d,\n      \"text\": [\n       \"see \",\n       {\n        \"type\": \"link\",\n        \"text\": \"https://example.org/%d\"\n       },\n       \" and \",\n       {\n        \"type\": \"bold\",\n        \"text\": \"this\"\n       }\n      ],\n      \"text_entities\": [\n       {\n        \"type\": \"plain\",\n        \"text\": \"see \"\n       }\n      ]\n     }", i, i)
			case 2:
				fmt.Fprintf(cw, "      \"photo\": \"(File not included. Change data exporting settings to download.)\",\n      \"width\": 1280,\n      \"height\": 720,\n      \"text\": \"a photo \\x01 with a control escape\"\n     }")
			case 3:
				fmt.Fprintf(cw, "      \"text\": \"Привет, как дела? 👍 %d\",\n      \"reactions\": [\n       {\n        \"type\": \"emoji\",\n        \"count\": 2,\n        \"emoji\": \"👍\",\n        \"recent\": [\n         {\n          \"from\": \"User 1\",\n          \"from_id\": \"user1\",\n          \"date\": \"%s\"\n         }\n        ]\n       }\n      ]\n     }", i, date)
			default:
				fmt.Fprintf(cw, "      \"edited\": \"%s\",\n      \"edited_unixtime\": \"%d\",\n      \"text\": \"edited line %d\"\n     }", date, unix, i)
			}
		}
	}
	half := size / 2
	fmt.Fprint(cw, "   {\n    \"name\": \"Big Chat\",\n    \"type\": \"private_supergroup\",\n    \"id\": 1001,\n    \"messages\": [\n")
	writeMessages(half)
	fmt.Fprint(cw, "\n    ]\n   },\n   {\n    \"messages\": [\n")
	writeMessages(size)
	fmt.Fprint(cw, "\n    ],\n    \"type\": \"private_group\",\n    \"name\": \"Sorted Chat\",\n    \"id\": 1002\n   }\n  ]\n }\n}\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return n
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// importPeakHeap imports path and returns the message count and the peak
// HeapInuse seen above the heap in use before the import, sampled every 5
// milliseconds by a goroutine and every 2000 messages inline.
func importPeakHeap(t *testing.T, path string) (int, uint64) {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > base {
			for {
				p := peak.Load()
				if ms.HeapInuse-base <= p || peak.CompareAndSwap(p, ms.HeapInuse-base) {
					break
				}
			}
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				sample()
			}
		}
	})
	src, err := Open(context.Background(), path, importers.Options{TZ: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n%2000 == 0 {
			sample()
		}
	}
	sample()
	close(stop)
	wg.Wait()
	src.Close()
	return n, peak.Load()
}

// TestLargeExportBoundedMemory (trap §1.5.10, checklist item 2): the peak
// heap while importing a 60 MB export (50 MB under the race detector) is no
// larger than while importing one a tenth of its size, give or take GC noise.
func TestLargeExportBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 66 MB of input")
	}
	mb := int64(60)
	if raceEnabled {
		mb = 50
	}
	dir := t.TempDir()
	small, large := filepath.Join(dir, "small.json"), filepath.Join(dir, "large.json")
	nSmall := genExport(t, small, mb<<20/10)
	nLarge := genExport(t, large, mb<<20)
	gotSmall, peakSmall := importPeakHeap(t, small)
	start := time.Now()
	gotLarge, peakLarge := importPeakHeap(t, large)
	el := time.Since(start)
	if gotSmall != nSmall || gotLarge != nLarge {
		t.Fatalf("imported %d/%d and %d/%d messages", gotSmall, nSmall, gotLarge, nLarge)
	}
	t.Logf("small: %d messages, peak heap +%.1f MiB; large: %d messages, peak heap +%.1f MiB, %.1f MB/s",
		nSmall, float64(peakSmall)/(1<<20), nLarge, float64(peakLarge)/(1<<20), float64(mb)*1.048576/el.Seconds())
	const slack = 8 << 20
	if peakLarge > peakSmall+slack || peakLarge > 32<<20 {
		t.Errorf("peak heap grows with the input: %.1f MiB for %d MB, %.1f MiB for %d MB",
			float64(peakSmall)/(1<<20), mb/10, float64(peakLarge)/(1<<20), mb)
	}
}

func BenchmarkImport(b *testing.B) {
	path := filepath.Join(b.TempDir(), ResultFile)
	genExport(b, path, 16<<20)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		src, err := Open(context.Background(), path, importers.Options{TZ: time.UTC})
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
