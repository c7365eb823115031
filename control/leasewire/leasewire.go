// Package leasewire maps the lease exchange between its Go form (gateway/lease) and its wire
// form (llmgw.controlplane.v1.ExchangeLeases), for the replica that sends it and the control
// plane that answers it.
package leasewire

import (
	"time"

	"github.com/llmgw/llmgw/gateway/lease"
	controlplanev1 "github.com/llmgw/llmgw/gen/go/llmgw/controlplane/v1"
)

func keyToProto(k lease.Key) *controlplanev1.LeaseKey {
	return &controlplanev1.LeaseKey{Kind: int32(k.Kind), Unit: int32(k.Unit), Rule: k.Rule, Bucket: k.Bucket, Period: k.Period}
}

func keyFromProto(k *controlplanev1.LeaseKey) lease.Key {
	return lease.Key{Kind: lease.Kind(k.GetKind()), Unit: uint8(k.GetUnit()), Rule: k.GetRule(), Bucket: k.GetBucket(), Period: k.GetPeriod()}
}

// RequestToProto is a replica's request on the wire; the control plane names the gateway.
func RequestToProto(r *lease.Request) *controlplanev1.ExchangeLeasesRequest {
	out := &controlplanev1.ExchangeLeasesRequest{GatewayId: r.Gateway, Seq: r.Seq, Items: make([]*controlplanev1.LeaseItem, len(r.Items))}
	for i, it := range r.Items {
		out.Items[i] = &controlplanev1.LeaseItem{Key: keyToProto(it.Key), Limit: it.Limit, Used: it.Used, Released: it.Released, Want: it.Want, Min: it.Min}
	}
	return out
}

// RequestFromProto is the request the control plane applies, from gateway (the name it
// authenticated, never the one the body claims).
func RequestFromProto(gateway string, r *controlplanev1.ExchangeLeasesRequest) *lease.Request {
	out := &lease.Request{Gateway: gateway, Seq: r.GetSeq(), Items: make([]lease.Item, len(r.GetItems()))}
	for i, it := range r.GetItems() {
		out.Items[i] = lease.Item{Key: keyFromProto(it.GetKey()), Limit: it.GetLimit(), Used: it.GetUsed(), Released: it.GetReleased(), Want: it.GetWant(), Min: it.GetMin()}
	}
	return out
}

// ResponseToProto is the control plane's answer on the wire.
func ResponseToProto(r *lease.Response) *controlplanev1.ExchangeLeasesResponse {
	out := &controlplanev1.ExchangeLeasesResponse{Seq: r.Seq, TtlMs: r.TTL.Milliseconds(), Gateways: int32(r.Gateways), Grants: make([]*controlplanev1.LeaseGrant, len(r.Grants))}
	for i, g := range r.Grants {
		out.Grants[i] = &controlplanev1.LeaseGrant{Key: keyToProto(g.Key), Lease: g.Lease, Free: g.Free}
	}
	return out
}

// ResponseFromProto is the answer a replica applies.
func ResponseFromProto(r *controlplanev1.ExchangeLeasesResponse) *lease.Response {
	out := &lease.Response{Seq: r.GetSeq(), TTL: time.Duration(r.GetTtlMs()) * time.Millisecond, Gateways: int(r.GetGateways()), Grants: make([]lease.Grant, len(r.GetGrants()))}
	for i, g := range r.GetGrants() {
		out.Grants[i] = lease.Grant{Key: keyFromProto(g.GetKey()), Lease: g.GetLease(), Free: g.GetFree()}
	}
	return out
}
