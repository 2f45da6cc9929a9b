package alertmanager_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/acdbridge/acdbridge/adapters/alertmanager"
	"github.com/acdbridge/acdbridge/internal/adaptertest"
	"github.com/acdbridge/acdbridge/plugins/host"
	"github.com/acdbridge/acdbridge/plugins/plugintest"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// An external test package: plugins/host imports this adapter.

const serveEnv = "ACDBRIDGE_ALERTMANAGER_SERVE"

// Under go test, os.Args[0] is this test binary: asked through the
// environment, it serves the adapter as a real plugin process.
func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) != "" {
		sdk.Serve(alertmanager.New(sdk.Logger("alertmanager")))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func sampleSettings(t *testing.T) map[string]any {
	t.Helper()
	return adaptertest.SampleSettings(t, []byte(alertmanager.Sample), "alertmanager", nil)
}

func TestSampleIsAccepted(t *testing.T) {
	js, _ := json.Marshal(sampleSettings(t))
	if err := alertmanager.New(nil).Configure(context.Background(), sdk.Settings{Instance: "am", JSON: js}); err != nil {
		t.Fatalf("sample.hcl's settings %s: %v", js, err)
	}
}

// TestConformance runs the conformance kit on the adapter as a real plugin
// process, sending to an Alertmanager stand-in in this test.
func TestConformance(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.URL.Path+" "+string(b))
		mu.Unlock()
	}))
	defer am.Close()
	m := sampleSettings(t)
	m["urls"] = []string{am.URL}
	js, _ := json.Marshal(m)
	plugintest.Test(t, plugintest.Options{Source: host.Source{Type: "alertmanager", Path: os.Args[0], Env: []string{serveEnv + "=1"}}, Settings: js})
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) == 0 || !strings.HasPrefix(bodies[0], `/api/v2/alerts [{"labels":{"alertname":"conformance"`) {
		t.Errorf("the Alertmanager got %q", bodies)
	}
}
