package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// Login is a login to one gateway.
type Login struct {
	// Gateway is the gateway's URL, such as https://llmgw.example.com.
	Gateway string
	// Client makes every HTTP request; http.DefaultClient when nil.
	Client *http.Client
	// Out receives the instructions for the user (where to go, which code to enter); nil
	// discards them, which suits only a Browser that completes the login.
	Out io.Writer
	// Scopes are requested (DefaultScopes when nil).
	Scopes []string
	// Browser, when set, is called with the URL the user must open in the authorization code
	// flow (to open a browser); the URL is printed to Out either way.
	Browser func(url string)
}

// Run logs in: it reads the gateway's login config and the identity provider's discovery
// document, runs the device flow (or the authorization code flow with PKCE when the provider
// has no device endpoint) and returns the credentials, which the caller stores.
func (l *Login) Run(ctx context.Context) (*Credentials, error) {
	c := l.Client
	if c == nil {
		c = http.DefaultClient
	}
	if l.Out == nil {
		l.Out = io.Discard
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c)
	scopes := l.Scopes
	if scopes == nil {
		scopes = DefaultScopes
	}
	sc, err := FetchServerConfig(ctx, c, l.Gateway)
	if err != nil {
		return nil, err
	}
	d, err := Discover(ctx, c, sc.Issuer)
	if err != nil {
		return nil, err
	}
	cred := &Credentials{Gateway: NormalizeGateway(l.Gateway), Issuer: sc.Issuer, ClientID: sc.ClientID, TokenURL: d.TokenEndpoint}
	conf := oauthConfig(cred, d, scopes)
	var tok *oauth2.Token
	switch {
	case d.DeviceAuthEndpoint != "":
		tok, err = l.device(ctx, conf)
		// Providers advertise their device endpoint to every client, but grant types are set
		// per client: one without the device grant is refused, and logs in with the browser.
		if errors.Is(err, errDeviceGrantRefused) && d.AuthEndpoint != "" {
			fmt.Fprintln(l.Out, "The identity provider does not offer this client the device flow; logging in with the browser.")
			tok, err = l.code(ctx, conf)
		}
	case d.AuthEndpoint != "":
		tok, err = l.code(ctx, conf)
	default:
		err = errors.New("the identity provider offers neither the device flow nor the authorization code flow")
	}
	if err != nil {
		return nil, err
	}
	cred.RefreshToken = tok.RefreshToken
	if cred.Token, cred.Expiry, err = bearer(tok); err != nil {
		return nil, err
	}
	return cred, nil
}

// errDeviceGrantRefused: the device authorization endpoint refused the client the device
// grant (unauthorized_client, RFC 6749 section 5.2, as RFC 8628 section 3.2 refers to it).
var errDeviceGrantRefused = errors.New("the identity provider does not allow this client the device flow")

// device runs the device authorization flow (RFC 8628).
func (l *Login) device(ctx context.Context, conf *oauth2.Config) (*oauth2.Token, error) {
	da, err := conf.DeviceAuth(ctx)
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "unauthorized_client" {
		return nil, fmt.Errorf("device authorization: %w: %w", errDeviceGrantRefused, err)
	}
	if err != nil {
		return nil, fmt.Errorf("device authorization: %w", err)
	}
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(l.Out, "To log in, open %s\nand check that it shows the code %s\n", da.VerificationURIComplete, da.UserCode)
	} else {
		fmt.Fprintf(l.Out, "To log in, open %s\nand enter the code %s\n", da.VerificationURI, da.UserCode)
	}
	tok, err := conf.DeviceAccessToken(ctx, da)
	if err != nil {
		return nil, fmt.Errorf("device login: %w", err)
	}
	return tok, nil
}

// code runs the authorization code flow with PKCE (RFC 7636) and a loopback redirect
// (RFC 8252, section 7.3): it listens on 127.0.0.1 on a free port until the browser comes
// back with the code.
func (l *Login) code(ctx context.Context, conf *oauth2.Config) (*oauth2.Token, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	conf.RedirectURL = fmt.Sprintf("http://%s/callback", ln.Addr())
	verifier, state := oauth2.GenerateVerifier(), rand.Text()
	type result struct {
		code string
		err  error
	}
	done := make(chan result, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		var res result
		switch {
		case q.Get("state") != state:
			res.err = errors.New("the identity provider's redirect has a wrong state")
		case q.Get("error") != "":
			res.err = fmt.Errorf("the identity provider refused the login: %s", q.Get("error"))
		case q.Get("code") == "":
			res.err = errors.New("the identity provider's redirect has no code")
		default:
			res.code = q.Get("code")
		}
		if res.err != nil {
			http.Error(w, "Login failed; see the terminal.", http.StatusBadRequest)
		} else {
			_, _ = io.WriteString(w, "Logged in to llmgw; you may close this window.\n")
		}
		select {
		case done <- res:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	u := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
	fmt.Fprintf(l.Out, "To log in, open %s\n", u)
	if l.Browser != nil {
		l.Browser(u)
	}
	var res result
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res = <-done:
	}
	if res.err != nil {
		return nil, res.err
	}
	tok, err := conf.Exchange(ctx, res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("code exchange: %w", err)
	}
	return tok, nil
}
