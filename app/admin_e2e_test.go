package app

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// TestRESTRotateWithGracePeriod: over REST, a rotation with a grace period leaves both secrets
// working on the data plane and lists the old one; a later rotation without grace period ends
// the old secret at once; periods out of range are a 400 naming grace_period.
func TestRESTRotateWithGracePeriod(t *testing.T) {
	g := startGateway(t, nil)
	call := func(method, path, auth, body string, want int, out *adminv1.RotateApiKeyResponse) string {
		t.Helper()
		resp, b := g.do(t, method, path, auth, body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, resp.StatusCode, b, want)
		}
		if out != nil {
			if err := protojson.Unmarshal([]byte(b), out); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
		}
		return b
	}
	call("POST", "/api/v1/users", g.Token, `{"name":"alice"}`, 200, nil)
	call("POST", "/api/v1/authz-rules", g.Token, `{"name":"alice-mock","models":["mock/*"],"users":["alice"]}`, 200, nil)
	var created adminv1.RotateApiKeyResponse // the same two fields as CreateApiKeyResponse
	call("POST", "/api/v1/api-keys", g.Token, `{"name":"laptop","user":"alice"}`, 200, &created)
	id, old := created.GetApiKey().GetId(), created.GetSecret()
	rotate := "/api/v1/api-keys/" + id + ":rotate"

	for _, body := range []string{`{"gracePeriod":"-1s"}`, `{"grace_period":"604801s"}`} {
		if b := call("POST", rotate, g.Token, body, 400, nil); !strings.Contains(b, "grace_period") {
			t.Errorf("%s: %s, want a message naming grace_period", body, b)
		}
	}
	call("GET", "/v1/models", old, "", 200, nil) // the refused rotations changed nothing

	var rotated adminv1.RotateApiKeyResponse
	call("POST", rotate, g.Token, `{"gracePeriod":"3600s"}`, 200, &rotated)
	if rotated.GetApiKey().GetPreviousPrefix() != created.GetApiKey().GetPrefix() || rotated.GetApiKey().GetPreviousExpireTime() == nil {
		t.Fatalf("rotated key %v: want the old prefix and the grace period's end", rotated.GetApiKey())
	}
	call("GET", "/v1/models", old, "", 200, nil)
	call("GET", "/v1/models", rotated.GetSecret(), "", 200, nil)
	if b := call("GET", "/api/v1/api-keys?user=alice", g.Token, "", 200, nil); !strings.Contains(b, `"previousPrefix":"`+created.GetApiKey().GetPrefix()+`"`) {
		t.Errorf("listing %s lacks the previous prefix", b)
	}

	var again adminv1.RotateApiKeyResponse
	call("POST", rotate, g.Token, `{}`, 200, &again)
	call("GET", "/v1/models", old, "", 401, nil)
	call("GET", "/v1/models", rotated.GetSecret(), "", 401, nil)
	call("GET", "/v1/models", again.GetSecret(), "", 200, nil)
}

// TestUnknownFieldsAreRefused: a misspelt field is a 400 naming it, on REST and on Connect's
// JSON, for the Admin and the Inference services, and the call does nothing.
func TestUnknownFieldsAreRefused(t *testing.T) {
	g := startGateway(t, nil)
	resp, body := g.do(t, "POST", "/api/v1/users", g.Token, `{"name":"bob"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("create bob: %d %s", resp.StatusCode, body)
	}
	resp, body = g.do(t, "POST", "/api/v1/api-keys", g.Token, `{"user":"bob"}`)
	var key adminv1.CreateApiKeyResponse
	if resp.StatusCode != 200 || protojson.Unmarshal([]byte(body), &key) != nil {
		t.Fatalf("create key: %d %s", resp.StatusCode, body)
	}
	tests := []struct {
		name, path, body, field string
	}{
		{"REST admin", "/api/v1/users", `{"name":"eve","adminn":true}`, `"adminn"`},
		{"REST admin, nested", "/api/v1/virtual-models", `{"group":"prod","name":"r","routing_config":{"type":"weight-based-routing","load_balance_targets":[{"target":"mock/echo","wieght":100}]}}`, `"routing_config.load_balance_targets[0].wieght"`},
		{"REST rotate", "/api/v1/api-keys/" + key.GetApiKey().GetId() + ":rotate", `{"grace":"60s"}`, `"grace"`},
		{"REST inference", "/api/v1/inference/chat-completions", `{"model":"mock/echo","messages":[{"role":"ROLE_USER","content":[{"text":"x"}]}],"temprature":1}`, `"temprature"`},
		{"Connect admin", "/llmgw.admin.v1.AdminService/CreateUser", `{"user":{"name":"eve","adminn":true}}`, `"user.adminn"`},
		{"Connect rotate", "/llmgw.admin.v1.AdminService/RotateApiKey", `{"id":"` + key.GetApiKey().GetId() + `","gracePeriodd":"60s"}`, `"gracePeriodd"`},
		{"Connect inference", "/llmgw.inference.v1.InferenceService/ChatCompletion", `{"model":"mock/echo","messages":[{"role":"ROLE_USER","content":[{"text":"x"}]}],"temprature":1}`, `"temprature"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := g.do(t, "POST", tt.path, g.Token, tt.body)
			if resp.StatusCode != 400 || !strings.Contains(body, `unknown field \`+tt.field[:len(tt.field)-1]+`\"`) {
				t.Errorf("%s: %d %s; want 400 naming %s", tt.body, resp.StatusCode, body, tt.field)
			}
		})
	}
	if resp, body := g.do(t, "GET", "/api/v1/users/eve", g.Token, ""); resp.StatusCode != 404 {
		t.Errorf("a refused create made a user: %d %s", resp.StatusCode, body)
	}
	if resp, body := g.do(t, "GET", "/v1/models", key.GetSecret(), ""); resp.StatusCode != 200 {
		t.Errorf("a refused rotation changed the key: %d %s", resp.StatusCode, body)
	}
	// Known fields by either name still work.
	if resp, body := g.do(t, "POST", "/llmgw.admin.v1.AdminService/CreateUser", g.Token, `{"user":{"name":"eve","admin":false,"teams":[]}}`); resp.StatusCode != 200 {
		t.Errorf("a valid Connect JSON call: %d %s", resp.StatusCode, body)
	}
	if resp, body := g.do(t, "POST", "/api/v1/api-keys/"+key.GetApiKey().GetId()+":rotate", g.Token, `{"grace_period":"60s"}`); resp.StatusCode != 200 {
		t.Errorf("a valid REST rotation: %d %s", resp.StatusCode, body)
	}
}

// TestAdminRefusesWhatCannotWork: over REST, a model whose adapter cannot be built (a wrong
// Bedrock region) and an authz rule model name that can never match are 400s naming the
// problem, instead of a 200 followed by 503s or silent denials.
func TestAdminRefusesWhatCannotWork(t *testing.T) {
	g := startGateway(t, nil)
	tests := []struct {
		name, method, path, body string
		status                   int
		says                     string
	}{
		{"account", "POST", "/api/v1/provider-accounts", `{"name":"aws","provider":"bedrock","apiKey":"secret","settings":{"region":"eu-west-1","access_key_id":"AKIA"}}`, 200, ""},
		{"model with a wrong region", "POST", "/api/v1/provider-accounts/aws/models", `{"name":"haiku","upstreamModel":"anthropic.claude-3-haiku","settings":{"region":"us_east_1"}}`, 400, `region \"us_east_1\"`},
		{"model", "POST", "/api/v1/provider-accounts/aws/models", `{"name":"haiku","upstreamModel":"anthropic.claude-3-haiku"}`, 200, ""},
		{"account update that breaks its model", "PUT", "/api/v1/provider-accounts/aws", `{"provider":"bedrock","settings":{"region":"us_east_1","access_key_id":"AKIA"}}`, 400, "aws/haiku"},
		{"rule model without account", "POST", "/api/v1/authz-rules", `{"name":"r","models":["gpt-4o"],"users":["*"]}`, 400, "authz_rule.models[0]"},
		{"rule", "POST", "/api/v1/authz-rules", `{"name":"r","models":["aws/haiku","aws/*","*"],"users":["*"]}`, 200, ""},
	}
	for _, tt := range tests {
		resp, body := g.do(t, tt.method, tt.path, g.Token, tt.body)
		if resp.StatusCode != tt.status || !strings.Contains(body, tt.says) {
			t.Fatalf("%s: %d %s; want %d saying %s", tt.name, resp.StatusCode, body, tt.status, tt.says)
		}
	}
	if strings.Contains(g.Logs.String(), "will answer 503") {
		t.Errorf("a misconfigured model reached the snapshot:\n%s", g.Logs)
	}
}
