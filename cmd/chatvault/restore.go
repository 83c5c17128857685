package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/chatvault/chatvault/archive"
)

type restoreOptions struct {
	app *app

	Archive       string
	Dir           string
	Version       uint64
	Conversations []string
	Format        string
	Overwrite     bool
	Jobs          int
	Keys          keyFlags
}

func newRestoreCmd(a *app, runF func(context.Context, *restoreOptions) error) *cobra.Command {
	opts := &restoreOptions{app: a}
	cmd := &cobra.Command{
		Use:   "restore ARCHIVE -o DIR",
		Short: "Write the conversations of an archive to files",
		Long: `Write one file per conversation into DIR (created with mode 0700 if missing):
<label>-<conversation id>.jsonl, or .txt with --format text.

jsonl gives back the canonical lines exactly as they were exported; text is a
readable transcript. Nothing is written outside DIR. Existing files are left
alone unless --overwrite is given: then each is replaced atomically.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			opts.Archive = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRestore(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Dir, "output", "o", "", "write the files into `DIR` (required)")
	f.Uint64Var(&opts.Version, "version", 0, "restore version `N` (default: the newest)")
	f.StringArrayVar(&opts.Conversations, "conversation", nil, "restore only this conversation (`ID`, unique id prefix or exact label; repeatable)")
	f.StringVar(&opts.Format, "format", "jsonl", "output format: jsonl or text")
	f.BoolVar(&opts.Overwrite, "overwrite", false, "replace existing files")
	f.IntVar(&opts.Jobs, "jobs", 0, "segments read in parallel (0: one per CPU)")
	opts.Keys.register(f)
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

type restoreRow struct {
	Type         string `json:"type"`
	Archive      string `json:"archive"`
	Version      uint64 `json:"version"`
	Conversation string `json:"conversation"`
	Label        string `json:"label"`
	Path         string `json:"path"`
	Messages     int64  `json:"messages"`
}

func runRestore(ctx context.Context, opts *restoreOptions) error {
	a := opts.app
	var ext string
	switch opts.Format {
	case "jsonl":
		ext = ".jsonl"
	case "text":
		ext = ".txt"
	case "html":
		return usageErrorf("--format html is not supported yet (want jsonl or text)")
	default:
		return usageErrorf("--format %q: want jsonl or text", opts.Format)
	}
	if opts.Dir == "" {
		return usageErrorf("--output DIR must not be empty")
	}
	if opts.Jobs < 0 {
		return usageErrorf("--jobs must not be negative")
	}

	st, err := openStore(ctx, a.repo, false)
	if err != nil {
		return err
	}
	ar, err := a.openArchive(ctx, st, opts.Archive, "")
	if err != nil {
		return err
	}
	if err := a.unlock(ctx, ar, opts.Keys, false); err != nil {
		return err
	}
	version := opts.Version
	if version == 0 {
		version = ar.Head()
	}
	convs, err := ar.Conversations(ctx, version)
	if err != nil {
		return err
	}
	selected := convs
	var ids []archive.ID
	if len(opts.Conversations) > 0 {
		byID := map[archive.ID]archive.ConversationInfo{}
		for _, c := range convs {
			byID[c.ID] = c
		}
		selected = nil
		seen := map[archive.ID]bool{}
		for _, name := range opts.Conversations {
			id, err := archive.ResolveConversation(convs, name)
			if err != nil {
				return fmt.Errorf("--conversation %s: %w", name, err)
			}
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
				selected = append(selected, byID[id])
			}
		}
	}

	// Check every name before writing anything.
	w := &restoreWriter{dir: opts.Dir, ext: ext, text: opts.Format == "text", overwrite: opts.Overwrite,
		names: map[archive.ID]string{}, taken: map[string]bool{}}
	var total int64
	for _, c := range selected {
		if err := w.plan(c); err != nil {
			return err
		}
		total += c.Messages
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return err
	}

	w.bar = a.newProgress(total, "restore", false)
	err = ar.Restore(ctx, archive.RestoreOptions{Version: version, Conversations: ids, Jobs: opts.Jobs}, w.open)
	w.bar.done()
	if err != nil {
		w.abort()
		return err
	}
	done, err := w.commit()
	if err != nil {
		return err
	}

	var msgs int64
	for _, f := range done {
		msgs += f.lines
		if a.json {
			if err := a.emit(restoreRow{Type: "file", Archive: ar.ID().String(), Version: version,
				Conversation: f.conv.ID.String(), Label: f.conv.Label, Path: f.path, Messages: f.lines}); err != nil {
				return err
			}
		}
		a.notef("%s: %d messages", f.path, f.lines)
	}
	a.printf("restored %s (%s) of version %d to %s\n", plural(len(done), "conversation"), plural(msgs, "message"), version, opts.Dir)
	return nil
}

// restoreWriter makes one file per conversation. Files are written to temp
// files in the directory and given their names only when the whole restore
// has succeeded.
type restoreWriter struct {
	dir       string
	ext       string
	text      bool
	overwrite bool
	bar       *progress

	mu    sync.Mutex
	names map[archive.ID]string // conversation → file name, checked
	taken map[string]bool
	files []*restoreFile
}

type restoreFile struct {
	conv  archive.ConversationInfo
	path  string // final path
	tmp   *os.File
	w     *bufio.Writer
	text  *textWriter // nil for jsonl
	bar   *progress
	lines int64
}

// plan picks the file name of a conversation and checks it is free (or may
// be overwritten). Called before anything is written.
func (w *restoreWriter) plan(c archive.ConversationInfo) error {
	name := restoreFileName(c.Label, c.ID, w.ext)
	if w.taken[name] {
		return fmt.Errorf("two conversations would both be restored to %s", name)
	}
	path := filepath.Join(w.dir, name)
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case !w.overwrite:
		return withHint(fmt.Errorf("%s exists; nothing was restored", path), "use --overwrite to replace it, or another -o DIR")
	case fi.IsDir():
		return fmt.Errorf("%s is a directory; nothing was restored", path)
	}
	w.taken[name] = true
	w.names[c.ID] = name
	return nil
}

// open is the Restore callback: a temp file for one conversation.
func (w *restoreWriter) open(c archive.ConversationInfo) (archive.LineWriter, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	name, ok := w.names[c.ID]
	if !ok {
		if err := w.plan(c); err != nil {
			return nil, err
		}
		name = w.names[c.ID]
	}
	tmp, err := os.CreateTemp(w.dir, ".chatvault-restore-*")
	if err != nil {
		return nil, err
	}
	f := &restoreFile{conv: c, path: filepath.Join(w.dir, name), tmp: tmp, w: bufio.NewWriterSize(tmp, 256<<10), bar: w.bar}
	if w.text {
		f.text = &textWriter{w: f.w}
		if err := f.text.header(c); err != nil {
			return nil, err
		}
	}
	w.files = append(w.files, f)
	return f, nil
}

func (f *restoreFile) WriteLine(line []byte) error {
	f.lines++
	f.bar.add(1)
	if f.text != nil {
		return f.text.message(line)
	}
	if _, err := f.w.Write(line); err != nil {
		return err
	}
	return f.w.WriteByte('\n')
}

// Close flushes the file; it keeps its temp name until commit.
func (f *restoreFile) Close() error {
	if err := f.w.Flush(); err != nil {
		return err
	}
	if err := f.tmp.Sync(); err != nil {
		return err
	}
	return f.tmp.Close()
}

// commit gives every temp file its final name.
func (w *restoreWriter) commit() ([]*restoreFile, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, f := range w.files {
		if !w.overwrite {
			// plan checked this before the restore; check again just before
			// renaming, so that a file made meanwhile is not replaced.
			if _, err := os.Lstat(f.path); !errors.Is(err, fs.ErrNotExist) {
				w.files = w.files[i:]
				w.abort()
				return nil, fmt.Errorf("%s appeared during the restore; it was left alone", f.path)
			}
		}
		if err := os.Rename(f.tmp.Name(), f.path); err != nil {
			w.files = w.files[i:]
			w.abort()
			return nil, err
		}
	}
	if d, err := os.Open(w.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return w.files, nil
}

// abort removes the temp files.
func (w *restoreWriter) abort() {
	for _, f := range w.files {
		f.tmp.Close()
		os.Remove(f.tmp.Name())
	}
}

// restoreFileName is "<label>-<short id><ext>", the label reduced to letters,
// digits, '-', '_' and '.' (anything else becomes '_'), without a leading
// dot and at most 60 bytes long. It never contains a path separator.
func restoreFileName(label string, id archive.ID, ext string) string {
	const maxLabel = 60
	var b strings.Builder
	for _, r := range label {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') || r == utf8.RuneError {
			r = '_'
		}
		if b.Len() == 0 && r == '.' {
			r = '_'
		}
		if b.Len()+utf8.RuneLen(r) > maxLabel {
			break
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		b.WriteString("conversation")
	}
	return b.String() + "-" + id.Short() + ext
}
