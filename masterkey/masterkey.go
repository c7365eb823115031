// Package masterkey holds llmgw's master key: how it is written, the keys derived from it, and
// the sealing of secrets under it. It is a leaf: the store (which keeps secrets sealed in the
// database) and a gateway replica (which keeps its saved config sealed, and never links the
// store) both use it.
package masterkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Size is the length of the master key in bytes (AES-256).
const Size = 32

// FileName is the file in a data directory that holds the master key when LLMGW_MASTER_KEY
// is unset: the store creates it; a gateway replica only reads it.
const FileName = "master.key"

// sealVersion starts every sealed value, so the format can change later.
const sealVersion byte = 1

// Parse decodes a master key given as standard or URL-safe base64 (padded or not) or as hex;
// it must decode to exactly 32 bytes.
func Parse(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*Size {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != Size {
				return nil, fmt.Errorf("master key is %d bytes, want %d", len(b), Size)
			}
			return b, nil
		}
	}
	return nil, errors.New("master key is neither base64 nor hex of 32 bytes")
}

// Derive returns a 32-byte key for purpose, derived from the master key with HKDF-SHA256, so
// every process with the same master key derives the same key and no purpose's key reveals the
// master key or another purpose's key.
func Derive(master []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, master, nil, "llmgw "+purpose, 32)
	if err != nil {
		panic(err) // only for a length HKDF-SHA256 cannot produce; 32 is not one
	}
	return k
}

// Sealer encrypts secrets with AES-256-GCM under the master key. A sealed value is a version
// byte, a random 12-byte nonce and the ciphertext with its tag. The additional data binds a
// sealed value to the row it belongs to, so ciphertexts cannot be swapped between rows.
// A Sealer is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != Size {
		return nil, fmt.Errorf("master key is %d bytes, want %d", len(key), Size)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new gcm: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to additionalData.
func (s *Sealer) Seal(plaintext, additionalData []byte) []byte {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	_, _ = rand.Read(out[1:]) // crypto/rand.Read never fails on supported platforms.
	return s.aead.Seal(out, out[1:], plaintext, additionalData)
}

// Open decrypts a value from Seal with the same additional data. It fails when the value was
// sealed under another key or for another row, or was altered.
func (s *Sealer) Open(sealed, additionalData []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, errors.New("open sealed value: malformed")
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], additionalData)
	if err != nil {
		return nil, fmt.Errorf("open sealed value (wrong master key?): %w", err)
	}
	return plain, nil
}
