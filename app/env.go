package app

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// envReader reads flag defaults from LLMGW_* environment variables. A variable whose value does
// not parse is recorded as an error naming it (err returns them all), never silently the default.
type envReader struct {
	getenv func(string) string
	errs   []error
}

func (e *envReader) err() error { return errors.Join(e.errs...) }

func (e *envReader) str(k, def string) string {
	if v := e.getenv(k); v != "" {
		return v
	}
	return def
}

func (e *envReader) bytes(k string, def int64) int64 {
	v := e.getenv(k)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a positive number of bytes", k, v))
		return def
	}
	return n
}

// count reads a whole number of at least lo.
func (e *envReader) count(k string, def, lo int) int {
	v := e.getenv(k)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a whole number of at least %d", k, v, lo))
		return def
	}
	return n
}

func (e *envReader) duration(k string, def time.Duration) time.Duration {
	v := e.getenv(k)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a positive duration such as 30s or 10m", k, v))
		return def
	}
	return d
}

func (e *envReader) bool(k string, def bool) bool {
	v := e.getenv(k)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want true or false", k, v))
		return def
	}
	return b
}
