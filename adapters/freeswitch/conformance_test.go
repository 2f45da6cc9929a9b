package freeswitch_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/acdbridge/acdbridge/adapters/freeswitch"
	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	"github.com/acdbridge/acdbridge/internal/adaptertest"
	"github.com/acdbridge/acdbridge/plugins/host"
	"github.com/acdbridge/acdbridge/plugins/plugintest"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// This file is an external test package: plugins/host imports this
// adapter, and an internal test importing host would then be a cycle.

const serveEnv = "ACDBRIDGE_FREESWITCH_SERVE"

// Under go test, os.Args[0] is this test binary: asked through the
// environment, it serves the freeswitch adapter as a real plugin process.
func TestMain(m *testing.M) {
	acdtest.Main(m, serveEnv, func() sdk.Adapter { return freeswitch.New(sdk.Logger("freeswitch")) })
}

// sampleSettings are sample.hcl's settings as the bridge hands them over.
func sampleSettings(t *testing.T) map[string]any {
	t.Helper()
	return adaptertest.SampleSettings(t, []byte(freeswitch.Sample), "freeswitch", map[string]string{"FREESWITCH_ESL_PASSWORD": "ClueCon"})
}

func TestSampleIsAccepted(t *testing.T) {
	s := sampleSettings(t)
	s["state_file"] = filepath.Join(t.TempDir(), "fs.state")
	acdtest.Accepts(t, freeswitch.New(nil), s)
}

// TestConformance runs the conformance kit on the adapter as a real plugin
// process, against the fake event socket in this test process. The kit's
// agents are named by the identity "interface" (PJSIP/1001 and up); the
// fake has agents of those names.
func TestConformance(t *testing.T) {
	const agents = 5
	tests := []struct {
		name     string
		settings func(addr, state string) map[string]any
		// kept: after the kit's SIGKILL the adapter knows the breaks it
		// set only with a state file.
		kept bool
	}{
		{"required settings", func(addr, _ string) map[string]any {
			return map[string]any{"address": addr, "password": "ClueCon", "agent_identity": "interface"}
		}, false},
		{"sample.hcl's settings", func(addr, state string) map[string]any {
			m := sampleSettings(t)
			m["address"], m["agent_identity"], m["state_file"] = addr, "interface", state
			return m
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := freeswitch.NewFakeServer(t)
			for i := range agents {
				f.AddAgent(fmt.Sprintf("PJSIP/%d", 1001+i), freeswitch.StatusAvailable)
			}
			js, _ := json.Marshal(tc.settings(f.Addr(), filepath.Join(t.TempDir(), "fs.state")))
			plugintest.Test(t, plugintest.Options{Source: host.Source{Type: "freeswitch", Path: os.Args[0], Env: []string{serveEnv + "=1"}}, Settings: js, Agents: agents})
			// The kit's last states: version 2 made odd agents busy; version
			// 3, after a SIGKILL, makes even agents busy and odd ones
			// available again.
			for i := range agents {
				name := fmt.Sprintf("PJSIP/%d", 1001+i)
				want := freeswitch.StatusOnBreak
				if i%2 != 0 && tc.kept {
					want = freeswitch.StatusAvailable
				}
				if got := f.Status(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
		})
	}
}
