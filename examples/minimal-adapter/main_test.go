package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/plugins/host"
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

// TestBuildAndRun builds this adapter and runs it as the bridge does.
func TestBuildAndRun(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "minimal")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	p, err := host.Launch(context.Background(), host.Source{Type: "minimal", Origin: host.External, Path: bin}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	ctx := context.Background()
	info, err := p.Describe(ctx)
	if err != nil || info.Name != "minimal" || len(info.Capabilities) != 1 || info.Capabilities[0] != sdk.CapAvailability {
		t.Fatalf("describe: %+v %v", info, err)
	}
	a := sdk.Availability{AgentID: "a-1", Version: 2, Reason: "remote-support"}
	old := a
	old.Version = 1
	rs, err := p.SetAvailability(ctx, []sdk.Availability{a, a, old})
	if err != nil || rs[0].Outcome != sdk.Applied || rs[1].Outcome != sdk.Ignored || rs[2].Outcome != sdk.Ignored {
		t.Fatalf("set: %+v %v", rs, err)
	}
	if _, err := p.HandleRequest(ctx, sdk.Request{ID: "r-1"}); err == nil {
		t.Fatal("a call outside its capabilities succeeded")
	}
}
