package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/llmgw/llmgw/client/auth"
)

// clientFlags are the flags of login, token and env.
type clientFlags struct {
	gateway   string
	configDir string
	scopes    string
}

func parseClientFlags(name string, args []string, getenv func(string) string, stderr io.Writer) (*clientFlags, error) {
	c := &clientFlags{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.gateway, "gateway", getenv("LLMGW_GATEWAY"), "the gateway's URL, such as https://llmgw.example.com (default for token and env: the last login) (LLMGW_GATEWAY)")
	fs.StringVar(&c.configDir, "config-dir", getenv("LLMGW_CLIENT_DIR"), "where credentials are kept (default: the user's config directory + /llmgw) (LLMGW_CLIENT_DIR)")
	if name == "login" {
		scopes := getenv("LLMGW_LOGIN_SCOPES")
		if scopes == "" {
			scopes = strings.Join(auth.DefaultScopes, " ")
		}
		fs.StringVar(&c.scopes, "scopes", scopes, "OAuth scopes to request, space separated; add groups for providers such as Dex (LLMGW_LOGIN_SCOPES)")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if name == "login" && c.gateway == "" {
		return nil, errors.New("login: --gateway is required")
	}
	return c, nil
}

func (c *clientFlags) store() (*auth.Store, error) {
	if c.configDir != "" {
		return &auth.Store{Dir: c.configDir}, nil
	}
	return auth.DefaultStore()
}

// login runs `llmgw login`: it logs in to the gateway's identity provider and stores the
// credentials.
func login(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseClientFlags("login", args, getenv, stderr)
	if err != nil {
		return err
	}
	st, err := c.store()
	if err != nil {
		return err
	}
	cred, err := (&auth.Login{Gateway: c.gateway, Out: stderr, Scopes: strings.Fields(c.scopes),
		Client: &http.Client{Timeout: 30 * time.Second}}).Run(ctx)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if err := st.Save(cred); err != nil {
		return fmt.Errorf("login: store credentials: %w", err)
	}
	fmt.Fprintf(stdout, "Logged in to %s; credentials in %s\n", cred.Gateway, filepath.Join(st.Dir, "credentials.json"))
	return nil
}

// clientToken returns a valid token and the gateway, refreshing the token when it expires
// within a minute.
func clientToken(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer) (token, gateway string, err error) {
	c, err := parseClientFlags(name, args, getenv, stderr)
	if err != nil {
		return "", "", err
	}
	st, err := c.store()
	if err != nil {
		return "", "", err
	}
	src, err := auth.NewSource(st, c.gateway, auth.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	if err != nil {
		return "", "", err
	}
	tok, err := src.Token(ctx)
	return tok, src.Gateway(), err
}

// printToken runs `llmgw token`.
func printToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	tok, _, err := clientToken(ctx, "token", args, getenv, stderr)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// printEnv runs `llmgw env`: lines for a POSIX shell's eval.
func printEnv(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	tok, gw, err := clientToken(ctx, "env", args, getenv, stderr)
	if err != nil {
		return err
	}
	for _, kv := range [][2]string{
		{"OPENAI_BASE_URL", gw + "/v1"},
		{"OPENAI_API_KEY", tok},
		{"ANTHROPIC_BASE_URL", gw},
		{"ANTHROPIC_AUTH_TOKEN", tok},
	} {
		if _, err := fmt.Fprintf(stdout, "export %s=%s\n", kv[0], shellQuote(kv[1])); err != nil {
			return err
		}
	}
	return nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
