// Package ent is the generated ent client for the admin configuration. Only package store
// (and the snapshot loader through it) uses it.
package ent

//go:generate go tool ent generate --feature sql/versioned-migration,sql/execquery ./schema
