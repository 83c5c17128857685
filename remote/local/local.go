// Package local implements [remote.Store] on a local directory (a home directory, a
// USB disk, a network mount).
//
// # Layout
//
// An object named "archives/<id>/objects/<hex>" is the file
// <root>/archives/<id>/objects/<hex>. The directory <root>/tmp/ holds files being
// written and the fallback lock; it is not part of the namespace (names whose first
// segment is "tmp" are rejected). Files are created with mode 0600 and directories
// with 0700 whatever the umask.
//
// # Writing
//
// Create writes the bytes to a new, randomly named file in <root>/tmp/ and gives it
// its final name with link(2). On Linux the file has no name at all until then
// (O_TMPFILE, linked through /proc/self/fd), which saves creating and removing
// a temp name, two directory operations that cost more than writing a whole
// segment on some virtual disks; Open checks that this works in <root>/tmp/.
// Link fails with EEXIST when
// the name is taken, so it is an atomic create-exclusive publish: of several writers
// racing for the same name exactly one wins, the others get [remote.ErrExists], and
// nobody ever sees a partial object under its final name (a crash leaves at most a
// stray file in tmp/, removed later by [Store.RemoveStaleTemp]). Nothing is ever
// overwritten in place.
//
// A new object is durable only once its file and the directory holding its name
// have been fsynced. Fsyncing per object would make writing an archive of many
// small objects slow (an export writes hundreds), so Create only remembers the
// files it wrote and the directories it changed, and [Store.Sync] makes them
// durable at once: on Linux with one syncfs(2) of the store's filesystem when
// there are many, elsewhere (and for a few) with an fsync of each file, then of
// each directory. The archive engine calls Sync before it writes a commit and
// again after, so every object a commit names is durable before the commit is.
// A power loss between a Create and the next Sync may leave a named object with
// lost contents; no commit refers to it, and prune removes it (a blob found so
// damaged by a later export is reported, not reused).
//
// # Filesystems without hard links
//
// FAT and exFAT (and some network filesystems) refuse link(2) with EPERM, ENOTSUP,
// EXDEV or ENOSYS. There Create falls back to a lock file: it creates <root>/tmp/lock
// with O_EXCL (waiting up to 30 s for another writer), checks that the final name
// is free, renames the temp file onto it and removes the lock. This is
// create-exclusive only among writers that take the lock, that is among chatvault
// processes; rename is as atomic as the filesystem makes it. A writer that crashes
// while holding the lock leaves the lock file behind; a lock older than 10 minutes
// is considered abandoned and is broken by the next writer (it is held only for
// a stat and a rename, so a live one is never that old). Until then writers fail
// with an error naming the lock file, which may be removed by hand if no chatvault
// is running.
//
// # Availability
//
// Open creates <root> and <root>/tmp. Later operations never recreate them: when an
// operation fails and <root>/tmp is no longer a directory (the root was removed, or
// is a mount point whose filesystem is not mounted any more) the error wraps
// [remote.ErrUnavailable] instead of reporting a missing object, so that an
// unmounted disk is never mistaken for an empty store nor written into.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chatvault/chatvault/remote"
)

// ErrInvalidName is wrapped by every error about a name that is not a valid object
// name (see [Store]).
var ErrInvalidName = errors.New("invalid object name")

const (
	fileMode = 0o600
	dirMode  = 0o700

	lockName  = "lock"           // in tmp/
	lockWait  = 30 * time.Second // how long Create waits for the fallback lock
	lockStale = 10 * time.Minute // age after which a fallback lock is abandoned
)

// Store is a store in a local directory. It is safe for concurrent use by several
// goroutines and several processes.
//
// Object names are slash-separated and relative: not empty, no empty, "." or ".."
// segment, no backslash or NUL, and not under "tmp/".
type Store struct {
	root string // absolute
	tmp  string // root/tmp

	forceLock bool        // tests: always use the lock-file fallback
	noLink    atomic.Bool // link(2) was refused once: use the fallback from now on
	unnamed   bool        // Create writes unnamed files (O_TMPFILE) and links them

	mu       sync.Mutex
	dirty    map[string]bool // slash-separated dirs ("." is root) to fsync in Sync
	unsynced []string        // files written since the last Sync
}

var (
	_ remote.Store  = (*Store)(nil)
	_ remote.Syncer = (*Store)(nil)
)

// Open opens the store in directory root, creating root and root/tmp with mode 0700
// if they are missing.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("local store %s: %w", root, err)
	}
	s := &Store{root: abs, tmp: filepath.Join(abs, "tmp"), dirty: map[string]bool{}}
	if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(abs, dirMode); err != nil {
			return nil, fmt.Errorf("local store %s: %w", abs, cause(err))
		}
		if err := os.Chmod(abs, dirMode); err != nil {
			return nil, fmt.Errorf("local store %s: %w", abs, cause(err))
		}
	}
	if err := os.Mkdir(s.tmp, dirMode); err == nil {
		err = os.Chmod(s.tmp, dirMode)
	} else if errors.Is(err, fs.ErrExist) {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("local store %s: %w", abs, cause(err))
	}
	if fi, err := os.Stat(s.tmp); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("local store %s: %s is not a directory", abs, s.tmp)
	}
	s.unnamed = s.probeUnnamed()
	return s, nil
}

// probeUnnamed tells whether unnamed files can be made and linked in tmp/
// (Linux with O_TMPFILE support in this filesystem and /proc mounted).
func (s *Store) probeUnnamed() bool {
	f, err := openUnnamed(s.tmp)
	if err != nil {
		return false
	}
	defer f.Close()
	name := filepath.Join(s.tmp, fmt.Sprintf("probe-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if linkUnnamed(f, name) != nil {
		return false
	}
	os.Remove(name)
	return true
}

// String returns the root directory.
func (s *Store) String() string { return s.root }

// Root returns the root directory.
func (s *Store) Root() string { return s.root }

// Create implements [remote.Store.Create]; see the package documentation.
func (s *Store) Create(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := s.check(ctx, "create", name); err != nil {
		return err
	}
	if size < 0 {
		return s.fail("create", name, fmt.Errorf("negative size %d", size))
	}
	// Cheap early answer for a taken name (content-addressed objects are often
	// written twice); the link below is what actually decides.
	if _, err := os.Lstat(s.path(name)); err == nil {
		return s.fail("create", name, remote.ErrExists)
	}
	if s.unnamed && !s.forceLock {
		if err := s.createUnnamed(ctx, name, r, size); err != nil {
			return s.fail("create", name, err)
		}
	} else {
		tmp, err := s.writeTemp(ctx, r, size)
		if err != nil {
			return s.fail("create", name, err)
		}
		defer os.Remove(tmp) // after link the object keeps its own name; after rename tmp is gone
		if err := s.publish(ctx, tmp, name); err != nil {
			return s.fail("create", name, err)
		}
	}
	s.remember(path.Dir(name))
	s.mu.Lock()
	s.unsynced = append(s.unsynced, name)
	s.mu.Unlock()
	return nil
}

// writeTemp copies exactly size bytes of r to a new file in tmp/ and returns
// its path. On error the file is removed. It is made durable by Sync.
func (s *Store) writeTemp(ctx context.Context, r io.Reader, size int64) (tmp string, err error) {
	f, err := os.CreateTemp(s.tmp, "create-*") // O_EXCL, 0600
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(ctx, f, r, size); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// fill copies exactly size bytes of r into the new file f, and checks that r
// ends there.
func fill(ctx context.Context, f *os.File, r io.Reader, size int64) error {
	if err := f.Chmod(fileMode); err != nil { // in case the umask removed owner bits
		return err
	}
	n, err := io.CopyN(f, ctxReader{ctx, r}, size)
	if err == io.EOF {
		return fmt.Errorf("source ended after %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
	}
	if err != nil {
		return err
	}
	var extra [1]byte
	switch m, err := io.ReadFull(r, extra[:]); {
	case m > 0:
		return fmt.Errorf("source has more than %d bytes", size)
	case err != io.EOF:
		return fmt.Errorf("source after %d bytes: %w", size, err)
	}
	startWriteback(f)
	return nil
}

// createUnnamed writes the object to an unnamed file and links it under its
// name, create-exclusively.
func (s *Store) createUnnamed(ctx context.Context, name string, r io.Reader, size int64) error {
	f, err := openUnnamed(s.tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := fill(ctx, f, r, size); err != nil {
		return err
	}
	err = s.linkAs(name, func(final string) error { return linkUnnamed(f, final) })
	if errors.Is(err, fs.ErrExist) {
		return remote.ErrExists
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// publish gives the complete temp file its final name, create-exclusively.
func (s *Store) publish(ctx context.Context, tmp, name string) error {
	if s.forceLock || s.noLink.Load() {
		return s.renameLocked(ctx, tmp, name)
	}
	err := s.linkAs(name, func(final string) error { return os.Link(tmp, final) })
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return remote.ErrExists
	case !linkUnsupported(err):
		return err
	}
	s.noLink.Store(true)
	return s.renameLocked(ctx, tmp, name)
}

// linkAs gives a complete file the object name with link (which gets the
// final path), making the parent directories when they are missing.
func (s *Store) linkAs(name string, link func(final string) error) error {
	final := s.path(name)
	err := link(final)
	if errors.Is(err, fs.ErrNotExist) { // parent directory missing
		if err := s.mkdirs(path.Dir(name)); err != nil {
			return err
		}
		err = link(final)
	}
	return err
}

// linkUnsupported reports whether err from link(2) means the filesystem has no
// hard links (FAT, exFAT, some network filesystems).
func linkUnsupported(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EXDEV) ||
		errors.Is(err, errors.ErrUnsupported) // ENOSYS, ENOTSUP, EOPNOTSUPP
}

// renameLocked is the fallback publish for filesystems without hard links: under
// the store lock, check that the name is free and rename the temp file onto it.
func (s *Store) renameLocked(ctx context.Context, tmp, name string) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	final := s.path(name)
	if _, err := os.Lstat(final); err == nil {
		return remote.ErrExists
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := s.mkdirs(path.Dir(name)); err != nil {
		return err
	}
	return os.Rename(tmp, final)
}

// lock takes the fallback lock <root>/tmp/lock and returns the function that
// releases it. It retries for up to lockWait and breaks a lock older than
// lockStale.
func (s *Store) lock(ctx context.Context) (unlock func(), err error) {
	lockPath := filepath.Join(s.tmp, lockName)
	deadline := time.Now().Add(lockWait)
	delay := time.Millisecond
	for {
		f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, fileMode)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid()) // for humans only
			f.Close()
			return func() { os.Remove(lockPath) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if fi, err := os.Stat(lockPath); err == nil && time.Since(fi.ModTime()) > lockStale {
			os.Remove(lockPath) // abandoned by a writer that crashed
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock %s held for more than %v (remove it if no chatvault is running)", lockPath, lockWait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// mkdirs creates directory dir (slash-separated, relative) and its missing
// parents with mode 0700, remembering each created directory and its parent for
// Sync. It never creates the root.
func (s *Store) mkdirs(dir string) error {
	if dir == "." {
		return nil
	}
	err := os.Mkdir(s.path(dir), dirMode)
	if errors.Is(err, fs.ErrNotExist) {
		if err := s.mkdirs(path.Dir(dir)); err != nil {
			return err
		}
		err = os.Mkdir(s.path(dir), dirMode)
	}
	if errors.Is(err, fs.ErrExist) { // made by a concurrent writer, or already there
		return nil
	}
	if err == nil {
		err = os.Chmod(s.path(dir), dirMode)
	}
	if err != nil {
		return err
	}
	s.remember(dir, path.Dir(dir))
	return nil
}

// Sync fsyncs every directory changed by Create or Delete since the last Sync,
// making the new names durable. Directories that could not be synced stay
// remembered for the next Sync.
func (s *Store) Sync(ctx context.Context) error {
	s.mu.Lock()
	files := s.unsynced
	s.unsynced = nil
	s.mu.Unlock()
	if err := s.syncFiles(files); err != nil {
		s.mu.Lock()
		s.unsynced = append(s.unsynced, files...)
		s.mu.Unlock()
		return s.fail("sync", ".", err)
	}
	s.mu.Lock()
	dirs := slices.Sorted(maps.Keys(s.dirty))
	clear(s.dirty)
	s.mu.Unlock()
	for i, dir := range dirs {
		err := ctx.Err()
		if err == nil {
			err = syncDir(s.path(dir))
		}
		if err != nil {
			s.remember(dirs[i:]...)
			return s.fail("sync", dir, err)
		}
	}
	return nil
}

// syncFiles makes the contents of the files durable: one syncfs(2) for many
// files where the system has it, else one fsync each.
func (s *Store) syncFiles(files []string) error {
	if len(files) == 0 {
		return nil
	}
	if len(files) > 4 {
		if done, err := SyncFS(s.root); done {
			return err
		}
	}
	for _, name := range files {
		f, err := os.Open(s.path(name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since
		}
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) remember(dirs ...string) {
	s.mu.Lock()
	for _, d := range dirs {
		s.dirty[d] = true
	}
	s.mu.Unlock()
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" { // directories cannot be fsynced; NTFS journals names
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) { // removed by someone else: nothing to sync
			return nil
		}
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported) {
		return nil // the filesystem cannot fsync directories
	}
	return err
}

// Open implements [remote.Store.Open].
func (s *Store) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := s.check(ctx, "open", name); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(name))
	if err == nil {
		var fi fs.FileInfo
		if fi, err = f.Stat(); err == nil && !fi.Mode().IsRegular() {
			err = remote.ErrNotFound
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		return nil, s.fail("open", name, notFound(err))
	}
	return f, nil
}

// Stat implements [remote.Store.Stat].
func (s *Store) Stat(ctx context.Context, name string) (remote.Info, error) {
	if err := s.check(ctx, "stat", name); err != nil {
		return remote.Info{}, err
	}
	fi, err := os.Stat(s.path(name))
	if err == nil && !fi.Mode().IsRegular() {
		err = remote.ErrNotFound
	}
	if err != nil {
		return remote.Info{}, s.fail("stat", name, notFound(err))
	}
	return remote.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List implements [remote.Store.List]. It reads only the directory named by the
// prefix up to its last slash and, below it, the subdirectories that can hold
// matching names. Only regular files are listed; symbolic links are not followed.
func (s *Store) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	dir := prefix[:strings.LastIndex(prefix, "/")+1] // "" or "a/b/"
	if dir != "" && validName(strings.TrimSuffix(dir, "/")) != nil {
		return nil // no valid name can start with prefix
	}
	if _, err := os.Stat(s.path(dir)); err != nil {
		if notFound(err) == remote.ErrNotFound && s.present() {
			return nil // the prefix's directory does not exist: nothing matches
		}
		return s.fail("list", prefix, notFound(err))
	}
	err := s.walk(ctx, dir, prefix, fn)
	var stop stopError
	if errors.As(err, &stop) {
		return stop.err
	}
	if err != nil {
		return s.fail("list", prefix, err)
	}
	return nil
}

// stopError carries fn's error out of walk, so that List returns it unchanged.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }

// walk lists directory dir ("" for the root, otherwise ending in "/"), calling fn
// for regular files whose names start with prefix and descending only into
// directories that can hold such names. Entries are visited in the lexical order
// of the full names they hold: a directory "a" sorts as "a/", so that "a.txt"
// comes before "a/b".
func (s *Store) walk(ctx context.Context, dir, prefix string, fn func(remote.Info) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(s.path(dir))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while listing
		}
		return err
	}
	key := func(e fs.DirEntry) string {
		if e.IsDir() {
			return e.Name() + "/"
		}
		return e.Name()
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(key(a), key(b)) })
	for _, e := range entries {
		name := dir + key(e)
		switch {
		case dir == "" && e.Name() == "tmp":
		case e.IsDir():
			if strings.HasPrefix(name, prefix) || strings.HasPrefix(prefix, name) {
				if err := s.walk(ctx, name, prefix, fn); err != nil {
					return err
				}
			}
		case e.Type().IsRegular() && strings.HasPrefix(name, prefix):
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted while listing
			} else if err != nil {
				return err
			}
			if err := fn(remote.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
				return stopError{err}
			}
		}
	}
	return nil
}

// Delete implements [remote.Store.Delete]. It removes only the file: directories
// are left in place, possibly empty.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := s.check(ctx, "delete", name); err != nil {
		return err
	}
	p := s.path(name)
	fi, err := os.Lstat(p)
	if err == nil && fi.IsDir() {
		return nil // no object has this name
	}
	if err == nil {
		err = os.Remove(p)
	}
	if err != nil {
		if notFound(err) == remote.ErrNotFound && s.present() {
			return nil
		}
		return s.fail("delete", name, err)
	}
	s.remember(path.Dir(name))
	return nil
}

// RemoveStaleTemp deletes the files in <root>/tmp/ last modified more than
// olderThan ago: leftovers of Creates that crashed or were killed. olderThan must
// comfortably exceed the time one Create takes. The fallback lock file is left
// alone (Create breaks it itself when it is stale). It returns how many files it
// removed.
func (s *Store) RemoveStaleTemp(olderThan time.Duration) (int, error) {
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return 0, s.fail("remove stale temp", "tmp/", err)
	}
	n := 0
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == lockName {
			continue
		}
		fi, err := e.Info()
		if err == nil && time.Since(fi.ModTime()) > olderThan {
			if err = os.Remove(filepath.Join(s.tmp, e.Name())); err == nil {
				n++
			}
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, s.fail("remove stale temp", "tmp/"+e.Name(), err))
		}
	}
	return n, errors.Join(errs...)
}

// path maps a valid object name (or "." for the root) to its file.
func (s *Store) path(name string) string {
	return filepath.Join(s.root, filepath.FromSlash(name))
}

// check validates name and ctx at the start of an operation.
func (s *Store) check(ctx context.Context, op, name string) error {
	if err := validName(name); err != nil {
		return fmt.Errorf("local store %s: %s %q: %w", s.root, op, name, err)
	}
	if err := ctx.Err(); err != nil {
		return s.fail(op, name, err)
	}
	return nil
}

func validName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case strings.ContainsAny(name, "\\\x00"):
		return fmt.Errorf("%w: backslash or NUL", ErrInvalidName)
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("%w: absolute", ErrInvalidName)
	}
	for i, seg := range strings.Split(name, "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return fmt.Errorf("%w: empty, \".\" or \"..\" segment", ErrInvalidName)
		case i == 0 && seg == "tmp":
			return fmt.Errorf("%w: tmp/ is reserved", ErrInvalidName)
		}
	}
	if !filepath.IsLocal(filepath.FromSlash(name)) { // e.g. reserved names on Windows
		return fmt.Errorf("%w: not a local path", ErrInvalidName)
	}
	return nil
}

// present reports whether the store directory is still there (see Availability
// in the package documentation).
func (s *Store) present() bool {
	fi, err := os.Stat(s.tmp)
	return err == nil && fi.IsDir()
}

// notFound turns the errors that mean "no such file" into remote.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return remote.ErrNotFound
	}
	return err
}

// fail formats the error of op on name as one line naming the store, the
// operation, the object and the cause. An OS error or a missing object while the
// store directory is gone becomes remote.ErrUnavailable.
func (s *Store) fail(op, name string, err error) error {
	err = cause(err)
	var errno syscall.Errno
	if (errors.As(err, &errno) || errors.Is(err, remote.ErrNotFound)) && !s.present() {
		err = fmt.Errorf("%w: %s is missing (removed or unmounted?)", remote.ErrUnavailable, s.tmp)
	}
	return fmt.Errorf("local store %s: %s %s: %w", s.root, op, name, err)
}

// cause strips the path from an os error: messages name the object instead.
func cause(err error) error {
	switch e := err.(type) {
	case *fs.PathError:
		return e.Err
	case *os.LinkError:
		return e.Err
	case *os.SyscallError:
		return e.Err
	}
	return err
}

// ctxReader makes a copy stop when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
