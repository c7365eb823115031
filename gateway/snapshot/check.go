package snapshot

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// Bounds of a routing target's settings, checked by CheckRouting.
const (
	MaxRetryAttempts = 10
	MaxRetryDelay    = time.Minute
	MaxSLACutoff     = time.Hour
	MaxPriority      = 1 << 20
	// MaxTargets bounds a routing config's targets: a weighted one compiles to one plan per
	// weighted target, each listing the others, so its size grows with the square.
	MaxTargets = 50
	// MaxStickyTTL bounds sticky_routing's ttl_seconds: a week.
	MaxStickyTTL = 7 * 24 * time.Hour
	// MaxSessionIdentifiers bounds sticky_routing's session_identifiers: every request of a
	// sticky plan reads and hashes each of them.
	MaxSessionIdentifiers = 10
)

// NewTarget returns a target of model with TrueFoundry's defaults: 2 attempts 100ms apart on
// 429, 500, 502 and 503; fallback on 401, 403, 404, 429, 500, 502 and 503; a fallback
// candidate. The config file and the Admin API both start every target from it.
func NewTarget(model string) VirtualTarget {
	return VirtualTarget{
		Model:             model,
		Retry:             Retry{Attempts: 2, Delay: 100 * time.Millisecond, OnStatus: []int{429, 500, 502, 503}},
		FallbackStatus:    []int{401, 403, 404, 429, 500, 502, 503},
		FallbackCandidate: true,
	}
}

// FieldError is a problem with one field of a routing config, named by its path under the
// routing config ("type", "load_balance_targets[1].weight"), in TrueFoundry's field names.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// CheckRouting checks a routing config as both the config file and the Admin API accept it:
// a known strategy; one to MaxTargets targets, each naming a model "<account>/<model>" once; weights
// from 0 to 100 summing to 100 for RoutingWeight and unset elsewhere; priorities only for
// RoutingPriority, from 0 to MaxPriority; an SLA cutoff only for RoutingPriority, each part
// from 0 to MaxSLACutoff and one of them set; retries from 1 to MaxRetryAttempts attempts,
// delays from 0 to MaxRetryDelay; HTTP status codes from 100 to 599; override parameters that
// chat.CheckParam accepts and override headers that provider.CheckOverrideHeader accepts, with
// values on one line. Whether a target exists is the caller's to check: the config file's may
// come from the Admin API. The error is a *FieldError.
func CheckRouting(strategy string, targets []VirtualTarget) error {
	switch strategy {
	case RoutingWeight, RoutingPriority, RoutingLatency:
	default:
		return &FieldError{Field: "type", Msg: fmt.Sprintf("unsupported routing type %q; supported: %s, %s, %s", strategy, RoutingWeight, RoutingPriority, RoutingLatency)}
	}
	if len(targets) == 0 {
		return &FieldError{Field: "load_balance_targets", Msg: "expected a non-empty list of targets"}
	}
	if len(targets) > MaxTargets {
		return &FieldError{Field: "load_balance_targets", Msg: fmt.Sprintf("%d targets; at most %d", len(targets), MaxTargets)}
	}
	sum := 0
	for i := range targets {
		if err := checkTarget(strategy, &targets[i]); err != nil {
			err.Field = fmt.Sprintf("load_balance_targets[%d].%s", i, err.Field)
			return err
		}
		if slices.ContainsFunc(targets[:i], func(o VirtualTarget) bool { return o.Model == targets[i].Model }) {
			return &FieldError{Field: fmt.Sprintf("load_balance_targets[%d].target", i), Msg: "duplicate target " + targets[i].Model}
		}
		sum += targets[i].Weight
	}
	if strategy == RoutingWeight && sum != 100 {
		return &FieldError{Field: "load_balance_targets", Msg: fmt.Sprintf("weights sum to %d; they must sum to 100", sum)}
	}
	return nil
}

// checkTarget checks t under strategy; the error's Field is relative to the target.
func checkTarget(strategy string, t *VirtualTarget) *FieldError {
	if acct, name, ok := strings.Cut(t.Model, "/"); !ok || acct == "" || name == "" {
		return &FieldError{Field: "target", Msg: fmt.Sprintf("%q is not a model name; models are named <provider-account>/<model>", t.Model)}
	}
	switch {
	case t.Weight < 0 || t.Weight > 100:
		return &FieldError{Field: "weight", Msg: "expected an integer from 0 to 100"}
	case t.Weight != 0 && strategy != RoutingWeight:
		return &FieldError{Field: "weight", Msg: "weight applies only to " + RoutingWeight}
	case t.Priority < 0 || t.Priority > MaxPriority:
		return &FieldError{Field: "priority", Msg: fmt.Sprintf("expected an integer from 0 to %d", MaxPriority)}
	case t.Priority != 0 && strategy != RoutingPriority:
		return &FieldError{Field: "priority", Msg: "priority applies only to " + RoutingPriority}
	case t.SLA.Set() && strategy != RoutingPriority:
		return &FieldError{Field: "sla_cutoff", Msg: "sla_cutoff applies only to " + RoutingPriority}
	case t.SLA.TPOT < 0 || t.SLA.TPOT > MaxSLACutoff:
		return &FieldError{Field: "sla_cutoff.time_per_output_token_ms", Msg: fmt.Sprintf("expected milliseconds from 1 to %d", MaxSLACutoff.Milliseconds())}
	case t.SLA.TTFT < 0 || t.SLA.TTFT > MaxSLACutoff:
		return &FieldError{Field: "sla_cutoff.time_to_first_token_ms", Msg: fmt.Sprintf("expected milliseconds from 1 to %d", MaxSLACutoff.Milliseconds())}
	case t.Retry.Attempts < 1 || t.Retry.Attempts > MaxRetryAttempts:
		return &FieldError{Field: "retry_config.attempts", Msg: fmt.Sprintf("expected an integer from 1 to %d", MaxRetryAttempts)}
	case t.Retry.Delay < 0 || t.Retry.Delay > MaxRetryDelay:
		return &FieldError{Field: "retry_config.delay", Msg: fmt.Sprintf("expected milliseconds from 0 to %d", MaxRetryDelay.Milliseconds())}
	}
	if err := checkStatuses("retry_config.on_status_codes", t.Retry.OnStatus); err != nil {
		return err
	}
	if err := checkStatuses("fallback_status_codes", t.FallbackStatus); err != nil {
		return err
	}
	for _, p := range t.Params {
		if err := chat.CheckParam(p); err != nil {
			return &FieldError{Field: "override_params." + p.Name, Msg: err.Error()}
		}
	}
	if h := t.Headers; h != nil {
		for name, v := range h.Set {
			if err := provider.CheckOverrideHeader(name); err != nil {
				return &FieldError{Field: "headers_override.set." + name, Msg: err.Error()}
			}
			if strings.ContainsAny(v, "\r\n") {
				return &FieldError{Field: "headers_override.set." + name, Msg: "expected a header value on one line"}
			}
		}
		for i, name := range h.Remove {
			if err := provider.CheckOverrideHeader(name); err != nil {
				return &FieldError{Field: fmt.Sprintf("headers_override.remove[%d]", i), Msg: err.Error()}
			}
		}
	}
	return nil
}

func checkStatuses(field string, codes []int) *FieldError {
	for i, c := range codes {
		if c < 100 || c > 599 {
			return &FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Msg: fmt.Sprintf("%d is not an HTTP status code", c)}
		}
	}
	return nil
}

// CheckSticky checks a routing config's sticky_routing as both the config file and the Admin
// API accept it: only under RoutingWeight; a TTL of whole seconds from 1 second to
// MaxStickyTTL; one to MaxSessionIdentifiers session identifiers, each with source
// SessionHeaders (its key an HTTP header name) or SessionMetadata (its key non-empty), none
// twice (header names compared case-insensitively). A nil st has nothing to check. The error
// is a *FieldError under the routing config ("sticky_routing.ttl_seconds").
func CheckSticky(strategy string, st *Sticky) error {
	if st == nil {
		return nil
	}
	if strategy != RoutingWeight {
		return &FieldError{Field: "sticky_routing", Msg: "sticky_routing applies only to " + RoutingWeight}
	}
	if st.TTL < time.Second || st.TTL > MaxStickyTTL || st.TTL%time.Second != 0 {
		return &FieldError{Field: "sticky_routing.ttl_seconds", Msg: fmt.Sprintf("expected an integer from 1 to %d", int(MaxStickyTTL/time.Second))}
	}
	if len(st.Identifiers) == 0 {
		return &FieldError{Field: "sticky_routing.session_identifiers", Msg: "expected a non-empty list of {source, key}"}
	}
	if len(st.Identifiers) > MaxSessionIdentifiers {
		return &FieldError{Field: "sticky_routing.session_identifiers", Msg: fmt.Sprintf("%d session identifiers; at most %d", len(st.Identifiers), MaxSessionIdentifiers)}
	}
	for i, id := range st.Identifiers {
		path := fmt.Sprintf("sticky_routing.session_identifiers[%d]", i)
		switch id.Source {
		case SessionHeaders:
			if !headerName(id.Key) {
				return &FieldError{Field: path + ".key", Msg: fmt.Sprintf("%q is not a header name", id.Key)}
			}
		case SessionMetadata:
			if id.Key == "" {
				return &FieldError{Field: path + ".key", Msg: "is required"}
			}
		default:
			return &FieldError{Field: path + ".source", Msg: fmt.Sprintf("got %q, want %s or %s", id.Source, SessionHeaders, SessionMetadata)}
		}
		if slices.ContainsFunc(st.Identifiers[:i], func(o SessionIdentifier) bool { return sameIdentifier(o, id) }) {
			return &FieldError{Field: path, Msg: "duplicate session identifier"}
		}
	}
	return nil
}

// sameIdentifier reports whether a and b read the same value: header names are
// case-insensitive, metadata keys are not.
func sameIdentifier(a, b SessionIdentifier) bool {
	if a.Source != b.Source {
		return false
	}
	if a.Source == SessionHeaders {
		return http.CanonicalHeaderKey(a.Key) == http.CanonicalHeaderKey(b.Key)
	}
	return a.Key == b.Key
}

// headerName reports whether s is an HTTP header name (an RFC 9110 token).
func headerName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
