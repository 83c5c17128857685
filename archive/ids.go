package archive

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// IDLen is the size of archive, conversation and object ids.
const IDLen = 16

// ID is a random 128-bit identifier of an archive, a conversation or an object.
type ID [IDLen]byte

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short is the first 12 hex digits, for tables and file names.
func (id ID) Short() string { return id.String()[:12] }

// MarshalText lets IDs appear as hex in JSON.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

func (id *ID) UnmarshalText(b []byte) error {
	parsed, err := ParseID(string(b))
	*id = parsed
	return err
}

// ParseID parses 32 hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDLen {
		return id, fmt.Errorf("id %q: want %d hex digits", s, 2*IDLen)
	}
	_, err := hex.Decode(id[:], []byte(s))
	if err != nil {
		return id, fmt.Errorf("id %q: %w", s, err)
	}
	return id, nil
}

func newID(r io.Reader) (ID, error) {
	var id ID
	_, err := io.ReadFull(r, id[:])
	return id, err
}

func newKey(r io.Reader) ([]byte, error) {
	k := make([]byte, 32)
	_, err := io.ReadFull(r, k)
	return k, err
}

var defaultRand io.Reader = rand.Reader

// Where an object lives inside its archive.
type area uint8

const (
	areaObjects area = 0
	areaKeys    area = 1
)

func (a area) dir() string {
	if a == areaKeys {
		return "keys"
	}
	return "objects"
}

// paths builds the store names of one archive's objects.
type paths string

func pathsFor(id ID) paths { return paths("archives/" + id.String() + "/") }

func (p paths) object(a area, id ID) string { return string(p) + a.dir() + "/" + id.String() }
func (p paths) commit(n uint64) string      { return fmt.Sprintf("%scommits/%020d", p, n) }
func (p paths) commits() string             { return string(p) + "commits/" }
func (p paths) leases() string              { return string(p) + "leases/" }
func (p paths) rebasedDir() string          { return string(p) + "rebased/" }
func (p paths) rebased(n uint64) string     { return fmt.Sprintf("%srebased/%020d", p, n) }
func (p paths) root() string                { return string(p) }

// parseCommitName returns n for ".../commits/<20 digits>".
func parseCommitName(name string) (uint64, bool) {
	i := strings.LastIndexByte(name, '/')
	digits := name[i+1:]
	if len(digits) != 20 {
		return 0, false
	}
	var n uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, n > 0
}
