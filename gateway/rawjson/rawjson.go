// Package rawjson edits top-level members of a JSON object in place, without decoding it, so a
// request that already speaks the upstream's schema is forwarded with only the model (and
// stream options) changed.
package rawjson

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	fastjson "github.com/segmentio/encoding/json"
)

var errNotObject = errors.New("rawjson: not a JSON object")

// Set returns obj with its top-level member key set to value (raw JSON). Existing members are
// replaced in place (every one of them, should the key be duplicated, so no reader can pick a
// different one); a missing one is added first. obj must be a valid JSON object (the caller has
// decoded it once already); value is trusted raw JSON. obj is not modified.
func Set(obj []byte, key string, value []byte) ([]byte, error) {
	return AppendSet(nil, obj, key, value)
}

// AppendSet is Set appending the edited object to dst, so a caller editing one object after
// another (a stream's chunks) can reuse one buffer: AppendSet(buf[:0], ...). dst must not
// overlap obj; a nil dst is allocated at the result's size.
func AppendSet(dst, obj []byte, key string, value []byte) ([]byte, error) {
	var buf [2][2]int
	ranges, err := find(obj, key, buf[:0], false)
	if err != nil {
		return nil, err
	}
	return splice(dst, obj, key, value, ranges), nil
}

// splice appends to dst obj with the values at ranges replaced by value, or, when there are
// none, with key: value added first.
func splice(dst, obj []byte, key string, value []byte, ranges [][2]int) []byte {
	if dst == nil {
		dst = make([]byte, 0, len(obj)+len(key)+len(value)+4)
	}
	out := dst
	if len(ranges) > 0 {
		prev := 0
		for _, r := range ranges {
			out = append(out, obj[prev:r[0]]...)
			out = append(out, value...)
			prev = r[1]
		}
		return append(out, obj[prev:]...)
	}
	// Insert after the opening brace.
	i := skipSpace(obj, 0)
	out = append(out, obj[:i+1]...)
	out = strconv.AppendQuote(out, key)
	out = append(out, ':')
	out = append(out, value...)
	if j := skipSpace(obj, i+1); j < len(obj) && obj[j] != '}' {
		out = append(out, ',')
	}
	return append(out, obj[i+1:]...)
}

// AppendReplace is Get and AppendSet in one scan of obj: old is the last value of the
// top-level member key (nil when there is none). When every such member already holds value
// (byte for byte), out is obj itself and edited is false; otherwise out is obj with key set
// to value, appended to dst, as AppendSet makes it.
func AppendReplace(dst, obj []byte, key string, value []byte) (out, old []byte, edited bool, err error) {
	return appendReplace(dst, obj, key, value, false)
}

// AppendReplaceValid is AppendReplace for an obj already checked with Valid (a stream's
// chunks): once it has found a member named key, it reads on only while the rest of obj could
// name key again, that is while key's bytes, or an escape that could spell them, follow. A
// member near the start of a large object then costs a scan of the start. What it does not
// read, it does not check: an obj that is not valid JSON gets no error for its tail.
func AppendReplaceValid(dst, obj []byte, key string, value []byte) (out, old []byte, edited bool, err error) {
	return appendReplace(dst, obj, key, value, true)
}

func appendReplace(dst, obj []byte, key string, value []byte, valid bool) (out, old []byte, edited bool, err error) {
	var buf [2][2]int
	ranges, err := find(obj, key, buf[:0], valid)
	if err != nil {
		return nil, nil, false, err
	}
	if len(ranges) > 0 {
		last := ranges[len(ranges)-1]
		old = obj[last[0]:last[1]]
		same := true
		for _, r := range ranges {
			same = same && string(obj[r[0]:r[1]]) == string(value)
		}
		if same {
			return obj, old, false, nil
		}
	}
	return splice(dst, obj, key, value, ranges), old, true, nil
}

// SetString is Set with a JSON string value.
func SetString(obj []byte, key, value string) ([]byte, error) {
	return Set(obj, key, strconv.AppendQuote(nil, value))
}

// find appends to ranges the byte ranges of the values of the top-level members named key.
// Callers pass a small array of their own, so that a key found once or twice costs no
// allocation. With valid (obj is known to be valid JSON) it stops after a match when the rest
// of obj cannot hold another member named key (mayName).
func find(obj []byte, key string, ranges [][2]int, valid bool) ([][2]int, error) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, errNotObject
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) {
			return nil, errNotObject
		}
		if obj[i] == '}' {
			return ranges, nil
		}
		if obj[i] == ',' {
			i++
			continue
		}
		if obj[i] != '"' {
			return nil, errNotObject
		}
		ks := i
		ke, err := skipString(obj, i)
		if err != nil {
			return nil, err
		}
		match := keyEquals(obj[ks:ke], key)
		i = skipSpace(obj, ke)
		if i >= len(obj) || obj[i] != ':' {
			return nil, errNotObject
		}
		i = skipSpace(obj, i+1)
		ve, err := skipValue(obj, i)
		if err != nil {
			return nil, err
		}
		if match {
			ranges = append(ranges, [2]int{i, ve})
			if valid && !mayName(obj[ve:], key) {
				return ranges, nil
			}
		}
		i = ve
	}
}

// mayName reports whether b could hold a string equal to key: b holds key's bytes, or an
// escape that can spell one of key's characters. For a key of letters, digits, '_' and '-'
// that is only \u (keyEquals reads escapes as JSON does); the other escapes (\n, \", \\,
// \/, ...) spell none of them. For any other key, every escape counts.
func mayName(b []byte, key string) bool {
	if bytes.Contains(b, []byte(key)) {
		return true
	}
	word := !strings.ContainsFunc(key, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	})
	for {
		j := bytes.IndexByte(b, '\\')
		if j < 0 || j+1 >= len(b) {
			return false
		}
		if !word || b[j+1] == 'u' {
			return true
		}
		b = b[j+2:]
	}
}

// keyEquals compares a quoted JSON key with key; keys with escapes are unquoted first, as JSON
// reads them.
func keyEquals(quoted []byte, key string) bool {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		var s string
		return fastjson.Unmarshal(quoted, &s) == nil && s == key
	}
	return string(inner) == key
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, errNotObject
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errNotObject
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				e, err := skipString(b, i)
				if err != nil {
					return 0, err
				}
				i = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, errNotObject
	default: // number, true, false, null
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\n', '\r', '\t':
				return i, nil
			}
		}
		return i, nil
	}
}

// Get returns the raw value of the top-level member key (the last one, as encoding/json
// would), and whether it exists. It scans without decoding, so reading one member of a large
// object costs one pass and no allocation.
func Get(obj []byte, key string) ([]byte, bool, error) {
	var buf [2][2]int
	ranges, err := find(obj, key, buf[:0], false)
	if err != nil || len(ranges) == 0 {
		return nil, false, err
	}
	r := ranges[len(ranges)-1]
	return obj[r[0]:r[1]], true, nil
}

// Delete returns obj without its top-level members named key (all of them). Members are
// re-joined with commas; whitespace between members is not kept. obj is not modified.
func Delete(obj []byte, key string) ([]byte, error) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, errNotObject
	}
	out := make([]byte, 0, len(obj))
	out = append(out, '{')
	first := true
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) {
			return nil, errNotObject
		}
		switch obj[i] {
		case '}':
			return append(out, '}'), nil
		case ',':
			i++
			continue
		case '"':
		default:
			return nil, errNotObject
		}
		ks := i
		ke, err := skipString(obj, i)
		if err != nil {
			return nil, err
		}
		j := skipSpace(obj, ke)
		if j >= len(obj) || obj[j] != ':' {
			return nil, errNotObject
		}
		vs := skipSpace(obj, j+1)
		ve, err := skipValue(obj, vs)
		if err != nil {
			return nil, err
		}
		if !keyEquals(obj[ks:ke], key) {
			if !first {
				out = append(out, ',')
			}
			first = false
			out = append(out, obj[ks:ke]...)
			out = append(out, ':')
			out = append(out, obj[vs:ve]...)
		}
		i = ve
	}
}

// Valid reports whether b is one valid JSON value, as encoding/json.Valid does, in about a
// third of its time (segmentio's validator; a fuzz test holds the two to the same answers).
// Streams check every upstream event with it before passing it on.
func Valid(b []byte) bool { return fastjson.Valid(b) }
