package auth_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/llmgw/client/auth"
	"github.com/llmgw/llmgw/gateway/oidc/oidctest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// gateway serves the login config of idp, and echoes the Authorization header at /echo.
func gateway(t *testing.T, idp *oidctest.Provider) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/auth/config", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"provider": "corp", "issuer": idp.Issuer, "client_id": idp.ClientID, "audiences": []string{idp.Audience}})
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Header.Get("Authorization")) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// approveNext plays the user: it approves the first device code that appears.
func approveNext(t *testing.T, idp *oidctest.Provider, c oidctest.Claims) {
	go func() {
		for range 500 {
			for _, code := range idp.Pending() {
				if idp.Approve(code, c) {
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
}

func TestDeviceLoginStoresCredentials(t *testing.T) {
	idp := oidctest.New()
	defer idp.Close()
	gw := gateway(t, idp)
	approveNext(t, idp, oidctest.Claims{Subject: "u1", Email: "alice@example.com"})
	var out syncBuffer
	cred, err := (&auth.Login{Gateway: gw.URL + "/", Out: &out}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cred.Gateway != gw.URL || cred.Issuer != idp.Issuer || cred.ClientID != idp.ClientID || cred.RefreshToken == "" || cred.Token == "" {
		t.Fatalf("credentials %+v", cred)
	}
	if time.Until(cred.Expiry) < 50*time.Minute {
		t.Errorf("expiry %v, want the token's exp, an hour away", cred.Expiry)
	}
	st := &auth.Store{Dir: filepath.Join(t.TempDir(), "llmgw")}
	if err := st.Save(cred); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(st.Dir, "credentials.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if di, _ := os.Stat(st.Dir); di.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v, want 0700", di.Mode().Perm())
	}
	for _, g := range []string{"", gw.URL, gw.URL + "/"} {
		got, err := st.Load(g)
		if err != nil || got.RefreshToken != cred.RefreshToken {
			t.Fatalf("Load(%q): %+v, %v", g, got, err)
		}
	}
	if _, err := st.Load("https://other.example.com"); err != auth.ErrNotLoggedIn {
		t.Fatalf("Load of another gateway: %v, want ErrNotLoggedIn", err)
	}
}

func TestCodeLoginWithPKCE(t *testing.T) {
	idp := oidctest.New()
	defer idp.Close()
	idp.DisableDevice()
	idp.SetUser(oidctest.Claims{Subject: "u2", Email: "bob@example.com"})
	gw := gateway(t, idp)
	var out syncBuffer
	browser := func(u string) {
		go func() {
			resp, err := http.Get(u) // follows the redirect to the loopback listener
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cred, err := (&auth.Login{Gateway: gw.URL, Out: &out, Browser: browser}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Token == "" || cred.RefreshToken == "" {
		t.Fatalf("credentials %+v", cred)
	}
}

// A provider that advertises its device endpoint but does not allow this client the device
// grant (unauthorized_client) gets the authorization code flow instead.
func TestCodeLoginWhenDeviceGrantRefused(t *testing.T) {
	idp := oidctest.New()
	defer idp.Close()
	idp.RefuseDevice()
	idp.SetUser(oidctest.Claims{Subject: "u2", Email: "bob@example.com"})
	gw := gateway(t, idp)
	var out syncBuffer
	opened := make(chan string, 1)
	browser := func(u string) {
		opened <- u
		go func() {
			resp, err := http.Get(u)
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cred, err := (&auth.Login{Gateway: gw.URL, Out: &out, Browser: browser}).Run(ctx)
	if err != nil {
		t.Fatalf("login: %v\n%s", err, out.String())
	}
	if cred.Token == "" || cred.RefreshToken == "" {
		t.Fatalf("credentials %+v", cred)
	}
	if u := <-opened; !strings.HasPrefix(u, idp.Issuer+"/auth?") || !strings.Contains(out.String(), "does not offer this client the device flow") {
		t.Errorf("opened %q, printed %q; want the authorization endpoint after the refusal", u, out.String())
	}
}

func TestSourceRefreshesNearExpiry(t *testing.T) {
	c := &clock{t: time.Now()}
	idp := oidctest.New(oidctest.WithClock(c.now), oidctest.WithTTL(10*time.Minute))
	defer idp.Close()
	gw := gateway(t, idp)
	approveNext(t, idp, oidctest.Claims{Subject: "u1", Email: "alice@example.com"})
	cred, err := (&auth.Login{Gateway: gw.URL, Out: io.Discard}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st := &auth.Store{Dir: t.TempDir()}
	if err := st.Save(cred); err != nil {
		t.Fatal(err)
	}
	src, err := auth.NewSource(st, "", auth.WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src.Token(t.Context())
	if err != nil || tok != cred.Token {
		t.Fatalf("fresh token: got another one or %v", err)
	}
	c.add(9*time.Minute + 1*time.Second) // less than a minute left
	tok2, err := src.Token(t.Context())
	if err != nil || tok2 == cred.Token {
		t.Fatalf("near expiry: %v; want a refreshed token", err)
	}
	stored, _ := st.Load("")
	if stored.Token != tok2 || stored.RefreshToken == cred.RefreshToken || !stored.Expiry.After(c.now().Add(9*time.Minute)) {
		t.Fatalf("stored %+v; want the refreshed token and the rotated refresh token", stored)
	}
	// A second source (another process) finds the stored token fresh and does not spend the
	// refresh token again.
	src2, _ := auth.NewSource(st, gw.URL, auth.WithClock(c.now))
	if tok3, err := src2.Token(t.Context()); err != nil || tok3 != tok2 {
		t.Fatalf("second source: %v", err)
	}
}

func TestTransportRefreshesInBackground(t *testing.T) {
	c := &clock{t: time.Now()}
	idp := oidctest.New(oidctest.WithClock(c.now), oidctest.WithTTL(10*time.Minute))
	defer idp.Close()
	gw := gateway(t, idp)
	approveNext(t, idp, oidctest.Claims{Subject: "u1", Email: "alice@example.com"})
	cred, err := (&auth.Login{Gateway: gw.URL, Out: io.Discard}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st := &auth.Store{Dir: t.TempDir()}
	if err := st.Save(cred); err != nil {
		t.Fatal(err)
	}
	src, _ := auth.NewSource(st, "", auth.WithClock(c.now))
	hc := &http.Client{Transport: &auth.Transport{Source: src}}
	get := func() string {
		resp, err := hc.Get(gw.URL + "/echo")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get(); got != "Bearer "+cred.Token {
		t.Fatalf("sent %q", got)
	}
	c.add(9*time.Minute + 30*time.Second)
	// Within the last minute: the request goes with the current token, and a refresh starts.
	if got := get(); got != "Bearer "+cred.Token {
		t.Fatalf("sent %q; want the still valid token while refreshing", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got := get(); got != "Bearer "+cred.Token {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the token was never refreshed in the background")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Expired: the request waits for a refresh.
	c.add(time.Hour)
	before, _ := st.Load("")
	got := get()
	if after, _ := st.Load(""); got != "Bearer "+after.Token || after.Token == before.Token {
		t.Fatalf("after expiry sent %q; want a new token", got)
	}
}

// syncBuffer is a bytes buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

func TestDeviceLoginDenied(t *testing.T) {
	idp := oidctest.New()
	defer idp.Close()
	gw := gateway(t, idp)
	go func() {
		for range 500 {
			for _, code := range idp.Pending() {
				if idp.Deny(code) {
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	_, err := (&auth.Login{Gateway: gw.URL}).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "access_denied") {
		t.Fatalf("denied login: %v; want an error naming access_denied", err)
	}
}

func TestLoginWithoutProviderConfig(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := (&auth.Login{Gateway: srv.URL}).Run(t.Context()); err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Fatalf("gateway without a login provider: %v", err)
	}
}
