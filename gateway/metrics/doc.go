// Package metrics is the gateway's Prometheus metrics: requests, tokens and cost by model;
// latency, time-to-first-token and gateway-overhead histograms; per target, attempts by
// outcome, upstream errors by class, speed (TPOT, TTFT), circuit state and health; rate-limit
// and budget refusals by rule; the usage queue; the configuration snapshot's revision and age.
//
// Requests are recorded synchronously on the request path, from the one usage event every
// inference request ends with (Metrics.Wrap puts the recording in front of the usage queue,
// so nothing is lost when the queue is full), with atomic counters and no allocation once a
// series exists. State that already lives elsewhere (circuits, the snapshot, queue depths) is
// read when Prometheus scrapes.
//
// Label values come from the configuration snapshot or from fixed sets, never from a client:
// a model name the snapshot does not know is counted as model="unknown", and every other
// label has a cap on its values (see Unknown and Other), so no request can add a series.
//
// It is not the usage analytics (per-user cost lives in the usage events) and makes no I/O of
// its own.
package metrics
