package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// The replica target: the full target's configuration (user key, authz rule, five rules, the
// weight-routed virtual model, usage events to Kafka), served by a gateway replica of a control
// plane, as a deployment with a control plane runs it beside its applications:
//
//   - a control plane, `llmgw serve --role control` (the full build) with fullConfig as its
//     config file, on the generator's core: it is not on the request path, and what it costs
//     (a lease exchange every 200 ms) is not counted as the replica's;
//   - the replica, `llmgw serve --role gateway` of the gateway-only build (gatewayOnlyTags), the
//     measured process, on the target's core, its usage events produced to the Kafka broker.
//
// Its check is the full target's, read from the control plane: the five rules' counts there are
// the global ones the replica reports through its leases.

// gatewayOnlyTags are the build tags of llmgw's gateway-only build (the Makefile's GATEWAY_TAGS).
const gatewayOnlyTags = "llmgw_gateway_only,grpcnotrace"

// startReplica starts a Kafka broker, a control plane with fullConfig, the user key and a
// gateway token on it, and the gateway-only replica the target sends to.
func (b *bench) startReplica(ctx context.Context, upURL, gateway string) (_ *target, err error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	broker, brokerAddr, err := b.startKafka(ctx)
	if err != nil {
		return nil, err
	}
	stops = append(stops, broker.stop)
	mk := make([]byte, 32)
	_, _ = rand.Read(mk) // crypto/rand.Read never fails on supported platforms
	masterKey := base64.StdEncoding.EncodeToString(mk)
	control, controlBase, err := b.startGateway(ctx, targetReplica+"-control", gateway, fullConfig(upURL), b.cfg.genCPU,
		[]string{upstreamKeyEnv + "=unused", "LLMGW_MASTER_KEY=" + masterKey}, "--role", "control")
	if err != nil {
		return nil, err
	}
	stops = append(stops, control.stop)
	admin := &adminClient{base: controlBase, token: b.cfg.token, client: &http.Client{Timeout: 10 * time.Second}}
	key, err := admin.createUserKey(ctx, governedUser)
	if err != nil {
		return nil, err
	}
	var tok struct {
		Secret string `json:"secret"`
	}
	if err := admin.do(ctx, http.MethodPost, "/api/v1/gateway-tokens", map[string]string{"name": "loadbench"}, &tok); err != nil {
		return nil, fmt.Errorf("create a gateway token: %w", err)
	}
	if tok.Secret == "" {
		return nil, errors.New("create a gateway token: the answer has no secret")
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir, err := b.startDir(targetReplica)
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--role", "gateway", "--control-plane", controlBase, "--listen", addr, "--data-dir", dir},
		b.cfg.gatewayFlags...)
	p, err := b.start(ctx, targetReplica, b.cfg.targetCPU,
		[]string{"LLMGW_MASTER_KEY=" + masterKey, "LLMGW_GATEWAY_TOKEN=" + tok.Secret, "LLMGW_KAFKA_BROKERS=" + brokerAddr},
		b.gatewayOnly, args...)
	if err != nil {
		return nil, err
	}
	stops = append(stops, p.stop)
	base := "http://" + addr
	// Ready once it holds the control plane's configuration, the key created above included.
	if err := b.waitReady(ctx, p, base+"/readyz"); err != nil {
		return nil, err
	}
	return ruleTarget(targetReplica, p, base, fullModel, key, admin, stop), nil
}
