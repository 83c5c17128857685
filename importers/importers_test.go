package importers

import (
	"encoding/json"
	"testing"
)

func TestEncodeFixedOrder(t *testing.T) {
	r := Record{Conversation: "telegram:1", ID: "7", Time: "2024-01-01T10:00:00+01:00", Kind: "message",
		SenderName: "Ann <3", Text: "a & b", Reactions: []Reaction{{Emoji: "👍", Count: 1}},
		Raw: json.RawMessage("{ \"id\" : 7 }")}
	got, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"conversation":"telegram:1","id":"7","time":"2024-01-01T10:00:00+01:00","kind":"message","sender_name":"Ann <3","text":"a & b","reactions":[{"emoji":"👍","count":1}],"raw":{"id":7}}`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	m, err := r.Message()
	if err != nil || m.ID != "7" {
		t.Fatalf("%+v %v", m, err)
	}
	if _, err := (&Record{Conversation: "c", ID: "1", Time: "yesterday", Kind: "message"}).Message(); err == nil {
		t.Fatal("an invalid time was accepted")
	}
}
