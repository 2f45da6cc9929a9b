package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/plugins/host"
	"github.com/acdbridge/acdbridge/plugins/plugintest"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

func TestTheDocShowsThisCode(t *testing.T) {
	code, _ := os.ReadFile("main.go")
	doc, err := os.ReadFile("../../docs/writing-an-adapter.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```go\n"+string(code)+"```") {
		t.Fatal("docs/writing-an-adapter.md does not show main.go word for word")
	}
	if n := strings.Count(string(code), "\n"); n >= 40 {
		t.Fatalf("the minimal adapter is %d lines; the promise is under 40", n)
	}
}

// TestConformance builds this adapter and runs the conformance kit on it,
// as the bridge would run it.
func TestConformance(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "minimal")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	src := host.Source{Type: "minimal", Origin: host.External, Path: bin}
	results := plugintest.Run(context.Background(), plugintest.Options{Source: src})
	var names []string
	for _, r := range results {
		names = append(names, r.Name)
		if r.Err != nil {
			t.Errorf("%s: %v", r.Name, r.Err)
		}
	}
	want := []string{"starts and completes the handshake", "describes itself", "refuses an unknown setting and names it",
		"accepts the settings given", "reports its health", "reconciles a whole desired state", "applies changes idempotently",
		"ignores stale versions", "survives SIGKILL: restarts and reconciles"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Fatalf("checks run: %q, want %q", names, want)
	}
	p, err := host.Launch(context.Background(), src, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if _, err := p.HandleRequest(context.Background(), sdk.Request{ID: "r-1"}); !errors.Is(err, sdk.ErrUnsupported) {
		t.Fatalf("a call outside its capabilities: %v", err)
	}
}
