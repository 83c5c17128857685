package whatsapp

import (
	"archive/zip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/chatvault/chatvault/importers"
)

// Zip safety bounds. Nothing is ever extracted to disk, but an export that
// carries path tricks or a decompression bomb is refused as a whole: it is
// not something WhatsApp wrote.
const (
	maxRatio     = 100       // declared size over compressed size, per entry and overall
	ratioFloor   = 1 << 20   // entries up to this size may compress any amount
	totalSlack   = 16 << 20  // added to maxRatio × the zip's size for the overall bound
	maxEntrySize = 16 << 30  // no single entry above this, whatever its ratio
	maxEntries   = 1_000_000 // more entries than any export holds
)

// mediaFile is a file of the export that a message may name.
type mediaFile struct {
	key  string // unique within the export
	open func() (io.ReadCloser, error)
}

// mediaStore finds the files a message names.
type mediaStore interface {
	lookup(name string) (mediaFile, bool)
	// unused lists, sorted, the files no message named (nil when unknown).
	unused(named map[string]bool) []string
}

// zipExport is an opened export zip: the chat text and the files beside it.
type zipExport struct {
	zr    *zip.ReadCloser
	chat  *zip.File
	dir   string               // the chat text's folder inside the zip ("" or "x/")
	files map[string]*zip.File // media by path relative to dir
}

func unsafeZip(path, entry, why string) error {
	return fmt.Errorf("whatsapp: %s: refusing unsafe zip entry %q: %s: %w", path, entry, why, importers.ErrMalformed)
}

// openZip opens path, checks every entry against the safety rules and finds
// the chat text.
func openZip(zpath string, warn func(string, ...any)) (*zipExport, error) {
	fi, err := os.Stat(zpath)
	if err != nil {
		return nil, err
	}
	zr, err := zip.OpenReader(zpath)
	if errors.Is(err, zip.ErrInsecurePath) && zr != nil {
		err = nil // with GODEBUG=zipinsecurepath=0; the checks below name the entry
	}
	if err != nil {
		return nil, fmt.Errorf("whatsapp: %s: not a readable zip: %v: %w", zpath, err, importers.ErrMalformed)
	}
	z := &zipExport{zr: zr, files: map[string]*zip.File{}}
	fail := func(err error) (*zipExport, error) {
		zr.Close()
		return nil, err
	}
	if len(zr.File) > maxEntries {
		return fail(fmt.Errorf("whatsapp: %s: %d zip entries, more than %d: %w", zpath, len(zr.File), maxEntries, importers.ErrMalformed))
	}
	var total uint64
	for _, f := range zr.File {
		name := strings.ReplaceAll(f.Name, `\`, "/")
		switch {
		case name == "":
			return fail(unsafeZip(zpath, f.Name, "empty name"))
		case strings.HasPrefix(name, "/") || (len(name) >= 2 && name[1] == ':'):
			return fail(unsafeZip(zpath, f.Name, "absolute path"))
		case strings.ContainsRune(name, 0):
			return fail(unsafeZip(zpath, f.Name, "NUL byte in name"))
		case f.Mode()&fs.ModeSymlink != 0:
			return fail(unsafeZip(zpath, f.Name, "symbolic link"))
		}
		for _, part := range strings.Split(name, "/") {
			if part == ".." {
				return fail(unsafeZip(zpath, f.Name, `".." path component`))
			}
		}
		if f.FileInfo().IsDir() {
			continue
		}
		size := f.UncompressedSize64
		if size > maxEntrySize {
			return fail(unsafeZip(zpath, f.Name, fmt.Sprintf("declares %d bytes, more than %d", size, uint64(maxEntrySize))))
		}
		if size > ratioFloor && size/maxRatio > f.CompressedSize64 {
			return fail(unsafeZip(zpath, f.Name, fmt.Sprintf("declares %d bytes from %d compressed (over %d×): zip bomb?", size, f.CompressedSize64, maxRatio)))
		}
		total += size
	}
	if limit := uint64(fi.Size())*maxRatio + totalSlack; total > limit {
		return fail(fmt.Errorf("whatsapp: %s: entries declare %d bytes in all, over %d× the zip's %d bytes: zip bomb? %w",
			zpath, total, maxRatio, fi.Size(), importers.ErrMalformed))
	}

	// The chat text: "_chat.txt" (iOS), "WhatsApp Chat with X.txt" (Android),
	// else the one .txt that is not a media file.
	type cand struct {
		f            *zip.File
		score, depth int
	}
	var best []cand
	for _, f := range zr.File {
		name := strings.ReplaceAll(f.Name, `\`, "/")
		if f.FileInfo().IsDir() || inMacOSX(name) || !strings.HasSuffix(strings.ToLower(name), ".txt") {
			continue
		}
		base := path.Base(name)
		c := cand{f: f, depth: strings.Count(name, "/")}
		switch _, ok := chatNameFromBase(strings.TrimSuffix(base, path.Ext(base))); {
		case base == "_chat.txt":
			c.score = 3
		case ok:
			c.score = 2
		case strings.HasPrefix(base, "._") || looksLikeMediaName(base):
			continue
		default:
			c.score = 1
		}
		switch {
		case len(best) == 0 || c.score > best[0].score || (c.score == best[0].score && c.depth < best[0].depth):
			best = []cand{c}
		case c.score == best[0].score && c.depth == best[0].depth:
			best = append(best, c)
		}
	}
	switch len(best) {
	case 0:
		return fail(fmt.Errorf("whatsapp: %s: no chat text (.txt) in the zip: %w", zpath, importers.ErrMalformed))
	case 1:
	default:
		names := make([]string, len(best))
		for i, c := range best {
			names[i] = c.f.Name
		}
		return fail(fmt.Errorf("whatsapp: %s: cannot tell which text file is the chat: %s: %w", zpath, strings.Join(names, ", "), importers.ErrMalformed))
	}
	z.chat = best[0].f
	chatName := strings.ReplaceAll(z.chat.Name, `\`, "/")
	if i := strings.LastIndexByte(chatName, '/'); i >= 0 {
		z.dir = chatName[:i+1]
	}
	for _, f := range zr.File {
		name := strings.ReplaceAll(f.Name, `\`, "/")
		if f == z.chat || f.FileInfo().IsDir() || inMacOSX(name) || !strings.HasPrefix(name, z.dir) {
			continue
		}
		rel := name[len(z.dir):]
		if _, dup := z.files[rel]; dup {
			warn("%s: zip holds %q more than once; using the first", zpath, f.Name)
			continue
		}
		z.files[rel] = f
	}
	return z, nil
}

func inMacOSX(name string) bool {
	return strings.HasPrefix(name, "__MACOSX/") || strings.Contains(name, "/__MACOSX/") || strings.HasPrefix(path.Base(name), "._")
}

func (z *zipExport) lookup(name string) (mediaFile, bool) {
	f, ok := z.files[name]
	if !ok {
		return mediaFile{}, false
	}
	return mediaFile{key: name, open: func() (io.ReadCloser, error) { return openEntry(f) }}, true
}

func (z *zipExport) unused(named map[string]bool) []string {
	var out []string
	for rel := range z.files {
		if !named[rel] {
			out = append(out, rel)
		}
	}
	sort.Strings(out)
	return out
}

// entryReader reads a zip entry and refuses bytes beyond its declared size
// (archive/zip checks this too; this makes the error say what happened).
type entryReader struct {
	rc   io.ReadCloser
	left int64
	name string
}

func openEntry(f *zip.File) (io.ReadCloser, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	return &entryReader{rc: rc, left: int64(f.UncompressedSize64), name: f.Name}, nil
}

func (e *entryReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		// One more byte than declared is an error; EOF is fine.
		var one [1]byte
		n, err := e.rc.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("zip entry %q is larger than it declares: %w", e.name, zip.ErrFormat)
		}
		return 0, err
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.rc.Read(p)
	e.left -= int64(n)
	return n, err
}

func (e *entryReader) Close() error { return e.rc.Close() }

// dirExport is a chat text outside a zip: the files it names are looked up
// beside it (an unzipped export), by plain file name only.
type dirExport struct{ dir string }

func (d dirExport) lookup(name string) (mediaFile, bool) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return mediaFile{}, false
	}
	p := filepath.Join(d.dir, name)
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return mediaFile{}, false
	}
	return mediaFile{key: name, open: func() (io.ReadCloser, error) {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return nil, fmt.Errorf("%s is not a regular file", p)
		}
		return f, nil
	}}, true
}

func (dirExport) unused(map[string]bool) []string { return nil }

// hashed is a file's SHA-256 and size, computed once per export.
type hashed struct {
	sum  [32]byte
	size int64
}

func hashFile(m mediaFile) (hashed, error) {
	rc, err := m.open()
	if err != nil {
		return hashed{}, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return hashed{}, err
	}
	var out hashed
	h.Sum(out.sum[:0])
	out.size = n
	return out, nil
}

// mimeByExt is a fixed table (mime.TypeByExtension depends on the machine,
// and the canonical lines must not).
var mimeByExt = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
	".webp": "image/webp", ".heic": "image/heic",
	".mp4": "video/mp4", ".3gp": "video/3gpp", ".mov": "video/quicktime", ".webm": "video/webm",
	".mp3": "audio/mpeg", ".opus": "audio/ogg", ".ogg": "audio/ogg", ".m4a": "audio/mp4",
	".aac": "audio/aac", ".amr": "audio/amr", ".wav": "audio/wav",
	".pdf": "application/pdf", ".zip": "application/zip", ".vcf": "text/vcard", ".txt": "text/plain",
	".doc": "application/msword", ".xls": "application/vnd.ms-excel", ".ppt": "application/vnd.ms-powerpoint",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

func mimeOf(name string) string {
	return mimeByExt[strings.ToLower(path.Ext(name))]
}
