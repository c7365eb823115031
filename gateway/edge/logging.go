package edge

import (
	"bytes"
	"encoding/json"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// Body logging headers: a JSON object whose "enabled" asks for the request's bodies to be
// logged with its usage event. HeaderTFYLoggingConfig is TrueFoundry's name, read when the
// other is absent, and its shape is accepted as it is: {"enabled": true}, an absent "enabled"
// meaning true (as TrueFoundry reads it), and its "tracing_project_fqn" accepted and ignored
// (llmgw has no tracing projects: logged bodies are read through the Usage API).
const (
	HeaderLoggingConfig    = "X-Llmgw-Logging-Config"
	HeaderTFYLoggingConfig = "X-Tfy-Logging-Config"
)

// maxLoggingConfig bounds the logging header's value.
const maxLoggingConfig = 1 << 10

// LogBodies reports whether the request asked for its bodies to be logged by its logging
// header (HeaderLoggingConfig or HeaderTFYLoggingConfig): false when it sent none or
// {"enabled": false}, a 400 naming the header when the value is not a JSON object whose
// "enabled" is a boolean.
func (r *Request) LogBodies() (bool, error) {
	if r.logging == "" {
		return false, nil
	}
	bad := apierr.Invalid(r.loggingName, `the %s header must be a JSON object such as {"enabled": true}`, r.loggingName)
	v := []byte(r.logging)
	if len(v) > maxLoggingConfig {
		return false, bad
	}
	var cfg struct {
		Enabled *bool `json:"enabled"`
		// TracingProjectFQN is TrueFoundry's; accepted for its clients, without effect here.
		TracingProjectFQN *string `json:"tracing_project_fqn"`
	}
	if !bytes.HasPrefix(bytes.TrimSpace(v), []byte("{")) || json.Unmarshal(v, &cfg) != nil {
		return false, bad
	}
	return cfg.Enabled == nil || *cfg.Enabled, nil
}
