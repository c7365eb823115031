// Command loadbench is the fixed-rate load test behind `make bench`.
//
// It measures what a gateway adds on top of an upstream, four ways in one run:
// the fake upstream called directly, the same upstream behind a bare
// net/http/httputil.ReverseProxy (the floor for any gateway built on net/http),
// the same upstream behind llmgw with nothing enforced, and behind llmgw
// called with a user's key that an authz rule, three rate limits and two
// budgets all govern (llmgw-governed). For each target it reports the p50, mean
// and p99 latency, the latency added over the direct call, the CPU time the
// target process spent per request and its resident memory (now and peak),
// with the process under test pinned to its own core. It measures at one or
// several fixed rates (-rate, -rates), plain or streamed requests (-stream),
// or searches each target's highest rate that holds (-saturate).
//
// Subcommands:
//
//	loadbench upstream -listen ADDR             fake OpenAI-compatible upstream
//	loadbench proxy -listen ADDR -upstream URL  bare httputil.ReverseProxy
//	loadbench run [flags]                       the whole benchmark (the default)
//
// The load generator is vegeta, pinned as a Go tool in the root go.mod and
// built once into the run's temporary directory. loadbench is a measuring
// harness, not a library: nothing in the module imports it, and it asserts
// only that targets answer (more than 1% non-2xx fails the run) and that the
// governed target's rules all counted the measured requests, never the speed
// goals, which it reports. See bench/README.md for the method.
package main
