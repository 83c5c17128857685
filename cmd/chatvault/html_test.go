package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/canon"
	"github.com/chatvault/chatvault/kms/recovery"
	"github.com/chatvault/chatvault/remote/local"
)

// htmlNode is an element of a parsed page.
type htmlNode struct {
	name     string
	attrs    map[string]string
	children []*htmlNode
	text     strings.Builder // all the text inside, children's included
	parent   *htmlNode
}

func (n *htmlNode) String() string { return "<" + n.name + ">" + n.text.String() }

func (n *htmlNode) hasClass(c string) bool {
	return slices.Contains(strings.Fields(n.attrs["class"]), c)
}

func (n *htmlNode) walk(f func(*htmlNode)) {
	f(n)
	for _, c := range n.children {
		c.walk(f)
	}
}

// find returns the elements below n (n included) for which ok is true.
func (n *htmlNode) find(ok func(*htmlNode) bool) []*htmlNode {
	var out []*htmlNode
	n.walk(func(c *htmlNode) {
		if ok(c) {
			out = append(out, c)
		}
	})
	return out
}

// parseHTML parses a page with encoding/xml in its lenient HTML mode (the
// pages are meant to be well-formed anyway), failing the test on a syntax
// error.
func parseHTML(t *testing.T, page []byte) *htmlNode {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	root := &htmlNode{name: "#document", attrs: map[string]string{}}
	cur := root
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("parsing the page: %v\n%s", err, page)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &htmlNode{name: strings.ToLower(tok.Name.Local), attrs: map[string]string{}, parent: cur}
			for _, a := range tok.Attr {
				name := strings.ToLower(a.Name.Local)
				if a.Name.Space != "" {
					name = strings.ToLower(a.Name.Space) + ":" + name
				}
				n.attrs[name] = a.Value
			}
			cur.children = append(cur.children, n)
			cur = n
		case xml.EndElement:
			if cur.parent != nil {
				cur = cur.parent
			}
		case xml.CharData:
			for n := cur; n != nil; n = n.parent {
				n.text.Write(tok)
			}
		}
	}
	if cur != root {
		t.Fatalf("parsing the page: <%s> is not closed", cur.name)
	}
	return root
}

// checkSafePage checks what every page must be: no script, no event handler,
// no URL but in-page anchors that resolve and relative paths to files inside
// dir (nil: no file links expected), the charset and CSP given. It returns
// the message elements.
func checkSafePage(t *testing.T, page []byte, dir string) (*htmlNode, []*htmlNode) {
	t.Helper()
	if bytes.Contains(bytes.ToLower(page), []byte("<script")) {
		t.Errorf("the page contains <script")
	}
	doc := parseHTML(t, page)
	ids := map[string]int{}
	doc.walk(func(n *htmlNode) {
		if id, ok := n.attrs["id"]; ok {
			ids[id]++
		}
	})
	for id, n := range ids {
		if n > 1 {
			t.Errorf("id %q used %d times", id, n)
		}
	}
	var csp, charset bool
	doc.walk(func(n *htmlNode) {
		switch n.name {
		case "script", "iframe", "object", "embed", "form", "base", "link":
			t.Errorf("<%s> element", n.name)
		case "meta":
			charset = charset || strings.EqualFold(n.attrs["charset"], "utf-8")
			if strings.EqualFold(n.attrs["http-equiv"], "Content-Security-Policy") &&
				n.attrs["content"] == "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'" {
				csp = true
			}
		}
		for name, val := range n.attrs {
			if strings.HasPrefix(name, "on") {
				t.Errorf("<%s %s=%q>: an event handler attribute", n.name, name, val)
			}
			if name == "style" || name == "srcset" || name == "formaction" || name == "action" {
				t.Errorf("<%s %s=%q>", n.name, name, val)
			}
			if name != "href" && name != "src" {
				continue
			}
			u, err := url.Parse(val)
			switch {
			case err != nil:
				t.Errorf("<%s %s=%q>: %v", n.name, name, val, err)
			case strings.HasPrefix(val, "#"):
				if ids[val[1:]] != 1 {
					t.Errorf("<%s %s=%q>: no element has that id", n.name, name, val)
				}
			case u.Scheme != "" || u.Host != "" || strings.HasPrefix(val, "/") || strings.Contains(val, "\\"):
				t.Errorf("<%s %s=%q>: not a relative path", n.name, name, val)
			default:
				p, err := url.PathUnescape(u.Path)
				if err != nil || u.RawQuery != "" || u.Fragment != "" || slices.Contains(strings.Split(p, "/"), "..") {
					t.Errorf("<%s %s=%q>: not a plain relative path", n.name, name, val)
					continue
				}
				if dir == "" {
					t.Errorf("<%s %s=%q>: no file links expected", n.name, name, val)
					continue
				}
				if fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(p))); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("<%s %s=%q>: not a restored file: %v", n.name, name, val, err)
				}
			}
		}
	})
	if !csp || !charset {
		t.Errorf("charset meta: %v, CSP meta: %v", charset, csp)
	}
	msgs := doc.find(func(n *htmlNode) bool { return n.hasClass("msg") })
	return doc, msgs
}

func byID(doc *htmlNode, id string) *htmlNode {
	n := doc.find(func(n *htmlNode) bool { return n.attrs["id"] == id })
	if len(n) != 1 {
		return nil
	}
	return n[0]
}

// textOf is the text of the first element below n with the class.
func textOf(n *htmlNode, class string) string {
	if n == nil {
		return "<no element>"
	}
	c := n.find(func(c *htmlNode) bool { return c.hasClass(class) })
	if len(c) == 0 {
		return "<no ." + class + ">"
	}
	return c[0].text.String()
}

const (
	hostileScript = `<script>alert(1)</script>`
	hostileImg    = `"><img src=x onerror=alert(1)>`
	hostileLabel  = `</title><script>alert("label")</script> & Co`
)

// renderPage runs the HTML writer over lines, as restore does for a
// conversation without attachment files.
func renderPage(t *testing.T, c archive.ConversationInfo, lines ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	h := newHTMLWriter(&buf, c)
	files := &convFiles{bySHA: map[string]*savedFile{}, taken: map[string]bool{}}
	for _, l := range lines {
		m, ok := parseMessage([]byte(l))
		if !ok {
			m = nil
		} else if err := files.resolve(m.Attachments); err != nil {
			t.Fatal(err)
		}
		if err := h.message(m, []byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.finish(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestHTMLEscapesEverything(t *testing.T) {
	weirdID := `x"><b id=y>`
	lines := []string{
		`{"conversation":"c","id":"1","time":"2024-03-01T10:00:00+02:00","kind":"message","sender":"<i>al</i>","sender_name":"<b>Alice</b>","text":"<script>alert(1)</script>"}`,
		`{"conversation":"c","id":"2","time":"2024-03-01T10:01:00+02:00","kind":"message","sender":"bob","text":"\"><img src=x onerror=alert(1)>\nsecond line","reply_to":"1","edited_at":"2024-03-01T10:02:00+02:00","reactions":[{"emoji":"<u>👍</u>","count":2,"by":["\" onmouseover=\"x"]}]}`,
		`{"conversation":"c","id":"3","time":"2024-03-01T10:02:00+02:00","kind":"message","sender":"bob","text":["see ",{"type":"text_link","text":"here","href":"javascript:alert(1)"}," javascript:alert(2)"],"attachments":[{"name":"<img src=x onerror=alert(3)>.jpg","mime":"image/jpeg","missing":"<b>not</b> exported"},{"name":"javascript:alert(4)","blob":"zz"}]}`,
		`{"conversation":"c","id":` + jsonString(weirdID) + `,"time":"2024-03-02T08:00:00Z","kind":"service","sender_name":"Carol","service":{"action":"<script>x</script>"}}`,
		`{"conversation":"c","id":"5","time":"2024-03-02T08:01:00Z","kind":"message","sender":"carol","text":"ctrl \u0001\u001b[31m chars \ufffe","reply_to":` + jsonString(weirdID) + `}`,
		`{"conversation":"c","id":"6","time":"not a time","kind":"message","text":"later reply","reply_to":"99"}`,
	}
	c := archive.ConversationInfo{ID: archive.ID{1, 2, 3}, Label: hostileLabel, Messages: 6,
		First: time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC), Last: time.Date(2024, 3, 2, 8, 1, 0, 0, time.UTC)}
	page := renderPage(t, c, lines...)
	doc, msgs := checkSafePage(t, page, "")
	if len(msgs) != len(lines) {
		t.Fatalf("%d message elements, want %d\n%s", len(msgs), len(lines), page)
	}
	titles := doc.find(func(n *htmlNode) bool { return n.name == "title" || n.name == "h1" })
	if len(titles) != 2 || titles[0].text.String() != hostileLabel || titles[1].text.String() != hostileLabel {
		t.Errorf("the label is not shown as text: %q", titles)
	}
	if got := textOf(byID(doc, "m-1"), "text"); got != hostileScript {
		t.Errorf("message 1 text = %q", got)
	}
	if got := textOf(byID(doc, "m-1"), "from"); got != "<b>Alice</b>" {
		t.Errorf("message 1 sender = %q", got)
	}
	m2 := byID(doc, "m-2")
	if got := textOf(m2, "text"); got != hostileImg+"\nsecond line" {
		t.Errorf("message 2 text = %q", got)
	}
	if got := textOf(m2, "reply"); got != "↪ reply to <b>Alice</b>: <script>alert(1)</script>" {
		t.Errorf("message 2 reply = %q", got)
	}
	if got := textOf(m2, "re"); got != "<u>👍</u> 2" {
		t.Errorf("message 2 reactions = %q", got)
	}
	if !strings.Contains(textOf(m2, "t"), "edited") {
		t.Errorf("message 2 has no edited marker: %q", textOf(m2, "t"))
	}
	m3 := byID(doc, "m-3")
	if got := textOf(m3, "text"); got != "see here javascript:alert(2)" {
		t.Errorf("message 3 text = %q", got)
	}
	files := m3.find(func(n *htmlNode) bool { return n.hasClass("file") })
	if len(files) != 2 ||
		files[0].text.String() != "<img src=x onerror=alert(3)>.jpg (image/jpeg) [file not included: <b>not</b> exported]" ||
		files[1].text.String() != "javascript:alert(4) [file not included: invalid blob reference]" {
		t.Errorf("message 3 attachments: %q", files)
	}
	svc := byID(doc, anchorName(weirdID))
	if svc == nil || !svc.hasClass("svc") || textOf(svc, "text") != "Carol: <script>x</script>" {
		t.Errorf("service message: %v %q", svc, textOf(svc, "text"))
	}
	m5 := byID(doc, "m-5")
	if got := textOf(m5, "text"); got != "ctrl \ufffd\ufffd[31m chars \ufffd" {
		t.Errorf("message 5 text = %q", got)
	}
	links := m5.find(func(n *htmlNode) bool { return n.name == "a" })
	if len(links) != 1 || links[0].attrs["href"] != "#"+anchorName(weirdID) {
		t.Errorf("message 5 reply link: %v", links)
	}
	m6 := byID(doc, "m-6")
	if got := textOf(m6, "reply"); got != "↪ reply to message 99" {
		t.Errorf("reply to a message not on the page: %q", got)
	}
	if got := textOf(m6, "t"); got != "not a time" {
		t.Errorf("unparsable time shown as %q", got)
	}
	// The time is shown in the source's offset, with the date above.
	if got := textOf(byID(doc, "m-1"), "t"); got != "10:00" {
		t.Errorf("time of message 1 = %q", got)
	}
	days := doc.find(func(n *htmlNode) bool { return n.hasClass("day") })
	if len(days) != 2 || days[0].text.String() != "Fri 1 Mar 2024 (UTC+02:00)" {
		t.Errorf("day separators: %q", days)
	}
	header := doc.find(func(n *htmlNode) bool { return n.name == "header" })
	if len(header) != 1 || !strings.Contains(header[0].text.String(), "6 messages · 2024-03-01 10:00 – 2024-03-02 10:01 (UTC+02:00)") {
		t.Errorf("header: %q", header)
	}
}

func TestHTMLEmptyConversation(t *testing.T) {
	page := renderPage(t, archive.ConversationInfo{ID: archive.ID{9}})
	doc, msgs := checkSafePage(t, page, "")
	if len(msgs) != 0 || !strings.Contains(doc.text.String(), "(no name)") {
		t.Errorf("empty page: %d messages\n%s", len(msgs), page)
	}
}

func TestAnchorName(t *testing.T) {
	seen := map[string]string{}
	for _, id := range []string{"1", "41", "1700000000.123456", "a_b-C", "", " ", "x y", `"><`, "é", strings.Repeat("a", 64), strings.Repeat("a", 65), "m-1", "h-1"} {
		a := anchorName(id)
		if prev, ok := seen[a]; ok {
			t.Errorf("anchorName(%q) = anchorName(%q) = %q", id, prev, a)
		}
		seen[a] = id
		if strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
		}) >= 0 || len(a) > 66 {
			t.Errorf("anchorName(%q) = %q", id, a)
		}
	}
	if anchorName("41") != "m-41" {
		t.Errorf("anchorName(41) = %q", anchorName("41"))
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// An archive made by the engine, with attachment files, to restore with
// runRestore.
type blobArchive struct {
	t       *testing.T
	ctx     context.Context
	repo    string
	state   string
	keyFile string
	id      archive.ID
}

// blobLines is a canonical source whose messages carry files, as an importer
// gives them: every attachment with a "blob" whose content is in files is
// handed to the engine.
type blobLines struct {
	r     *canon.Reader
	files map[string][]byte // hex SHA-256 → content
	cur   []canon.Blob
}

func (s *blobLines) Next() (canon.Message, error) {
	m, err := s.r.Next()
	s.cur = nil
	if err != nil {
		return m, err
	}
	msg, _ := parseMessage(m.Line)
	for _, a := range msg.Attachments {
		f, ok := s.files[a.Blob]
		if !ok {
			continue
		}
		s.cur = append(s.cur, canon.Blob{SHA256: sha256.Sum256(f), Size: int64(len(f)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f)), nil }})
	}
	return m, nil
}

func (s *blobLines) Blobs() []canon.Blob { return s.cur }

func newBlobArchive(t *testing.T, jsonl string, files map[string][]byte) *blobArchive {
	t.Helper()
	dir := t.TempDir()
	b := &blobArchive{t: t, ctx: context.Background(), repo: filepath.Join(dir, "store"), state: filepath.Join(dir, "state"), keyFile: filepath.Join(dir, "key")}
	st, err := local.Open(b.repo)
	if err != nil {
		t.Fatal(err)
	}
	key, err := recovery.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.keyFile, []byte(key.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ar, err := archive.Create(b.ctx, st, archive.CreateOptions{Label: "Blobs", Lockers: []archive.Locker{archive.RecoveryLocker{Key: key}}},
		archive.Options{State: archive.State{Dir: b.state}})
	if err != nil {
		t.Fatal(err)
	}
	b.id = ar.ID()
	if _, err := ar.Export(b.ctx, &blobLines{r: canon.NewReader(strings.NewReader(jsonl), "in.jsonl"), files: files}, archive.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	return b
}

// restore runs `chatvault [--json] restore ID -o out --format format [--overwrite]`
// through runRestore, returning stdout and stderr.
func (b *blobArchive) restore(out, format string, jsonOut, overwrite bool) (string, string, error) {
	var stdout, stderr bytes.Buffer
	a := newApp(strings.NewReader(""), &stdout, &stderr)
	a.repo, a.stateDir, a.json, a.verbose = b.repo, b.state, jsonOut, true
	opts := &restoreOptions{app: a, Archive: b.id.String(), Dir: out, Format: format, Overwrite: overwrite}
	opts.Keys.recoveryKeyFile = b.keyFile
	err := runRestore(b.ctx, opts)
	return stdout.String(), stderr.String(), err
}

func (b *blobArchive) mustRestore(out, format string, jsonOut, overwrite bool) string {
	b.t.Helper()
	stdout, stderr, err := b.restore(out, format, jsonOut, overwrite)
	if err != nil {
		b.t.Fatalf("restore --format %s: %v\n%s", format, err, stderr)
	}
	return stdout
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// attachmentJSON is one attachment entry of a canonical line.
func attachmentJSON(name, mime string, content []byte) string {
	return fmt.Sprintf(`{"name":%s,"mime":%q,"size":%d,"sha256":%q,"blob":%q}`, jsonString(name), mime, len(content), sha(content), sha(content))
}

// listFiles returns every file and directory under dir, relative, with '/'.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Type()&fs.ModeSymlink != 0 {
			rel += "@"
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestRestoreAttachments(t *testing.T) {
	photo := bytes.Repeat([]byte("\xff\xd8jpeg"), 20000)
	other := []byte("another photo.jpg")
	upper := []byte("PHOTO.JPG, a third content")
	hostile := map[string][]byte{
		"../../x":                         []byte("dot dot x"),
		"/etc/passwd":                     []byte("root:x:0:0"),
		".bashrc":                         []byte("alias ls=rm"),
		"a/b":                             []byte("a slash b"),
		"nul\x00name.txt":                 []byte("nul"),
		strings.Repeat("é", 100) + ".png": []byte("long"),
		`..\..\win.ini`:                   []byte("backslashes"),
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range hostile {
			if !yield(k) {
				return
			}
		}
	})
	notStored := []byte("a file the archive never got")
	files := map[string][]byte{sha(photo): photo, sha(other): other, sha(upper): upper}
	var hostileAtts []string
	for _, n := range names {
		files[sha(hostile[n])] = hostile[n]
		hostileAtts = append(hostileAtts, attachmentJSON(n, "application/octet-stream", hostile[n]))
	}
	lines := []string{
		`{"conversation":"c1","conversation_name":` + jsonString(hostileLabel) + `,"id":"1","time":"2024-03-01T10:00:00+02:00","kind":"message","sender":"alice","sender_name":"Alice","text":` + jsonString(hostileScript) + `,"attachments":[` + attachmentJSON("photo.jpg", "image/jpeg", photo) + `]}`,
		`{"conversation":"c1","id":"2","time":"2024-03-01T10:01:00+02:00","kind":"message","sender":"bob","text":` + jsonString(hostileImg) + `,"reply_to":"1","attachments":[` + strings.Join(hostileAtts, ",") + `]}`,
		// Same name, other content: a hash is added (also when only the case differs).
		// Same content again, under any name: written once.
		`{"conversation":"c1","id":"3","time":"2024-03-01T10:02:00+02:00","kind":"message","sender":"alice","sender_name":"Alice","attachments":[` +
			attachmentJSON("photo.jpg", "image/jpeg", other) + "," + attachmentJSON("PHOTO.JPG", "image/jpeg", upper) + "," +
			attachmentJSON("photo.jpg", "image/jpeg", photo) + "," + attachmentJSON("copy.jpg", "image/jpeg", photo) + `]}`,
		`{"conversation":"c1","id":"4","time":"2024-03-01T10:03:00+02:00","kind":"message","sender":"bob","text":"javascript:alert(1)","attachments":[{"name":"v.mp4","mime":"video/mp4","missing":"not exported"},` +
			attachmentJSON("gone.txt", "text/plain", notStored) + `,{"name":"evil","mime":"image/png","blob":"../../../etc/passwd"}]}`,
		`{"conversation":"c1","id":"5","time":"2024-03-01T10:04:00+02:00","kind":"service","sender_name":"Carol","service":"joined"}`,
		`{"conversation":"c2","conversation_name":"Work","id":"w1","time":"2024-03-02T09:00:00Z","kind":"message","sender":"dan","text":"same photo, other chat","attachments":[` + attachmentJSON("photo.jpg", "image/jpeg", photo) + `]}`,
	}
	b := newBlobArchive(t, strings.Join(lines, "\n")+"\n", files)

	// Per conversation: the transcript's base name, and the files expected
	// in its .files directory.
	var c1, c2 string
	want1 := map[string][]byte{
		"photo.jpg":                        photo,
		"photo-" + sha(other)[:8] + ".jpg": other,
		"PHOTO-" + sha(upper)[:8] + ".JPG": upper,
		"_._.._x":                          hostile["../../x"],
		"_etc_passwd":                      hostile["/etc/passwd"],
		"_bashrc":                          hostile[".bashrc"],
		"a_b":                              hostile["a/b"],
		"nul_name.txt":                     hostile["nul\x00name.txt"],
		strings.Repeat("é", 40) + ".png":   hostile[strings.Repeat("é", 100)+".png"],
		"_._.._win.ini":                    hostile[`..\..\win.ini`],
	}
	for _, format := range []string{"jsonl", "text", "html"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			stdout := b.mustRestore(out, format, true, false)

			// Everything is inside out: two transcripts, two .files directories.
			all := listFiles(t, out)
			var transcripts []string
			for _, f := range all {
				if !strings.Contains(f, "/") && !strings.HasSuffix(f, ".files") {
					transcripts = append(transcripts, f)
				}
				if strings.HasPrefix(filepath.Base(f), ".") || strings.HasSuffix(f, "@") {
					t.Errorf("unexpected file %s", f)
				}
			}
			if len(transcripts) != 2 {
				t.Fatalf("files: %q", all)
			}
			ext := map[string]string{"jsonl": ".jsonl", "text": ".txt", "html": ".html"}[format]
			c2 = strings.TrimSuffix(transcripts[0], ext) // "Work-…" sorts first
			c1 = strings.TrimSuffix(transcripts[1], ext)
			if !strings.HasPrefix(c1, "__title__script_alert__label____script") || !strings.HasPrefix(c2, "Work-") {
				t.Fatalf("transcripts: %q", transcripts)
			}
			var wantAll []string
			wantAll = append(wantAll, transcripts...)
			wantAll = append(wantAll, c1+".files", c2+".files", c2+".files/photo.jpg")
			for n, content := range want1 {
				wantAll = append(wantAll, c1+".files/"+n)
				got, err := os.ReadFile(filepath.Join(out, c1+".files", n))
				if err != nil || !bytes.Equal(got, content) {
					t.Errorf("%s: %d bytes, %v; want %d bytes", n, len(got), err, len(content))
				}
			}
			slices.Sort(wantAll)
			if !slices.Equal(all, wantAll) {
				t.Errorf("files:\n%q\nwant\n%q", all, wantAll)
			}
			if got, _ := os.ReadFile(filepath.Join(out, c2+".files", "photo.jpg")); !bytes.Equal(got, photo) {
				t.Errorf("c2's photo: %d bytes", len(got))
			}

			// --json lists the transcripts and the attachment files.
			var rows []map[string]any
			sc := bufio.NewScanner(strings.NewReader(stdout))
			for sc.Scan() {
				var r map[string]any
				if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
					t.Fatalf("--json output %q: %v", sc.Text(), err)
				}
				rows = append(rows, r)
			}
			var fileRows, attRows int
			for _, r := range rows {
				p, _ := r["path"].(string)
				if _, err := os.Stat(p); err != nil {
					t.Errorf("row %v: %v", r, err)
				}
				switch r["type"] {
				case "file":
					fileRows++
				case "attachment":
					attRows++
					if got, _ := os.ReadFile(p); sha(got) != r["sha256"] || float64(len(got)) != r["size"] {
						t.Errorf("row %v does not describe its file", r)
					}
				}
			}
			if fileRows != 2 || attRows != len(want1)+1 {
				t.Errorf("--json rows: %d files, %d attachments\n%s", fileRows, attRows, stdout)
			}
			if rows[0]["type"] != "file" || rows[1]["type"] != "attachment" || rows[1]["name"] != "photo.jpg" {
				t.Errorf("first rows: %v", rows[:2])
			}

			transcript, err := os.ReadFile(filepath.Join(out, c1+ext))
			if err != nil {
				t.Fatal(err)
			}
			switch format {
			case "jsonl":
				// The lines come back as they were exported.
				var want []string
				for _, l := range lines[:5] {
					want = append(want, l+"\n")
				}
				if string(transcript) != strings.Join(want, "") {
					t.Errorf("jsonl:\n%s", transcript)
				}
			case "text":
				for _, w := range []string{
					"Alice: " + hostileScript + " [photo.jpg (image/jpeg, 117.2 KiB) → " + c1 + ".files/photo.jpg]\n",
					"[../../x (application/octet-stream, 9 B) → " + c1 + ".files/_._.._x]",
					"[nul name.txt (application/octet-stream, 3 B) → " + c1 + ".files/nul_name.txt]",
					"Alice: [photo.jpg (image/jpeg, 17 B) → " + c1 + ".files/photo-" + sha(other)[:8] + ".jpg] [PHOTO.JPG (image/jpeg, 26 B) → " + c1 + ".files/PHOTO-" + sha(upper)[:8] + ".JPG] " +
						"[photo.jpg (image/jpeg, 117.2 KiB) → " + c1 + ".files/photo.jpg] [copy.jpg (image/jpeg, 117.2 KiB) → " + c1 + ".files/photo.jpg]\n",
					"bob: javascript:alert(1) [v.mp4 (video/mp4)] [file not included: not exported] [gone.txt (text/plain, 28 B)] [file not included: missing from the archive] [evil (image/png)] [file not included: invalid blob reference]\n",
				} {
					if !strings.Contains(string(transcript), w) {
						t.Errorf("text transcript lacks %q:\n%s", w, transcript)
					}
				}
			case "html":
				doc, msgs := checkSafePage(t, transcript, out)
				if len(msgs) != 5 {
					t.Errorf("%d message elements, want 5", len(msgs))
				}
				if got := textOf(byID(doc, "m-1"), "text"); got != hostileScript {
					t.Errorf("message 1 text = %q", got)
				}
				if got := textOf(byID(doc, "m-2"), "text"); got != hostileImg {
					t.Errorf("message 2 text = %q", got)
				}
				if h1 := doc.find(func(n *htmlNode) bool { return n.name == "h1" }); len(h1) != 1 || h1[0].text.String() != hostileLabel {
					t.Errorf("h1: %q", h1)
				}
				// Images only for image/* files, from the .files directory.
				imgs := doc.find(func(n *htmlNode) bool { return n.name == "img" })
				if len(imgs) != 5 || imgs[0].attrs["src"] != c1+".files/photo.jpg" {
					t.Errorf("images: %v", imgs)
				}
				m2files := byID(doc, "m-2").find(func(n *htmlNode) bool { return n.name == "a" && n.parent.hasClass("file") })
				if len(m2files) != len(hostile) {
					t.Errorf("message 2: %d file links, want %d", len(m2files), len(hostile))
				}
				m4 := byID(doc, "m-4")
				if got := textOf(m4, "nofile"); got != "v.mp4 (video/mp4) [file not included: not exported]" {
					t.Errorf("missing attachment shown as %q", got)
				}
				if links := m4.find(func(n *htmlNode) bool { return n.name == "a" }); len(links) != 0 {
					t.Errorf("message 4 has links: %v", links)
				}
				if svc := byID(doc, "m-5"); svc == nil || !svc.hasClass("svc") {
					t.Errorf("service message: %v", svc)
				}
			}
		})
	}
}

func TestRestoreAttachmentsExistingFiles(t *testing.T) {
	photo := []byte("photo bytes")
	line := `{"conversation":"c","conversation_name":"Chat","id":"1","time":"2024-03-01T10:00:00Z","kind":"message","text":"x","attachments":[` + attachmentJSON("p.jpg", "image/jpeg", photo) + `]}` + "\n"
	b := newBlobArchive(t, line, map[string][]byte{sha(photo): photo})
	out := filepath.Join(t.TempDir(), "out")
	b.mustRestore(out, "html", false, false)
	base := strings.TrimSuffix(listFiles(t, out)[0], ".files")
	p := filepath.Join(out, base+".files", "p.jpg")

	// Another format into the same directory: the identical file is kept.
	stdout := b.mustRestore(out, "text", false, false)
	if !strings.Contains(stdout, "(1 message, 1 attachment file)") {
		t.Errorf("summary: %s", stdout)
	}

	// A file in the way with other content: nothing is restored.
	os.WriteFile(p, []byte("mine"), 0o600)
	before := listFiles(t, out)
	_, _, err := b.restore(out, "jsonl", false, false)
	if err == nil || !strings.Contains(err.Error(), p+" exists; nothing was restored") {
		t.Fatalf("restore over a changed attachment: %v", err)
	}
	if after := listFiles(t, out); !slices.Equal(before, after) {
		t.Errorf("files changed:\n%q\n%q", before, after)
	}
	if got, _ := os.ReadFile(p); string(got) != "mine" {
		t.Errorf("the file in the way was changed: %q", got)
	}
	// --overwrite replaces it.
	b.mustRestore(out, "jsonl", false, true)
	if got, _ := os.ReadFile(p); !bytes.Equal(got, photo) {
		t.Errorf("after --overwrite: %q", got)
	}

	// A symbolic link as the .files directory is never followed.
	out2 := filepath.Join(t.TempDir(), "out2")
	outside := t.TempDir()
	os.MkdirAll(out2, 0o700)
	if err := os.Symlink(outside, filepath.Join(out2, base+".files")); err != nil {
		t.Skip(err)
	}
	for _, overwrite := range []bool{false, true} {
		_, _, err = b.restore(out2, "html", false, overwrite)
		if err == nil || !strings.Contains(err.Error(), "is not a directory; nothing was restored") {
			t.Fatalf("restore into a symlinked .files: %v", err)
		}
	}
	if got := listFiles(t, outside); len(got) != 0 {
		t.Errorf("written outside: %q", got)
	}
	if got := listFiles(t, out2); !slices.Equal(got, []string{base + ".files@"}) {
		t.Errorf("files after the failed restore: %q", got)
	}
	// A symbolic link as the attachment file is replaced, not followed.
	os.Remove(filepath.Join(out2, base+".files"))
	os.MkdirAll(filepath.Join(out2, base+".files"), 0o700)
	target := filepath.Join(outside, "target")
	os.WriteFile(target, []byte("keep"), 0o600)
	os.Symlink(target, filepath.Join(out2, base+".files", "p.jpg"))
	if _, _, err := b.restore(out2, "html", false, false); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("restore over a symlinked attachment: %v", err)
	}
	b.mustRestore(out2, "html", false, true)
	if got, _ := os.ReadFile(target); string(got) != "keep" {
		t.Errorf("the symlink was followed: %q", got)
	}
	if fi, err := os.Lstat(filepath.Join(out2, base+".files", "p.jpg")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("p.jpg: %v %v", fi, err)
	}
}

// A damaged attachment fails the restore like a damaged segment: exit 3,
// nothing written.
func TestRestoreDamagedAttachment(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<14) // larger than any other object
	line := `{"conversation":"c","id":"1","time":"2024-03-01T10:00:00Z","kind":"message","attachments":[` + attachmentJSON("big.bin", "", big) + `]}` + "\n"
	b := newBlobArchive(t, line, map[string][]byte{sha(big): big})
	var largest string
	var size int64
	filepath.WalkDir(filepath.Join(b.repo, "archives"), func(p string, d fs.DirEntry, err error) error {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() > size {
			largest, size = p, fi.Size()
		}
		return nil
	})
	data, _ := os.ReadFile(largest)
	data[len(data)/2] ^= 1
	os.WriteFile(largest, data, 0o600)
	for _, format := range []string{"jsonl", "text", "html"} {
		out := filepath.Join(t.TempDir(), "out")
		_, _, err := b.restore(out, format, false, false)
		if code, _ := exitCode(b.ctx, err, true); code != 3 || !strings.Contains(err.Error(), `attachment "big.bin"`) {
			t.Errorf("%s: exit %d: %v", format, code, err)
		}
		if got := listFiles(t, out); len(got) != 0 {
			t.Errorf("%s: files left: %q", format, got)
		}
	}
	// A missing one is not an error (see TestRestoreAttachments); damage is.
	if isMissingBlob(errors.New("x: missing")) || !isMissingBlob(fmt.Errorf("%w: objects/ab: missing", archive.ErrIntegrity)) {
		t.Error("isMissingBlob")
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                            "plain",
		"a\r\nb\rc\td":                     "a\n\nb\nc\td",
		"nul\x00 esc\x1b del\x7f c1\u0085": "nul\ufffd esc\ufffd del\ufffd c1\ufffd",
		"bad \xff utf8":                    "bad \ufffd utf8",
		"non\ufffe\uffffchar":              "non\ufffd\ufffdchar",
		"emoji 👍 and בידי":                 "emoji 👍 and בידי",
	} {
		if got := cleanText(in); got != want {
			t.Errorf("cleanText(%q) = %q, want %q", in, got, want)
		}
	}
}
