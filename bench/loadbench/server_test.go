package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCompletionBody(t *testing.T) {
	t.Parallel()
	var c struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(completionBody), &c); err != nil {
		t.Fatalf("completionBody is not JSON: %v", err)
	}
	if c.Object != "chat.completion" || len(c.Choices) != 1 || c.Choices[0].Message.Role != "assistant" ||
		c.Choices[0].Message.Content == "" || c.Choices[0].FinishReason != "stop" {
		t.Errorf("completionBody is not a one-choice chat.completion: %+v", c)
	}
	if u := c.Usage; u.PromptTokens <= 0 || u.CompletionTokens <= 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Errorf("usage = %+v, want positive counts that add up", u)
	}
	if n := len(completionBody); n < 550 || n > 700 {
		t.Errorf("len(completionBody) = %d, want about 600 bytes", n)
	}
}

// recorded is what the fake upstream saw of one request.
type recorded struct {
	method, path, auth, body string
}

// recordingUpstream wraps newUpstream and remembers every request it sees.
type recordingUpstream struct {
	next http.Handler
	mu   sync.Mutex
	seen []recorded
}

func (u *recordingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	u.mu.Lock()
	u.seen = append(u.seen, recorded{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"), body: string(body)})
	u.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	u.next.ServeHTTP(w, r)
}

func TestUpstreamAndProxy(t *testing.T) {
	t.Parallel()
	up := &recordingUpstream{next: newUpstream()}
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	upURL, err := url.Parse(upSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	proxySrv := httptest.NewServer(newProxy(upURL, log))
	t.Cleanup(proxySrv.Close)

	body := requestBody(upstreamModel, false)
	tests := []struct {
		name       string
		via        string
		method     string
		path       string
		wantStatus int
		wantBody   string
		wantSeen   *recorded
	}{
		{
			name: "upstream answers /v1/chat/completions", via: upSrv.URL, method: http.MethodPost,
			path: "/v1/chat/completions", wantStatus: http.StatusOK, wantBody: completionBody,
			wantSeen: &recorded{method: http.MethodPost, path: "/v1/chat/completions", auth: "Bearer k", body: body},
		},
		{
			name: "upstream answers /chat/completions", via: upSrv.URL, method: http.MethodPost,
			path: "/chat/completions", wantStatus: http.StatusOK, wantBody: completionBody,
			wantSeen: &recorded{method: http.MethodPost, path: "/chat/completions", auth: "Bearer k", body: body},
		},
		{
			name: "proxy forwards body, path and headers", via: proxySrv.URL, method: http.MethodPost,
			path: "/v1/chat/completions", wantStatus: http.StatusOK, wantBody: completionBody,
			wantSeen: &recorded{method: http.MethodPost, path: "/v1/chat/completions", auth: "Bearer k", body: body},
		},
		{
			name: "proxy relays a 404", via: proxySrv.URL, method: http.MethodPost,
			path: "/v1/embeddings", wantStatus: http.StatusNotFound, wantBody: "404 page not found\n",
			wantSeen: &recorded{method: http.MethodPost, path: "/v1/embeddings", auth: "Bearer k", body: body},
		},
		{
			name: "proxy relays a 405", via: proxySrv.URL, method: http.MethodPut,
			path: "/v1/chat/completions", wantStatus: http.StatusMethodNotAllowed, wantBody: "Method Not Allowed\n",
			wantSeen: &recorded{method: http.MethodPut, path: "/v1/chat/completions", auth: "Bearer k", body: body},
		},
		{
			name: "health through the proxy", via: proxySrv.URL, method: http.MethodGet,
			path: "/healthz", wantStatus: http.StatusOK, wantBody: "",
			wantSeen: &recorded{method: http.MethodGet, path: "/healthz", auth: "Bearer k", body: ""},
		},
	}
	// Subtests run in order: each checks the last request the upstream saw.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reqBody io.Reader
			if tt.method != http.MethodGet {
				reqBody = strings.NewReader(body)
			}
			req, err := http.NewRequestWithContext(t.Context(), tt.method, tt.via+tt.path, reqBody)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer k")
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantBody, string(got)); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
			if tt.wantStatus == http.StatusOK && tt.wantBody != "" {
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", ct)
				}
			}
			up.mu.Lock()
			last := up.seen[len(up.seen)-1]
			up.mu.Unlock()
			if diff := cmp.Diff(*tt.wantSeen, last, cmp.AllowUnexported(recorded{})); diff != "" {
				t.Errorf("upstream saw (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSubcommandsServe starts each server subcommand through run on a
// random port and checks it shuts down cleanly when its context ends.
func TestSubcommandsServe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{name: "upstream", args: []string{"upstream", "-listen", "127.0.0.1:0"}},
		{name: "proxy", args: []string{"proxy", "-listen", "127.0.0.1:0", "-upstream", "http://127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			var stderr syncBuffer
			errc := make(chan error, 1)
			go func() { errc <- run(ctx, tt.args, io.Discard, &stderr) }()
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(stderr.String(), "msg=listening") {
				if time.Now().After(deadline) {
					t.Fatalf("%s did not start; stderr:\n%s", tt.name, stderr.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("run() error = %v", err)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
