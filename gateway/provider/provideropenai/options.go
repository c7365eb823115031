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
// "Authorization: Bearer <cfg.APIKey>"; cfg.APIKey is then not sent at all. The header is set
// only on requests to the hosts of the adapter's chat and embeddings URLs, so a redirect to
// another host never carries it.
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
	}
	if o.hasAuthHdr {
		if o.authHeader == "" || o.authValue == "" {
			return nil, fmt.Errorf("%s: an auth header needs a name and a value", cfg.Kind)
		}
		if o.authHeader == "Authorization" {
			a.auth = o.authValue
			return a, nil
		}
		// post sets only Authorization, so another header is added by a thin wrapper around the
		// shared transport: the adapter still builds no transport of its own.
		a.auth = ""
		hosts := map[string]bool{}
		for _, raw := range []string{a.chatURL, a.embedURL} {
			u, err := url.Parse(raw)
			if err != nil {
				return nil, fmt.Errorf("%s: endpoint %q: %w", cfg.Kind, raw, err)
			}
			hosts[u.Host] = true
		}
		client := *a.client
		base := client.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		client.Transport = &headerTransport{base: base, name: o.authHeader, value: o.authValue, hosts: hosts}
		a.client = &client
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

// headerTransport sets one header on requests to the given hosts. It is safe for concurrent use.
type headerTransport struct {
	base        http.RoundTripper
	name, value string
	hosts       map[string]bool // read-only after construction
}

func (t *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.hosts[req.URL.Host] {
		return t.base.RoundTrip(req)
	}
	// A RoundTripper must not modify its request; the clone shares the body, which the base
	// transport closes.
	r := req.Clone(req.Context())
	r.Header.Set(t.name, t.value)
	return t.base.RoundTrip(r)
}
