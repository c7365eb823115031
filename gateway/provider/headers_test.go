package provider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHeaderOverrideTransport(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	c := NoRedirects(srv.Client())
	send := func(ctx context.Context) *http.Request {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer k")
		req.Header.Set("X-Drop", "1")
		req.Header.Set("X-Tenant", "adapter")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return req
	}
	h := &HeaderOverride{Set: map[string]string{"X-Tenant": "a", "X-New": "b"}, Remove: []string{"X-Drop"}}
	req := send(WithHeaderOverride(context.Background(), h))
	if got.Get("X-Tenant") != "a" || got.Get("X-New") != "b" || got.Get("X-Drop") != "" || got.Get("Authorization") != "Bearer k" {
		t.Errorf("with the override, upstream got %v", got)
	}
	if req.Header.Get("X-Tenant") != "adapter" || req.Header.Get("X-Drop") != "1" {
		t.Errorf("the adapter's request was modified: %v", req.Header)
	}
	send(WithoutHeaderOverride(WithHeaderOverride(context.Background(), h)))
	if got.Get("X-Tenant") != "adapter" || got.Get("X-New") != "" || got.Get("X-Drop") != "1" {
		t.Errorf("without the override, upstream got %v", got)
	}
}

func TestCheckOverrideHeader(t *testing.T) {
	for name, ok := range map[string]bool{
		"x-tenant": true, "OpenAI-Organization": true, "accept": true,
		"authorization": false, "X-API-KEY": false, "api-key": false, "x-goog-api-key": false,
		"anthropic-version": false, "host": false, "content-length": false, "x-amz-date": false,
		"": false, "bad name": false,
	} {
		if err := CheckOverrideHeader(name); (err == nil) != ok {
			t.Errorf("CheckOverrideHeader(%q) = %v, want ok %v", name, err, ok)
		}
	}
}
