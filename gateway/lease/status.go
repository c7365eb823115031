package lease

import (
	"cmp"
	"slices"
	"time"
)

// Mode is how a key admits now.
type Mode uint8

// The modes a key can be in.
const (
	// Leased: within a valid lease from the control plane.
	Leased Mode = iota + 1
	// Waiting: no valid lease yet while the control plane answers; one request at a time
	// is admitted until the lease arrives.
	Waiting
	// Local: the control plane is unreachable and the lease is exhausted or expired; the
	// rule is fail-open and admits with local accounting.
	Local
	// Closed: the control plane is unreachable and the rule is fail-closed; requests beyond
	// the lease are refused.
	Closed
)

// String returns the mode's name for the status API.
func (m Mode) String() string {
	switch m {
	case Leased:
		return "leased"
	case Waiting:
		return "waiting"
	case Local:
		return "local"
	case Closed:
		return "closed"
	}
	return "mode(?)"
}

// Status is one key's state on this replica.
type Status struct {
	Key Key
	// Mode is how the key admits now. A key with a valid but exhausted lease while the
	// control plane is unreachable is Local or Closed: the next request beyond it is.
	Mode Mode
	// Remaining is the lease left to admit on (0 once it expired); Held what requests in
	// flight took from it; Pending the usage not yet acknowledged by the control plane.
	Remaining, Held, Pending int64
	// Expires is when the lease lapses unless renewed; zero before the first grant.
	Expires time.Time
	// Limit is the rule's limit as this replica's config has it.
	Limit int64
}

// Health is the replica's link to the control plane.
type Health struct {
	// Reachable reports whether the last exchange succeeded (true before the first).
	Reachable bool
	// LastSync is when an exchange last succeeded; zero before the first.
	LastSync time.Time
	// Gateways is the active replica count the control plane last reported.
	Gateways int
}

// Health returns the replica's link to the control plane.
func (l *Leases) Health() Health {
	h := Health{Reachable: l.reachable.Load(), Gateways: int(l.gateways.Load())}
	if t := l.lastSync.Load(); t != 0 {
		h.LastSync = time.Unix(0, t).UTC()
	}
	return h
}

// Status lists every key this replica holds, sorted by kind, rule, unit, bucket and period.
func (l *Leases) Status() []Status {
	now := l.now().UnixNano()
	reach := l.reachable.Load()
	l.mu.RLock()
	out := make([]Status, 0, len(l.keys))
	for _, e := range l.keys {
		e.mu.Lock()
		s := Status{Key: e.key, Held: e.held, Pending: e.pending, Limit: e.limit}
		valid := e.valid(now)
		if valid {
			s.Remaining = max(e.avail, 0)
		}
		if e.known {
			s.Expires = time.Unix(0, e.deadline).UTC()
		}
		switch {
		case valid && (reach || e.avail > 0 && !e.local):
			s.Mode = Leased
		case reach:
			s.Mode = Waiting
		case l.policy != nil && l.policy(e.key.Kind, e.key.Rule) == FailClosed:
			s.Mode = Closed
		default:
			s.Mode = Local
		}
		e.mu.Unlock()
		out = append(out, s)
	}
	l.mu.RUnlock()
	slices.SortFunc(out, func(a, b Status) int {
		return cmp.Or(cmp.Compare(a.Key.Kind, b.Key.Kind), cmp.Compare(a.Key.Rule, b.Key.Rule), cmp.Compare(a.Key.Unit, b.Key.Unit),
			cmp.Compare(a.Key.Bucket, b.Key.Bucket), cmp.Compare(a.Key.Period, b.Key.Period))
	})
	return out
}
