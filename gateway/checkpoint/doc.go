// Package checkpoint keeps the rate-limit counters (package limiter) and budget spend (package
// budget) of a process across restarts: it loads them at start, saves them in the background
// every interval (one second in llmgw) when they changed, and once more at shutdown.
//
// # What it is for
//
// The limiter and the ledger count in memory so that no request waits on a database; this
// package is what makes that memory durable. It runs beside the request path, never on it:
// a save reads each engine's Snapshot (every bucket locked briefly, one at a time) and writes
// to the Store from its own goroutine. A Store that is down makes saves fail quietly, with a
// rate-limited warning, and they are retried at the next tick; requests never notice.
//
// Bound: a crash loses at most what was counted since the last successful save (one interval
// while the database answers); a graceful shutdown, which saves after the last request has
// settled, loses nothing. Budget reservations outstanding at a crash are loaded as spend at
// their reserved maximum (the requests may have reached the provider), like the limiter, whose
// token counts hold outstanding reservations at their reserved amount.
//
// It is not for sharing counters between replicas: each process saves its own state under
// the same keys, so with several replicas on one database the last to save wins, and a
// restarted replica starts from that one's state.
//
// # Encoding
//
// Each engine is stored under its own key (LimiterKey, BudgetKey) as compact JSON carrying a
// version, {"v":1,...}; units are written by their config names and times as Unix seconds, so
// the encoding does not depend on the engines' internal numbering. A limiter bucket is one
// entry whose counts run sub-window by sub-window from its oldest counted sub-window. A value
// that does not decode, or has an unknown version, is logged and ignored: the engine starts
// empty and the next save replaces the value.
package checkpoint
