package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// maxDocument bounds a discovery document or JWKS read from an identity provider.
const maxDocument = 1 << 20

// source is where one issuer's keys come from: discovery, or a configured JWKS URL.
type source struct {
	issuer  string
	jwksURL string // empty: discovery's jwks_uri
}

// keySet is the cached keys of one source and the state of their refreshes. Guarded by
// Verifier.mu.
type keySet struct {
	keys     *jose.JSONWebKeySet // nil until the first successful fetch
	fetched  time.Time           // last successful fetch
	tried    time.Time           // last attempt
	want     bool                // a request saw an unknown kid
	failed   bool                // the last attempt failed
	failures uint64              // failed attempts
}

// getJSON reads url's JSON document into v, within maxDocument.
func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocument))
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return err
	}
	if len(b) > maxDocument {
		return fmt.Errorf("GET %s: document larger than %d bytes", url, maxDocument)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// Discovery is the part of an OpenID Connect discovery document the gateway and its CLI use.
type Discovery struct {
	Issuer              string   `json:"issuer"`
	JWKSURI             string   `json:"jwks_uri"`
	TokenEndpoint       string   `json:"token_endpoint"`
	AuthEndpoint        string   `json:"authorization_endpoint"`
	DeviceAuthEndpoint  string   `json:"device_authorization_endpoint"`
	CodeChallengeMethod []string `json:"code_challenge_methods_supported"`
}

// Discover reads issuer's discovery document, and checks that it names issuer exactly
// (OpenID Connect Discovery 1.0, section 4.3).
func Discover(ctx context.Context, c *http.Client, issuer string) (*Discovery, error) {
	var d Discovery
	if err := getJSON(ctx, c, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &d); err != nil {
		return nil, err
	}
	if d.Issuer != issuer {
		return nil, fmt.Errorf("discovery document of %s names issuer %q", issuer, d.Issuer)
	}
	return &d, nil
}

// fetch reads the keys of src.
func fetch(ctx context.Context, c *http.Client, src source) (*jose.JSONWebKeySet, error) {
	url := src.jwksURL
	if url == "" {
		d, err := Discover(ctx, c, src.issuer)
		if err != nil {
			return nil, err
		}
		if d.JWKSURI == "" {
			return nil, errors.New("discovery document has no jwks_uri")
		}
		url = d.JWKSURI
	}
	var set jose.JSONWebKeySet
	if err := getJSON(ctx, c, url, &set); err != nil {
		return nil, err
	}
	// Only public signing keys are kept: a JWKS never needs more.
	keys := set.Keys[:0]
	for _, k := range set.Keys {
		if k.Valid() && k.IsPublic() && (k.Use == "" || k.Use == "sig") {
			keys = append(keys, k)
		}
	}
	set.Keys = keys
	if len(keys) == 0 {
		return nil, errors.New("JWKS has no public signing key")
	}
	return &set, nil
}

// CheckURL accepts what an issuer or JWKS URL may be: an absolute https URL, or http to a
// loopback host (development and tests). Keys read over plain http from elsewhere could be
// replaced on the way.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return errors.New("expected an absolute URL")
	}
	switch h := u.Hostname(); {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && (h == "localhost" || h == "127.0.0.1" || h == "::1"):
		return nil
	}
	return errors.New("expected an https URL (http only to localhost)")
}
