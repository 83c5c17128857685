package discord

import (
	"bytes"
	"errors"
	"io"
)

// Bounds on what the lexer keeps in memory at once.
const (
	maxRecord = 32 << 20 // one message object (a canonical line is at most 64 MiB)
	maxHeader = 1 << 20  // the guild or channel object, messageCount
	maxKey    = 64 << 10 // a top-level key
	readChunk = 256 << 10
)

// errEOF is returned by the lexer when the input ends where a JSON value or
// separator was expected: the export is truncated.
var errEOF = errors.New("unexpected end of file")

// errTooLarge is returned by scanValue for a value longer than its limit. The
// value has been consumed (skipped without buffering), so the caller may go on.
var errTooLarge = errors.New("value too large")

// lexer splits the top-level structure of a JSON document without building
// it: it finds where each value starts and ends (tracking nesting depth and
// strings only) and hands over the bytes, which the caller validates and
// decodes with encoding/json. Memory is bounded by the largest value kept.
// A value whose brackets balance but whose content is not valid JSON is still
// delimited correctly, so one bad message does not take the rest with it.
type lexer struct {
	r    io.Reader
	buf  []byte
	pos  int   // next unread byte
	end  int   // end of the data read so far
	base int64 // offset in the file of buf[0]
	done bool  // r returned EOF
	rerr error // r returned another error
}

func newLexer(r io.Reader) *lexer {
	return &lexer{r: r, buf: make([]byte, readChunk)}
}

// offset is the file offset of the next unread byte.
func (l *lexer) offset() int64 { return l.base + int64(l.pos) }

// fill drops buf[:keep] (keep <= l.pos), moves the rest to the front and
// reads more. It returns how far the kept bytes moved and whether new bytes
// arrived.
func (l *lexer) fill(keep int) (shift int, ok bool) {
	if l.done || l.rerr != nil {
		return 0, false
	}
	if keep > 0 {
		copy(l.buf, l.buf[keep:l.end])
		l.end -= keep
		l.pos -= keep
		l.base += int64(keep)
	}
	if l.end == len(l.buf) {
		nb := make([]byte, 2*len(l.buf))
		copy(nb, l.buf[:l.end])
		l.buf = nb
	} else if len(l.buf) > 4*readChunk && l.end < readChunk/2 {
		// A large value grew the buffer; give the memory back.
		nb := make([]byte, readChunk)
		copy(nb, l.buf[:l.end])
		l.buf = nb
	}
	for tries := 0; tries < 100; tries++ {
		n, err := l.r.Read(l.buf[l.end:])
		l.end += n
		if err == io.EOF {
			l.done = true
		} else if err != nil {
			l.rerr = err
		}
		if n > 0 {
			return keep, true
		}
		if err != nil {
			return keep, false
		}
	}
	l.rerr = io.ErrNoProgress
	return keep, false
}

// ioErr is the read error to report instead of errEOF, if any.
func (l *lexer) ioErr() error {
	if l.rerr != nil {
		return l.rerr
	}
	return errEOF
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// peek skips whitespace and returns the next byte without consuming it.
func (l *lexer) peek() (byte, error) {
	for {
		for l.pos < l.end {
			if c := l.buf[l.pos]; !isSpace(c) {
				return c, nil
			}
			l.pos++
		}
		if _, ok := l.fill(l.pos); !ok {
			if l.rerr != nil {
				return 0, l.rerr
			}
			return 0, io.EOF
		}
	}
}

// skipBOM drops a UTF-8 byte order mark at the start of the input.
func (l *lexer) skipBOM() bool {
	for l.end-l.pos < 3 {
		if _, ok := l.fill(l.pos); !ok {
			break
		}
	}
	if bytes.HasPrefix(l.buf[l.pos:l.end], []byte("\xEF\xBB\xBF")) {
		l.pos += 3
		return true
	}
	return false
}

// scanValue consumes the next JSON value (after whitespace) and returns its
// bytes, which alias the lexer's buffer until the next call, and its file
// offset. With keep false the bytes are discarded as they are scanned (for
// values of any size) and raw is nil. A value longer than limit is consumed
// without buffering and reported as errTooLarge. At the end of the input it
// returns errEOF (or the read error).
func (l *lexer) scanValue(keep bool, limit int) (raw []byte, start int64, err error) {
	c, err := l.peek()
	if err == io.EOF {
		return nil, l.offset(), errEOF
	}
	if err != nil {
		return nil, l.offset(), err
	}
	start = l.offset()
	mark := l.pos
	i := l.pos
	depth := 0
	inStr, scalar, tooBig := false, false, false
	switch c {
	case '{', '[':
		depth = 1
		i++
	case '"':
		inStr = true
		i++
	default:
		scalar = true
	}
	need := false // more bytes are needed before i can be examined
	for {
		if i >= l.end || need {
			need = false
			if !keep {
				mark = i
				l.pos = i
			} else if i-mark > limit {
				keep, tooBig = false, true
				mark = i
				l.pos = i
			}
			shift, ok := l.fill(mark)
			i -= shift
			mark -= shift
			if !ok {
				if scalar && l.rerr == nil && i > mark {
					break // a bare scalar ending the input
				}
				l.pos = l.end
				return nil, start, l.ioErr()
			}
			continue
		}
		if inStr {
			seg := l.buf[i:l.end]
			q := bytes.IndexByte(seg, '"')
			s := seg
			if q >= 0 {
				s = seg[:q]
			}
			if b := bytes.IndexByte(s, '\\'); b >= 0 {
				if i+b+1 >= l.end {
					i += b
					need = true
					continue
				}
				i += b + 2
				continue
			}
			if q < 0 {
				i = l.end
				continue
			}
			i += q + 1
			inStr = false
			if depth == 0 {
				break
			}
			continue
		}
		if scalar {
			for i < l.end {
				c := l.buf[i]
				if isSpace(c) || c == ',' || c == ']' || c == '}' {
					break
				}
				i++
			}
			if i < l.end {
				break
			}
			continue
		}
		closed := false
		for i < l.end && !inStr {
			switch l.buf[i] {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					closed = true
				}
			}
			i++
			if closed {
				break
			}
		}
		if closed {
			break
		}
	}
	l.pos = i
	if tooBig {
		return nil, start, errTooLarge
	}
	if !keep {
		return nil, start, nil
	}
	return l.buf[mark:i], start, nil
}
