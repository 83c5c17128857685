//go:build !linux

package local

// syncFS is only available on Linux; elsewhere files are fsynced one by one.
func syncFS(dir string) (done bool, err error) { return false, nil }
