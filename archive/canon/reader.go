package canon

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// MaxLineSize is the longest line a Reader accepts, in bytes, not counting
// the line terminator ("\n" or "\r\n").
const MaxLineSize = 64 << 20

const (
	readBufSize = 64 << 10 // bufio buffer; lines up to this size are not copied
	keepBufSize = 1 << 20  // a long-line buffer bigger than this is not kept
)

// Reader reads canonical JSON Lines from an io.Reader.
//
// Lines are split at '\n'; one '\r' before the '\n' (or before the end of the
// input) is removed, so CRLF files read like LF files. The last line need not
// end with a newline. Lines that are empty or hold only JSON whitespace are
// skipped but counted, so line numbers match what an editor shows.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	br   *bufio.Reader
	name string
	line int    // number of the last line read
	buf  []byte // assembles lines longer than br's buffer
	max  int
	err  error // sticky: io.EOF or a read error
}

// NewReader returns a Reader that reads from r. name (typically the file
// name) is used in error messages.
func NewReader(r io.Reader, name string) *Reader {
	return newReader(r, name, readBufSize, MaxLineSize)
}

func newReader(r io.Reader, name string, bufSize, max int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, bufSize), name: name, max: max}
}

// LineNumber returns the 1-based number of the line last read by Next.
func (r *Reader) LineNumber() int { return r.line }

// Next returns the next message. At the end of the input it returns io.EOF.
//
// The returned Message.Line aliases the Reader's internal buffer and is
// valid only until the next call to Next; copy it to keep it.
//
// A line that is rejected yields a *LineError carrying the Reader's name and
// the line number, wrapping ErrMalformed or, for a line longer than
// MaxLineSize, ErrLineTooLong. Such an error is not sticky: the next call to
// Next goes on with the following line. An error from the underlying
// io.Reader is returned (wrapped, with the name and line number) and is
// sticky.
func (r *Reader) Next() (Message, error) {
	for {
		line, err := r.readLine()
		if err != nil {
			return Message{}, err
		}
		if isBlank(line) {
			continue
		}
		m, err := ParseLine(line)
		if err != nil {
			le := err.(*LineError)
			le.Name, le.Line = r.name, r.line
			return Message{}, le
		}
		return m, nil
	}
}

// readLine returns the next line without its terminator.
func (r *Reader) readLine() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	if cap(r.buf) > keepBufSize {
		r.buf = nil // don't pin one huge line's memory for the Reader's life
	}
	r.buf = r.buf[:0]
	long := false      // line is over the bound; its bytes are being dropped
	assembled := false // line spans more than one bufio buffer
	for {
		frag, err := r.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			assembled = true
			if !long && len(r.buf)+len(frag) <= r.max+2 { // +2: room for "\r\n"
				r.buf = append(r.buf, frag...)
			} else {
				long, r.buf = true, r.buf[:0]
			}
			continue
		}
		if err == io.EOF {
			r.err = io.EOF
			if len(frag) == 0 && !assembled {
				return nil, io.EOF
			}
		} else if err != nil {
			r.err = fmt.Errorf("%s:%d: %w", r.name, r.line+1, err)
			return nil, r.err
		}
		r.line++
		line := frag
		if assembled {
			if !long && len(r.buf)+len(frag) <= r.max+2 {
				r.buf = append(r.buf, frag...)
			} else {
				long = true
			}
			line = r.buf
		}
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if long || len(line) > r.max {
			return nil, &LineError{Name: r.name, Line: r.line, Offset: -1,
				Reason: "line longer than " + strconv.Itoa(r.max) + " bytes", Err: ErrLineTooLong}
		}
		return line, nil
	}
}

func isBlank(line []byte) bool {
	return skipSpace(line, 0) == len(line)
}
