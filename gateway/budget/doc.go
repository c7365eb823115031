// Package budget enforces spend budgets in memory: cost in USD and tokens per calendar period,
// per rule and per bucket, with a reservation before each call so that concurrent requests
// cannot overshoot.
//
// # What it is for
//
// The request pipeline builds one Check per matching budget rule with the bucket key it derives
// from the rule's applies_per, reserves the request's maximum amount with Ledger.Reserve
// before the call, and settles the reservation with the real amount after it (streams and
// client disconnects included). Like the limiter it knows nothing about subjects, prices or
// config: a rule is a stable id, a bucket an opaque string, and the limit travels with each
// Check, so a config change never resets spend. Snapshot and Restore carry spend across a
// restart; the caller stores it. Alerts are handed to a callback; delivering them (log line,
// usage event, webhooks) is the caller's job. It is not for cross-replica budgets and holds no
// database code.
//
// # Amounts
//
// Cost is counted in integer nano-dollars (1 USD = NanoPerUSD), so sums never drift the way
// float64 sums do and the smallest prices (a few tokens of an embedding model) still count;
// int64 holds budgets up to about 9.2 billion USD. Tokens are counted as they are.
//
// # Periods
//
// Periods are calendar periods in UTC: a day starts at 00:00 UTC, a week on Monday 00:00 UTC,
// a month on the 1st, a quarter on the 1st of January, April, July or October. Spend resets
// when a new period starts. A reservation is charged to the period it was made in, also when
// it settles in the next one: a request that starts at 23:59:59 and ends after midnight counts
// against the day it started in.
//
// # Reservation and the overshoot bound
//
// Reserve is all-or-nothing across every check: the buckets are locked together (in a fixed
// order, so concurrent calls cannot deadlock), and the request is refused when, for any
// enforced check, spend + outstanding reservations + this request's maximum would exceed the
// limit; then nothing is reserved anywhere. On one process a budget is therefore never
// overshot except by the estimate's error: the sum over settled requests of (real amount -
// reserved maximum) where that is positive. With an exact maximum (max output tokens at the
// output price), spend never exceeds the limit.
//
// A check in audit mode is reserved and settled like any other but never refuses; the
// Decision reports that it would have blocked.
//
// # Alerts
//
// Each check carries alert thresholds in percent of its limit (default 75, 90, 100). When a
// settle takes a bucket's spend (not its reservations) to or past a threshold for the first
// time in a period, the Ledger calls its alert callback once for that threshold, outside
// every lock; crossing several thresholds at once emits one alert for each, in ascending
// order. A new period re-arms every threshold.
package budget
