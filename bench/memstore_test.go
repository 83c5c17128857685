package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chatvault/chatvault/remote"
)

// memStore is a remote.Store in memory, to measure the engine without the
// disk (the local store fsyncs every object).
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func newMemStore() *memStore { return &memStore{objs: map[string][]byte{}} }

func (m *memStore) Create(ctx context.Context, name string, r io.Reader, size int64) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if int64(len(b)) != size {
		return fmt.Errorf("%s: read %d bytes, expected %d", name, len(b), size)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[name]; ok {
		return fmt.Errorf("%s: %w", name, remote.ErrExists)
	}
	m.objs[name] = b
	return nil
}

func (m *memStore) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, remote.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memStore) Stat(ctx context.Context, name string) (remote.Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[name]
	if !ok {
		return remote.Info{}, fmt.Errorf("%s: %w", name, remote.ErrNotFound)
	}
	return remote.Info{Name: name, Size: int64(len(b)), ModTime: time.Unix(0, 0)}, nil
}

func (m *memStore) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	m.mu.Lock()
	var infos []remote.Info
	for n, b := range m.objs {
		if strings.HasPrefix(n, prefix) {
			infos = append(infos, remote.Info{Name: n, Size: int64(len(b)), ModTime: time.Unix(0, 0)})
		}
	}
	m.mu.Unlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	for _, info := range infos {
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Delete(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, name)
	return nil
}

func (m *memStore) String() string { return "mem" }
