package snapshot

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// KeyPrefix starts every API key the gateway issues, so leaked keys are recognizable.
const KeyPrefix = "llmgw-"

// KeyHash is the stored form of an API key or admin token: hex SHA-256. Keys carry 256 random
// bits, so a fast hash is enough and keeps authentication at one map lookup.
func KeyHash(secret string) string {
	var h [hashLen]byte
	return string(keyHash(&h, secret))
}

// hashLen is the length of a KeyHash.
const hashLen = 2 * sha256.Size

// keyHash writes KeyHash(secret) into h and returns it, so a lookup by it allocates nothing.
func keyHash(h *[hashLen]byte, secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	hex.Encode(h[:], sum[:])
	return h[:]
}

// NewKeySecret returns a fresh random API key.
func NewKeySecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// KeyDisplayPrefix is the part of a secret shown in listings.
func KeyDisplayPrefix(secret string) string {
	const n = len(KeyPrefix) + 6
	if len(secret) < n {
		return secret
	}
	return secret[:n]
}
