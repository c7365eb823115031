// Package secretref reads secrets that the config file names by reference to a secret
// manager (aws-ssm://, aws-sm://, gcp-sm://, azure-kv://, vault://), keeps their last values
// in memory and refreshes them on an interval, off the request path.
//
// This package holds what every manager shares and imports no SDK: the reference syntax
// (Parse), the Fetcher interface and the Cache. Each manager's Fetcher lives in its own
// package (secretrefaws, secretrefgcp, secretrefazure, secretrefvault), so only the process
// wiring that builds them carries the SDKs. It is not for env:// and file:// references,
// which configfile resolves once at start.
//
// A secret's value is held only in memory: it is never logged (errors are scrubbed of every
// value the cache holds), never written anywhere, and reaches the gateway through the
// snapshot the caller builds from Cache.Value.
package secretref
