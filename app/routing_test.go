package app

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/snapshot"
)

type configSource struct{ cfg snapshot.Config }

func (s configSource) SnapshotConfig(context.Context) (*snapshot.Config, error) {
	cfg := s.cfg
	return &cfg, nil
}

// TestFileRoutingWins: the snapshot gets the config file's virtual models and routing rules
// first, then the stored ones; a stored one of a name the file defines (stored before the file
// defined it) is left out with a warning.
func TestFileRoutingWins(t *testing.T) {
	vm := func(group, name, target string) snapshot.VirtualModel {
		return snapshot.VirtualModel{Account: group, Name: name, Strategy: snapshot.RoutingLatency, Targets: []snapshot.VirtualTarget{snapshot.NewTarget(target)}}
	}
	rule := func(id, target string) snapshot.RoutingRule {
		return snapshot.RoutingRule{ID: id, Strategy: snapshot.RoutingLatency, Targets: []snapshot.VirtualTarget{snapshot.NewTarget(target)}}
	}
	stored := snapshot.Config{
		VirtualModels: []snapshot.VirtualModel{vm("file", "vm", "stored/x"), vm("prod", "a", "stored/y")},
		RoutingRules:  []snapshot.RoutingRule{rule("r1", "stored/x"), rule("r2", "stored/y")},
	}
	var logs strings.Builder
	src := missingSecrets{
		Source:  configSource{stored},
		virtual: []snapshot.VirtualModel{vm("file", "vm", "file/x")},
		routing: []snapshot.RoutingRule{rule("r1", "file/x")},
		logger:  slog.New(slog.NewTextHandler(&logs, nil)),
	}
	cfg, err := src.SnapshotConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]snapshot.VirtualModel{vm("file", "vm", "file/x"), vm("prod", "a", "stored/y")}, cfg.VirtualModels); d != "" {
		t.Errorf("virtual models (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]snapshot.RoutingRule{rule("r1", "file/x"), rule("r2", "stored/y")}, cfg.RoutingRules); d != "" {
		t.Errorf("routing rules (-want +got):\n%s", d)
	}
	for _, want := range []string{"stored virtual model left out", "model=file/vm", "stored routing rule left out", "rule=r1"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs %q lack %q", logs.String(), want)
		}
	}
}
