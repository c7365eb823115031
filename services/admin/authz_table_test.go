package admin

import (
	"strings"
	"testing"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/services/adminaccess"
)

// TestEveryMethodHasARule walks the AdminService descriptor: every method has a row in the
// role table, reads (Get*, List*) are the viewer's and record nothing, probes (TestModel) are
// neither, ApplyConfig writes only through other methods, each recorded, a method open to
// every authenticated caller (GetCaller) only reads, and every other method is a write that
// the audit log records. A method added without a row fails here.
func TestEveryMethodHasARule(t *testing.T) {
	sd := adminv1.File_llmgw_admin_v1_admin_proto.Services().ByName("AdminService")
	if sd == nil {
		t.Fatal("no AdminService in the descriptor")
	}
	methods := sd.Methods()
	seen := map[string]bool{}
	for i := range methods.Len() {
		name := string(methods.Get(i).Name())
		seen[name] = true
		r, ok := rules[name]
		if !ok {
			t.Errorf("%s has no row in the role table (services/admin/authz.go)", name)
			continue
		}
		isRead := strings.HasPrefix(name, "Get") || strings.HasPrefix(name, "List") || name == "ExportConfig" || name == "PlanConfig"
		switch {
		case adminaccess.OpenToAll(name) && (!isRead || !r.read || r.write != nil || r.team != nil || r.probe):
			t.Errorf("%s is open to every caller: want a read, no audit, no team check", name)
		case r.probe && (isRead || r.read || r.write != nil || r.team != nil):
			t.Errorf("%s probes: want no read, no audit, no team check", name)
		case r.probe:
		case name == "ApplyConfig" && (r.read || r.write != nil || r.team != nil):
			t.Errorf("%s: want the admin's alone (read false, no team check) and no audit of its own", name)
		case name == "ApplyConfig":
		case isRead && (!r.read || r.write != nil):
			t.Errorf("%s reads: want read true and no audit", name)
		case !isRead && (r.read || r.write == nil || r.write.kind == "" || r.write.action == ""):
			t.Errorf("%s writes: want read false and an audit kind and action", name)
		}
	}
	for name := range rules {
		if !seen[name] {
			t.Errorf("the role table has %s, which the service does not", name)
		}
	}
}
