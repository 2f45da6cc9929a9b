package plugintest

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/acdbridge/acdbridge/plugins/host"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// The adapters under test are this test binary, asked through the
// environment which one to be: the built-in log adapter, which must pass,
// and adapters that break one rule each, which the kit must catch.
func TestMain(m *testing.M) {
	switch kind := os.Getenv("ACDBRIDGE_KIT_SERVE"); kind {
	case "":
		os.Exit(m.Run())
	case "log":
		if err := host.ServeBuiltin("log"); err != nil {
			os.Exit(1)
		}
	default:
		sdk.Serve(&broken{kind: kind, applied: map[string]uint64{}})
	}
	os.Exit(0)
}

// broken is a mostly right adapter with one fault, named by kind.
type broken struct {
	kind    string
	applied map[string]uint64
}

func (b *broken) Info() sdk.Info {
	if b.kind == "nameless" {
		return sdk.Info{Version: "1"}
	}
	return sdk.Info{Name: "broken-" + b.kind, Version: "1"}
}

func (b *broken) Configure(_ context.Context, s sdk.Settings) error {
	if b.kind == "lenient" {
		return nil
	}
	return s.Decode(&struct{}{})
}

func (b *broken) Health(context.Context) sdk.Health { return sdk.Health{Status: sdk.Up} }

func (b *broken) SetAvailability(_ context.Context, items []sdk.Availability) []sdk.Result {
	out := make([]sdk.Result, len(items))
	for i, it := range items {
		out[i] = sdk.Result{AgentID: it.AgentID, Version: it.Version, Outcome: sdk.Ignored}
		if it.Version > b.applied[it.AgentID] || b.kind == "nostale" {
			b.applied[it.AgentID] = it.Version
			out[i].Outcome = sdk.Applied
		}
	}
	if b.kind == "misordered" && len(out) > 1 {
		out[0], out[1] = out[1], out[0]
	}
	return out
}

func (b *broken) Reconcile(ctx context.Context, d []sdk.Availability) []sdk.Result {
	return b.SetAvailability(ctx, d)
}

func run(t *testing.T, kind string) map[string]error {
	t.Helper()
	out := map[string]error{}
	for _, r := range Run(context.Background(), Options{Source: host.Source{Type: kind, Path: os.Args[0], Env: []string{"ACDBRIDGE_KIT_SERVE=" + kind}}, Agents: 5}) {
		out[r.Name] = r.Err
	}
	return out
}

func TestLogAdapterPassesEveryCheck(t *testing.T) {
	res := run(t, "log")
	want := []string{
		"starts and completes the handshake", "describes itself", "refuses an unknown setting and names it",
		"accepts the settings given", "reports its health", "reconciles a whole desired state",
		"applies changes idempotently", "ignores stale versions", "survives SIGKILL: restarts and reconciles",
		"handles a request", "handles a session", "handles an alert",
	}
	if len(res) != len(want) {
		t.Fatalf("%d checks ran, want %d: %v", len(res), len(want), res)
	}
	for _, name := range want {
		err, ok := res[name]
		if !ok || err != nil {
			t.Errorf("%s: ran %v, error %v", name, ok, err)
		}
	}
}

// TestKitCatchesEachFault runs the kit on adapters that each break one rule:
// exactly that check fails.
func TestKitCatchesEachFault(t *testing.T) {
	tests := []struct {
		kind, check, why string
	}{
		{"lenient", "refuses an unknown setting and names it", "was accepted"},
		{"nostale", "ignores stale versions", "outcome applied"},
		{"misordered", "reconciles a whole desired state", "results must follow the items' order"},
		{"nameless", "describes itself", "no name"},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			res := run(t, tc.kind)
			for name, err := range res {
				switch {
				case name == tc.check && (err == nil || !strings.Contains(err.Error(), tc.why)):
					t.Errorf("%s: %v, want a failure saying %q", name, err, tc.why)
				case name != tc.check && err != nil && !(tc.kind == "misordered" && strings.Contains(err.Error(), "order")):
					t.Errorf("%s failed too: %v", name, err)
				}
			}
			if _, ran := res[tc.check]; !ran {
				t.Errorf("the check %q did not run: %v", tc.check, res)
			}
		})
	}
}
