package redact

import (
	"encoding/json"
	"slices"
	"strings"
)

// Mask replaces every redacted secret.
const Mask = "[REDACTED]"

// MinSecretLen is the shortest configured secret that is redacted as a substring of other
// text. A value of a few characters (a placeholder key such as "dev", "none" or "local" for a
// self-hosted server) occurs by chance in request ids, model names and words; masking every
// occurrence would garble logs without protecting much, as so short a value is guessable
// anyway. Shorter secrets are still never logged by the gateway itself.
const MinSecretLen = 8

// Redactor replaces configured secret values in text with [Mask]. It is compiled once, by
// [New], from the secrets a configuration snapshot holds; it is immutable and safe for
// concurrent use. A nil *Redactor redacts nothing.
//
// Matching is exact and case-sensitive. Where secrets overlap in a text (one contains
// another, or one's end is the next one's start), the union of their occurrences is masked
// as one, so no part of either is left.
type Redactor struct {
	// first has a bit set for the first two bytes of every secret: text without a secret costs
	// one bit test per byte before any map lookup.
	first [1 << 16 / 64]uint64
	// byPrefix holds the secrets by their first MinSecretLen bytes, longest first.
	byPrefix map[uint64][]string
	n        int
}

// New compiles a Redactor from secret values. Each value is redacted as it is, and so are the
// parts a value is made of:
//
//   - a JSON object (a service-account key file, a Bedrock credential object) also yields the
//     string values of its members named like a secret (…key, …secret, …token, password,
//     credential; not …_id, …_uri, …_url or …_type), at any depth;
//   - a PEM block (a private key) also yields each of its lines, so a quoted line is found
//     whether the block is quoted with real or JSON-escaped newlines.
//
// Values (and parts) shorter than [MinSecretLen] are left out; duplicates are dropped.
func New(secrets []string) *Redactor {
	r := &Redactor{byPrefix: make(map[uint64][]string)}
	seen := make(map[string]bool)
	for _, s := range secrets {
		for _, v := range expand(s) {
			if len(v) < MinSecretLen || seen[v] {
				continue
			}
			seen[v] = true
			k := load64(v)
			r.byPrefix[k] = append(r.byPrefix[k], v)
			p := pair(v)
			r.first[p>>6] |= 1 << (p & 63)
			r.n++
		}
	}
	for _, l := range r.byPrefix {
		slices.SortFunc(l, func(a, b string) int { return len(b) - len(a) })
	}
	return r
}

// Len is the number of values the Redactor masks.
func (r *Redactor) Len() int {
	if r == nil {
		return 0
	}
	return r.n
}

// Redact returns s with every occurrence of a configured secret replaced by [Mask]. It returns
// s itself, without allocating, when s holds none.
func (r *Redactor) Redact(s string) string {
	start, end := r.next(s, 0)
	if end < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	copied := 0
	for end >= 0 {
		b.WriteString(s[copied:start])
		b.WriteString(Mask)
		copied = end
		start, end = r.next(s, end)
	}
	b.WriteString(s[copied:])
	return b.String()
}

// Contains reports whether s holds a configured secret.
func (r *Redactor) Contains(s string) bool {
	_, end := r.next(s, 0)
	return end >= 0
}

// next finds the first run of secret occurrences in s at or after from: [start, end) covers
// every occurrence that starts inside the run, however they overlap. end is -1 when there is
// none.
func (r *Redactor) next(s string, from int) (start, end int) {
	if r == nil || r.n == 0 {
		return 0, -1
	}
	start, end = 0, -1
	for i := from; i+MinSecretLen <= len(s); i++ {
		if end >= 0 && i > end {
			break // the run is complete
		}
		p := uint32(s[i]) | uint32(s[i+1])<<8
		if r.first[p>>6]&(1<<(p&63)) == 0 {
			continue
		}
		for _, c := range r.byPrefix[load64(s[i:])] {
			if strings.HasPrefix(s[i:], c) {
				if end < 0 {
					start = i
				}
				end = max(end, i+len(c))
				break // the longest at i; shorter ones at i lie inside it
			}
		}
	}
	return start, end
}

// load64 is the first 8 bytes of s (len(s) >= 8) as an integer.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// pair is the first two bytes of s as a 16-bit index.
func pair(s string) uint32 { return uint32(s[0]) | uint32(s[1])<<8 }

// expand returns s and the secret parts it is made of (see New).
func expand(s string) []string {
	s = strings.TrimSpace(s)
	out := []string{s}
	if strings.HasPrefix(s, "{") {
		var v any
		if json.Unmarshal([]byte(s), &v) == nil {
			collect(v, "", &out)
		}
	}
	for _, v := range out {
		if !strings.Contains(v, "-----BEGIN") {
			continue
		}
		for _, line := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
			if line = strings.TrimSpace(line); !strings.HasPrefix(line, "-----") {
				out = append(out, line)
			}
		}
	}
	return out
}

// collect appends the string values of a decoded JSON value's secret-named members.
func collect(v any, name string, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, m := range v {
			collect(m, k, out)
		}
	case []any:
		for _, m := range v {
			collect(m, name, out)
		}
	case string:
		if secretName(name) {
			*out = append(*out, strings.TrimSpace(v))
		}
	}
}

// secretName reports whether a JSON member named name holds a secret.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, suffix := range []string{"_id", "_uri", "_url", "_type"} {
		if strings.HasSuffix(n, suffix) {
			return false
		}
	}
	for _, word := range []string{"key", "secret", "token", "password", "credential"} {
		if strings.Contains(n, word) {
			return true
		}
	}
	return false
}
