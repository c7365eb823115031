package layering

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/llmgw/llmgw/"

type pkg struct {
	ImportPath string
	Imports    []string
}

// rules: a package under the first prefix must not import anything under the second.
var rules = []struct {
	from, to, why string
}{
	{"gateway/", "store", "the data plane must not touch storage: it serves from the snapshot"},
	{"gateway/", "ent", "the data plane must not touch storage: it serves from the snapshot"},
	{"gateway/", "services/", "the data plane is a library under the services"},
	{"gateway/", "app", "the data plane is a library under the process wiring"},
	{"gateway/", "configfile", "the data plane does not read config files"},
	{"gateway/", "analytics", "the data plane hands usage events to a recorder; analytics consumes them"},
	{"gateway/", "control/", "a replica reaches the control plane only through lease.Exchanger, which the wiring implements"},
	{"control/", "services/", "the control plane's libraries sit under the services that serve them"},
	{"control/", "app", "the control plane's libraries sit under the process wiring"},
	{"analytics", "services/", "analytics sits under the services"},
	{"analytics", "app", "analytics sits under the process wiring"},
	{"replica", "store", "a gateway replica never opens the database: its config comes from the control plane"},
	{"replica", "ent", "a gateway replica never opens the database: its config comes from the control plane"},
	{"replica", "app", "the replica link sits under the process wiring"},
	{"store", "services/", "storage sits under the services"},
	{"store", "app", "storage sits under the process wiring"},
	{"ent", "store", "the ent schema holds no business logic"},
	{"configfile", "store", "configfile defines the store interface it needs"},
	{"services/", "app", "nothing imports the process wiring"},
	{"gitops", "store", "apply and get are Admin API clients: they never open the database"},
	{"gitops", "services/", "apply and get are Admin API clients of a running server"},
	{"gateway/", "secretref", "the data plane gets secret values in the snapshot; it never reads a secret manager"},
	{"replica", "secretref", "a gateway replica gets secret values in the config the control plane pushes"},
	{"configfile", "secretref/secretref", "configfile checks references with secretref alone; the secret managers' SDKs belong to the process wiring"},
	{"secretref", "app", "the secret managers sit under the process wiring"},
	{"client/", "gateway/", "client libraries are what other programs embed: they carry none of the gateway"},
	{"client/", "services/", "client libraries are what other programs embed"},
	{"client/", "store", "client libraries are what other programs embed"},
	{"client/", "app", "client libraries are what other programs embed"},
	{"", "cmd/", "nothing imports a command"},
	{"gateway/", "web", "the data plane does not serve the web app"},
	{"services/", "web", "the server takes the web app as an http.Handler option; only the process wiring embeds it"},
	{"web", "", "the web app's file server is a leaf: the app reaches the gateway only through its public APIs"},
	{"masterkey", "", "the master key is a leaf: the store and a gateway replica (which links no store) both use it"},
	{"pagetrim", "", "releasing the binary's pages is a leaf: the process wiring calls it"},
	{"services/adminaccess", "store", "who may use the Admin API is what the server needs without the Admin API's storage"},
}

// notInGatewayOnly are the dependencies the gateway-only build (cmd/llmgw with the Makefile's
// GATEWAY_TAGS) must not link: what only a process with the database serves, and what would
// keep unused code in the binary and its pages resident.
var notInGatewayOnly = []struct{ pkg, why string }{
	{module + "store", "a gateway replica never opens the database"},
	{module + "ent", "a gateway replica never opens the database"},
	{"entgo.io/ent", "the database's ORM"},
	{"ariga.io/atlas", "the database's migrations"},
	{"modernc.org/sqlite", "SQLite: the config database and the embedded usage store"},
	{"github.com/jackc/pgx", "Postgres: the config database"},
	{module + "analytics/embedded", "the embedded usage store: a replica sends usage to Kafka"},
	{module + "analytics/clickhouse", "the Usage API's ClickHouse is read by the control plane"},
	{"github.com/ClickHouse/ch-go", "the Usage API's ClickHouse is read by the control plane"},
	{module + "services/admin", "the Admin API is served by the control plane"},
	{module + "web", "the web app is served where the Admin API is"},
	{"github.com/aws/aws-sdk-go-v2/service/ssm", "secret managers are read by the control plane"},
	{"github.com/aws/aws-sdk-go-v2/service/secretsmanager", "secret managers are read by the control plane"},
	{"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault", "secret managers are read by the control plane"},
	{"cloud.google.com/go/secretmanager", "secret managers are read by the control plane"},
	{"github.com/hashicorp/vault", "secret managers are read by the control plane"},
	{module + "gitops", "llmgw apply and get, the Admin API's client, one generic instantiation per method, run from the full build"},
	{"golang.org/x/net/trace", "gRPC's request tracing, left out by the grpcnotrace tag: it links html/template"},
	{"text/template", "a template looks methods up by name at run time, so the linker keeps every exported method of every type the binary has: about a quarter of its code and function tables"},
}

// gatewayOnlyTags reads the gateway-only build's tags from the Makefile (GATEWAY_TAGS) and
// checks that the Dockerfile builds with the same.
func gatewayOnlyTags(t *testing.T) string {
	t.Helper()
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var tags string
	for line := range strings.Lines(string(mk)) {
		if v, ok := strings.CutPrefix(line, "GATEWAY_TAGS := "); ok {
			tags = strings.TrimSpace(v)
		}
	}
	if !strings.Contains(tags, "llmgw_gateway_only") {
		t.Fatalf("the Makefile's GATEWAY_TAGS is %q, without llmgw_gateway_only", tags)
	}
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), "-tags "+tags+" ") {
		t.Errorf("the Dockerfile does not build the gateway with -tags %s, the Makefile's GATEWAY_TAGS", tags)
	}
	return tags
}

// TestGatewayOnlyBuild: the gateway-only build links none of the control plane's
// dependencies, which are most of the full binary's size and of its resident memory.
func TestGatewayOnlyBuild(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", gatewayOnlyTags(t), "../cmd/llmgw").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 || !slices.Contains(deps, module+"gateway/pipeline") || !slices.Contains(deps, module+"replica") {
		t.Fatalf("go list -deps found %d packages, without the gateway's pipeline or the replica", len(deps))
	}
	for _, d := range deps {
		for _, n := range notInGatewayOnly {
			if d == n.pkg || strings.HasPrefix(d, n.pkg+"/") {
				t.Errorf("the gateway-only build links %s: %s", d, n.why)
			}
		}
	}
	// The full build links them: the list above names real packages.
	out, err = exec.Command("go", "list", "-deps", "../cmd/llmgw").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	full := strings.Fields(string(out))
	for _, n := range notInGatewayOnly {
		if !slices.ContainsFunc(full, func(d string) bool { return d == n.pkg || strings.HasPrefix(d, n.pkg+"/") }) {
			t.Errorf("the full build does not link %s: the gateway-only check of it checks nothing", n.pkg)
		}
	}
}

func TestDependencyDirection(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "../...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
		from := strings.TrimPrefix(p.ImportPath, module)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			to := strings.TrimPrefix(imp, module)
			for _, r := range rules {
				if strings.HasPrefix(from, r.from) && (to == strings.TrimSuffix(r.to, "/") || strings.HasPrefix(to, r.to)) && !strings.HasPrefix(from, "gen/") {
					t.Errorf("%s imports %s: %s", from, to, r.why)
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("go list found only %d packages", n)
	}
}
