package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/llmgw/llmgw/analytics/kafka"
)

// The full target: llmgw with everything issue 11 measures on, at once: the governed target's
// user key, authz rule, three rate limits and two budgets, a virtual model that routes each
// request by weight between two models, and usage events produced to Kafka (a broker of the
// Kafka protocol, franz-go's kfake, run by this program on the generator's core, so its CPU
// is not counted as llmgw's).
const (
	fullVirtual = "bench-virtual"
	// fullModel is what clients send: a virtual model over governedModel and its twin.
	fullModel = fullVirtual + "/chat"
)

// fullConfig is governedConfig with a second model on the priced account, a weight-based
// virtual model over the two, and the authz rule and the model-scoped rules widened to it.
func fullConfig(upstreamURL string) string {
	c := governedConfig(upstreamURL)
	c = strings.Replace(c,
		"    - {name: echo, type: integration/model/openai, model_id: "+catalogModel+", model_types: [chat]}\n",
		"    - {name: echo, type: integration/model/openai, model_id: "+catalogModel+", model_types: [chat]}\n"+
			"    - {name: echo2, type: integration/model/openai, model_id: "+catalogModel+", model_types: [chat]}\n", 1)
	c = strings.Replace(c, "models: ["+governedModel+"], users:", "models: ["+governedAccount+"/*, "+fullModel+"], users:", 1)
	c = strings.Replace(c, `when: {models: ["`+governedModel+`"]}`, `when: {models: ["`+governedModel+`", "`+governedAccount+`/echo2", "`+fullModel+`"]}`, 1)
	return c + `---
name: ` + fullVirtual + `
type: provider-account/virtual-model
integrations:
  - name: chat
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: weight-based-routing
      load_balance_targets:
        - {target: ` + governedModel + `, weight: 50}
        - {target: ` + governedAccount + `/echo2, weight: 50}
`
}

// startFull starts a Kafka broker and llmgw with fullConfig producing its usage events to it,
// and creates the user and key the target sends. Its check, the governed target's, fails a
// measurement if any of the five rules did not count the attack.
func (b *bench) startFull(ctx context.Context, upURL, gateway string) (*target, error) {
	broker, brokerAddr, err := b.startKafka(ctx)
	if err != nil {
		return nil, err
	}
	p, base, err := b.startGateway(ctx, targetFull, gateway, fullConfig(upURL), b.cfg.targetCPU, []string{upstreamKeyEnv + "=unused", "LLMGW_KAFKA_BROKERS=" + brokerAddr})
	if err != nil {
		broker.stop()
		return nil, err
	}
	stop := func() { p.stop(); broker.stop() }
	admin := &adminClient{base: base, token: b.cfg.token, client: &http.Client{Timeout: 10 * time.Second}}
	key, err := admin.createUserKey(ctx, governedUser)
	if err != nil {
		stop()
		return nil, err
	}
	return ruleTarget(targetFull, p, base, fullModel, key, admin, stop), nil
}

// startKafka starts the Kafka broker (runKafka) on the generator's core and waits until it
// accepts connections; it returns the process and the broker's address.
func (b *bench) startKafka(ctx context.Context) (*process, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := net.SplitHostPort(addr)
	broker, err := b.start(ctx, "kafka", b.cfg.genCPU, nil, b.self, "kafka", "-port", port)
	if err != nil {
		return nil, "", err
	}
	if err := waitTCP(ctx, addr, 30*time.Second); err != nil {
		broker.stop()
		return nil, "", err
	}
	return broker, addr, nil
}

// waitTCP waits until addr accepts connections.
func waitTCP(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing answers on %s after %s: %w", addr, limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// runKafka is the "kafka" subcommand: a one-broker Kafka-protocol cluster (kfake) on -port
// with llmgw's usage topic, until ctx is done.
func runKafka(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("kafka", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 0, "port to listen on (127.0.0.1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(*port), kfake.SeedTopics(1, kafka.DefaultTopic))
	if err != nil {
		return err
	}
	defer c.Close()
	<-ctx.Done()
	return nil
}
