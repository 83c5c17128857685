package jsonl

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/importers"
)

const in = `{"conversation":"a","id":"1","time":"2024-01-01T00:00:00Z","kind":"message"}
not json
{"conversation":"b","id":"1","time":"2024-01-01T00:00:00Z","kind":"message"}
`

func collect(t *testing.T, s *Source) ([]string, error) {
	var ids []string
	for {
		m, err := s.Next()
		if err == io.EOF {
			return ids, nil
		}
		if err != nil {
			return ids, err
		}
		ids = append(ids, m.Conversation)
	}
}

func TestStopsAtMalformedLine(t *testing.T) {
	_, err := collect(t, New(strings.NewReader(in), "x.jsonl", importers.Options{}))
	if !errors.Is(err, canon.ErrMalformed) || !strings.Contains(err.Error(), "x.jsonl:2") {
		t.Fatalf("got %v", err)
	}
}

func TestSkipInvalidAndExclude(t *testing.T) {
	var skipped []error
	got, err := collect(t, New(strings.NewReader(in), "x.jsonl", importers.Options{
		SkipInvalid: true, Skipped: func(err error) { skipped = append(skipped, err) },
		Exclude: map[string]bool{"b": true},
	}))
	if err != nil || len(got) != 1 || got[0] != "a" || len(skipped) != 1 {
		t.Fatalf("got %v %v, skipped %v", got, err, skipped)
	}
}
