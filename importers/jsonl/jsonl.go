// Package jsonl imports chatvault's own canonical JSON Lines: each line is
// stored as it came, after validation by archive/canon.
package jsonl

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

// Detect reports whether path looks like canonical JSON Lines: a .jsonl or
// .ndjson name, or a first line that is an object with a "conversation" key.
func Detect(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson":
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	line, _, _ := strings.Cut(string(head[:n]), "\n")
	_, err = canon.ParseLine([]byte(strings.TrimSpace(line)))
	return err == nil
}

// Open reads the file at path ("-" is standard input).
func Open(ctx context.Context, path string, o importers.Options) (importers.Source, error) {
	if path == "-" {
		return New(os.Stdin, "<stdin>", o), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s := New(f, path, o)
	s.closer = f
	return s, nil
}

// New reads canonical JSON Lines from r; name is used in errors.
func New(r io.Reader, name string, o importers.Options) *Source {
	return &Source{r: canon.NewReader(r, name), o: o}
}

// Source is a stream of canonical messages from JSON Lines.
type Source struct {
	r      *canon.Reader
	o      importers.Options
	closer io.Closer
}

func (s *Source) Next() (canon.Message, error) {
	for {
		m, err := s.r.Next()
		switch {
		case err == nil:
			if s.o.Exclude[m.Conversation] {
				continue
			}
			return m, nil
		case s.o.SkipInvalid && errors.Is(err, canon.ErrMalformed):
			if s.o.Skipped != nil {
				s.o.Skipped(err)
			}
			continue
		}
		return m, err
	}
}

func (s *Source) Close() error {
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}
