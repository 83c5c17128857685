package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/cpu"
)

// FrameSize is the plaintext size of every STREAM frame but the last.
const FrameSize = 64 << 10

// KeySize is the size of every parent and object key.
const KeySize = 32

const (
	tagSize   = 16
	nonceSize = 12
)

// AutoSuite is AES-256-GCM where the CPU has AES and carry-less multiply
// instructions, ChaCha20-Poly1305 elsewhere.
func AutoSuite() Suite {
	if (cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ) || (cpu.ARM64.HasAES && cpu.ARM64.HasPMULL) {
		return AES256GCM
	}
	return ChaCha20Poly1305
}

// deriveKeys returns the object key and key commitment for an encoded header
// (whose own commitment field is ignored).
func deriveKeys(parent []byte, h *Header, encoded []byte) (key, commitment [32]byte, err error) {
	if len(parent) != KeySize {
		return key, commitment, fmt.Errorf("seal: parent key of %d bytes", len(parent))
	}
	info := append([]byte("chatvault/v1/"+h.Kind.String()), infoSection(encoded)...)
	okm, err := hkdf.Key(sha256.New, parent, h.Salt[:], string(info), 64)
	if err != nil {
		return key, commitment, err
	}
	copy(key[:], okm[:32])
	copy(commitment[:], okm[32:])
	return key, commitment, nil
}

func newAEAD(s Suite, key []byte) (cipher.AEAD, error) {
	switch s {
	case AES256GCM:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(b)
	case ChaCha20Poly1305:
		return chacha20poly1305.New(key)
	}
	return nil, fmt.Errorf("%w: suite %s cannot encrypt", ErrMalformed, s)
}

// prepare fills the salt from rand, derives the keys and returns the final
// encoded header and the AEAD.
func prepare(parent []byte, h *Header, rand io.Reader) ([]byte, cipher.AEAD, error) {
	h.Version = Version
	if _, err := io.ReadFull(rand, h.Salt[:]); err != nil {
		return nil, nil, fmt.Errorf("seal: reading random salt: %w", err)
	}
	h.Commitment = [32]byte{}
	enc, err := h.Marshal()
	if err != nil {
		return nil, nil, err
	}
	key, commitment, err := deriveKeys(parent, h, enc)
	if err != nil {
		return nil, nil, err
	}
	h.Commitment = commitment
	copy(enc[len(enc)-32:], commitment[:])
	aead, err := newAEAD(h.Suite, key[:])
	return enc, aead, err
}

// Writer encrypts a stream into one object. Close must be called to write the
// final frame; without it the object is truncated and will not open.
type Writer struct {
	w       io.Writer
	aead    cipher.AEAD
	ad      [32]byte
	counter uint64
	buf     []byte // FrameSize plaintext, sealed in place (with room for the tag)
	n       int
	err     error
}

// NewWriter writes h (with a fresh random salt from rand and its commitment
// filled in; h is updated) and returns a Writer for the body, encrypted under a
// key derived from parent. h.Suite must not be Plain.
func NewWriter(w io.Writer, parent []byte, h *Header, rand io.Reader) (*Writer, error) {
	enc, aead, err := prepare(parent, h, rand)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(enc); err != nil {
		return nil, err
	}
	return &Writer{w: w, aead: aead, ad: sha256.Sum256(enc), buf: make([]byte, FrameSize+tagSize)}, nil
}

func nonce(counter uint64, last bool) [nonceSize]byte {
	var n [nonceSize]byte
	for i := 10; i >= 3; i-- { // 11-byte big-endian counter; the top 3 bytes stay 0
		n[i] = byte(counter)
		counter >>= 8
	}
	if last {
		n[11] = 1
	}
	return n
}

func (s *Writer) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	total := 0
	for len(p) > 0 {
		if s.n == FrameSize { // a full frame is written only once more data proves it is not the last
			if err := s.flush(false); err != nil {
				return total, err
			}
		}
		c := copy(s.buf[s.n:FrameSize], p)
		s.n += c
		p = p[c:]
		total += c
	}
	return total, nil
}

func (s *Writer) flush(last bool) error {
	if s.counter >= 1<<(8*8)-1 {
		s.err = errors.New("seal: too many frames")
		return s.err
	}
	n := nonce(s.counter, last)
	out := s.aead.Seal(s.buf[:0], n[:], s.buf[:s.n], s.ad[:])
	if _, err := s.w.Write(out); err != nil {
		s.err = err
		return err
	}
	s.counter++
	s.n = 0
	return nil
}

// Close writes the final frame. It does not close the underlying writer.
func (s *Writer) Close() error {
	if s.err != nil {
		return s.err
	}
	err := s.flush(true)
	if err == nil {
		s.err = errors.New("seal: write after Close")
	}
	return err
}

// Reader decrypts and authenticates the body of one object.
type Reader struct {
	r       io.Reader
	aead    cipher.AEAD
	ad      [32]byte
	counter uint64
	in      []byte // ciphertext buffer: FrameSize + tag
	plain   []byte // plaintext buffer: FrameSize
	out     []byte // unread part of the current plaintext frame
	last    bool
	err     error
}

// OpenReader reads a header from r, checks it against want (kind, ids, epoch),
// checks the key commitment against parent and returns the header and a Reader
// for the plaintext body. A wrong parent key is reported as ErrWrongKey before
// anything else is read. Read returns io.EOF only after the authenticated final
// frame and the end of r; every other ending is an error.
func OpenReader(r io.Reader, parent []byte, want Expect) (*Header, *Reader, error) {
	h, enc, err := ReadHeader(r)
	if err != nil {
		return nil, nil, err
	}
	if err := h.Check(want); err != nil {
		return h, nil, err
	}
	if h.Suite == Plain {
		return h, nil, fmt.Errorf("%w: %s is not encrypted", ErrMalformed, h.Kind)
	}
	key, commitment, err := deriveKeys(parent, h, enc)
	if err != nil {
		return h, nil, err
	}
	if subtle.ConstantTimeCompare(commitment[:], h.Commitment[:]) != 1 {
		return h, nil, fmt.Errorf("%w: %s", ErrWrongKey, h.Kind)
	}
	aead, err := newAEAD(h.Suite, key[:])
	if err != nil {
		return h, nil, err
	}
	return h, &Reader{r: r, aead: aead, ad: sha256.Sum256(enc), in: make([]byte, FrameSize+tagSize), plain: make([]byte, 0, FrameSize)}, nil
}

func (s *Reader) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		if s.last {
			s.err = s.checkEnd()
			continue
		}
		s.err = s.next()
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// next reads and opens one frame. A full-size frame may be the final one:
// it is tried as a middle frame first, then as the final frame.
func (s *Reader) next() error {
	n, err := io.ReadFull(s.r, s.in)
	switch {
	case err == io.EOF:
		return fmt.Errorf("%w: no final frame after %d frames", ErrTruncated, s.counter)
	case err == io.ErrUnexpectedEOF:
		// a short frame must be the final one
	case err != nil:
		return err
	}
	if n < tagSize {
		return fmt.Errorf("%w: frame %d is %d bytes", ErrTruncated, s.counter, n)
	}
	ct := s.in[:n]
	if n == len(s.in) {
		nn := nonce(s.counter, false)
		if out, err := s.aead.Open(s.plain[:0], nn[:], ct, s.ad[:]); err == nil {
			s.out = out
			s.counter++
			return nil
		}
	}
	nn := nonce(s.counter, true)
	out, err := s.aead.Open(s.plain[:0], nn[:], ct, s.ad[:])
	if err != nil {
		return fmt.Errorf("%w: frame %d", ErrAuth, s.counter)
	}
	if len(out) == 0 && s.counter > 0 {
		return fmt.Errorf("%w: empty final frame %d", ErrMalformed, s.counter)
	}
	s.out = out
	s.counter++
	s.last = true
	if len(out) == 0 {
		return s.checkEnd()
	}
	return nil
}

func (s *Reader) checkEnd() error {
	var b [1]byte
	n, err := io.ReadFull(s.r, b[:])
	if n > 0 {
		return ErrTrailing
	}
	if err == io.EOF {
		return io.EOF
	}
	return err
}

// Seal encrypts a plaintext held in memory into one object.
func Seal(parent []byte, h *Header, plaintext []byte, rand io.Reader) ([]byte, error) {
	return AppendSeal(make([]byte, 0, SealedSize(len(plaintext))), parent, h, plaintext, rand)
}

// SealedSize is the size of the object Seal makes of n plaintext bytes, at most
// (ids of MaxIDLen bytes).
func SealedSize(n int) int {
	return MaxHeaderLen + n + (n/FrameSize+1)*tagSize
}

// AppendSeal is Seal appending the object to dst, sealing each frame straight
// into it (the same bytes as a Writer makes).
func AppendSeal(dst []byte, parent []byte, h *Header, plaintext []byte, rand io.Reader) ([]byte, error) {
	enc, aead, err := prepare(parent, h, rand)
	if err != nil {
		return dst, err
	}
	dst = append(dst, enc...)
	ad := sha256.Sum256(enc)
	for counter := uint64(0); ; counter++ {
		n := min(len(plaintext), FrameSize)
		last := n == len(plaintext)
		nn := nonce(counter, last)
		dst = aead.Seal(dst, nn[:], plaintext[:n], ad[:])
		plaintext = plaintext[n:]
		if last {
			return dst, nil
		}
	}
}

// Open decrypts a whole object held in memory, refusing one whose plaintext
// is larger than max bytes.
func Open(parent []byte, want Expect, object []byte, max int64) ([]byte, error) {
	if int64(len(object)) > max+MaxHeaderLen+(max/FrameSize+1)*tagSize {
		return nil, fmt.Errorf("%w: %s larger than %d bytes", ErrMalformed, want.Kind, max)
	}
	out, err := AppendOpen(make([]byte, 0, len(object)), parent, want, object) // sized up front: no copy per frame
	if err != nil {
		return nil, err
	}
	if int64(len(out)) > max {
		return nil, fmt.Errorf("%w: %s larger than %d bytes", ErrMalformed, want.Kind, max)
	}
	return out, nil
}

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// AppendOpen decrypts a whole object held in memory, appending the plaintext
// to dst (which may be a reused buffer) without intermediate copies. It
// accepts and refuses exactly what OpenReader does.
func AppendOpen(dst []byte, parent []byte, want Expect, object []byte) ([]byte, error) {
	r := &sliceReader{b: object}
	h, enc, err := ReadHeader(r)
	if err != nil {
		return dst, err
	}
	if err := h.Check(want); err != nil {
		return dst, err
	}
	if h.Suite == Plain {
		return dst, fmt.Errorf("%w: %s is not encrypted", ErrMalformed, h.Kind)
	}
	key, commitment, err := deriveKeys(parent, h, enc)
	if err != nil {
		return dst, err
	}
	if subtle.ConstantTimeCompare(commitment[:], h.Commitment[:]) != 1 {
		return dst, fmt.Errorf("%w: %s", ErrWrongKey, h.Kind)
	}
	aead, err := newAEAD(h.Suite, key[:])
	if err != nil {
		return dst, err
	}
	ad := sha256.Sum256(enc)
	body := r.b
	for counter := uint64(0); ; counter++ {
		if len(body) < tagSize {
			if len(body) == 0 {
				return dst, fmt.Errorf("%w: no final frame after %d frames", ErrTruncated, counter)
			}
			return dst, fmt.Errorf("%w: frame %d is %d bytes", ErrTruncated, counter, len(body))
		}
		n := min(len(body), FrameSize+tagSize)
		frame := body[:n]
		body = body[n:]
		start := len(dst)
		if n == FrameSize+tagSize && len(body) > 0 {
			nn := nonce(counter, false)
			out, err := aead.Open(dst, nn[:], frame, ad[:])
			if err != nil {
				return dst[:start], fmt.Errorf("%w: frame %d", ErrAuth, counter)
			}
			dst = out
			continue
		}
		nn := nonce(counter, true)
		out, err := aead.Open(dst, nn[:], frame, ad[:])
		if err != nil {
			if n == FrameSize+tagSize {
				nm := nonce(counter, false)
				if _, err2 := aead.Open(dst[start:start], nm[:], frame, ad[:]); err2 == nil {
					return dst[:start], fmt.Errorf("%w: no final frame after %d frames", ErrTruncated, counter+1)
				}
			}
			return dst[:start], fmt.Errorf("%w: frame %d", ErrAuth, counter)
		}
		dst = out
		if len(dst) == start && counter > 0 {
			return dst[:start], fmt.Errorf("%w: empty final frame %d", ErrMalformed, counter)
		}
		if len(body) > 0 {
			return dst, ErrTrailing
		}
		return dst, nil
	}
}
