package messenger

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxRecord bounds one message (and any other top-level value): the JSON
// decoder holds a whole value in memory.
const maxRecord = 32 << 20

// errTooLarge is returned by boundedReader when the decoder would have to
// hold more than maxRecord bytes of one value.
var errTooLarge = errors.New("value too large")

// testReader lets tests read files in small pieces.
var testReader = func(r io.Reader) io.Reader { return r }

// boundedReader refuses to read past limit: the decoder's buffer, which
// grows to hold the value being decoded, stays below maxRecord plus a read.
type boundedReader struct {
	r     io.Reader
	n     int64 // bytes read
	limit int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n >= b.limit {
		return 0, errTooLarge
	}
	if int64(len(p)) > b.limit-b.n {
		p = p[:b.limit-b.n]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

// fileStream walks the messages array of one thread file with a
// json.Decoder: the top-level object token by token, each message decoded
// alone as raw bytes.
type fileStream struct {
	path       string
	f          *os.File
	br         *boundedReader
	dec        *json.Decoder
	state      int
	valueStart int64 // where the value being decoded starts (before a separator), -1 in a token
}

const (
	stKeys     = iota // in the top-level object
	stMessages        // in the messages array
	stDone
)

func openStream(path string) (*fileStream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fs := &fileStream{path: path, f: f}
	fs.br = &boundedReader{r: testReader(bufio.NewReaderSize(f, 64<<10)), limit: maxRecord}
	fs.dec = json.NewDecoder(fs.br)
	if err := fs.skipBOM(); err != nil {
		fs.close()
		return nil, err
	}
	tok, err := fs.token()
	if err != nil {
		fs.close()
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		fs.close()
		return nil, fs.errorf(0, nil, "not a Messenger or Instagram thread: the file is not a JSON object")
	}
	return fs, nil
}

// skipBOM drops a UTF-8 byte order mark, which encoding/json refuses.
func (fs *fileStream) skipBOM() error {
	br := bufio.NewReaderSize(fs.br.r, 16)
	b, err := br.Peek(3)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return err
	}
	if len(b) == 3 && string(b) == "\xEF\xBB\xBF" {
		br.Discard(3)
	}
	fs.br.r = br
	return nil
}

func (fs *fileStream) close() {
	if fs.f != nil {
		fs.f.Close()
		fs.f = nil
	}
}

func (fs *fileStream) errorf(off int64, cause error, format string, args ...any) *Error {
	return &Error{File: fs.path, Offset: off, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// arm lets the decoder read up to maxRecord bytes past its position.
func (fs *fileStream) arm() {
	fs.br.limit = fs.dec.InputOffset() + maxRecord + 64<<10
}

// fail turns a decoder error into an error naming the file and offset
// (malformed input) or returns it as is (I/O); the file cannot be read
// further either way.
func (fs *fileStream) fail(err error, what string) error {
	fs.state = stDone
	off := fs.dec.InputOffset()
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		// The decoder's offset does not count the bytes its Token calls
		// read: decode the value again alone to place the error.
		if fs.valueStart >= 0 {
			off = fs.locate(fs.valueStart)
		}
		return fs.errorf(off, nil, "invalid JSON %s: %v", what, se)
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return fs.errorf(off, nil, "unexpected end of file %s (truncated export?)", what)
	case errors.Is(err, errTooLarge):
		return fs.errorf(off, nil, "%s larger than %d bytes", what, maxRecord)
	}
	return fmt.Errorf("messenger: %s: %w", fs.path, err)
}

// locate returns the offset of the byte where the value starting at start
// (after spaces and a ',' or ':') is invalid, or start if that cannot be
// told.
func (fs *fileStream) locate(start int64) int64 {
	f, err := os.Open(fs.path)
	if err != nil {
		return start
	}
	defer f.Close()
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return start
	}
	br := bufio.NewReader(io.LimitReader(f, maxRecord+64<<10))
	skip, sep := int64(0), false
	for {
		c, err := br.ReadByte()
		if err != nil {
			return start
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || (c == ',' || c == ':') && !sep {
			sep = sep || c == ',' || c == ':'
			skip++
			continue
		}
		br.UnreadByte()
		break
	}
	var raw json.RawMessage
	var se *json.SyntaxError
	if err := json.NewDecoder(br).Decode(&raw); errors.As(err, &se) && se.Offset > 0 {
		return start + skip + se.Offset - 1
	}
	return start
}

func (fs *fileStream) token() (json.Token, error) {
	fs.valueStart = -1
	fs.arm()
	tok, err := fs.dec.Token()
	if err != nil {
		return nil, fs.fail(err, "in the top-level object")
	}
	return tok, nil
}

// next returns the bytes of the next message and their offset, io.EOF at
// the end of the file.
func (fs *fileStream) next() (json.RawMessage, int64, error) {
	for {
		switch fs.state {
		case stDone:
			return nil, 0, io.EOF
		case stKeys:
			fs.arm()
			if !fs.dec.More() {
				if _, err := fs.token(); err != nil { // '}'
					return nil, 0, err
				}
				fs.state = stDone
				fs.arm()
				if _, err := fs.dec.Token(); err != io.EOF {
					if err != nil {
						return nil, 0, fs.fail(err, "after the top-level object")
					}
					return nil, 0, fs.errorf(fs.dec.InputOffset(), nil, "unexpected data after the top-level object")
				}
				return nil, 0, io.EOF
			}
			tok, err := fs.token()
			if err != nil {
				return nil, 0, err
			}
			key, _ := tok.(string)
			off := fs.dec.InputOffset()
			if key == "messages" {
				tok, err := fs.token()
				if err != nil {
					return nil, 0, err
				}
				if d, ok := tok.(json.Delim); !ok || d != '[' {
					fs.state = stDone
					return nil, 0, fs.errorf(off, nil, `"messages" is not an array`)
				}
				fs.state = stMessages
				continue
			}
			fs.arm()
			fs.valueStart = fs.dec.InputOffset()
			var skip json.RawMessage
			if err := fs.dec.Decode(&skip); err != nil {
				return nil, 0, fs.fail(err, fmt.Sprintf("in the value of %q", key))
			}
		case stMessages:
			fs.arm()
			if !fs.dec.More() {
				if _, err := fs.token(); err != nil { // ']'
					return nil, 0, err
				}
				fs.state = stKeys
				continue
			}
			fs.valueStart = fs.dec.InputOffset()
			var raw json.RawMessage
			if err := fs.dec.Decode(&raw); err != nil {
				return nil, 0, fs.fail(err, "in a message")
			}
			return raw, fs.dec.InputOffset() - int64(len(raw)), nil
		}
	}
}
