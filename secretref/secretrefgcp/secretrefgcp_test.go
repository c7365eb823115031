package secretrefgcp_test

import (
	"context"
	"hash/crc32"
	"net"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/llmgw/llmgw/secretref"
	"github.com/llmgw/llmgw/secretref/secretrefgcp"
	"github.com/llmgw/llmgw/secretref/secretreftest"
)

// fakeSecretManager is Secret Manager's AccessSecretVersion as documented: a version name
// (or versions/latest) answers the version's full name and its payload with a CRC32C
// checksum; an unknown secret is NotFound. Down answers Internal (which the client does not
// retry, so an outage fails at once).
type fakeSecretManager struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer

	mu       sync.Mutex
	versions map[string][]string // secret name -> payloads, version n at n-1
	down     bool
	corrupt  bool // send a wrong checksum
}

func (f *fakeSecretManager) AccessSecretVersion(_ context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Internal, "internal error")
	}
	i := strings.Index(req.GetName(), "/versions/")
	if i < 0 {
		return nil, status.Error(codes.InvalidArgument, "name must be projects/*/secrets/*/versions/*")
	}
	secret, version := req.GetName()[:i], req.GetName()[i+len("/versions/"):]
	vs := f.versions[secret]
	if len(vs) == 0 {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found or has no versions.", secret)
	}
	n := len(vs)
	if version != "latest" {
		var ok bool
		for j := range vs {
			if version == itoa(j+1) {
				n, ok = j+1, true
			}
		}
		if !ok {
			return nil, status.Errorf(codes.NotFound, "Secret Version [%s] not found.", req.GetName())
		}
	}
	data := []byte(vs[n-1])
	sum := int64(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	if f.corrupt {
		sum++
	}
	return &secretmanagerpb.AccessSecretVersionResponse{Name: secret + "/versions/" + itoa(n),
		Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &sum}}, nil
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

type backend struct {
	f      *fakeSecretManager
	secret string
}

func (b backend) Set(v string) {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	b.f.versions[b.secret] = append(b.f.versions[b.secret], v)
}

func (b backend) SetDown(down bool) {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	b.f.down = down
}

// start serves the fake on a loopback port and returns the official client's options to
// reach it.
func start(t *testing.T) (*fakeSecretManager, []option.ClientOption) {
	t.Helper()
	fake := &fakeSecretManager{versions: map[string][]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	secretmanagerpb.RegisterSecretManagerServiceServer(s, fake)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return fake, []option.ClientOption{option.WithEndpoint(ln.Addr().String()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))}
}

func TestGCP(t *testing.T) {
	fake, opts := start(t)
	f := secretrefgcp.New(opts...)
	defer f.Close()
	secretreftest.Run(t, f, "gcp-sm://projects/p1/secrets/openai", backend{fake, "projects/p1/secrets/openai"})
}

func TestGCPVersionsAndErrors(t *testing.T) {
	fake, opts := start(t)
	f := secretrefgcp.New(opts...)
	defer f.Close()
	b := backend{fake, "projects/p1/secrets/k"}
	b.Set("sk-v1")
	b.Set("sk-v2")
	fetch := func(raw string) (string, error) {
		ref, err := secretref.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return f.Fetch(context.Background(), ref)
	}
	if v, err := fetch("gcp-sm://projects/p1/secrets/k/versions/1"); err != nil || v != "sk-v1" {
		t.Errorf("pinned version 1: %q, %v; want sk-v1", v, err)
	}
	if v, err := fetch("gcp-sm://projects/p1/secrets/k"); err != nil || v != "sk-v2" {
		t.Errorf("latest: %q, %v; want sk-v2", v, err)
	}
	if _, err := fetch("gcp-sm://projects/p1/secrets/nope"); status.Code(err) != codes.NotFound {
		t.Errorf("unknown secret: %v, want NotFound", err)
	}
	fake.mu.Lock()
	fake.corrupt = true
	fake.mu.Unlock()
	if _, err := fetch("gcp-sm://projects/p1/secrets/k"); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("corrupt payload: %v, want a checksum error", err)
	}
}
