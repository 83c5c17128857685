package device

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
)

// FileName is the name of the identity file Create writes in its directory.
const FileName = "device.key"

// maxIdentityFile bounds what Load reads; an identity file is about 150 bytes.
const maxIdentityFile = 64 << 10

var (
	// ErrExists: Create found an identity file already there.
	ErrExists = errors.New("a device identity already exists")
	// ErrNotIdentity: Load found no single X25519 age identity in the file.
	ErrNotIdentity = errors.New("not an age X25519 identity file")
)

// Identity is a device's age X25519 key pair.
type Identity struct {
	id   *age.X25519Identity
	path string
}

// Recipient returns the public key, "age1…": what wrappers are made for.
func (i *Identity) Recipient() string { return i.id.Recipient().String() }

// AgeIdentity returns the identity for age.Decrypt (and Unwrap).
func (i *Identity) AgeIdentity() age.Identity { return i.id }

// Path returns the file the identity was created in or loaded from.
func (i *Identity) Path() string { return i.path }

// Unwrap is Unwrap([]age.Identity{i.AgeIdentity()}, archiveID, armored).
func (i *Identity) Unwrap(archiveID, armored string) ([]byte, error) {
	return Unwrap([]age.Identity{i.id}, archiveID, armored)
}

// DefaultDir returns the directory of the default identity:
// os.UserConfigDir()/chatvault.
func DefaultDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("device: locating the configuration directory: %w", err)
	}
	return filepath.Join(dir, "chatvault"), nil
}

// DefaultPath returns the path of the default identity file:
// os.UserConfigDir()/chatvault/device.key.
func DefaultPath() (string, error) {
	dir, err := DefaultDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, FileName), nil
}

// Create generates a new identity and writes it to dir/device.key in
// age-keygen's format, mode 0600, creating dir with mode 0700 if needed. It
// refuses (ErrExists) to replace an existing file: losing a device key loses
// access to every archive wrapped only to it.
func Create(dir string) (*Identity, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	path := filepath.Join(dir, FileName)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("device: generating a key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("device: %s: %w; remove it only if no archive needs it", path, ErrExists)
	}
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	content := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n",
		time.Now().Format(time.RFC3339), id.Recipient(), id)
	_, err = io.WriteString(f, content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("device: writing %s: %w", path, err)
	}
	syncDir(dir)
	return &Identity{id: id, path: path}, nil
}

// syncDir makes a new directory entry durable (best effort: not every
// platform can fsync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Load reads an identity file holding exactly one age X25519 identity (the
// format Create and age-keygen write; comment lines are ignored).
func Load(path string) (*Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIdentityFile+1))
	if err != nil {
		return nil, fmt.Errorf("device: reading %s: %w", path, err)
	}
	defer clear(data)
	if len(data) > maxIdentityFile {
		return nil, fmt.Errorf("device: %s: %w: larger than %d bytes", path, ErrNotIdentity, maxIdentityFile)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("device: %s: %w: %w", path, ErrNotIdentity, err)
	}
	if len(ids) != 1 {
		return nil, fmt.Errorf("device: %s: %w: it holds %d identities, want 1", path, ErrNotIdentity, len(ids))
	}
	id, ok := ids[0].(*age.X25519Identity)
	if !ok {
		return nil, fmt.Errorf("device: %s: %w: the identity is of type %T", path, ErrNotIdentity, ids[0])
	}
	return &Identity{id: id, path: path}, nil
}
