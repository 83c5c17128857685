package slack

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// MaxEntrySize bounds the declared size of one zip entry.
const MaxEntrySize = 16 << 30

// maxRatio bounds an entry's decompressed size relative to its compressed
// size (zip bombs), for entries above ratioFloor bytes.
const (
	maxRatio   = 100
	ratioFloor = 1 << 20
)

// entry is one name in a directory of the export.
type entry struct {
	name    string
	dir     bool
	symlink bool
	regular bool
}

// exportFS is the export's file tree, a zip or a folder. Names are
// slash-separated and relative to the export's root; "" is the root.
type exportFS interface {
	// readDir lists dir sorted by name; it returns an error wrapping
	// fs.ErrNotExist when dir does not exist.
	readDir(dir string) ([]entry, error)
	open(name string) (io.ReadCloser, error)
	// display names a file for messages.
	display(name string) string
	close() error
}

func openFS(p string) (exportFS, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		root, err := os.OpenRoot(p)
		if err != nil {
			return nil, err
		}
		return &dirFS{root: root, path: p}, nil
	}
	return openZip(p)
}

// dirFS reads an extracted export through os.Root, which keeps every open
// inside the folder.
type dirFS struct {
	root *os.Root
	path string
}

func (d *dirFS) readDir(dir string) ([]entry, error) {
	name := dir
	if name == "" {
		name = "."
	}
	f, err := d.root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(des))
	for _, de := range des {
		t := de.Type()
		out = append(out, entry{name: de.Name(), dir: t.IsDir(), symlink: t&fs.ModeSymlink != 0, regular: t.IsRegular()})
	}
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

func (d *dirFS) open(name string) (io.ReadCloser, error) {
	f, err := d.root.Open(filepath.FromSlash(name))
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (d *dirFS) display(name string) string { return filepath.Join(d.path, filepath.FromSlash(name)) }
func (d *dirFS) close() error               { return d.root.Close() }

// zipFS reads a zip export. The whole central directory is indexed at open
// (names only), which is what archive/zip holds anyway.
type zipFS struct {
	f     *os.File
	path  string
	files map[string]*zip.File // full normalized name → entry
	dirs  map[string][]entry   // full dir name → sorted children
	base  string               // "" or the single top-level folder holding the export
}

func zipErr(p, format string, args ...any) error {
	return malformedf("%s: %s", p, fmt.Sprintf(format, args...))
}

// cleanZipName checks an entry name and returns it normalized ('\' read as
// '/', "." and empty components dropped, no trailing slash) with whether it
// names a folder.
func cleanZipName(name string) (string, bool, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", false, errors.New("contains a NUL byte")
	}
	n := strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(n, "/") || (len(n) >= 2 && n[1] == ':') {
		return "", false, errors.New("is an absolute path")
	}
	isDir := strings.HasSuffix(n, "/")
	var parts []string
	for c := range strings.SplitSeq(n, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return "", false, errors.New(`has a ".." component`)
		}
		parts = append(parts, c)
	}
	if len(parts) == 0 {
		return "", true, nil
	}
	clean := strings.Join(parts, "/")
	return clean, isDir, nil
}

func openZip(p string) (exportFS, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		f.Close()
		return nil, zipErr(p, "not a readable zip: %v", err)
	}
	z := &zipFS{f: f, path: p, files: map[string]*zip.File{}, dirs: map[string][]entry{}}
	fail := func(err error) (exportFS, error) {
		f.Close()
		return nil, err
	}
	seen := map[string]bool{} // names of files, and of folders with a trailing "/"
	addDir := func(d string) error {
		for d != "" && !seen[d+"/"] {
			if seen[d] {
				return fmt.Errorf("%s is both a file and a folder", d)
			}
			seen[d+"/"] = true
			parent, name := splitPath(d)
			z.dirs[parent] = append(z.dirs[parent], entry{name: name, dir: true})
			d = parent
		}
		return nil
	}
	var total uint64
	for _, zf := range zr.File {
		name, isDir, err := cleanZipName(zf.Name)
		if err != nil {
			return fail(zipErr(p, "refusing entry %q: it %v", zf.Name, err))
		}
		mode := zf.Mode()
		if mode&fs.ModeSymlink != 0 {
			return fail(zipErr(p, "refusing entry %q: it is a symlink", zf.Name))
		}
		if mode.IsDir() {
			isDir = true
		}
		if isDir {
			if name != "" {
				if err := addDir(name); err != nil {
					return fail(zipErr(p, "refusing entry %q: %v", zf.Name, err))
				}
			}
			continue
		}
		if !mode.IsRegular() {
			return fail(zipErr(p, "refusing entry %q: not a regular file (mode %v)", zf.Name, mode))
		}
		if seen[name] || seen[name+"/"] {
			return fail(zipErr(p, "refusing entry %q: the name occurs twice", zf.Name))
		}
		u, c := zf.UncompressedSize64, zf.CompressedSize64
		if u > MaxEntrySize {
			return fail(zipErr(p, "refusing entry %q: it declares %d bytes, more than the %d allowed", zf.Name, u, uint64(MaxEntrySize)))
		}
		if u > ratioFloor && u/maxRatio > c {
			return fail(zipErr(p, "refusing entry %q: it expands %d bytes to %d (more than %d×): a zip bomb?", zf.Name, c, u, maxRatio))
		}
		total += u
		seen[name] = true
		parent, base := splitPath(name)
		if err := addDir(parent); err != nil {
			return fail(zipErr(p, "refusing entry %q: %v", zf.Name, err))
		}
		z.dirs[parent] = append(z.dirs[parent], entry{name: base, regular: true})
		z.files[name] = zf
	}
	if limit := uint64(st.Size())*maxRatio + ratioFloor; total > limit {
		return fail(zipErr(p, "refusing zip: its entries expand to %d bytes, more than %d× its %d bytes: a zip bomb?", total, maxRatio, st.Size()))
	}
	for d := range z.dirs {
		slices.SortFunc(z.dirs[d], func(a, b entry) int { return strings.Compare(a.name, b.name) })
	}
	z.base = z.findBase()
	return z, nil
}

// findBase returns the single top-level folder of a zip made by zipping the
// export's folder rather than its contents, or "".
func (z *zipFS) findBase() string {
	if z.looksLikeRoot("") {
		return ""
	}
	var dirs []string
	for _, e := range z.dirs[""] {
		if e.dir && !skipFolder(e.name) {
			dirs = append(dirs, e.name)
		}
	}
	if len(dirs) == 1 && z.looksLikeRoot(dirs[0]) {
		return dirs[0]
	}
	return ""
}

// looksLikeRoot reports whether dir holds a metadata file or a folder of
// day files.
func (z *zipFS) looksLikeRoot(dir string) bool {
	for _, e := range z.dirs[dir] {
		if !e.dir && isMetaFile(e.name) {
			return true
		}
		if e.dir && !skipFolder(e.name) {
			for _, c := range z.dirs[path.Join(dir, e.name)] {
				if !c.dir && isDayFile(c.name) {
					return true
				}
			}
		}
	}
	return false
}

func splitPath(name string) (dir, base string) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return "", name
	}
	return name[:i], name[i+1:]
}

func (z *zipFS) full(name string) string {
	if z.base == "" {
		return name
	}
	if name == "" {
		return z.base
	}
	return z.base + "/" + name
}

func (z *zipFS) readDir(dir string) ([]entry, error) {
	d, ok := z.dirs[z.full(dir)]
	if !ok && !(dir == "" && z.base == "") {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	return d, nil
}

func (z *zipFS) open(name string) (io.ReadCloser, error) {
	zf, ok := z.files[z.full(name)]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, zipErr(z.path, "entry %s: %v", zf.Name, err)
	}
	// archive/zip already refuses data beyond the declared size; the limit
	// is a second guard that does not depend on it.
	return &limitedRC{r: io.LimitReader(rc, int64(zf.UncompressedSize64)+1), c: rc, left: int64(zf.UncompressedSize64), name: zf.Name, zip: z.path}, nil
}

func (z *zipFS) display(name string) string { return z.path + ": " + z.full(name) }
func (z *zipFS) close() error               { return z.f.Close() }

// limitedRC fails a read past the entry's declared size.
type limitedRC struct {
	r         io.Reader
	c         io.Closer
	left      int64
	name, zip string
}

func (l *limitedRC) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, zipErr(l.zip, "entry %s holds more than its declared size", l.name)
	}
	if err != nil && err != io.EOF {
		err = zipErr(l.zip, "entry %s: %v", l.name, err)
	}
	return n, err
}

func (l *limitedRC) Close() error { return l.c.Close() }

// metaFiles are the metadata files read at open.
var metaFiles = []string{"channels.json", "groups.json", "mpims.json", "dms.json", "users.json", "org_users.json"}

func isMetaFile(name string) bool { return slices.Contains(metaFiles, name) }

// skipFolder reports top-level folders that are never conversations:
// __MACOSX, __uploads, __avatars, dot folders.
func skipFolder(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "__")
}

// isDayFile matches YYYY-MM-DD.json.
func isDayFile(name string) bool {
	if len(name) != len("2006-01-02.json") || !strings.HasSuffix(name, ".json") {
		return false
	}
	for i := range 10 {
		c := name[i]
		if i == 4 || i == 7 {
			if c != '-' {
				return false
			}
		} else if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
