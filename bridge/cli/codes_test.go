package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/simulator"
)

// TestCodesCreate runs `acdbridge codes create` against a simulator named
// by a config's source block: a code the caller can join with, the JSON
// form, and every kind of bad input with its exit status and message.
func TestCodesCreate(t *testing.T) {
	eng, err := simulator.NewEngine(simulator.DefaultScenario(10, 3), simulator.NewManualClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), 1024)
	if err != nil {
		t.Fatal(err)
	}
	hs := testutil.ServeSimulator(t, eng, simulator.Options{Token: "sim-token"}, nil)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("ACDBRIDGE_TEST_SOURCE_TOKEN", "sim-token")
	cfg := write("bridge.hcl", "source \"remote_support\" {\n  url   = \""+hs.URL+"\"\n  token = env(\"ACDBRIDGE_TEST_SOURCE_TOKEN\")\n}\n")
	noSource := write("nosource.hcl", "data_dir = \"./data\"\n")
	wrongToken := write("wrong.hcl", "source \"remote_support\" {\n  url   = \""+hs.URL+"\"\n  token = \"nope\"\n}\n")
	agent := eng.Agents().Agents[0]

	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(append([]string{"codes", "create"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}

	status, out, errs := run("--agent", agent.ID, "--external-ref", "1234", "--config", cfg)
	if status != 0 {
		t.Fatalf("exit %d: %s", status, errs)
	}
	m := regexp.MustCompile(`(?m)^code: +(\d{9})\nagent: +` + agent.ID + `\nqueue: +` + regexp.QuoteMeta(agent.Queues[0]) + `\nexternal_ref: 1234\nexpires_at: +2026-03-02T09:10:00Z\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output:\n%s", out)
	}
	if join, err := eng.JoinCode(m[1], simulator.JoinRequest{}); err != nil || join.ExternalRef != "1234" {
		t.Fatalf("the caller joins with %s: %+v %v", m[1], join, err)
	}

	last := agent.Queues[len(agent.Queues)-1]
	status, out, errs = run("--agent", agent.ID, "--external-ref", "T-9", "--queue", last, "--ttl", "30m", "--json", "--config", cfg)
	var js map[string]any
	if status != 0 || json.Unmarshal([]byte(out), &js) != nil || js["agent_id"] != agent.ID || js["queue"] != last || js["external_ref"] != "T-9" ||
		js["expires_at"] != "2026-03-02T09:30:00Z" || len(js["code"].(string)) != 9 {
		t.Fatalf("--json: exit %d: %s %s", status, out, errs)
	}

	for _, tc := range []struct {
		name   string
		args   []string
		status int
		says   string
	}{
		{"no agent", []string{"--external-ref", "1", "--config", cfg}, 2, "--agent: expected the id of the agent who reads the code to the caller"},
		{"no external ref", []string{"--agent", agent.ID, "--config", cfg}, 2, "--external-ref: expected the ticket or CRM record"},
		{"no config", []string{"--agent", agent.ID, "--external-ref", "1"}, 2, "--config: expected the bridge's config file"},
		{"bad ttl", []string{"--agent", agent.ID, "--external-ref", "1", "--ttl", "soon", "--config", cfg}, 2, `invalid argument "soon"`},
		{"unknown agent", []string{"--agent", "a-9999", "--external-ref", "1", "--config", cfg}, 1, `codes create: agent: the remote-support service knows no agent "a-9999"`},
		{"queue not served", []string{"--agent", agent.ID, "--external-ref", "1", "--queue", "nowhere", "--config", cfg}, 1, `codes create: queue: the remote-support service refused it: agent ` + agent.ID + ` does not serve queue "nowhere"`},
		{"ttl not whole seconds", []string{"--agent", agent.ID, "--external-ref", "1", "--ttl", "1500ms", "--config", cfg}, 1, "ttl: expected whole seconds from 0 to 24h, got 1.5s"},
		{"no source block", []string{"--agent", agent.ID, "--external-ref", "1", "--config", noSource}, 1, "has no source block"},
		{"wrong token", []string{"--agent", agent.ID, "--external-ref", "1", "--config", wrongToken}, 1, "the source rejected the token (401): check source.token"},
		{"missing file", []string{"--agent", agent.ID, "--external-ref", "1", "--config", filepath.Join(dir, "none.hcl")}, 1, "none.hcl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, errs := run(tc.args...)
			if status != tc.status || !strings.Contains(errs, tc.says) || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d saying %q", status, out, errs, tc.status, tc.says)
			}
		})
	}
}
