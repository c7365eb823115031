package secretreftest

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// AWS is a fake of the two AWS services secretref reads, speaking their documented JSON 1.1
// protocol: POST / with X-Amz-Target AmazonSSM.GetParameter ({"Name", "WithDecryption"} ->
// {"Parameter": {...}}) or secretsmanager.GetSecretValue ({"SecretId"} -> {"SecretString",
// ...}). A request must be SigV4-signed for the target's service (ssm, secretsmanager). An
// unknown name is a 400 ParameterNotFound or ResourceNotFoundException, a fake SetDown
// answers 500 InternalServerError, an unsigned request 403. Serve it with httptest
// and point the SDK's BaseEndpoint at it. It is safe for concurrent use.
type AWS struct {
	mu         sync.Mutex
	parameters map[string]string
	secrets    map[string]string
	decrypted  bool // the last GetParameter asked WithDecryption
	down       bool
}

// NewAWS returns an empty fake.
func NewAWS() *AWS { return &AWS{parameters: map[string]string{}, secrets: map[string]string{}} }

// PutParameter sets an SSM parameter (a SecureString).
func (a *AWS) PutParameter(name, value string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.parameters[name] = value
}

// PutSecret sets a Secrets Manager secret's SecretString.
func (a *AWS) PutSecret(id, value string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.secrets[id] = value
}

// SetDown makes every call fail with a 500 or succeed again.
func (a *AWS) SetDown(down bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.down = down
}

// Decrypted reports whether the last GetParameter asked for decryption.
func (a *AWS) Decrypted() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.decrypted
}

func awsErr(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func (a *AWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down {
		awsErr(w, http.StatusInternalServerError, "InternalServerError", "the service is unavailable")
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Authorization") == "" {
		awsErr(w, http.StatusForbidden, "MissingAuthenticationTokenException", "missing authentication token")
		return
	}
	var in struct {
		Name           string
		WithDecryption bool
		SecretID       string `json:"SecretId"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		awsErr(w, http.StatusBadRequest, "SerializationException", "bad body")
		return
	}
	if r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		awsErr(w, http.StatusBadRequest, "SerializationException", "want Content-Type application/x-amz-json-1.1")
		return
	}
	// SigV4: the credential scope names the service the target belongs to.
	service := map[string]string{"AmazonSSM.GetParameter": "ssm", "secretsmanager.GetSecretValue": "secretsmanager"}[r.Header.Get("X-Amz-Target")]
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") || !strings.Contains(r.Header.Get("Authorization"), "/"+service+"/aws4_request") {
		awsErr(w, http.StatusForbidden, "InvalidSignatureException", "the request is not signed for "+service)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch r.Header.Get("X-Amz-Target") {
	case "AmazonSSM.GetParameter":
		v, ok := a.parameters[in.Name]
		if !ok {
			awsErr(w, http.StatusBadRequest, "ParameterNotFound", "")
			return
		}
		a.decrypted = in.WithDecryption
		_ = json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{
			"Name": in.Name, "Type": "SecureString", "Value": v, "Version": 1, "DataType": "text",
			"ARN": "arn:aws:ssm:us-east-1:123456789012:parameter" + in.Name}})
	case "secretsmanager.GetSecretValue":
		v, ok := a.secrets[in.SecretID]
		if !ok {
			awsErr(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + in.SecretID + "-AbCdEf",
			"Name": in.SecretID, "SecretString": v, "VersionId": "v1", "VersionStages": []string{"AWSCURRENT"}, "CreatedDate": 1.7e9})
	default:
		awsErr(w, http.StatusBadRequest, "UnknownOperationException", "")
	}
}

// ParameterBackend returns the fake as the Backend of the SSM parameter name.
func (a *AWS) ParameterBackend(name string) Backend {
	return awsBackend{a, func(v string) { a.PutParameter(name, v) }}
}

// SecretBackend returns the fake as the Backend of the Secrets Manager secret id; with key,
// the secret is a JSON object and the value is that key's.
func (a *AWS) SecretBackend(id, key string) Backend {
	return awsBackend{a, func(v string) {
		if key == "" {
			a.PutSecret(id, v)
			return
		}
		b, _ := json.Marshal(map[string]string{key: v, "other": "x"})
		a.PutSecret(id, string(b))
	}}
}

type awsBackend struct {
	a   *AWS
	set func(string)
}

func (b awsBackend) Set(v string)      { b.set(v) }
func (b awsBackend) SetDown(down bool) { b.a.SetDown(down) }
