package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Credentials are what a login keeps for one gateway.
type Credentials struct {
	Gateway  string `json:"gateway"`
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	TokenURL string `json:"token_url"`
	// RefreshToken gets new tokens without the user.
	RefreshToken string `json:"refresh_token,omitempty"`
	// Token is the bearer token for the gateway, valid until Expiry.
	Token  string    `json:"token"`
	Expiry time.Time `json:"expiry"`
}

// Store keeps credentials in one file, credentials.json in Dir, readable by the user only
// (0600, in a 0700 directory). It is not safe for concurrent writes by several processes
// beyond what an atomic rename gives: the last writer wins.
type Store struct {
	Dir string
}

// DefaultStore is the store in the user's config directory: os.UserConfigDir()/llmgw.
func DefaultStore() (*Store, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return nil, err
	}
	return &Store{Dir: filepath.Join(d, "llmgw")}, nil
}

// file is the stored form: credentials by gateway URL, and the gateway logged in last.
type file struct {
	Current  string                  `json:"current"`
	Gateways map[string]*Credentials `json:"gateways"`
}

// ErrNotLoggedIn is returned by Load when there are no credentials for the gateway.
var ErrNotLoggedIn = errors.New("not logged in: run 'llmgw login --gateway <url>'")

func (s *Store) path() string { return filepath.Join(s.Dir, "credentials.json") }

func (s *Store) read() (*file, error) {
	b, err := os.ReadFile(s.path())
	if errors.Is(err, fs.ErrNotExist) {
		return &file{Gateways: map[string]*Credentials{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", s.path(), err)
	}
	if f.Gateways == nil {
		f.Gateways = map[string]*Credentials{}
	}
	return &f, nil
}

// NormalizeGateway is the form gateway URLs are stored under: without a trailing slash.
func NormalizeGateway(u string) string { return strings.TrimRight(u, "/") }

// Load returns the credentials for gateway, or for the gateway logged in last when gateway
// is empty.
func (s *Store) Load(gateway string) (*Credentials, error) {
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	if gateway == "" {
		gateway = f.Current
	}
	c, ok := f.Gateways[NormalizeGateway(gateway)]
	if !ok {
		return nil, ErrNotLoggedIn
	}
	return c, nil
}

// Save stores c and makes its gateway the current one. The file is written to a temporary
// file with mode 0600 and renamed over the old one.
func (s *Store) Save(c *Credentials) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	f, err := s.read()
	if err != nil {
		return err
	}
	c.Gateway = NormalizeGateway(c.Gateway)
	f.Gateways[c.Gateway] = c
	f.Current = c.Gateway
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.Dir, ".credentials-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path())
}
