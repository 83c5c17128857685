package messenger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

const (
	sniffSize = 16 << 10
	maxDepth  = 6       // folders walked below the one given
	maxThread = 1 << 20 // threads listed in one import
)

// messageFileRE is the name of a part of a thread: message_1.json is the
// newest (message.json in early exports).
var messageFileRE = regexp.MustCompile(`^message(?:_([0-9]{1,9}))?\.json$`)

// mediaDirs are the per-thread media folders: never walked for threads.
var mediaDirs = map[string]bool{"photos": true, "videos": true, "audio": true, "files": true, "gifs": true,
	"stickers_used": true, "media": true}

// Detect reports whether path is a Messenger or Instagram JSON export: a
// thread file (message_N.json or a thread object with sender_name and
// timestamp_ms in its first 16 KiB), a thread folder, or a folder above
// thread folders (inbox, messages, the export root).
func Detect(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	if !fi.IsDir() {
		return fi.Mode().IsRegular() && strings.EqualFold(filepath.Ext(path), ".json") && sniffFile(path)
	}
	budget := 256 // directory entries looked at
	return detectDir(path, 0, &budget)
}

func detectDir(dir string, depth int, budget *int) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if *budget <= 0 {
			return false
		}
		*budget--
		p := filepath.Join(dir, e.Name())
		switch {
		case e.Type().IsRegular() && strings.EqualFold(filepath.Ext(e.Name()), ".json"):
			if sniffFile(p) {
				return true
			}
		case e.IsDir() && depth < maxDepth && !mediaDirs[e.Name()]:
			if detectDir(p, depth+1, budget) {
				return true
			}
		}
	}
	return false
}

func sniffFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, sniffSize)
	n, _ := io.ReadFull(f, head)
	return sniff(head[:n], messageFileRE.MatchString(filepath.Base(path)))
}

// sniff: a JSON object with Meta's message keys (DYI: sender_name and
// timestamp_ms; the end-to-end encrypted download: senderName and
// timestamp), or a message_N.json file with participants or messages.
func sniff(b []byte, messageFile bool) bool {
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	has := func(k string) bool { return bytes.Contains(b, []byte(`"`+k+`"`)) }
	return has("sender_name") && has("timestamp_ms") ||
		has("senderName") && has("timestamp") && has("participants") ||
		messageFile && (has("participants") || has("messages"))
}

// Error is a malformed-input error: the file, the byte offset where the
// problem is, and the cause. It wraps importers.ErrMalformed.
type Error struct {
	File   string
	Offset int64 // -1 when not about one place
	Msg    string
	Err    error // the underlying cause, if any (e.g. a *json.SyntaxError)
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("messenger: ")
	b.WriteString(e.File)
	if e.Offset >= 0 {
		b.WriteString(": byte offset ")
		b.WriteString(strconv.FormatInt(e.Offset, 10))
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns importers.ErrMalformed and the cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{importers.ErrMalformed, e.Err}
	}
	return []error{importers.ErrMalformed}
}

// thread is one conversation: its files, newest first.
type thread struct {
	files    []string // OS paths
	dir      string   // slash path of the folder holding the files, relative to the root
	folder   string   // the thread folder's name (message_N.json) or the file's name without .json
	platform string   // "messenger" or "instagram"
	conv     string
	single   bool // a thread file not named message_N.json: named after its thread_path
}

// Open reads a Messenger or Instagram export: one message_N.json (or a
// renamed thread file), a thread folder (all its message_N.json), or any
// folder above thread folders (inbox, messages, the unzipped export), every
// thread in it. Media files are looked up inside the folder given (the
// file's folder when a file is given), never outside it.
func Open(ctx context.Context, path string, o importers.Options) (importers.Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	s := &source{ctx: ctx, o: o, warned: map[string]bool{}, hashes: map[string]hashed{}}
	var rootDir string
	switch {
	case fi.IsDir():
		rootDir = path
		s.rootAbs = abs
		if parts := messageFiles(path, o); len(parts) > 0 {
			s.threads = []*thread{newThread(parts, ".", filepath.Base(abs), abs, true)}
		} else {
			s.walk(path, abs, ".", 0)
			if len(s.threads) == 0 {
				return nil, &Error{File: path, Offset: -1, Msg: "no Messenger or Instagram thread (message_1.json) in this folder or below"}
			}
		}
	case fi.Mode().IsRegular():
		rootDir = filepath.Dir(path)
		s.rootAbs = filepath.Dir(abs)
		base := filepath.Base(abs)
		if messageFileRE.MatchString(base) {
			s.threads = []*thread{newThread([]string{path}, ".", filepath.Base(s.rootAbs), abs, true)}
		} else {
			s.threads = []*thread{newThread([]string{path}, ".", strings.TrimSuffix(base, filepath.Ext(base)), abs, false)}
		}
	default:
		return nil, fmt.Errorf("messenger: %s is not a file or folder", path)
	}
	s.root, err = os.OpenRoot(rootDir)
	if err != nil {
		return nil, err
	}
	// Open the first file now, so that a file that is not an export at all
	// fails here rather than at the first Next.
	if err := s.openNext(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// newThread names a thread; abs is the absolute path of its folder (or
// file), inThreadFolder whether the name is the folder's.
func newThread(files []string, dir, folder, abs string, inThreadFolder bool) *thread {
	t := &thread{files: files, dir: dir, folder: folder, platform: platformFor(abs, inThreadFolder), single: !inThreadFolder}
	t.conv = t.platform + ":" + folder
	return t
}

// platformFor tells Instagram from Messenger by the folders the export
// sits in (your_instagram_activity, instagram-<user>-<date>,
// your_facebook_activity, facebook-<user>-…), innermost first, the thread
// folder itself (a title chosen by users) left out; else Messenger.
func platformFor(abs string, inThreadFolder bool) string {
	comps := strings.Split(filepath.ToSlash(abs), "/")
	if strings.HasSuffix(strings.ToLower(abs), ".json") && inThreadFolder {
		comps = comps[:len(comps)-1] // message_N.json
	}
	if inThreadFolder && len(comps) > 0 {
		comps = comps[:len(comps)-1]
	}
	for i := len(comps) - 1; i >= 0; i-- {
		c := strings.ToLower(comps[i])
		ig := strings.Contains(c, "instagram")
		fb := strings.Contains(c, "facebook") || strings.Contains(c, "messenger")
		switch {
		case ig && !fb:
			return "instagram"
		case fb && !ig:
			return "messenger"
		}
	}
	return "messenger"
}

// messageFiles lists the message_N.json of a thread folder by N.
func messageFiles(dir string, o importers.Options) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	type part struct {
		n    int
		name string
	}
	var parts []part
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if m := messageFileRE.FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1]) // message.json: 0
			parts = append(parts, part{n, e.Name()})
		}
	}
	if len(parts) == 0 {
		return nil
	}
	slices.SortFunc(parts, func(a, b part) int { return a.n - b.n })
	var out []string
	for _, p := range parts {
		out = append(out, filepath.Join(dir, p.name))
	}
	for _, e := range ents {
		if e.Type().IsRegular() && strings.EqualFold(filepath.Ext(e.Name()), ".json") && !messageFileRE.MatchString(e.Name()) {
			o.Warnf("%s: not a message_N.json part of the thread, ignored", filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// walk finds the threads below dir: folders holding message_N.json, and
// single-file threads (the end-to-end encrypted download's <name>.json, or a
// renamed thread file). rel is dir relative to the root.
func (s *source) walk(dir, abs, rel string, depth int) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		s.o.Warnf("%s: %v", dir, err)
		return
	}
	for _, e := range ents {
		if len(s.threads) >= maxThread {
			return
		}
		name := e.Name()
		p, pa, pr := filepath.Join(dir, name), filepath.Join(abs, name), joinRel(rel, name)
		switch {
		case e.IsDir() && !mediaDirs[name]:
			if parts := messageFiles(p, s.o); len(parts) > 0 {
				s.threads = append(s.threads, newThread(parts, pr, name, pa, true))
			} else if depth < maxDepth {
				s.walk(p, pa, pr, depth+1)
			}
		case e.Type().IsRegular() && strings.EqualFold(filepath.Ext(name), ".json") && sniffFile(p):
			s.threads = append(s.threads, newThread([]string{p}, rel, strings.TrimSuffix(name, filepath.Ext(name)), pa, false))
		}
	}
}

func joinRel(rel, name string) string {
	if rel == "." {
		return name
	}
	return rel + "/" + name
}

// source streams the messages of the threads of one export.
type source struct {
	ctx     context.Context
	o       importers.Options
	root    *os.Root
	rootAbs string
	threads []*thread
	ti      int // next thread
	fi      int // next file of threads[ti-1]
	th      *thread
	name    string // conversation_name of th
	named   bool   // the thread's title was looked for
	cur     *fileStream
	dup     recent
	blobs   []canon.Blob
	err     error // sticky
	warned  map[string]bool
	hashes  map[string]hashed // files already hashed, by path in the root
	rawBuf  bytes.Buffer
}

// openNext opens the next file, moving to the next thread not excluded
// when a thread's files are done. A file that is not a thread at all is
// skipped (reported) when SkipInvalid is set.
func (s *source) openNext() error {
	for {
		if s.th == nil || s.fi >= len(s.th.files) {
			if err := s.nextThread(); err != nil || s.th == nil {
				return err
			}
		}
		p := s.th.files[s.fi]
		s.fi++
		if !s.named {
			// The title follows the messages in Meta's files: a fast first
			// pass over the file finds it.
			h, err := prescan(p)
			if err != nil {
				return err
			}
			if h.title != "" {
				s.name, s.named = repair(h.title), true
			}
		}
		fs, err := openStream(p)
		if err != nil {
			if s.o.SkipInvalid && errors.Is(err, importers.ErrMalformed) {
				s.skipped(err)
				continue
			}
			return err
		}
		s.cur = fs
		return nil
	}
}

// nextThread moves to the next thread not excluded (s.th nil at the end).
// A thread file not named message_N.json (renamed, or from the encrypted
// download) is named after the last element of its thread_path when it has
// one: the folder name Meta gives the thread.
func (s *source) nextThread() error {
	for s.ti < len(s.threads) {
		th := s.threads[s.ti]
		s.ti++
		s.th, s.fi, s.name, s.named = th, 0, "", false
		s.dup = recent{}
		if th.single {
			h, err := prescan(th.files[0])
			if err != nil {
				return err
			}
			s.name, s.named = repair(h.title), true // its only file is scanned
			if f := h.threadPath[strings.LastIndexAny(h.threadPath, `/\`)+1:]; f != "" && f != "." && f != ".." {
				th.folder = f
				th.conv = th.platform + ":" + f
			}
		}
		if !s.o.Exclude[th.conv] {
			return nil
		}
	}
	s.th = nil
	return nil
}

func (s *source) skipped(err error) {
	if s.o.Skipped != nil {
		s.o.Skipped(err)
	}
}

// warnOnce sends a warning the first time key is seen.
func (s *source) warnOnce(key, format string, args ...any) {
	if s.warned[key] {
		return
	}
	s.warned[key] = true
	s.o.Warnf(format, args...)
}

// Next returns the next message, io.EOF at the end.
func (s *source) Next() (canon.Message, error) {
	s.blobs = nil
	if s.err != nil {
		return canon.Message{}, s.err
	}
	for {
		if err := s.ctx.Err(); err != nil {
			return canon.Message{}, err
		}
		if s.cur == nil {
			if err := s.openNext(); err != nil {
				s.err = err
				return canon.Message{}, err
			}
			if s.cur == nil {
				s.err = io.EOF
				return canon.Message{}, io.EOF
			}
		}
		raw, off, err := s.cur.next()
		if err == io.EOF {
			s.cur.close()
			s.cur = nil
			continue
		}
		var m canon.Message
		if err == nil {
			m, err = s.convert(s.cur, raw, off)
		}
		if err != nil {
			if s.o.SkipInvalid && errors.Is(err, importers.ErrMalformed) {
				s.skipped(err)
				s.blobs = nil
				continue
			}
			s.err = err
			return canon.Message{}, err
		}
		return m, nil
	}
}

// Blobs returns the files of the message last returned by Next.
func (s *source) Blobs() []canon.Blob { return s.blobs }

// Close releases the open files. Blob.Open fails after Close.
func (s *source) Close() error {
	if s.cur != nil {
		s.cur.close()
		s.cur = nil
	}
	if s.root != nil {
		err := s.root.Close()
		s.root = nil
		return err
	}
	return nil
}
