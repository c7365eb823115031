// Package store is the durable home of the gateway's admin configuration, on SQLite (pure Go,
// for a single node) or Postgres (for several). It validates every write, seals provider
// secrets with AES-256-GCM under a master key, keeps only hashes of API keys, and produces the
// snapshot.Config the data plane compiles.
//
// It speaks the Admin API's messages (package adminv1) so the admin service stays thin, and it
// returns *apierr.Error values (possibly wrapped) for every error a client caused: invalid
// arguments naming the offending field, not found, already exists. When the database cannot be
// reached, reads and writes return the unavailable kind with UnreachableMessage. Any other error
// is internal.
//
// It is not on the request path: the data plane reads only the snapshot.
package store
