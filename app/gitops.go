//go:build !llmgw_gateway_only

package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/llmgw/llmgw/gitops"
)

// serverFlags are the flags apply and get share: where the Admin API is.
type serverFlags struct {
	server  string
	timeout time.Duration
}

func newServerFlags(name string, getenv func(string) string, stderr io.Writer) (*flag.FlagSet, *serverFlags, *envReader) {
	e := &envReader{getenv: getenv}
	s := &serverFlags{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&s.server, "server", e.str("LLMGW_SERVER", "http://127.0.0.1:8080"), "base URL of the llmgw server (the control plane) whose Admin API is called (LLMGW_SERVER)")
	fs.DurationVar(&s.timeout, "timeout", e.duration("LLMGW_CLIENT_TIMEOUT", 30*time.Second), "bound on each Admin API call (LLMGW_CLIENT_TIMEOUT)")
	return fs, s, e
}

// client is an Admin API client of s.server with the admin token from LLMGW_ADMIN_TOKEN.
func (s *serverFlags) client(getenv func(string) string) (gitops.Client, error) {
	tok := getenv("LLMGW_ADMIN_TOKEN")
	if tok == "" {
		return nil, errors.New("LLMGW_ADMIN_TOKEN is not set: apply and get call the Admin API with the admin token")
	}
	return gitops.NewClient(&http.Client{Timeout: s.timeout}, s.server, tok), nil
}

// apply runs `llmgw apply -f FILE [--dry-run] [--show-diff] [--update-secrets]`.
func apply(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, sf, e := newServerFlags("apply", getenv, stderr)
	file := fs.String("f", "", "config file to apply, in the shapes of serve --config")
	dryRun := fs.Bool("dry-run", false, "print what would change and write nothing")
	showDiff := fs.Bool("show-diff", false, "print every field of created resources and the old and new value of changed fields")
	updateSecrets := fs.Bool("update-secrets", false, "rewrite the file's secrets on resources that have one stored (the server never returns secrets, so apply cannot compare them)")
	if err := e.err(); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || fs.NArg() > 0 {
		return errors.New("usage: llmgw apply -f FILE [--dry-run] [--show-diff] [--update-secrets] [--server URL]")
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	f, err := gitops.Read(data, getenv)
	if err != nil {
		return fmt.Errorf("config %s: %w", *file, err)
	}
	c, err := sf.client(getenv)
	if err != nil {
		return err
	}
	plan, err := gitops.NewPlan(ctx, c, f, gitops.Options{UpdateSecrets: *updateSecrets})
	if err != nil {
		return err
	}
	if err := plan.Write(stdout, *showDiff); err != nil {
		return err
	}
	if *dryRun {
		fmt.Fprintln(stdout, "dry run: nothing was written")
		return nil
	}
	n, err := plan.Apply(ctx, c)
	if err != nil {
		return fmt.Errorf("applied %d of %d: %w", n, plan.Count(gitops.Created)+plan.Count(gitops.Changed), err)
	}
	fmt.Fprintf(stdout, "applied: %d written\n", n)
	return nil
}

// get runs `llmgw get KIND`.
func get(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, sf, e := newServerFlags("get", getenv, stderr)
	if err := e.err(); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return fmt.Errorf("usage: llmgw get KIND [--server URL]; KIND is all or one of %v", gitops.Kinds())
	}
	kind := rest[0]
	if err := fs.Parse(rest[1:]); err != nil { // flags after the kind
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("get takes one kind, got %q too", fs.Arg(0))
	}
	c, err := sf.client(getenv)
	if err != nil {
		return err
	}
	return gitops.Get(ctx, c, kind, stdout)
}
