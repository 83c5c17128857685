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

// startWriteback asks the kernel to start writing f's dirty pages to disk now,
// without waiting (sync_file_range(2), SYNC_FILE_RANGE_WRITE). It makes
// nothing durable (Sync does); it only spreads the disk writes over the run,
// so that the Sync before a commit does not wait for all of them at once. It
// is advice: errors are ignored.
func startWriteback(f *os.File) {
	_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
