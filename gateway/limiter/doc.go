// Package limiter enforces rate limits in memory: requests and tokens per minute, hour and day,
// per rule and per bucket, never admitting more than the limit in any rolling window.
//
// # What it is for
//
// The request pipeline builds one Check per (matching rule, unit) with the bucket key it
// derives from the rule's applies_per (for example "user:alice|model:acct/m"), calls
// Limiter.Admit once per request, and later settles the token reservation with the real count.
// The limiter knows nothing about subjects, models or config files: a rule is a stable id, a
// bucket is an opaque string, and the limit travels with each Check, so a config change takes
// effect on the next request without touching any counter. Counters are keyed by (rule id,
// unit, bucket) and live in the Limiter, apart from any config snapshot: a rule whose id and
// unit stay the same keeps its counters across config changes; Prune drops the counters of
// rules that are gone. Snapshot and Restore carry the counters across a restart; the caller
// stores them. It is not for cross-replica limits, and it holds no database code.
//
// # Algorithm and its exact error
//
// Each unit's window W (a minute, an hour, a day) is cut into 60 fixed sub-windows of length
// S = W/60 aligned to the Unix epoch: 1 s for a minute, 1 min for an hour, 24 min for a day.
// A bucket counts what it admitted in each sub-window. A request arriving at t in sub-window k
// is admitted when the counts of sub-windows k-60 through k (61 of them: every sub-window
// that overlaps the rolling window (t-W, t]) plus its amount stay within the limit.
//
// Bound: in any rolling window of length W (open or closed), the admitted amount never exceeds
// the limit. Proof: take the last request admitted in that window, at t. Every other request
// in the window was admitted at a time in [t-W, t], so it sits in one of sub-windows k-60..k,
// all of which were counted when the last request was admitted.
//
// Error: only conservative. A request admitted in sub-window j counts until sub-window j+61
// starts, that is for more than W and at most W+S after it arrived, where an exact sliding
// log would count it for exactly W. So a request may be refused up to one sub-window (1/60 of
// the window: 1 s, 1 min, 24 min) earlier than an exact sliding log would admit it, and is
// never admitted when an exact sliding log would refuse it. Sixty sub-windows keep that error
// at 1.7 % of the window while a bucket stays a fixed 1 KiB ring that is updated in O(1).
//
// Time is read from the injected clock once per Admit, while the buckets involved are locked,
// so admission order and time order agree; a clock that steps back is treated as standing
// still at the newest sub-window a bucket has seen.
//
// # Tokens
//
// A token check reserves its Amount (the caller's estimate: prompt estimate plus maximum
// output) at admission, in the sub-window of admission. Reservation.Settle replaces the
// reserved amount with the real count in that same sub-window (never below zero); a
// reservation settled with the count the caller chooses covers errors. Because every admission
// counts outstanding reservations, concurrent requests overshoot a token limit by at most the
// sum of their estimates' errors (real minus estimated tokens, when positive).
//
// # Several rules
//
// Admit is all-or-nothing: the buckets of all checks are locked together (in a fixed order,
// so concurrent Admits cannot deadlock), every check is tested, and only when every enforced
// check fits is anything recorded. A refused request leaves no partial reservation behind, not
// even for an instant. A check in audit mode is counted like any other but never refuses; the
// Decision reports that it would have blocked.
package limiter
