// Package gitops applies a declarative config file to a running llmgw through its Admin API
// and reads the stored resources back as YAML: `llmgw apply` and `llmgw get`.
//
// The file is the one `llmgw serve --config` reads (package configfile parses it, TrueFoundry's
// documents included). Each resource in it is compared with the server's copy, read through
// the Admin API, and reported as created, changed (with the fields that differ) or unchanged;
// applying writes only what is created or changed. Like serve's file, apply is additive:
// resources the file does not name are left alone.
//
// Secrets never leave the process in output: a provider key or webhook secret is shown by the
// reference it came from (env://NAME, file://path), and `get` shows stored ones as redacted,
// since the Admin API never returns them. Because the server does not return secrets, apply
// cannot tell whether a stored one differs from the file's: it writes a secret when the
// resource is created or has none, and rewrites stored ones only when asked (UpdateSecrets).
//
// It is not the server side: it holds no store and talks to the server only as an Admin API
// client. The Admin API's own config methods (ExportConfig, PlanConfig, ApplyConfig in
// services/admin, behind the web app's Config page) run it in process against the service,
// through its role table, reading the caller's YAML with ReadStored, which resolves nothing
// from the server's environment or files.
package gitops
