package store

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/llmgw/llmgw/masterkey"
)

// loadOrCreateMasterKey reads master.key from dir, or creates it (mode 0600) with a fresh key.
func loadOrCreateMasterKey(dir string) ([]byte, error) {
	if dir == "" {
		return nil, errors.New("no master key given and no data directory to keep one in")
	}
	path := filepath.Join(dir, masterkey.FileName)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err := masterkey.Parse(string(b))
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
	key := make([]byte, masterkey.Size)
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

// sealed returns a stored sealed value, or nil when none is stored. ent reads a NULL bytes
// column into a non-nil pointer to an empty slice, so emptiness is what marks "no secret".
func sealed(p *[]byte) []byte {
	if p == nil || len(*p) == 0 {
		return nil
	}
	return *p
}
