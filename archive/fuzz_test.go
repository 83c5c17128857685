package archive

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/chatvault/chatvault/crypto/seal"
)

// Fuzz targets for every parser of untrusted bytes in this package. Their seed
// corpora live in testdata/fuzz/<Name>; TestFuzzCorporaPresent fails if one is
// missing, so that a deleted corpus does not silently shrink the fuzzing.

func TestFuzzCorporaPresent(t *testing.T) {
	for _, name := range []string{"FuzzKeyTable", "FuzzIntegrityList", "FuzzIndexRun", "FuzzPlainObject", "FuzzManifests"} {
		m, _ := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*"))
		if len(m) < 3 {
			t.Errorf("seed corpus of %s has %d files, want at least 3", name, len(m))
		}
	}
}

func FuzzKeyTable(f *testing.F) {
	f.Add(encodeKeyTable([]keyTableEntry{{Conv: ID{1}}, {Conv: ID{2}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := decodeKeyTable(b)
		if err != nil {
			return
		}
		if again := encodeKeyTable(entries); len(again) != len(b) {
			t.Fatalf("key table does not round-trip: %d vs %d bytes", len(again), len(b))
		}
	})
}

func FuzzIntegrityList(f *testing.F) {
	f.Add(encodeIntegrityList(Digest{1}, []integrityRecord{{Area: areaKeys, ID: ID{3}, Size: 10}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		parent, recs, err := decodeIntegrityList(b)
		if err != nil {
			return
		}
		if again := encodeIntegrityList(parent, recs); !bytes.Equal(again, b) {
			t.Fatalf("integrity list does not round-trip")
		}
	})
}

func FuzzIndexRun(f *testing.F) {
	f.Add(encodeIndexRun([]indexRecord{{IDHash: [16]byte{1}, Commit: 2}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := decodeIndexRun(b)
		if err != nil {
			return
		}
		if again := encodeIndexRun(recs); len(again) != len(b) {
			t.Fatalf("index run does not round-trip")
		}
	})
}

// FuzzPlainObject feeds stored bytes to the decoders of hashed and signed
// objects and of the JSON bodies they carry (descriptor, wrapper, wrapper set,
// commit): none may panic, and a forged signature never verifies.
func FuzzPlainObject(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(bytes.NewReader(make([]byte, 64)))
	h := plainHeader(seal.KindWrapper, ID{}, nil, make([]byte, 16))
	obj, _ := encodeHashed(h, []byte(`{"type":"passphrase","created":"2024-01-01T00:00:00Z","epoch":0,"kdf":{"t":3,"m":65536,"p":4,"salt":"AAAAAAAAAAAAAAAAAAAAAA=="}}`))
	f.Add(obj)
	signed, _ := encodeSigned(plainHeader(seal.KindCommit, ID{}, nil, commitObjectID(1)), []byte(`{"format":1}`), priv)
	f.Add(signed)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, kind := range []seal.Kind{seal.KindWrapper, seal.KindDescriptor, seal.KindWrapperSet} {
			want := seal.Expect{Kind: kind, ArchiveID: make([]byte, 16), ObjectID: make([]byte, 16)}
			if body, err := decodeHashed("x", b, want); err == nil {
				strictJSON(body, &Wrapper{})
				strictJSON(body, &descriptor{})
				strictJSON(body, &wrapperSet{})
			}
		}
		want := seal.Expect{Kind: seal.KindCommit, ArchiveID: make([]byte, 16), ObjectID: commitObjectID(1)}
		if body, err := decodeSigned("x", b, want, pub); err == nil {
			if !bytes.Equal(b, signed) {
				t.Fatalf("forged signature verified")
			}
			strictJSON(body, &commitBody{})
		}
	})
}

// FuzzManifests decodes manifest plaintexts (after decryption they are JSON).
func FuzzManifests(f *testing.F) {
	f.Add([]byte(`{"commit":1,"time":"2024-01-01T00:00:00Z","label":"x","parent":null,"conversations":[],"removed":[],"messages_added":0,"messages_total":0,"stores":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		strictJSON(b, &versionManifest{})
		strictJSON(b, &convManifest{})
	})
}

// writeSeeds turns the golden archive's objects into seed corpora (run once
// with CHATVAULT_WRITE_SEEDS=1).
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("CHATVAULT_WRITE_SEEDS") == "" {
		t.Skip("set CHATVAULT_WRITE_SEEDS=1 to rewrite the seed corpora")
	}
	files, _ := filepath.Glob(filepath.Join(goldenDir, "store", "archives", "*", "*", "*"))
	write := func(name string, i int, b []byte) {
		dir := filepath.Join("testdata", "fuzz", name)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "seed"+string(rune('a'+i))), []byte("go test fuzz v1\n[]byte("+quoteGo(b)+")\n"), 0o644)
	}
	for i, f := range files {
		if i > 20 {
			break
		}
		b, _ := os.ReadFile(f)
		write("FuzzPlainObject", i, b)
	}
	write("FuzzKeyTable", 0, encodeKeyTable(nil))
	write("FuzzKeyTable", 1, encodeKeyTable([]keyTableEntry{{Conv: ID{1}, Key: [32]byte{2}}}))
	write("FuzzKeyTable", 2, []byte{0, 0, 0, 1})
	write("FuzzIntegrityList", 0, encodeIntegrityList(Digest{}, nil))
	write("FuzzIntegrityList", 1, encodeIntegrityList(Digest{9}, []integrityRecord{{Area: 1, ID: ID{1}, Size: 5, CRC64: 7}}))
	write("FuzzIntegrityList", 2, append(encodeIntegrityList(Digest{}, nil), 1))
	write("FuzzIndexRun", 0, encodeIndexRun(nil))
	write("FuzzIndexRun", 1, encodeIndexRun([]indexRecord{{IDHash: [16]byte{1}, Rev: [8]byte{2}, Commit: 3}}))
	write("FuzzIndexRun", 2, []byte{0xff, 0xff, 0xff, 0xff})
	write("FuzzManifests", 0, []byte(`{"commit":2,"parent":null,"source_key":"s","label":"l","participants":[],"segments":[{"id":"00000000000000000000000000000000","size":1,"sha256":"0000000000000000000000000000000000000000000000000000000000000000","messages":1,"plain":2,"first":"2024-01-01T00:00:00Z","last":"2024-01-01T00:00:00Z"}],"index_run":null,"superseded":null,"blobs":[],"messages":1,"first":"2024-01-01T00:00:00Z","last":"2024-01-01T00:00:00Z","index_runs":1}`))
	write("FuzzManifests", 1, []byte(`{"commit":1,"unknown":1}`))
	write("FuzzManifests", 2, []byte(`{"commit":1} trailing`))
}

func quoteGo(b []byte) string {
	var sb bytes.Buffer
	sb.WriteByte('"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			sb.WriteString("\\x")
			sb.WriteByte("0123456789abcdef"[c>>4])
			sb.WriteByte("0123456789abcdef"[c&15])
		}
	}
	sb.WriteByte('"')
	return sb.String()
}
