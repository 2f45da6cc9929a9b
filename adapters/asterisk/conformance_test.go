package asterisk_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/acdbridge/acdbridge/adapters/asterisk"
	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	"github.com/acdbridge/acdbridge/internal/adaptertest"
	"github.com/acdbridge/acdbridge/plugins/host"
	"github.com/acdbridge/acdbridge/plugins/plugintest"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// This file is an external test package: plugins/host will import this
// adapter, and an internal test importing host would then be a cycle.

const serveEnv = "ACDBRIDGE_ASTERISK_SERVE"

// Under go test, os.Args[0] is this test binary: asked through the
// environment, it serves the asterisk adapter as a real plugin process.
func TestMain(m *testing.M) {
	acdtest.Main(m, serveEnv, func() sdk.Adapter { return asterisk.New(sdk.Logger("asterisk")) })
}

// sampleSettings are sample.hcl's settings as the bridge hands them over.
func sampleSettings(t *testing.T) map[string]any {
	t.Helper()
	return adaptertest.SampleSettings(t, []byte(asterisk.Sample), "asterisk", map[string]string{"AMI_SECRET": "s3cret"})
}

func TestSampleIsAccepted(t *testing.T) {
	acdtest.Accepts(t, asterisk.New(nil), sampleSettings(t))
}

// TestConformance runs the conformance kit on the adapter as a real plugin
// process, against the fake AMI in this test process. The kit's agents are
// PJSIP/1001 and up.
func TestConformance(t *testing.T) {
	const agents = 5
	tests := []struct {
		name     string
		settings func(addr string) map[string]any
	}{
		{"required settings", func(addr string) map[string]any {
			return map[string]any{"address": addr, "username": "bridge", "secret": "s3cret"}
		}},
		{"sample.hcl's settings", func(addr string) map[string]any {
			m := sampleSettings(t)
			m["address"] = addr
			return m
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := asterisk.NewFakeServer(t)
			for i := range agents {
				f.AddMember("support", fmt.Sprintf("agent%d", 1001+i), fmt.Sprintf("PJSIP/%d", 1001+i))
				f.AddMember("sales", fmt.Sprintf("agent%d", 1001+i), fmt.Sprintf("PJSIP/%d", 1001+i))
			}
			js, _ := json.Marshal(tc.settings(f.Addr()))
			plugintest.Test(t, plugintest.Options{Source: host.Source{Type: "asterisk", Path: os.Args[0], Env: []string{serveEnv + "=1"}}, Settings: js, Agents: agents})
			// The kit's last state (version 3): odd agents paused.
			for i := range agents {
				iface := fmt.Sprintf("PJSIP/%d", 1001+i)
				want := "support=- sales=-"
				if (i+3)%2 != 0 {
					want = "support=remote-support sales=remote-support"
				}
				if got := f.State(iface); got != want {
					t.Errorf("%s: %s, want %s", iface, got, want)
				}
			}
		})
	}
}
