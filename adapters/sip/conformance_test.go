package sip_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	"github.com/acdbridge/acdbridge/adapters/sip"
	"github.com/acdbridge/acdbridge/internal/adaptertest"
	"github.com/acdbridge/acdbridge/plugins/host"
	"github.com/acdbridge/acdbridge/plugins/plugintest"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// This file is an external test package: plugins/host imports this
// adapter, and an internal test importing host would then be a cycle.

const serveEnv = "ACDBRIDGE_SIP_SERVE"

// Under go test, os.Args[0] is this test binary: asked through the
// environment, it serves the sip adapter as a real plugin process.
func TestMain(m *testing.M) {
	acdtest.Main(m, serveEnv, func() sdk.Adapter { return sip.New(sdk.Logger("sip")) })
}

// sampleSettings are sample.hcl's settings as the bridge hands them over.
func sampleSettings(t *testing.T) map[string]any {
	t.Helper()
	return adaptertest.SampleSettings(t, []byte(sip.Sample), "sip", map[string]string{"SIP_PASSWORD": "s3cret"})
}

func TestSampleIsAccepted(t *testing.T) {
	acdtest.Accepts(t, sip.New(nil), sampleSettings(t))
}

// TestConformance runs the conformance kit on the adapter as a real plugin
// process, publishing to the in-process peer that answers as Kamailio.
// The kit's agents carry an "interface" identity (PJSIP/1001 and up),
// which uri_identity and domain make sip:PJSIP/1001@example.test.
func TestConformance(t *testing.T) {
	const agents = 5
	tests := []struct {
		name     string
		settings func(addr string) map[string]any
	}{
		{"required settings", func(addr string) map[string]any {
			return map[string]any{"address": addr, "uri_identity": "interface", "domain": "example.test"}
		}},
		{"sample.hcl's settings", func(addr string) map[string]any {
			m := sampleSettings(t)
			m["address"], m["uri_identity"], m["domain"] = addr, "interface", "example.test"
			return m
		}},
	}
	t.Run("server mode", func(t *testing.T) {
		js, _ := json.Marshal(map[string]any{"mode": "server", "listen": "127.0.0.1:0", "uri_identity": "interface", "domain": "example.test"})
		plugintest.Test(t, plugintest.Options{Source: host.Source{Type: "sip", Path: os.Args[0], Env: []string{serveEnv + "=1"}}, Settings: js, Agents: agents})
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := sip.NewPeer(t)
			js, _ := json.Marshal(tc.settings(p.Addr()))
			// The kit's last state (version 3): odd agents busy, as the
			// peer must show while the adapter runs.
			during := 0
			farSide := func(context.Context) error {
				during = p.Live()
				for i := range agents {
					aor := fmt.Sprintf("sip:PJSIP/%d@example.test", 1001+i)
					pr, err := sip.ParsePIDF([]byte(p.State(aor, sip.EventPresence)))
					if err != nil {
						return fmt.Errorf("%s: %w", aor, err)
					}
					if want := (i+3)%2 != 0; pr.Busy() != want {
						return fmt.Errorf("%s: busy %v, want %v (%+v)", aor, pr.Busy(), want, pr)
					}
				}
				return nil
			}
			plugintest.Test(t, plugintest.Options{Source: host.Source{Type: "sip", Path: os.Args[0], Env: []string{serveEnv + "=1"}}, Settings: js, Agents: agents, FarSide: farSide})
			// Stopped, the adapter removed its publications: the peer
			// holds only those of the process the kit SIGKILLed (as many
			// as the last process had), which could not.
			if n := p.Live(); during == 0 || n != during/2 {
				t.Errorf("the peer held %d live publications while the adapter ran and %d after its stop, want half", during, n)
			}
		})
	}
}
