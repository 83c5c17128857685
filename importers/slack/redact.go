package slack

import (
	"bytes"
	"encoding/json"
	"strings"
)

// credentialParams are the URL query parameters removed everywhere.
var credentialParams = []string{"t", "token", "pub_secret"}

// stripRaw removes credential query parameters from every URL inside every
// string of the JSON value raw (which must be valid JSON). Strings that need
// no change keep their bytes; raw itself is returned when nothing changed.
func stripRaw(raw []byte) []byte {
	if !mayHoldCredential(raw) {
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
			break // not valid JSON: leave the rest alone
		}
		lit := raw[i : j+1]
		if mayHoldCredential(lit) && (bytes.IndexByte(lit, '\\') >= 0 || hasCredentialParam(lit)) {
			var s string
			if json.Unmarshal(lit, &s) == nil {
				if t := stripURLCredentials(s); t != s {
					out = append(out, raw[last:i]...)
					out = appendJSONString(out, t)
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

// mayHoldCredential is a cheap filter: a credential parameter needs an '='
// (possibly escaped as \u003d).
func mayHoldCredential(b []byte) bool {
	return bytes.IndexByte(b, '=') >= 0 || bytes.Contains(b, []byte(`u003d`)) || bytes.Contains(b, []byte(`u003D`))
}

// hasCredentialParam reports whether b, without escapes, holds
// "?name=" or "&name=" (or "&amp;name=") for a credential parameter name: the
// quick test that spares most strings the decoding.
func hasCredentialParam(b []byte) bool {
	for i := 0; i < len(b); i++ {
		k := bytes.IndexByte(b[i:], '=')
		if k < 0 {
			return false
		}
		e := i + k
		j := e
		for j > 0 && isParamNameByte(b[j-1]) {
			j--
		}
		if j < e && j > 0 && (b[j-1] == '?' || b[j-1] == '&' || b[j-1] == ';') && isCredentialName(string(b[j:e])) {
			return true
		}
		i = e
	}
	return false
}

func appendJSONString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// stripURLCredentials removes credential query parameters from s: every
// "?name=value" or "&name=value" (also "&amp;name=value", Slack's escaped
// form) whose name is a credential parameter. The value runs to the next '&'
// or '#', or to whitespace or a character that ends a URL in Slack mrkdwn or
// prose. This does not depend on finding where a URL starts, so a URL with a
// stray space or without a scheme loses its token too.
func stripURLCredentials(s string) string {
	if strings.IndexByte(s, '=') < 0 {
		return s
	}
	out := s
	for i := 0; i < len(out); i++ {
		c := out[i]
		if c != '?' && c != '&' {
			continue
		}
		j := i + 1
		if c == '&' && strings.HasPrefix(out[j:], "amp;") {
			j += 4
		}
		e := j
		for e < len(out) && isParamNameByte(out[e]) {
			e++
		}
		if e == j || e >= len(out) || out[e] != '=' || !isCredentialName(out[j:e]) {
			continue
		}
		k := len(out)
		if n := strings.IndexFunc(out[e+1:], isValueEnd); n >= 0 {
			k = e + 1 + n
		}
		if strings.EqualFold(out[j:e], "t") && isMediaTime(out[e+1:k]) {
			continue
		}
		if c == '&' {
			out = out[:i] + out[k:]
		} else {
			// Keep the '?' only if another parameter follows.
			switch rest := out[k:]; {
			case strings.HasPrefix(rest, "&amp;"):
				out = out[:i+1] + rest[5:]
			case strings.HasPrefix(rest, "&"):
				out = out[:i+1] + rest[1:]
			default:
				out = out[:i] + rest
			}
		}
		i-- // look at position i again
	}
	return out
}

func isParamNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func isCredentialName(name string) bool {
	for _, c := range credentialParams {
		if strings.EqualFold(name, c) {
			return true
		}
	}
	return false
}

func isValueEnd(r rune) bool { return r == '&' || r == '#' || isURLEnd(r) }

func isURLEnd(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\f', '\v', '<', '>', '|', '"', '\'', '`':
		return true
	}
	return r == '\u00a0' || r == '\u2028' || r == '\u2029'
}

// isMediaTime reports a value like "42", "42s", "90.5" or "1h2m3s": a time
// offset into a video (YouTube's ?t=), not a token.
func isMediaTime(v string) bool {
	if v == "" {
		return false
	}
	digits := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' || c == 'h' || c == 'm' || c == 's':
			if !digits {
				return false
			}
		default:
			return false
		}
	}
	return digits
}
