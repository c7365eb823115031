package secretref

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The schemes of secret-manager references.
const (
	// SchemeAWSSSM is aws-ssm://<parameter>: an AWS Systems Manager parameter, read with
	// decryption (a SecureString is returned in clear). A name that starts with "/" is written
	// aws-ssm:///path/to/param.
	SchemeAWSSSM = "aws-ssm"
	// SchemeAWSSM is aws-sm://<secret-id>[#json-key]: an AWS Secrets Manager secret (name or
	// ARN), its current version; with #json-key, that key of the secret's JSON object.
	SchemeAWSSM = "aws-sm"
	// SchemeGCPSM is gcp-sm://projects/<p>/secrets/<s>[/versions/<v>]: a Google Cloud Secret
	// Manager secret version (default latest).
	SchemeGCPSM = "gcp-sm"
	// SchemeAzureKV is azure-kv://<vault>/<secret>: the current version of an Azure Key Vault
	// secret; <vault> is the vault's name (https://<vault>.vault.azure.net) or, when it has a
	// dot, its host name (another cloud's vault domain).
	SchemeAzureKV = "azure-kv"
	// SchemeVault is vault://<mount>/<path>#<key>: key <key> of the latest version of a
	// HashiCorp Vault KV version 2 secret at <path> in the secrets engine mounted at <mount>.
	SchemeVault = "vault"
)

// Schemes returns every secret-manager scheme, in the order the docs list them.
func Schemes() []string {
	return []string{SchemeAWSSSM, SchemeAWSSM, SchemeGCPSM, SchemeAzureKV, SchemeVault}
}

// Ref is a parsed secret-manager reference. What Path holds depends on the scheme (see the
// Scheme constants); Key is the part after '#', when the scheme has one.
type Ref struct {
	Scheme string
	Path   string
	Key    string
	// Vault is azure-kv's vault (name or host); empty for other schemes.
	Vault string
}

// String returns the reference as written.
func (r Ref) String() string {
	s := r.Scheme + "://"
	if r.Vault != "" {
		s += r.Vault + "/"
	}
	s += r.Path
	if r.Key != "" {
		s += "#" + r.Key
	}
	return s
}

// IsRef reports whether s starts with a secret-manager scheme (it may still be malformed:
// Parse says).
func IsRef(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return false
	}
	return slices.Contains(Schemes(), scheme)
}

// Parse parses a secret-manager reference. Its errors name the reference and what is wrong.
func Parse(s string) (Ref, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !IsRef(s) {
		return Ref{}, fmt.Errorf("%q is not a secret-manager reference (%s)", s, strings.Join(Schemes(), "://, ")+"://")
	}
	r := Ref{Scheme: scheme}
	bad := func(msg string) (Ref, error) { return Ref{}, fmt.Errorf("secret reference %s: %s", s, msg) }
	path, key, hasKey := strings.Cut(rest, "#")
	if hasKey && key == "" {
		return bad("empty key after '#'")
	}
	if path == "" {
		return bad("nothing after " + scheme + "://")
	}
	r.Path, r.Key = path, key
	switch scheme {
	case SchemeAWSSSM:
		if hasKey {
			return bad("aws-ssm:// takes no #key: a parameter holds one value")
		}
	case SchemeAWSSM:
		// An id or ARN; the key is optional.
	case SchemeGCPSM:
		if hasKey {
			return bad("gcp-sm:// takes no #key")
		}
		parts := strings.Split(path, "/")
		switch {
		case len(parts) == 4 && parts[0] == "projects" && parts[2] == "secrets" && parts[1] != "" && parts[3] != "":
			r.Path += "/versions/latest"
		case len(parts) == 6 && parts[0] == "projects" && parts[2] == "secrets" && parts[4] == "versions" && parts[1] != "" && parts[3] != "" && parts[5] != "":
		default:
			return bad("want gcp-sm://projects/<project>/secrets/<secret>[/versions/<version>]")
		}
	case SchemeAzureKV:
		if hasKey {
			return bad("azure-kv:// takes no #key")
		}
		vault, name, ok := strings.Cut(path, "/")
		if !ok || vault == "" || name == "" || strings.Contains(name, "/") {
			return bad("want azure-kv://<vault>/<secret>")
		}
		r.Vault, r.Path = vault, name
	case SchemeVault:
		if !hasKey {
			return bad("want vault://<mount>/<path>#<key>: the key of the secret's data to use")
		}
		mount, p, ok := strings.Cut(path, "/")
		if !ok || mount == "" || p == "" {
			return bad("want vault://<mount>/<path>#<key>, e.g. vault://secret/llmgw/openai#api_key")
		}
	default:
		return Ref{}, errors.New("unreachable")
	}
	return r, nil
}

// Mount and SecretPath split a vault:// reference's path into the KV v2 engine's mount and
// the secret's path in it.
func (r Ref) Mount() string {
	m, _, _ := strings.Cut(r.Path, "/")
	return m
}

// SecretPath is the part of a vault:// reference's path after the mount.
func (r Ref) SecretPath() string {
	_, p, _ := strings.Cut(r.Path, "/")
	return p
}
