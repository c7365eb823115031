package snapshot

import (
	"time"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/provider"
)

// Config is the plain data a snapshot is compiled from: everything the data plane needs, with
// secrets decrypted and API keys as hashes. The store produces it after every write; a
// separate control plane can ship it to data-plane replicas.
type Config struct {
	// Revision is the store's configuration revision this config was read at: it increases
	// with every configuration write. Replicas fed by a control plane report it.
	Revision        int64
	Accounts        []Account
	Models          []Model
	Users           []User
	Teams           []Team
	VirtualAccounts []VirtualAccount
	Keys            []Key
	Rules           []Rule
	// RateLimits and Budgets are the governance rules, sorted by name; notification targets'
	// secrets are decrypted.
	RateLimits []governance.RateLimitRule
	Budgets    []governance.BudgetRule
	// AdminTokenHash is KeyHash of the admin token; it authenticates as an admin on every API.
	AdminTokenHash string
	// MissingSecrets are secret references of the config file that this process could not
	// resolve (an unset environment variable, an unreadable file). Compile makes the models
	// they leave without a key unavailable; a key stored since (Admin API, another replica)
	// takes precedence.
	MissingSecrets []MissingSecret
	// VirtualModels are names that route to real models (issue 9). Today they come only from
	// the config file (configfile), which adds them to every config it is compiled from.
	VirtualModels []VirtualModel
	// RoutingRules are the routing config's load-balancing rules (TrueFoundry's
	// gateway-load-balancing-config), in order: the first rule that matches a request routes
	// it. Like VirtualModels, they come only from the config file.
	RoutingRules []RoutingRule
	// BodyLogging are the rules whose requests have their bodies logged with their usage
	// events, besides those that ask for it by header. Like RoutingRules, they come only
	// from the config file (a gateway-logging-config document).
	BodyLogging []BodyLogRule
	// IdentityProviders are the OIDC identity providers whose JWTs authenticate as users
	// (gateway/oidc verifies them), sorted by name; the Admin API and the config file's
	// identity-provider/oidc documents store them.
	IdentityProviders []IdentityProvider
}

// IdentityProvider is an OIDC identity provider: a JWT bearer token it issued authenticates as
// the user it names (see gateway/oidc for the verification).
type IdentityProvider struct {
	Name string
	// Issuer is the exact iss of its tokens; discovery is at Issuer/.well-known/openid-configuration.
	Issuer string
	// Audiences are the accepted aud values: a token must name at least one.
	Audiences []string
	// UserClaim names the user; empty: the email claim, else sub.
	UserClaim string
	// GroupsClaim lists groups, each a team of the same name added to the user's; empty: none.
	GroupsClaim string
	// CreateUsers: a token naming an unknown user authenticates as a new user with the
	// token's teams (and is stored where a database is at hand); false: such tokens are refused.
	CreateUsers bool
	// ClientID is the public OAuth client the CLI logs in with (llmgw login); empty for a
	// provider only used to verify tokens.
	ClientID string
	// AllowedDomains, when set, admit only tokens whose email claim is at one of these domains.
	AllowedDomains []string
	// JWKSURL, when set, is where the signing keys are read instead of the discovery document's jwks_uri.
	JWKSURL string
}

// RoutingRule is a load-balancing rule: requests naming one of When.Models (exactly; a real or
// a virtual model) from one of When.Subjects with When.Metadata are routed to Targets, as a
// virtual model's are.
type RoutingRule struct {
	// ID names the rule in logs and in the plans it makes (Plan.Rule).
	ID       string
	When     governance.Condition
	Strategy string // RoutingWeight, RoutingPriority or RoutingLatency
	Targets  []VirtualTarget
}

// Routing strategies of a virtual model, by TrueFoundry's names.
const (
	RoutingWeight   = "weight-based-routing"
	RoutingPriority = "priority-based-routing"
	RoutingLatency  = "latency-based-routing"
)

// VirtualModel is a name clients call, "<Account>/<Name>", that routes to real models.
type VirtualModel struct {
	// Account is the virtual model's group (TrueFoundry's provider-account/virtual-model).
	Account string
	Name    string
	// Types are the model types it serves (chat when empty).
	Types []string
	// Strategy is RoutingWeight, RoutingPriority or RoutingLatency.
	Strategy string
	Targets  []VirtualTarget
	// Sticky is its sticky_routing (RoutingWeight only); nil: none.
	Sticky *Sticky
}

// Sticky is a weighted virtual model's sticky_routing: the requests of one session (those
// with the same values of every session identifier) go to the target the session is pinned
// to, for TTL after its last request that a target answered. A request without a value for
// every identifier is routed by weight and pins nothing.
type Sticky struct {
	TTL         time.Duration
	Identifiers []SessionIdentifier
}

// SessionIdentifier is where a session identifier's value is read: a request header, or a
// key of the request's metadata (governance.HeaderMetadata).
type SessionIdentifier struct {
	Source string // SessionHeaders or SessionMetadata
	Key    string
}

// Sources of a session identifier, by TrueFoundry's names.
const (
	SessionHeaders  = "headers"
	SessionMetadata = "metadata"
)

// VirtualTarget is one real model a virtual model routes to.
type VirtualTarget struct {
	// Model is the target's FQN; it must name a real model, not a virtual one.
	Model string
	// Weight is its share in percent (RoutingWeight: the weights sum to 100).
	Weight int
	// Priority orders RoutingPriority targets: lower first.
	Priority int
	Retry    Retry
	// FallbackStatus are the statuses after which the next target is attempted.
	FallbackStatus []int
	// FallbackCandidate: the target may be attempted after another target failed.
	FallbackCandidate bool
	// SLA is the target's sla_cutoff (RoutingPriority); the zero value has none.
	SLA SLA
	// Params are the request parameters set on every request sent to this target (its
	// override_params), each checked with chat.CheckParam; nil: none.
	Params []chat.Param
	// Headers changes the headers of the upstream requests sent to this target (its
	// headers_override), each name checked with provider.CheckOverrideHeader; nil: none.
	Headers *provider.HeaderOverride
}

// SLA is a priority target's sla_cutoff: a target whose average time per output token or time
// to first token over the last 3 minutes exceeds its cutoff is skipped while another is
// healthy. A zero field sets no cutoff.
type SLA struct {
	TPOT time.Duration // time_per_output_token_ms
	TTFT time.Duration // time_to_first_token_ms
}

// Set reports whether the SLA has a cutoff.
func (s SLA) Set() bool { return s.TPOT > 0 || s.TTFT > 0 }

// Retry is how a target is retried: up to Attempts tries in all (1: no retry), Delay apart,
// after an answer with one of the statuses OnStatus.
type Retry struct {
	Attempts int
	Delay    time.Duration
	OnStatus []int
}

// MissingSecret is a secret reference that could not be resolved.
type MissingSecret struct {
	Account string
	// Model is empty for the account's own secret, else the model's name in the account.
	Model string
	// Problem names the reference and never a value: "secret env://OPENAI_API_KEY is not set".
	Problem string
}

// Account is a provider account.
type Account struct {
	Name     string
	Provider string
	BaseURL  string
	APIKey   string
	Settings map[string]string
}

// Model is a model of an account. Empty BaseURL and APIKey inherit the account's.
type Model struct {
	Account       string
	Name          string
	UpstreamModel string
	Types         []string
	BaseURL       string
	APIKey        string
	Settings      map[string]string // override the account's, key by key
	Pricing       *Pricing          // overrides the catalog; nil uses it
}

// Pricing is a price override in US dollars per million tokens; see catalog.Price for what
// each price applies to and what a zero one means.
type Pricing struct {
	Input        float64
	Output       float64
	CachedInput  float64
	CacheWrite   float64
	CacheWrite1h float64
}

// User is a person.
type User struct {
	Name     string
	Teams    []string
	Disabled bool
	// Admin is the RoleAdmin role; it is kept for configs written before Roles existed and
	// counts as that role whether or not Roles holds it.
	Admin bool
	// Roles are the user's Admin API roles: RoleAdmin, RoleViewer, RoleTeamAdmin.
	Roles []string
}

// Team is a group of users.
type Team struct {
	Name string
}

// VirtualAccount is an application identity.
type VirtualAccount struct {
	Name     string
	Team     string
	Disabled bool
}

// Key is an API key. Exactly one of User and VirtualAccount is set.
type Key struct {
	ID             string
	Hash           string // KeyHash of the secret
	User           string
	VirtualAccount string
	ExpireTime     time.Time // zero means never
	Revoked        bool
	// PreviousHash is KeyHash of the secret the last rotation replaced; it authenticates as
	// this key until PreviousExpireTime (inclusive). Empty when there is none.
	PreviousHash       string
	PreviousExpireTime time.Time
	// Scopes are the APIs the key may call (ScopeInference, ScopeAdmin); empty means both.
	Scopes []string
}

// Rule is an authorization rule; see the Admin API's AuthzRule for the matching rules.
type Rule struct {
	Name            string
	Models          []string
	Users           []string
	Teams           []string
	VirtualAccounts []string
}
