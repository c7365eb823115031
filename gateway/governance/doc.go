// Package governance decides which rate limits and budgets a request falls under: it compiles
// the configured rules once per snapshot and, for each request, appends the limiter.Check and
// budget.Check values of every matching rule, with the bucket that the rule's applies_per
// gives the request.
//
// # What it is for
//
// The request pipeline calls Rules.Match once per request with the principal, the model and
// the request's metadata (ParseMetadata reads it from the X-LLMGW-Metadata header), fills in
// each check's Amount (its estimate of tokens or cost), and hands the checks to the limiter and
// the budget ledger. This package holds no counters, reads no clock and enforces nothing; it is
// not the place for prices, estimates or refusals. It imports no storage: the store fills the
// plain rule types in snapshot.Config.
//
// # Matching
//
// Every matching rule applies (TrueFoundry's "V2" semantics: every matching rule must allow a
// request and usage counts against each of them; rule order does not matter). A rule's
// condition is the AND of its three parts, and an empty part matches every request:
//   - subjects: any of "user:<name>", "team:<name>" (any of the caller's teams; a virtual
//     account's team counts), "virtualaccount:<name>", or "*";
//   - models: any of "*", "<account>/*", "<account>/<model>" (the model serving the request,
//     or the name the request asked for when it was routed to another: a virtual model, or a
//     model a routing rule sent elsewhere; a virtual model's name is "<group>/<name>");
//   - metadata: every key present in the request's metadata with exactly the given value.
//
// # Buckets
//
// applies_per (at most two of "user", "team", "virtualaccount", "model", "metadata.<key>")
// splits a rule into one counter per value; the bucket key joins the parts in the rule's order
// as "<dimension>:<value>" with '|', for example "user:alice|metadata.project:x" ('|' and '\'
// in values are escaped with '\'). A rule without applies_per has the one bucket "".
//   - A request without a value for a dimension (a virtual account has no user, a user has no
//     team, the metadata key is absent) counts in the bucket of the empty value ("user:"): all
//     such requests share one counter, so they cannot escape the limit by leaving it out.
//   - "team" for a caller in several teams gives one check per team, so the request counts in
//     each of its teams' buckets. When the rule's subjects name some of the caller's teams,
//     only those teams count: a rule for "team:ml" charges the ml bucket of a user in ml and
//     ops, not the ops one.
//
// Match allocates nothing for a request that matches only rules whose buckets it has seen
// before under the current snapshot: bucket keys are interned (up to a fixed number per
// snapshot, so that clients sending ever new metadata values cannot grow memory without bound).
package governance
