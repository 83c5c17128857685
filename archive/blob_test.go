package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archive/canon"
)

// blobSource is a canonical source whose messages carry files.
type blobSource struct {
	r     *canon.Reader
	files map[string][]byte // message id → file
	cur   []canon.Blob
}

func newBlobSource(jsonl string, files map[string][]byte) *blobSource {
	return &blobSource{r: canon.NewReader(strings.NewReader(jsonl), "in"), files: files}
}

func (s *blobSource) Next() (canon.Message, error) {
	m, err := s.r.Next()
	s.cur = nil
	if f, ok := s.files[m.ID]; ok && err == nil {
		s.cur = []canon.Blob{{SHA256: sha256.Sum256(f), Size: int64(len(f)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f)), nil }}}
	}
	return m, err
}

func (s *blobSource) Blobs() []canon.Blob { return s.cur }

func withBlob(conv, id string, f []byte) string {
	sum := sha256.Sum256(f)
	return fmt.Sprintf(`{"conversation":%q,"id":%q,"time":"2024-01-01T00:00:00Z","kind":"message","attachments":[{"name":"a.bin","size":%d,"sha256":"%x","blob":"%x"}]}`+"\n", conv, id, len(f), sum, sum)
}

func TestBlobs(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	photo := bytes.Repeat([]byte("jpeg"), 70000) // several frames
	in := withBlob("c1", "1", photo) + withBlob("c1", "2", photo) + withBlob("c2", "1", photo)
	files := map[string][]byte{"1": photo, "2": photo}
	if _, err := a.Export(e.ctx, newBlobSource(in, files), ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	blobFiles := func() []string {
		var out []string
		for _, f := range storeFiles(t, e.st.Root()) {
			b, _ := os.ReadFile(filepath.Join(e.st.Root(), f))
			if len(b) > len(photo) {
				out = append(out, f)
			}
		}
		return out
	}
	// Once per conversation: c1's two messages share one blob, c2 has its own.
	if got := blobFiles(); len(got) != 2 {
		t.Fatalf("blob objects: %v", got)
	}
	b := e.open(a.ID())
	convs, _ := b.Conversations(e.ctx, 0)
	sum := sha256.Sum256(photo)
	for _, c := range convs {
		rc, err := b.OpenBlob(e.ctx, c.ID, hex.EncodeToString(sum[:]))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, photo) {
			t.Fatalf("blob of %s: %d bytes, %v", c.SourceKey, len(got), err)
		}
	}
	// Re-exporting stores nothing new.
	res, err := b.Export(e.ctx, newBlobSource(in, files), ExportOptions{})
	if err != nil || res.Commit != 0 {
		t.Fatalf("re-export: %+v %v", res, err)
	}
	if _, err := b.Verify(e.ctx, VerifyOptions{ReadData: true}); err != nil {
		t.Fatal(err)
	}
	// A damaged blob fails verify and reading.
	victim := filepath.Join(e.st.Root(), blobFiles()[0])
	data, _ := os.ReadFile(victim)
	data[len(data)/2] ^= 1
	os.WriteFile(victim, data, 0o600)
	if _, err := e.open(a.ID()).Verify(e.ctx, VerifyOptions{ReadData: true}); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("damaged blob: %v", err)
	}
}

// A blob written by a run that then failed is adopted by the next run.
func TestBlobLeftByCrashedRunIsAdopted(t *testing.T) {
	e := newEnv(t)
	a := e.create("x")
	f := []byte("voice note")
	in := withBlob("c", "1", f) + msg("c", "2", "2024-01-01T00:00:00Z", "x")
	fs := &failingStore{Store: e.st, after: 1} // the blob, then nothing
	b, _ := Open(e.ctx, fs, a.ID(), e.opts())
	b.Unlock(e.ctx, RecoveryUnlocker{Key: testKey})
	if _, err := b.Export(e.ctx, newBlobSource(in, map[string][]byte{"1": f}), ExportOptions{}); !errors.Is(err, errDiskFull) {
		t.Fatalf("first run: %v", err)
	}
	if n := len(storeFiles(t, filepath.Join(e.st.Root(), "archives", a.ID().String(), "objects"))); n != 4 {
		t.Fatalf("%d objects after the failed run, want the 3 of init and the blob", n)
	}
	c := e.open(a.ID())
	if _, err := c.Export(e.ctx, newBlobSource(in, map[string][]byte{"1": f}), ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(e.ctx, VerifyOptions{ReadData: true}); err != nil {
		t.Fatal(err)
	}
}
