package pool

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/llmgw/llmgw/gateway/lease"
)

// state is the saved form of a Pool: JSON, so it is text the config database stores as is.
type state struct {
	Gateways []savedGateway `json:"gateways"`
	Keys     []savedKey     `json:"keys"`
}

type savedGateway struct {
	ID   string `json:"id"`
	Seq  uint64 `json:"seq"`
	Seen int64  `json:"seen"`
}

type savedKey struct {
	Kind   lease.Kind   `json:"kind"`
	Unit   uint8        `json:"unit"`
	Rule   string       `json:"rule"`
	Bucket string       `json:"bucket,omitempty"`
	Period int64        `json:"period,omitempty"`
	Limit  int64        `json:"limit"`
	Spend  int64        `json:"spend,omitempty"`
	Slots  []slot       `json:"slots,omitempty"`
	Leases []savedLease `json:"leases,omitempty"`
}

type savedLease struct {
	Gateway string `json:"gw"`
	N       int64  `json:"n"`
	Expires int64  `json:"exp"`
}

// save writes the state to the Store; p.mu is held.
func (p *Pool) save(ctx context.Context) error {
	var s state
	for id, g := range p.gateways {
		s.Gateways = append(s.Gateways, savedGateway{ID: id, Seq: g.seq, Seen: g.seen})
	}
	for k, a := range p.keys {
		sk := savedKey{Kind: k.Kind, Unit: k.Unit, Rule: k.Rule, Bucket: k.Bucket, Period: k.Period, Limit: a.limit, Spend: a.spend}
		if a.win != nil {
			sk.Slots = a.win.slots()
		}
		for id, g := range a.leases {
			sk.Leases = append(sk.Leases, savedLease{Gateway: id, N: g.n, Expires: g.expires})
		}
		s.Keys = append(s.Keys, sk)
	}
	data, err := json.Marshal(&s)
	if err != nil {
		return fmt.Errorf("encode lease pool: %w", err)
	}
	return p.st.SaveState(ctx, StateKey, data)
}

// Load replaces the pool's state with what its Store holds, if anything; call it before the
// first Exchange. Keys with an invalid kind or unit are skipped. Leases are loaded with their
// expiry, so capacity a replica still holds is not granted again after a restart.
func (p *Pool) Load(ctx context.Context) error {
	if p.st == nil {
		return nil
	}
	data, err := p.st.LoadState(ctx, StateKey)
	if err != nil || data == nil {
		return err
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("decode lease pool: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gateways = make(map[string]*gateway, len(s.Gateways))
	p.keys = make(map[lease.Key]*account, len(s.Keys))
	for _, g := range s.Gateways {
		p.gateways[g.ID] = &gateway{seq: g.Seq, seen: g.Seen}
	}
	for _, sk := range s.Keys {
		k := lease.Key{Kind: sk.Kind, Unit: sk.Unit, Rule: sk.Rule, Bucket: sk.Bucket, Period: sk.Period}
		a, err := newAccount(&k)
		if err != nil {
			continue
		}
		a.limit, a.spend = sk.Limit, sk.Spend
		if a.win != nil {
			a.win.load(sk.Slots)
		}
		for _, l := range sk.Leases {
			a.leases[l.Gateway] = &grant{n: l.N, expires: l.Expires}
		}
		p.keys[k] = a
	}
	return nil
}

// Seen reports when the replica id last exchanged, for the control plane's status API.
func (p *Pool) Seen(id string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.gateways[id]
	if g == nil {
		return time.Time{}, false
	}
	return time.Unix(0, g.seen).UTC(), true
}
