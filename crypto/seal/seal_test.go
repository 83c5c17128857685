package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"testing"
)

func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

var (
	vecParent  = seq(0x00, 32)
	vecArchive = seq(0xa0, 16)
	vecConv    = seq(0xc0, 16)
	vecObject  = seq(0xb0, 16)
)

func vecHeader(s Suite) *Header {
	return &Header{Suite: s, Kind: KindSegment, ArchiveID: vecArchive, ConversationID: vecConv, ObjectID: vecObject, Epoch: 2}
}

func vecExpect() Expect {
	return Expect{Kind: KindSegment, ArchiveID: vecArchive, ConversationID: vecConv, ObjectID: vecObject, Epoch: 2}
}

// Test vectors, documented in docs/FORMAT.md: fixed parent key, salt and ids.
var vectors = []struct {
	suite Suite
	want  string
}{
	{AES256GCM, "43564c5401010a10a0a1a2a3a4a5a6a7a8a9aaabacadaeaf10c0c1c2c3c4c5c6c7c8c9cacbcccdcecf10b0b1b2b3b4b5b6b7b8b9babbbcbdbebf00000002404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5ffc47a37b77bf30d5d4ecf978c719932c79c48a8d21d6e0b0f4a8b74ef45e88d252436a051a317731ac3854460cb4779500be0465bfebc9dd57f6da4f631d3fbcb6"},
	{ChaCha20Poly1305, "43564c5401020a10a0a1a2a3a4a5a6a7a8a9aaabacadaeaf10c0c1c2c3c4c5c6c7c8c9cacbcccdcecf10b0b1b2b3b4b5b6b7b8b9babbbcbdbebf00000002404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5fb9c273aa951246e735ce5a55d8f3c3d9bc0b2834e51b8de15c629775538aca37f5eef6fad6079e415c8faba73ed7f203f085ae7f92cb32c30ef83f6db349e8e3dc"},
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		got, err := Seal(vecParent, vecHeader(v.suite), []byte("hello, chatvault\n"), bytes.NewReader(seq(0x40, 32)))
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != v.want {
			t.Errorf("%s: got\n%x\nwant\n%s", v.suite, got, v.want)
		}
		pt, err := Open(vecParent, vecExpect(), got, 1<<20)
		if err != nil || string(pt) != "hello, chatvault\n" {
			t.Errorf("%s: open: %q, %v", v.suite, pt, err)
		}
	}
}

func roundTrip(t *testing.T, s Suite, size int) []byte {
	t.Helper()
	pt := make([]byte, size)
	rand.Read(pt)
	var buf bytes.Buffer
	h := vecHeader(s)
	w, err := NewWriter(&buf, vecParent, h, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// write in odd-sized pieces to exercise frame buffering
	for p := pt; len(p) > 0; {
		n := min(len(p), 1000+len(p)%7777)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The in-memory sealer makes the same object as the Writer, given the same salt.
	again, err := AppendSeal(nil, vecParent, vecHeader(s), pt, bytes.NewReader(h.Salt[:]))
	if err != nil || !bytes.Equal(again, buf.Bytes()) {
		t.Fatalf("size %d: AppendSeal differs from Writer (%v)", size, err)
	}
	frames := size / FrameSize
	if size%FrameSize != 0 || size == 0 {
		frames++
	}
	hl, _ := h.Marshal()
	if want := len(hl) + size + frames*tagSize; buf.Len() != want {
		t.Fatalf("size %d: object is %d bytes, want %d", size, buf.Len(), want)
	}
	_, r, err := OpenReader(bytes.NewReader(buf.Bytes()), vecParent, vecExpect())
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("size %d: %v", size, err)
	}
	if !bytes.Equal(got, pt) {
		t.Fatalf("size %d: plaintext differs", size)
	}
	return buf.Bytes()
}

var boundarySizes = []int{0, 1, FrameSize - 1, FrameSize, FrameSize + 1, 2 * FrameSize, 2*FrameSize + 1, 1 << 20}

func TestRoundTripBoundaries(t *testing.T) {
	for _, s := range []Suite{AES256GCM, ChaCha20Poly1305} {
		for _, size := range boundarySizes {
			roundTrip(t, s, size)
		}
	}
}

// readAll opens obj both ways, streaming and in memory, and requires them to
// agree.
func readAll(obj []byte, parent []byte, want Expect) error {
	mem, memErr := AppendOpen(make([]byte, 0, 10), parent, want, obj)
	_, r, err := OpenReader(bytes.NewReader(obj), parent, want)
	var stream []byte
	if err == nil {
		stream, err = io.ReadAll(r)
	}
	if (err == nil) != (memErr == nil) || (err == nil && !bytes.Equal(mem, stream)) {
		panic(fmt.Sprintf("OpenReader: %v; AppendOpen: %v", err, memErr))
	}
	return err
}

func TestWrongKey(t *testing.T) {
	obj := roundTrip(t, AES256GCM, 10)
	if err := readAll(obj, seq(1, 32), vecExpect()); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("got %v, want ErrWrongKey", err)
	}
}

func TestMismatch(t *testing.T) {
	obj := roundTrip(t, AES256GCM, 10)
	for name, mod := range map[string]func(*Expect){
		"kind":         func(e *Expect) { e.Kind = KindBlob },
		"archive":      func(e *Expect) { e.ArchiveID = seq(1, 16) },
		"conversation": func(e *Expect) { e.ConversationID = nil },
		"object":       func(e *Expect) { e.ObjectID = seq(2, 16) },
		"epoch":        func(e *Expect) { e.Epoch = 0 },
	} {
		want := vecExpect()
		mod(&want)
		if err := readAll(obj, vecParent, want); !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: got %v, want ErrMismatch", name, err)
		}
	}
}

// Every single flipped byte, anywhere, makes the object fail to open.
func TestTamperEveryByte(t *testing.T) {
	for _, size := range []int{0, 100, FrameSize + 5} {
		obj := roundTrip(t, ChaCha20Poly1305, size)
		for i := 0; i < len(obj); i++ {
			if i > 200 && i < len(obj)-200 && i%331 != 0 {
				continue // every header byte, both ends, and a sample in between
			}
			bad := bytes.Clone(obj)
			bad[i] ^= 0x01
			if err := readAll(bad, vecParent, vecExpect()); err == nil {
				t.Fatalf("size %d: flipping byte %d went unnoticed", size, i)
			}
		}
	}
}

func TestTruncationAndTrailing(t *testing.T) {
	obj := roundTrip(t, AES256GCM, 3*FrameSize)
	hl, _ := vecHeader(AES256GCM).Marshal()
	ef := FrameSize + tagSize
	for _, cut := range []int{0, 5, len(hl) - 1, len(hl), len(hl) + 1, len(hl) + ef - 1, len(hl) + ef, len(hl) + ef + 1, len(hl) + 2*ef, len(obj) - 1} {
		if err := readAll(obj[:cut], vecParent, vecExpect()); err == nil {
			t.Errorf("truncated at %d of %d: no error", cut, len(obj))
		} else if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrAuth) {
			t.Errorf("truncated at %d: %v", cut, err)
		}
	}
	if err := readAll(append(bytes.Clone(obj), 0), vecParent, vecExpect()); !errors.Is(err, ErrTrailing) {
		t.Errorf("trailing byte: got %v", err)
	}
}

func TestFrameSwap(t *testing.T) {
	obj := roundTrip(t, AES256GCM, 3*FrameSize)
	hl, _ := vecHeader(AES256GCM).Marshal()
	ef := FrameSize + tagSize
	bad := bytes.Clone(obj)
	copy(bad[len(hl):], obj[len(hl)+ef:len(hl)+2*ef])
	copy(bad[len(hl)+ef:], obj[len(hl):len(hl)+ef])
	if err := readAll(bad, vecParent, vecExpect()); !errors.Is(err, ErrAuth) {
		t.Fatalf("swapped frames: got %v", err)
	}
	// A header taken from another object with the same ids but another salt.
	other := roundTrip(t, AES256GCM, 3*FrameSize)
	mixed := append(bytes.Clone(other[:len(hl)]), obj[len(hl):]...)
	if err := readAll(mixed, vecParent, vecExpect()); !errors.Is(err, ErrAuth) {
		t.Fatalf("foreign header: got %v", err)
	}
}

func TestHeaderBounds(t *testing.T) {
	h := vecHeader(Plain)
	h.ObjectID = make([]byte, MaxIDLen+1)
	if _, err := h.Marshal(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("long id: %v", err)
	}
	enc, _ := (&Header{Version: 1, Kind: KindCommit}).Marshal()
	enc[7] = MaxIDLen + 1
	if _, _, err := ReadHeader(bytes.NewReader(enc)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("long id length: %v", err)
	}
	enc, _ = (&Header{Version: 9, Kind: KindCommit}).Marshal()
	if _, _, err := ReadHeader(bytes.NewReader(enc)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("future version: %v", err)
	}
}

func FuzzReadHeader(f *testing.F) {
	enc, _ := vecHeader(AES256GCM).Marshal()
	f.Add(enc)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, raw, err := ReadHeader(bytes.NewReader(b))
		if err != nil {
			return
		}
		again, err := h.Marshal()
		if err != nil || !bytes.Equal(again, raw) || !bytes.Equal(raw, b[:len(raw)]) {
			t.Fatalf("header does not round-trip: %x vs %x (%v)", again, raw, err)
		}
	})
}

func FuzzOpen(f *testing.F) {
	// The objects that legitimately open under vecParent: the test vectors.
	var legit [][]byte
	for _, v := range vectors {
		b, _ := hex.DecodeString(v.want)
		legit = append(legit, b)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Anything the fuzzer makes must fail cleanly, never panic or return
		// plaintext it did not authenticate.
		pt, err := Open(vecParent, vecExpect(), b, 1<<20)
		if err == nil && !slices.ContainsFunc(legit, func(l []byte) bool { return bytes.Equal(l, b) }) {
			t.Fatalf("forged object opened: %q", pt)
		}
		// The streaming reader and the in-memory decrypter agree.
		var pt2 []byte
		_, r, err2 := OpenReader(bytes.NewReader(b), vecParent, vecExpect())
		if err2 == nil {
			pt2, err2 = io.ReadAll(r)
		}
		if (err == nil) != (err2 == nil) || !bytes.Equal(pt, pt2) {
			t.Fatalf("Open: %v; OpenReader: %v", err, err2)
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	for _, s := range []Suite{AES256GCM, ChaCha20Poly1305} {
		b.Run(s.String(), func(b *testing.B) {
			pt := make([]byte, 4<<20)
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				w, _ := NewWriter(io.Discard, vecParent, vecHeader(s), rand.Reader)
				w.Write(pt)
				w.Close()
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, s := range []Suite{AES256GCM, ChaCha20Poly1305} {
		b.Run(s.String(), func(b *testing.B) {
			pt := make([]byte, 4<<20)
			obj, _ := Seal(vecParent, vecHeader(s), pt, rand.Reader)
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				_, r, _ := OpenReader(bytes.NewReader(obj), vecParent, vecExpect())
				io.Copy(io.Discard, r)
			}
		})
	}
}

func TestFuzzCorporaPresent(t *testing.T) {
	for _, name := range []string{"FuzzReadHeader", "FuzzOpen"} {
		m, _ := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*"))
		if len(m) < 3 {
			t.Errorf("seed corpus of %s has %d files, want at least 3", name, len(m))
		}
	}
}
