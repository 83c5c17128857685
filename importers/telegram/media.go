package telegram

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// Reasons written in an attachment's "missing" (chat-formats.md §9).
const (
	missingNotExported = "not_exported"       // "(File not included. Change data exporting settings to download.)"
	missingTooLarge    = "too_large"          // "(File exceeds maximum size. …)"
	missingUnavailable = "unavailable"        // "(File unavailable, please try again later)"
	missingNotFound    = "not_found_in_input" // a path the export names but does not contain
	missingUnsafe      = "outside_export"     // an absolute path, a ".." or a link leading out of the export
	missingNotRegular  = "not_a_regular_file" // a directory, device, …
	missingUnreadable  = "unreadable"         // present but could not be read (permissions, I/O)
)

// skipNotes are Telegram Desktop's texts in place of a path, for files the
// export left out (export_output_json.cpp pushPath). A note may be preceded
// by a name and a space.
var skipNotes = []struct{ text, reason string }{
	{"(File not included. Change data exporting settings to download.)", missingNotExported},
	{"(File exceeds maximum size. Change data exporting settings to download.)", missingTooLarge},
	{"(File unavailable, please try again later)", missingUnavailable},
	{"(Photo not included. Change data exporting settings to download.)", missingNotExported},
	{"(Photo exceeds maximum size. Change data exporting settings to download.)", missingTooLarge},
	{"(Photo unavailable, please try again later)", missingUnavailable},
}

func skipNoteReason(v string) string {
	for _, n := range skipNotes {
		if strings.HasSuffix(v, n.text) {
			return n.reason
		}
	}
	return ""
}

// cleanRelPath normalises a path written in result.json: Windows
// backslashes become slashes; an absolute path, a drive letter or a ".."
// component is refused (ok false).
func cleanRelPath(p string) (string, bool) {
	p = strings.ReplaceAll(p, `\`, "/")
	if p == "" || strings.HasPrefix(p, "/") || (len(p) >= 2 && p[1] == ':') {
		return "", false
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", false
		}
	}
	p = path.Clean(p)
	if p == "." || !fs.ValidPath(p) {
		return "", false
	}
	return p, true
}

// fileInfo is a hashed file of the export.
type fileInfo struct {
	sum  [32]byte
	size int64
}

// media reads the files of one export folder, never outside it (os.Root
// refuses "..", absolute paths and symbolic links that leave the folder).
type media struct {
	root  *os.Root // nil when the folder could not be opened
	cache map[string]fileInfo
	buf   []byte
}

const mediaCacheMax = 1024

func openMedia(dir string) *media {
	m := &media{cache: make(map[string]fileInfo)}
	if r, err := os.OpenRoot(dir); err == nil {
		m.root = r
	}
	return m
}

func (m *media) close() error {
	if m.root != nil {
		return m.root.Close()
	}
	return nil
}

// hashFile hashes rel (already cleaned); on failure it returns the missing
// reason and a detail for the warning.
func (m *media) hashFile(rel string) (fileInfo, string, error) {
	if fi, ok := m.cache[rel]; ok {
		return fi, "", nil
	}
	if m.root == nil {
		return fileInfo{}, missingNotFound, nil
	}
	f, err := m.root.Open(rel)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fileInfo{}, missingNotFound, nil
		case strings.Contains(err.Error(), "escapes from parent") || strings.Contains(err.Error(), "path escapes"):
			return fileInfo{}, missingUnsafe, nil
		}
		return fileInfo{}, missingUnreadable, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fileInfo{}, missingUnreadable, err
	}
	if !st.Mode().IsRegular() {
		return fileInfo{}, missingNotRegular, nil
	}
	if m.buf == nil {
		m.buf = make([]byte, 256<<10)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, m.buf)
	if err != nil {
		return fileInfo{}, missingUnreadable, err
	}
	var fi fileInfo
	h.Sum(fi.sum[:0])
	fi.size = n
	if len(m.cache) >= mediaCacheMax {
		clear(m.cache)
	}
	m.cache[rel] = fi
	return fi, "", nil
}

// blob offers a hashed file to the archive; Open reads it again and fails if
// its bytes no longer match the hash taken during the import.
func (m *media) blob(rel string, fi fileInfo) canon.Blob {
	root := m.root
	return canon.Blob{
		SHA256: fi.sum,
		Size:   fi.size,
		Open: func() (io.ReadCloser, error) {
			f, err := root.Open(rel)
			if err != nil {
				return nil, err
			}
			return &verifyReader{f: f, rel: rel, want: fi, h: sha256.New()}, nil
		},
	}
}

// ErrChangedFile is returned by a Blob's reader when the file no longer
// matches the size and SHA-256 recorded while importing.
var ErrChangedFile = errors.New("file changed since it was imported")

type verifyReader struct {
	f    *os.File
	rel  string
	want fileInfo
	h    hash.Hash
	n    int64
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.want.size {
		return n, fmt.Errorf("%s: %w (larger than %d bytes)", v.rel, ErrChangedFile, v.want.size)
	}
	if err == io.EOF {
		var sum [32]byte
		v.h.Sum(sum[:0])
		if v.n != v.want.size || sum != v.want.sum {
			return n, fmt.Errorf("%s: %w", v.rel, ErrChangedFile)
		}
	}
	return n, err
}

func (v *verifyReader) Close() error { return v.f.Close() }

// attachmentRef is one file reference of a message.
type attachmentRef struct {
	key      string // "photo", "file", "thumbnail", "contact_vcard"
	value    string // the path or skip note as written
	name     string // file_name, when given
	mime     string // mime_type, when given
	sizeHint int64  // *_file_size, when given (used for missing files)
}

// fixedMimes names the type of files whose extension Telegram Desktop fixes
// (photos and thumbnails are JPEG); a fixed table keeps imports identical on
// every machine, which mime.TypeByExtension would not.
var fixedMimes = map[string]string{".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".vcf": "text/vcard"}

// attachment resolves a reference: hashes a present file (adding its blob to
// blobs) or records why it is missing. warn receives notes about unsafe or
// unreadable paths.
func (m *media) attachment(ref attachmentRef, blobs *[]canon.Blob, warn func(string)) importers.Attachment {
	a := importers.Attachment{Name: ref.name, Mime: ref.mime}
	if reason := skipNoteReason(ref.value); reason != "" {
		a.Missing = reason
		a.Size = ref.sizeHint
		return a
	}
	rel, ok := cleanRelPath(ref.value)
	if a.Name == "" {
		a.Name = path.Base(strings.ReplaceAll(ref.value, `\`, "/"))
	}
	if a.Mime == "" && (ref.key == "photo" || ref.key == "thumbnail" || ref.key == "contact_vcard") {
		a.Mime = fixedMimes[strings.ToLower(path.Ext(a.Name))]
	}
	if !ok {
		warn(fmt.Sprintf("%s %q points outside the export; not read", ref.key, ref.value))
		a.Missing = missingUnsafe
		a.Size = ref.sizeHint
		return a
	}
	fi, reason, err := m.hashFile(rel)
	if reason != "" {
		switch reason {
		case missingUnsafe:
			warn(fmt.Sprintf("%s %q leads outside the export; not read", ref.key, ref.value))
		case missingNotRegular:
			warn(fmt.Sprintf("%s %q is not a regular file; not read", ref.key, ref.value))
		case missingUnreadable:
			warn(fmt.Sprintf("%s %q could not be read: %v", ref.key, ref.value, err))
		}
		a.Missing = reason
		a.Size = ref.sizeHint
		return a
	}
	a.Size = fi.size
	a.SHA256 = hex.EncodeToString(fi.sum[:])
	a.Blob = a.SHA256
	for _, b := range *blobs {
		if b.SHA256 == fi.sum {
			return a
		}
	}
	*blobs = append(*blobs, m.blob(rel, fi))
	return a
}
