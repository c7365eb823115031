package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The governed target: llmgw with a user's API key, an authz rule for that
// user, and three rate limits and two budgets that all match the user's
// requests, with limits no run can reach. It measures what the guards cost on
// every request: authenticating a user key, authorizing it, reserving against
// five rules before the call and settling all five after it.
const (
	// governedAccount is a provider account of kind openai whose base_url is
	// the fake upstream: the catalog prices OpenAI's models (and the
	// OpenAI-compatible adapter is the one self-hosted models use), whereas a
	// self-hosted model has no catalog price and the config file cannot set
	// one. A cost budget needs a priced model, or it refuses the request.
	governedAccount = "bench-priced"
	// governedModel is what clients send; the upstream receives catalogModel.
	governedModel = governedAccount + "/echo"
	catalogModel  = "gpt-4o-mini"
	// governedUser owns the key the governed target sends. The config file
	// cannot create users or keys, so the run creates them through the Admin
	// REST API once llmgw is ready, as an operator would.
	governedUser = "bench-user"
	// upstreamKeyEnv names the variable the account's key is read from; the
	// fake upstream ignores it, but an OpenAI account without a key answers 503.
	upstreamKeyEnv = "LLMGW_BENCH_UPSTREAM_KEY"
)

// governedRules are the names of the rules in governedConfig, each of which
// must count the measured attack's requests.
var governedRules = []string{
	"bench-user-rpm", "bench-model-tpm", "bench-all-rpd",
	"bench-user-daily-cost", "bench-model-monthly-tokens",
}

// governedConfig is the governed target's config file, in the documents
// TrueFoundry users write: the priced model, an authz rule for governedUser,
// a gateway-rate-limiting-config with three rules and a gateway-budget-config
// with two. The rules match in different ways (by subject, by model, by an
// empty `when`; one counter, per user, per user and model) so that the
// matching code is exercised the way a deployment would. The limits are far
// above what any run sends: a refusal would make the run measure an error path.
func governedConfig(upstreamURL string) string {
	return `- name: ` + governedAccount + `
  type: provider-account/openai
  base_url: "` + upstreamURL + `/v1"
  auth_data: {type: api-key, api_key: "env://` + upstreamKeyEnv + `"}
  integrations:
    - {name: echo, type: integration/model/openai, model_id: ` + catalogModel + `, model_types: [chat]}
- authz_rules:
    - {name: bench-user-echo, models: [` + governedModel + `], users: [` + governedUser + `]}
---
name: bench-rate-limits
type: gateway-rate-limiting-config
rules:
  - id: bench-user-rpm
    when: {subjects: ["user:` + governedUser + `"]}
    limit_to: 10000000
    unit: requests_per_minute
  - id: bench-model-tpm
    when: {models: ["` + governedModel + `"]}
    limit_to: 100000000000
    unit: tokens_per_minute
    rate_limit_applies_per: ["user"]
  - id: bench-all-rpd
    when: {}
    limit_to: 1000000000
    unit: requests_per_day
---
name: bench-budgets
type: gateway-budget-config
rules:
  - id: bench-user-daily-cost
    when: {subjects: ["user:` + governedUser + `"]}
    limit_to: 1000000
    unit: cost_per_day
  - id: bench-model-monthly-tokens
    when: {models: ["` + governedAccount + `/*"]}
    limit_to: 1000000000000
    unit: tokens_per_month
    budget_applies_per: ["user", "model"]
`
}

// startGoverned starts llmgw with governedConfig and creates the user and its
// key, which the target sends. Its check fails a measurement if any of the
// five rules did not count the measured attack.
func (b *bench) startGoverned(ctx context.Context, upURL, gateway string) (*target, error) {
	p, base, err := b.startGateway(ctx, targetGoverned, gateway, governedConfig(upURL), b.cfg.targetCPU, []string{upstreamKeyEnv + "=unused"})
	if err != nil {
		return nil, err
	}
	admin := &adminClient{base: base, token: b.cfg.token, client: &http.Client{Timeout: 10 * time.Second}}
	key, err := admin.createUserKey(ctx, governedUser)
	if err != nil {
		p.stop()
		return nil, err
	}
	return ruleTarget(targetGoverned, p, base, governedModel, key, admin, p.stop), nil
}

// ruleTarget is a target that sends model with a user's key to base, and whose check reads
// governedRules' counts through admin.
func ruleTarget(name string, p *process, base, model, key string, admin *adminClient, stop func()) *target {
	return &target{
		name:  name,
		p:     p,
		req:   request{base + "/v1/chat/completions", model, key},
		check: &ruleCheck{admin: admin, rules: governedRules},
		stop:  stop,
	}
}

// adminClient calls llmgw's Admin REST API with the admin token.
type adminClient struct {
	base, token string
	client      *http.Client
}

// do sends in (if not nil) as JSON and decodes a 200 answer into out.
func (a *adminClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// createUserKey creates user and an API key it owns, and returns the key's
// secret.
func (a *adminClient) createUserKey(ctx context.Context, user string) (string, error) {
	var created struct{}
	if err := a.do(ctx, http.MethodPost, "/api/v1/users", map[string]string{"name": user}, &created); err != nil {
		return "", fmt.Errorf("create user: %w", err)
	}
	var key struct {
		Secret string `json:"secret"`
	}
	if err := a.do(ctx, http.MethodPost, "/api/v1/api-keys", map[string]string{"name": "loadbench", "user": user}, &key); err != nil {
		return "", fmt.Errorf("create API key: %w", err)
	}
	if key.Secret == "" {
		return "", errors.New("create API key: the answer has no secret")
	}
	return key.Secret, nil
}

// limitUsage returns, for each rule in GET /api/v1/limit-status, its usage
// summed over its buckets and units. A sum of units is meaningless as a
// figure, but it grows exactly when some bucket of the rule counted a request.
func (a *adminClient) limitUsage(ctx context.Context) (map[string]float64, error) {
	var status struct {
		Statuses []struct {
			Rule string  `json:"rule"`
			Used float64 `json:"used"`
		} `json:"statuses"`
	}
	if err := a.do(ctx, http.MethodGet, "/api/v1/limit-status", nil, &status); err != nil {
		return nil, fmt.Errorf("limit status: %w", err)
	}
	used := make(map[string]float64, len(status.Statuses))
	for _, s := range status.Statuses {
		used[s.Rule] += s.Used
	}
	return used, nil
}

// ruleCheck is the governed target's countCheck: every rule's usage must
// have grown during the measured attack, or the guards were not on the
// path the figures measure.
type ruleCheck struct {
	admin         *adminClient
	rules         []string
	before, after map[string]float64
}

func (c *ruleCheck) baseline(ctx context.Context) error {
	var err error
	c.before, err = c.admin.limitUsage(ctx)
	return err
}

func (c *ruleCheck) verify(ctx context.Context) error {
	var err error
	if c.after, err = c.admin.limitUsage(ctx); err != nil {
		return err
	}
	var idle []string
	for _, r := range c.rules {
		if !(c.after[r] > c.before[r]) {
			idle = append(idle, fmt.Sprintf("%s (used %g before, %g after)", r, c.before[r], c.after[r]))
		}
	}
	if len(idle) > 0 {
		return fmt.Errorf("rules that did not count the measured attack, so the figures do not measure them: %s",
			strings.Join(idle, ", "))
	}
	return nil
}

// describe lists what each rule counted during the attack, for the log.
func (c *ruleCheck) describe() string {
	parts := make([]string, 0, len(c.rules))
	for _, r := range c.rules {
		parts = append(parts, fmt.Sprintf("%s +%.6g", r, c.after[r]-c.before[r]))
	}
	return strings.Join(parts, ", ")
}
