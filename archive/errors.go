package archive

import (
	"errors"
	"fmt"

	"github.com/chatvault/chatvault/remote"
)

// Errors callers match with errors.Is; the CLI maps each to an exit code.
var (
	// ErrIntegrity: stored data is damaged, truncated, missing, forked or rolled back.
	ErrIntegrity = errors.New("integrity check failed")
	// ErrWrongKey: an intact wrapper refused the secret given, or no secret given opens any wrapper.
	ErrWrongKey = errors.New("wrong key")
	// ErrConflict: another writer committed first, or a lease is held; rerun.
	ErrConflict = errors.New("conflict")
	// ErrNotFound: no archive (or conversation, version) by that name.
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous: a name matches more than one archive or conversation.
	ErrAmbiguous = errors.New("ambiguous name")
	// ErrLocked: an operation needs the archive key but the archive was opened without it.
	ErrLocked = errors.New("archive is locked")
)

// integrityError names the object and the fault: "objects/1f2e…: size 10, expected 12".
func integrityError(object string, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrIntegrity, object, fmt.Sprintf(format, args...))
}

// missingOr turns a store's ErrNotFound into an integrity failure naming the
// object; other errors (an unreachable store) pass through.
func missingOr(name string, err error) error {
	if errors.Is(err, remote.ErrNotFound) {
		return integrityError(name, "missing")
	}
	return fmt.Errorf("%s: %w", name, err)
}
