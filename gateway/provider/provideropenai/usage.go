package provideropenai

import "github.com/llmgw/llmgw/gateway/chat"

// quickUsage decodes a usage object that holds only what chat.Usage models (prompt_tokens,
// completion_tokens, total_tokens, prompt_tokens_details.cached_tokens,
// completion_tokens_details.reasoning_tokens) as integers, to the same value encoding/json
// gives, in one pass and without reflection. ok is false for anything else (another member, a
// value that is not an integer, an escaped key, null): the caller then decodes it with
// encoding/json, so a member chat.Usage gains later is never dropped here.
func quickUsage(b []byte) (u chat.Usage, ok bool) {
	s := scan{b: b}
	ok = s.object(func(key []byte) bool {
		switch string(key) {
		case "prompt_tokens":
			return s.integer(&u.PromptTokens)
		case "completion_tokens":
			return s.integer(&u.CompletionTokens)
		case "total_tokens":
			return s.integer(&u.TotalTokens)
		case "prompt_tokens_details":
			d := &chat.PromptTokensDetails{}
			u.PromptTokensDetails = d
			return s.object(func(key []byte) bool { return s.member(key, "cached_tokens", &d.CachedTokens) })
		case "completion_tokens_details":
			d := &chat.CompletionTokensDetails{}
			u.CompletionTokensDetails = d
			return s.object(func(key []byte) bool { return s.member(key, "reasoning_tokens", &d.ReasoningTokens) })
		}
		return s.unknown(key)
	})
	s.space()
	return u, ok && s.i == len(s.b)
}

// scan reads the JSON quickUsage accepts.
type scan struct {
	b []byte
	i int
}

func (s *scan) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *scan) byte(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object reads an object, calling member for each key with the scanner at its value; member
// reads the value and reports whether it could.
func (s *scan) object(member func(key []byte) bool) bool {
	if !s.byte('{') {
		return false
	}
	if s.byte('}') {
		return true
	}
	for {
		key, ok := s.key()
		if !ok || !s.byte(':') {
			return false
		}
		s.space()
		if !member(key) {
			return false
		}
		if s.byte('}') {
			return true
		}
		if !s.byte(',') {
			return false
		}
	}
}

// member reads the integer value of key into v when key is name, and skips it as unknown
// otherwise.
func (s *scan) member(key []byte, name string, v *int64) bool {
	if string(key) == name {
		return s.integer(v)
	}
	return s.unknown(key)
}

// unknown skips the value of a member chat.Usage does not model, as encoding/json ignores it:
// only an integer under a key of lowercase ASCII letters, digits and underscores (such as
// OpenAI's audio_tokens), which cannot match a modelled member under encoding/json's
// case-insensitive matching unless it is that member. Anything else is left to encoding/json.
func (s *scan) unknown(key []byte) bool {
	for _, c := range key {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	var discard int64
	return s.integer(&discard)
}

// key reads a key without escapes.
func (s *scan) key() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// integer reads an integer as encoding/json reads one into an int64: an optional minus, then
// 0 or digits not starting with 0, no fraction or exponent, within int64.
func (s *scan) integer(v *int64) bool {
	neg := s.i < len(s.b) && s.b[s.i] == '-'
	if neg {
		s.i++
	}
	start := s.i
	var n uint64
	for ; s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9'; s.i++ {
		if n > (1<<63)/10 {
			return false
		}
		n = n*10 + uint64(s.b[s.i]-'0')
	}
	digits := s.i - start
	if digits == 0 || digits > 1 && s.b[start] == '0' || n > 1<<63 || !neg && n == 1<<63 {
		return false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return false
	}
	if neg {
		*v = -int64(n)
	} else {
		*v = int64(n)
	}
	return true
}
