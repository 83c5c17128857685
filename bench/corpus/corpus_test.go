package corpus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archive/canon"
)

func generate(t *testing.T, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	st, err := Generate(&buf, o)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes != int64(buf.Len()) || st.Lines != int64(bytes.Count(buf.Bytes(), []byte{'\n'})) {
		t.Fatalf("stats %+v do not match the output (%d bytes)", st, buf.Len())
	}
	return buf.Bytes()
}

func TestDeterministic(t *testing.T) {
	for _, ord := range []Order{Grouped, Interleaved} {
		o := Options{Size: 2 << 20, Seed: 7, Conversations: 30, Order: ord}
		a, b := generate(t, o), generate(t, o)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: same seed gave different output", ord)
		}
		o.Seed = 8
		if c := generate(t, o); bytes.Equal(a, c) {
			t.Fatalf("%s: different seeds gave the same output", ord)
		}
	}
}

// TestSameLinesBothOrders: grouped and interleaved hold the same lines.
func TestSameLinesBothOrders(t *testing.T) {
	o := Options{Size: 2 << 20, Seed: 3, Conversations: 25}
	g := generate(t, o)
	o.Order = Interleaved
	i := generate(t, o)
	if bytes.Equal(g, i) {
		t.Fatal("interleaved equals grouped")
	}
	gl, il := strings.Split(string(g), "\n"), strings.Split(string(i), "\n")
	slices.Sort(gl)
	slices.Sort(il)
	if !slices.Equal(gl, il) {
		t.Fatal("grouped and interleaved hold different lines")
	}
}

func TestSize(t *testing.T) {
	for _, size := range []int64{0, 1000, 1 << 20, 5 << 20} {
		b := generate(t, Options{Size: size, Seed: 1, Conversations: 50})
		// every conversation writes at least one line and ends at a line
		// boundary after its share
		if int64(len(b)) < size || int64(len(b)) > size+50*4096 {
			t.Errorf("size %d: got %d bytes", size, len(b))
		}
	}
}

var wantKeys = []string{"conversation", "id", "time", "kind", "conversation_name", "sender", "sender_name", "text"}

// TestLines: every line parses as canonical JSONL, carries the canonical keys
// in order, has increasing times per conversation, and the two orders differ
// in the way they should.
func TestLines(t *testing.T) {
	for _, ord := range []Order{Grouped, Interleaved} {
		data := generate(t, Options{Size: 4 << 20, Seed: 1, Conversations: 40, Order: ord})
		last := map[string]time.Time{}
		offsets := map[string]bool{}
		kinds := map[string]int{}
		switches := 0
		prev := ""
		var optional = map[string]int{}
		for n, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
			m, err := canon.ParseLine(line)
			if err != nil {
				t.Fatalf("%s line %d: %v\n%s", ord, n+1, err, line)
			}
			if !json.Valid(line) {
				t.Fatalf("line %d: not valid JSON", n+1)
			}
			if len(line) < 250 || len(line) > 4096 {
				t.Errorf("line %d: %d bytes", n+1, len(line))
			}
			keys := topKeys(t, line)
			if !slices.Equal(keys[:len(wantKeys)], wantKeys) || keys[len(keys)-1] != "raw" {
				t.Fatalf("line %d: keys %v", n+1, keys)
			}
			for _, k := range keys[len(wantKeys) : len(keys)-1] {
				optional[k]++
			}
			if !m.Time.After(last[m.Conversation]) {
				t.Fatalf("%s line %d: time %s not after %s", ord, n+1, m.TimeText, last[m.Conversation])
			}
			last[m.Conversation] = m.Time
			offsets[m.TimeText[19:]] = true
			kinds[m.Kind]++
			if m.Conversation != prev {
				switches++
			}
			prev = m.Conversation
		}
		lines := kinds["message"] + kinds["service"]
		if kinds["service"] == 0 || kinds["message"] < lines*9/10 {
			t.Errorf("%s: kinds %v", ord, kinds)
		}
		for _, k := range []string{"reply_to", "edited_at", "reactions", "attachments", "service"} {
			if optional[k] == 0 {
				t.Errorf("%s: no line has %q", ord, k)
			}
		}
		if len(offsets) < 5 {
			t.Errorf("%s: only offsets %v", ord, offsets)
		}
		switch ord {
		case Grouped:
			if switches != len(last) {
				t.Errorf("grouped: %d conversation switches for %d conversations", switches, len(last))
			}
		case Interleaved:
			if switches < lines/4 {
				t.Errorf("interleaved: only %d switches in %d lines", switches, lines)
			}
		}
	}
}

func topKeys(t *testing.T, line []byte) []string {
	d := json.NewDecoder(bytes.NewReader(line))
	d.Token() // {
	var keys []string
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s", "nl\n\t\r\x01\x1f", "ü 日本 👍🏽", "\u2028\u2029", "<&>"} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Errorf("%q: %s → %q, %v", s, got, back, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "64MiB": 64 << 20, "64M": 64 << 20, "500MB": 500e6, "4096": 4096, "1.5KiB": 1536, "2 gib": 2 << 30} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("%s: %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "x", "1XB", "-1"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// TestGolden pins the output of seed 1, so that a change to the generator (or
// to what Go's time formatting writes) is noticed: benchmark figures are only
// comparable over the same corpus. Update the hash deliberately.
func TestGolden(t *testing.T) {
	for ord, want := range map[Order]string{Grouped: goldenGrouped, Interleaved: goldenInterleaved} {
		sum := sha256.Sum256(generate(t, Options{Size: 1 << 20, Seed: 1, Conversations: 200, Order: ord}))
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: sha256 %s, want %s", ord, got, want)
		}
	}
}

const (
	goldenGrouped     = "0548a263e31f0872af294ab36a6ccb3bde01292c8299852bcb074a13b97c6b9d"
	goldenInterleaved = "76b814008b2132edcd908012400f6c1402f6b709131590960280d1f86a77635e"
)
