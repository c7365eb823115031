// Package secretrefaws reads aws-ssm:// references from AWS Systems Manager Parameter Store
// and aws-sm:// references from AWS Secrets Manager, with the official SDK
// (aws-sdk-go-v2) and its default credential chain. It is a secretref.Fetcher for both
// schemes.
package secretrefaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/llmgw/llmgw/secretref"
)

// Fetcher reads aws-ssm:// and aws-sm:// references. Its AWS config is loaded at the first
// Fetch with the SDK's defaults (environment, shared config and credentials files, web
// identity, ECS and EC2 instance roles; AWS_REGION). It is safe for concurrent use.
type Fetcher struct {
	load     func(ctx context.Context) (aws.Config, error)
	endpoint string

	mu  sync.Mutex
	ssm *ssm.Client
	sm  *secretsmanager.Client
}

var _ secretref.Fetcher = (*Fetcher)(nil)

// Option configures a Fetcher.
type Option func(*Fetcher)

// WithConfig uses cfg instead of loading the SDK's default config.
func WithConfig(cfg aws.Config) Option {
	return func(f *Fetcher) { f.load = func(context.Context) (aws.Config, error) { return cfg, nil } }
}

// WithEndpoint sends both services' calls to url (a VPC endpoint, a test fake) instead of
// the region's.
func WithEndpoint(url string) Option { return func(f *Fetcher) { f.endpoint = url } }

// New returns a Fetcher.
func New(opts ...Option) *Fetcher {
	f := &Fetcher{load: func(ctx context.Context) (aws.Config, error) { return config.LoadDefaultConfig(ctx) }}
	for _, o := range opts {
		o(f)
	}
	return f
}

func (f *Fetcher) clients(ctx context.Context) (*ssm.Client, *secretsmanager.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ssm != nil {
		return f.ssm, f.sm, nil
	}
	cfg, err := f.load(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("aws config: %w", err)
	}
	var ep *string
	if f.endpoint != "" {
		ep = aws.String(f.endpoint)
	}
	f.ssm = ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = ep })
	f.sm = secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = ep })
	return f.ssm, f.sm, nil
}

// Fetch returns the parameter's value (decrypted) or the secret's current SecretString, or
// the value of its JSON key ref.Key.
func (f *Fetcher) Fetch(ctx context.Context, ref secretref.Ref) (string, error) {
	ssmc, smc, err := f.clients(ctx)
	if err != nil {
		return "", err
	}
	switch ref.Scheme {
	case secretref.SchemeAWSSSM:
		out, err := ssmc.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(ref.Path), WithDecryption: aws.Bool(true)})
		if err != nil {
			return "", err
		}
		if out.Parameter == nil || out.Parameter.Value == nil {
			return "", errors.New("the parameter has no value")
		}
		return *out.Parameter.Value, nil
	case secretref.SchemeAWSSM:
		out, err := smc.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.Path)})
		if err != nil {
			return "", err
		}
		if out.SecretString == nil {
			return "", errors.New("the secret has no SecretString (a binary secret is not supported)")
		}
		if ref.Key == "" {
			return *out.SecretString, nil
		}
		return jsonKey(*out.SecretString, ref.Key)
	}
	return "", fmt.Errorf("secretrefaws does not read %s:// references", ref.Scheme)
}

// jsonKey returns key of the JSON object s. Its errors never quote s.
func jsonKey(s, key string) (string, error) {
	var obj map[string]any
	if err := json.Unmarshal([]byte(s), &obj); err != nil {
		return "", fmt.Errorf("the secret is not a JSON object, so it has no key %q", key)
	}
	raw, ok := obj[key]
	if !ok {
		return "", fmt.Errorf("the secret's JSON has no key %q", key)
	}
	v, ok := raw.(string)
	if !ok {
		return "", fmt.Errorf("the secret's JSON key %q is not a string", key)
	}
	return v, nil
}
