package redact

import (
	"regexp"
	"slices"
	"strings"
)

// shape is a pattern of key-shaped text and what replaces a match.
type shape struct {
	re *regexp.Regexp
	// repl is the replacement template; empty means Mask.
	repl string
	// hints are literals of which a text must hold one for re to match; the scan for them
	// skips most regular-expression runs.
	hints []string
}

// shapes are the key-shaped patterns KeyShapes masks, in order, besides named credentials
// (maskNamed) and long random-looking tokens (maskTokens). They are compiled once and never modified.
var shapes = []shape{
	// PEM private keys, to their END line or, in a clipped text, to its end; the (?s) body
	// matches real and JSON-escaped newlines alike.
	{re: regexp.MustCompile(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|$)`), hints: []string{"PRIVATE KEY"}},
	// The credential of an Authorization header: "Bearer <token>", "Basic <base64>".
	{re: regexp.MustCompile(`((?:[Bb]earer|BEARER|Basic)\s+)[A-Za-z0-9._~+/\-]+=*`), repl: "${1}" + Mask, hints: []string{"earer", "EARER", "Basic"}},
	// OpenAI (sk-, sk-proj-), Anthropic (sk-ant-) and other sk- keys.
	{re: regexp.MustCompile(`\bsk-[A-Za-z0-9_\-]{8,}`), hints: []string{"sk-"}},
	// llmgw's own keys.
	{re: regexp.MustCompile(`\bllmgw-[A-Za-z0-9_\-]{16,}`), hints: []string{"llmgw-"}},
	// AWS access key ids (long-term AKIA, temporary ASIA, and the other unique-id prefixes).
	{re: regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}\b`),
		hints: []string{"AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "APKA", "AROA", "ASCA"}},
	// Google API keys and OAuth2 access tokens.
	{re: regexp.MustCompile(`\bAIza[0-9A-Za-z_\-]{35}`), hints: []string{"AIza"}},
	{re: regexp.MustCompile(`\bya29\.[0-9A-Za-z_\-.]+`), hints: []string{"ya29."}},
	// JWTs (and other JOSE compact serialisations): base64url JSON header, payload, signature.
	{re: regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*`), hints: []string{"eyJ"}},
}

// credentialWords end the names of credentials in headers, JSON members, form fields and
// query parameters: api-key, x-goog-api-key, "private_key", access_token, client_secret,
// password, ?key=, &signature=.
var credentialWords = []string{"key", "token", "secret", "password", "signature"}

// maskNamed masks the value of a credential given by name: a name ending in one of
// credentialWords (in any case), then an optional quote, ':' or '=', and an optional quote;
// the value runs to the next white space, quote, comma, semicolon, '&', '}' or '<'.
func maskNamed(s string) string {
	lower := asciiLower(s)
	var b strings.Builder
	copied := 0
	for i := 0; i < len(lower); i++ {
		switch lower[i] {
		case 'k', 't', 's', 'p':
		default:
			continue
		}
		w := ""
		for _, c := range credentialWords {
			if strings.HasPrefix(lower[i:], c) {
				w = c
				break
			}
		}
		if w == "" {
			continue
		}
		j := i + len(w)
		if j < len(s) && (s[j] == '"' || s[j] == '\'') {
			j++
		}
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j >= len(s) || (s[j] != ':' && s[j] != '=') {
			continue
		}
		j++
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j < len(s) && (s[j] == '"' || s[j] == '\'') {
			j++
		}
		end := j
		for end < len(s) && !valueEnd(s[end]) {
			end++
		}
		if end == j || s[j:end] == Mask {
			continue
		}
		b.WriteString(s[copied:j])
		b.WriteString(Mask)
		copied, i = end, end-1
	}
	if copied == 0 {
		return s
	}
	b.WriteString(s[copied:])
	return b.String()
}

// valueEnd reports whether c ends a named credential's value.
func valueEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '"', '\'', ',', ';', '&', '}', '<', '#':
		return true
	}
	return false
}

// asciiLower is s with ASCII letters in lower case and every other byte as it is, so that
// offsets in it are offsets in s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// minToken is the length from which a run of base64 characters mixing upper case, lower case
// and digits is taken for a secret (maskTokens).
const minToken = 32

// maskTokens masks long random-looking tokens: runs of minToken or more characters of a base64
// alphabet (and trailing '=' padding) that mix upper case, lower case and digits: AWS secret
// access keys (40), Cohere, Mistral and Groq keys, session tokens. Words, paths, model names,
// UUIDs and hex digests do not mix all three.
func maskTokens(s string) string {
	var b strings.Builder
	copied := 0
	for i := 0; i < len(s); {
		if !tokenByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && tokenByte(s[j]) {
			j++
		}
		for j < len(s) && s[j] == '=' {
			j++
		}
		if j-i >= minToken && mixed(s[i:j]) {
			if b.Len() == 0 {
				b.Grow(len(s))
			}
			b.WriteString(s[copied:i])
			b.WriteString(Mask)
			copied = j
		}
		i = j
	}
	if copied == 0 {
		return s
	}
	b.WriteString(s[copied:])
	return b.String()
}

// tokenByte reports whether c is in the base64 alphabets (standard and URL-safe).
func tokenByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '_' || c == '-'
}

// mixed reports whether s has an upper-case letter, a lower-case letter and a digit.
func mixed(s string) bool {
	var upper, lower, digit bool
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9':
			digit = true
		}
	}
	return upper && lower && digit
}

// KeyShapes returns s with everything shaped like a credential replaced by [Mask] (see the
// package doc for the shapes), whatever secrets are configured. It is meant for untrusted
// text such as an upstream's error body: a few microseconds for an ordinary error body, too
// much for every log line.
func KeyShapes(s string) string {
	for _, sh := range shapes {
		if !slices.ContainsFunc(sh.hints, func(h string) bool { return strings.Contains(s, h) }) {
			continue
		}
		if sh.repl != "" {
			s = sh.re.ReplaceAllString(s, sh.repl)
		} else {
			s = sh.re.ReplaceAllLiteralString(s, Mask)
		}
	}
	return maskTokens(maskNamed(s))
}

// Excerpt returns untrusted text fit for an error's cause: key shapes masked (KeyShapes), then
// at most about n bytes, marked "..." when cut. A cut never splits a token: the token it
// would split is dropped whole, so that a configured secret in the text (masked later, at the
// log, by a Redactor) is never left half-visible where the later match would miss it. A
// token here is a run of bytes other than white space, quotes, commas, semicolons and
// brackets; a configured secret that contains one of those may still be cut.
func Excerpt(s string, n int) string {
	s = KeyShapes(s)
	if len(s) <= n {
		return s
	}
	cut := n
	if !separator(s[cut]) {
		for cut > 0 && !separator(s[cut-1]) {
			cut--
		}
	}
	return strings.TrimRight(s[:cut], " \t\r\n") + "..."
}

// separator reports whether b ends a token for Excerpt.
func separator(b byte) bool {
	switch b {
	case ' ', '\t', '\r', '\n', '"', '\'', '`', ',', ';', '(', ')', '[', ']', '{', '}', '<', '>', '|':
		return true
	}
	return b < 0x20
}
