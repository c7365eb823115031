// Package schema is the ent schema of the admin configuration: provider accounts and models,
// users, teams, virtual accounts, API keys, authorization rules, routing configs, rate limits,
// budgets and settings. The client generated from it lives in the parent package; it holds no
// business logic (validation lives in package store).
package schema
