package local

import (
	"os"

	"golang.org/x/sys/unix"
)

// SyncFS flushes every file of the filesystem holding dir with one syncfs(2)
// (Linux). done is false where that is not possible (another system, dir
// unreadable): the caller then fsyncs file by file.
func SyncFS(dir string) (done bool, err error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	return true, unix.Syncfs(int(f.Fd()))
}
