package host_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acdbridge/acdbridge/internal/adaptertest"
	"github.com/acdbridge/acdbridge/plugins/host"
	"github.com/acdbridge/acdbridge/plugins/plugintest"
)

// TestEveryBuiltin walks the built-in map: each adapter has a sample.hcl
// that parses as a bridge config, a README that shows it word for word, and
// passes the conformance kit with the sample's settings.
func TestEveryBuiltin(t *testing.T) {
	for name := range host.Builtins() {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "..", "adapters", name)
			sample, err := os.ReadFile(filepath.Join(dir, "sample.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(readme), "```hcl\n"+string(sample)+"```") {
				t.Error("README.md does not show sample.hcl word for word")
			}
			m := adaptertest.SampleSettings(t, sample, name, nil)
			if _, ok := m["address"]; ok {
				// An adapter that talks to a server of its own protocol
				// (an ACD) runs the kit in its own package, against its
				// fake of that server; check that it does.
				kit, err := os.ReadFile(filepath.Join(dir, "conformance_test.go"))
				if err != nil || !strings.Contains(string(kit), "plugintest.") {
					t.Fatalf("%s talks to a server of its own: its package must run the conformance kit against its fake (conformance_test.go): %v", name, err)
				}
				return
			}
			if _, ok := m["url"]; ok {
				// A sample that points at a server elsewhere delivers to
				// a receiver here instead.
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
				defer srv.Close()
				m["url"] = srv.URL
			}
			settings, _ := json.Marshal(m)
			for _, r := range plugintest.Run(context.Background(), plugintest.Options{
				Source:   host.Source{Type: name, Origin: host.Builtin, Path: os.Args[0], Env: []string{"ACDBRIDGE_TEST_SERVE=" + name}},
				Settings: settings,
			}) {
				if r.Err != nil {
					t.Errorf("conformance: %s: %v", r.Name, r.Err)
				}
			}
		})
	}
}
