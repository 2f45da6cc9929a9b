package webhook_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	"github.com/acdbridge/acdbridge/adapters/webhook"
	"github.com/acdbridge/acdbridge/internal/adaptertest"
	"github.com/acdbridge/acdbridge/plugins/host"
	"github.com/acdbridge/acdbridge/plugins/plugintest"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// This file is an external test package: plugins/host will import this
// adapter, and an internal test importing host would then be a cycle.

const serveEnv = "ACDBRIDGE_WEBHOOK_SERVE"

// Under go test, os.Args[0] is this test binary: asked through the
// environment, it serves the webhook adapter as a real plugin process, as
// `acdbridge plugin serve webhook` would.
func TestMain(m *testing.M) {
	acdtest.Main(m, serveEnv, func() sdk.Adapter { return webhook.New(sdk.Logger("webhook")) })
}

// receiver counts requests by event and checks their signatures.
type receiver struct {
	*httptest.Server
	secret string
	mu     sync.Mutex
	events map[string]int
	bad    []string
}

func newReceiver(t *testing.T, secret string) *receiver {
	t.Helper()
	rc := &receiver{secret: secret, events: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body json.RawMessage
		err := json.NewDecoder(r.Body).Decode(&body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		event := r.Header.Get("X-Acdbridge-Event")
		rc.events[event]++
		if err != nil {
			rc.bad = append(rc.bad, event+": not JSON: "+err.Error())
		}
		if rc.secret != "" {
			if err := webhook.Verify(rc.secret, r.Header.Get("X-Acdbridge-Timestamp"), body, r.Header.Get("X-Acdbridge-Signature"), time.Now(), 0); err != nil {
				rc.bad = append(rc.bad, event+": "+err.Error())
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// sampleSettings are sample.hcl's settings as the bridge hands them over,
// read by the bridge's own parser (tests only: the adapter itself imports
// nothing of the bridge).
func sampleSettings(t *testing.T) map[string]any {
	t.Helper()
	return adaptertest.SampleSettings(t, []byte(webhook.Sample), "webhook", map[string]string{"WEBHOOK_SECRET": "whsec-7d1b0e6f2c", "CRM_API_KEY": "k-123"})
}

func TestSampleIsAccepted(t *testing.T) {
	acdtest.Accepts(t, webhook.New(nil), sampleSettings(t))
}

// TestConformance runs the conformance kit on the adapter as a real plugin
// process, delivering to a receiver in this test.
func TestConformance(t *testing.T) {
	tests := []struct {
		name     string
		secret   string
		settings func(url string) map[string]any
	}{
		{"url only", "", func(url string) map[string]any { return map[string]any{"url": url} }},
		{"sample.hcl's settings", "whsec-7d1b0e6f2c", func(url string) map[string]any {
			m := sampleSettings(t)
			m["url"] = url
			return m
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, tc.secret)
			js, err := json.Marshal(tc.settings(rc.URL))
			if err != nil {
				t.Fatal(err)
			}
			plugintest.Test(t, plugintest.Options{Source: host.Source{Type: "webhook", Path: os.Args[0], Env: []string{serveEnv + "=1"}}, Settings: js, Agents: 5})
			rc.mu.Lock()
			defer rc.mu.Unlock()
			for _, event := range []string{webhook.EventAvailability, webhook.EventReconcile, webhook.EventRequest, webhook.EventSession, webhook.EventAlert} {
				if rc.events[event] == 0 {
					t.Errorf("the receiver got no %s request: %v", event, rc.events)
				}
			}
			for _, b := range rc.bad {
				t.Error(b)
			}
		})
	}
}
