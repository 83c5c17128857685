package messenger

import (
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// Reasons written in an attachment's "missing".
const (
	missingRemote   = "not downloaded"      // a web address, not a file of the export
	missingNotFound = "not found in export" // not in the folder given (another zip part, not unpacked)
	missingOutside  = "outside the export"  // absolute, ".." or a file: url
	missingSymlink  = "symlink refused"
	missingNotFile  = "not a regular file"
	missingNoURI    = "no uri in export"
	missingRead     = "unreadable"
)

// hashed is a file already hashed in this import.
type hashed struct {
	sum  [32]byte
	size int64
}

// attachment resolves one media entry. Meta writes uris relative to the
// export root ("messages/inbox/<thread>/photos/1.jpg",
// "your_instagram_activity/messages/inbox/…"); the encrypted download
// relative to the thread file ("./media/…"). The file is looked up inside
// the root only.
func (s *source) attachment(fst *fileStream, m media) (importers.Attachment, *canon.Blob) {
	var a importers.Attachment
	if m.URI == nil || *m.URI == "" {
		a.Missing = missingNoURI
		return a, nil
	}
	u := *m.URI
	ru := repair(u)
	a.Name = baseName(ru)
	a.Mime = mimeFor(a.Name)
	if isURL(u) {
		a.Missing = missingRemote
		if strings.HasPrefix(strings.ToLower(u), "file:") {
			a.Missing = missingOutside
		}
		if q := strings.IndexAny(ru, "?#"); q >= 0 {
			a.Name = baseName(ru[:q])
			a.Mime = mimeFor(a.Name)
		}
		return a, nil
	}
	cands, ok := s.candidates(ru, u)
	if !ok {
		a.Missing = missingOutside
		return a, nil
	}
	a.Missing = missingNotFound
	for _, rel := range cands {
		fi, err := s.root.Lstat(rel)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || importers.IsNotDir(err) {
				continue
			}
			if importers.IsEscape(err) {
				a.Missing = missingOutside
				return a, nil
			}
			s.o.Warnf("%s: attachment %q: %v", fst.path, u, err)
			a.Missing = missingRead
			return a, nil
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			a.Missing = missingSymlink
			return a, nil
		case !fi.Mode().IsRegular():
			a.Missing = missingNotFile
			return a, nil
		}
		hv, ok := s.hashes[rel]
		if !ok {
			hv.sum, hv.size, err = importers.HashFile(s.ctx, s.root, rel)
			if err != nil {
				if s.ctx.Err() == nil {
					s.o.Warnf("%s: attachment %q: %v", fst.path, u, err)
					a.Missing = missingRead
				}
				return a, nil
			}
			if len(s.hashes) < 1<<17 {
				s.hashes[rel] = hv
			}
		}
		sum := hex.EncodeToString(hv.sum[:])
		a.Missing, a.Size, a.SHA256, a.Blob = "", hv.size, sum, sum
		root, name := s.root, rel
		return a, &canon.Blob{SHA256: hv.sum, Size: hv.size, Open: func() (io.ReadCloser, error) {
			return importers.OpenRegular(root, name)
		}}
	}
	return a, nil
}

// candidates lists the slash paths inside the root a uri may name, the
// repaired form first (files on disk have their real UTF-8 names): the part
// after the thread folder's name, relative to the thread's folder; the uri
// relative to the thread file's folder and to each folder above it up to the
// root; the uri with its first elements dropped where they are the last
// elements of the root's own path (the root is a folder inside the export).
// false: the uri is absolute or climbs with "..".
func (s *source) candidates(uris ...string) ([]string, bool) {
	th := s.th
	var out []string
	add := func(p string) {
		p = path.Clean(p)
		if p == "." || p == ".." || strings.HasPrefix(p, "../") {
			return
		}
		for _, q := range out {
			if q == p {
				return
			}
		}
		out = append(out, p)
	}
	rootComps := strings.Split(filepath.ToSlash(s.rootAbs), "/")
	for i, u := range uris {
		if i > 0 && u == uris[0] {
			continue
		}
		u = strings.ReplaceAll(u, `\`, "/")
		if strings.HasPrefix(u, "/") || importers.HasDrive(u) || strings.ContainsRune(u, 0) {
			return nil, false
		}
		comps := strings.Split(strings.TrimPrefix(u, "./"), "/")
		for _, c := range comps {
			if c == ".." {
				return nil, false
			}
		}
		for k := len(comps) - 2; k >= 0; k-- {
			if comps[k] == th.folder {
				add(path.Join(th.dir, path.Join(comps[k+1:]...)))
				break
			}
		}
		// Relative to the thread's folder and each folder above it: one of
		// them is the export root when Open was given it or a folder above.
		for d := th.dir; ; d = path.Dir(d) {
			add(path.Join(d, u))
			if d == "." || d == "/" {
				break
			}
		}
		// The root is a folder inside the export (inbox, messages): drop
		// the uri's leading elements that name it.
		for k := 1; k < len(comps) && k <= len(rootComps); k++ {
			if slicesEqual(comps[:k], rootComps[len(rootComps)-k:]) {
				add(path.Join(comps[k:]...))
			}
		}
	}
	return out, true
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// isURL reports whether u is a web address rather than a file path. A
// Windows drive path ("C:\…") has a one-letter scheme and is not a URL.
func isURL(u string) bool {
	i := strings.Index(u, ":")
	if i < 2 {
		return false
	}
	for _, c := range u[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// baseName is the last element of a slash or backslash path.
func baseName(p string) string {
	p = strings.TrimRight(p, `/\`)
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// cancelled.
// (not a FIFO or device swapped in after the Lstat).
// mimeTypes is a fixed table (not the system's mime.types, which differs
// between machines and would make re-imports differ).
var mimeTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".bmp": "image/bmp", ".heic": "image/heic", ".avif": "image/avif",
	".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
	".3gp": "video/3gpp",
	".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".opus": "audio/opus", ".wav": "audio/wav",
	".m4a": "audio/mp4", ".aac": "audio/aac", ".flac": "audio/flac",
	".pdf": "application/pdf", ".zip": "application/zip", ".txt": "text/plain", ".csv": "text/csv",
	".json": "application/json", ".html": "text/html",
	".doc": "application/msword", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xls": "application/vnd.ms-excel", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".ppt": "application/vnd.ms-powerpoint", ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

// mimeFor guesses a MIME type from a file name's extension.
func mimeFor(name string) string {
	i := strings.LastIndexAny(name, `./\`)
	if i < 0 || name[i] != '.' {
		return ""
	}
	return mimeTypes[strings.ToLower(name[i:])]
}
