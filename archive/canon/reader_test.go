package canon

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func line(id string) string {
	return `{"conversation":"c","id":"` + id + `","time":"2024-03-01T10:00:00Z","kind":"message"}`
}

type result struct {
	id   string // "" for an error
	line int
	err  string // error text
}

func readAll(t *testing.T, r *Reader) []result {
	t.Helper()
	var got []result
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("Reader does not end")
		}
		m, err := r.Next()
		if err == io.EOF {
			// EOF is sticky.
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("Next after EOF = %v", err)
			}
			return got
		}
		if err != nil {
			got = append(got, result{line: r.LineNumber(), err: err.Error()})
			if !errors.As(err, new(*LineError)) {
				return got // sticky I/O error
			}
			continue
		}
		got = append(got, result{id: m.ID, line: r.LineNumber()})
	}
}

func TestReader(t *testing.T) {
	input := line("1") + "\n" + // 1
		"\n" + // 2: empty
		" \t \r\n" + // 3: blank
		line("4") + "\r\n" + // 4: CRLF
		`{"conversation":"c","id":"5","kind":"message"}` + "\n" + // 5: missing time
		"nonsense\n" + // 6
		line("7") + "\r" // 7: no final newline, lone CR stripped
	want := []result{
		{id: "1", line: 1},
		{id: "4", line: 4},
		{line: 5, err: `in.jsonl:5: missing required key "time"`},
		{line: 6, err: `in.jsonl:6: invalid character 'o' in literal null (expecting 'u') at byte offset 1`},
		{id: "7", line: 7},
	}
	readers := map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"onebyte":  iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"dataerr":  iotest.DataErrReader,
		"smallbuf": func(r io.Reader) io.Reader { return r },
	}
	for name, wrap := range readers {
		t.Run(name, func(t *testing.T) {
			r := NewReader(wrap(strings.NewReader(input)), "in.jsonl")
			if name == "smallbuf" {
				r = newReader(strings.NewReader(input), "in.jsonl", 16, MaxLineSize)
			}
			got := readAll(t, r)
			if len(got) != len(want) {
				t.Fatalf("got %d results %+v, want %d", len(got), got, len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("result %d = %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestReaderLineContents(t *testing.T) {
	in := " " + line("1") + " \r\n" + line("2")
	r := NewReader(strings.NewReader(in), "x")
	m, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	// Surrounding spaces are part of the stored line; CRLF is not.
	if string(m.Line) != " "+line("1")+" " {
		t.Errorf("Line = %q", m.Line)
	}
	if m, err = r.Next(); err != nil || string(m.Line) != line("2") {
		t.Errorf("Line = %q, %v", m.Line, err)
	}
}

func TestReaderEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", "\r\n", "\n\n  \n\t"} {
		r := NewReader(strings.NewReader(in), "x")
		if _, err := r.Next(); err != io.EOF {
			t.Errorf("%q: Next = %v, want io.EOF", in, err)
		}
	}
}

func TestReaderLongLines(t *testing.T) {
	big := strings.Repeat("é and \\\"quotes\\\" ", 1<<20/16)
	long := `{"conversation":"c","id":"big","time":"2024-03-01T10:00:00Z","kind":"message","text":"` + big + `"}`
	if len(long) < 1<<20 {
		t.Fatalf("test line only %d bytes", len(long))
	}
	in := line("1") + "\n" + long + "\r\n" + line("3") + "\n" + long
	r := NewReader(strings.NewReader(in), "x")
	for _, want := range []string{line("1"), long, line("3"), long} {
		m, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Line) != want {
			t.Fatalf("line %d: got %d bytes, want %d", r.LineNumber(), len(m.Line), len(want))
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("got %v, want EOF", err)
	}
}

func TestReaderTooLong(t *testing.T) {
	const max = 100
	ok := line("ok")
	pad := `,"p":"` + strings.Repeat("x", max-len(ok)-7) + `"}`
	exact := ok[:len(ok)-1] + pad // exactly max bytes
	if len(exact) != max {
		t.Fatalf("exact line is %d bytes", len(exact))
	}
	over := exact + " "
	in := exact + "\r\n" + over + "\n" + strings.Repeat(" ", 5000) + "\n" + ok + "\n" + over
	for _, bufSize := range []int{16, 64, 4096} {
		r := newReader(strings.NewReader(in), "f", bufSize, max)
		got := readAll(t, r)
		want := []result{
			{id: "ok", line: 1},
			{line: 2, err: "f:2: line longer than 100 bytes"},
			{line: 3, err: "f:3: line longer than 100 bytes"},
			{id: "ok", line: 4},
			{line: 5, err: "f:5: line longer than 100 bytes"},
		}
		if len(got) != len(want) {
			t.Fatalf("bufSize %d: got %+v", bufSize, got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("bufSize %d: result %d = %+v, want %+v", bufSize, i, got[i], want[i])
			}
		}
	}
	r := newReader(strings.NewReader(over), "f", 16, max)
	_, err := r.Next()
	if !errors.Is(err, ErrLineTooLong) || errors.Is(err, ErrMalformed) {
		t.Errorf("error %v: want ErrLineTooLong only", err)
	}
}

// endless yields n bytes of '[' without holding them in memory.
type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	if e.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), e.n)
	for i := range p[:k] {
		p[i] = '['
	}
	e.n -= k
	return k, nil
}

func TestReaderMaxLineSize(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 65 MiB")
	}
	r := NewReader(io.MultiReader(&endless{MaxLineSize + 1<<20}, strings.NewReader("\n"+line("2")+"\n")), "huge.jsonl")
	_, err := r.Next()
	if !errors.Is(err, ErrLineTooLong) || err.Error() != "huge.jsonl:1: line longer than 67108864 bytes" {
		t.Fatalf("got %v", err)
	}
	if cap(r.buf) > MaxLineSize+MaxLineSize/2 {
		t.Errorf("buffer grew to %d bytes", cap(r.buf))
	}
	m, err := r.Next()
	if err != nil || m.ID != "2" || r.LineNumber() != 2 {
		t.Fatalf("after a too-long line: %+v, %v", m, err)
	}
	if cap(r.buf) > keepBufSize {
		t.Errorf("huge buffer kept: %d bytes", cap(r.buf))
	}
}

func TestReaderIOError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader(line("1")+"\n"+`{"conv`), iotest.ErrReader(boom)), "f")
	if m, err := r.Next(); err != nil || m.ID != "1" {
		t.Fatalf("first line: %v", err)
	}
	for range 2 {
		_, err := r.Next()
		if !errors.Is(err, boom) || err.Error() != "f:2: boom" {
			t.Fatalf("got %v, want sticky f:2: boom", err)
		}
	}
}

func TestReaderLineValidUntilNext(t *testing.T) {
	// Documented: Line aliases the Reader's buffer. A caller that keeps it
	// must copy; the copy stays intact.
	in := line("1") + "\n" + line("2") + "\n"
	r := NewReader(strings.NewReader(in), "x")
	m1, _ := r.Next()
	kept := bytes.Clone(m1.Line)
	m2, _ := r.Next()
	if string(kept) != line("1") || string(m2.Line) != line("2") {
		t.Fatal("copy or second line wrong")
	}
}
