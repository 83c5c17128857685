package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

var errMalformed = importers.ErrMalformed

// malformedError wraps importers.ErrMalformed without repeating its text.
type malformedError struct{ msg string }

func (e *malformedError) Error() string { return e.msg }
func (e *malformedError) Unwrap() error { return errMalformed }

// malformedf is an error about the export's content (not a file position).
func malformedf(format string, args ...any) error {
	return &malformedError{msg: "slack: " + fmt.Sprintf(format, args...)}
}

// Detect reports whether path looks like a Slack export: a folder holding a
// metadata file (channels.json, users.json, …) or a folder of YYYY-MM-DD.json
// day files; or a zip whose first 4 KiB or last 256 KiB (where the central
// directory is) name such files.
func Detect(path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false
	}
	if st.IsDir() {
		return detectDir(path)
	}
	if !st.Mode().IsRegular() {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4<<10)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if !bytes.HasPrefix(head, []byte("PK\x03\x04")) && !bytes.HasPrefix(head, []byte("PK\x05\x06")) {
		return false
	}
	if namesSlackFile(head) {
		return true
	}
	tailLen := min(st.Size(), 256<<10)
	tail := make([]byte, tailLen)
	if _, err := f.ReadAt(tail, st.Size()-tailLen); err != nil {
		return false
	}
	return namesSlackFile(tail)
}

// namesSlackFile looks for a metadata file name or a "/YYYY-MM-DD.json" in
// the raw bytes of zip headers.
func namesSlackFile(b []byte) bool {
	for _, m := range metaFiles {
		if m == "users.json" || m == "org_users.json" {
			continue // other formats may have users.json too; channels decide
		}
		if bytes.Contains(b, []byte(m)) {
			return true
		}
	}
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte(".json"))
		if j < 0 {
			return false
		}
		j += i
		if j >= 11 && b[j-11] == '/' && isDayFile(string(b[j-10:j+5])) {
			return true
		}
		i = j + 5
	}
}

func detectDir(path string) bool {
	for _, m := range metaFiles {
		if m == "users.json" || m == "org_users.json" {
			continue
		}
		if st, err := os.Stat(filepath.Join(path, m)); err == nil && st.Mode().IsRegular() {
			return true
		}
	}
	d, err := os.Open(path)
	if err != nil {
		return false
	}
	defer d.Close()
	des, _ := d.ReadDir(200)
	for _, de := range des {
		if !de.IsDir() || skipFolder(de.Name()) {
			continue
		}
		sub, err := os.Open(filepath.Join(path, de.Name()))
		if err != nil {
			continue
		}
		names, _ := sub.Readdirnames(50)
		sub.Close()
		for _, n := range names {
			if isDayFile(n) {
				return true
			}
		}
	}
	return false
}

// folder is one conversation's folder.
type folder struct {
	name     string // folder name in the export
	key      string // canonical conversation key
	convName string
	noMeta   bool // no metadata file names it, and it is not named by id
}

// source streams the messages of an export.
type source struct {
	ctx  context.Context
	o    importers.Options
	fsys exportFS
	meta meta

	folders []folder
	fi      int      // index of the next folder to enter
	cur     *folder  // folder being read
	days    []string // day files of cur, sorted
	di      int      // index of the next day file
	arr     *arrayReader

	hasUploads bool              // the export has an __uploads folder
	attach     map[string]string // file id → path under cur's attachments/ folder
	files      map[string]fileRef
	blobs      []canon.Blob

	warned map[string]bool
	msg    message // decoding target, reused
}

// Open opens the export at path (a .zip or a folder) for streaming.
func Open(ctx context.Context, path string, o importers.Options) (importers.Source, error) {
	fsys, err := openFS(path)
	if err != nil {
		return nil, err
	}
	s := &source{ctx: ctx, o: o, fsys: fsys, warned: map[string]bool{}, files: map[string]fileRef{}}
	if err := s.init(); err != nil {
		fsys.close()
		return nil, err
	}
	return s, nil
}

func (s *source) init() error {
	root, err := s.fsys.readDir("")
	if err != nil {
		return fmt.Errorf("slack: reading %s: %w", s.fsys.display(""), err)
	}
	if err := s.loadMeta(root); err != nil {
		return err
	}
	for _, e := range root {
		switch {
		case e.name == "__uploads" && e.dir:
			s.hasUploads = true
		case skipFolder(e.name):
		case e.symlink:
			return malformedf("%s: refusing a symlink inside the export", s.fsys.display(e.name))
		case e.dir:
			f := s.resolveFolder(e.name)
			if !s.o.Exclude[f.key] {
				s.folders = append(s.folders, f)
			}
		}
	}
	return nil
}

// resolveFolder finds the conversation a folder holds.
func (s *source) resolveFolder(name string) folder {
	c := s.meta.byFolder[name]
	if c == nil {
		c = s.meta.byID[name]
	}
	if c == nil {
		f := folder{name: name}
		switch {
		case looksLikeID(name):
			f.key = "slack:" + name // DM folders are named by id
		default:
			f.key = "slack:name:" + name
			if strings.HasPrefix(name, "mpdm-") {
				f.convName = name
			} else {
				f.convName = "#" + name
			}
			f.noMeta = true
		}
		return f
	}
	f := folder{name: name, key: "slack:" + c.id}
	switch c.kind {
	case kindChannel, kindGroup:
		f.convName = "#" + firstNonEmpty(c.name, name)
	case kindMPIM:
		f.convName = firstNonEmpty(s.meta.memberNames(c.members), c.name)
	case kindDM:
		f.convName = s.meta.memberNames(c.members)
	}
	return f
}

// looksLikeID matches Slack conversation ids such as C024BE91L or D0123ABCD:
// channel names are lower case, so an upper-case folder name is an id.
func looksLikeID(name string) bool {
	if len(name) < 9 || len(name) > 24 || strings.IndexByte("CDG", name[0]) < 0 {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (s *source) warnOnce(key, format string, args ...any) {
	if s.warned[key] {
		return
	}
	s.warned[key] = true
	s.o.Warnf(format, args...)
}

// Next returns the next message, io.EOF at the end.
func (s *source) Next() (canon.Message, error) {
	s.blobs = s.blobs[:0]
	for {
		if err := s.ctx.Err(); err != nil {
			return canon.Message{}, err
		}
		if s.arr == nil {
			ok, err := s.nextFile()
			if err != nil {
				if err = s.skipOr(err); err != nil {
					return canon.Message{}, err
				}
				continue
			}
			if !ok {
				return canon.Message{}, io.EOF
			}
		}
		s.msg = message{}
		raw, off, err := s.arr.next(&s.msg)
		if err == io.EOF {
			s.closeFile()
			continue
		}
		var re *recordErr
		if err != nil && !errors.As(err, &re) {
			// The file stops parsing here: skip its rest or stop.
			s.closeFile()
			if err = s.skipOr(err); err != nil {
				return canon.Message{}, err
			}
			continue
		}
		m, err := s.message(raw, off, re)
		if err != nil {
			if err = s.skipOr(err); err != nil {
				return canon.Message{}, err
			}
			continue
		}
		return m, nil
	}
}

// nextFile opens the next day file, entering folders as needed; false at the
// end of the export.
func (s *source) nextFile() (bool, error) {
	for s.cur == nil || s.di >= len(s.days) {
		if s.fi >= len(s.folders) {
			return false, nil
		}
		if err := s.enter(&s.folders[s.fi]); err != nil {
			s.fi++
			return false, err
		}
		s.fi++
	}
	name := s.cur.name + "/" + s.days[s.di]
	s.di++
	a, err := openArray(s.fsys, name, true)
	if err != nil {
		return false, err
	}
	if a.single {
		s.warnOnce("single:"+name, "slack: %s holds one object, not an array: read as one message", s.fsys.display(name))
	}
	s.arr = a
	return true, nil
}

// enter lists a folder's day files and its attachments/ folder.
func (s *source) enter(f *folder) error {
	s.cur, s.days, s.di, s.attach = f, s.days[:0], 0, nil
	ents, err := s.fsys.readDir(f.name)
	if err != nil {
		s.cur = nil
		return fmt.Errorf("slack: reading %s: %w", s.fsys.display(f.name), err)
	}
	odd := 0
	for _, e := range ents {
		switch {
		case isDayFile(e.name) && e.symlink:
			s.cur, s.days = nil, s.days[:0]
			return malformedf("%s: refusing a symlink inside the export", s.fsys.display(f.name+"/"+e.name))
		case isDayFile(e.name) && e.regular:
			s.days = append(s.days, e.name)
		case e.name == "attachments" && e.dir:
			s.indexAttachments(f.name + "/attachments")
		case strings.HasSuffix(e.name, ".json"):
			odd++
		}
	}
	if f.noMeta && len(s.days) > 0 {
		s.o.Warnf("slack: no metadata file names folder %q: its conversation key is %q, which a complete export (with channels.json) would give differently", f.name, f.key)
	}
	if odd > 0 {
		s.o.Warnf("slack: %s: %d JSON file(s) not named YYYY-MM-DD.json ignored", s.fsys.display(f.name), odd)
	}
	return nil
}

func (s *source) closeFile() {
	if s.arr != nil {
		s.arr.close()
		s.arr = nil
	}
}

// Blobs returns the files, found in the export, of the message last
// returned by Next.
func (s *source) Blobs() []canon.Blob { return s.blobs }

// Close releases the export.
func (s *source) Close() error {
	s.closeFile()
	return s.fsys.close()
}

var _ canon.BlobLister = (*source)(nil)
