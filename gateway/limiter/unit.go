package limiter

import (
	"fmt"
	"time"
)

// Unit is what a rule counts and over which window.
type Unit uint8

// The units a rate limit can count. Request units count one per request (or Check.Amount);
// token units count the request's tokens, reserved at admission and settled after the call.
const (
	RequestsPerMinute Unit = iota + 1
	RequestsPerHour
	RequestsPerDay
	TokensPerMinute
	TokensPerHour
	TokensPerDay
)

// SubWindows is the number of fixed sub-windows a unit's window is cut into; see the package
// documentation for the error it implies.
const SubWindows = 60

var unitNames = [...]string{
	RequestsPerMinute: "requests_per_minute",
	RequestsPerHour:   "requests_per_hour",
	RequestsPerDay:    "requests_per_day",
	TokensPerMinute:   "tokens_per_minute",
	TokensPerHour:     "tokens_per_hour",
	TokensPerDay:      "tokens_per_day",
}

// ParseUnit returns the unit named s as the config spells it, for example "tokens_per_minute".
func ParseUnit(s string) (Unit, error) {
	for u, name := range unitNames {
		if name != "" && name == s {
			return Unit(u), nil
		}
	}
	return 0, fmt.Errorf("unknown rate limit unit %q", s)
}

// String returns the unit's config name, or "unit(N)" for an invalid unit.
func (u Unit) String() string {
	if u.Valid() {
		return unitNames[u]
	}
	return fmt.Sprintf("unit(%d)", uint8(u))
}

// Valid reports whether u is one of the defined units.
func (u Unit) Valid() bool { return u >= RequestsPerMinute && u <= TokensPerDay }

// Tokens reports whether u counts tokens (and so reserves and settles) rather than requests.
func (u Unit) Tokens() bool { return u >= TokensPerMinute && u <= TokensPerDay }

// Window is the length of the rolling window the unit limits: a minute, an hour or a day.
// It is zero for an invalid unit.
func (u Unit) Window() time.Duration {
	switch u {
	case RequestsPerMinute, TokensPerMinute:
		return time.Minute
	case RequestsPerHour, TokensPerHour:
		return time.Hour
	case RequestsPerDay, TokensPerDay:
		return 24 * time.Hour
	}
	return 0
}

// SubWindow is the length of one of the unit's fixed sub-windows: Window / SubWindows.
func (u Unit) SubWindow() time.Duration { return u.Window() / SubWindows }
