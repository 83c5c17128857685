package whatsapp

import (
	"archive/zip"
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/importers"
)

var words = []string{"lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
	"eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua", "🙂", "ok", "see", "you", "tomorrow"}

// genChat writes about size bytes of a realistic Android export (day-first,
// 24-hour, one message a minute, some multi-line messages, system lines and
// media markers) and returns the bytes written.
func genChat(w io.Writer, size int64) int64 {
	bw := bufio.NewWriterSize(w, 1<<16)
	rng := rand.New(rand.NewPCG(1, 2))
	senders := []string{"Alice", "Bob", "~ Carol", "+41 79 123 45 67", "Dan 🎸"}
	t := time.Date(2019, 1, 13, 8, 0, 0, 0, time.UTC)
	var n int64
	for n < size {
		ts := fmt.Sprintf("%02d/%02d/%02d, %02d:%02d - ", t.Day(), t.Month(), t.Year()%100, t.Hour(), t.Minute())
		var line string
		switch r := rng.IntN(100); {
		case r < 2:
			line = ts + "Alice added Bob\n"
		case r < 5:
			line = ts + senders[rng.IntN(len(senders))] + ": <Media omitted>\n"
		default:
			text := ""
			for k, nw := 0, 3+rng.IntN(25); k < nw; k++ {
				if k > 0 {
					if rng.IntN(15) == 0 {
						text += "\n"
					} else {
						text += " "
					}
				}
				text += words[rng.IntN(len(words))]
			}
			line = ts + senders[rng.IntN(len(senders))] + ": " + text + "\n"
		}
		m, _ := bw.WriteString(line)
		n += int64(m)
		t = t.Add(time.Duration(1+rng.IntN(3)) * time.Minute)
	}
	bw.Flush()
	return n
}

func genFile(t testing.TB, dir string, size int64, asZip bool) (string, int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "WhatsApp Chat with Big.txt")
	if asZip {
		p = filepath.Join(dir, "WhatsApp Chat with Big.zip")
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if asZip {
		zw := zip.NewWriter(f)
		w, err := zw.Create("WhatsApp Chat with Big.txt")
		if err != nil {
			t.Fatal(err)
		}
		n = genChat(w, size)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	} else {
		n = genChat(f, size)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p, n
}

// importAll imports p, discarding the lines, and returns the message count.
func importAll(t testing.TB, p string) int {
	src, err := Open(context.Background(), p, importers.Options{TZ: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := 0
	for {
		_, err := src.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
}

// peakHeap runs fn while sampling HeapInuse every few milliseconds.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak.Load()
}

// TestChecklist2_HugeFileBoundedMemory imports a generated 64 MiB export
// (16 MiB under the race detector) and a zipped one, and fails if the peak
// heap grows with the input: it must stay within a fixed margin of the peak
// for a 2 MiB export.
func TestChecklist2_HugeFileBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("large input; skipped with -short")
	}
	big := int64(64 << 20)
	if raceEnabled {
		big = 16 << 20
	}
	dir := t.TempDir()
	small, _ := genFile(t, filepath.Join(dir, "small"), 2<<20, false)
	large, n := genFile(t, filepath.Join(dir, "large"), big, false)
	zipped, zn := genFile(t, filepath.Join(dir, "zip"), big/4, true)

	var msgs int
	base := peakHeap(func() { importAll(t, small) })
	start := time.Now()
	peak := peakHeap(func() { msgs = importAll(t, large) })
	el := time.Since(start)
	zpeak := peakHeap(func() { importAll(t, zipped) })
	t.Logf("%d MiB, %d messages in %v (%.1f MB/s with heap sampling); peak HeapInuse: 2 MiB input %.1f MiB, %d MiB input %.1f MiB, %d MiB zipped %.1f MiB",
		n>>20, msgs, el.Round(time.Millisecond), float64(n)/1e6/el.Seconds(), float64(base)/(1<<20), n>>20, float64(peak)/(1<<20), zn>>20, float64(zpeak)/(1<<20))
	const margin = 16 << 20
	if peak > base+margin || zpeak > base+margin {
		t.Fatalf("peak heap grows with the input: %d bytes for 2 MiB, %d for %d MiB, %d zipped", base, peak, n>>20, zpeak)
	}
}

// The benchmarks report MB/s of input (wall clock) and MB/cpu-s (process
// CPU time, which stays meaningful on a loaded machine).
func BenchmarkImport(b *testing.B)    { benchImport(b, false) }
func BenchmarkImportZip(b *testing.B) { benchImport(b, true) }

func benchImport(b *testing.B, asZip bool) {
	p, n := genFile(b, b.TempDir(), 8<<20, asZip)
	b.SetBytes(n)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		importAll(b, p)
	}
	b.StopTimer()
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(n)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
	}
}
