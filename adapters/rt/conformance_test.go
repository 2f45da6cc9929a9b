package rt_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	"github.com/acdbridge/acdbridge/adapters/rt"
	"github.com/acdbridge/acdbridge/internal/adaptertest"
	"github.com/acdbridge/acdbridge/plugins/host"
	"github.com/acdbridge/acdbridge/plugins/plugintest"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// This file is an external test package: plugins/host imports this
// adapter, and an internal test importing host would be a cycle.

const serveEnv = "ACDBRIDGE_RT_SERVE"

// Under go test, os.Args[0] is this test binary: asked through the
// environment, it serves the rt adapter as a real plugin process, as
// `acdbridge plugin serve rt` would.
func TestMain(m *testing.M) {
	acdtest.Main(m, serveEnv, func() sdk.Adapter { return rt.New(sdk.Logger("rt")) })
}

func sampleSettings(t *testing.T) map[string]any {
	t.Helper()
	return adaptertest.SampleSettings(t, []byte(rt.Sample), "rt", map[string]string{"RT_TOKEN": "1-14-3d6e4e51659a4cf5a0f709d56032ba85"})
}

func TestSampleIsAccepted(t *testing.T) {
	acdtest.Accepts(t, rt.New(nil), sampleSettings(t))
}

// TestConformance runs the conformance kit on the adapter as a real plugin
// process with sample.hcl's settings, against a server that counts the
// REST2 calls (the kit checks outcomes; the golden tests check the calls).
func TestConformance(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/rt/REST/2.0/tickets":
			_, _ = w.Write([]byte(`{"count":0,"items":[],"page":1,"pages":0,"per_page":100,"total":0}`))
		case r.Method == http.MethodPost && r.URL.Path == "/rt/REST/2.0/ticket":
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"7","type":"ticket","_url":"x"}`))
		case r.Method == http.MethodGet && r.URL.Path == "/rt/REST/2.0/ticket/7/history":
			_, _ = w.Write([]byte(`{"count":0,"items":[],"page":1,"pages":0,"per_page":100,"total":0}`))
		case r.Method == http.MethodPost && r.URL.Path == "/rt/REST/2.0/ticket/7/comment":
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`["Comments added"]`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Not Found"}`))
		}
	}))
	defer srv.Close()
	m := sampleSettings(t)
	m["url"] = srv.URL + "/rt"
	js, _ := json.Marshal(m)
	plugintest.Test(t, plugintest.Options{Source: host.Source{Type: "rt", Path: os.Args[0], Env: []string{serveEnv + "=1"}}, Settings: js})
	mu.Lock()
	defer mu.Unlock()
	for _, c := range []string{"GET /rt/REST/2.0/tickets", "POST /rt/REST/2.0/ticket", "POST /rt/REST/2.0/ticket/7/comment"} {
		if calls[c] == 0 {
			t.Errorf("no %s: %v", c, calls)
		}
	}
}
