// Package embedded is the usage store of the single-process default: usage events in their
// own SQLite file in the data directory, written in batches off the request path and read by
// the Usage API (it implements query.Querier). It is what events go to when no Kafka is
// configured, so a gateway started with nothing else installed still answers "who used what".
//
// Layout. Every event row has an integer key that orders it by time: the event's time in
// milliseconds shifted left by 20 bits, plus a sequence number within that millisecond. The
// events table is therefore stored in time order, and a time range is one contiguous scan of
// it (or of an index keyed by (dimension, key)), which keeps the queries fast at millions of
// rows. Teams and metadata, which an event has several of, live in their own tables keyed by
// (key, ...) with an index from their value; the full event (its wire form) and its logged
// bodies live apart from the narrow rows the aggregates scan.
//
// It is not the ClickHouse store (analytics/clickhouse), nor the queue in front of it
// (gateway/usage.Queue).
package embedded
