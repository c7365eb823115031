// Package bucket is the storage and locking that the limiter and the budget ledger share: a
// sharded table of counters ("buckets") keyed by (rule, unit, bucket key), each with its own
// mutex, and the all-or-nothing locking of the distinct buckets one request touches.
//
// # What it is for
//
// A Table maps a Key to a bucket of the caller's type, which embeds Mutex. Look-ups take a
// shard's read lock only; a bucket is created once, under the shard's write lock, and keeps
// its place in the lock order (an id from a counter) for life. Prune removes buckets and
// marks them dead, so that a request that looked a bucket up before the prune finds out once
// it holds the bucket's lock and looks the key up again, and its counts never go to a bucket
// nobody can see any more.
//
// A Set collects the distinct buckets of one request and locks them in ascending id order, so
// two requests locking overlapping sets cannot deadlock; it locks all of them or, when one is
// dead, none. Holds keeps a request's per-check state in place for up to Inline checks, so
// that a request on that many buckets does not allocate.
//
// # What it is not for
//
// It knows nothing about windows, periods, limits or alerts: what a bucket counts and when a
// bucket is idle are the caller's (the limiter's sub-window ring, the ledger's periods). It is
// not a general concurrent map, and it holds nothing across processes.
package bucket
