package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// State is this device's memory of the archives it has seen, kept in the user's
// state directory (mode 0700, files 0600): every commit it verified, the pinned
// fingerprint, and a cache of labels so that names resolve without unlocking.
// It holds no secrets.
type State struct {
	Dir string
}

// Pin is what the device remembers of one archive.
type Pin struct {
	Fingerprint Digest            `json:"fingerprint"`
	Commits     map[string]Digest `json:"commits"`    // commit number → SHA-256 of the commit object
	LocalOnly   []uint64          `json:"local_only"` // commits made here and not yet pushed
	// Stores records, per store (its String), the newest commit this device
	// saw there. A store whose head is below the device's newest known commit
	// is behind (fine: it was not pushed to yet) unless the device saw a newer
	// commit in that very store, which is a rollback. A pin without the map
	// (written by an older chatvault) treats every store as the one it saw.
	Stores   map[string]uint64 `json:"stores,omitempty"`
	Label    string            `json:"label,omitempty"`
	Messages int64             `json:"messages,omitempty"`
}

func (s State) file(id ID) string { return filepath.Join(s.Dir, "archives", id.String()+".json") }

// Load returns the pin of an archive, or nil if the device has never seen it.
func (s State) Load(id ID) (*Pin, error) {
	if s.Dir == "" {
		return nil, nil
	}
	b, err := os.ReadFile(s.file(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	var p Pin
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("state file %s is damaged: %w", s.file(id), err)
	}
	return &p, nil
}

// Save writes the pin atomically (temp file and rename).
func (s State) Save(id ID, p *Pin) error {
	if s.Dir == "" {
		return nil
	}
	dir := filepath.Join(s.Dir, "archives")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.file(id)); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// Labels returns the cached labels of every archive the device knows.
func (s State) Labels() (map[ID]string, error) {
	out := map[ID]string{}
	if s.Dir == "" {
		return out, nil
	}
	entries, err := os.ReadDir(filepath.Join(s.Dir, "archives"))
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if filepath.Ext(name) != ".json" {
			continue
		}
		id, err := ParseID(name[:len(name)-5])
		if err != nil {
			continue
		}
		if p, err := s.Load(id); err == nil && p != nil && p.Label != "" {
			out[id] = p.Label
		}
	}
	return out, nil
}

func commitKey(n uint64) string { return strconv.FormatUint(n, 10) }

// Forget removes everything the device remembers of an archive (after a
// shred).
func (s State) Forget(id ID) error {
	if s.Dir == "" {
		return nil
	}
	if err := os.Remove(s.file(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}
