package provideropenai

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/llmgw/llmgw/gateway/provider"
)

// Option changes how [NewWithOptions] builds an adapter, for servers that speak OpenAI's wire
// format at a different URL layout or with a different credential header (Azure OpenAI).
type Option func(*options)

type options struct {
	chatURL, embedURL        string
	authHeader, authValue    string
	hasEndpoints, hasAuthHdr bool
}

// WithEndpoints sends chat completions to chatURL and embeddings to embedURL, used exactly as
// given (a query string included), instead of the base URL plus "/chat/completions" and
// "/embeddings". Both must be absolute http or https URLs.
func WithEndpoints(chatURL, embedURL string) Option {
	return func(o *options) {
		o.chatURL, o.embedURL, o.hasEndpoints = chatURL, embedURL, true
	}
}

// WithAuthHeader sends the credential as the header name: value instead of
// "Authorization: Bearer <cfg.APIKey>"; cfg.APIKey is then not sent at all. Adapters never
// follow redirects, so the header reaches only the configured host.
func WithAuthHeader(name, value string) Option {
	return func(o *options) {
		o.authHeader, o.authValue, o.hasAuthHdr = http.CanonicalHeaderKey(name), value, true
	}
}

// NewWithOptions is [New] with opts applied in order. The returned adapter is safe for
// concurrent use and keeps using cfg.HTTPClient's transport (and so its connection pool).
func NewWithOptions(cfg provider.Config, defaultBaseURL string, opts ...Option) (*Adapter, error) {
	a, err := New(cfg, defaultBaseURL)
	if err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.hasEndpoints {
		for _, u := range []string{o.chatURL, o.embedURL} {
			if err := checkAbsolute(u); err != nil {
				return nil, fmt.Errorf("%s: endpoint %q: %w", cfg.Kind, u, err)
			}
		}
		a.chatURL, a.embedURL = o.chatURL, o.embedURL
		a.parseChatURL()
	}
	if o.hasAuthHdr {
		if o.authHeader == "" || o.authValue == "" {
			return nil, fmt.Errorf("%s: an auth header needs a name and a value", cfg.Kind)
		}
		a.authHeader, a.authValue = o.authHeader, o.authValue
		a.auth = []string{a.authValue}
	}
	return a, nil
}

func checkAbsolute(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http:// or https:// URL")
	}
	return nil
}
