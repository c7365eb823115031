package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/configfile"
	"github.com/llmgw/llmgw/gateway/catalog"
)

// TestGovernedConfig parses the governed config with llmgw's own parser, so
// a change to the config file's format fails here rather than mid-run.
func TestGovernedConfig(t *testing.T) {
	t.Parallel()
	f, err := configfile.Parse([]byte(governedConfig("http://127.0.0.1:9")), configfile.EnvFileResolver(func(name string) string {
		if name == upstreamKeyEnv {
			return "unused"
		}
		return ""
	}))
	if err != nil {
		t.Fatalf("Parse(governedConfig) error = %v", err)
	}
	if len(f.MissingSecrets) > 0 {
		t.Errorf("missing secrets: %v", f.MissingSecrets)
	}
	if len(f.Accounts) != 1 || len(f.Accounts[0].Models) != 1 {
		t.Fatalf("accounts = %v, want one account with one model", f.Accounts)
	}
	a, m := f.Accounts[0].Account, f.Accounts[0].Models[0]
	if got := a.GetName() + "/" + m.GetName(); got != governedModel {
		t.Errorf("model %s, want %s", got, governedModel)
	}
	if a.GetBaseUrl() != "http://127.0.0.1:9/v1" || m.GetUpstreamModel() != catalogModel {
		t.Errorf("account base_url %q, upstream model %q", a.GetBaseUrl(), m.GetUpstreamModel())
	}
	// The cost budget refuses an unpriced model: the catalog must price it.
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	e, ok := cat.Lookup(a.GetProvider(), catalogModel)
	if !ok {
		t.Fatalf("catalog has no %s/%s", a.GetProvider(), catalogModel)
	}
	if p, ok := e.PriceAt(time.Now()); !ok || p.Input <= 0 || p.Output <= 0 {
		t.Errorf("catalog price of %s/%s = %+v, %v; want a positive price", a.GetProvider(), catalogModel, p, ok)
	}
	if len(f.Rules) != 1 || !slices.Contains(f.Rules[0].GetUsers(), governedUser) || !slices.Contains(f.Rules[0].GetModels(), governedModel) {
		t.Errorf("authz rules = %v, want one allowing %s to use %s", f.Rules, governedUser, governedModel)
	}
	var names []string
	for _, r := range f.RateLimits {
		names = append(names, r.GetName())
	}
	for _, b := range f.Budgets {
		names = append(names, b.GetName())
	}
	if len(f.RateLimits) != 3 || len(f.Budgets) != 2 {
		t.Errorf("%d rate limits and %d budgets, want 3 and 2", len(f.RateLimits), len(f.Budgets))
	}
	if diff := cmp.Diff(governedRules, names); diff != "" {
		t.Errorf("rule names mismatch (-governedRules +config):\n%s", diff)
	}
}

// fakeAdmin is the part of llmgw's Admin REST API the governed target uses.
type fakeAdmin struct {
	mu    sync.Mutex
	calls []string // "METHOD path body"
	used  map[string]float64
}

func (f *fakeAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer admin-token" {
		http.Error(w, `{"code":"unauthenticated"}`, http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+string(body)))
	switch r.Method + " " + r.URL.Path {
	case "POST /api/v1/users":
		_, _ = w.Write([]byte(`{"user":{"name":"bench-user"}}`))
	case "POST /api/v1/api-keys":
		_, _ = w.Write([]byte(`{"apiKey":{"id":"key_1","user":"bench-user"},"secret":"llmgw-secret"}`))
	case "GET /api/v1/limit-status":
		type status struct {
			Rule   string  `json:"rule"`
			Bucket string  `json:"bucket"`
			Used   float64 `json:"used"`
		}
		var out struct {
			Statuses []status `json:"statuses"`
		}
		for rule, used := range f.used {
			// Two buckets per rule, to check that they are summed.
			out.Statuses = append(out.Statuses, status{rule, "a", used / 2}, status{rule, "b", used / 2})
		}
		_ = json.NewEncoder(w).Encode(out)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeAdmin) add(rules map[string]float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for r, n := range rules {
		f.used[r] += n
	}
}

func TestCreateUserKey(t *testing.T) {
	t.Parallel()
	fake := &fakeAdmin{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	a := &adminClient{base: srv.URL, token: "admin-token", client: srv.Client()}
	key, err := a.createUserKey(t.Context(), "bench-user")
	if err != nil {
		t.Fatalf("createUserKey() error = %v", err)
	}
	if key != "llmgw-secret" {
		t.Errorf("key = %q, want the answer's secret", key)
	}
	want := []string{
		`POST /api/v1/users {"name":"bench-user"}`,
		`POST /api/v1/api-keys {"name":"loadbench","user":"bench-user"}`,
	}
	if diff := cmp.Diff(want, fake.calls); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}

	bad := &adminClient{base: srv.URL, token: "wrong", client: srv.Client()}
	if _, err := bad.createUserKey(t.Context(), "bench-user"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("createUserKey() with a bad token: error = %v, want the 401", err)
	}
}

func TestRuleCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		before  map[string]float64 // usage at the baseline (the warm-up's)
		during  map[string]float64 // what the measured attack adds
		wantErr string             // substring; empty for success
	}{
		{
			name:   "every rule counted",
			before: map[string]float64{"r1": 10, "r2": 0.001},
			during: map[string]float64{"r1": 100, "r2": 0.01, "r3": 5},
		},
		{
			name:    "a rule that did not count",
			before:  map[string]float64{"r1": 10, "r2": 3},
			during:  map[string]float64{"r1": 100},
			wantErr: "r2 (used 3 before, 3 after), r3 (used 0 before, 0 after)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeAdmin{used: map[string]float64{}}
			fake.add(tt.before)
			srv := httptest.NewServer(fake)
			defer srv.Close()
			c := &ruleCheck{
				admin: &adminClient{base: srv.URL, token: "admin-token", client: srv.Client()},
				rules: []string{"r1", "r2", "r3"},
			}
			if err := c.baseline(t.Context()); err != nil {
				t.Fatalf("baseline() error = %v", err)
			}
			fake.add(tt.during)
			err := c.verify(t.Context())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("verify() error = %v", err)
				}
				if got, want := c.describe(), "r1 +100, r2 +0.01, r3 +5"; got != want {
					t.Errorf("describe() = %q, want %q", got, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("verify() error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
