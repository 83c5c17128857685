package main

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"hash/maphash"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatvault/chatvault/archive"
)

// htmlWriter renders one conversation as a self-contained HTML page: inline
// CSS, no scripts, nothing loaded from elsewhere (the Content-Security-Policy
// says so too); images are the restored attachment files, by relative URL.
//
// Every piece of message content goes through html/template, which escapes
// it for where it lands; the only URLs are relative paths of restored files
// (made of safe names) and in-page anchors (made by anchorName), and content
// never becomes a link. The page is also well-formed XML (void elements are
// closed, only numeric and XML entities are used), so tests can parse it with
// encoding/xml.
type htmlWriter struct {
	w      io.Writer
	conv   archive.ConversationInfo
	head   bool // the header is written
	day    string
	run    bool   // the previous message was by a sender, on the same day
	sender string // that sender's key

	// Replies link to the message they answer when it is on the page before
	// them. Remembering the ids of a huge conversation would take a lot of
	// memory, so only the last 64Ki to 128Ki messages are remembered (two
	// generations): older ones are answered without a link.
	seed      maphash.Seed
	seen, old map[uint64]replyTarget
}

type replyTarget struct {
	sender, snippet string
}

const replyWindow = 1 << 16

func newHTMLWriter(w io.Writer, c archive.ConversationInfo) *htmlWriter {
	return &htmlWriter{w: w, conv: c, seed: maphash.MakeSeed(), seen: map[uint64]replyTarget{}}
}

// The views the templates render.
type htmlHead struct {
	Label, Count, Range, ID string
}

type htmlMsg struct {
	Anchor     string
	Class      string // "msg", "msg svc", plus the sender's colour class
	Day        string // a day separator before the message, if any
	Sender     string // shown when it changes
	Time       string // "15:04"
	TimeTitle  string // the whole time as the source gave it
	Datetime   string // machine-readable time; "" when the time did not parse
	Reply      *htmlReply
	Text       string
	Files      []htmlFile
	Reactions  []htmlReaction
	EditedNote string // "" when not edited; else the title of the marker
}

type htmlReply struct {
	Anchor string // "" when the message replied to is not on the page before
	Label  string
}

type htmlFile struct {
	Name, Details string
	Href          string // the restored file, relative; "" when not included
	Image         bool
	NotIncluded   string
}

type htmlReaction struct {
	Emoji, Count, By string
}

var htmlTemplates = template.Must(template.New("page").Parse(`
{{- define "head" -}}
<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8"/>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"/>
<meta name="referrer" content="no-referrer"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<meta name="generator" content="chatvault"/>
<title>{{.Label}}</title>
<style>
:root{color-scheme:light dark;--bg:#e7ebf0;--fg:#17202b;--mut:#667282;--bub:#fff;--svc:#d6dde6;--ln:#3b82c4}
@media (prefers-color-scheme:dark){:root{--bg:#0f1419;--fg:#e4e9ef;--mut:#8d99a8;--bub:#1c232c;--svc:#262f3a;--ln:#6aa8e0}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
header{background:var(--bub);padding:14px 18px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{margin:0;font-size:19px;overflow-wrap:anywhere;unicode-bidi:isolate}
header p{margin:3px 0 0;color:var(--mut);font-size:13px}
main{max-width:780px;margin:0 auto;padding:8px 12px 48px}
.day{text-align:center;margin:16px 0 6px;font-size:12px;color:var(--mut)}
.day span{background:var(--svc);border-radius:10px;padding:2px 10px}
.msg{background:var(--bub);border-radius:4px 14px 14px 14px;padding:5px 10px 4px;margin:3px 0;width:fit-content;max-width:88%;box-shadow:0 1px 1px rgba(0,0,0,.1)}
.msg:target{outline:2px solid var(--ln)}
.svc{margin:8px auto;background:var(--svc);border-radius:12px;color:var(--mut);font-size:13px;text-align:center;box-shadow:none}
.from{font-weight:600;font-size:13px;unicode-bidi:isolate}
.c0 .from{color:#c0392b}.c1 .from{color:#2471a3}.c2 .from{color:#1e8449}.c3 .from{color:#a04000}.c4 .from{color:#7d3c98}.c5 .from{color:#117a65}
@media (prefers-color-scheme:dark){.c0 .from{color:#f1948a}.c1 .from{color:#85c1e9}.c2 .from{color:#82e0aa}.c3 .from{color:#f0b27a}.c4 .from{color:#d2b4de}.c5 .from{color:#76d7c4}}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
.reply{border-left:3px solid var(--ln);padding:0 8px;margin:2px 0 4px;font-size:13px;color:var(--mut);overflow-wrap:anywhere}
.reply a{color:inherit;text-decoration:none}
.file{margin:4px 0;font-size:14px;overflow-wrap:anywhere}
.file a{color:var(--ln)}
.file img{display:block;max-width:100%;max-height:360px;border-radius:8px}
.file small,.nofile{color:var(--mut)}
.nofile{font-style:italic}
.re span{display:inline-block;background:var(--svc);border-radius:10px;padding:0 7px;margin:3px 4px 0 0;font-size:13px}
.t{color:var(--mut);font-size:11px;text-align:right;margin-top:1px}
.svc .t{text-align:center}
</style>
</head>
<body>
<header>
<h1>{{.Label}}</h1>
<p>{{.Count}}{{with .Range}} · {{.}}{{end}}</p>
<p>conversation {{.ID}}</p>
</header>
<main>
{{end}}

{{- define "msg" -}}
{{with .Day}}<div class="day"><span>{{.}}</span></div>
{{end -}}
<article class="{{.Class}}"{{with .Anchor}} id="{{.}}"{{end}}>
{{- with .Sender}}<div class="from">{{.}}</div>{{end}}
{{- with .Reply}}<div class="reply">↪ reply to {{if .Anchor}}<a href="#{{.Anchor}}">{{.Label}}</a>{{else}}{{.Label}}{{end}}</div>{{end}}
{{- with .Text}}<div class="text" dir="auto">{{.}}</div>{{end}}
{{- range .Files}}
{{- if .Href}}<div class="file">{{if .Image}}<a href="{{.Href}}"><img src="{{.Href}}" alt="{{.Name}}"/></a>{{end}}<a href="{{.Href}}">{{.Name}}</a>{{with .Details}} <small>({{.}})</small>{{end}}</div>
{{- else}}<div class="file nofile">{{.Name}}{{with .Details}} ({{.}}){{end}} [file not included: {{.NotIncluded}}]</div>{{end}}
{{- end}}
{{- with .Reactions}}<div class="re">{{range .}}<span title="{{.By}}">{{.Emoji}}{{with .Count}} {{.}}{{end}}</span>{{end}}</div>{{end}}
<div class="t">{{with .EditedNote}}<span title="{{.}}">edited</span> · {{end}}<time{{with .Datetime}} datetime="{{.}}"{{end}} title="{{.TimeTitle}}">{{.Time}}</time></div>
</article>
{{end}}

{{- define "foot" -}}
</main>
</body>
</html>
{{end}}`))

// header writes the page up to the first message. The time range is shown
// in the offset of the first message (the conversation's first and last
// instants are what the archive keeps).
func (h *htmlWriter) header(first string) error {
	h.head = true
	c := h.conv
	v := htmlHead{Label: cleanText(c.Label), Count: plural(c.Messages, "message"), ID: c.ID.String()}
	if v.Label == "" {
		v.Label = "(no name)"
	}
	if !c.First.IsZero() {
		loc := time.UTC
		if t, err := time.Parse(time.RFC3339Nano, first); err == nil {
			loc = t.Location()
		}
		from, to := c.First.In(loc), c.Last.In(loc)
		v.Range = from.Format("2006-01-02 15:04") + " – " + to.Format("2006-01-02 15:04") + " (UTC" + from.Format("-07:00") + ")"
	}
	return htmlTemplates.ExecuteTemplate(h.w, "head", v)
}

// message writes one message; m is nil for a line that is not a JSON object,
// which is shown as text.
func (h *htmlWriter) message(m *chatMessage, line []byte) error {
	if m == nil {
		m = &chatMessage{Text: string(line), Kind: "service"}
	}
	if !h.head {
		if err := h.header(m.Time); err != nil {
			return err
		}
	}
	v := htmlMsg{Text: cleanText(strings.ReplaceAll(m.Text, "\r\n", "\n"))}
	service := m.Kind == "service"
	if m.ID != "" {
		v.Anchor = anchorName(m.ID)
	}

	v.Time, v.TimeTitle = cleanText(m.Time), cleanText(m.Time)
	if t, err := time.Parse(time.RFC3339Nano, m.Time); err == nil {
		v.Time = t.Format("15:04")
		v.TimeTitle = t.Format("2006-01-02 15:04:05 -07:00")
		v.Datetime = t.Format(time.RFC3339Nano)
		if day := t.Format("Mon 2 Jan 2006 (UTC-07:00)"); day != h.day {
			h.day, v.Day, h.run = day, day, false
		}
	}
	if b := m.TimeBasis; b != "" && b != "exact" {
		v.TimeTitle += " (time basis: " + cleanText(b) + ")"
	}

	sender := cleanText(m.Sender)
	if service {
		v.Class = "msg svc"
		if sender != "" && v.Text != "" {
			v.Text = sender + ": " + v.Text
		} else if v.Text == "" {
			v.Text = sender
		}
		h.run = false
	} else {
		if sender == "" {
			sender = "?"
		}
		v.Class = "msg c" + strconv.Itoa(senderColour(m.SenderKey))
		if !h.run || m.SenderKey != h.sender {
			v.Sender = sender // the first of a run of messages by one sender
		}
		h.run, h.sender = true, m.SenderKey
	}

	if m.ReplyTo != "" {
		v.Reply = &htmlReply{Label: "message " + cleanText(m.ReplyTo)}
		if t, ok := h.lookup(m.ReplyTo); ok {
			v.Reply.Anchor = anchorName(m.ReplyTo)
			switch {
			case t.sender != "" && t.snippet != "":
				v.Reply.Label = t.sender + ": " + t.snippet
			case t.sender != "" || t.snippet != "":
				v.Reply.Label = t.sender + t.snippet
			}
		}
	}
	for _, a := range m.Attachments {
		f := htmlFile{Name: cleanText(a.Name), Href: a.File, NotIncluded: cleanText(a.NotIncluded)}
		if f.Name == "" {
			f.Name = "attachment"
		}
		var details []string
		if a.MIME != "" {
			details = append(details, cleanText(a.MIME))
		}
		if a.Size > 0 {
			details = append(details, formatBytes(a.Size))
		}
		f.Details = strings.Join(details, ", ")
		f.Image = a.File != "" && strings.HasPrefix(strings.ToLower(a.MIME), "image/")
		v.Files = append(v.Files, f)
	}
	for _, r := range m.Reactions {
		hr := htmlReaction{Emoji: cleanText(r.Emoji), By: cleanText(strings.Join(r.By, ", "))}
		if r.Count > 1 {
			hr.Count = strconv.FormatInt(r.Count, 10)
		}
		v.Reactions = append(v.Reactions, hr)
	}
	if m.Edited {
		v.EditedNote = "edited"
		if t, err := time.Parse(time.RFC3339Nano, m.EditedAt); err == nil {
			v.EditedNote = "edited " + t.Format("2006-01-02 15:04:05 -07:00")
		} else if m.EditedAt != "" {
			v.EditedNote = "edited " + cleanText(m.EditedAt)
		}
	}

	if m.ID != "" {
		h.remember(m.ID, replyTarget{sender: sender, snippet: snippet(v.Text, m.Attachments)})
	}
	return htmlTemplates.ExecuteTemplate(h.w, "msg", v)
}

// finish writes the end of the page (and its header if there was no message).
func (h *htmlWriter) finish() error {
	if !h.head {
		if err := h.header(""); err != nil {
			return err
		}
	}
	return htmlTemplates.ExecuteTemplate(h.w, "foot", nil)
}

func (h *htmlWriter) remember(id string, t replyTarget) {
	if len(h.seen) >= replyWindow {
		h.old, h.seen = h.seen, make(map[uint64]replyTarget, replyWindow)
	}
	h.seen[maphash.String(h.seed, id)] = t
}

func (h *htmlWriter) lookup(id string) (replyTarget, bool) {
	k := maphash.String(h.seed, id)
	if t, ok := h.seen[k]; ok {
		return t, true
	}
	t, ok := h.old[k]
	return t, ok
}

// snippet is the start of a message, to show with a reply to it.
func snippet(text string, atts []chatAttachment) string {
	const max = 60
	s := strings.Join(strings.Fields(text), " ")
	if s == "" && len(atts) > 0 {
		s = cleanText(atts[0].Name)
		if s == "" {
			s = "attachment"
		}
	}
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return s
}

// anchorName turns a message id into an HTML id that is safe anywhere (in an
// attribute and in a URL fragment) and different for different ids: "m-" and
// the id when it is 1 to 64 ASCII letters, digits, '.', '_' or '-', else "h-"
// and 96 bits of the id's SHA-256.
func anchorName(id string) string {
	ok := id != "" && len(id) <= 64
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if ok {
		return "m-" + id
	}
	sum := sha256.Sum256([]byte(id))
	return "h-" + hex.EncodeToString(sum[:12])
}

// senderColour picks one of the six name colours for a sender.
func senderColour(key string) int {
	f := fnv.New32a()
	f.Write([]byte(key))
	return int(f.Sum32() % 6)
}

// cleanText makes s fit to show in the page: valid UTF-8 without control
// characters other than tab and newline (a carriage return becomes a
// newline; the others, and the two noncharacters XML refuses, U+FFFD).
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n':
			return r
		case r == '\r':
			return '\n'
		case r < 0x20, r >= 0x7f && r <= 0x9f, r == 0xfffe, r == 0xffff:
			return '\uFFFD'
		}
		return r
	}, s)
}
