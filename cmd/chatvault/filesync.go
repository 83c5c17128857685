package main

import (
	"os"
	"sync"

	"github.com/chatvault/chatvault/remote/local"
)

// fileSyncer makes written files durable in the background, so that the
// restore does not wait for the disk after each file (an fsync in
// restoreFile.Close stalled the writing once per conversation) and the disk
// works while the restore goes on, instead of all at the end (one syncfs
// before the renames waited about a second per GiB).
//
// add hands over a file that is completely written, still open; the syncer
// fsyncs and closes it. Files that pile up while it is syncing are synced
// together: with one syncfs(2) of the filesystem when there are more than a
// few and the system has it (as the local store does), else one fsync each.
// wait returns once every file added is durable and closed, with the first
// error; after an error the remaining files are only closed.
type fileSyncer struct {
	dir   string // on the files' filesystem, for syncFS
	files chan *os.File
	done  chan struct{}
	once  sync.Once
	err   error // read after done
}

// syncerQueue bounds the files handed over and not synced yet, and so the
// open file descriptors: past it, add waits.
const syncerQueue = 64

func newFileSyncer(dir string) *fileSyncer {
	s := &fileSyncer{dir: dir, files: make(chan *os.File, syncerQueue), done: make(chan struct{})}
	go s.run()
	return s
}

// add hands over a written file. The caller must not use it any more.
func (s *fileSyncer) add(f *os.File) { s.files <- f }

// wait stops the syncer once every file added is durable and closed, and
// returns the first error. It may be called more than once; add must not be
// called after it.
func (s *fileSyncer) wait() error {
	s.once.Do(func() { close(s.files) })
	<-s.done
	return s.err
}

func (s *fileSyncer) run() {
	defer close(s.done)
	for f := range s.files {
		batch := []*os.File{f}
	more:
		for {
			select {
			case f, ok := <-s.files:
				if !ok {
					break more
				}
				batch = append(batch, f)
			default:
				break more
			}
		}
		s.sync(batch)
	}
}

// sync makes a batch durable and closes it.
func (s *fileSyncer) sync(batch []*os.File) {
	if s.err == nil {
		done := false
		if len(batch) > 4 {
			done, s.err = local.SyncFS(s.dir)
		}
		for _, f := range batch {
			if done || s.err != nil {
				break
			}
			s.err = f.Sync()
		}
	}
	for _, f := range batch {
		if err := f.Close(); s.err == nil {
			s.err = err
		}
	}
}
