package budget

import (
	"fmt"
	"math"
	"time"
)

// NanoPerUSD is the number of cost units in one US dollar: amounts of cost budgets are integer
// nano-dollars.
const NanoPerUSD = 1_000_000_000

// NanoUSD converts a cost in US dollars to nano-dollars, rounding to the nearest (an error of
// at most half a nano-dollar per call). Negative costs count as zero.
func NanoUSD(usd float64) int64 {
	if usd <= 0 {
		return 0
	}
	return int64(math.Round(usd * NanoPerUSD))
}

// Unit is what a budget counts and over which period.
type Unit uint8

// The units a budget can count. Cost units count nano-dollars, token units count tokens.
const (
	CostPerDay Unit = iota + 1
	CostPerWeek
	CostPerMonth
	CostPerQuarter
	TokensPerDay
	TokensPerMonth
)

var unitNames = [...]string{
	CostPerDay:     "cost_per_day",
	CostPerWeek:    "cost_per_week",
	CostPerMonth:   "cost_per_month",
	CostPerQuarter: "cost_per_quarter",
	TokensPerDay:   "tokens_per_day",
	TokensPerMonth: "tokens_per_month",
}

// ParseUnit returns the unit named s as the config spells it, for example "cost_per_month".
func ParseUnit(s string) (Unit, error) {
	for u, name := range unitNames {
		if name != "" && name == s {
			return Unit(u), nil
		}
	}
	return 0, fmt.Errorf("unknown budget unit %q", s)
}

// String returns the unit's config name, or "unit(N)" for an invalid unit.
func (u Unit) String() string {
	if u.Valid() {
		return unitNames[u]
	}
	return fmt.Sprintf("unit(%d)", uint8(u))
}

// Valid reports whether u is one of the defined units.
func (u Unit) Valid() bool { return u >= CostPerDay && u <= TokensPerMonth }

// Cost reports whether u counts cost in nano-dollars rather than tokens.
func (u Unit) Cost() bool { return u >= CostPerDay && u <= CostPerQuarter }

type length uint8

const (
	day length = iota
	week
	month
	quarter
)

func (u Unit) length() length {
	switch u {
	case CostPerWeek:
		return week
	case CostPerMonth, TokensPerMonth:
		return month
	case CostPerQuarter:
		return quarter
	}
	return day
}

// Period returns the UTC period of u that holds t: its start, inclusive, and its end,
// exclusive (the next period's start).
func (u Unit) Period(t time.Time) (start, end time.Time) {
	id := u.period(t.UnixNano())
	return u.start(id), u.start(id + 1)
}

const secondsPerDay = 24 * 60 * 60

// period numbers the periods of u: consecutive periods have consecutive numbers.
func (u Unit) period(ns int64) int64 {
	days := floorDiv(floorDiv(ns, int64(time.Second)), secondsPerDay)
	switch u.length() {
	case week:
		return floorDiv(days+3, 7) // 1970-01-01 was a Thursday; week 0 starts Monday 1969-12-29
	case month, quarter:
		y, m, _ := time.Unix(0, ns).UTC().Date()
		if u.length() == month {
			return int64(y)*12 + int64(m-1)
		}
		return int64(y)*4 + int64(m-1)/3
	}
	return days
}

// start returns when period id of u starts.
func (u Unit) start(id int64) time.Time {
	switch u.length() {
	case week:
		return time.Unix((id*7-3)*secondsPerDay, 0).UTC()
	case month:
		return time.Date(int(floorDiv(id, 12)), time.Month(id-floorDiv(id, 12)*12+1), 1, 0, 0, 0, 0, time.UTC)
	case quarter:
		return time.Date(int(floorDiv(id, 4)), time.Month((id-floorDiv(id, 4)*4)*3+1), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Unix(id*secondsPerDay, 0).UTC()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
