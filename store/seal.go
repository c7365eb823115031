package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeySize is the length of the master key in bytes (AES-256).
const MasterKeySize = 32

// sealVersion starts every sealed value, so the format can change later.
const sealVersion byte = 1

// masterKeyFile is the file in Options.DataDir that holds a generated master key.
const masterKeyFile = "master.key"

// ParseMasterKey decodes a master key given as standard or URL-safe base64 (padded or not) or
// as hex; it must decode to exactly 32 bytes.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*MasterKeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != MasterKeySize {
				return nil, fmt.Errorf("master key is %d bytes, want %d", len(b), MasterKeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("master key is neither base64 nor hex of 32 bytes")
}

// loadOrCreateMasterKey reads master.key from dir, or creates it (mode 0600) with a fresh key.
func loadOrCreateMasterKey(dir string) ([]byte, error) {
	if dir == "" {
		return nil, errors.New("no master key given and no data directory to keep one in")
	}
	path := filepath.Join(dir, masterKeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err := ParseMasterKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		return key, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("read master key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	key := make([]byte, MasterKeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		// Another process created it first: use theirs.
		return loadOrCreateMasterKey(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("create master key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write master key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write master key: %w", err)
	}
	return key, nil
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
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("master key is %d bytes, want %d", len(key), MasterKeySize)
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

// sealed returns a stored sealed value, or nil when none is stored. ent reads a NULL bytes
// column into a non-nil pointer to an empty slice, so emptiness is what marks "no secret".
func sealed(p *[]byte) []byte {
	if p == nil || len(*p) == 0 {
		return nil
	}
	return *p
}
