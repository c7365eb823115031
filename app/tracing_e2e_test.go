package app

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
	"github.com/llmgw/llmgw/gateway/tracing/tracingtest"
)

// TestTracesToOTLP: with the standard OTEL_* variables set, the gateway exports to a real OTLP
// receiver, under the service name they give: a server span per request continuing the
// client's traceparent, a client span per attempt under it (a routed request that falls back
// after two 503s has three) with the GenAI attributes, and each upstream request carried the
// traceparent of its own attempt's span.
func TestTracesToOTLP(t *testing.T) {
	recv := tracingtest.NewReceiver(t)
	up := providertest.NewOpenAI(t)
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret,
		"OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL, "OTEL_SERVICE_NAME": "llmgw-e2e", "OTEL_TRACES_SAMPLER": "parentbased_always_on"},
		"--config", writeConfig(t, metricsConfig(up.BaseURL())))
	alice := g.userKey(t, "alice")
	const traceID, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(`{"model":"prod/ha","max_tokens":32,"temperature":0.2,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+alice)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+traceID+"-"+clientSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The Connect and REST surfaces trace the same way (REST through its gRPC hop).
	others := map[string]string{ // trace id -> path
		"4bf92f3577b34da6a3ce929d0e0e4737": "/llmgw.inference.v1.InferenceService/ChatCompletion",
		"4bf92f3577b34da6a3ce929d0e0e4738": "/api/v1/inference/chat-completions",
	}
	for id, path := range others {
		req, _ := http.NewRequest(http.MethodPost, g.URL+path, strings.NewReader(`{"model":"fake/gpt","messages":[{"role":"ROLE_USER","content":[{"text":"hi"}]}]}`))
		req.Header.Set("Authorization", "Bearer "+alice)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Traceparent", "00-"+id+"-"+clientSpan+"-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
	}
	g.stop() // flushes the spans
	for id, path := range others {
		var srv, att []tracingtest.Span
		for _, s := range recv.Spans() {
			switch {
			case s.TraceID() != id:
			case s.Kind == tracepb.Span_SPAN_KIND_SERVER:
				srv = append(srv, s)
			case s.Kind == tracepb.Span_SPAN_KIND_CLIENT:
				att = append(att, s)
			}
		}
		if len(srv) != 1 || len(att) != 1 || srv[0].ParentSpanID() != clientSpan || att[0].ParentSpanID() != srv[0].SpanID() {
			t.Errorf("%s: %d server and %d attempt spans, want one each, the attempt under the server span under the client's", path, len(srv), len(att))
		}
	}

	var server *tracingtest.Span
	var attempts []tracingtest.Span
	for _, s := range recv.Spans() {
		if s.TraceID() != traceID {
			continue
		}
		switch s.Kind {
		case tracepb.Span_SPAN_KIND_SERVER:
			server = &s
		case tracepb.Span_SPAN_KIND_CLIENT:
			attempts = append(attempts, s)
		}
	}
	if server == nil {
		t.Fatalf("no server span in trace %s: %d spans received", traceID, len(recv.Spans()))
	}
	if server.ParentSpanID() != clientSpan || server.Name != "POST /v1/chat/completions" || server.Resource["service.name"] != "llmgw-e2e" {
		t.Errorf("server span %q parent %s resource %v", server.Name, server.ParentSpanID(), server.Resource)
	}
	if v, _ := server.Int("http.response.status_code"); v != 200 {
		t.Errorf("server span status %d", v)
	}
	if m, _ := server.Attr("gen_ai.request.model"); m != "prod/ha" {
		t.Errorf("server span model %q", m)
	}
	if len(attempts) != 3 {
		t.Fatalf("%d attempt spans, want 3", len(attempts))
	}
	byID := map[string]tracingtest.Span{}
	for _, a := range attempts {
		if a.ParentSpanID() != server.SpanID() {
			t.Errorf("attempt %q: parent %s, want the server span %s", a.Name, a.ParentSpanID(), server.SpanID())
		}
		byID[a.SpanID()] = a
	}
	reqs := up.Requests()[:3] // the openai request's; the others came after
	if len(up.Requests()) != 5 {
		t.Fatalf("%d upstream requests, want 5", len(up.Requests()))
	}
	var targets []string
	for _, r := range reqs {
		tp := strings.Split(r.Header.Get("Traceparent"), "-")
		if len(tp) != 4 || tp[1] != traceID {
			t.Fatalf("upstream traceparent %q", r.Header.Get("Traceparent"))
		}
		a, ok := byID[tp[2]]
		if !ok {
			t.Fatalf("upstream traceparent %q names no attempt span", r.Header.Get("Traceparent"))
		}
		delete(byID, tp[2]) // each attempt's own span
		target, _ := a.Attr("llmgw.target")
		targets = append(targets, target)
		for key, want := range map[string]string{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"} {
			if got, _ := a.Attr(key); got != want {
				t.Errorf("%s = %q, want %q", key, got, want)
			}
		}
		if n, _ := a.Int("gen_ai.request.max_tokens"); n != 32 {
			t.Errorf("max_tokens %d", n)
		}
	}
	if !slices.Equal(targets, []string{"fake/down", "fake/down", "fake/gpt"}) {
		t.Errorf("attempts at %v", targets)
	}
	last := attempts[slices.IndexFunc(attempts, func(s tracingtest.Span) bool { v, _ := s.Attr("llmgw.target"); return v == "fake/gpt" })]
	if in, _ := last.Int("gen_ai.usage.input_tokens"); in != 11 {
		t.Errorf("input tokens %d, want the fake's 11", in)
	}
	if m, _ := last.Attr("gen_ai.response.model"); m != "gpt-4o-mini" {
		t.Errorf("response model %q", m)
	}
}
