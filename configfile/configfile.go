// Package configfile reads llmgw's declarative config file and applies it through the Admin
// store. The file follows the gateway YAML that TrueFoundry users already write: a list of
// documents with `name` and `type`, where a provider account is
// `type: provider-account/<provider>` with its models as `integrations`, plus `authz_rules`.
// TrueFoundry's rate limit and budget documents (`type: gateway-rate-limiting-config`,
// `type: gateway-budget-config`) are read unchanged and become native rate limits and budgets;
// `rate_limits` and `budgets` hold the same resources in llmgw's own shape (the Admin API's).
// Virtual models (`type: provider-account/virtual-model`) and the routing config
// (`type: gateway-load-balancing-config`) are read as TrueFoundry documents them and are not
// stored: see File. OIDC identity providers are `type: identity-provider/oidc`.
// Secrets are references (env://NAME or file://path, resolved here; or a secret manager's,
// such as vault://secret/llmgw#openai, which the caller reads at run time: see
// File.ManagedSecrets), never inline values.
//
// Applying is additive and idempotent: resources in the file are created or brought in line
// with it; resources not in the file are left alone; applying the same file twice changes
// nothing.
package configfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/llmgw/llmgw/gateway/snapshot"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/secretref"
)

// File is a parsed config file.
type File struct {
	Accounts []Account
	Rules    []*adminv1.AuthzRule
	// RateLimits and Budgets come from TrueFoundry's gateway-rate-limiting-config and
	// gateway-budget-config documents (a rule's id is the name) and from rate_limits and
	// budgets in llmgw's own shape. Subjects and applies_per are normalized, modes and alert
	// thresholds set to their defaults when absent, notification target secrets resolved.
	RateLimits []*adminv1.RateLimit
	Budgets    []*adminv1.Budget
	// MissingSecrets are the secret references the resolver could not resolve (an
	// *UnresolvedError: an unset variable, an unreadable file). Their accounts and models are
	// parsed with an empty key; see snapshot.Config.MissingSecrets for what serves then.
	MissingSecrets []snapshot.MissingSecret
	// ManagedSecrets are the provider keys given as secret-manager references (secretref:
	// aws-ssm://, aws-sm://, gcp-sm://, azure-kv://, vault://). Their accounts and models are
	// parsed with an empty key, so Apply never stores the value: the caller reads them from
	// the secret manager and adds them to every snapshot config.
	ManagedSecrets []ManagedSecret
	// VirtualModels come from provider-account/virtual-model documents, with TrueFoundry's
	// defaults filled in. They are not stored: the caller adds them to every snapshot config
	// (snapshot.Config.VirtualModels), so they exist while the gateway runs with the file.
	VirtualModels []snapshot.VirtualModel
	// RoutingRules come from the gateway-load-balancing-config document, in its order, with
	// TrueFoundry's target defaults filled in; like VirtualModels, they are not stored
	// (snapshot.Config.RoutingRules).
	RoutingRules []snapshot.RoutingRule
	// BodyLogging come from gateway-logging-config documents: the rules whose requests have
	// their bodies logged. Like RoutingRules, they are not stored (snapshot.Config.BodyLogging).
	BodyLogging []snapshot.BodyLogRule
	// IdentityProviders come from identity-provider/oidc documents, in order; they are
	// stored like accounts (Apply).
	IdentityProviders []*adminv1.IdentityProvider
}

// Account is a provider account document with its models. Secrets are resolved, or empty
// when listed in File.MissingSecrets.
type Account struct {
	Account *adminv1.ProviderAccount
	Models  []*adminv1.Model
}

// ManagedSecret is a provider key held in a secret manager.
type ManagedSecret struct {
	Account string
	// Model is empty for the account's own key, else the model's name in the account.
	Model string
	// Ref is the reference as written (secretref.Parse accepts it).
	Ref string
}

// Resolver turns a secret reference into the secret.
type Resolver func(ref string) (string, error)

// UnresolvedError is a well-formed secret reference whose secret this process cannot read.
// Parse does not fail on it: it records a MissingSecret, so the rest of the config serves.
type UnresolvedError struct {
	Ref    string // env://NAME or file://path
	Reason string // "is not set", "cannot be read: ..."
}

// Error returns "secret <ref> <reason>"; it names the reference, never a value.
func (e *UnresolvedError) Error() string { return "secret " + e.Ref + " " + e.Reason }

// EnvFileResolver resolves env://NAME with getenv and file://path by reading the file (one
// trailing newline trimmed). An unset (or empty) variable and an unreadable (or empty) file
// are an *UnresolvedError.
func EnvFileResolver(getenv func(string) string) Resolver {
	return func(ref string) (string, error) {
		switch {
		case strings.HasPrefix(ref, "env://"):
			v := getenv(strings.TrimPrefix(ref, "env://"))
			if v == "" {
				return "", &UnresolvedError{Ref: ref, Reason: "is not set"}
			}
			return v, nil
		case strings.HasPrefix(ref, "file://"):
			b, err := os.ReadFile(strings.TrimPrefix(ref, "file://"))
			if err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err // the path is in the reference already
				}
				return "", &UnresolvedError{Ref: ref, Reason: "cannot be read: " + err.Error()}
			}
			v := strings.TrimRight(string(b), "\r\n")
			if v == "" {
				return "", &UnresolvedError{Ref: ref, Reason: "is empty"}
			}
			return v, nil
		}
		return "", errors.New("secrets must be references (env://NAME, file://path, or a secret manager's: " + strings.Join(secretref.Schemes(), "://, ") + "://), not inline values")
	}
}

// Error names the document and field a problem is in.
type Error struct {
	Doc   string // "document 2 (nvidia-external)"
	Field string // "integrations[0].auth_data.bearer_token"
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Doc + ": " + e.Msg
	}
	return e.Doc + ": " + e.Field + ": " + e.Msg
}

type parser struct {
	resolve     Resolver
	file        File
	n           int // documents seen
	names       map[string]bool
	rlNames     map[string]bool
	budgetNames map[string]bool
	routed      bool // a gateway-load-balancing-config document was read
}

// Parse parses a config file. Every error is an *Error naming the document and field.
func Parse(data []byte, resolve Resolver) (*File, error) {
	p := &parser{resolve: resolve, names: map[string]bool{}, rlNames: map[string]bool{}, budgetNames: map[string]bool{}}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	for {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &Error{Doc: "config", Msg: "invalid YAML: " + err.Error()}
		}
		if len(root.Content) == 0 {
			continue
		}
		if err := p.top(root.Content[0]); err != nil {
			return nil, err
		}
	}
	return &p.file, nil
}

// top handles one YAML document of the stream: a list of documents, one document, or a
// mapping that holds authz_rules.
func (p *parser) top(n *yaml.Node) error {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, item := range n.Content {
			if err := p.item(item); err != nil {
				return err
			}
		}
		return nil
	case yaml.MappingNode:
		return p.item(n)
	}
	return &Error{Doc: fmt.Sprintf("line %d", n.Line), Msg: "expected a list of documents or a mapping"}
}

func (p *parser) item(n *yaml.Node) error {
	p.n++
	doc := fmt.Sprintf("document %d", p.n)
	if n.Kind != yaml.MappingNode {
		return &Error{Doc: doc, Msg: fmt.Sprintf("line %d: expected a mapping with name and type", n.Line)}
	}
	if lookup(n, "authz_rules") != nil || lookup(n, "rate_limits") != nil || lookup(n, "budgets") != nil {
		f, err := fields(n, doc, "", "authz_rules", "rate_limits", "budgets")
		if err != nil {
			return err
		}
		if v := f["authz_rules"]; v != nil {
			if err := p.rules(v, doc); err != nil {
				return err
			}
		}
		if v := f["rate_limits"]; v != nil {
			if err := p.nativeRateLimits(v, doc); err != nil {
				return err
			}
		}
		if v := f["budgets"]; v != nil {
			return p.nativeBudgets(v, doc)
		}
		return nil
	}
	if t := lookup(n, "type"); t != nil && (t.Value == typeRateLimiting || t.Value == typeBudget || t.Value == typeVirtual || t.Value == typeRouting || t.Value == typeLogging || t.Value == typeOIDC) {
		if nm := lookup(n, "name"); nm != nil && nm.Value != "" {
			doc = fmt.Sprintf("document %d (%s)", p.n, nm.Value)
		}
		switch t.Value {
		case typeRateLimiting:
			return p.tfyRateLimits(n, doc)
		case typeVirtual:
			return p.virtual(n, doc)
		case typeRouting:
			return p.routing(n, doc)
		case typeLogging:
			return p.logging(n, doc)
		case typeOIDC:
			return p.identityProvider(n, doc)
		}
		return p.tfyBudgets(n, doc)
	}
	f, err := fields(n, doc, "", "name", "type", "auth_data", "base_url", "settings", "integrations")
	if err != nil {
		return err
	}
	name, err := str(f, doc, "", "name", true)
	if err != nil {
		return err
	}
	doc = fmt.Sprintf("document %d (%s)", p.n, name)
	typ, err := str(f, doc, "", "type", true)
	if err != nil {
		return err
	}
	kind, ok := strings.CutPrefix(typ, "provider-account/")
	if !ok || kind == "" {
		return &Error{Doc: doc, Field: "type", Msg: fmt.Sprintf("unsupported type %q; expected provider-account/<provider>, %s, %s, %s, %s, %s or %s", typ, typeVirtual, typeRateLimiting, typeBudget, typeRouting, typeLogging, typeOIDC)}
	}
	if p.names[name] {
		return &Error{Doc: doc, Field: "name", Msg: "duplicate provider account name"}
	}
	p.names[name] = true
	acct := &adminv1.ProviderAccount{Name: name, Provider: kind}
	if acct.BaseUrl, err = str(f, doc, "", "base_url", false); err != nil {
		return err
	}
	if acct.Settings, err = strMap(f, doc, "", "settings"); err != nil {
		return err
	}
	if a := f["auth_data"]; a != nil {
		if acct.ApiKey, err = p.auth(a, doc, "auth_data", name, ""); err != nil {
			return err
		}
	}
	out := Account{Account: acct}
	if ints := f["integrations"]; ints != nil {
		if ints.Kind != yaml.SequenceNode {
			return &Error{Doc: doc, Field: "integrations", Msg: "expected a list"}
		}
		seen := map[string]bool{}
		for i, in := range ints.Content {
			m, err := p.integration(in, doc, fmt.Sprintf("integrations[%d]", i), name, kind)
			if err != nil {
				return err
			}
			if seen[m.Name] {
				return &Error{Doc: doc, Field: fmt.Sprintf("integrations[%d].name", i), Msg: "duplicate model name " + m.Name}
			}
			seen[m.Name] = true
			out.Models = append(out.Models, m)
		}
	}
	p.file.Accounts = append(p.file.Accounts, out)
	return nil
}

var modelTypes = []string{"chat", "embedding", "rerank"}

func (p *parser) integration(n *yaml.Node, doc, path, account, kind string) (*adminv1.Model, error) {
	f, err := fields(n, doc, path, "name", "type", "model_id", "hosted_model_name", "url", "model_server", "model_types", "auth_data", "settings")
	if err != nil {
		return nil, err
	}
	m := &adminv1.Model{Account: account}
	if m.Name, err = str(f, doc, path, "name", true); err != nil {
		return nil, err
	}
	if strings.ContainsAny(m.Name, "/ \t") {
		return nil, &Error{Doc: doc, Field: path + ".name", Msg: "a model name cannot contain '/' or spaces"}
	}
	typ, err := str(f, doc, path, "type", true)
	if err != nil {
		return nil, err
	}
	if want := "integration/model/" + kind; typ != want {
		return nil, &Error{Doc: doc, Field: path + ".type", Msg: fmt.Sprintf("got %q, want %q for a provider-account/%s", typ, want, kind)}
	}
	id, err := str(f, doc, path, "model_id", false)
	if err != nil {
		return nil, err
	}
	hosted, err := str(f, doc, path, "hosted_model_name", false)
	if err != nil {
		return nil, err
	}
	if id != "" && hosted != "" {
		return nil, &Error{Doc: doc, Field: path + ".hosted_model_name", Msg: "give model_id or hosted_model_name, not both"}
	}
	m.UpstreamModel = id + hosted
	if m.BaseUrl, err = str(f, doc, path, "url", false); err != nil {
		return nil, err
	}
	if m.Settings, err = strMap(f, doc, path, "settings"); err != nil {
		return nil, err
	}
	if m.BaseUrl != "" && !strings.HasPrefix(m.BaseUrl, "http://") && !strings.HasPrefix(m.BaseUrl, "https://") {
		return nil, &Error{Doc: doc, Field: path + ".url", Msg: "must be an http:// or https:// URL"}
	}
	server, err := str(f, doc, path, "model_server", false)
	if err != nil {
		return nil, err
	}
	if server != "" && server != "openai-compatible" {
		return nil, &Error{Doc: doc, Field: path + ".model_server", Msg: fmt.Sprintf("unsupported model server %q; supported: openai-compatible", server)}
	}
	if kind == "self-hosted-model" && m.BaseUrl == "" {
		return nil, &Error{Doc: doc, Field: path + ".url", Msg: "a self-hosted model needs its server's url"}
	}
	if t := f["model_types"]; t != nil {
		if t.Kind != yaml.SequenceNode {
			return nil, &Error{Doc: doc, Field: path + ".model_types", Msg: "expected a list"}
		}
		for i, v := range t.Content {
			if v.Kind != yaml.ScalarNode || !slices.Contains(modelTypes, v.Value) {
				return nil, &Error{Doc: doc, Field: fmt.Sprintf("%s.model_types[%d]", path, i), Msg: fmt.Sprintf("unsupported model type %q; supported: %s", v.Value, strings.Join(modelTypes, ", "))}
			}
			m.Types = append(m.Types, v.Value)
		}
	}
	if a := f["auth_data"]; a != nil {
		if m.ApiKey, err = p.auth(a, doc, path+".auth_data", account, m.Name); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// auth reads an auth_data block: {type: api-key, api_key: ref} or {type: bearer-auth,
// bearer_token: ref}. A reference that cannot be resolved is recorded as missing for the
// account (model "") or the model, and read as "". A secret manager's reference is checked,
// recorded in ManagedSecrets and read as "".
func (p *parser) auth(n *yaml.Node, doc, path, account, model string) (string, error) {
	f, err := fields(n, doc, path, "type", "api_key", "bearer_token")
	if err != nil {
		return "", err
	}
	typ, err := str(f, doc, path, "type", true)
	if err != nil {
		return "", err
	}
	var key string
	switch typ {
	case "api-key":
		key = "api_key"
	case "bearer-auth":
		key = "bearer_token"
	default:
		return "", &Error{Doc: doc, Field: path + ".type", Msg: fmt.Sprintf("unsupported auth type %q; supported: api-key, bearer-auth", typ)}
	}
	for k := range f {
		if k != "type" && k != key {
			return "", &Error{Doc: doc, Field: path + "." + k, Msg: fmt.Sprintf("not allowed with type %s", typ)}
		}
	}
	ref, err := str(f, doc, path, key, true)
	if err != nil {
		return "", err
	}
	if secretref.IsRef(ref) {
		if _, err := secretref.Parse(ref); err != nil {
			return "", &Error{Doc: doc, Field: path + "." + key, Msg: err.Error()}
		}
		p.file.ManagedSecrets = append(p.file.ManagedSecrets, ManagedSecret{Account: account, Model: model, Ref: ref})
		return "", nil
	}
	secret, err := p.resolve(ref)
	var unresolved *UnresolvedError
	if errors.As(err, &unresolved) {
		p.file.MissingSecrets = append(p.file.MissingSecrets, snapshot.MissingSecret{Account: account, Model: model, Problem: unresolved.Error()})
		return "", nil
	}
	if err != nil {
		return "", &Error{Doc: doc, Field: path + "." + key, Msg: err.Error()}
	}
	return secret, nil
}

func (p *parser) rules(n *yaml.Node, doc string) error {
	if n.Kind != yaml.SequenceNode {
		return &Error{Doc: doc, Field: "authz_rules", Msg: "expected a list"}
	}
	for i, r := range n.Content {
		path := fmt.Sprintf("authz_rules[%d]", i)
		f, err := fields(r, doc, path, "name", "models", "users", "teams", "virtual_accounts")
		if err != nil {
			return err
		}
		rule := &adminv1.AuthzRule{}
		if rule.Name, err = str(f, doc, path, "name", false); err != nil {
			return err
		}
		if rule.Name == "" {
			rule.Name = fmt.Sprintf("config-rule-%d", len(p.file.Rules)+1)
		}
		lists := []struct {
			key string
			dst *[]string
		}{{"models", &rule.Models}, {"users", &rule.Users}, {"teams", &rule.Teams}, {"virtual_accounts", &rule.VirtualAccounts}}
		for _, l := range lists {
			if *l.dst, err = strs(f, doc, path, l.key); err != nil {
				return err
			}
		}
		if len(rule.Models) == 0 {
			return &Error{Doc: doc, Field: path + ".models", Msg: "at least one model is required"}
		}
		for j, m := range rule.Models {
			if m != "*" && !strings.Contains(m, "/") {
				return &Error{Doc: doc, Field: fmt.Sprintf("%s.models[%d]", path, j), Msg: fmt.Sprintf("%q is not a fully qualified model name (<provider-account>/<model>)", m)}
			}
		}
		if len(rule.Users)+len(rule.Teams)+len(rule.VirtualAccounts) == 0 {
			return &Error{Doc: doc, Field: path, Msg: "at least one of users, teams or virtual_accounts is required"}
		}
		p.file.Rules = append(p.file.Rules, rule)
	}
	return nil
}

func lookup(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// fields returns the mapping's values by key and refuses keys not in allowed.
func fields(n *yaml.Node, doc, path string, allowed ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, &Error{Doc: doc, Field: path, Msg: "expected a mapping"}
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if !slices.Contains(allowed, k) {
			return nil, &Error{Doc: doc, Field: join(path, k), Msg: fmt.Sprintf("unknown field (line %d); allowed: %s", n.Content[i].Line, strings.Join(allowed, ", "))}
		}
		if _, dup := out[k]; dup {
			return nil, &Error{Doc: doc, Field: join(path, k), Msg: "duplicate field"}
		}
		out[k] = n.Content[i+1]
	}
	return out, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func str(f map[string]*yaml.Node, doc, path, key string, required bool) (string, error) {
	n := f[key]
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		if required {
			return "", &Error{Doc: doc, Field: join(path, key), Msg: "is required"}
		}
		return "", nil
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return "", &Error{Doc: doc, Field: join(path, key), Msg: "expected a string"}
	}
	if required && n.Value == "" {
		return "", &Error{Doc: doc, Field: join(path, key), Msg: "must not be empty"}
	}
	return n.Value, nil
}

func strs(f map[string]*yaml.Node, doc, path, key string) ([]string, error) {
	n := f[key]
	if n == nil {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, &Error{Doc: doc, Field: join(path, key), Msg: "expected a list of strings"}
	}
	out := make([]string, 0, len(n.Content))
	for i, v := range n.Content {
		if v.Kind != yaml.ScalarNode || v.Value == "" {
			return nil, &Error{Doc: doc, Field: fmt.Sprintf("%s[%d]", join(path, key), i), Msg: "expected a non-empty string"}
		}
		out = append(out, v.Value)
	}
	return out, nil
}

// strMap reads a mapping of strings (provider settings). Settings are not secret: a value
// that looks like a secret reference is refused, since it would be stored in plain text.
func strMap(f map[string]*yaml.Node, doc, path, key string) (map[string]string, error) {
	n := f[key]
	if n == nil {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, &Error{Doc: doc, Field: join(path, key), Msg: "expected a mapping of strings"}
	}
	out := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		field := join(join(path, key), k)
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			return nil, &Error{Doc: doc, Field: field, Msg: "expected a string"}
		}
		if strings.HasPrefix(v.Value, "env://") || strings.HasPrefix(v.Value, "file://") || secretref.IsRef(v.Value) {
			return nil, &Error{Doc: doc, Field: field, Msg: "settings are not secret; put credentials in auth_data"}
		}
		out[k] = v.Value
	}
	return out, nil
}
