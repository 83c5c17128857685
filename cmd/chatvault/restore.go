package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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
<label>-<conversation id>.jsonl, .txt with --format text, .html with --format html.

jsonl gives back the canonical lines exactly as they were exported; text is a
readable transcript; html is a self-contained page (no scripts, nothing loaded
from elsewhere) to read in a browser.

Attachments whose files are in the archive are written next to the transcript,
into <label>-<conversation id>.files/, named after the attachment (made safe:
letters, digits, '-', '_' and '.' only; a short hash of the content is added
when two different files have the same name). The text and html transcripts
link to them, or say why a file is not included.

Nothing is written outside DIR. Everything is written under temporary names
and renamed into place only when the whole restore has succeeded. Existing
files are left alone unless --overwrite is given: then each is replaced
atomically (an existing attachment file with the same content is kept).`,
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
	f.StringVar(&opts.Format, "format", "jsonl", "output format: jsonl, text or html")
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

// restoreAttachmentRow is the --json row of one restored attachment file.
type restoreAttachmentRow struct {
	Type         string `json:"type"` // "attachment"
	Archive      string `json:"archive"`
	Version      uint64 `json:"version"`
	Conversation string `json:"conversation"`
	Label        string `json:"label"`
	Path         string `json:"path"`
	Name         string `json:"name"` // the attachment's name in its (first) message
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
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
		ext = ".html"
	default:
		return usageErrorf("--format %q: want jsonl, text or html", opts.Format)
	}
	if opts.Dir == "" {
		return usageErrorf("--output DIR must not be empty")
	}
	if opts.Jobs < 0 {
		return usageErrorf("--jobs must not be negative")
	}

	_, ar, err := a.openRepoArchive(ctx, storeRead, opts.Archive, "")
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
	w := &restoreWriter{ctx: ctx, dir: opts.Dir, ext: ext, format: opts.Format, overwrite: opts.Overwrite,
		openBlob: ar.OpenBlob, names: map[archive.ID]string{}, taken: map[string]bool{}}
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
	w.syncer = newFileSyncer(opts.Dir)

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
	var files, missing int
	for _, f := range done {
		msgs += f.lines
		if a.json {
			if err := a.emit(restoreRow{Type: "file", Archive: ar.ID().String(), Version: version,
				Conversation: f.conv.ID.String(), Label: f.conv.Label, Path: f.path, Messages: f.lines}); err != nil {
				return err
			}
		}
		a.notef("%s: %d messages", f.path, f.lines)
		for _, sf := range f.files.saved {
			files++
			path := filepath.Join(f.files.dir, sf.name)
			if a.json {
				if err := a.emit(restoreAttachmentRow{Type: "attachment", Archive: ar.ID().String(), Version: version,
					Conversation: f.conv.ID.String(), Label: f.conv.Label, Path: path, Name: sf.orig, Size: sf.size, SHA256: sf.sha}); err != nil {
					return err
				}
			}
			a.notef("%s (%s)", path, formatBytes(sf.size))
		}
		for _, name := range f.files.missing {
			a.notef("%s: attachment %q is missing from the archive", f.path, name)
		}
		missing += len(f.files.missing)
	}
	if missing > 0 {
		a.warn(fmt.Sprintf("%s missing from the archive: the messages say so, and the rest was restored (--verbose names them)", plural(missing, "attachment file")))
	}
	counts := plural(msgs, "message")
	if files > 0 {
		counts += ", " + plural(files, "attachment file")
	}
	a.printf("restored %s (%s) of version %d to %s\n", plural(len(done), "conversation"), counts, version, opts.Dir)
	return nil
}

// restoreWriter makes one file per conversation, and the attachment files
// next to it. Everything is written under temporary names in the directory
// (transcripts as .chatvault-restore-* files, each conversation's
// attachments in a .chatvault-restore-* directory) and given its name only
// when the whole restore has succeeded; a failed or interrupted restore
// removes them. See commit for what happens to existing files.
type restoreWriter struct {
	ctx       context.Context
	dir       string
	ext       string
	format    string // jsonl, text or html
	overwrite bool
	bar       *progress
	syncer    *fileSyncer // makes the temp files durable
	// openBlob returns the content of an attachment (Archive.OpenBlob).
	openBlob func(ctx context.Context, conv archive.ID, sha string) (io.ReadCloser, error)

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
	text  *textWriter // set for --format text
	html  *htmlWriter // set for --format html
	files *convFiles
	bar   *progress
	lines int64
	shown int64 // lines added to bar so far
}

// barEvery is how many lines restoreFile counts before it moves the progress
// bar: an update costs about 100 ns, some 5 % of what a line costs to restore.
const barEvery = 1024

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
	base := strings.TrimSuffix(name, w.ext)
	f := &restoreFile{conv: c, path: filepath.Join(w.dir, name), tmp: tmp, w: bufio.NewWriterSize(tmp, 256<<10), bar: w.bar,
		files: &convFiles{w: w, conv: c.ID, transcript: name, rel: base + ".files", dir: filepath.Join(w.dir, base+".files"),
			bySHA: map[string]*savedFile{}, taken: map[string]bool{}}}
	w.files = append(w.files, f) // removed by abort from now on
	switch w.format {
	case "text":
		f.text = &textWriter{w: f.w}
		if err := f.text.header(c); err != nil {
			return nil, err
		}
	case "html":
		f.html = newHTMLWriter(f.w, c)
	}
	return f, nil
}

func (f *restoreFile) WriteLine(line []byte) error {
	if f.lines++; f.lines-f.shown >= barEvery {
		f.bar.add(f.lines - f.shown)
		f.shown = f.lines
	}
	if f.text == nil && f.html == nil {
		// jsonl: the line goes out as it is. Only its attachment files are
		// written, so a conversation with no attachment files in the archive
		// (Blobs 0, known from its manifests) needs no look at its lines.
		if f.conv.Blobs != 0 && mayHaveBlob(line) {
			if m, ok := parseMessage(line); ok {
				if err := f.files.resolve(m.Attachments); err != nil {
					return err
				}
			}
		}
		if _, err := f.w.Write(line); err != nil {
			return err
		}
		return f.w.WriteByte('\n')
	}
	m, ok := parseMessage(line)
	if ok {
		if err := f.files.resolve(m.Attachments); err != nil {
			return err
		}
	} else {
		m = nil
	}
	if f.text != nil {
		return f.text.message(m, line)
	}
	return f.html.message(m, line)
}

// mayHaveBlob is false for a line that cannot hold a "blob" key (parseMessage
// matches keys exactly, after unescaping). Written out, the key ends in
// `blob"`; with any of its letters escaped it holds `\u006` (b, l and o are
// U+0062, U+006C and U+006F; JSON has no other escape for letters). This
// checks about 5 GB/s of chat lines (1.4 times the quoted-key-or-any-\u
// check it replaces), and lines that escape other characters (U+2028) are no
// longer parsed for nothing.
func mayHaveBlob(line []byte) bool {
	return bytes.Contains(line, []byte(`blob"`)) || bytes.Contains(line, []byte(`\u006`))
}

// Close flushes the file and hands it to the syncer, which makes it durable
// and closes it; it keeps its temp name until commit.
func (f *restoreFile) Close() error {
	f.bar.add(f.lines - f.shown)
	f.shown = f.lines
	if f.html != nil {
		if err := f.html.finish(); err != nil {
			return err
		}
	}
	if err := f.w.Flush(); err != nil {
		return err
	}
	f.files.w.syncer.add(f.tmp)
	return nil
}

// commit gives every temp file its final name. It first checks every final
// name (a transcript made meanwhile, an attachment file in the way), so that
// a conflict leaves everything as it was; then it waits until every temp file
// is durable (see fileSyncer), so that no final name ever appears for a file
// whose contents a crash could still lose; then, conversation by
// conversation, it moves the attachment files into place and then the
// transcript, so that a transcript never refers to a file that is not there.
// A failure during the renames (a full directory, a crash) can leave the
// conversations before it restored and the rest not.
func (w *restoreWriter) commit() ([]*restoreFile, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.files {
		if !w.overwrite {
			// plan checked this before the restore; check again just before
			// renaming, so that a file made meanwhile is not replaced.
			if _, err := os.Lstat(f.path); !errors.Is(err, fs.ErrNotExist) {
				w.abort()
				return nil, fmt.Errorf("%s appeared during the restore; it was left alone, and nothing was restored", f.path)
			}
		}
		if err := f.files.check(w.overwrite); err != nil {
			w.abort()
			return nil, err
		}
	}
	if err := w.syncer.wait(); err != nil {
		w.abort()
		return nil, err
	}
	for i, f := range w.files {
		err := f.files.commit()
		if err == nil {
			err = os.Rename(f.tmp.Name(), f.path)
		}
		if err != nil {
			w.files = w.files[i:]
			w.abort()
			return nil, err
		}
	}
	syncDir(w.dir)
	return w.files, nil
}

// abort removes the temp files.
func (w *restoreWriter) abort() {
	_ = w.syncer.wait()
	for _, f := range w.files {
		f.tmp.Close()
		os.Remove(f.tmp.Name())
		f.files.abort()
	}
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// convFiles are the attachment files of one conversation. Each distinct
// content is written once, as the first message referring to it is
// restored, into a staging directory in the output directory; commit moves
// them to <base>.files.
type convFiles struct {
	w          *restoreWriter
	conv       archive.ID
	transcript string                // the transcript's file name, for errors
	rel        string                // "<base>.files": the directory, relative to the output directory
	dir        string                // the directory's path
	staging    string                // temp directory; "" until the first file
	bySHA      map[string]*savedFile // content (hex SHA-256) → its file, or why there is none
	taken      map[string]bool       // lower-cased names in use (case-insensitive file systems)
	saved      []*savedFile          // in the order written
	missing    []string              // names of attachments whose file is not in the archive

	intoExisting bool // commit moves file by file into an existing directory
}

type savedFile struct {
	name     string // file name in the directory; "" when not saved
	orig     string // the attachment's name in the message
	sha      string
	size     int64
	reason   string // why there is no file
	existing bool   // an identical file is in the directory already: keep it
}

// notIncluded is why an attachment without a blob has no file.
func notIncluded(missing string) string {
	switch missing {
	case "":
		return "not in the archive"
	case "true":
		return "missing from the export"
	}
	return missing
}

// resolve writes the files of a message's attachments (those not written
// yet) and sets each attachment's File or NotIncluded.
func (c *convFiles) resolve(atts []chatAttachment) error {
	for i := range atts {
		a := &atts[i]
		if a.Blob == "" {
			a.NotIncluded = notIncluded(a.Missing)
			continue
		}
		sf, err := c.add(a.Name, a.Blob)
		if err != nil {
			return err
		}
		if sf.name == "" {
			a.NotIncluded = sf.reason
			continue
		}
		a.File = c.rel + "/" + sf.name
	}
	return nil
}

// add returns the file of the blob, writing it if it is new. A blob that is
// not in the archive is not an error: the message says the file is missing
// (a line can name a blob of another archive, e.g. when a restored JSONL
// file is exported elsewhere). A blob that is there but damaged is: it fails
// the restore, as a damaged segment does.
func (c *convFiles) add(name, blob string) (*savedFile, error) {
	sha := strings.ToLower(blob)
	if b, err := hex.DecodeString(sha); err != nil || len(b) != sha256.Size {
		return &savedFile{reason: "invalid blob reference"}, nil
	}
	if sf, ok := c.bySHA[sha]; ok {
		return sf, nil
	}
	sf := &savedFile{orig: name, sha: sha}
	c.bySHA[sha] = sf
	rc, err := c.w.openBlob(c.w.ctx, c.conv, sha)
	if isMissingBlob(err) {
		sf.reason = "missing from the archive"
		c.missing = append(c.missing, name)
		return sf, nil
	}
	if err != nil {
		return nil, fmt.Errorf("attachment %q (%s…) of %s: %w", name, sha[:12], c.transcript, err)
	}
	defer rc.Close()
	if c.staging == "" {
		d, err := os.MkdirTemp(c.w.dir, ".chatvault-restore-*")
		if err != nil {
			return nil, err
		}
		c.staging = d
	}
	fileName := c.pickName(name, sha)
	path := filepath.Join(c.staging, fileName)
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(out, ctxReader{c.w.ctx, rc})
	if err != nil {
		out.Close()
		os.Remove(path)
		return nil, fmt.Errorf("attachment %q (%s…) of %s: %w", name, sha[:12], c.transcript, err)
	}
	c.w.syncer.add(out)
	sf.name, sf.size = fileName, n
	c.saved = append(c.saved, sf)
	return sf, nil
}

// ctxReader stops reading when ctx is done, so that an interrupt does not
// wait for a large attachment to be copied.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// isMissingBlob reports whether OpenBlob failed because the blob object is
// not in the store. The archive package reports that as an integrity error
// ending in ": missing" (missingOr); TestRestoreAttachments covers it.
func isMissingBlob(err error) bool {
	return err != nil && errors.Is(err, archive.ErrIntegrity) && strings.HasSuffix(err.Error(), ": missing")
}

// pickName is the file name of a new content: the attachment's safe name, or
// when a different content has that name already (ignoring case), the name
// with a short hash of the content added before the extension.
func (c *convFiles) pickName(name, sha string) string {
	stem, ext := attachmentNameParts(name)
	cands := []string{stem + ext, stem + "-" + sha[:8] + ext, stem + "-" + sha[:16] + ext, stem + "-" + sha + ext}
	for i := 2; ; i++ {
		var cand string
		if len(cands) > 0 {
			cand, cands = cands[0], cands[1:]
		} else {
			cand = fmt.Sprintf("%s-%s-%d%s", stem, sha, i, ext)
		}
		if key := strings.ToLower(cand); !c.taken[key] {
			c.taken[key] = true
			return cand
		}
	}
}

// check decides how commit moves the files into place, and fails when it
// cannot without replacing something it must not: the directory is not a
// directory (or is a symbolic link, which could lead outside the output
// directory), or a file is in the way and --overwrite is not given. A file in
// the way with the same content is kept.
func (c *convFiles) check(overwrite bool) error {
	if len(c.saved) == 0 {
		return nil
	}
	fi, err := os.Lstat(c.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.intoExisting = false
		return nil
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory; nothing was restored", c.dir)
	}
	c.intoExisting = true
	for _, sf := range c.saved {
		path := filepath.Join(c.dir, sf.name)
		fi, err := os.Lstat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			sf.existing = false
		case err != nil:
			return err
		case fi.Mode().IsRegular() && sameContent(path, sf):
			sf.existing = true
		case fi.IsDir():
			return fmt.Errorf("%s is a directory; nothing was restored", path)
		case !overwrite:
			return withHint(fmt.Errorf("%s exists; nothing was restored", path), "use --overwrite to replace it, or another -o DIR")
		}
	}
	return nil
}

func sameContent(path string, sf *savedFile) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return err == nil && n == sf.size && hex.EncodeToString(h.Sum(nil)) == sf.sha
}

// commit moves the files into place: the staging directory becomes the
// directory when there is none yet, else each file is renamed into it.
func (c *convFiles) commit() error {
	if len(c.saved) == 0 {
		return nil
	}
	syncDir(c.staging)
	if !c.intoExisting {
		if err := os.Rename(c.staging, c.dir); err != nil {
			return err
		}
		c.staging = ""
		return nil
	}
	for _, sf := range c.saved {
		if sf.existing {
			continue
		}
		if err := os.Rename(filepath.Join(c.staging, sf.name), filepath.Join(c.dir, sf.name)); err != nil {
			return err
		}
	}
	syncDir(c.dir)
	err := os.RemoveAll(c.staging)
	c.staging = ""
	return err
}

// abort removes the staging directory.
func (c *convFiles) abort() {
	if c.staging != "" {
		os.RemoveAll(c.staging)
		c.staging = ""
	}
}

// restoreFileName is "<label>-<short id><ext>", the label made safe by
// safeName and at most 60 bytes long. It never contains a path separator.
func restoreFileName(label string, id archive.ID, ext string) string {
	name := safeName(label, 60)
	if name == "" {
		name = "conversation"
	}
	return name + "-" + id.Short() + ext
}

// attachmentFileName is the file name of an attachment called name (before
// any hash is added to tell two contents apart).
func attachmentFileName(name string) string {
	stem, ext := attachmentNameParts(name)
	return stem + ext
}

// attachmentNameParts splits the safe file name of an attachment into a stem
// (safeName, at most 80 bytes, "attachment" if nothing is left) and the
// extension of the original name (".jpg": a dot and 1 to 15 letters or
// digits; "" when there is none), so that a hash can go between them.
func attachmentNameParts(name string) (stem, ext string) {
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= 16 && len(name)-i > 1 {
		e := name[i+1:]
		if strings.IndexFunc(e, func(r rune) bool { return !isSafeNameRune(r) || r == '-' || r == '_' || r == '.' }) < 0 {
			name, ext = name[:i], "."+e
		}
	}
	stem = safeName(name, 80)
	if stem == "" {
		stem = "attachment"
	}
	return stem, ext
}

// safeName reduces s to letters, digits, '-', '_' and '.' (anything else
// becomes '_'), without a leading dot and at most max bytes long (never
// splitting a character). It never contains a path separator, so it names a
// file in the directory it is joined to, and nothing else.
func safeName(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if !isSafeNameRune(r) {
			r = '_'
		}
		if b.Len() == 0 && r == '.' {
			r = '_'
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isSafeNameRune(r rune) bool {
	return (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') && r != utf8.RuneError
}
