// Package pool is the control-plane side of the lease protocol (package gateway/lease): it
// keeps the global count of every rate-limit window and budget period across the gateway
// replicas and leases each replica a share of each key's remaining capacity.
//
// # Accounting
//
// Per key the pool keeps what the replicas reported as used (a rate limit's rolling window,
// cut into the limiter's 60 sub-windows; a budget's spend in its period) and each replica's
// outstanding lease. Usage is counted when it is reported, which is never before it happened,
// so a window counts everything admitted within it (the limiter's conservative error plus
// one sync interval). A grant never takes used + outstanding leases over the limit; a lease
// shrinks only by what its replica reports or hands back, or when it expires (not renewed
// within the TTL), so a replica never admits on capacity the pool has given to another.
//
// Bound: with every replica syncing, at any instant used + leases <= limit, and a replica
// admits only within its lease, so no rolling window (and no budget period) admits more than
// the limit, except by what replicas admit outside a lease: one bridge request per replica
// and key (see gateway/lease) and, while the control plane is unreachable, what fail-open
// local accounting admits.
//
// # Exactly once
//
// Each replica numbers its requests; the pool applies a request's usage only when its Seq is
// above the replica's last applied one, and answers a repeated request with the replica's
// current leases without applying it again. With a Store, the counts and the last applied
// sequences are saved together before the answer leaves, so a restarted control plane
// neither forgets nor double-counts.
//
// # Grants
//
// A replica asking for more on a key gets max(free / (2 * sharing replicas), min), capped by
// free, where free = limit - used - every outstanding lease, sharing replicas are those that
// hold a lease on the key (and the one asking), and min is the largest single request the replica saw (so a grant
// can always admit one when the pool has room). It gets the fair share rather than what it
// asked for: the ask comes from recent demand and lags a burst, and a replica hands back, at
// its next sync, lease beyond twice what its demand needs. Halving what is free at each grant
// leaves room for the replicas that ask next.
package pool
