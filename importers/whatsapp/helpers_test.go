package whatsapp

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/hex"
	"encoding/json"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/importers"
)

// msg is a decoded canonical line.
type msg struct {
	Conversation     string `json:"conversation"`
	ID               string `json:"id"`
	Time             string `json:"time"`
	Kind             string `json:"kind"`
	ConversationName string `json:"conversation_name"`
	Sender           string `json:"sender"`
	SenderName       string `json:"sender_name"`
	Text             *string
	EditedAt         string `json:"edited_at"`
	Attachments      []struct {
		Name    string `json:"name"`
		Mime    string `json:"mime"`
		Size    int64  `json:"size"`
		SHA256  string `json:"sha256"`
		Blob    string `json:"blob"`
		Missing string `json:"missing"`
	} `json:"attachments"`
	Service   string `json:"service"`
	TimeBasis string `json:"time_basis"`
	Raw       string `json:"raw"`
}

func (m msg) text() string {
	if m.Text == nil {
		return ""
	}
	return *m.Text
}

func decode(t testing.TB, lines []string) []msg {
	t.Helper()
	out := make([]msg, len(lines))
	for i, l := range lines {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &raw); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if err := json.Unmarshal([]byte(l), &out[i]); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if tx, ok := raw["text"]; ok {
			var s string
			if err := json.Unmarshal(tx, &s); err != nil {
				t.Fatal(err)
			}
			out[i].Text = &s
		}
	}
	return out
}

// importText writes content as name in a fresh directory and imports it.
func importText(t testing.TB, name, content string, o importers.Options) (*result, []msg) {
	t.Helper()
	p := writeFile(t, t.TempDir(), name, content)
	r := run(t, p, o)
	if r.err != nil {
		return r, nil
	}
	return r, decode(t, r.lines)
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// zipEntry is one file of a test zip. Raw entries are written as given with
// the declared sizes (to lie about them).
type zipEntry struct {
	name     string
	data     []byte
	mode     fs.FileMode
	store    bool
	declared uint64 // with raw: the uncompressed size to declare
	raw      bool
}

func makeZip(t testing.TB, path string, entries ...zipEntry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.raw {
			var comp bytes.Buffer
			fw, _ := flate.NewWriter(&comp, flate.BestCompression)
			fw.Write(e.data)
			fw.Close()
			h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(e.data),
				CompressedSize64: uint64(comp.Len()), UncompressedSize64: e.declared}
			w, err := zw.CreateRaw(h)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(comp.Bytes())
			continue
		}
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.store {
			h.Method = zip.Store
		}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func lines(s ...string) string { return strings.Join(s, "\n") + "\n" }

func makeZipBytes(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	p := makeZip(t, filepath.Join(t.TempDir(), "z.zip"), entries...)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hexSum(b []byte) string {
	s := sha256Sum(b)
	return hex.EncodeToString(s[:])
}
