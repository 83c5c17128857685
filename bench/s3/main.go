// Command s3 (bench/s3) measures archive.Push and archive.Pull against an S3
// server, side by side with plain SDK calls for the same bytes with the same
// client configuration, and the cost of deciding what to send:
//
//	go run ./bench/s3 -endpoint http://127.0.0.1:7070
//
// bench/s3.sh starts a versitygw, runs this three times and prints min and
// median; docs/PERFORMANCE.md ("S3 push and pull") has the figures.
//
// Credentials and region come from the environment (AWS_ACCESS_KEY_ID, ...),
// as for the CLI; the endpoint defaults to $CHATVAULT_TEST_S3.
//
// What it does, in a fresh temporary directory and under a fresh key prefix
// run-XXXX/ of the bucket (created when missing; the run's objects are deleted
// at the end unless -keep):
//
//  1. creates a local archive (recovery-key wrapper, no Argon2id) and exports a
//     generated corpus of -size (1 GiB) into it with 8 MiB segments and no
//     compression (the stored bytes are ciphertext: incompressible);
//  2. uploads, each into a fresh prefix s3://bucket/run-XXXX/<step>-r<round>:
//     push (archive.Push of the archive, once per -jobs value), then PutObject
//     of the same objects (each file of the archive read from the local store
//     into a reused buffer, then one PutObject): sequential with the SDK's
//     defaults (it computes a CRC32), sequential with exactly the request
//     Store.Create sends (If-None-Match: *, a SHA-256 checksum computed
//     beforehand), the same with that SHA-256 also handed to the SigV4 signer
//     (what Create could do), and the Create request with -par goroutines;
//  3. downloads, all from the first push's prefix: pull (archive.Pull into an
//     empty local store directory, with a new state directory, once per -jobs
//     value), then sequential GetObject of the same objects into files (one
//     per object, in the same directory tree, then one syncfs, as the local
//     store's Sync does), the same with ChecksumMode ENABLED (as Store.Open
//     asks: the SDK then checks the SHA-256 as the body is read), and
//     sequential GetObject to io.Discard;
//  4. uploads and downloads are each run -rounds times (2), forward then
//     backward, so that no step always follows the same one, and each step's
//     fastest round is kept;
//  5. decision cost: a second local archive of about -small-objects objects
//     (4 KiB segments) is pushed once; then, -reps times alternately, a push
//     with nothing to send (timed whole: it lists the destination, reads its
//     head commit, reads the integrity lists from the local store and
//     compares), a bare ListObjectsV2 paginator over the archive's prefix with
//     the same client, Store.List over it and archive.Open of the local
//     source alone; the minimum of the reps is kept.
//
// Every timed step starts after a sync(2), so that writeback of the previous
// step does not land in it. MB/s is 10^6 bytes of the archive's objects per
// wall-clock second. CPU is this process's (user + system) and, with
// -server-pid, the server's, read from /proc.
//
// With -tsv FILE each figure is also appended to FILE as a tab-separated row
// (run, key, label, bytes, objects, wall s, MB/s, client CPU s, server CPU s),
// and each ratio as a row whose key starts with "ratio:" (the ratio in the MB/s
// column). With -cpuprofile DIR each step writes DIR/<key>.pprof (a step
// measured again: DIR/<key>.2.pprof, ...).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/bench/corpus"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/local"
	"github.com/chatvault/chatvault/remote/s3"
)

// key is a fixed recovery key (the one bench_test.go uses).
var key = recovery.Key{0x63, 0x68, 0x61, 0x74, 0x76, 0x61, 0x75, 0x6c, 0x74}

func main() {
	endpoint := flag.String("endpoint", os.Getenv("CHATVAULT_TEST_S3"), "S3 endpoint `URL` (default $CHATVAULT_TEST_S3)")
	bucket := flag.String("bucket", "chatvault-bench", "bucket (created when missing)")
	size := flag.String("size", "1GiB", "corpus `size` of the large archive")
	smallObjects := flag.Int("small-objects", 10000, "about how many objects the decision-cost archive has")
	jobsFlag := flag.String("jobs", "8,4", "comma-separated Jobs values for push and pull")
	par := flag.Int("par", 8, "goroutines of the parallel PutObject baseline (0: skip it)")
	reps := flag.Int("reps", 5, "repetitions of each decision-cost measurement (the minimum is kept)")
	rounds := flag.Int("rounds", 2, "rounds of the push/pull measurements, in alternating order (the fastest is kept)")
	tmp := flag.String("tmp", os.TempDir(), "`dir` for the temporary local stores")
	serverPID := flag.Int("server-pid", 0, "`pid` of the S3 server, to report its CPU time")
	tsv := flag.String("tsv", "", "append results to `file` as tab-separated rows")
	run := flag.String("run", "1", "run label for the -tsv rows")
	profDir := flag.String("cpuprofile", "", "write a CPU profile of each step into `dir`")
	keep := flag.Bool("keep", false, "keep the run's objects in the bucket")
	skipSmall := flag.Bool("skip-decide", false, "skip the decision-cost measurement")
	skipLarge := flag.Bool("skip-transfer", false, "skip the 1 GiB push and pull measurements")
	flag.Parse()
	if *endpoint == "" {
		fail(errors.New("no endpoint: give -endpoint or set CHATVAULT_TEST_S3 (see scripts/s3server.sh)"))
	}
	n, err := corpus.ParseSize(*size)
	if err != nil {
		fail(err)
	}
	var jobs []int
	for _, s := range strings.Split(*jobsFlag, ",") {
		j, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || j < 1 || slices.Contains(jobs, j) {
			fail(fmt.Errorf("bad -jobs %q: want distinct numbers ≥ 1", *jobsFlag))
		}
		jobs = append(jobs, j)
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	work, err := os.MkdirTemp(*tmp, "chatvault-s3bench-")
	if err != nil {
		fail(err)
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	b := &bench{
		ctx: ctx, work: work, bucket: *bucket, prefix: "run-" + hex.EncodeToString(rnd[:]),
		opts:      s3.Options{Endpoint: *endpoint},
		aopts:     archive.Options{State: archive.State{Dir: filepath.Join(work, "state")}},
		serverPID: *serverPID, profDir: *profDir, runLabel: *run,
	}
	if *profDir != "" {
		if err := os.MkdirAll(*profDir, 0o755); err != nil {
			fail(err)
		}
	}
	err = b.main(n, *smallObjects, jobs, *par, *reps, *rounds, *skipLarge, *skipSmall)
	if !*keep {
		if cerr := b.removeRun(); err == nil && cerr != nil {
			fmt.Fprintln(os.Stderr, "s3bench: cleanup:", cerr)
		}
	}
	os.RemoveAll(work)
	if err != nil {
		fail(err)
	}
	b.print(os.Stdout)
	if *tsv != "" {
		if err := b.writeTSV(*tsv); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "s3bench:", err)
	os.Exit(1)
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "s3bench: "+format+"\n", args...) }

type bench struct {
	ctx       context.Context
	work      string
	bucket    string
	prefix    string // run-XXXX, under which every store of this run lives
	opts      s3.Options
	aopts     archive.Options
	serverPID int
	profDir   string
	runLabel  string

	results []result
	ratios  []ratio
	notes   []string
}

type result struct {
	key, label string
	bytes      int64
	objects    int
	wall       time.Duration
	cpu, srv   time.Duration // this process's CPU, the server's (-1: unknown)
}

func (r result) mbps() float64 {
	if r.bytes == 0 || r.wall <= 0 {
		return 0
	}
	return float64(r.bytes) / r.wall.Seconds() / 1e6
}

type ratio struct {
	key, label string
	v          float64
}

// obj is one object of an archive, as a file of the local store.
type obj struct {
	name string // store name, e.g. archives/<id>/objects/<hex>
	size int64
}

// store opens s3://bucket/run-XXXX/sub with the bench's options (a new client
// each time, with the same configuration).
func (b *bench) store(sub string) (*s3.Store, error) {
	return s3.Open(b.ctx, "s3://"+b.bucket+"/"+b.prefix+"/"+sub, b.opts)
}

func (b *bench) main(size int64, smallObjects int, jobs []int, par, reps, rounds int, skipLarge, skipSmall bool) error {
	ctx := b.ctx
	root, err := b.store("x")
	if err != nil {
		return err
	}
	_, err = root.Client().CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(b.bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("creating bucket %s: %w", b.bucket, err)
	}
	if !skipLarge {
		if err := b.transfer(size, jobs, par, max(rounds, 1)); err != nil {
			return err
		}
	}
	if !skipSmall {
		if err := b.decide(smallObjects, reps); err != nil {
			return err
		}
	}
	return nil
}

// makeArchive creates a local archive in dir and exports a generated grouped
// corpus of size bytes into it, uncompressed, in segments of seg bytes.
func (b *bench) makeArchive(dir string, size int64, seg int) (*local.Store, archive.ID, []obj, error) {
	st, err := local.Open(dir)
	if err != nil {
		return nil, archive.ID{}, nil, err
	}
	a, err := archive.Create(b.ctx, st, archive.CreateOptions{Label: "s3bench", Lockers: []archive.Locker{archive.RecoveryLocker{Key: key}}}, b.aopts)
	if err != nil {
		return nil, archive.ID{}, nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		_, err := corpus.Generate(bw, corpus.Options{Size: size, Seed: 1, Conversations: 200, Order: corpus.Grouped})
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	t0 := time.Now()
	res, err := a.Export(b.ctx, canon.NewReader(pr, "corpus.jsonl"), archive.ExportOptions{SegmentSize: seg, Compression: archive.CompressOff})
	pr.CloseWithError(errors.New("export ended"))
	if err != nil {
		return nil, archive.ID{}, nil, err
	}
	objs, err := listFiles(dir, a.ID())
	if err != nil {
		return nil, archive.ID{}, nil, err
	}
	logf("archive %s: %d messages, %d segments, %d objects, %d bytes (export %.1f s)",
		a.ID().Short(), res.Added, res.Segments, len(objs), total(objs), time.Since(t0).Seconds())
	return st, a.ID(), objs, nil
}

// listFiles lists the archive's objects in a local store directory.
func listFiles(dir string, id archive.ID) ([]obj, error) {
	base := "archives/" + id.String()
	var objs []obj
	err := filepath.WalkDir(filepath.Join(dir, filepath.FromSlash(base)), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if strings.HasPrefix(name, base+"/leases/") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		objs = append(objs, obj{name: name, size: info.Size()})
		return nil
	})
	return objs, err
}

func total(objs []obj) int64 {
	var n int64
	for _, o := range objs {
		n += o.size
	}
	return n
}

// measure runs fn as the step key after a sync(2), timing it and counting CPU.
func (b *bench) measure(key, label string, bytes int64, objects int, fn func() error) (result, error) {
	syscall.Sync()
	stop := b.profile(key)
	c0, s0, k0 := cpuTime(), b.serverCPU(), sysTime()
	t0 := time.Now()
	err := fn()
	wall := time.Since(t0)
	c1, s1, k1 := cpuTime(), b.serverCPU(), sysTime()
	stop()
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", label, err)
	}
	r := result{key: key, label: label, bytes: bytes, objects: objects, wall: wall, cpu: c1 - c0, srv: -1}
	if s0 >= 0 && s1 >= 0 {
		r.srv = s1 - s0
	}
	logf("%-34s %8.3f s %8.1f MB/s  client %6.2f CPU-s (%.2f system)  server %6.2f CPU-s", label, wall.Seconds(), r.mbps(), r.cpu.Seconds(), (k1 - k0).Seconds(), r.srv.Seconds())
	return r, nil
}

func (b *bench) add(r result, err error) error {
	if err == nil {
		b.results = append(b.results, r)
	}
	return err
}

func (b *bench) get(key string) (result, bool) {
	for _, r := range b.results {
		if r.key == key {
			return r, true
		}
	}
	return result{}, false
}

// addRatio records num's MB/s over den's, or, for steps that move no bytes,
// num's wall time over den's.
func (b *bench) addRatio(key, label, num, den string) {
	n, ok1 := b.get(num)
	d, ok2 := b.get(den)
	if !ok1 || !ok2 || n.wall <= 0 || d.wall <= 0 {
		return
	}
	v := n.wall.Seconds() / d.wall.Seconds()
	if n.bytes > 0 && d.bytes > 0 {
		v = n.mbps() / d.mbps()
	}
	b.ratios = append(b.ratios, ratio{key: key, label: label, v: v})
}

func (b *bench) profile(key string) func() {
	if b.profDir == "" {
		return func() {}
	}
	name := filepath.Join(b.profDir, key+".pprof")
	for i := 2; ; i++ { // a step measured twice keeps both profiles
		if _, err := os.Stat(name); err != nil {
			break
		}
		name = filepath.Join(b.profDir, fmt.Sprintf("%s.%d.pprof", key, i))
	}
	f, err := os.Create(name)
	if err != nil {
		logf("cpuprofile: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		logf("cpuprofile: %v", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// cpuTime is this process's CPU time (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sysTime is this process's system CPU time.
func sysTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Stime.Nano())
}

// serverCPU is the server's CPU time (user + system) from /proc, or -1.
func (b *bench) serverCPU() time.Duration {
	if b.serverPID == 0 {
		return -1
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.serverPID))
	if err != nil {
		return -1
	}
	// Fields after the command (which may hold spaces) start at ") ".
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return -1
	}
	const clkTck = 100 // sysconf(_SC_CLK_TCK) on Linux
	return time.Duration(utime+stime) * time.Second / clkTck
}

// step is one measurement of the transfer group: run gets the round number,
// for fresh prefixes and directories.
type step struct {
	key, label string
	run        func(round int) error
}

// rounds runs the steps rounds times, forward in odd rounds and backward in
// even ones, so that no step always follows the same one (on this machine a
// step after a long series of writes can be much slower, see
// docs/PERFORMANCE.md), and keeps each step's fastest round.
func (b *bench) rounds(steps []step, rounds int, bytes int64, objects int) error {
	best := map[string]result{}
	for round := 1; round <= rounds; round++ {
		order := slices.Clone(steps)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, s := range order {
			r, err := b.measure(s.key, s.label, bytes, objects, func() error { return s.run(round) })
			if err != nil {
				return err
			}
			if old, ok := best[s.key]; !ok || r.wall < old.wall {
				best[s.key] = r
			}
		}
	}
	for _, s := range steps {
		b.results = append(b.results, best[s.key])
	}
	return nil
}

// transfer measures push, pull and their baselines on a large archive.
func (b *bench) transfer(size int64, jobs []int, par, rounds int) error {
	ctx := b.ctx
	srcDir := filepath.Join(b.work, "src")
	src, id, objs, err := b.makeArchive(srcDir, size, archive.DefaultSegmentSize)
	if err != nil {
		return err
	}
	defer os.RemoveAll(srcDir)
	bytes, count := total(objs), len(objs)
	b.notes = append(b.notes, fmt.Sprintf("large archive: %d objects, %d bytes (%.1f MiB), the largest %d bytes; each figure is the fastest of %d rounds (alternating order)",
		count, bytes, float64(bytes)/(1<<20), slices.MaxFunc(objs, func(x, y obj) int { return int(x.size - y.size) }).size, rounds))

	// Uploads: push, then PutObject of the same objects (each file of the
	// local store read into a reused buffer), each into a fresh prefix.
	var pullFrom *s3.Store
	var up []step
	for _, j := range jobs {
		key := fmt.Sprintf("push-j%d", j)
		up = append(up, step{key, fmt.Sprintf("push, Jobs %d", j), func(round int) error {
			dst, err := b.store(fmt.Sprintf("%s-r%d", key, round))
			if err != nil {
				return err
			}
			rep, err := archive.Push(ctx, src, dst, id, b.aopts, archive.TransferOptions{Jobs: j})
			if err != nil {
				return err
			}
			if rep.Objects+rep.Commits != count {
				return fmt.Errorf("push sent %d objects and %d commits, the local store holds %d files", rep.Objects, rep.Commits, count)
			}
			if pullFrom == nil {
				pullFrom = dst
			}
			return nil
		}})
	}
	for _, v := range []struct {
		key, label string
		mode       putMode
		par        int
	}{
		{"put-seq", "PutObject sequential (SDK defaults)", putPlain, 1},
		{"put-seq-create", "PutObject sequential, as Create", putCreate, 1},
		{"put-seq-create-hash", "PutObject seq., as Create, hash reused", putCreateHash, 1},
		{fmt.Sprintf("put-par%d-create", par), fmt.Sprintf("PutObject %d parallel, as Create", par), putCreate, par},
	} {
		if v.par < 1 {
			continue
		}
		up = append(up, step{v.key, v.label, func(round int) error {
			dst, err := b.store(fmt.Sprintf("%s-r%d", v.key, round))
			if err != nil {
				return err
			}
			return putAll(ctx, dst, srcDir, objs, v.mode, v.par)
		}})
	}
	if err := b.rounds(up, rounds, bytes, count); err != nil {
		return err
	}

	// Downloads, all from the prefix of the first push.
	var down []step
	for _, j := range jobs {
		key := fmt.Sprintf("pull-j%d", j)
		down = append(down, step{key, fmt.Sprintf("pull, Jobs %d", j), func(round int) error {
			dir := filepath.Join(b.work, fmt.Sprintf("%s-r%d", key, round))
			defer os.RemoveAll(dir)
			dst, err := local.Open(dir)
			if err != nil {
				return err
			}
			// A fresh state directory: a new device, that has not seen the
			// archive yet.
			opts := b.aopts
			opts.State = archive.State{Dir: dir + "-state"}
			defer os.RemoveAll(opts.State.Dir)
			rep, err := archive.Pull(ctx, pullFrom, dst, id, opts, archive.TransferOptions{Jobs: j}, func(context.Context, *archive.Archive) error {
				return errors.New("no rebase expected")
			})
			if err != nil {
				return err
			}
			if rep.Objects+rep.Commits != count {
				return fmt.Errorf("pull copied %d objects and %d commits, the source holds %d files", rep.Objects, rep.Commits, count)
			}
			if got, err := listFiles(dir, id); err != nil || total(got) != bytes {
				return fmt.Errorf("pull wrote %d bytes, want %d (%v)", total(got), bytes, err)
			}
			return nil
		}})
	}
	for _, v := range []struct {
		key, label string
		sink       string
		checksum   bool
	}{
		{"get-seq-files", "GetObject sequential → files", "files", false},
		{"get-seq-files-ckm", "GetObject seq., checksum → files", "files", true},
		{"get-seq-discard", "GetObject sequential → discard", "discard", false},
	} {
		down = append(down, step{v.key, v.label, func(round int) error {
			dir := filepath.Join(b.work, fmt.Sprintf("%s-r%d", v.key, round))
			defer os.RemoveAll(dir)
			return getAll(ctx, pullFrom, dir, objs, v.sink, v.checksum)
		}})
	}
	if err := b.rounds(down, rounds, bytes, count); err != nil {
		return err
	}

	j := fmt.Sprint(jobs[0])
	b.addRatio("ratio:push/put-seq", "push (Jobs "+j+") / sequential PutObject (SDK defaults)", "push-j"+j, "put-seq")
	b.addRatio("ratio:push/put-seq-create", "push (Jobs "+j+") / sequential PutObject as Create", "push-j"+j, "put-seq-create")
	b.addRatio("ratio:pull/get-seq-files", "pull (Jobs "+j+") / sequential GetObject → files", "pull-j"+j, "get-seq-files")
	b.addRatio("ratio:pull/get-seq-files-ckm", "pull (Jobs "+j+") / sequential GetObject with checksum → files", "pull-j"+j, "get-seq-files-ckm")
	b.addRatio("ratio:pull/get-seq-discard", "pull (Jobs "+j+") / sequential GetObject → discard", "pull-j"+j, "get-seq-discard")
	return nil
}

// putMode is what a PutObject baseline sends.
type putMode int

const (
	// putPlain: the SDK's defaults. It computes a CRC32 checksum, and over
	// plain http the SigV4 payload SHA-256, in one pass over the body.
	putPlain putMode = iota
	// putCreate: the request Store.Create sends: If-None-Match: *, a
	// content type, and a SHA-256 checksum computed beforehand. The SDK then
	// hashes the body again for SigV4 (over plain http).
	putCreate
	// putCreateHash: as putCreate, but the SHA-256 computed beforehand is
	// also handed to the signer as the payload hash, so that the body is
	// hashed once: what Store.Create could do.
	putCreateHash
)

// reusePayloadHash is an operation option that gives the SigV4 signer the
// payload's SHA-256 (hex), so that it does not hash the body itself.
func reusePayloadHash(hexSum string) func(*awss3.Options) {
	return awss3.WithAPIOptions(func(stack *middleware.Stack) error {
		return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("s3bench.payloadHash",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				return next.HandleFinalize(v4.SetPayloadHash(ctx, hexSum), in)
			}), "ComputePayloadHash", middleware.Before)
	})
}

// putAll stores every object of the local store under dst with plain
// PutObject calls, par at a time.
func putAll(ctx context.Context, dst *s3.Store, srcDir string, objs []obj, mode putMode, par int) error {
	c := dst.Client()
	work := make(chan obj)
	g, gctx := errgroup.WithContext(ctx)
	for range par {
		g.Go(func() error {
			var buf []byte
			for o := range work {
				buf = slices.Grow(buf[:0], int(o.size))[:o.size]
				f, err := os.Open(filepath.Join(srcDir, filepath.FromSlash(o.name)))
				if err != nil {
					return err
				}
				_, err = io.ReadFull(f, buf)
				f.Close()
				if err != nil {
					return err
				}
				in := &awss3.PutObjectInput{
					Bucket:        aws.String(dst.Bucket()),
					Key:           aws.String(dst.Key(o.name)),
					Body:          bytes.NewReader(buf),
					ContentLength: aws.Int64(o.size),
				}
				var opts []func(*awss3.Options)
				if mode != putPlain {
					sum := sha256.Sum256(buf)
					in.ContentType = aws.String("application/octet-stream")
					in.IfNoneMatch = aws.String("*")
					in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256
					in.ChecksumSHA256 = aws.String(base64.StdEncoding.EncodeToString(sum[:]))
					if mode == putCreateHash {
						opts = append(opts, reusePayloadHash(hex.EncodeToString(sum[:])))
					}
				}
				if _, err := c.PutObject(gctx, in, opts...); err != nil {
					return fmt.Errorf("PutObject %s: %w", o.name, err)
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(work)
		for _, o := range objs {
			select {
			case work <- o:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	return g.Wait()
}

// getAll reads every object from src with sequential GetObject calls, into
// one file per object under dir (the store's tree, then one syncfs) or to
// io.Discard. checksum asks for ChecksumMode ENABLED, as Store.Open does: the
// SDK then checks the object's SHA-256 as the body is read.
func getAll(ctx context.Context, src *s3.Store, dir string, objs []obj, sink string, checksum bool) error {
	c := src.Client()
	made := map[string]bool{}
	for _, o := range objs {
		in := &awss3.GetObjectInput{Bucket: aws.String(src.Bucket()), Key: aws.String(src.Key(o.name))}
		if checksum {
			in.ChecksumMode = types.ChecksumModeEnabled
		}
		out, err := c.GetObject(ctx, in)
		if err != nil {
			return fmt.Errorf("GetObject %s: %w", o.name, err)
		}
		var n int64
		if sink == "files" {
			d := path.Dir(o.name)
			if !made[d] {
				if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(d)), 0o700); err != nil {
					out.Body.Close()
					return err
				}
				made[d] = true
			}
			f, err := os.OpenFile(filepath.Join(dir, filepath.FromSlash(o.name)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				out.Body.Close()
				return err
			}
			n, err = io.Copy(f, out.Body)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				out.Body.Close()
				return err
			}
		} else {
			n, err = io.Copy(io.Discard, out.Body)
			if err != nil {
				out.Body.Close()
				return err
			}
		}
		out.Body.Close()
		if n != o.size {
			return fmt.Errorf("GetObject %s: %d bytes, want %d", o.name, n, o.size)
		}
	}
	if sink == "files" {
		f, err := os.Open(dir)
		if err != nil {
			return err
		}
		err = unix.Syncfs(int(f.Fd()))
		f.Close()
		return err
	}
	return nil
}

// decide measures what a push costs when the destination already has
// everything, against a bare listing of the same prefix.
func (b *bench) decide(objects, reps int) error {
	ctx := b.ctx
	// 4 KiB segments of uncompressed text. With 200 conversations sharing
	// MaxBuffered (4 segments), export cuts them early: measured, about one
	// segment per 2.1 kB of corpus, plus ≈ 2 objects per conversation (index
	// run, manifest) and a few per commit.
	const seg = 4 << 10
	size := int64(max(objects-420, 100)) * 2070
	srcDir := filepath.Join(b.work, "small")
	src, id, objs, err := b.makeArchive(srcDir, size, seg)
	if err != nil {
		return err
	}
	defer os.RemoveAll(srcDir)
	dst, err := b.store("decide")
	if err != nil {
		return err
	}
	count := len(objs)
	b.notes = append(b.notes, fmt.Sprintf("decision-cost archive: %d objects, %d bytes; each figure is the fastest of %d", count, total(objs), reps))
	var rep archive.TransferReport
	r, err := b.measure("push-small", fmt.Sprintf("push, %d small objects, Jobs 8", count), total(objs), count, func() error {
		var err error
		rep, err = archive.Push(ctx, src, dst, id, b.aopts, archive.TransferOptions{Jobs: 8})
		return err
	})
	if err := b.add(r, err); err != nil {
		return err
	}
	if rep.Objects+rep.Commits != count {
		logf("warning: push sent %d objects and %d commits, the local store holds %d files", rep.Objects, rep.Commits, count)
	}

	prefix := dst.Key("archives/" + id.String() + "/")
	steps := []struct {
		key, label string
		fn         func() error
	}{
		{"decide-push", "push, nothing to send", func() error {
			rep, err := archive.Push(ctx, src, dst, id, b.aopts, archive.TransferOptions{Jobs: 8})
			if err == nil && (rep.Objects != 0 || rep.Commits != 0) {
				err = fmt.Errorf("the second push sent %d objects and %d commits", rep.Objects, rep.Commits)
			}
			if err == nil && rep.Skipped+int(rep.To) != count {
				logf("warning: second push skipped %d objects and %d commits, the archive has %d files", rep.Skipped, rep.To, count)
			}
			return err
		}},
		{"decide-list", "ListObjectsV2 (bare paginator)", func() error {
			n, err := listBare(ctx, dst.Client(), dst.Bucket(), prefix)
			if err == nil && n != count {
				err = fmt.Errorf("bare listing found %d keys, want %d", n, count)
			}
			return err
		}},
		{"decide-storelist", "Store.List", func() error {
			n := 0
			err := dst.List(ctx, "archives/"+id.String()+"/", func(remote.Info) error { n++; return nil })
			if err == nil && n != count {
				err = fmt.Errorf("Store.List found %d objects, want %d", n, count)
			}
			return err
		}},
		{"decide-open", "archive.Open of the local source", func() error {
			_, err := archive.Open(ctx, src, id, b.aopts)
			return err
		}},
	}
	best := map[string]result{}
	syscall.Sync()
	stop := b.profile("decide")
	for range reps {
		for _, s := range steps {
			c0, s0 := cpuTime(), b.serverCPU()
			t0 := time.Now()
			err := s.fn()
			wall := time.Since(t0)
			c1, s1 := cpuTime(), b.serverCPU()
			if err != nil {
				stop()
				return fmt.Errorf("%s: %w", s.label, err)
			}
			r := result{key: s.key, label: s.label, objects: count, wall: wall, cpu: c1 - c0, srv: -1}
			if s0 >= 0 && s1 >= 0 {
				r.srv = s1 - s0
			}
			if old, ok := best[s.key]; !ok || r.wall < old.wall {
				best[s.key] = r
			}
		}
	}
	stop()
	for _, s := range steps {
		r := best[s.key]
		logf("%-34s %8.1f ms  client %6.1f CPU-ms  server %6.1f CPU-ms", r.label, r.wall.Seconds()*1e3, r.cpu.Seconds()*1e3, r.srv.Seconds()*1e3)
		b.results = append(b.results, r)
	}
	b.addRatio("ratio:decide/list", "push with nothing to send / bare ListObjectsV2 (time)", "decide-push", "decide-list")
	return nil
}

// listBare lists every key under prefix with a plain paginator and returns
// how many there are.
func listBare(ctx context.Context, c *awss3.Client, bucket, prefix string) (int, error) {
	pages := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	n := 0
	var size int64
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return n, err
		}
		for _, o := range page.Contents {
			n++
			size += aws.ToInt64(o.Size)
		}
	}
	return n, nil
}

// removeRun deletes every object under the run's prefix.
func (b *bench) removeRun() error {
	st, err := b.store("x")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := st.Client()
	pages := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(b.bucket), Prefix: aws.String(b.prefix + "/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		if len(page.Contents) == 0 {
			continue
		}
		var ids []types.ObjectIdentifier
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		if _, err := c.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: aws.String(b.bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\tobjects\twall s\tMB/s\tclient CPU-s\tserver CPU-s\t")
	for _, r := range b.results {
		mbps := "–"
		if r.bytes > 0 {
			mbps = fmt.Sprintf("%.1f", r.mbps())
		}
		srv := "–"
		if r.srv >= 0 {
			srv = fmt.Sprintf("%.3f", r.srv.Seconds())
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%s\t%.3f\t%s\t\n", r.label, r.objects, r.wall.Seconds(), mbps, r.cpu.Seconds(), srv)
	}
	tw.Flush()
	for _, r := range b.ratios {
		fmt.Fprintf(w, "%s: %.2f\n", r.label, r.v)
	}
	for _, n := range b.notes {
		fmt.Fprintln(w, n)
	}
}

func (b *bench) writeTSV(file string) error {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	for _, r := range b.results {
		fmt.Fprintf(f, "%s\t%s\t%s\t%d\t%d\t%.6f\t%.3f\t%.3f\t%.3f\n", b.runLabel, r.key, r.label, r.bytes, r.objects, r.wall.Seconds(), r.mbps(), r.cpu.Seconds(), r.srv.Seconds())
	}
	for _, r := range b.ratios {
		fmt.Fprintf(f, "%s\t%s\t%s\t0\t0\t0\t%.4f\t0\t0\n", b.runLabel, r.key, r.label, r.v)
	}
	for _, n := range b.notes {
		fmt.Fprintf(f, "%s\tnote\t%s\t0\t0\t0\t0\t0\t0\n", b.runLabel, n)
	}
	return f.Close()
}
