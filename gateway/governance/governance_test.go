package governance

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/limiter"
)

var (
	alice = Request{User: "alice", Teams: []string{"ml", "ops"}, Model: "acct/gpt", Metadata: map[string]string{"project": "x", "env": "prod"}}
	bob   = Request{User: "bob", Model: "other/claude", VirtualModel: "prod/smart"}
	va    = Request{VirtualAccount: "billing", Teams: []string{"fin"}, Model: "acct/gpt"}
)

// matched returns the rule:bucket pairs the request gets from one rate limit rule.
func matched(t *testing.T, rule RateLimitRule, req Request) []string {
	t.Helper()
	if len(rule.Limits) == 0 {
		rule.Limits = []Limit{{Unit: "requests_per_minute", LimitTo: 10}}
	}
	if rule.Name == "" {
		rule.Name = "r"
	}
	r := Compile([]RateLimitRule{rule}, nil)
	if p := r.Problems(); p != nil {
		t.Fatalf("problems: %v", p)
	}
	lim, _ := r.Match(&req, nil, nil)
	var out []string
	for _, c := range lim {
		out = append(out, c.Bucket)
	}
	return out
}

func TestMatchConditions(t *testing.T) {
	tests := []struct {
		name string
		when Condition
		req  Request
		want bool
	}{
		{"empty matches all", Condition{}, bob, true},
		{"star subject", Condition{Subjects: []string{"*"}}, va, true},
		{"user", Condition{Subjects: []string{"user:alice"}}, alice, true},
		{"other user", Condition{Subjects: []string{"user:alice"}}, bob, false},
		{"team of user", Condition{Subjects: []string{"team:ops"}}, alice, true},
		{"team not of user", Condition{Subjects: []string{"team:fin"}}, alice, false},
		{"team of virtual account", Condition{Subjects: []string{"team:fin"}}, va, true},
		{"virtual account", Condition{Subjects: []string{"virtualaccount:billing"}}, va, true},
		{"virtual-account spelling", Condition{Subjects: []string{"virtual-account:billing"}}, va, true},
		{"virtual account is not a user", Condition{Subjects: []string{"user:billing"}}, va, false},
		{"any of subjects", Condition{Subjects: []string{"user:zed", "user:bob"}}, bob, true},
		{"model exact", Condition{Models: []string{"acct/gpt"}}, alice, true},
		{"model exact other", Condition{Models: []string{"acct/gpt"}}, bob, false},
		{"model account", Condition{Models: []string{"acct/*"}}, va, true},
		{"model account prefix only", Condition{Models: []string{"acc/*"}}, va, false},
		{"model star", Condition{Models: []string{"*"}}, bob, true},
		{"virtual model", Condition{Models: []string{"prod/smart"}}, bob, true},
		{"virtual model not asked for", Condition{Models: []string{"prod/smart"}}, alice, false},
		{"routed: the name asked for", Condition{Models: []string{"prod/ha"}}, Request{Model: "acct/gpt", VirtualModel: "prod/ha"}, true},
		{"routed: the account of the name asked for", Condition{Models: []string{"prod/*"}}, Request{Model: "acct/gpt", VirtualModel: "prod/ha"}, true},
		{"routed: the model serving it", Condition{Models: []string{"acct/gpt"}}, Request{Model: "acct/gpt", VirtualModel: "prod/ha"}, true},
		{"routed: neither", Condition{Models: []string{"prod/other"}}, Request{Model: "acct/gpt", VirtualModel: "prod/ha"}, false},
		{"metadata", Condition{Metadata: map[string]string{"project": "x"}}, alice, true},
		{"metadata AND", Condition{Metadata: map[string]string{"project": "x", "env": "prod"}}, alice, true},
		{"metadata AND one differs", Condition{Metadata: map[string]string{"project": "x", "env": "dev"}}, alice, false},
		{"metadata absent", Condition{Metadata: map[string]string{"project": "x"}}, bob, false},
		{"parts ANDed", Condition{Subjects: []string{"user:alice"}, Models: []string{"other/*"}}, alice, false},
		{"parts ANDed all match", Condition{Subjects: []string{"team:ml"}, Models: []string{"acct/*"}, Metadata: map[string]string{"env": "prod"}}, alice, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := len(matched(t, RateLimitRule{When: tt.when}, tt.req)) > 0
			if got != tt.want {
				t.Errorf("matched = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchBuckets(t *testing.T) {
	tests := []struct {
		name string
		rule RateLimitRule
		req  Request
		want []string
	}{
		{"no applies_per", RateLimitRule{}, alice, []string{""}},
		{"user", RateLimitRule{AppliesPer: []string{"user"}}, alice, []string{"user:alice"}},
		{"user of virtual account is empty", RateLimitRule{AppliesPer: []string{"user"}}, va, []string{"user:"}},
		{"virtualaccount", RateLimitRule{AppliesPer: []string{"virtualaccount"}}, va, []string{"virtualaccount:billing"}},
		{"virtual-account spelling", RateLimitRule{AppliesPer: []string{"virtual-account"}}, va, []string{"virtualaccount:billing"}},
		{"model", RateLimitRule{AppliesPer: []string{"model"}}, bob, []string{"model:other/claude"}},
		{"metadata", RateLimitRule{AppliesPer: []string{"metadata.project"}}, alice, []string{"metadata.project:x"}},
		{"metadata absent", RateLimitRule{AppliesPer: []string{"metadata.project"}}, bob, []string{"metadata.project:"}},
		{"two in order", RateLimitRule{AppliesPer: []string{"user", "metadata.project"}}, alice, []string{"user:alice|metadata.project:x"}},
		{"two other order", RateLimitRule{AppliesPer: []string{"model", "user"}}, alice, []string{"model:acct/gpt|user:alice"}},
		{"team: one bucket per team", RateLimitRule{AppliesPer: []string{"team"}}, alice, []string{"team:ml", "team:ops"}},
		{"team with user", RateLimitRule{AppliesPer: []string{"user", "team"}}, alice, []string{"user:alice|team:ml", "user:alice|team:ops"}},
		{"team: only the teams the rule names", RateLimitRule{When: Condition{Subjects: []string{"team:ops"}}, AppliesPer: []string{"team"}}, alice, []string{"team:ops"}},
		{"team: matched as user, all teams", RateLimitRule{When: Condition{Subjects: []string{"user:alice", "team:fin"}}, AppliesPer: []string{"team"}}, alice, []string{"team:ml", "team:ops"}},
		{"team of virtual account", RateLimitRule{AppliesPer: []string{"team"}}, va, []string{"team:fin"}},
		{"no team", RateLimitRule{AppliesPer: []string{"team"}}, bob, []string{"team:"}},
		{"escaped", RateLimitRule{AppliesPer: []string{"metadata.p", "user"}}, Request{Metadata: map[string]string{"p": `a|user:b\`}}, []string{`metadata.p:a\|user:b\\|user:`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, matched(t, tt.rule, tt.req)); d != "" {
				t.Errorf("buckets (-want +got):\n%s", d)
			}
		})
	}
}

func TestMatchChecks(t *testing.T) {
	r := Compile([]RateLimitRule{
		{Name: "team-tpm", When: Condition{Subjects: []string{"team:ml"}}, Limits: []Limit{{"tokens_per_minute", 5000}, {"requests_per_day", 100}}, AppliesPer: []string{"user"}},
		{Name: "not-matching", When: Condition{Subjects: []string{"user:bob"}}, Limits: []Limit{{"requests_per_minute", 1}}},
		{Name: "audit", Limits: []Limit{{"requests_per_hour", 7}}, Audit: true},
	}, []BudgetRule{
		{Name: "team-month", When: Condition{Subjects: []string{"team:ml"}}, Unit: "cost_per_month", LimitTo: 500, AppliesPer: []string{"team"}},
		{Name: "tokens", Unit: "tokens_per_day", LimitTo: 1e6, Audit: true, Thresholds: []int{50}},
	})
	if p := r.Problems(); p != nil {
		t.Fatalf("problems: %v", p)
	}
	lim, bud := r.Match(&alice, nil, nil)
	wantLim := []limiter.Check{
		{Rule: "team-tpm", Unit: limiter.TokensPerMinute, Bucket: "user:alice", Limit: 5000},
		{Rule: "team-tpm", Unit: limiter.RequestsPerDay, Bucket: "user:alice", Limit: 100},
		{Rule: "audit", Unit: limiter.RequestsPerHour, Limit: 7, Audit: true},
	}
	wantBud := []budget.Check{
		{Rule: "team-month", Unit: budget.CostPerMonth, Bucket: "team:ml", Limit: 500 * budget.NanoPerUSD, Thresholds: []int{75, 90, 100}},
		{Rule: "tokens", Unit: budget.TokensPerDay, Limit: 1e6, Audit: true, Thresholds: []int{50}},
	}
	if d := cmp.Diff(wantLim, lim); d != "" {
		t.Errorf("limits (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantBud, bud); d != "" {
		t.Errorf("budgets (-want +got):\n%s", d)
	}
	// Appends to what the caller gives.
	lim, _ = r.Match(&bob, lim[:1], nil)
	if len(lim) != 3 || lim[0].Rule != "team-tpm" || lim[1].Rule != "not-matching" || lim[2].Rule != "audit" {
		t.Errorf("appended: %+v", lim)
	}
	var nilRules *Rules
	if l, b := nilRules.Match(&alice, nil, nil); l != nil || b != nil {
		t.Error("nil Rules matched")
	}
}

func TestCompileProblems(t *testing.T) {
	r := Compile([]RateLimitRule{
		{Name: "unit", Limits: []Limit{{"requests_per_week", 1}}},
		{Name: "zero", Limits: []Limit{{"requests_per_minute", 0}}},
		{Name: "none"},
		{Name: "subject", When: Condition{Subjects: []string{"group:x"}}, Limits: []Limit{{"requests_per_minute", 1}}},
		{Name: "three", AppliesPer: []string{"user", "team", "model"}, Limits: []Limit{{"requests_per_minute", 1}}},
		{Name: "twice", AppliesPer: []string{"user", "user"}, Limits: []Limit{{"requests_per_minute", 1}}},
		{Name: "ok", Limits: []Limit{{"requests_per_minute", 1}}},
	}, []BudgetRule{
		{Name: "fraction", Unit: "tokens_per_day", LimitTo: 1.5},
		{Name: "tiny", Unit: "cost_per_day", LimitTo: 1e-12},
		{Name: "ok", Unit: "cost_per_day", LimitTo: 0.5},
	})
	if l, b := r.Len(); l != 1 || b != 1 {
		t.Errorf("compiled %d limits and %d budgets, want 1 and 1", l, b)
	}
	for i, want := range []string{"rate limit unit", "rate limit zero", "rate limit none", "rate limit subject", "rate limit three", "rate limit twice", "budget fraction", "budget tiny"} {
		if p := r.Problems(); i >= len(p) || !strings.HasPrefix(p[i], want+":") {
			t.Errorf("problem %d: %v, want %s", i, p, want)
		}
	}
}

func TestParseMetadata(t *testing.T) {
	long := strings.Repeat("é", MaxMetadataLen)
	tests := []struct {
		name    string
		headers map[string][]string
		want    map[string]string
		bad     string // the header the error names
	}{
		{"none", nil, nil, ""},
		{"llmgw", map[string][]string{"X-Llmgw-Metadata": {`{"project":"x","env":"prod"}`}}, map[string]string{"project": "x", "env": "prod"}, ""},
		{"tfy", map[string][]string{"X-Tfy-Metadata": {`{"project":"y"}`}}, map[string]string{"project": "y"}, ""},
		{"llmgw wins", map[string][]string{"X-Llmgw-Metadata": {`{"a":"1"}`}, "X-Tfy-Metadata": {`{"b":"2"}`}}, map[string]string{"a": "1"}, ""},
		{"128 characters", map[string][]string{"X-Llmgw-Metadata": {`{"k":"` + long + `"}`}}, map[string]string{"k": long}, ""},
		{"129 characters", map[string][]string{"X-Llmgw-Metadata": {`{"k":"` + long + `x"}`}}, nil, HeaderMetadata},
		{"not JSON", map[string][]string{"X-Tfy-Metadata": {`project=x`}}, nil, HeaderTFYMetadata},
		{"not an object", map[string][]string{"X-Llmgw-Metadata": {`["x"]`}}, nil, HeaderMetadata},
		{"null", map[string][]string{"X-Llmgw-Metadata": {`null`}}, nil, HeaderMetadata},
		{"number value", map[string][]string{"X-Llmgw-Metadata": {`{"n":1}`}}, nil, HeaderMetadata},
		{"empty key", map[string][]string{"X-Llmgw-Metadata": {`{"":"x"}`}}, nil, HeaderMetadata},
		{"twice", map[string][]string{"X-Llmgw-Metadata": {`{}`, `{}`}}, nil, HeaderMetadata},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMetadata(http.Header(tt.headers))
			if tt.bad != "" {
				var ae *apierr.Error
				if !errors.As(err, &ae) || ae.Kind != apierr.KindInvalidRequest || ae.Param != tt.bad || !strings.Contains(ae.Message, tt.bad) {
					t.Fatalf("err = %v, want an invalid request naming %s", err, tt.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("metadata (-want +got):\n%s", d)
			}
		})
	}
}

func TestInternBound(t *testing.T) {
	r := Compile([]RateLimitRule{{Name: "p", Limits: []Limit{{"requests_per_minute", 1}}, AppliesPer: []string{"metadata.p"}}}, nil)
	req := Request{Metadata: map[string]string{}}
	for i := range internMax + 100 {
		req.Metadata["p"] = strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("y", i/182)
		lim, _ := r.Match(&req, nil, nil)
		if want := "metadata.p:" + req.Metadata["p"]; lim[0].Bucket != want {
			t.Fatalf("bucket %q, want %q", lim[0].Bucket, want)
		}
	}
	n := 0
	for i := range r.keys.shards {
		n += len(r.keys.shards[i].m)
	}
	if n > internMax {
		t.Errorf("%d interned keys, more than %d", n, internMax)
	}
}

// BenchmarkMatch: three rate limits and two budgets matching a user's request, with buckets
// by user, team, model and metadata, among ten rules.
func BenchmarkMatch(b *testing.B) {
	r := Compile([]RateLimitRule{
		{Name: "global", Limits: []Limit{{"requests_per_minute", 1000}}},
		{Name: "team-tpm", When: Condition{Subjects: []string{"team:ml"}}, Limits: []Limit{{"tokens_per_minute", 5000}}, AppliesPer: []string{"user"}},
		{Name: "user-model-rpd", When: Condition{Models: []string{"acct/*"}}, Limits: []Limit{{"requests_per_day", 1000}}, AppliesPer: []string{"user", "model"}},
		{Name: "bob", When: Condition{Subjects: []string{"user:bob"}}, Limits: []Limit{{"requests_per_minute", 1}}},
		{Name: "staging", When: Condition{Metadata: map[string]string{"env": "staging"}}, Limits: []Limit{{"requests_per_minute", 1}}},
		{Name: "other", When: Condition{Models: []string{"other/*"}}, Limits: []Limit{{"requests_per_minute", 1}}},
	}, []BudgetRule{
		{Name: "team-month", When: Condition{Subjects: []string{"team:ml"}}, Unit: "cost_per_month", LimitTo: 500, AppliesPer: []string{"team"}},
		{Name: "project-day", Unit: "cost_per_day", LimitTo: 50, AppliesPer: []string{"metadata.project"}},
		{Name: "va", When: Condition{Subjects: []string{"virtualaccount:billing"}}, Unit: "cost_per_day", LimitTo: 5},
		{Name: "vm", When: Condition{Models: []string{"smart"}}, Unit: "cost_per_day", LimitTo: 5},
	})
	req := Request{User: "alice", Teams: []string{"ml"}, Model: "acct/gpt", Metadata: map[string]string{"project": "x", "env": "prod"}}
	lim := make([]limiter.Check, 0, 8)
	bud := make([]budget.Check, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		l, bu := r.Match(&req, lim[:0], bud[:0])
		if len(l) != 3 || len(bu) != 2 {
			b.Fatalf("matched %d limits and %d budgets", len(l), len(bu))
		}
	}
}

func TestMatcher(t *testing.T) {
	m, err := NewMatcher(Condition{Subjects: []string{"team:ml", "virtual-account:billing"}, Metadata: map[string]string{"env": "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		req  Request
		want bool
	}{
		{alice, true},
		{Request{User: "alice", Teams: []string{"ml"}}, false}, // no metadata
		{bob, false},
		{Request{VirtualAccount: "billing", Metadata: map[string]string{"env": "prod"}}, true},
	} {
		if got := m.Match(&tc.req); got != tc.want {
			t.Errorf("Match(%+v) = %v, want %v", tc.req, got, tc.want)
		}
	}
	if _, err := NewMatcher(Condition{Subjects: []string{"group:x"}}); err == nil {
		t.Error("a subject of no kind compiled")
	}
}
