package configfile

import (
	"errors"
	"testing"
)

// TestLine: a refusal's field is found on its line, across documents of a list, a YAML
// stream of several documents, and a field missing from its mapping.
func TestLine(t *testing.T) {
	data := []byte(`- name: acme
  type: provider-account/openai
  auth_data:
    type: api-key
    api_key: nope
---
rate_limits:
  - name: rpm
    limits:
      - unit: requests_per_minute
        limit_to: many
`)
	_, err := Parse(data, func(string) (string, error) { return "secret", nil })
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("Parse: %v, want an *Error", err)
	}
	if got := Line(data, perr); got != 11 {
		t.Errorf("Line of Parse's refusal %v = %d, want 11", perr, got)
	}
	for _, tc := range []struct {
		e    Error
		want int
	}{
		{Error{Doc: "document 1 (acme)", Field: "auth_data.api_key"}, 5},
		{Error{Doc: "document 1", Field: "auth_data"}, 3},
		{Error{Doc: "document 2", Field: "rate_limits[0].limits[0].limit_to"}, 11},
		{Error{Doc: "document 2", Field: "rate_limits[0].mode"}, 8},
		{Error{Doc: "document 2", Field: "rate_limits[3]"}, 7},
		{Error{Doc: "document 3", Field: "x"}, 0},
		{Error{Doc: "config", Field: "x"}, 0},
	} {
		if got := Line(data, &tc.e); got != tc.want {
			t.Errorf("Line(%s: %s) = %d, want %d", tc.e.Doc, tc.e.Field, got, tc.want)
		}
	}
}
