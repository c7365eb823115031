package providerazure

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/provider/provideropenai"
)

// Kind is the provider kind this package implements.
const Kind = "azure-openai"

// DefaultAPIVersion is the api-version sent when the api_version setting is absent: the latest
// generally available release of Azure OpenAI's data-plane inference API that supports
// stream_options.include_usage.
const DefaultAPIVersion = "2024-10-21"

// Settings keys read by [New]; any other key is refused.
const (
	SettingAPIVersion = "api_version"
	SettingDeployment = "deployment"
	SettingAuth       = "auth"
)

// Values of the auth setting.
const (
	// AuthAPIKey sends provider.Config.APIKey in the api-key header. It is the default.
	AuthAPIKey = "api-key"
	// AuthEntra sends provider.Config.APIKey as a Microsoft Entra ID bearer token.
	AuthEntra = "entra"
)

var knownSettings = []string{SettingAPIVersion, SettingAuth, SettingDeployment}

// New returns the adapter for one Azure OpenAI deployment. It implements provider.Adapter and
// provider.Embedder and is safe for concurrent use. It refuses a config without a base URL (the
// resource endpoint), a credential or a deployment, and any settings key it does not document.
func New(cfg provider.Config) (provider.Adapter, error) {
	var unknown []string
	for k := range cfg.Settings {
		if !slices.Contains(knownSettings, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("%s: unknown setting %q (known: %s)", Kind, unknown[0], strings.Join(knownSettings, ", "))
	}

	endpoint := strings.TrimRight(cfg.BaseURL, "/")
	if endpoint == "" {
		return nil, fmt.Errorf("%s: a base URL (the resource endpoint, https://<resource>.openai.azure.com) is required", Kind)
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: base URL %q must be an absolute http:// or https:// URL", Kind, endpoint)
	}

	version := DefaultAPIVersion
	if v, ok := cfg.Settings[SettingAPIVersion]; ok {
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("%s: setting %q is empty", Kind, SettingAPIVersion)
		}
		version = v
	}
	deployment := cfg.Model
	if d, ok := cfg.Settings[SettingDeployment]; ok {
		if strings.TrimSpace(d) == "" {
			return nil, fmt.Errorf("%s: setting %q is empty", Kind, SettingDeployment)
		}
		deployment = d
	}
	if deployment == "" {
		return nil, fmt.Errorf("%s: a deployment is required (setting %q or the model name)", Kind, SettingDeployment)
	}

	if cfg.APIKey == "" {
		return nil, fmt.Errorf("%s: a credential is required (an API key, or an Entra ID token with auth %q)", Kind, AuthEntra)
	}
	var header, value string
	switch auth := cfg.Settings[SettingAuth]; auth {
	case "", AuthAPIKey:
		header, value = "api-key", cfg.APIKey
	case AuthEntra:
		header, value = "Authorization", "Bearer "+cfg.APIKey
	default:
		return nil, fmt.Errorf("%s: setting %q is %q; want %q or %q", Kind, SettingAuth, auth, AuthAPIKey, AuthEntra)
	}

	prefix := endpoint + "/openai/deployments/" + url.PathEscape(deployment)
	query := "?api-version=" + url.QueryEscape(version)
	// The body's model is patched to the deployment: Azure routes by the URL and ignores it.
	ocfg := cfg
	ocfg.Kind, ocfg.BaseURL, ocfg.Model, ocfg.APIKey = Kind, endpoint, deployment, ""
	a, err := provideropenai.NewWithOptions(ocfg, "",
		provideropenai.WithEndpoints(prefix+"/chat/completions"+query, prefix+"/embeddings"+query),
		provideropenai.WithAuthHeader(header, value),
	)
	if err != nil {
		return nil, err // not a, which would be a non-nil provider.Adapter holding a nil pointer
	}
	// Files and batches are resource-wide, under /openai; batch lines name the deployment
	// and the endpoint without /v1. Global Batch deployments bill half the standard price.
	return provideropenai.Batching(a, provideropenai.BatchAPI{
		Root: endpoint + "/openai", Query: url.Values{"api-version": {version}}, TrimV1: true, PriceFactor: 0.5,
	})
}
