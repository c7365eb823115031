// Package snapshot is the data plane's view of the configuration: an immutable value compiled
// from a Config, holding API keys by hash, models by fully qualified name with their adapters,
// and authorization rules. A request loads the current snapshot once and uses only that value,
// so the request path never queries a database.
//
// Snapshots are never modified after Compile; Holder swaps them atomically.
package snapshot

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/catalog"
	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/redact"
)

// Model types.
const (
	TypeChat      = "chat"
	TypeEmbedding = "embedding"
	TypeRerank    = "rerank"
)

// Principal is who a key or an OIDC token authenticates. Safe to share: never modified after
// it is made.
type Principal struct {
	// KeyID is the API key's id; empty for the admin token and for tokens (Tokens).
	KeyID string
	// User or VirtualAccount names the owner; both empty for the admin token.
	User           string
	VirtualAccount string
	Teams          []string
	// Admin principals hold RoleAdmin: they may do everything in the Admin API and use every
	// model. The admin token is one.
	Admin bool
	// Roles are the user's Admin API roles (RoleViewer, RoleTeamAdmin, RoleAdmin); see HasRole.
	Roles []string
	// ExpireTime is the key's expiry; zero means never.
	ExpireTime time.Time
	// adminOnly and inferenceOnly narrow a key to one API (its scopes); see CanInference and
	// CanAdmin.
	adminOnly, inferenceOnly bool
}

// Name is a printable name of the principal for logs: "user:alice", "va:billing" or "admin".
func (p *Principal) Name() string {
	switch {
	case p.User != "":
		return "user:" + p.User
	case p.VirtualAccount != "":
		return "va:" + p.VirtualAccount
	}
	return "admin"
}

// Endpoint is a model the snapshot can call.
type Endpoint struct {
	// FQN is "<account>/<name>", the name clients send.
	FQN     string
	Account string
	Name    string
	// Provider is the account's provider kind ("openai", "anthropic", "mock", ...), as the
	// provider registry names it; empty for a virtual model.
	Provider string
	Types    []string
	// UpstreamModel is the provider's name for the model (provider.Config.Model), such as
	// "gpt-4o-mini": what the pipeline picks a tokenizer by when it counts usage itself.
	UpstreamModel string
	// Virtual is set for a virtual model's entry in Models: it has no adapter, and requests
	// naming it are routed to its targets (Route).
	Virtual bool
	// Adapter is nil when the model's config is invalid (BuildErr says why) and for a virtual
	// model.
	Adapter  provider.Adapter
	BuildErr error

	plan     *Plan          // the model's own plan: itself, shared by every request
	missing  string         // why a secret the model needs is missing, when it is (see Config.MissingSecrets)
	override *catalog.Price // the Admin API's price, when set
	entry    *catalog.Entry // the catalog's entry, when the model is listed
}

// MaxOutput is the most tokens the model answers with, from the catalog; 0 when unknown.
func (m *Endpoint) MaxOutput() int64 {
	if m.entry != nil {
		return m.entry.MaxOutput
	}
	return 0
}

// PriceAt returns the model's price at t: the override, else the catalog's price then in
// effect. ok is false for an unpriced model, whose usage is recorded as unpriced, never free.
func (m *Endpoint) PriceAt(t time.Time) (catalog.Price, bool) {
	if m.override != nil {
		return *m.override, true
	}
	if m.entry != nil {
		return m.entry.PriceAt(t)
	}
	return catalog.Price{}, false
}

// HasType reports whether the model is of type t.
func (m *Endpoint) HasType(t string) bool { return slices.Contains(m.Types, t) }

type rule struct {
	models []string
	users  map[string]bool
	teams  map[string]bool
	vas    map[string]bool
}

func (r *rule) matchesModel(fqn, account string) bool {
	for _, m := range r.models {
		if m == "*" || m == fqn || (strings.HasSuffix(m, "/*") && m[:len(m)-2] == account) {
			return true
		}
	}
	return false
}

func (r *rule) matchesPrincipal(p *Principal) bool {
	if p.User != "" {
		if r.users["*"] || r.users[p.User] {
			return true
		}
		for _, t := range p.Teams {
			if r.teams[t] {
				return true
			}
		}
		return false
	}
	if p.VirtualAccount != "" {
		return r.vas["*"] || r.vas[p.VirtualAccount]
	}
	return false
}

// Snapshot is one compiled configuration. It is immutable and safe for concurrent use.
type Snapshot struct {
	keys      map[string]keyEntry  // by KeyHash, of current and rotated-out secrets
	models    map[string]*Endpoint // by FQN
	modelList []*Endpoint          // sorted by FQN, virtual models included
	// virtuals are the virtual models' routes, and virtualList their entries in modelList, by FQN.
	virtuals    map[string]*virtual
	virtualList map[string]*Endpoint
	// routing are the load-balancing rules by the model they name, in the config's order.
	routing  map[string][]routeRule
	bodyLog  []*governance.Matcher // the body logging rules (BodyLogRule)
	rules    []rule
	config   *Config
	redactor *redact.Redactor
	gov      *governance.Rules
	// unavailable maps an account or model (by FQN) whose secret is missing to the problem.
	unavailable map[string]string
	users       map[string]*User // by name
	// tokens verifies bearer tokens that are not API keys (Holder.Tokens); nil: none.
	tokens Tokens
}

// Tokens verifies bearer tokens that are not API keys, such as the JWTs of an OIDC identity
// provider (gateway/oidc). It must not do I/O: it runs on the request path.
type Tokens interface {
	// Authenticate returns the principal token authenticates as under s at now, or an
	// unauthenticated *apierr.Error.
	Authenticate(s *Snapshot, token string, now time.Time) (*Principal, error)
}

// User returns the configured user name, or nil.
func (s *Snapshot) User(name string) *User { return s.users[name] }

// looksLikeJWT reports whether secret has the shape of a JWS compact serialization with a
// JSON header: three dot-separated parts starting with "eyJ" ('{"' in base64url).
func looksLikeJWT(secret string) bool {
	return strings.HasPrefix(secret, "eyJ") && strings.Count(secret, ".") == 2
}

// keyEntry is what a secret's hash authenticates as. until is zero for a current secret and
// the end of the grace period for a secret that a rotation replaced.
type keyEntry struct {
	p     *Principal
	until time.Time
}

// Builder builds an adapter for a model's provider config.
type Builder interface {
	Build(cfg provider.Config) (provider.Adapter, error)
}

func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Compile builds a snapshot. A model whose adapter cannot be built stays listed and answers
// with an unavailable error naming the problem to the logs; keys of disabled owners are left
// out; prices come from each model's override, else from cat (which may be nil). cfg must not
// be modified afterwards.
func Compile(cfg *Config, b Builder, cat *catalog.Catalog, logger *slog.Logger) *Snapshot {
	s := &Snapshot{
		keys:   make(map[string]keyEntry, len(cfg.Keys)+1),
		models: make(map[string]*Endpoint, len(cfg.Models)),
		config: cfg,
		// First: the build errors logged below may quote a credential.
		redactor: redact.New(secrets(cfg)),
		gov:      governance.Compile(cfg.RateLimits, cfg.Budgets),
	}
	users := make(map[string]*User, len(cfg.Users))
	for i := range cfg.Users {
		users[cfg.Users[i].Name] = &cfg.Users[i]
	}
	s.users = users
	vas := make(map[string]*VirtualAccount, len(cfg.VirtualAccounts))
	for i := range cfg.VirtualAccounts {
		vas[cfg.VirtualAccounts[i].Name] = &cfg.VirtualAccounts[i]
	}
	if cfg.AdminTokenHash != "" {
		s.keys[cfg.AdminTokenHash] = keyEntry{p: &Principal{Admin: true}}
	}
	for _, k := range cfg.Keys {
		if k.Revoked {
			continue
		}
		p := &Principal{KeyID: k.ID, ExpireTime: k.ExpireTime}
		switch {
		case k.User != "":
			u, ok := users[k.User]
			if !ok || u.Disabled {
				continue
			}
			p.User, p.Teams, p.Roles = u.Name, u.Teams, u.Roles
			p.Admin = u.Admin || slices.Contains(u.Roles, RoleAdmin)
		case k.VirtualAccount != "":
			va, ok := vas[k.VirtualAccount]
			if !ok || va.Disabled {
				continue
			}
			p.VirtualAccount = va.Name
			if va.Team != "" {
				p.Teams = []string{va.Team}
			}
		default:
			continue
		}
		p.setScopes(k.Scopes)
		s.keys[k.Hash] = keyEntry{p: p}
		if k.PreviousHash != "" && k.PreviousHash != k.Hash && !k.PreviousExpireTime.IsZero() {
			s.keys[k.PreviousHash] = keyEntry{p: p, until: k.PreviousExpireTime}
		}
	}
	var unpriced []string
	accounts := make(map[string]*Account, len(cfg.Accounts))
	for i := range cfg.Accounts {
		accounts[cfg.Accounts[i].Name] = &cfg.Accounts[i]
	}
	missing := make(map[string]string, len(cfg.MissingSecrets)) // by account, or model FQN
	for _, ms := range cfg.MissingSecrets {
		if ms.Model == "" {
			missing[ms.Account] = ms.Problem
		} else {
			missing[ms.Account+"/"+ms.Model] = ms.Problem
		}
	}
	// A missing account secret counts only while the account has no stored key.
	for _, a := range cfg.Accounts {
		if p, ok := missing[a.Name]; ok && a.APIKey == "" {
			s.unavailableAdd(a.Name, p)
		}
	}
	for _, m := range cfg.Models {
		acct, ok := accounts[m.Account]
		if !ok {
			continue
		}
		model := &Endpoint{FQN: m.Account + "/" + m.Name, Account: m.Account, Name: m.Name, Provider: acct.Provider, Types: m.Types}
		if len(model.Types) == 0 {
			model.Types = []string{TypeChat}
		}
		pc := ProviderConfig(acct, &m)
		model.UpstreamModel = pc.Model
		if p := m.Pricing; p != nil {
			model.override = &catalog.Price{Input: p.Input, Output: p.Output, CachedInput: p.CachedInput, CacheWrite: p.CacheWrite, CacheWrite1h: p.CacheWrite1h}
		} else if cat != nil {
			model.entry, _ = cat.Lookup(acct.Provider, pc.Model)
		}
		if model.override == nil && model.entry == nil {
			unpriced = append(unpriced, model.FQN)
		}
		switch p, own := missing[model.FQN]; {
		case own && m.APIKey == "":
			model.missing = fmt.Sprintf("the model %s is unavailable: its %s", model.FQN, p)
			s.unavailableAdd(model.FQN, p)
		case m.APIKey == "" && s.unavailable[m.Account] != "":
			model.missing = fmt.Sprintf("the provider account %s is unavailable: its %s", m.Account, s.unavailable[m.Account])
		}
		if model.missing != "" {
			// Logged once at start by whoever resolved the secrets, not on every compile.
			model.BuildErr = errors.New(model.missing)
		} else {
			model.Adapter, model.BuildErr = b.Build(pc)
			if model.BuildErr != nil {
				logger.Warn("model is misconfigured and will answer 503", "model", model.FQN, "error", s.redactor.Redact(model.BuildErr.Error()))
			}
		}
		model.plan = &Plan{Model: model.FQN, Targets: []Target{{Endpoint: model}}}
		s.models[model.FQN] = model
		s.modelList = append(s.modelList, model)
	}
	for i := range cfg.VirtualModels {
		vm := &cfg.VirtualModels[i]
		fqn := vm.Account + "/" + vm.Name
		if _, dup := s.models[fqn]; dup || s.virtuals[fqn] != nil {
			logger.Warn("virtual model left out: a model of that name exists", "model", fqn)
			continue
		}
		v, missing := s.compileVirtual(vm)
		if len(missing) > 0 {
			logger.Warn("virtual model targets left out: no such model", "model", fqn, "targets", missing)
		}
		if s.virtuals == nil {
			s.virtuals, s.virtualList = map[string]*virtual{}, map[string]*Endpoint{}
		}
		e := &Endpoint{FQN: fqn, Account: vm.Account, Name: vm.Name, Types: vm.Types, Virtual: true}
		if len(e.Types) == 0 {
			e.Types = []string{TypeChat}
		}
		s.virtuals[fqn], s.virtualList[fqn] = v, e
		s.modelList = append(s.modelList, e)
	}
	sort.Slice(s.modelList, func(i, j int) bool { return s.modelList[i].FQN < s.modelList[j].FQN })
	s.compileRouting(cfg.RoutingRules, logger)
	s.compileBodyLogging(cfg.BodyLogging, logger)
	if problems := s.gov.Problems(); len(problems) > 0 {
		logger.Warn("rate limits and budgets left out: they are not enforced until fixed", "problems", problems)
	}
	if len(unpriced) > 0 {
		logger.Warn("models without a price: their usage is recorded as unpriced until a pricing override is set", "models", unpriced)
	}
	for _, r := range cfg.Rules {
		s.rules = append(s.rules, rule{models: r.Models, users: set(r.Users), teams: set(r.Teams), vas: set(r.VirtualAccounts)})
	}
	return s
}

// secrets are the secret values of cfg: every provider credential of an account or a model, and
// every budget notification target's secret and Slack webhook URL (the URL is the credential).
// The admin token and API keys are held only as hashes, so they are not among them.
func secrets(cfg *Config) []string {
	var out []string
	for _, b := range cfg.Budgets {
		for _, t := range b.Targets {
			if t.Secret != "" {
				out = append(out, t.Secret)
			}
			if t.Type == "slack-webhook" && t.URL != "" {
				out = append(out, t.URL)
			}
		}
	}
	for _, a := range cfg.Accounts {
		if a.APIKey != "" {
			out = append(out, a.APIKey)
		}
	}
	for _, m := range cfg.Models {
		if m.APIKey != "" {
			out = append(out, m.APIKey)
		}
	}
	return out
}

// Redactor masks the snapshot's secrets (every provider credential it holds) in text; see
// package redact.
func (s *Snapshot) Redactor() *redact.Redactor { return s.redactor }

func (s *Snapshot) unavailableAdd(name, problem string) {
	if s.unavailable == nil {
		s.unavailable = map[string]string{}
	}
	s.unavailable[name] = problem
}

// Unavailable returns the accounts (by name) and models (by FQN) that cannot serve because a
// secret they need is missing, each with the problem ("secret env://OPENAI_API_KEY is not
// set"); nil when there are none. Callers must not modify it.
func (s *Snapshot) Unavailable() map[string]string { return s.unavailable }

// ProviderConfig is the provider config of model m of account a, from which its adapter is
// built: the account's provider, base URL, key and settings, with the model's base URL, key
// and settings (key by key) overriding them, and the model's upstream name (else its name).
func ProviderConfig(a *Account, m *Model) provider.Config {
	pc := provider.Config{Kind: a.Provider, BaseURL: a.BaseURL, APIKey: a.APIKey, Model: m.UpstreamModel}
	if pc.Model == "" {
		pc.Model = m.Name
	}
	if m.BaseURL != "" {
		pc.BaseURL = m.BaseURL
	}
	if m.APIKey != "" {
		pc.APIKey = m.APIKey
	}
	if len(a.Settings)+len(m.Settings) > 0 {
		pc.Settings = make(map[string]string, len(a.Settings)+len(m.Settings))
		maps.Copy(pc.Settings, a.Settings)
		maps.Copy(pc.Settings, m.Settings)
	}
	return pc
}

// Governance returns the snapshot's compiled rate limits and budgets.
func (s *Snapshot) Governance() *governance.Rules { return s.gov }

// Config returns the config the snapshot was compiled from; callers must not modify it.
func (s *Snapshot) Config() *Config { return s.config }

// Authenticate returns the principal of an API key or the admin token at now. A secret that a
// rotation replaced authenticates as its key until the rotation's grace period ends. A secret
// that is no key but has the shape of a JWT goes to the holder's Tokens, when it has one.
func (s *Snapshot) Authenticate(secret string, now time.Time) (*Principal, error) {
	if secret == "" {
		return nil, apierr.New(apierr.KindUnauthenticated, "missing API key: send it as 'Authorization: Bearer <key>'")
	}
	var h [hashLen]byte
	e, ok := s.keys[string(keyHash(&h, secret))] // the conversion in a map index does not allocate
	if !ok {
		if s.tokens != nil && looksLikeJWT(secret) {
			return s.tokens.Authenticate(s, secret, now)
		}
		return nil, apierr.New(apierr.KindUnauthenticated, "invalid API key")
	}
	if !e.until.IsZero() && now.After(e.until) {
		return nil, apierr.New(apierr.KindUnauthenticated, "API key was rotated and its grace period has ended; use the new secret")
	}
	p := e.p
	if !p.ExpireTime.IsZero() && now.After(p.ExpireTime) {
		return nil, apierr.New(apierr.KindUnauthenticated, "API key expired")
	}
	return p, nil
}

// Allowed reports whether p may use model m.
func (s *Snapshot) Allowed(p *Principal, m *Endpoint) bool {
	if p.Admin {
		return true
	}
	for i := range s.rules {
		if s.rules[i].matchesModel(m.FQN, m.Account) && s.rules[i].matchesPrincipal(p) {
			return true
		}
	}
	return false
}

// Model returns the model named fqn, whoever may use it: for pricing what was already
// allowed, never for authorization (see Route and Authorize).
func (s *Snapshot) Model(fqn string) (*Endpoint, bool) {
	m, ok := s.models[fqn]
	return m, ok
}

// VirtualModel returns the entry of the virtual model named fqn, as Models lists it.
func (s *Snapshot) VirtualModel(fqn string) (*Endpoint, bool) {
	m, ok := s.virtualList[fqn]
	return m, ok
}

// Models lists the models p may use, sorted by FQN.
func (s *Snapshot) Models(p *Principal) []*Endpoint {
	out := make([]*Endpoint, 0, len(s.modelList))
	for _, m := range s.modelList {
		if s.Allowed(p, m) {
			out = append(out, m)
		}
	}
	return out
}

// Holder holds the current snapshot. The zero value holds none; it is safe for concurrent use.
type Holder struct {
	// Now is the clock LoadedAt reads (time.Now when nil); set it before the first Store.
	Now func() time.Time
	// Tokens, when set, verifies the bearer tokens that are not API keys (OIDC JWTs) of every
	// snapshot stored; set it before the first Store.
	Tokens Tokens

	p        atomic.Pointer[Snapshot]
	revision atomic.Uint64
	loaded   atomic.Int64 // unix nanoseconds of the last Store
}

// Load returns the current snapshot, or nil before the first Store.
func (h *Holder) Load() *Snapshot { return h.p.Load() }

// Redactor is the current snapshot's Redactor, or nil before the first Store. It is one atomic
// load, cheap enough for every log record (redact.NewHandler).
func (h *Holder) Redactor() *redact.Redactor {
	if s := h.p.Load(); s != nil {
		return s.redactor
	}
	return nil
}

// Store makes s current: its revision is the previous one's plus one, and its load time now.
func (h *Holder) Store(s *Snapshot) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	h.loaded.Store(now().UnixNano())
	h.revision.Add(1)
	s.tokens = h.Tokens // before it is shared: s stays immutable once stored
	h.p.Store(s)
}

// Revision counts the snapshots stored in this process: 0 before the first, then 1, 2, ...
// (a reload that finds the configuration unchanged stores nothing). It is per process, not
// shared by replicas.
func (h *Holder) Revision() uint64 { return h.revision.Load() }

// LoadedAt is when the current snapshot was stored; zero before the first Store.
func (h *Holder) LoadedAt() time.Time {
	n := h.loaded.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
