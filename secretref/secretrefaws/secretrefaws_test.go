package secretrefaws_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/llmgw/llmgw/secretref"
	"github.com/llmgw/llmgw/secretref/secretrefaws"
	"github.com/llmgw/llmgw/secretref/secretreftest"
)

// fetcher returns the official SDK pointed at the fake, with static credentials (the fake
// checks the request is signed) and no retries, so an outage fails at once.
func fetcher(url string) *secretrefaws.Fetcher {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Retryer: func() aws.Retryer { return aws.NopRetryer{} }}
	return secretrefaws.New(secretrefaws.WithConfig(cfg), secretrefaws.WithEndpoint(url))
}

func TestAWS(t *testing.T) {
	fake := secretreftest.NewAWS()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	f := fetcher(srv.URL)
	t.Run("ssm", func(t *testing.T) {
		secretreftest.Run(t, f, "aws-ssm:///prod/llmgw/openai", fake.ParameterBackend("/prod/llmgw/openai"))
		if !fake.Decrypted() {
			t.Error("GetParameter did not ask for decryption")
		}
	})
	t.Run("sm", func(t *testing.T) {
		secretreftest.Run(t, f, "aws-sm://prod/openai", fake.SecretBackend("prod/openai", ""))
	})
	t.Run("sm json key", func(t *testing.T) {
		secretreftest.Run(t, f, "aws-sm://prod/keys#openai", fake.SecretBackend("prod/keys", "openai"))
	})
}

func TestAWSErrors(t *testing.T) {
	fake := secretreftest.NewAWS()
	fake.PutSecret("plain", "sk-not-json")
	fake.PutSecret("obj", `{"n": 1}`)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	f := fetcher(srv.URL)
	tests := []struct{ ref, want string }{
		{"aws-ssm://missing", "ParameterNotFound"},
		{"aws-sm://missing", "ResourceNotFoundException"},
		{"aws-sm://plain#k", "not a JSON object"},
		{"aws-sm://obj#k", `no key "k"`},
		{"aws-sm://obj#n", "not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			ref, err := secretref.Parse(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Fetch(context.Background(), ref)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Fetch error = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "sk-not-json") {
				t.Errorf("the error quotes the secret: %v", err)
			}
		})
	}
}
