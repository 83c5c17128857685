package archive

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/chatvault/chatvault/crypto/seal"
)

// Leases tell prune that a writer is at work: objects younger than a live
// lease's writer may not be referenced yet. A lease is a small plaintext object
// under leases/, replaced (never overwritten) every leaseRefresh.
const (
	leaseRefresh = time.Minute
	leaseTTL     = 10 * time.Minute
)

type lease struct {
	a    *Archive
	mu   sync.Mutex
	name string
	stop chan struct{}
	done chan struct{}
}

func (a *Archive) takeLease(ctx context.Context) (*lease, error) {
	l := &lease{a: a, stop: make(chan struct{}), done: make(chan struct{})}
	if err := l.renew(ctx); err != nil {
		return nil, err
	}
	go func() {
		defer close(l.done)
		t := time.NewTicker(leaseRefresh)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				if err := l.renew(ctx); err != nil {
					a.opts.Warn(fmt.Sprintf("could not renew lease: %v", err))
				}
			}
		}
	}()
	return l, nil
}

func (l *lease) renew(ctx context.Context) error {
	id, err := newID(l.a.opts.Rand)
	if err != nil {
		return err
	}
	body := []byte(l.a.opts.Now().UTC().Format(time.RFC3339) + "\n")
	data, err := encodeHashed(plainHeader(seal.KindLease, l.a.id, nil, id[:]), body)
	if err != nil {
		return err
	}
	name := l.a.paths.leases() + id.String()
	if err := l.a.st.Create(ctx, name, bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("writing lease %s: %w", name, err)
	}
	l.mu.Lock()
	old := l.name
	l.name = name
	l.mu.Unlock()
	if old != "" {
		return l.a.st.Delete(ctx, old)
	}
	return nil
}

// release stops renewing and deletes the lease (with a fresh context, so that
// an interrupted run still cleans up).
func (l *lease) release() {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	name := l.name
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = l.a.st.Delete(ctx, name)
}
