package app

import (
	"context"
	"io"
)

// Serve runs `llmgw serve` with args (the serve flags, without the subcommand) until ctx is
// canceled, and returns when the server has shut down. ready, when not nil, is called once
// with the bound address when the server accepts connections, so a caller can listen on
// 127.0.0.1:0 and learn the port. It is what out-of-package tests (the conformance suite) use
// to run a real gateway in process; cmd/llmgw calls Run.
func Serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(addr string)) error {
	cfg, err := parseFlags("serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, getenv, stderr, &hooks{ready: ready})
}
