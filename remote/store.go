// Package remote defines what chatvault needs from a place that keeps archives, and
// holds its implementations (a local directory in [remote/local]; S3 comes later).
//
// A store is a flat namespace of immutable objects with slash-separated names such as
// "archives/<id>/objects/<object-id>". Stores only ever see opaque names and
// ciphertext: nothing in this package or below it handles keys or plaintext.
//
// # Contract
//
// Objects are written once and never modified: [Store.Create] is create-exclusive
// and reports [ErrExists] when the name is taken, which is how two writers racing for
// the same commit number learn that one of them lost. A missing object is
// [ErrNotFound] from every method that names one. A store that cannot be reached
// (network down, disk unmounted) wraps [ErrUnavailable].
package remote

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors every store reports in the same way, so that callers can match them with
// errors.Is whatever the store.
var (
	// ErrNotFound: the named object does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrExists: Create found the name already taken (a lost create-exclusive race).
	ErrExists = errors.New("object already exists")
	// ErrUnavailable: the store could not be reached or refused to serve.
	ErrUnavailable = errors.New("store unavailable")
)

// Info describes one stored object.
type Info struct {
	Name    string // full object name, relative to the store root
	Size    int64
	ModTime time.Time
	// SHA256 is the full-object SHA-256 the store checked when the object
	// was written and keeps with it (S3 with a SHA-256 checksum), set by
	// Stat when the store can tell without reading the object; nil otherwise.
	SHA256 []byte
}

// Store is the storage seam: the archive engine reads and writes objects only
// through it.
type Store interface {
	// Create stores a new object holding exactly size bytes read from r. It is
	// create-exclusive: if name exists it returns an error wrapping ErrExists and
	// leaves the existing object untouched. A failed or interrupted Create leaves
	// either no object or the complete one, never a partial object under name.
	// Create reads r on to io.EOF after the size bytes and stores nothing if r
	// returns any other error, even with its last bytes: callers that check
	// bytes as they stream (push, pull) refuse a damaged object that way.
	Create(ctx context.Context, name string, r io.Reader, size int64) error
	// Open returns the object's bytes. The caller must Close the reader.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Stat returns the object's size and time without reading it.
	Stat(ctx context.Context, name string) (Info, error)
	// List calls fn for every object whose name starts with prefix, in
	// lexical order of name. An error returned by fn stops the listing and is
	// returned.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// Delete removes the object, every stored version of it included. Deleting a
	// missing object is not an error.
	Delete(ctx context.Context, name string) error
	// String names the store for messages, e.g. "/home/me/.local/share/chatvault".
	String() string
}

// Syncer is implemented by stores whose Create does not make new names durable
// by itself (the local store batches its directory fsyncs). The archive engine
// calls Sync once before it writes a commit, so that every object the commit
// names is durable before the commit is.
type Syncer interface {
	Sync(ctx context.Context) error
}
