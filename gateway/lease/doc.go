// Package lease spreads rate limits and budgets over several gateway replicas: the data-plane
// side of the lease protocol. The control plane (package control/pool) keeps the global count
// of every rate-limit window and budget period and leases each replica a share of each key's
// remaining capacity; a replica admits within its lease with no network call on the request
// path, reports what it used, and asks for more in the background before it runs out.
//
// # Keys, leases and the request path
//
// A Key is one counter of one rule: the rule id, its unit, the bucket its applies_per builds,
// and, for a budget, the period. Leases.Take is called by the quota guard with the checks the
// local limiter and ledger are about to admit; for every check it takes the amount from the
// replica's lease of that key, or refuses. The local limiter and ledger still run after it, so
// a replica never admits more than the full limit by itself. Take and Claim.Settle lock one
// short mutex per key and do not allocate for up to eight checks on keys already seen.
//
// Per key a replica holds: avail, the lease it may still take from; held, what in-flight
// requests took from it; pending, usage settled since the last acknowledged sync. The control
// plane's lease for the replica is avail + held + pending (+ the usage of the request in
// flight): a sync reports pending and whatever the replica hands back, and the answer carries
// the lease as an absolute amount, so a lost or repeated answer never makes the two drift.
//
// # Sync
//
// Sync builds one Request: a per-replica sequence number and, for every key with something to
// report or a lease due for renewal (less than half its TTL left), the usage since the last
// acknowledged sync, the unused lease it releases, and the capacity it wants (from its recent
// demand). It calls the Exchanger; on failure the same Request, with the same
// sequence and the same deltas, is sent again by the next Sync, and the control plane applies
// a sequence once, so usage is merged exactly once whatever is lost. Run calls Sync every
// interval and at once when a lease falls below its low-water mark (Wake).
//
// # When there is no lease
//
//   - A key never leased (or whose lease lapsed) while the control plane answers: the replica
//     admits one request at a time on it (a bridge) and syncs at once. This is where the only
//     overshoot of a reachable control plane comes from: one in-flight request per replica and
//     key, so a budget is overshot by at most one request's maximum cost per replica.
//   - The control plane unreachable (the last exchange failed) and the lease exhausted or
//     expired: the rule's Policy decides. FailOpen (the default) admits with local accounting:
//     the check's limit is lowered to ceil(limit / replicas), where replicas is the larger of
//     WithReplicas and the number of active gateways the control plane last reported; the
//     local limiter and ledger, which count everything this replica admitted, enforce it.
//     FailClosed refuses. What is admitted either way is reported once the control plane
//     answers again.
//
// It holds no transport: the process wiring maps Request and Response to its RPC.
package lease
