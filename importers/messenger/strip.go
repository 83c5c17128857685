package messenger

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
)

// cdnHosts serve Meta's media; their query strings are signatures and cache
// keys (oh, oe, _nc_ohc, _nc_sid, …) that grant access to the file.
var cdnHosts = []string{"fbcdn.net", "cdninstagram.com", "fbsbx.com"}

// stripCredentials removes from raw the query strings of Meta CDN urls and
// any access_token parameter of other urls, in every string of the record.
// The result is raw itself when nothing had to go.
func stripCredentials(raw []byte, buf *bytes.Buffer) []byte {
	if !bytes.Contains(raw, []byte("fbcdn")) && !bytes.Contains(raw, []byte("cdninstagram")) &&
		!bytes.Contains(raw, []byte("fbsbx")) && !bytes.Contains(raw, []byte("access_token")) {
		return raw
	}
	var out []byte
	last := 0
	for i := 0; i < len(raw); i++ {
		if raw[i] != '"' {
			continue
		}
		j := i + 1
		for j < len(raw) && raw[j] != '"' {
			if raw[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(raw) {
			break
		}
		tok := raw[i : j+1]
		if bytes.Contains(tok, []byte("://")) || bytes.Contains(tok, []byte(`:\/\/`)) {
			var s string
			if json.Unmarshal(tok, &s) == nil {
				if ns, ok := stripURL(s); ok {
					buf.Reset()
					enc := json.NewEncoder(buf)
					enc.SetEscapeHTML(false)
					enc.Encode(ns)
					out = append(out, raw[last:i]...)
					out = append(out, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
					last = j + 1
				}
			}
		}
		i = j
	}
	if out == nil {
		return raw
	}
	return append(out, raw[last:]...)
}

// stripURL returns u without its credentials, and whether anything was
// removed. The rest of the url is kept byte for byte.
func stripURL(u string) (string, bool) {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.RawQuery == "" {
		return "", false
	}
	q := strings.IndexByte(u, '?')
	if q < 0 {
		return "", false
	}
	end := len(u)
	if h := strings.IndexByte(u[q:], '#'); h >= 0 {
		end = q + h
	}
	host := strings.ToLower(pu.Hostname())
	for _, c := range cdnHosts {
		if host == c || strings.HasSuffix(host, "."+c) {
			return u[:q] + u[end:], true
		}
	}
	var keep []string
	changed := false
	for p := range strings.SplitSeq(u[q+1:end], "&") {
		name, _, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil && strings.EqualFold(n, "access_token") {
			changed = true
			continue
		}
		keep = append(keep, p)
	}
	if !changed {
		return "", false
	}
	rest := strings.Join(keep, "&")
	if rest != "" {
		rest = "?" + rest
	}
	return u[:q] + rest + u[end:], true
}
