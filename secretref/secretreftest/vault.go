package secretreftest

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Vault is a fake HashiCorp Vault server with KV version 2 secrets engines, speaking the
// documented read API: GET /v1/<mount>/data/<path> with the token in X-Vault-Token answers
// {"data": {"data": {...}, "metadata": {...}}}; a wrong token is 403, an unknown secret 404,
// and a server SetDown is sealed (503), each with Vault's {"errors": [...]} body. Serve it
// with httptest. It is safe for concurrent use.
type Vault struct {
	Token string

	mu      sync.Mutex
	secrets map[string]map[string]string // "<mount>/<path>" -> data
	version map[string]int
	down    bool
	reads   int
}

// NewVault returns a fake Vault that accepts token.
func NewVault(token string) *Vault {
	return &Vault{Token: token, secrets: map[string]map[string]string{}, version: map[string]int{}}
}

// Put writes a new version of the secret at mountPath ("<mount>/<path>") with data.
func (v *Vault) Put(mountPath string, data map[string]string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.secrets[mountPath] = data
	v.version[mountPath]++
}

// SetDown seals the fake (every read 503) or unseals it.
func (v *Vault) SetDown(down bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.down = down
}

// Reads returns how many reads reached the fake.
func (v *Vault) Reads() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.reads
}

// Backend returns the fake as the Backend of the one key key of the secret at mountPath.
func (v *Vault) Backend(mountPath, key string) Backend { return vaultBackend{v, mountPath, key} }

type vaultBackend struct {
	v              *Vault
	mountPath, key string
}

func (b vaultBackend) Set(value string) {
	b.v.Put(b.mountPath, map[string]string{b.key: value, "note": "other data"})
}
func (b vaultBackend) SetDown(down bool) { b.v.SetDown(down) }

func vaultErr(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string][]string{"errors": {msg}})
}

func (v *Vault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.reads++
	if v.down {
		vaultErr(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	if r.Header.Get("X-Vault-Token") != v.Token {
		vaultErr(w, http.StatusForbidden, "permission denied")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	mount, path, ok2 := strings.Cut(rest, "/data/")
	if r.Method != http.MethodGet || !ok || !ok2 {
		vaultErr(w, http.StatusNotFound, "no handler for route")
		return
	}
	data, ok := v.secrets[mount+"/"+path]
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errors":[]}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"request_id": "00000000-0000-0000-0000-000000000000", "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": map[string]any{
			"data": data,
			"metadata": map[string]any{"created_time": time.Unix(1700000000, 0).UTC().Format(time.RFC3339Nano), "custom_metadata": nil,
				"deletion_time": "", "destroyed": false, "version": v.version[mount+"/"+path]},
		},
		"wrap_info": nil, "warnings": nil, "auth": nil,
	})
}
