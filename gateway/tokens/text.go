package tokens

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxText bounds the text a Text keeps for counting; bytes past it are only counted, and
// estimated (Estimate) rather than tokenized. 256 KiB is about 64,000 tokens, more than
// almost any answer, and tiktoken-go tokenizes it in about a quarter of a second (about 1 MB/s,
// BenchmarkCount): the bound is on that time, and on memory per stream.
const MaxText = 256 << 10

// maxDepth bounds the nesting AddJSON descends into; deeper values are skipped.
const maxDepth = 64

// Text collects text to count at the end of a request, up to MaxText bytes. Adding is cheap
// (a scan of the JSON and a copy of its text): tokenizing waits for CountText, which the
// pipeline calls only when the upstream's usage never came. The zero value is empty and
// ready. It is not safe for concurrent use.
type Text struct {
	b    []byte
	over int64 // bytes past MaxText, not kept
}

// Len is the number of bytes of text added.
func (t *Text) Len() int64 { return int64(len(t.b)) + t.over }

// Write adds p; it never fails.
func (t *Text) Write(p []byte) (int, error) {
	t.add(p)
	return len(p), nil
}

// WriteString adds s; it never fails.
func (t *Text) WriteString(s string) (int, error) {
	if room := MaxText - len(t.b); len(s) > room {
		t.b = append(t.b, s[:room]...)
		t.over += int64(len(s) - room)
	} else {
		t.b = append(t.b, s...)
	}
	return len(s), nil
}

// minCap is the room a Text's first addition makes: a short answer's text in one
// allocation, where growing from nothing took four.
const minCap = 512

func (t *Text) add(p []byte) {
	if t.b == nil && len(p) > 0 {
		t.b = make([]byte, 0, min(max(len(p), minCap), MaxText))
	}
	if room := MaxText - len(t.b); len(p) > room {
		t.b = append(t.b, p[:room]...)
		t.over += int64(len(p) - room)
		return
	}
	t.b = append(t.b, p...)
}

// CompletionField reports whether a JSON member named key holds generated text in the
// streams and answers the gateway relays: OpenAI chat deltas and messages (content,
// refusal, reasoning_content, reasoning, tool-call arguments), legacy completions (text), and
// Anthropic content blocks and deltas (text, thinking, partial_json).
func CompletionField(key []byte) bool {
	switch string(key) {
	case "content", "text", "refusal", "reasoning_content", "reasoning", "arguments", "thinking", "partial_json":
		return true
	}
	return false
}

// PromptField reports whether a JSON member named key holds prompt text in a request body:
// message content and its text parts, system prompts, thinking, tool-call arguments, tool
// descriptions, and a completion's prompt.
func PromptField(key []byte) bool {
	switch string(key) {
	case "content", "text", "system", "thinking", "arguments", "description", "prompt":
		return true
	}
	return false
}

// AddJSON adds the string values of the members of obj, at any depth, whose names field
// accepts, unescaped; strings in an array count when the array's member does. It reads obj in
// place, without decoding it into values, and stops quietly at malformed JSON.
func (t *Text) AddJSON(obj []byte, field func(key []byte) bool) {
	t.value(obj, 0, false, field, 0)
}

// value adds or skips the JSON value at b[i:] and returns the index after it, or -1 when b is
// malformed there.
func (t *Text) value(b []byte, i int, want bool, field func([]byte) bool, depth int) int {
	i = skipSpace(b, i)
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, esc := stringEnd(b, i)
		if end < 0 {
			return -1
		}
		if want {
			t.addString(b[i+1:end-1], esc)
		}
		return end
	case '{':
		if depth >= maxDepth {
			want, field = false, noField
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1
		}
		for i < len(b) {
			if b[i] != '"' {
				return -1
			}
			end, _ := stringEnd(b, i)
			if end < 0 {
				return -1
			}
			key := b[i+1 : end-1]
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return -1
			}
			if i = t.value(b, i+1, field(key), field, depth+1); i < 0 {
				return -1
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			if b[i] == '}' {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i = skipSpace(b, i+1)
		}
		return -1
	case '[':
		if depth >= maxDepth {
			want, field = false, noField
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1
		}
		for i < len(b) {
			if i = t.value(b, i, want, field, depth+1); i < 0 {
				return -1
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			if b[i] == ']' {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i++
		}
		return -1
	default: // a number, true, false or null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return i
			}
			i++
		}
		return i
	}
}

func noField([]byte) bool { return false }

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index after the string starting at b[i] (a quote) and whether it has
// escapes, or -1 when it is not terminated.
func stringEnd(b []byte, i int) (int, bool) {
	esc := false
	for j := i + 1; j < len(b); {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return -1, esc
		}
		q += j
		if bytes.IndexByte(b[j:q], '\\') < 0 {
			return q + 1, esc
		}
		esc = true
		n := 0 // backslashes just before the quote: an odd count escapes it
		for k := q - 1; k > i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, esc
		}
		j = q + 1
	}
	return -1, esc
}

// addString adds the contents of a JSON string (without its quotes), unescaping it when esc.
func (t *Text) addString(s []byte, esc bool) {
	if !esc {
		t.add(s)
		return
	}
	var buf [64]byte
	out := buf[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			out = append(out, c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'u':
			r, n := hexRune(s[i+1:])
			if n == 0 {
				out = append(out, 'u')
				continue
			}
			i += n
			if utf16.IsSurrogate(r) && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if r2, n2 := hexRune(s[i+3:]); n2 > 0 {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 2 + n2
					}
				}
			}
			out = utf8.AppendRune(out, r)
		default: // \" \\ \/
			out = append(out, s[i])
		}
	}
	t.add(out)
}

// hexRune reads four hex digits; n is 4, or 0 when they are not there.
func hexRune(s []byte) (rune, int) {
	if len(s) < 4 {
		return 0, 0
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, 0
		}
	}
	return r, 4
}
