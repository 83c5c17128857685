package messenger

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
)

// maxHeaderValue bounds a top-level value the first pass keeps (the title).
const maxHeaderValue = 1 << 20

var errScan = errors.New("not a JSON object")

// header is what the first pass keeps of a thread file, as written (not
// repaired).
type header struct {
	title      string // "title", or "threadName" in the end-to-end encrypted download
	threadPath string // "thread_path": "inbox/<folder>"
}

// prescan returns the thread's title and path. Meta writes it after
// the messages, so the file is read once quickly: values are skipped by
// bracket depth without being decoded. A damaged file gives what was found
// before the damage; the second pass reports the damage. Only an I/O error
// opening the file is an error.
func prescan(path string) (header, error) {
	f, err := os.Open(path)
	if err != nil {
		return header{}, err
	}
	defer f.Close()
	sc := &scanner{r: bufio.NewReaderSize(testReader(f), 64<<10)}
	var h header
	sc.header(&h)
	return h, nil
}

type scanner struct {
	r *bufio.Reader
}

// header reads the top-level keys until the end of the object.
func (sc *scanner) header(h *header) error {
	c, err := sc.nonSpace()
	if err != nil {
		return err
	}
	if c == 0xEF { // a byte order mark
		for range 2 {
			if _, err := sc.r.ReadByte(); err != nil {
				return err
			}
		}
		if c, err = sc.nonSpace(); err != nil {
			return err
		}
	}
	if c != '{' {
		return errScan
	}
	for {
		c, err := sc.nonSpace()
		if err != nil {
			return err
		}
		switch c {
		case '}':
			return nil
		case ',':
			continue
		case '"':
		default:
			return errScan
		}
		key, err := sc.str(true, 256)
		if err != nil {
			return err
		}
		if c, err := sc.nonSpace(); err != nil || c != ':' {
			return errScan
		}
		var k string
		if json.Unmarshal(key, &k) != nil {
			return errScan
		}
		if k == "title" || k == "threadName" || k == "thread_path" {
			c, err := sc.nonSpace()
			if err != nil {
				return err
			}
			if c != '"' {
				sc.r.UnreadByte()
				if err := sc.skip(); err != nil {
					return err
				}
				continue
			}
			v, err := sc.str(true, maxHeaderValue)
			if err != nil {
				return err
			}
			var t string
			if json.Unmarshal(v, &t) == nil {
				switch {
				case k == "thread_path":
					h.threadPath = t
				case k == "title" || h.title == "":
					h.title = t
				}
			}
			continue
		}
		if err := sc.skip(); err != nil {
			return err
		}
	}
}

func (sc *scanner) nonSpace() (byte, error) {
	for {
		c, err := sc.r.ReadByte()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c, nil
		}
	}
}

// str reads the rest of a string whose opening quote was read; with keep,
// it returns the string with its quotes (at most limit bytes).
func (sc *scanner) str(keep bool, limit int) ([]byte, error) {
	var out []byte
	if keep {
		out = append(out, '"')
	}
	for {
		frag, err := sc.r.ReadSlice('"')
		if err != nil && err != bufio.ErrBufferFull {
			return nil, err
		}
		if keep {
			if len(out)+len(frag) > limit {
				return nil, errScan
			}
			out = append(out, frag...)
		}
		if err == bufio.ErrBufferFull {
			// A backslash at the end of the fragment escapes the first byte
			// of the next one: read it now.
			if odd(frag) {
				c, err := sc.r.ReadByte()
				if err != nil {
					return nil, err
				}
				if keep {
					out = append(out, c)
				}
			}
			continue
		}
		// frag ends with '"': escaped if preceded by an odd run of '\'.
		if !odd(frag[:len(frag)-1]) {
			return out, nil
		}
	}
}

// odd reports whether b ends with an odd number of backslashes.
func odd(b []byte) bool {
	n := 0
	for i := len(b) - 1; i >= 0 && b[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// skip passes over one value (not validated).
func (sc *scanner) skip() error {
	c, err := sc.nonSpace()
	if err != nil {
		return err
	}
	switch c {
	case '"':
		_, err := sc.str(false, 0)
		return err
	case '{', '[':
		depth := 1
		for depth > 0 {
			if _, err := sc.r.Peek(1); err != nil { // fill the buffer
				return err
			}
			chunk, _ := sc.r.Peek(sc.r.Buffered())
			i := 0
			for ; i < len(chunk) && depth > 0; i++ {
				switch chunk[i] {
				case '{', '[':
					depth++
				case '}', ']':
					depth--
				case '"':
					sc.r.Discard(i + 1)
					if _, err := sc.str(false, 0); err != nil {
						return err
					}
					i = -1
					chunk, _ = sc.r.Peek(sc.r.Buffered())
				}
			}
			sc.r.Discard(i)
		}
		return nil
	default:
		// A number or literal: up to the next delimiter.
		for {
			c, err := sc.r.ReadByte()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			switch c {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				sc.r.UnreadByte()
				return nil
			}
		}
	}
}
