// Package batch holds what the gateway adds to OpenAI's Files and Batch APIs so that they
// can be relayed with no state of their own: sealed ids that name the model (and so the
// provider account) and the owner, the rewriting of batch input files (authorization and the
// upstream model name, line by line), and the rewriting of the upstream's file and batch
// objects before a client sees them.
package batch

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// Kind is what a sealed id names. Each kind has OpenAI's id prefix, so that clients that
// look at prefixes see what they expect, and its own MAC domain, so one kind's id is never
// accepted as another's.
type Kind int

const (
	// File is an upstream file: "file-...".
	File Kind = iota
	// Batch is an upstream batch: "batch_...".
	Batch
)

func (k Kind) prefix() string {
	if k == Batch {
		return "batch_"
	}
	return "file-"
}

// macSize is the length of an id's MAC: 128 bits, beyond guessing.
const macSize = 16

// IDs seals and opens the ids the gateway hands out. An id carries the route (a model's FQN,
// or only its account), the upstream's own id, and a MAC over both, the kind and the owner
// (snapshot.Principal.Name), so that only its owner can use it and nobody can forge one. The
// key must be the same on every replica and across restarts. IDs is safe for concurrent use.
type IDs struct {
	key []byte
}

// NewIDs returns the sealer for key, which should be at least 32 random bytes.
func NewIDs(key []byte) *IDs { return &IDs{key: append([]byte(nil), key...)} }

// Seal returns the id of upstream for owner, routed to route.
func (s *IDs) Seal(k Kind, owner, route, upstream string) string {
	payload := binary.AppendUvarint(nil, uint64(len(route)))
	payload = append(payload, route...)
	payload = append(payload, upstream...)
	out := append(payload, s.mac(k, owner, payload)...)
	return k.prefix() + base64.RawURLEncoding.EncodeToString(out)
}

// Open returns the route and upstream id of id, or ok false when id is not one Seal made for
// owner and this kind.
func (s *IDs) Open(k Kind, owner, id string) (route, upstream string, ok bool) {
	enc, found := strings.CutPrefix(id, k.prefix())
	if !found {
		return "", "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(raw) <= macSize {
		return "", "", false
	}
	payload, mac := raw[:len(raw)-macSize], raw[len(raw)-macSize:]
	if !hmac.Equal(mac, s.mac(k, owner, payload)) {
		return "", "", false
	}
	n, w := binary.Uvarint(payload)
	if w <= 0 || n > uint64(len(payload)-w) {
		return "", "", false
	}
	rest := payload[w:]
	return string(rest[:n]), string(rest[n:]), true
}

func (s *IDs) mac(k Kind, owner string, payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte{byte(k)})
	m.Write(binary.AppendUvarint(nil, uint64(len(owner))))
	m.Write([]byte(owner))
	m.Write(payload)
	return m.Sum(nil)[:macSize]
}

// OwnerTag is a short, unforgeable name of owner that the gateway writes upstream (into a
// file's name and a batch's metadata) to find the owner's objects in the account's lists.
// It reveals nothing about the owner to the provider.
func (s *IDs) OwnerTag(owner string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("owner-tag\x00"))
	m.Write([]byte(owner))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// Account is the provider account of a route: the FQN's part before its first "/", or the
// whole route when it names only an account.
func Account(route string) string {
	a, _, _ := strings.Cut(route, "/")
	return a
}
