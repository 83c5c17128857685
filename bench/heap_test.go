package bench

import (
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"testing"
	"time"
)

// heapMeter samples the Go heap while a benchmark runs and reports its peaks:
// peak-live-MiB is the largest heap the GC found live (what must be held),
// peak-heap-MiB the largest heap in use including garbage not yet collected
// (closer to what the process's RSS follows). With BENCH_HEAPPROFILE=FILE it
// also writes a heap profile (as of the last GC) at each new live peak, so
// that `go tool pprof -sample_index=inuse_space FILE` shows what the peak was
// made of.
type heapMeter struct {
	b          *testing.B
	stop, done chan struct{}
	mu         sync.Mutex
	live, heap uint64
}

func startHeap(b *testing.B) *heapMeter {
	m := &heapMeter{b: b, stop: make(chan struct{}), done: make(chan struct{})}
	profile := os.Getenv("BENCH_HEAPPROFILE")
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(m.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var profiled uint64
		for {
			metrics.Read(samples)
			live, heap := samples[0].Value.Uint64(), samples[1].Value.Uint64()
			m.mu.Lock()
			m.live, m.heap = max(m.live, live), max(m.heap, heap)
			m.mu.Unlock()
			if profile != "" && live > profiled+profiled/10 {
				profiled = live
				if f, err := os.Create(profile); err == nil {
					pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *heapMeter) report() {
	close(m.stop)
	<-m.done
	m.b.ReportMetric(float64(m.live)/(1<<20), "peak-live-MiB")
	m.b.ReportMetric(float64(m.heap)/(1<<20), "peak-heap-MiB")
}
