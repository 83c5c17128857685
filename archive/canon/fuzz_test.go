package canon

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"testing/iotest"
	"time"
)

// oracle decides with encoding/json alone what ParseLine must return for in.
func oracle(t *testing.T, in []byte) (Message, bool) {
	if !json.Valid(in) || jsonDepth(in) > MaxDepth {
		return Message{}, false
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		t.Fatalf("json.Decoder on a json.Valid input: %v", err)
	}
	if tok != json.Delim('{') {
		return Message{}, false
	}
	// json.Unmarshal into a map keeps the last duplicate silently, so count
	// the top-level keys with a token walk.
	count := map[string]int{}
	last := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("key: %v", err)
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("value of %q: %v", key, err)
		}
		count[key]++
		last[key] = raw
	}
	str := func(key string) (string, bool) {
		raw := last[key]
		if len(raw) == 0 || raw[0] != '"' {
			return "", false
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("unmarshal %s: %v", raw, err)
		}
		return s, true
	}
	var m Message
	for _, k := range []struct {
		name string
		dst  *string
	}{{"conversation", &m.Conversation}, {"id", &m.ID}, {"time", &m.TimeText}, {"kind", &m.Kind}} {
		s, ok := str(k.name)
		if count[k.name] != 1 || !ok {
			return Message{}, false
		}
		*k.dst = s
	}
	m.ConversationName, _ = str("conversation_name")
	if m.Kind != "message" && m.Kind != "service" {
		return Message{}, false
	}
	if m.Time, err = time.Parse(time.RFC3339Nano, m.TimeText); err != nil {
		return Message{}, false
	}
	m.Line = in
	return m, true
}

// jsonDepth returns the deepest array/object nesting of valid JSON.
func jsonDepth(b []byte) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

func checkParseLine(t *testing.T, in []byte) {
	got, err := ParseLine(in)
	want, ok := oracle(t, in)
	if ok != (err == nil) {
		t.Fatalf("ParseLine(%q): err = %v, but encoding/json says ok = %v", in, err, ok)
	}
	if err != nil {
		var le *LineError
		if !errors.As(err, &le) || !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v (%T) is not a *LineError wrapping ErrMalformed", err, err)
		}
		if le.Offset < -1 || le.Offset > len(in) || le.Reason == "" {
			t.Fatalf("bad error %+v for %q", le, in)
		}
		return
	}
	if !want.Time.Equal(got.Time) || want.Time.Location().String() != got.Time.Location().String() {
		t.Errorf("Time = %v, want %v", got.Time, want.Time)
	}
	_, wo := want.Time.Zone()
	_, go_ := got.Time.Zone()
	if wo != go_ {
		t.Errorf("Time offset = %d, want %d", go_, wo)
	}
	if len(got.Line) != len(in) || (len(in) > 0 && &got.Line[0] != &in[0]) {
		t.Errorf("Line does not alias the input")
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	got.Line, want.Line = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseLine(%q)\n got %+v\nwant %+v", in, got, want)
	}
}

// FuzzParseLineDifferential checks ParseLine against encoding/json on the
// input itself and on the input placed inside an otherwise valid message as
// a value, as a string's contents and as a key, so that random fragments
// exercise every part of the tokenizer without having to form a whole valid
// message first.
func FuzzParseLineDifferential(f *testing.F) {
	const head = `{"conversation":"c","time":"2024-03-01T10:00:00Z","kind":"message"`
	f.Fuzz(func(t *testing.T, in []byte) {
		checkParseLine(t, in)
		checkParseLine(t, slices.Concat([]byte(head+`,"id":"1","raw":`), in, []byte(`}`)))
		checkParseLine(t, slices.Concat([]byte(head+`,"id":"`), in, []byte(`"}`)))
		checkParseLine(t, slices.Concat([]byte(head+`,"id":"1","`), in, []byte(`":0}`)))
	})
}

// expectLines is the Reader's contract restated simply: split at '\n',
// drop one trailing '\r', skip blank lines, bound the length, ParseLine.
func expectLines(data []byte, max int) []result {
	lines := bytes.Split(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	var want []result
	for i, l := range lines {
		l = bytes.TrimSuffix(l, []byte("\r"))
		n := i + 1
		switch {
		case len(l) > max:
			want = append(want, result{line: n, err: (&LineError{Name: "f", Line: n, Offset: -1,
				Reason: "line longer than " + strconv.Itoa(max) + " bytes"}).Error()})
		case len(bytes.Trim(l, " \t\r")) == 0:
		default:
			m, err := ParseLine(l)
			if err != nil {
				le := err.(*LineError)
				le.Name, le.Line = "f", n
				want = append(want, result{line: n, err: le.Error()})
			} else {
				want = append(want, result{id: m.ID + "|" + string(l), line: n})
			}
		}
	}
	return want
}

func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		configs := []struct {
			bufSize, max int
			wrap         func(io.Reader) io.Reader
		}{
			{16, 40, iotest.OneByteReader},
			{16, 1 << 20, iotest.HalfReader},
			{readBufSize, MaxLineSize, func(r io.Reader) io.Reader { return r }},
		}
		for _, c := range configs {
			want := expectLines(data, c.max)
			r := newReader(c.wrap(bytes.NewReader(data)), "f", c.bufSize, c.max)
			var got []result
			for {
				m, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					if !errors.As(err, new(*LineError)) {
						t.Fatalf("non-line error %v", err)
					}
					got = append(got, result{line: r.LineNumber(), err: err.Error()})
					continue
				}
				got = append(got, result{id: m.ID + "|" + string(m.Line), line: r.LineNumber()})
				if len(got) > len(data)+1 {
					t.Fatal("Reader returns more results than there are lines")
				}
			}
			if len(got) != len(want) {
				t.Fatalf("bufSize %d max %d: got %d results, want %d\n got %+v\nwant %+v", c.bufSize, c.max, len(got), len(want), got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("bufSize %d max %d: result %d = %#v, want %#v", c.bufSize, c.max, i, got[i], want[i])
				}
			}
		}
	})
}

// TestSeedCorpora fails if a fuzz seed corpus went missing: without it the
// fuzz targets above run on nothing in an ordinary "go test".
func TestSeedCorpora(t *testing.T) {
	for _, name := range []string{"FuzzParseLineDifferential", "FuzzReader"} {
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) < 15 {
			t.Errorf("testdata/fuzz/%s has %d seeds, want at least 15", name, len(files))
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("go test fuzz v1\n")) {
				t.Errorf("%s is not a Go fuzz corpus file", f)
			}
		}
	}
}
