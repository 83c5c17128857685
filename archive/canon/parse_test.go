package canon

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const validLine = `{"conversation":"tg:42","id":"7","time":"2024-03-01T10:00:00+02:00","kind":"message","text":"hi"}`

func TestParseLineValid(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Message // Line and Time are checked separately
		time string  // RFC3339Nano in UTC
	}{
		{"basic", validLine,
			Message{Conversation: "tg:42", ID: "7", TimeText: "2024-03-01T10:00:00+02:00", Kind: "message"},
			"2024-03-01T08:00:00Z"},
		{"service and name", `{"kind":"service","time":"2024-03-01T10:00:00Z","id":"a","conversation":"c","conversation_name":"Family"}`,
			Message{Conversation: "c", ID: "a", TimeText: "2024-03-01T10:00:00Z", Kind: "service", ConversationName: "Family"},
			"2024-03-01T10:00:00Z"},
		{"fractional seconds", `{"conversation":"c","id":"1","time":"2024-03-01T10:00:00.123456789-05:30","kind":"message"}`,
			Message{Conversation: "c", ID: "1", TimeText: "2024-03-01T10:00:00.123456789-05:30", Kind: "message"},
			"2024-03-01T15:30:00.123456789Z"},
		{"whitespace everywhere", " \t{ \"conversation\" : \"c\" ,\r\n \"id\":\"1\", \"time\":\"2024-03-01T10:00:00Z\" , \"kind\" :\"message\" } \r\n",
			Message{Conversation: "c", ID: "1", TimeText: "2024-03-01T10:00:00Z", Kind: "message"},
			"2024-03-01T10:00:00Z"},
		{"escapes in values", `{"conversation":"a\"b\\c\/d\b\f\n\r\t","id":"\u00e9\u4e2d","time":"2024-03-01T10:00:00Z","kind":"mess\u0061ge"}`,
			Message{Conversation: "a\"b\\c/d\b\f\n\r\t", ID: "é中", TimeText: "2024-03-01T10:00:00Z", Kind: "message"},
			"2024-03-01T10:00:00Z"},
		{"surrogate pair", `{"conversation":"c","id":"\ud83d\ude00","time":"2024-03-01T10:00:00Z","kind":"message"}`,
			Message{Conversation: "c", ID: "😀", TimeText: "2024-03-01T10:00:00Z", Kind: "message"},
			"2024-03-01T10:00:00Z"},
		{"lone surrogates", `{"conversation":"\ud83dx","id":"\ude00\ud83d","time":"2024-03-01T10:00:00Z","kind":"message","conversation_name":"\ud83d\u0041"}`,
			Message{Conversation: "\uFFFDx", ID: "\uFFFD\uFFFD", TimeText: "2024-03-01T10:00:00Z", Kind: "message", ConversationName: "\uFFFDA"},
			"2024-03-01T10:00:00Z"},
		{"invalid utf8 kept as U+FFFD", "{\"conversation\":\"a\xffb\",\"id\":\"\xc3\",\"time\":\"2024-03-01T10:00:00Z\",\"kind\":\"message\"}",
			Message{Conversation: "a\uFFFDb", ID: "\uFFFD", TimeText: "2024-03-01T10:00:00Z", Kind: "message"},
			"2024-03-01T10:00:00Z"},
		{"escaped key names", `{"conv\u0065rsation":"c","\u0069\u0064":"1","tim\u0065":"2024-03-01T10:00:00Z","kin\u0064":"message"}`,
			Message{Conversation: "c", ID: "1", TimeText: "2024-03-01T10:00:00Z", Kind: "message"},
			"2024-03-01T10:00:00Z"},
		{"unknown, nested and repeated other keys", `{"x":1,"x":[true,false,null,{"id":5,"id":[]}],"conversation":"c","id":"1","raw":{"id":{"time":0}},"time":"2024-03-01T10:00:00Z","kind":"message","n":-0.5e+10,"z":{}}`,
			Message{Conversation: "c", ID: "1", TimeText: "2024-03-01T10:00:00Z", Kind: "message"},
			"2024-03-01T10:00:00Z"},
		{"conversation_name last wins", `{"conversation_name":"old","conversation":"c","id":"1","time":"2024-03-01T10:00:00Z","kind":"message","conversation_name":"new"}`,
			Message{Conversation: "c", ID: "1", TimeText: "2024-03-01T10:00:00Z", Kind: "message", ConversationName: "new"},
			"2024-03-01T10:00:00Z"},
		{"conversation_name not a string", `{"conversation_name":"old","conversation":"c","id":"1","time":"2024-03-01T10:00:00Z","kind":"message","conversation_name":null}`,
			Message{Conversation: "c", ID: "1", TimeText: "2024-03-01T10:00:00Z", Kind: "message"},
			"2024-03-01T10:00:00Z"},
		{"empty strings", `{"conversation":"","id":"","time":"2024-03-01T10:00:00Z","kind":"message","conversation_name":""}`,
			Message{TimeText: "2024-03-01T10:00:00Z", Kind: "message"},
			"2024-03-01T10:00:00Z"},
		{"big numbers", `{"conversation":"c","id":"1","time":"2024-03-01T10:00:00Z","kind":"message","n":123456789012345678901234567890e999999,"m":-0.0000000000000000000001E-999}`,
			Message{Conversation: "c", ID: "1", TimeText: "2024-03-01T10:00:00Z", Kind: "message"},
			"2024-03-01T10:00:00Z"},
		{"max depth", `{"conversation":"c","id":"1","time":"2024-03-01T10:00:00Z","kind":"message","raw":` +
			strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`,
			Message{Conversation: "c", ID: "1", TimeText: "2024-03-01T10:00:00Z", Kind: "message"},
			"2024-03-01T10:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseLine([]byte(tt.line))
			if err != nil {
				t.Fatalf("ParseLine: %v", err)
			}
			if string(m.Line) != tt.line {
				t.Errorf("Line = %q, want the input", m.Line)
			}
			if got := m.Time.UTC().Format(time.RFC3339Nano); got != tt.time {
				t.Errorf("Time = %s, want %s", got, tt.time)
			}
			m.Line, m.Time = nil, time.Time{}
			if !reflect.DeepEqual(m, tt.want) {
				t.Errorf("got  %+v\nwant %+v", m, tt.want)
			}
			if !json.Valid([]byte(tt.line)) {
				t.Errorf("json.Valid disagrees")
			}
		})
	}
}

func TestParseLineMalformed(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	tests := []struct {
		name   string
		line   string
		reason string
		offset int
	}{
		{"empty", "", "empty line, expected a JSON object", -1},
		{"blank", " \t\r\n", "empty line, expected a JSON object", -1},
		{"array", `[1]`, "top-level value is an array, not an object", 0},
		{"string", ` "x"`, "top-level value is a string, not an object", 1},
		{"null", `null`, "top-level value is null, not an object", 0},
		{"number", `12`, "top-level value is a number, not an object", 0},
		{"bom", "\xef\xbb\xbf{}", "UTF-8 byte order mark is not allowed", 0},
		{"garbage", `x`, "invalid character 'x' looking for beginning of value", 0},
		{"missing conversation", `{"id":"1","time":"2024-03-01T10:00:00Z","kind":"message"}`, `missing required key "conversation"`, -1},
		{"missing id", `{"conversation":"c","time":"2024-03-01T10:00:00Z","kind":"message"}`, `missing required key "id"`, -1},
		{"missing time", `{"conversation":"c","id":"1","kind":"message"}`, `missing required key "time"`, -1},
		{"missing kind", `{"conversation":"c","id":"1","time":"2024-03-01T10:00:00Z"}`, `missing required key "kind"`, -1},
		{"empty object", `{}`, `missing required key "conversation"`, -1},
		{"nested keys do not count", `{"raw":{"conversation":"c","id":"1","time":"2024-03-01T10:00:00Z","kind":"message"}}`, `missing required key "conversation"`, -1},
		{"duplicate id", `{"conversation":"c","id":"1","time":"2024-03-01T10:00:00Z","kind":"message","id":"2"}`, `duplicate key "id"`, 76},
		{"duplicate escaped id", `{"conversation":"c","id":"1","\u0069d":"1","time":"2024-03-01T10:00:00Z","kind":"message"}`, `duplicate key "id"`, 29},
		{"duplicate kind", `{"kind":"message","conversation":"c","id":"1","time":"2024-03-01T10:00:00Z","kind":"message"}`, `duplicate key "kind"`, 76},
		{"id number", `{"conversation":"c","id":7,"time":"2024-03-01T10:00:00Z","kind":"message"}`, `key "id" must be a string, not a number`, 25},
		{"conversation null", `{"conversation":null,"id":"1","time":"2024-03-01T10:00:00Z","kind":"message"}`, `key "conversation" must be a string, not null`, 16},
		{"time object", `{"conversation":"c","id":"1","time":{},"kind":"message"}`, `key "time" must be a string, not an object`, 36},
		{"kind array", `{"conversation":"c","id":"1","time":"2024-03-01T10:00:00Z","kind":["message"]}`, `key "kind" must be a string, not an array`, 66},
		{"kind bool", `{"conversation":"c","id":"1","time":"2024-03-01T10:00:00Z","kind":true}`, `key "kind" must be a string, not a boolean`, 66},
		{"bad kind", `{"conversation":"c","id":"1","time":"2024-03-01T10:00:00Z","kind":"Message"}`, `key "kind": "Message" is not "message" or "service"`, 66},
		{"no offset", `{"conversation":"c","id":"1","time":"2024-03-01T10:00:00","kind":"message"}`, `key "time": "2024-03-01T10:00:00" is not an RFC 3339 time with offset`, 36},
		{"date only", `{"conversation":"c","id":"1","time":"2024-03-01","kind":"message"}`, `key "time": "2024-03-01" is not an RFC 3339 time with offset`, 36},
		{"bad month", `{"conversation":"c","id":"1","time":"2024-13-01T10:00:00Z","kind":"message"}`, `is not an RFC 3339 time`, 36},
		{"unix time string", `{"conversation":"c","id":"1","time":"1709280000","kind":"message"}`, `is not an RFC 3339 time`, 36},
		{"trailing garbage", validLine + `x`, "invalid character 'x' after top-level value", len(validLine)},
		{"two objects", validLine + ` {}`, "invalid character '{' after top-level value", len(validLine) + 1},
		{"unterminated object", `{"conversation":"c"`, "unexpected end of line", 19},
		{"unterminated string", `{"conversation":"c`, "unexpected end of line in string literal", 18},
		{"trailing comma", `{"a":1,}`, "invalid character '}' looking for beginning of object key string", 7},
		{"array trailing comma", `{"a":[1,]}`, "invalid character ']' looking for beginning of value", 8},
		{"missing colon", `{"a" 1}`, "invalid character '1' after object key", 5},
		{"missing colon top key", `{"id" "1"}`, "invalid character '\"' after object key", 6},
		{"missing comma", `{"a":1 "b":2}`, "invalid character '\"' after object key:value pair", 7},
		{"array missing comma", `{"a":[1 2]}`, "invalid character '2' after array element", 8},
		{"unquoted key", `{a:1}`, "invalid character 'a' looking for beginning of object key string", 1},
		{"single quotes", `{'a':1}`, "invalid character '\\'' looking for beginning of object key string", 1},
		{"control char", "{\"a\":\"x\ty\"}", "invalid byte 0x09 in string literal", 7},
		{"newline in string", "{\"a\":\"x\ny\"}", "invalid byte 0x0A in string literal", 7},
		{"bad escape", `{"a":"\x"}`, "invalid character 'x' in string escape code", 7},
		{"bad unicode escape", `{"a":"\u12g4"}`, "invalid character 'g' in \\u hexadecimal character escape", 10},
		{"short unicode escape", `{"a":"\u12`, "unexpected end of line in \\u hexadecimal character escape", 10},
		{"leading zero", `{"a":01}`, "invalid character '1' after object key:value pair", 6},
		{"plus sign", `{"a":+1}`, "invalid character '+' looking for beginning of value", 5},
		{"bare minus", `{"a":-}`, "invalid character '}' in numeric literal", 6},
		{"dot without digits", `{"a":1.}`, "invalid character '}' after decimal point in numeric literal", 7},
		{"leading dot", `{"a":.5}`, "invalid character '.' looking for beginning of value", 5},
		{"empty exponent", `{"a":1e}`, "invalid character '}' in exponent of numeric literal", 7},
		{"NaN", `{"a":NaN}`, "invalid character 'N' looking for beginning of value", 5},
		{"bad literal", `{"a":nul}`, "invalid character '}' in literal null (expecting 'l')", 8},
		{"True", `{"a":True}`, "invalid character 'T' looking for beginning of value", 5},
		{"mismatched bracket", `{"a":[}`, "invalid character '}' looking for beginning of value", 6},
		{"too deep", `{"raw":` + deep + `}`, "nesting deeper than 1000", 7 + MaxDepth - 1},
		{"too deep objects", strings.Repeat(`{"a":`, MaxDepth+1), "nesting deeper than 1000", 5 * MaxDepth},
		{"NUL byte", "{\"a\":1}\x00", "invalid byte 0x00 after top-level value", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLine([]byte(tt.line))
			if err == nil {
				t.Fatal("ParseLine succeeded")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *LineError", err)
			}
			if !strings.Contains(le.Reason, tt.reason) {
				t.Errorf("Reason = %q, want it to contain %q", le.Reason, tt.reason)
			}
			if le.Offset != tt.offset {
				t.Errorf("Offset = %d, want %d (%v)", le.Offset, tt.offset, err)
			}
			if le.Line != 0 || le.Name != "" {
				t.Errorf("ParseLine set Name %q, Line %d", le.Name, le.Line)
			}
		})
	}
}

func TestLineErrorFormat(t *testing.T) {
	tests := []struct {
		err  LineError
		want string
	}{
		{LineError{Name: "file.jsonl", Line: 12, Offset: -1, Reason: `missing required key "time"`}, `file.jsonl:12: missing required key "time"`},
		{LineError{Name: "file.jsonl", Line: 3, Offset: 17, Reason: "invalid character 'x' after top-level value"}, `file.jsonl:3: invalid character 'x' after top-level value at byte offset 17`},
		{LineError{Line: 3, Offset: -1, Reason: "r"}, `line 3: r`},
		{LineError{Name: "f", Offset: 0, Reason: "r"}, `f: r at byte offset 0`},
		{LineError{Offset: 5, Reason: "r"}, `canon: r at byte offset 5`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestParseLineAliasesInput(t *testing.T) {
	in := []byte(validLine)
	m, err := ParseLine(in)
	if err != nil {
		t.Fatal(err)
	}
	if &m.Line[0] != &in[0] || len(m.Line) != len(in) {
		t.Fatal("Message.Line does not alias the input")
	}
	// Extracted strings must not alias the input.
	copy(in, bytes.Repeat([]byte("x"), len(in)))
	if m.Conversation != "tg:42" || m.ID != "7" || m.Kind != "message" || m.TimeText != "2024-03-01T10:00:00+02:00" {
		t.Fatalf("extracted strings changed with the input: %+v", m)
	}
}

func TestParseLineLongErrorValueIsTruncated(t *testing.T) {
	long := strings.Repeat("a", 1<<16)
	_, err := ParseLine([]byte(`{"conversation":"c","id":"1","time":"2024-03-01T10:00:00Z","kind":"` + long + `"}`))
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("error too long or missing: %d bytes", len(err.Error()))
	}
}

func TestParseLineAllocs(t *testing.T) {
	line := []byte(benchLine)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseLine(line); err != nil {
			t.Fatal(err)
		}
	})
	// One for the extracted strings, one for the fixed zone of a non-UTC
	// offset (time.Parse allocates that unless it matches time.Local).
	if allocs > 2 {
		t.Errorf("ParseLine allocates %v times per call, want <= 2", allocs)
	}
}

// TestParseLineTimeLeniency pins down what time.Parse(time.RFC3339Nano)
// accepts beyond RFC 3339 (go.dev/issue/54580), as documented.
func TestParseLineTimeLeniency(t *testing.T) {
	for _, tt := range []struct {
		time string
		ok   bool
	}{
		{"2024-03-01T1:00:00Z", true},
		{"2024-03-01T10:00:00,5Z", true},
		{"2024-03-01T10:00:00+24:00", true},
		{"2024-03-01T10:00:00+25:00", false},
		{"2024-03-01t10:00:00z", false},
		{"2024-03-01T10:00:00+0100", false},
		{"2024-03-01 10:00:00Z", false},
		{"2024-02-30T10:00:00Z", false},
		{"2024-03-01T10:00:00.1234567891Z", true},
	} {
		_, err := ParseLine([]byte(`{"conversation":"c","id":"1","time":"` + tt.time + `","kind":"message"}`))
		if (err == nil) != tt.ok {
			t.Errorf("time %q: err = %v, want ok = %v", tt.time, err, tt.ok)
		}
	}
}
