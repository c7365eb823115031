package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "loadbench: %v\n", err)
		}
		os.Exit(1)
	}
}

// run dispatches to a subcommand: "upstream", "proxy", "kafka" or "run". With no
// subcommand, or when the first argument is a flag, it runs the benchmark.
// It returns when the subcommand is done or ctx is cancelled.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "upstream":
		return runUpstream(ctx, args, stderr)
	case "proxy":
		return runProxy(ctx, args, stderr)
	case "kafka":
		return runKafka(ctx, args, stderr)
	case "run":
		return runBench(ctx, args, stdout, stderr)
	default:
		return fmt.Errorf("unknown subcommand %q (want upstream, proxy, kafka or run)", cmd)
	}
}
