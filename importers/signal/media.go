package signal

import (
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strings"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// Reasons written in an attachment's "missing".
const (
	missingNotFound    = "not found in export" // the link's file is not there (not copied, --no-attachments)
	missingOutside     = "outside the export"  // absolute, or climbing out of the folder given
	missingSymlink     = "symlink refused"
	missingNotFile     = "not a regular file"
	missingRead        = "unreadable"
	missingNotExported = "not exported" // a sticker written as "(( 😀 ))": no file
)

// hashed is a file already hashed in this import.
type hashed struct {
	sum  [32]byte
	size int64
}

// attachment resolves one link relative to the transcript's folder, inside
// the export root.
func (s *source) attachment(cr *chatReader, line int, l link) (importers.Attachment, *canon.Blob) {
	a := importers.Attachment{Name: l.name, Mime: mimeFor(l.name)}
	if a.Mime == "" {
		a.Mime = mimeFor(l.target)
	}
	if strings.HasPrefix(l.target, "../exported_stickers/") {
		a.Name = baseName(l.target)
		if a.Mime == "" {
			a.Mime = mimeFor(a.Name)
		}
	}
	cands, ok := candidates(cr.c.dir, l.target)
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
			s.o.Warnf("%s: line %d: attachment %q: %v", cr.c.path, line, l.target, err)
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
					s.o.Warnf("%s: line %d: attachment %q: %v", cr.c.path, line, l.target, err)
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

// candidates are the slash paths inside the root a link target may name:
// as written (Windows exports write "media\file"), then URL-unescaped
// (signal-export writes whitespace as %20). false: the target is absolute or
// leaves the root.
func candidates(dir, target string) ([]string, bool) {
	var out []string
	add := func(p string) bool {
		p = strings.ReplaceAll(p, `\`, "/")
		if p == "" || strings.HasPrefix(p, "/") || importers.HasDrive(p) || strings.ContainsRune(p, 0) {
			return false
		}
		p = path.Join(dir, p)
		if p == ".." || strings.HasPrefix(p, "../") || p == "." {
			return false
		}
		for _, q := range out {
			if q == p {
				return true
			}
		}
		out = append(out, p)
		return true
	}
	if !add(target) {
		return nil, false
	}
	if strings.Contains(target, "%") {
		if d, err := url.PathUnescape(target); err == nil && !add(d) {
			return nil, false
		}
	}
	return out, true
}

// cancelled.
// (not a FIFO or device swapped in after the Lstat).
// mimeTypes is a fixed table (not the system's mime.types, which differs
// between machines and would make re-imports differ).
var mimeTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".bmp": "image/bmp", ".svg": "image/svg+xml", ".heic": "image/heic",
	".avif": "image/avif", ".tif": "image/tiff", ".tiff": "image/tiff", ".apng": "image/apng",
	".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
	".mpeg": "video/mpeg", ".qt": "video/quicktime", ".3gp": "video/3gpp",
	".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".opus": "audio/opus", ".wav": "audio/wav",
	".flac": "audio/flac", ".m4a": "audio/mp4", ".aac": "audio/aac",
	".pdf": "application/pdf", ".zip": "application/zip", ".txt": "text/plain", ".md": "text/markdown",
	".csv": "text/csv", ".json": "application/json", ".html": "text/html", ".vcf": "text/vcard",
	".doc": "application/msword", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xls": "application/vnd.ms-excel", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

// mimeFor guesses a MIME type from a file name's extension.
func mimeFor(name string) string {
	i := strings.LastIndexAny(name, `./\`)
	if i < 0 || name[i] != '.' {
		return ""
	}
	return mimeTypes[strings.ToLower(name[i:])]
}
