package slack

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/chatvault/chatvault/importers"
)

// MaxRecordSize bounds one message (or metadata) object in bytes: real Slack
// messages are a few KiB, and the canonical line, which holds the text twice
// (in text and in raw), must stay under archive/canon's line bound.
const MaxRecordSize = 16 << 20

// FileError is a malformed file or record: the file, where in it, and why.
// It wraps importers.ErrMalformed and the cause.
type FileError struct {
	File   string // as shown to the user, e.g. "/x/export.zip: general/2024-01-02.json"
	Line   int    // 1-based, 0 when unknown
	Offset int64  // byte offset in the file
	Err    error
}

func (e *FileError) Error() string {
	var b []byte
	b = append(b, "slack: "...)
	b = append(b, e.File...)
	b = append(b, ": "...)
	if e.Line > 0 {
		b = append(b, "line "...)
		b = strconv.AppendInt(b, int64(e.Line), 10)
		b = append(b, ", "...)
	}
	b = append(b, "byte offset "...)
	b = strconv.AppendInt(b, e.Offset, 10)
	b = append(b, ": "...)
	b = append(b, e.Err.Error()...)
	return string(b)
}

func (e *FileError) Unwrap() []error { return []error{importers.ErrMalformed, e.Err} }

var (
	errTooLarge = fmt.Errorf("an object larger than %d bytes", MaxRecordSize)
	utf8BOM     = []byte("\xef\xbb\xbf")
)

// tapReader feeds the decoder, refuses to read past limit, and keeps the
// bytes read since the current element began, so that an element's own
// bytes (raw) come out of the same single decoding pass.
type tapReader struct {
	r     io.Reader
	n     int64 // bytes read
	limit int64
	buf   []byte // bytes read from offset base on
	head  int    // buf[head:] are still needed
	base  int64  // offset of buf[0]
	err   error  // the last read error other than io.EOF
}

func (t *tapReader) Read(p []byte) (int, error) {
	if t.n >= t.limit {
		return 0, errTooLarge
	}
	if rem := t.limit - t.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := t.r.Read(p)
	t.n += int64(n)
	t.buf = append(t.buf, p[:n]...)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// release drops the bytes before offset off, compacting the buffer once the
// dropped part dominates.
func (t *tapReader) release(off int64) {
	h := int(off - t.base)
	if h <= t.head || h > len(t.buf) {
		return
	}
	t.head = h
	if t.head > len(t.buf)/2 || t.head > 1<<20 {
		n := copy(t.buf, t.buf[t.head:])
		t.buf = t.buf[:n]
		t.base += int64(t.head)
		t.head = 0
	}
}

// slice returns the bytes read between two offsets.
func (t *tapReader) slice(from, to int64) []byte { return t.buf[from-t.base : to-t.base] }

// arrayReader streams the elements of a file holding one JSON array (or,
// when single is allowed, one object), one element at a time.
type arrayReader struct {
	fsys   exportFS
	name   string
	rc     io.ReadCloser
	cr     *tapReader
	dec    *json.Decoder
	lead   int64 // bytes (BOM, whitespace) consumed before the decoder's input
	single bool  // the file holds one object, not an array
	done   bool
}

// openArray opens name. allowSingle accepts a top-level object as a
// one-element array (a.single says so).
func openArray(fsys exportFS, name string, allowSingle bool) (*arrayReader, error) {
	rc, err := fsys.open(name)
	if err != nil {
		return nil, err
	}
	a := &arrayReader{fsys: fsys, name: name, rc: rc}
	br := bufio.NewReaderSize(rc, 32<<10)
	if head, _ := br.Peek(3); bytes.Equal(head, utf8BOM) {
		br.Discard(3)
		a.lead = 3
	}
	// Find the first non-space byte to tell an array from an object.
	first, off, err := peekNonSpace(br)
	a.lead += off
	if err != nil {
		rc.Close()
		if err == io.EOF {
			return nil, a.errAt(a.lead, errors.New("empty file, want a JSON array"))
		}
		return nil, a.ioErr(err)
	}
	a.cr = &tapReader{r: br, limit: MaxRecordSize}
	a.dec = json.NewDecoder(a.cr)
	switch {
	case first == '[':
		if _, err := a.dec.Token(); err != nil {
			rc.Close()
			return nil, a.decodeErr(err, 0)
		}
	case first == '{' && allowSingle:
		a.single = true
	default:
		rc.Close()
		return nil, a.errAt(a.lead, fmt.Errorf("starts with %q, want a JSON array", first))
	}
	return a, nil
}

func peekNonSpace(br *bufio.Reader) (byte, int64, error) {
	var off int64
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0, off, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			br.Discard(1)
			off++
			continue
		}
		return b[0], off, nil
	}
}

// next decodes the next element into v and returns its bytes and byte
// offset in the file, or io.EOF after the last one. The bytes are valid
// until the next call. A recordErr means the element was read but does not
// fit v (wrong field types): the stream goes on. Any other error ends the
// file.
func (a *arrayReader) next(v any) ([]byte, int64, error) {
	if a.done {
		return nil, 0, io.EOF
	}
	if !a.single && !a.dec.More() {
		a.done = true
		if _, err := a.dec.Token(); err != nil { // ']', or the error More hid
			return nil, a.offset(), a.decodeErr(err, a.offset())
		}
		if err := a.expectEOF(); err != nil {
			return nil, a.offset(), err
		}
		return nil, 0, io.EOF
	}
	start := a.dec.InputOffset()
	a.cr.release(start)
	// The value starts at most after a comma and some whitespace.
	a.cr.limit = start + MaxRecordSize + 64
	derr := a.dec.Decode(v)
	if derr != nil && a.streamBroken(derr) {
		a.done = true
		return nil, start + a.lead, a.decodeErr(derr, start+a.lead)
	}
	end := a.dec.InputOffset()
	raw := bytes.TrimLeft(a.cr.slice(start, end), ", \t\r\n")
	off := end - int64(len(raw)) + a.lead
	if derr != nil {
		return raw, off, &recordErr{derr}
	}
	if a.single {
		a.done = true
		if err := a.expectEOF(); err != nil {
			return nil, off, err
		}
	}
	return raw, off, nil
}

// recordErr is an element that was read whole but does not fit its type.
type recordErr struct{ err error }

func (e *recordErr) Error() string { return typeErr(e.err).Error() }

// streamBroken tells a decoding error that ends the file (bad syntax,
// truncation, a read error) from one about the element's content, after
// which the decoder has consumed the element and can go on.
func (a *arrayReader) streamBroken(err error) bool {
	var se *json.SyntaxError
	return a.cr.err != nil || errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, errTooLarge)
}

// expectEOF checks that only whitespace follows the top-level value.
func (a *arrayReader) expectEOF() error {
	off := a.offset()
	r := io.MultiReader(a.dec.Buffered(), a.cr.r) // past the tap: nothing more to keep
	buf := make([]byte, 4<<10)
	for {
		n, err := r.Read(buf)
		for i, c := range buf[:n] {
			switch c {
			case ' ', '\t', '\r', '\n':
				continue
			}
			return a.errAt(off+int64(i), fmt.Errorf("unexpected %q after the end of the JSON value", c))
		}
		off += int64(n)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return a.decodeErr(err, off)
		}
	}
}

// offset is the decoder's position in the file.
func (a *arrayReader) offset() int64 { return a.dec.InputOffset() + a.lead }

func (a *arrayReader) decodeErr(err error, at int64) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return a.errAt(se.Offset+a.lead, err)
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return a.errAt(a.cr.n+a.lead, errors.New("unexpected end of file (truncated?)"))
	case errors.Is(err, errTooLarge):
		return a.errAt(at, err)
	case errors.Is(err, importers.ErrMalformed):
		return err // the zip layer's own error
	}
	return a.ioErr(err)
}

// ioErr is a read failure: not about the content, so not ErrMalformed
// (unless the zip layer found the content bad).
func (a *arrayReader) ioErr(err error) error {
	if errors.Is(err, importers.ErrMalformed) {
		return err
	}
	return fmt.Errorf("slack: reading %s: %w", a.fsys.display(a.name), err)
}

// errAt builds a FileError, counting lines up to off by reading the file
// again (errors only).
func (a *arrayReader) errAt(off int64, err error) error {
	return &FileError{File: a.fsys.display(a.name), Line: lineAt(a.fsys, a.name, off), Offset: off, Err: err}
}

func lineAt(fsys exportFS, name string, off int64) int {
	rc, err := fsys.open(name)
	if err != nil {
		return 0
	}
	defer rc.Close()
	line := 1
	buf := make([]byte, 32<<10)
	for off > 0 {
		n, err := rc.Read(buf[:min(int64(len(buf)), off)])
		line += bytes.Count(buf[:n], []byte{'\n'})
		off -= int64(n)
		if err != nil {
			break
		}
	}
	return line
}

func (a *arrayReader) close() error { return a.rc.Close() }
