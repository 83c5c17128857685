package bench

// Benchmarks of the archive engine over a generated corpus (bench/corpus,
// seed 1, 200 conversations, grouped and interleaved).
//
//	go test ./bench -run '^$' -bench . -benchtime 5x
//	BENCH_CORPUS_SIZE=1GiB go test ./bench -run '^$' -bench Export -benchtime 2x
//
// BENCH_CORPUS_SIZE sets the corpus size (default 64MiB); BENCH_HEAPPROFILE=FILE
// writes a heap profile at each new peak of the live heap (see heap_test.go).
//
// MB/s is of canonical JSONL input bytes, for every benchmark; MB/cpu-s the
// same per CPU second of the process; peak-live-MiB and peak-heap-MiB the Go
// heap's peaks. Wrappers are recovery-key wrappers, so no Argon2id is
// measured. The corpus file is read from the page cache. The store is a local
// directory under $TMPDIR (each object is fsynced, as in real use), except in
// BenchmarkExportMemStore. docs/PERFORMANCE.md has the figures.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/bench/corpus"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/remote/local"
)

// key is a fixed recovery key.
var key = recovery.Key{0x63, 0x68, 0x61, 0x74, 0x76, 0x61, 0x75, 0x6c, 0x74}

var (
	workDir string
	mu      sync.Mutex
	corpora = map[corpus.Order]*corpusFile{}
	stores  = map[string]*exported{}
)

func TestMain(m *testing.M) {
	var err error
	workDir, err = os.MkdirTemp("", "chatvault-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The corpora and stores are large: remove them on interrupt too.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		os.RemoveAll(workDir)
		os.Exit(130)
	}()
	code := m.Run()
	os.RemoveAll(workDir)
	os.Exit(code)
}

type corpusFile struct {
	path  string
	size  int64
	lines int64
}

func corpusSize(b *testing.B) int64 {
	s := os.Getenv("BENCH_CORPUS_SIZE")
	if s == "" {
		s = "64MiB"
	}
	n, err := corpus.ParseSize(s)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// corpusFor generates (once per run) the corpus of the given order.
func corpusFor(b *testing.B, ord corpus.Order) *corpusFile {
	mu.Lock()
	defer mu.Unlock()
	if c := corpora[ord]; c != nil {
		return c
	}
	path := filepath.Join(workDir, "corpus-"+ord.String()+".jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	st, err := corpus.Generate(bw, corpus.Options{Size: corpusSize(b), Seed: 1, Conversations: 200, Order: ord})
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	c := &corpusFile{path: path, size: st.Bytes, lines: st.Lines}
	corpora[ord] = c
	return c
}

func options(dir string) archive.Options {
	return archive.Options{State: archive.State{Dir: filepath.Join(dir, "state")}}
}

func newArchive(b *testing.B, dir string) *archive.Archive {
	st, err := local.Open(filepath.Join(dir, "store"))
	if err != nil {
		b.Fatal(err)
	}
	a, err := archive.Create(context.Background(), st, archive.CreateOptions{Label: "bench", Lockers: []archive.Locker{archive.RecoveryLocker{Key: key}}}, options(dir))
	if err != nil {
		b.Fatal(err)
	}
	return a
}

func openArchive(b *testing.B, dir string, id archive.ID) *archive.Archive {
	ctx := context.Background()
	st, err := local.Open(filepath.Join(dir, "store"))
	if err != nil {
		b.Fatal(err)
	}
	a, err := archive.Open(ctx, st, id, options(dir))
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Unlock(ctx, archive.RecoveryUnlocker{Key: key}); err != nil {
		b.Fatal(err)
	}
	return a
}

func export(b *testing.B, a *archive.Archive, c *corpusFile, comp archive.Compression) archive.ExportResult {
	f, err := os.Open(c.path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	res, err := a.Export(context.Background(), canon.NewReader(f, filepath.Base(c.path)), archive.ExportOptions{Compression: comp})
	if err != nil {
		b.Fatal(err)
	}
	if res.Added != c.lines {
		b.Fatalf("export added %d messages, the corpus has %d", res.Added, c.lines)
	}
	return res
}

// cpuMeter reports the process CPU time per op and MB of input per CPU
// second: on a shared machine, wall-clock MB/s depends on what else runs,
// CPU time much less. It covers the untimed setup of each op too (archive
// creation, removing temporary directories), which is small.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuMeter { return cpuMeter{b, cpuTime()} }

func (m cpuMeter) report(bytes int64) {
	d := cpuTime() - m.start
	if d <= 0 || m.b.N == 0 {
		return
	}
	m.b.ReportMetric(d.Seconds()/float64(m.b.N), "cpu-s/op")
	m.b.ReportMetric(float64(bytes)*float64(m.b.N)/d.Seconds()/1e6, "MB/cpu-s")
}

var orders = []corpus.Order{corpus.Grouped, corpus.Interleaved}

// compressions: fastest (the engine's zero value and the CLI's default) and
// default (zstd's default level, chatvault export --compression default).
var compressions = []struct {
	name string
	c    archive.Compression
}{{"fastest", archive.CompressFastest}, {"default", archive.CompressDefault}}

// BenchmarkExport: a first export of the whole corpus into a new archive
// (archive creation is not timed).
func BenchmarkExport(b *testing.B) {
	for _, ord := range orders {
		for _, comp := range compressions {
			b.Run(ord.String()+"/"+comp.name, func(b *testing.B) {
				c := corpusFor(b, ord)
				b.SetBytes(c.size)
				b.ReportAllocs()
				b.ResetTimer()
				cpu := startCPU(b)
				heap := startHeap(b)
				var res archive.ExportResult
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					dir, err := os.MkdirTemp(workDir, "export-")
					if err != nil {
						b.Fatal(err)
					}
					a := newArchive(b, dir)
					b.StartTimer()
					res = export(b, a, c, comp.c)
					b.StopTimer()
					os.RemoveAll(dir)
					b.StartTimer()
				}
				heap.report()
				cpu.report(c.size)
				b.ReportMetric(float64(res.Segments), "segments")
				b.ReportMetric(float64(res.StoredBytes)/float64(c.size), "stored/input")
			})
		}
	}
}

// BenchmarkExportAgain: exporting the corpus into an archive that already
// holds all of it (fastest compression): the cost of loading and probing the
// message-id index, nothing is written.
func BenchmarkExportAgain(b *testing.B) {
	for _, ord := range orders {
		b.Run(ord.String(), func(b *testing.B) {
			c := corpusFor(b, ord)
			dir, err := os.MkdirTemp(workDir, "again-")
			if err != nil {
				b.Fatal(err)
			}
			defer os.RemoveAll(dir)
			id := newArchive(b, dir).ID()
			export(b, openArchive(b, dir, id), c, archive.CompressFastest)
			b.SetBytes(c.size)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU(b)
			heap := startHeap(b)
			for i := 0; i < b.N; i++ {
				a := openArchive(b, dir, id)
				f, err := os.Open(c.path)
				if err != nil {
					b.Fatal(err)
				}
				res, err := a.Export(context.Background(), canon.NewReader(f, filepath.Base(c.path)), archive.ExportOptions{})
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
				if res.Commit != 0 || res.Unchanged != c.lines {
					b.Fatalf("export again: %+v, want %d unchanged and no commit", res, c.lines)
				}
			}
			heap.report()
			cpu.report(c.size)
		})
	}
}

// BenchmarkExportMemStore: as BenchmarkExport with the CLI's default
// compression (fastest), into a store in memory: the engine's own cost, without the
// local store's file creation and fsyncs.
func BenchmarkExportMemStore(b *testing.B) {
	for _, ord := range orders {
		b.Run(ord.String(), func(b *testing.B) {
			c := corpusFor(b, ord)
			b.SetBytes(c.size)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU(b)
			heap := startHeap(b)
			var res archive.ExportResult
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir, err := os.MkdirTemp(workDir, "export-")
				if err != nil {
					b.Fatal(err)
				}
				st := newMemStore()
				a, err := archive.Create(context.Background(), st, archive.CreateOptions{Label: "bench", Lockers: []archive.Locker{archive.RecoveryLocker{Key: key}}}, options(dir))
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res = export(b, a, c, archive.CompressFastest)
				b.StopTimer()
				os.RemoveAll(dir)
				b.StartTimer()
			}
			heap.report()
			cpu.report(c.size)
			b.ReportMetric(float64(res.Segments), "segments")
			b.ReportMetric(float64(res.StoredBytes)/float64(c.size), "stored/input")
		})
	}
}

// exported is an archive holding one export of a corpus, shared by the
// read benchmarks.
type exported struct {
	dir string
	id  archive.ID
	c   *corpusFile
}

func exportedFor(b *testing.B, ord corpus.Order) *exported {
	c := corpusFor(b, ord)
	mu.Lock()
	defer mu.Unlock()
	if e := stores[ord.String()]; e != nil {
		return e
	}
	dir, err := os.MkdirTemp(workDir, "archive-")
	if err != nil {
		b.Fatal(err)
	}
	a := newArchive(b, dir)
	export(b, a, c, archive.CompressFastest) // as the CLI does by default
	e := &exported{dir: dir, id: a.ID(), c: c}
	stores[ord.String()] = e
	return e
}

// discardWriter takes restored lines and counts them.
type discardWriter struct {
	w     *bufio.Writer
	bytes *int64
	lines *int64
}

func (d discardWriter) WriteLine(l []byte) error {
	*d.bytes += int64(len(l)) + 1
	*d.lines++
	d.w.Write(l)
	return d.w.WriteByte('\n')
}
func (d discardWriter) Close() error { return d.w.Flush() }

// fileWriter writes one conversation to a file, as restore -o DIR does.
type fileWriter struct {
	discardWriter
	f *os.File
}

func (w fileWriter) Close() error {
	err := w.w.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// BenchmarkRestore: open, unlock and restore every conversation of the
// archive at its newest version. "discard" measures the engine alone,
// "files" also writes one file per conversation (no fsync).
func BenchmarkRestore(b *testing.B) {
	for _, ord := range orders {
		for _, sink := range []string{"discard", "files"} {
			b.Run(ord.String()+"/"+sink, func(b *testing.B) {
				e := exportedFor(b, ord)
				b.SetBytes(e.c.size)
				b.ReportAllocs()
				ctx := context.Background()
				b.ResetTimer()
				cpu := startCPU(b)
				heap := startHeap(b)
				for i := 0; i < b.N; i++ {
					var n, lines int64
					var outDir string
					if sink == "files" {
						b.StopTimer()
						var err error
						if outDir, err = os.MkdirTemp(workDir, "restore-"); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
					a := openArchive(b, e.dir, e.id)
					err := a.Restore(ctx, archive.RestoreOptions{}, func(ci archive.ConversationInfo) (archive.LineWriter, error) {
						if sink == "discard" {
							return discardWriter{w: bufio.NewWriterSize(io.Discard, 64<<10), bytes: &n, lines: &lines}, nil
						}
						f, err := os.Create(filepath.Join(outDir, strings.NewReplacer(":", "_", "/", "_").Replace(ci.SourceKey)+".jsonl"))
						if err != nil {
							return nil, err
						}
						return fileWriter{discardWriter{w: bufio.NewWriterSize(f, 64<<10), bytes: &n, lines: &lines}, f}, nil
					})
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if n != e.c.size || lines != e.c.lines {
						b.Fatalf("restored %d lines, %d bytes; the corpus has %d lines, %d bytes", lines, n, e.c.lines, e.c.size)
					}
					if outDir != "" {
						os.RemoveAll(outDir)
					}
					b.StartTimer()
				}
				heap.report()
				cpu.report(e.c.size)
			})
		}
	}
}

// BenchmarkVerify: open, unlock and verify --read-data (every object hashed,
// every segment decrypted and decompressed).
func BenchmarkVerify(b *testing.B) {
	for _, ord := range orders {
		b.Run(ord.String(), func(b *testing.B) {
			e := exportedFor(b, ord)
			b.SetBytes(e.c.size)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU(b)
			heap := startHeap(b)
			for i := 0; i < b.N; i++ {
				a := openArchive(b, e.dir, e.id)
				if _, err := a.Verify(context.Background(), archive.VerifyOptions{ReadData: true}); err != nil {
					b.Fatal(err)
				}
			}
			heap.report()
			cpu.report(e.c.size)
		})
	}
}
