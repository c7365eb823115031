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
