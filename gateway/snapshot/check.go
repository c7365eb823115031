package snapshot

import (
	"fmt"
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
