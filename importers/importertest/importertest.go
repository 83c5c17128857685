// Package importertest holds what the importers' tests share.
package importertest

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/importers"
)

// PeakHeap reads every message of the source that open returns and reports
// the highest HeapInuse seen (sampled every millisecond by a goroutine and
// every 1000 messages) and the message count. Importers use it to show that
// their memory does not grow with the export.
func PeakHeap(t testing.TB, open func() (importers.Source, error)) (uint64, int) {
	t.Helper()
	runtime.GC()
	var peak atomic.Uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		for {
			p := peak.Load()
			if ms.HeapInuse <= p || peak.CompareAndSwap(p, ms.HeapInuse) {
				return
			}
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				sample()
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	src, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := 0
	for {
		_, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n%1000 == 0 {
			sample()
		}
	}
	sample()
	return peak.Load(), n
}

// CheckGolden compares got with the file testdata/golden/name, or rewrites
// that file when update is set (each package's -update flag). A difference
// is reported at its first differing line.
func CheckGolden(t testing.TB, name, got string, update bool) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) == got {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run go test -update if the change is intended)", p, i+1, g, w)
		}
	}
}
