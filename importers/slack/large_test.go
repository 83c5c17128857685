package slack

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/importers"
)

// genExport writes a synthetic export of about mb megabytes of day files:
// four channels of many day files and one channel with a single day file
// holding a fifth of the volume. It returns the day files' total size.
func genExport(t testing.TB, dir string, mb int) int64 {
	t.Helper()
	w := func(name string, fill func(*bufio.Writer)) int64 {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		fill(bw)
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		f.Close()
		return st.Size()
	}
	var chans []string
	for i := range 5 {
		chans = append(chans, fmt.Sprintf(`{"id":"C0BIG%05d","name":"chan-%d","members":["U00000001","U00000002"]}`, i, i))
	}
	w("channels.json", func(b *bufio.Writer) { b.WriteString("[" + strings.Join(chans, ",") + "]") })
	w("users.json", func(b *bufio.Writer) {
		b.WriteString("[")
		for i := range 500 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(b, `{"id":"U%08d","name":"user%d","real_name":"User %d","profile":{"real_name":"User %d","display_name":"u%d"}}`, i, i, i, i, i)
		}
		b.WriteString("]")
	})
	seq := 0
	message := func(b *bufio.Writer) {
		seq++
		ts := fmt.Sprintf("%d.%06d", 1600000000+seq, seq%1000000)
		fmt.Fprintf(b, `{"type":"message","user":"U%08d","text":"Message number %d with some text, a link <https://example.com/page?id=%d|page> and unicode ✓ café 👍","ts":"%s"`, seq%500, seq, seq, ts)
		if seq%3 == 0 {
			fmt.Fprintf(b, `,"thread_ts":"%d.000000","parent_user_id":"U00000001"`, 1600000000+seq-1)
		}
		if seq%5 == 0 {
			b.WriteString(`,"reactions":[{"name":"+1","users":["U00000001","U00000002"],"count":2}]`)
		}
		if seq%7 == 0 {
			fmt.Fprintf(b, `,"files":[{"id":"F%09d","name":"img%d.png","mimetype":"image/png","size":%d,"mode":"hosted","url_private":"https://files.slack.com/files-pri/T1-F%09d/img.png?t=xoxe-1-TOKEN%d","thumb_64":"https://files.slack.com/files-tmb/T1-F%09d/img_64.png?t=xoxe-1-TOKEN%d"}]`, seq, seq, seq*10, seq, seq, seq, seq)
		}
		b.WriteString(`,"blocks":[{"type":"rich_text","block_id":"b","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"Message number"}]}]}]}`)
	}
	total := int64(0)
	target := int64(mb) << 20
	perChannel := target * 4 / 5 / 4
	const dayBytes = 256 << 10
	for c := range 4 {
		var written int64
		for d := 0; written < perChannel; d++ {
			name := fmt.Sprintf("chan-%d/%04d-%02d-%02d.json", c, 2000+d/336, 1+d/28%12, 1+d%28)
			n := w(name, func(b *bufio.Writer) {
				b.WriteString("[\n")
				for i := 0; b.Buffered() < dayBytes; i++ {
					if i > 0 {
						b.WriteString(",\n")
					}
					message(b)
				}
				b.WriteString("\n]\n")
			})
			written += n
		}
		total += written
	}
	total += w("chan-4/2024-01-01.json", func(b *bufio.Writer) {
		b.WriteString("[")
		var n int64
		for i := 0; n < target/5; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			before := b.Buffered()
			message(b)
			n += int64(b.Buffered() - before)
			if b.Buffered() > 512<<10 {
				b.Flush()
			}
		}
		b.WriteString("]")
	})
	return total
}

// peakHeap imports path and returns the number of messages and the peak
// HeapInuse above the heap in use before the import, sampled every 500
// messages.
func peakHeap(t testing.TB, path string) (int, uint64) {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64
	sample := func() {
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > base && ms.HeapInuse-base > peak {
			peak = ms.HeapInuse - base
		}
	}
	src, err := Open(context.Background(), path, importers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := 0
	for {
		m, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(m.Line), "xoxe") {
			t.Fatalf("token left in %s", m.Line)
		}
		n++
		if n%500 == 0 {
			sample()
		}
	}
	sample()
	return n, peak
}

// §10.2: the heap stays flat as the export grows tenfold, for folders and
// zips, including a single day file of a fifth of the volume.
func TestChecklist2_LargeExportBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("generates about 70 MB (35 MB with -race)")
	}
	smallMB, largeMB := 6, 60
	if raceEnabled {
		smallMB, largeMB = 3, 30
	}
	small, large := t.TempDir(), t.TempDir()
	genExport(t, small, smallMB)
	size := genExport(t, large, largeMB)
	for _, c := range []struct {
		name         string
		small, large string
	}{
		{"folder", small, large},
		{"zip", zipDir(t, small, ""), zipDir(t, large, "")},
	} {
		ns, ps := peakHeap(t, c.small)
		nl, pl := peakHeap(t, c.large)
		t.Logf("%s: %d messages: peak heap +%.1f MiB; %d messages (%d MB): peak heap +%.1f MiB",
			c.name, ns, float64(ps)/(1<<20), nl, size>>20, float64(pl)/(1<<20))
		if nl < 8*ns {
			t.Fatalf("large export has %d messages, small %d", nl, ns)
		}
		if pl > ps+16<<20 || pl > 48<<20 {
			t.Errorf("%s: peak heap grew with the input: +%d MiB for %d messages vs +%d MiB for %d", c.name, pl>>20, nl, ps>>20, ns)
		}
	}
}

func benchmarkImport(b *testing.B, zipped bool) {
	dir := b.TempDir()
	size := genExport(b, dir, 10)
	path := dir
	if zipped {
		path = zipDir(b, dir, "")
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		src, err := Open(context.Background(), path, importers.Options{})
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

// BenchmarkImport reports MB/s of day-file JSON imported.
func BenchmarkImport(b *testing.B) {
	b.Run("folder", func(b *testing.B) { benchmarkImport(b, false) })
	b.Run("zip", func(b *testing.B) { benchmarkImport(b, true) })
}
