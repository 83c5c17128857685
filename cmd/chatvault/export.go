package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/canon"
)

type exportOptions struct {
	app *app

	Archive     string
	Files       []string
	Format      string
	SegmentSize sizeFlag
	Compression string
	Jobs        int
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

Formats: jsonl (chatvault's canonical JSON Lines). auto means jsonl for now;
importers for Telegram, WhatsApp, Slack, Discord, Signal and Messenger exports
are not supported yet.`,
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
	f.StringVar(&opts.Format, "format", "auto", "input format: auto or jsonl")
	f.Var(&opts.SegmentSize, "segment-size", "target plaintext `SIZE` of a segment (e.g. 8MiB, 512KiB)")
	f.StringVar(&opts.Compression, "compression", "default", "fastest, default, better or off")
	f.IntVar(&opts.Jobs, "jobs", 0, "segments compressed and encrypted in parallel (0: one per CPU)")
	opts.Keys.register(f)
	return cmd
}

// importerFormats are formats the CLI contract names whose importers do not
// exist yet.
var importerFormats = []string{"telegram", "whatsapp", "slack", "discord", "signal", "messenger"}

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
	switch f := strings.ToLower(opts.Format); {
	case f == "auto" || f == "jsonl":
	case slices.Contains(importerFormats, f):
		return usageErrorf("--format %s: importing %s exports is not supported yet; convert to jsonl", f, f)
	default:
		return usageErrorf("--format %q: not supported yet (want auto or jsonl)", opts.Format)
	}
	comp, err := archive.ParseCompression(opts.Compression)
	if err != nil {
		return usageError(fmt.Errorf("--compression: %w", err))
	}
	if opts.Jobs < 0 {
		return usageErrorf("--jobs must not be negative")
	}

	// Open every input before asking for a secret: a typo costs nothing.
	src, total, err := openInputs(opts.Files, a.in)
	if err != nil {
		return err
	}
	defer src.close()

	st, err := openStore(ctx, a.repo, false)
	if err != nil {
		return err
	}
	ar, err := a.openArchive(ctx, st, opts.Archive, "")
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

// inputs reads several files in turn as one archive.Source.
type inputs struct {
	files     []input
	cur       *canon.Reader
	next      int
	usesStdin bool
	onRead    func(n int64) // counts input bytes, for progress
}

type input struct {
	name string
	r    io.Reader
	c    io.Closer // nil for stdin
}

// openInputs opens every file ("-" is stdin, at most once). total is the sum
// of the file sizes, or -1 when one of them has no known size.
func openInputs(names []string, stdin io.Reader) (*inputs, int64, error) {
	in := &inputs{}
	var total int64
	for _, name := range names {
		if name == "-" {
			if in.usesStdin {
				in.close()
				return nil, 0, usageErrorf("standard input (-) can be read only once")
			}
			in.usesStdin = true
			in.files = append(in.files, input{name: "<stdin>", r: stdin})
			total = -1
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			in.close()
			return nil, 0, err
		}
		in.files = append(in.files, input{name: name, r: f, c: f})
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && total >= 0 {
			total += fi.Size()
		} else {
			total = -1
		}
	}
	return in, total, nil
}

// Next implements archive.Source: the messages of each file in turn, then io.EOF.
func (in *inputs) Next() (canon.Message, error) {
	for {
		if in.cur == nil {
			if in.next == len(in.files) {
				return canon.Message{}, io.EOF
			}
			f := in.files[in.next]
			in.next++
			in.cur = canon.NewReader(countingReader{f.r, &in.onRead}, f.name)
		}
		m, err := in.cur.Next()
		if err == io.EOF {
			in.cur = nil
			continue
		}
		return m, err
	}
}

func (in *inputs) close() {
	for _, f := range in.files {
		if f.c != nil {
			f.c.Close()
		}
	}
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
const maxSegmentSize = 1 << 30

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
		return 0, fmt.Errorf("size %q: want a positive size up to 1GiB, such as 8MiB or 512KiB", v)
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
