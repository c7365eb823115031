// Package auth is the client side of OIDC logins to an llmgw gateway: Login asks the gateway
// which identity provider and client to use (its public /api/v1/auth/config), runs the OAuth
// 2.0 device authorization flow (RFC 8628), or the authorization code flow with PKCE and a
// loopback redirect (RFC 8252) where the provider has no device endpoint, and keeps the
// credentials in a Store; Source hands out a valid token, refreshing it with the refresh token;
// Transport puts it on every request of an http.Client.
//
// The gateway verifies the tokens; this package does not (it reads their expiry only).
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

// DefaultScopes are requested at login: an ID token with the user's email and profile, and a
// refresh token (offline_access).
var DefaultScopes = []string{"openid", "email", "profile", "offline_access"}

// MinValidity is how long a token must still be valid for Source to hand it out without
// refreshing it first.
const MinValidity = time.Minute

// ServerConfig is the gateway's answer at /api/v1/auth/config.
type ServerConfig struct {
	Provider  string   `json:"provider"`
	Issuer    string   `json:"issuer"`
	ClientID  string   `json:"client_id"`
	Audiences []string `json:"audiences"`
}

// Discovery is the part of an identity provider's OpenID Connect discovery document a login uses.
type Discovery struct {
	Issuer             string `json:"issuer"`
	AuthEndpoint       string `json:"authorization_endpoint"`
	TokenEndpoint      string `json:"token_endpoint"`
	DeviceAuthEndpoint string `json:"device_authorization_endpoint"`
}

// maxDocument bounds the JSON documents read from a gateway or identity provider.
const maxDocument = 1 << 20

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
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// FetchServerConfig reads gateway's login config.
func FetchServerConfig(ctx context.Context, c *http.Client, gateway string) (*ServerConfig, error) {
	var sc ServerConfig
	if err := getJSON(ctx, c, strings.TrimSuffix(gateway, "/")+"/api/v1/auth/config", &sc); err != nil {
		return nil, fmt.Errorf("the gateway's login config: %w", err)
	}
	if sc.Issuer == "" || sc.ClientID == "" {
		return nil, errors.New("the gateway's login config names no issuer or client id")
	}
	return &sc, nil
}

// Discover reads issuer's discovery document and checks that it names issuer.
func Discover(ctx context.Context, c *http.Client, issuer string) (*Discovery, error) {
	var d Discovery
	if err := getJSON(ctx, c, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &d); err != nil {
		return nil, fmt.Errorf("identity provider discovery: %w", err)
	}
	if d.Issuer != issuer {
		return nil, fmt.Errorf("the discovery document of %s names issuer %q", issuer, d.Issuer)
	}
	if d.TokenEndpoint == "" {
		return nil, errors.New("the identity provider has no token endpoint")
	}
	return &d, nil
}

// oauthConfig is the OAuth client of c: a public client, its id sent in the form.
func oauthConfig(c *Credentials, d *Discovery, scopes []string) *oauth2.Config {
	cfg := &oauth2.Config{ClientID: c.ClientID, Scopes: scopes,
		Endpoint: oauth2.Endpoint{TokenURL: c.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	if d != nil {
		cfg.Endpoint.AuthURL, cfg.Endpoint.DeviceAuthURL = d.AuthEndpoint, d.DeviceAuthEndpoint
	}
	return cfg
}

// bearer picks the token to send to the gateway from a token response: the access token when
// it is a JWT (the gateway can verify it), else the ID token; and its expiry, from its exp
// claim, else the response's expires_in.
func bearer(t *oauth2.Token) (string, time.Time, error) {
	tok := t.AccessToken
	if strings.Count(tok, ".") != 2 {
		id, _ := t.Extra("id_token").(string)
		if id == "" {
			return "", time.Time{}, errors.New("the identity provider returned neither a JWT access token nor an ID token")
		}
		tok = id
	}
	return tok, expiry(tok, t.Expiry), nil
}

// expiry reads the exp claim of a JWT without verifying it; fallback when it has none.
func expiry(token string, fallback time.Time) time.Time {
	t, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA, jose.PS256})
	if err != nil {
		return fallback
	}
	var c jwt.Claims
	if t.UnsafeClaimsWithoutVerification(&c) != nil || c.Expiry == nil {
		return fallback
	}
	return c.Expiry.Time()
}
