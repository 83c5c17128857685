package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
	"github.com/chatvault/chatvault/importers/all"
	"github.com/chatvault/chatvault/importers/jsonl"
)

type exportOptions struct {
	app *app

	Archive     string
	Files       []string
	Format      string
	SegmentSize sizeFlag
	Compression string
	Jobs        int
	TZ          string
	DayFirst    bool
	MonthFirst  bool
	Exclude     []string
	SkipInvalid bool
	Keys        keyFlags
}

func newExportCmd(a *app, runF func(context.Context, *exportOptions) error) *cobra.Command {
	opts := &exportOptions{app: a, SegmentSize: 8 << 20}
	cmd := &cobra.Command{
		Use:   "export ARCHIVE FILE...",
		Short: "Add messages to an archive as a new version",
		Long: `Read chat exports and store what is new in them as a new version of ARCHIVE.

FILE "-" is standard input. All files make one version, or none: a malformed
line stops the run before anything is committed. Running the same export
again adds nothing.

--format auto (the default) detects each export's format. Chats named with
--exclude-conversation are skipped, so that a shredded chat does not come back.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			opts.Archive, opts.Files = args[0], args[1:]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runExport(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Format, "format", "auto", "input format: auto (detect), or "+strings.Join(all.Formats, ", "))
	f.StringVar(&opts.TZ, "tz", "", "time `ZONE` of exports that write local times without an offset (default: this machine's)")
	f.BoolVar(&opts.DayFirst, "day-first", false, "dates in the export are day/month (WhatsApp)")
	f.BoolVar(&opts.MonthFirst, "month-first", false, "dates in the export are month/day (WhatsApp)")
	f.StringArrayVar(&opts.Exclude, "exclude-conversation", nil, "skip the chat with this source `KEY` (e.g. telegram:1001; repeatable)")
	f.BoolVar(&opts.SkipInvalid, "skip-invalid", false, "import what parses and report what was skipped")
	f.Var(&opts.SegmentSize, "segment-size", "target plaintext `SIZE` of a segment (e.g. 8MiB, 512KiB)")
	f.StringVar(&opts.Compression, "compression", "fastest", "zstd level: fastest, default, better or off")
	f.IntVar(&opts.Jobs, "jobs", 0, "segments compressed and encrypted in parallel (0: one per CPU)")
	opts.Keys.register(f)
	return cmd
}

// parseTZ reads --tz: an IANA zone name, "UTC" or "Local" ("" is Local).
func parseTZ(name string) (*time.Location, error) {
	if name == "" {
		return nil, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("--tz %q: %w (want a zone name such as Europe/Berlin, or UTC)", name, err)
	}
	return loc, nil
}

type exportRecord struct {
	Type             string `json:"type"`
	Archive          string `json:"archive"`
	Version          uint64 `json:"version"` // 0: nothing new
	Added            int64  `json:"added"`
	Updated          int64  `json:"updated"`
	Unchanged        int64  `json:"unchanged"`
	Conversations    int    `json:"conversations"`
	NewConversations int    `json:"new_conversations"`
	Segments         int    `json:"segments"`
	StoredBytes      int64  `json:"stored_bytes"`
}

func runExport(ctx context.Context, opts *exportOptions) error {
	a := opts.app
	format := strings.ToLower(opts.Format)
	if format != "auto" && !slices.Contains(all.Formats, format) {
		return usageErrorf("--format %q: want auto or one of %s", opts.Format, strings.Join(all.Formats, ", "))
	}
	comp, err := archive.ParseCompression(opts.Compression)
	if err != nil {
		return usageError(fmt.Errorf("--compression: %w", err))
	}
	if opts.Jobs < 0 {
		return usageErrorf("--jobs must not be negative")
	}

	// Check every input before asking for a secret: a typo costs nothing.
	tz, err := parseTZ(opts.TZ)
	if err != nil {
		return usageError(err)
	}
	if opts.DayFirst && opts.MonthFirst {
		return usageErrorf("--day-first and --month-first exclude each other")
	}
	var skipped int
	var examples []string
	iopts := importers.Options{TZ: tz, DayFirst: opts.DayFirst, MonthFirst: opts.MonthFirst,
		Exclude: map[string]bool{}, SkipInvalid: opts.SkipInvalid, Warn: a.warn,
		Skipped: func(err error) {
			skipped++
			if len(examples) < 3 {
				examples = append(examples, err.Error())
			}
		}}
	for _, k := range opts.Exclude {
		iopts.Exclude[k] = true
	}
	src, total, err := openInputs(ctx, opts.Files, format, a.in, iopts)
	if err != nil {
		return err
	}
	defer src.close()

	_, ar, err := a.openRepoArchive(ctx, storeWrite, opts.Archive, "")
	if err != nil {
		return err
	}
	if err := a.unlock(ctx, ar, opts.Keys, src.usesStdin); err != nil {
		return err
	}

	bar := a.newProgress(total, "export", true)
	src.onRead = bar.add
	res, err := ar.Export(ctx, src, archive.ExportOptions{
		SegmentSize: int(opts.SegmentSize),
		Compression: comp,
		Jobs:        opts.Jobs,
	})
	bar.done()
	if err != nil {
		return err
	}
	if skipped > 0 {
		a.warn(fmt.Sprintf("skipped %s that did not parse (--skip-invalid), for example:\n  %s", plural(skipped, "invalid record"), strings.Join(examples, "\n  ")))
	}
	a.notef("%d conversations (%d new), %d segments, %s stored", res.Conversations, res.NewConversations, res.Segments, formatBytes(res.StoredBytes))
	if a.json {
		return a.emit(exportRecord{Type: "export", Archive: ar.ID().String(), Version: res.Commit,
			Added: res.Added, Updated: res.Updated, Unchanged: res.Unchanged,
			Conversations: res.Conversations, NewConversations: res.NewConversations,
			Segments: res.Segments, StoredBytes: res.StoredBytes})
	}
	if res.Commit == 0 {
		a.printf("nothing new: archive already holds all %s\n", plural(res.Unchanged, "message"))
		return nil
	}
	a.printf("added %s (%d updated) in %s as version %d\n",
		plural(res.Added, "message"), res.Updated, plural(res.Conversations, "conversation"), res.Commit)
	return nil
}

// inputs reads several exports in turn as one archive.Source. Each is opened
// when its turn comes, by the importer of its format.
type inputs struct {
	ctx       context.Context
	files     []input
	cur       importers.Source
	done      []importers.Source // read to the end, still open
	next      int
	usesStdin bool
	opts      importers.Options
	onRead    func(n int64) // counts input bytes, for progress
}

type input struct {
	name   string
	format string // resolved: never "auto"
	size   int64  // -1: unknown
	stdin  io.Reader
}

// openInputs checks every input and resolves its format ("-" is stdin, at
// most once, and always jsonl). total is the sum of the sizes, or -1 when one
// of them has no known size.
func openInputs(ctx context.Context, names []string, format string, stdin io.Reader, o importers.Options) (*inputs, int64, error) {
	in := &inputs{ctx: ctx, opts: o}
	var total int64
	for _, name := range names {
		f := input{name: name, format: format, size: -1}
		if name == "-" {
			if in.usesStdin {
				return nil, 0, usageErrorf("standard input (-) can be read only once")
			}
			if format != "auto" && format != "jsonl" {
				return nil, 0, usageErrorf("standard input can only be jsonl, not %s", format)
			}
			in.usesStdin = true
			f.name, f.format, f.stdin = "<stdin>", "jsonl", stdin
		} else {
			fi, err := os.Stat(name)
			if err != nil {
				return nil, 0, err
			}
			if fi.Mode().IsRegular() {
				f.size = fi.Size()
			}
			if format == "auto" {
				if f.format, err = all.Detect(name); err != nil {
					return nil, 0, err
				}
			}
		}
		if f.size < 0 || total < 0 {
			total = -1
		} else {
			total += f.size
		}
		in.files = append(in.files, f)
	}
	return in, total, nil
}

// Next implements archive.Source: the messages of each export in turn, then io.EOF.
func (in *inputs) Next() (canon.Message, error) {
	for {
		if in.cur == nil {
			if in.next == len(in.files) {
				return canon.Message{}, io.EOF
			}
			if err := in.open(in.files[in.next]); err != nil {
				return canon.Message{}, err
			}
			in.next++
		}
		m, err := in.cur.Next()
		if err == io.EOF {
			// Not closed yet: the engine may still read the files of its
			// messages (attachments). close closes every source at the end.
			in.done = append(in.done, in.cur)
			in.cur = nil
			if f := in.files[in.next-1]; f.format != "jsonl" && f.size > 0 && in.onRead != nil {
				in.onRead(f.size)
			}
			continue
		}
		return m, err
	}
}

// open starts one input. JSON Lines are read here, through a byte counter
// for the progress bar; other formats by their importer.
func (in *inputs) open(f input) error {
	if f.format == "jsonl" {
		var r io.Reader = f.stdin
		var c io.Closer
		if r == nil {
			file, err := os.Open(f.name)
			if err != nil {
				return err
			}
			r, c = file, file
		}
		src := jsonl.New(countingReader{r, &in.onRead}, f.name, in.opts)
		in.cur = closerSource{src, c}
		return nil
	}
	src, _, err := all.Open(in.ctx, f.format, f.name, in.opts)
	if err != nil {
		return err
	}
	in.cur = src
	return nil
}

// Blobs passes on the files of the current message, for importers that have them.
func (in *inputs) Blobs() []canon.Blob {
	if bl, ok := in.cur.(canon.BlobLister); ok {
		return bl.Blobs()
	}
	return nil
}

func (in *inputs) close() {
	for _, s := range append(in.done, in.cur) {
		if s != nil {
			s.Close()
		}
	}
}

type closerSource struct {
	importers.Source
	c io.Closer
}

func (s closerSource) Close() error {
	if s.c != nil {
		return s.c.Close()
	}
	return nil
}

type countingReader struct {
	r      io.Reader
	onRead *func(int64)
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if f := *c.onRead; f != nil && n > 0 {
		f(int64(n))
	}
	return n, err
}

// sizeFlag is a byte size flag accepting 8MiB, 512KiB, 1M, 1000000, ….
type sizeFlag int64

func (s *sizeFlag) String() string { return formatSize(int64(*s)) }
func (s *sizeFlag) Type() string   { return "size" }

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	// longest suffixes first
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

// maxSegmentSize bounds --segment-size.
const maxSegmentSize = archive.MaxSegmentSize

func parseSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > maxSegmentSize/mult {
		return 0, fmt.Errorf("size %q: want a positive size up to 64MiB, such as 8MiB or 512KiB", v)
	}
	return n * mult, nil
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}
