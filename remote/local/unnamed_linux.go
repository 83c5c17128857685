package local

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openUnnamed creates a file without a name in dir (O_TMPFILE): it gets one
// only through linkUnnamed, and vanishes if the process dies before that.
func openUnnamed(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, fileMode)
	if err != nil {
		return nil, &os.PathError{Op: "open unnamed file in", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir+"/(unnamed)"), nil
}

// linkUnnamed gives an unnamed file the name final, create-exclusively
// (EEXIST when it is taken), through its /proc/self/fd link: linkat with
// AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH.
func linkUnnamed(f *os.File, final string) error {
	err := unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", f.Fd()), unix.AT_FDCWD, final, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: final, Err: err}
	}
	return nil
}
