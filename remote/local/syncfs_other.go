//go:build !linux

package local

import "os"

// SyncFS is only available on Linux; elsewhere files are fsynced one by one.
func SyncFS(dir string) (done bool, err error) { return false, nil }

// startWriteback is a no-op where sync_file_range(2) is missing.
func startWriteback(f *os.File) {}
