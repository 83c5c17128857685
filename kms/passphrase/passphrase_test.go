package passphrase

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// The expected KEKs below were computed once with this package and
// independently reproduced with testdata/argon2ref.py, a plain Python
// transcription of RFC 9106 that also reproduces the RFC's own Argon2id test
// vector (section 5.3). That vector uses a secret value K and associated data X,
// which golang.org/x/crypto/argon2 does not expose, so it cannot be checked from
// Go; TestArgon2Reference instead checks argon2.IDKey against vectors of the
// reference C implementation.
var kekVectors = []struct {
	name       string
	passphrase string
	params     Params
	want       string
}{
	{
		name:       "defaults",
		passphrase: "correct horse battery staple",
		params:     Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 4, Salt: []byte("chatvault-test-s")},
		want:       "878feae6be860bfcc99380aed807cd2446d59dcc46e4c148a02384d7b9e275d1",
	},
	{
		name:       "minimal",
		passphrase: "correct horse battery staple",
		params:     Params{Time: 1, MemoryKiB: 64, Threads: 1, Salt: []byte("chatvault-test-s")},
		want:       "b88e330f9ed8797c8616e784825a29be7ac5725432221482c4ad733109c6fdcd",
	},
	{
		name:       "32-byte salt",
		passphrase: "correct horse battery staple",
		params:     Params{Time: 2, MemoryKiB: 1024, Threads: 2, Salt: []byte("0123456789abcdef0123456789abcdef")},
		want:       "499acb350ef0253d533427389a35b722da1f2c435c439b3947a1198f500edf67",
	},
}

func TestDeriveKEKVectors(t *testing.T) {
	for _, v := range kekVectors {
		t.Run(v.name, func(t *testing.T) {
			got, err := DeriveKEK([]byte(v.passphrase), v.params)
			if err != nil {
				t.Fatal(err)
			}
			if h := hex.EncodeToString(got[:]); h != v.want {
				t.Errorf("KEK = %s, want %s", h, v.want)
			}
		})
	}
}

func TestDeriveKEKSensitivity(t *testing.T) {
	base := Params{Time: 1, MemoryKiB: 64, Threads: 1, Salt: []byte("chatvault-test-s")}
	ref, err := DeriveKEK([]byte("pass"), base)
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string]struct {
		pass string
		p    Params
	}{
		"passphrase": {"pasS", base},
		"salt":       {"pass", Params{Time: 1, MemoryKiB: 64, Threads: 1, Salt: []byte("chatvault-test-S")}},
		"time":       {"pass", Params{Time: 2, MemoryKiB: 64, Threads: 1, Salt: base.Salt}},
		"memory":     {"pass", Params{Time: 1, MemoryKiB: 128, Threads: 1, Salt: base.Salt}},
		"threads":    {"pass", Params{Time: 1, MemoryKiB: 64, Threads: 2, Salt: base.Salt}},
	}
	for name, v := range variants {
		got, err := DeriveKEK([]byte(v.pass), v.p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got == ref {
			t.Errorf("changing the %s did not change the KEK", name)
		}
	}
}

// TestArgon2Reference checks the Argon2id implementation we depend on
// (golang.org/x/crypto/argon2) against outputs of the reference C implementation
// (github.com/P-H-C/phc-winner-argon2 CLI, password "password", salt "somesalt").
func TestArgon2Reference(t *testing.T) {
	for _, v := range []struct {
		time, memory uint32
		threads      uint8
		hash         string
	}{
		{1, 64, 1, "655ad15eac652dc59f7170a7332bf49b8469be1fdb9c28bb"},
		{2, 64, 2, "350ac37222f436ccb5c0972f1ebd3bf6b958bf2071841362"},
		{3, 256, 2, "4668d30ac4187e6878eedeacf0fd83c5a0a30db2cc16ef0b"},
		{4, 4096, 4, "145db9733a9f4ee43edf33c509be96b934d505a4efb33c5a"},
		{3, 1024, 6, "1640b932f4b60e272f5d2207b9a9c626ffa1bd88d2349016"},
	} {
		got := argon2.IDKey([]byte("password"), []byte("somesalt"), v.time, v.memory, v.threads, 24)
		if h := hex.EncodeToString(got); h != v.hash {
			t.Errorf("IDKey(t=%d, m=%d, p=%d) = %s, want %s", v.time, v.memory, v.threads, h, v.hash)
		}
	}
}

func TestNewParams(t *testing.T) {
	seed := bytes.Repeat([]byte{0xAB}, 100)
	p, err := NewParams(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	if p.Time != 3 || p.MemoryKiB != 65536 || p.Threads != 4 {
		t.Errorf("costs = %v, want t=3 m=65536 p=4", p)
	}
	if !bytes.Equal(p.Salt, seed[:16]) {
		t.Errorf("salt = %x, want the first 16 bytes of the reader", p.Salt)
	}
	if err := p.Check(DefaultMaxMemoryKiB); err != nil {
		t.Errorf("new params fail Check: %v", err)
	}

	a, err := NewParams(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewParams(nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Salt, b.Salt) {
		t.Error("two NewParams(nil) returned the same salt")
	}

	_, err = NewParams(bytes.NewReader(make([]byte, 5)))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short reader: err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestParamsJSON(t *testing.T) {
	p := Params{Time: 3, MemoryKiB: 65536, Threads: 4, Salt: []byte("0123456789abcdef")}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"t":3,"m":65536,"p":4,"salt":"MDEyMzQ1Njc4OWFiY2RlZg=="}`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	var q Params
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	if q.Time != p.Time || q.MemoryKiB != p.MemoryKiB || q.Threads != p.Threads || !bytes.Equal(q.Salt, p.Salt) {
		t.Errorf("round trip = %+v, want %+v", q, p)
	}
	// A forged parallelism beyond uint8 is a decode error, not a silent wrap.
	if err := json.Unmarshal([]byte(`{"t":3,"m":65536,"p":260,"salt":"MDEyMzQ1Njc4OWFiY2RlZg=="}`), &q); err == nil {
		t.Error("p=260 decoded without error")
	}
}

func TestCheck(t *testing.T) {
	salt16 := make([]byte, 16)
	ok := Params{Time: 3, MemoryKiB: 65536, Threads: 4, Salt: salt16}
	with := func(f func(*Params)) Params {
		p := ok
		f(&p)
		return p
	}
	tests := []struct {
		name    string
		p       Params
		max     uint32
		wantErr string // substring; "" means valid
	}{
		{"defaults", ok, DefaultMaxMemoryKiB, ""},
		{"zero limit means default", ok, 0, ""},
		{"time 0", with(func(p *Params) { p.Time = 0 }), 0, "time cost 0"},
		{"time 1", with(func(p *Params) { p.Time = 1 }), 0, ""},
		{"time 16", with(func(p *Params) { p.Time = 16 }), 0, ""},
		{"time 17", with(func(p *Params) { p.Time = 17 }), 0, "time cost 17"},
		{"time huge", with(func(p *Params) { p.Time = 1 << 31 }), 0, "time cost"},
		{"threads 0", with(func(p *Params) { p.Threads = 0 }), 0, "parallelism 0"},
		{"threads 1", with(func(p *Params) { p.Threads = 1 }), 0, ""},
		{"threads 16", with(func(p *Params) { p.Threads = 16 }), 0, ""},
		{"threads 17", with(func(p *Params) { p.Threads = 17 }), 0, "parallelism 17"},
		{"threads 255", with(func(p *Params) { p.Threads = 255 }), 0, "parallelism 255"},
		{"salt nil", with(func(p *Params) { p.Salt = nil }), 0, "salt length 0"},
		{"salt 15", with(func(p *Params) { p.Salt = make([]byte, 15) }), 0, "salt length 15"},
		{"salt 64", with(func(p *Params) { p.Salt = make([]byte, 64) }), 0, ""},
		{"salt 65", with(func(p *Params) { p.Salt = make([]byte, 65) }), 0, "salt length 65"},
		{"memory at default limit", with(func(p *Params) { p.MemoryKiB = DefaultMaxMemoryKiB }), 0, ""},
		{"memory over default limit", with(func(p *Params) { p.MemoryKiB = DefaultMaxMemoryKiB + 1 }), 0, "exceeds the limit of 262144 KiB"},
		{"memory 4 TiB", with(func(p *Params) { p.MemoryKiB = 1<<32 - 1 }), 0, "memory cost 4294967295 KiB exceeds"},
		{"memory under raised limit", with(func(p *Params) { p.MemoryKiB = 1 << 20 }), 1 << 20, ""},
		{"memory over lowered limit", ok, 1024, "exceeds the limit of 1024 KiB"},
		{"memory 0", with(func(p *Params) { p.MemoryKiB = 0 }), 0, "below the Argon2 minimum"},
		{"memory 8*p", with(func(p *Params) { p.MemoryKiB = 32 }), 0, ""},
		{"memory below 8*p", with(func(p *Params) { p.MemoryKiB = 31 }), 0, "memory cost 31 KiB below the Argon2 minimum"},
		{"memory below 8*p, p=16", with(func(p *Params) { p.Threads = 16; p.MemoryKiB = 127 }), 0, "(128 KiB for parallelism 16)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Check(tt.max)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrBadParams) {
				t.Fatalf("Check = %v, want an error wrapping ErrBadParams", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Check = %q, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

// stubIDKey replaces the Argon2 call for the duration of the test.
func stubIDKey(t *testing.T, f func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte) {
	t.Helper()
	old := idKey
	idKey = f
	t.Cleanup(func() { idKey = old })
}

func TestDeriveChecksBeforeDeriving(t *testing.T) {
	var calls atomic.Int32
	stubIDKey(t, func(_, _ []byte, _, _ uint32, _ uint8, keyLen uint32) []byte {
		calls.Add(1)
		return make([]byte, keyLen)
	})
	forged := Params{Time: 3, MemoryKiB: 1 << 30, Threads: 4, Salt: make([]byte, 16)} // 1 TiB

	if _, err := DeriveKEK([]byte("pw"), forged); !errors.Is(err, ErrBadParams) {
		t.Errorf("DeriveKEK(1 TiB) = %v, want ErrBadParams", err)
	}
	if _, err := DeriveKEKWithLimit([]byte("pw"), forged, 1<<29); !errors.Is(err, ErrBadParams) {
		t.Errorf("DeriveKEKWithLimit(1 TiB, limit 512 GiB) = %v, want ErrBadParams", err)
	}
	if _, err := DeriveKEK(nil, Params{Time: 1, MemoryKiB: 64, Threads: 1, Salt: make([]byte, 16)}); !errors.Is(err, ErrEmptyPassphrase) {
		t.Errorf("DeriveKEK(empty) = %v, want ErrEmptyPassphrase", err)
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("argon2 ran %d times for rejected input", n)
	}
	if _, err := DeriveKEKWithLimit([]byte("pw"), forged, 1<<30); err != nil {
		t.Errorf("DeriveKEKWithLimit(1 TiB, limit 1 TiB) = %v, want success", err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("argon2 ran %d times, want 1", n)
	}
}

func TestDeriveSerialized(t *testing.T) {
	var running, maxRunning atomic.Int32
	stubIDKey(t, func(_, _ []byte, _, _ uint32, _ uint8, keyLen uint32) []byte {
		n := running.Add(1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		running.Add(-1)
		return make([]byte, keyLen)
	})
	p := Params{Time: 1, MemoryKiB: 64, Threads: 1, Salt: make([]byte, 16)}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := DeriveKEK([]byte("pw"), p); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := maxRunning.Load(); m != 1 {
		t.Errorf("%d derivations ran at once, want 1", m)
	}
}

func TestParamsString(t *testing.T) {
	p := Params{Time: 3, MemoryKiB: 65536, Threads: 4, Salt: []byte("secret-looking-salt")}
	if got, want := p.String(), "argon2id t=3 m=65536KiB p=4"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
