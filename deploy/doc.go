// Package deploy holds llmgw's deployment manifests (kubernetes/: a kustomize base) and the
// test that checks them, and docker-compose.yaml at the repository root, against the
// commands' own flag definitions. It has no code.
package deploy
