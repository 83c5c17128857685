package discord

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
	missingRemote   = "not downloaded"      // the url is still a web address: exported without --media
	missingNotFound = "not found in export" // a local path that does not exist (moved, deleted)
	missingOutside  = "outside the export"  // an absolute path or one climbing out with ".."
	missingSymlink  = "symlink refused"
	missingNotFile  = "not a regular file"
	missingNoURL    = "no url in export"
	missingRead     = "unreadable"
)

// attachment resolves one attachment. A url that is a relative path (written
// by DCE with --media, with "\" separators on Windows) is looked up in the
// directory of the JSON file; the file is hashed and offered as a blob.
func (s *source) attachment(fsrc *fileSource, msgID string, a dceAttachment) (importers.Attachment, *canon.Blob) {
	att := importers.Attachment{Name: string(a.FileName), Size: int64(a.FileSizeBytes)}
	if att.Size < 0 {
		att.Size = 0
	}
	u := string(a.URL)
	att.Mime = mimeFor(att.Name)
	if att.Mime == "" {
		att.Mime = mimeFor(u)
	}
	if u == "" {
		att.Missing = missingNoURL
		return att, nil
	}
	if isURL(u) {
		att.Missing = missingRemote
		if strings.HasPrefix(strings.ToLower(u), "file:") {
			att.Missing = missingOutside
		}
		return att, nil
	}
	cands, ok := localCandidates(u)
	if !ok {
		att.Missing = missingOutside
		return att, nil
	}
	att.Missing = missingNotFound
	for _, rel := range cands {
		fi, err := s.root.Lstat(rel)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) && !importers.IsNotDir(err) {
				if importers.IsEscape(err) {
					att.Missing = missingOutside
					return att, nil
				}
				s.o.Warnf("%s: message %s: attachment %q: %v", fsrc.path, msgID, u, err)
				att.Missing = missingRead
				return att, nil
			}
			continue
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			att.Missing = missingSymlink
			return att, nil
		case !fi.Mode().IsRegular():
			att.Missing = missingNotFile
			return att, nil
		}
		sum, n, err := importers.HashFile(s.ctx, s.root, rel)
		if err != nil && s.ctx.Err() != nil {
			return att, nil // the caller reports the cancellation
		}
		if err != nil {
			s.o.Warnf("%s: message %s: attachment %q: %v", fsrc.path, msgID, u, err)
			att.Missing = missingRead
			return att, nil
		}
		if a.FileSizeBytes > 0 && int64(a.FileSizeBytes) != n {
			s.o.Warnf("%s: message %s: attachment %q has %d bytes, the export says %d (incomplete download?)", fsrc.path, msgID, u, n, int64(a.FileSizeBytes))
		}
		hexSum := hex.EncodeToString(sum[:])
		att.Missing, att.Size, att.SHA256, att.Blob = "", n, hexSum, hexSum
		root, name := s.root, rel
		return att, &canon.Blob{SHA256: sum, Size: n, Open: func() (io.ReadCloser, error) {
			return importers.OpenRegular(root, name)
		}}
	}
	return att, nil
}

// cancelled.
// (not a FIFO or device swapped in after the Lstat).
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

// localCandidates turns a url written for a downloaded asset into the
// slash-separated relative paths to try, or false if the path is absolute or
// climbs out of the export directory. DCE writes the path relative to the
// JSON's directory with the OS separator; a Linux export may also hold a
// literal backslash in a file name, and some versions URL-encoded the path.
func localCandidates(u string) ([]string, bool) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) bool {
		if p == "" || strings.HasPrefix(p, "/") || importers.HasDrive(p) || strings.ContainsRune(p, 0) {
			return false
		}
		for _, el := range strings.Split(p, "/") {
			if el == ".." {
				return false
			}
		}
		p = path.Clean(p)
		if p == "." {
			return false
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
		return true
	}
	slashed := strings.ReplaceAll(u, `\`, "/")
	if !add(slashed) {
		return nil, false
	}
	if slashed != u && !strings.HasPrefix(u, "/") {
		add(u) // a Linux file name with a backslash in it; refused quietly if odd
	}
	if strings.Contains(u, "%") {
		if d, err := url.PathUnescape(slashed); err == nil && !add(d) {
			return nil, false
		}
	}
	return out, true
}

// mimeTypes is a fixed table (not the system's mime.types, which differs
// between machines and would make re-imports differ).
var mimeTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".bmp": "image/bmp", ".svg": "image/svg+xml", ".heic": "image/heic",
	".avif": "image/avif", ".tif": "image/tiff", ".tiff": "image/tiff", ".ico": "image/x-icon",
	".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
	".avi": "video/x-msvideo", ".m4v": "video/x-m4v",
	".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/opus",
	".wav": "audio/wav", ".flac": "audio/flac", ".m4a": "audio/mp4", ".aac": "audio/aac",
	".pdf": "application/pdf", ".zip": "application/zip", ".gz": "application/gzip",
	".7z": "application/x-7z-compressed", ".rar": "application/vnd.rar", ".tar": "application/x-tar",
	".json": "application/json", ".txt": "text/plain", ".md": "text/markdown", ".csv": "text/csv",
	".html": "text/html", ".htm": "text/html", ".xml": "application/xml", ".log": "text/plain",
	".doc": "application/msword", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xls": "application/vnd.ms-excel", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".ppt": "application/vnd.ms-powerpoint", ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".lottie": "application/json", ".apng": "image/apng",
}

// mimeFor guesses a MIME type from the extension of a file name or url path.
func mimeFor(name string) string {
	if i := strings.IndexAny(name, "?#"); i >= 0 && isURL(name) {
		name = name[:i]
	}
	i := strings.LastIndexAny(name, `./\`)
	if i < 0 || name[i] != '.' {
		return ""
	}
	return mimeTypes[strings.ToLower(name[i:])]
}
