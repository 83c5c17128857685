//go:build !unix

package local

func setUmask(int) (int, bool) { return 0, false }
