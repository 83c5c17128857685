// Package importertest holds what the importers' tests share.
package importertest

import (
	"io"
	"runtime"
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
