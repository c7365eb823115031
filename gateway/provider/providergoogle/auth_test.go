package providergoogle

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/apierr"
)

func TestServiceAccountKeys(t *testing.T) {
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testRSAKey())}))
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))
	keyFile := func(fields map[string]string) string {
		b, _ := json.Marshal(fields)
		return string(b)
	}
	tests := []struct {
		name    string
		json    string
		wantErr string
	}{
		{"pkcs1 key, default token uri", keyFile(map[string]string{"type": "service_account", "client_email": "a@b", "private_key": pkcs1}), ""},
		{"ec key", keyFile(map[string]string{"client_email": "a@b", "private_key": ecPEM}), "not an RSA key"},
		{"not pem", keyFile(map[string]string{"client_email": "a@b", "private_key": "secret-bytes"}), "not PEM"},
		{"garbage der", keyFile(map[string]string{"client_email": "a@b", "private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}))}), "neither"},
		{"user credential", keyFile(map[string]string{"type": "authorized_user", "client_email": "a@b", "private_key": pkcs1}), "authorized_user"},
		{"bad token uri", keyFile(map[string]string{"client_email": "a@b", "private_key": pkcs1, "token_uri": "/token"}), "token_uri"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, _, err := newTokenSource(tt.json, http.DefaultClient)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("newTokenSource: %v", err)
				}
				if ts.tokenURI != DefaultTokenURI {
					t.Errorf("token uri %q, want the default", ts.tokenURI)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "secret-bytes") || strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("error quotes the key: %v", err)
			}
		})
	}
}

func TestTokenEndpointFailures(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantKind apierr.Kind
	}{
		{"401", http.StatusUnauthorized, `{"error":"invalid_client"}`, apierr.KindUpstreamBadResponse},
		{"500", http.StatusInternalServerError, `oops`, apierr.KindUpstreamBadResponse},
		{"503", http.StatusServiceUnavailable, `busy`, apierr.KindUpstreamUnavailable},
		{"not json", http.StatusOK, `<html>`, apierr.KindUpstreamBadResponse},
		{"no token", http.StatusOK, `{"token_type":"Bearer"}`, apierr.KindUpstreamBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			ts, _, err := newTokenSource(serviceAccountJSON(t, srv.URL), srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			_, err = ts.get(context.Background())
			if e := asAPIErr(t, err); e.Kind != tt.wantKind {
				t.Errorf("kind %v, want %v (%v)", e.Kind, tt.wantKind, e)
			}
		})
	}
}
