package canon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchLine is a typical message: unicode text with escapes, attachments,
// reactions and the source's raw object.
const benchLine = `{"conversation":"telegram:chat:-1001234567890","conversation_name":"Family ❤ Group","id":"84213","time":"2024-03-01T10:00:00.123+02:00","kind":"message","sender":"user:42","sender_name":"Zoë Müller","text":"Hello \"world\"! Привет, как дела? 日本語 👋\nsecond line\twith a \\ backslash","reply_to":"84200","attachments":[{"type":"photo","file":"photos/IMG_0042.jpg","size":183422}],"reactions":[{"emoji":"👍","count":3}],"raw":{"_":"message","id":84213,"date":1709280000,"out":false,"from_id":{"_":"peerUser","user_id":42},"fwd_from":null,"entities":[{"_":"messageEntityBold","offset":0,"length":5}],"ttl_period":null}}`

// stdMessage is the same extraction done with encoding/json, for comparison.
type stdMessage struct {
	Conversation     string    `json:"conversation"`
	ID               string    `json:"id"`
	Time             time.Time `json:"time"`
	Kind             string    `json:"kind"`
	ConversationName string    `json:"conversation_name"`
}

func BenchmarkParseLine(b *testing.B) {
	line := []byte(benchLine)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLine(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseLineStdlibUnmarshal(b *testing.B) {
	line := []byte(benchLine)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		var m stdMessage
		if err := json.Unmarshal(line, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseLineStdlibValid(b *testing.B) {
	line := []byte(benchLine)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if !json.Valid(line) {
			b.Fatal("invalid")
		}
	}
}

// benchFile returns about 4 MB of lines like benchLine with varying ids.
func benchFile() []byte {
	var buf bytes.Buffer
	for i := 0; buf.Len() < 4<<20; i++ {
		buf.WriteString(strings.Replace(benchLine, `"id":"84213"`, `"id":"`+strconv.Itoa(i)+`"`, 1))
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func BenchmarkReader(b *testing.B) {
	data := benchFile()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(data), "bench.jsonl")
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkReaderStdlibUnmarshal(b *testing.B) {
	data := benchFile()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 64<<10), MaxLineSize)
		for sc.Scan() {
			var m stdMessage
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				b.Fatal(err)
			}
		}
		if err := sc.Err(); err != nil {
			b.Fatal(err)
		}
	}
}
