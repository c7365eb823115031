package lease

import (
	"context"
	"errors"
	"fmt"
)

// errSeq is returned when an answer names another request.
var errSeq = errors.New("lease answer for another request")

// Sync exchanges this replica's usage and wants for fresh leases: one round trip. When the
// previous exchange failed, it sends that same request again (same sequence, same usage)
// before anything new, so usage is merged exactly once. It is safe for concurrent use; calls
// are serialized. The error is the Exchanger's; the replica then counts the control plane as
// unreachable until an exchange succeeds.
func (l *Leases) Sync(ctx context.Context) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	resent := l.inflight != nil
	if err := l.exchange(ctx); err != nil || !resent {
		return err
	}
	// The request sent again was built before the outage: its wants are stale. Ask again
	// with what the replica needs now.
	return l.exchange(ctx)
}

// exchange is one round trip of Sync, under syncMu.
func (l *Leases) exchange(ctx context.Context) error {
	if l.inflight == nil {
		l.inflight = l.build()
	}
	req := l.inflight
	sent := l.now().UnixNano()
	resp, err := l.x.Exchange(ctx, req)
	if err == nil && resp.Seq != req.Seq {
		err = fmt.Errorf("%w: sent %d, answer %d", errSeq, req.Seq, resp.Seq)
	}
	if err != nil {
		l.reachable.Store(false)
		return fmt.Errorf("lease sync %d: %w", req.Seq, err)
	}
	l.apply(req, resp, sent)
	l.inflight = nil
	l.lastSync.Store(l.now().UnixNano())
	l.reachable.Store(true)
	return nil
}

// build makes the next request from every key's state, moving pending usage and released
// lease into it.
func (l *Leases) build() *Request {
	l.seq++
	req := &Request{Gateway: l.id, Seq: l.seq}
	now := l.now().UnixNano()
	l.mu.RLock()
	defer l.mu.RUnlock()
	req.Items = make([]Item, 0, len(l.keys))
	for _, e := range l.keys {
		e.mu.Lock()
		// Demand smoothed over syncs: half the last interval's, half what came before.
		e.rate = (e.rate + e.demand + 1) / 2
		busy := e.demand > 0 || e.held > 0 || e.outside > 0 || e.pending > 0
		e.demand = 0
		if busy {
			e.idle = 0
		} else {
			e.idle++
		}
		it := Item{Key: e.key, Limit: e.limit, Used: e.pending, Min: e.largest}
		e.pending, e.pendingLeased = 0, 0
		free := e.avail
		if !e.valid(now) {
			free = 0
		}
		want := max(e.rate*l.lookahead, e.largest)
		switch {
		case e.idle >= idleSyncs:
			it.Released = max(free, 0) // hand it all back; apply drops the key
		case free < want:
			it.Want = want - free
		case free > 2*want && e.contended:
			it.Released = free - want
		}
		e.avail -= it.Released
		e.low = want / 2
		// A key with nothing to report, hand back or ask for, whose lease is good for more
		// than half its TTL, stays out of the request.
		send := it.Used > 0 || it.Released > 0 || it.Want > 0 || !e.known || e.deadline-now < int64(l.ttl)/2 || e.idle >= idleSyncs
		e.mu.Unlock()
		if send {
			req.Items = append(req.Items, it)
		}
	}
	return req
}

// apply takes a response's leases: each key may admit its lease minus what it has in flight
// and has settled since the request was built, until sent + TTL.
func (l *Leases) apply(req *Request, resp *Response, sent int64) {
	if resp.Gateways > 0 {
		l.gateways.Store(int64(resp.Gateways))
	}
	l.ttl = resp.TTL
	deadline := sent + int64(resp.TTL)
	var drop []Key
	for i := range resp.Grants {
		g := &resp.Grants[i]
		l.mu.RLock()
		e := l.keys[g.Key]
		l.mu.RUnlock()
		if e == nil {
			continue
		}
		e.mu.Lock()
		e.known = true
		e.deadline = deadline
		// Usage admitted outside the lease (local accounting during an outage) is reported
		// like the rest but never came out of this lease: only what the lease's own
		// requests settled since the request was built is taken from it.
		e.avail = g.Lease - e.held - e.pendingLeased
		e.contended = g.Free < e.limit/4
		if e.idle >= idleSyncs && g.Lease == 0 && e.held == 0 && e.outside == 0 && e.pending == 0 {
			drop = append(drop, g.Key)
		}
		e.mu.Unlock()
	}
	if len(drop) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range drop {
		e := l.keys[k]
		e.mu.Lock()
		if e.idle >= idleSyncs && e.held == 0 && e.outside == 0 && e.pending == 0 {
			e.dead = true
			delete(l.keys, k)
		}
		e.mu.Unlock()
	}
}
