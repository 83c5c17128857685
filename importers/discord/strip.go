package discord

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
)

// stripCredentials returns raw (a valid JSON value) with the signature of
// every Discord CDN url removed: the query parameters "ex" (expiry), "is"
// (issued) and "hm" (HMAC) that make an attachment link work for a day. The
// rest of the url, and every other byte of raw, is kept. raw is returned
// unchanged (not copied) when there is nothing to strip.
func stripCredentials(raw []byte) []byte {
	if !bytes.Contains(raw, []byte("hm")) {
		return raw
	}
	var out []byte
	last := 0 // raw[last:] not yet copied to out
	for i := 0; i < len(raw); i++ {
		if raw[i] != '"' {
			continue
		}
		start := i
		esc := false
		for i++; i < len(raw) && raw[i] != '"'; i++ {
			if raw[i] == '\\' {
				esc = true
				i++
			}
		}
		if i >= len(raw) {
			break
		}
		lit := raw[start : i+1]
		if !bytes.Contains(lit, []byte("hm")) || !(esc || bytes.Contains(lit, []byte("discord"))) {
			continue
		}
		var s string
		if json.Unmarshal(lit, &s) != nil {
			continue
		}
		clean, ok := stripURL(s)
		if !ok {
			continue
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if enc.Encode(clean) != nil {
			continue
		}
		out = append(out, raw[last:start]...)
		out = append(out, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
		last = i + 1
	}
	if out == nil {
		return raw
	}
	return append(out, raw[last:]...)
}

// signatureParams are the query parameters of a signed Discord CDN url.
var signatureParams = map[string]bool{"ex": true, "is": true, "hm": true}

// stripURL removes the signature parameters from s if it is a Discord CDN
// url that has them.
func stripURL(s string) (string, bool) {
	low := strings.ToLower(s)
	if !strings.HasPrefix(low, "https://") && !strings.HasPrefix(low, "http://") {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || !isDiscordHost(strings.ToLower(u.Hostname())) {
		return "", false
	}
	q := strings.IndexByte(s, '?')
	if q < 0 {
		return "", false
	}
	end := len(s)
	if h := strings.IndexByte(s[q:], '#'); h >= 0 {
		end = q + h
	}
	var kept []string
	removed := false
	for _, p := range strings.Split(s[q+1:end], "&") {
		if p == "" {
			continue // Discord's signed urls end with "&"
		}
		k, _, _ := strings.Cut(p, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if signatureParams[k] {
			removed = true
			continue
		}
		kept = append(kept, p)
	}
	if !removed {
		return "", false
	}
	out := s[:q]
	if len(kept) > 0 {
		out += "?" + strings.Join(kept, "&")
	}
	return out + s[end:], true
}

func isDiscordHost(h string) bool {
	for _, d := range []string{"discordapp.com", "discordapp.net", "discord.com", "discord.gg", "discord.media"} {
		if h == d || strings.HasSuffix(h, "."+d) {
			return true
		}
	}
	return false
}
