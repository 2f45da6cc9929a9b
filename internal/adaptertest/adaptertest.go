// Package adaptertest holds test helpers for adapters' packages: reading
// their sample.hcl as the bridge does. Only tests import it; it is apart
// from internal/testutil because it imports bridge/config.
package adaptertest

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/acdbridge/acdbridge/bridge/config"
)

var envCall = regexp.MustCompile(`env\("([A-Z0-9_]+)"\)`)

// SampleSettings reads an adapter's sample.hcl with the bridge's own parser
// and returns the settings of its one adapter block, of type typ, as the
// bridge hands them over. Each env("NAME") the sample reads is set for the
// test: to env[NAME] when given, else to "test-name".
func SampleSettings(t testing.TB, sample []byte, typ string, env map[string]string) map[string]any {
	t.Helper()
	for _, m := range envCall.FindAllStringSubmatch(string(sample), -1) {
		v, ok := env[m[1]]
		if !ok {
			v = "test-" + strings.ToLower(m[1])
		}
		t.Setenv(m[1], v)
	}
	cfg, err := config.Parse(sample, "sample.hcl")
	if err != nil {
		t.Fatal(config.Format(err))
	}
	if len(cfg.Adapters) != 1 || cfg.Adapters[0].Type != typ {
		t.Fatalf("sample.hcl declares %+v, want one adapter of type %s", cfg.Adapters, typ)
	}
	var m map[string]any
	if err := json.Unmarshal(cfg.Adapters[0].Settings, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
