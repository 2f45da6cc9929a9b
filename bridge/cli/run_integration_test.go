//go:build integration

package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/internal/testutil"
)

// startBridge starts cmd with its output collected while the test reads
// it; when the test ends it kills cmd and, if the test failed, logs the
// output.
func startBridge(t *testing.T, cmd *exec.Cmd) (stdout, stderr *testutil.SyncBuffer) {
	t.Helper()
	stdout, stderr = &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})
	return stdout, stderr
}

// waitFor polls cond until it holds (a hang guard, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, what, 60*time.Second, 100*time.Millisecond, cond)
}

func httpGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var (
	apiLine = regexp.MustCompile(`api: metrics, health and readiness on (http://\S+) `)
	busLine = regexp.MustCompile(`bus: NATS at (nats://\S+);`)
)

func TestRunEventsTailAndMetrics(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bridge.hcl")
	os.WriteFile(cfg, []byte(`data_dir = "`+filepath.Join(dir, "data")+`"
simulator {
  agents = 40
  queues = 4
  speed  = 30
}
bus {
  listen = "127.0.0.1:0"
}
api {
  listen = "127.0.0.1:0"
}
adapter "log" "console" {
  level = "debug"
}
`), 0o644)
	cmd := exec.Command(binary(t), "run", "--config", cfg, "--summary-every", "1s", "--log-format", "json")
	stdout, stderr := startBridge(t, cmd)
	var api, natsURL string
	waitFor(t, "the api and bus lines", func() bool {
		out := stdout.String()
		if m := apiLine.FindStringSubmatch(out); m != nil {
			api = m[1]
		}
		if m := busLine.FindStringSubmatch(out); m != nil {
			natsURL = m[1]
		}
		return api != "" && natsURL != ""
	})
	if code, _ := httpGet(api + "/healthz"); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	waitFor(t, "/readyz to say ready", func() bool { code, _ := httpGet(api + "/readyz"); return code == 200 })

	// A third party follows availability over NATS.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tail := exec.CommandContext(ctx, binary(t), "events", "tail", "--url", natsURL, "acdbridge.availability.>")
	pipe, _ := tail.StdoutPipe()
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pipe)
	got := 0
	for got < 3 && sc.Scan() {
		subj, payload, _ := strings.Cut(sc.Text(), " ")
		var msg struct {
			V       int    `json:"v"`
			AgentID string `json:"agent_id"`
			Version uint64 `json:"version"`
		}
		if !strings.HasPrefix(subj, "acdbridge.availability.") || json.Unmarshal([]byte(payload), &msg) != nil || msg.V != 1 || msg.AgentID == "" || msg.Version < 2 {
			t.Fatalf("events tail printed %q", sc.Text())
		}
		got++
	}
	if got < 3 {
		t.Fatalf("events tail printed %d availability changes in a minute", got)
	}
	tail.Process.Signal(syscall.SIGINT)
	tail.Wait()

	_, metrics := httpGet(api + "/metrics")
	for _, want := range []string{
		`acdbridge_agents{status="available"}`, `acdbridge_source_stale 0`, `acdbridge_propagation_seconds_bucket`,
		`acdbridge_availability_changes_total{available="false"}`, `acdbridge_source_requests_total`,
		`acdbridge_source_bad_payloads_total{kind="malformed_json"} 0`, `acdbridge_queue_waiting{queue="support"}`,
		`go_goroutines`, `process_resident_memory_bytes`, `acdbridge_adapter_applied_total{adapter="console"}`,
		`acdbridge_adapter_health{adapter="console"} 1`, `acdbridge_adapter_pending{adapter="console"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The API, with the token made for this run.
	m := regexp.MustCompile(`api: no token configured; one for this run, with the admin role: ([0-9a-f]{40})`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatal("no token on the console")
	}
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", api+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/api/v1/adapters", ""); code != 401 {
		t.Fatalf("/api/v1/adapters without a token: %d", code)
	}
	waitFor(t, "the adapter to be up in /api/v1/adapters", func() bool {
		code, body := get("/api/v1/adapters", m[1])
		return code == 200 && strings.Contains(body, `"name":"console"`) && strings.Contains(body, `"health":"up"`)
	})
	code, body := get("/api/v1/agents", m[1])
	var agents struct {
		Agents []struct {
			ID           string
			Availability *struct{ Version uint64 }
			Adapters     map[string]uint64 `json:"adapters_applied"`
		}
	}
	if code != 200 || json.Unmarshal([]byte(body), &agents) != nil || len(agents.Agents) != 40 || agents.Agents[0].Availability == nil {
		t.Fatalf("/api/v1/agents: %d %.300s", code, body)
	}
	if _, ok := agents.Agents[0].Adapters["console"]; !ok {
		t.Fatalf("/api/v1/agents shows no applied version for the console adapter: %.300s", body)
	}
	waitFor(t, "a summary line", func() bool { return strings.Contains(stdout.String(), "summary: agents ") })
	out := stdout.String()
	if !regexp.MustCompile(`a-\d{4} +.+ (available|unavailable \(\w+: remote-support\)) v\d+`).MatchString(out) {
		t.Fatalf("no availability line on the console:\n%s", out)
	}

	terminate(t, cmd, 30*time.Second)
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("--log-format json wrote a line that is not JSON: %q", line)
		}
	}
}

func TestRunAgainstASeparateSimulator(t *testing.T) {
	p := startSim(t, "--token", "sep-token", "--agents", "25", "--speed", "30")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bridge.hcl")
	os.WriteFile(cfg, []byte(`data_dir = "`+filepath.Join(dir, "data")+`"
source "remote_support" {
  url   = "`+p.base+`"
  token = env("ACDBRIDGE_SOURCE_TOKEN")
}
bus {
  listen = "-"
}
api {
  listen = "127.0.0.1:0"
}
`), 0o644)
	cmd := exec.Command(binary(t), "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "ACDBRIDGE_SOURCE_TOKEN=sep-token")
	stdout, stderr := startBridge(t, cmd)
	waitFor(t, "25 agents' availability on the console", func() bool {
		return strings.Count(stdout.String(), " v1\n") >= 25
	})
	if strings.Contains(stdout.String()+stderr.String(), "sep-token") {
		t.Fatal("the source token was printed")
	}
	// The source goes away: the bridge says it is stale and holds.
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	waitFor(t, "the stale notice", func() bool { return strings.Contains(stdout.String(), "holding every agent's availability") })
	m := apiLine.FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatal("no api line")
	}
	code, body := httpGet(m[1] + "/readyz")
	if code != 503 || !strings.Contains(body, "no fresh data from the source") {
		t.Fatalf("/readyz while stale: %d %s", code, body)
	}
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.hcl"), filepath.Join(dir, "bad.hcl")
	os.WriteFile(good, []byte("api {\n  listen = \"127.0.0.1:9\"\n}\n"), 0o644)
	os.WriteFile(bad, []byte("api {\n  listen = \":9\"\n}\n"), 0o644)
	badAdapter := filepath.Join(dir, "adapter.hcl")
	os.WriteFile(badAdapter, []byte("adapter \"log\" \"console\" {\n  level = \"loud\"\n}\n"), 0o644)
	unknown := filepath.Join(dir, "unknown.hcl")
	os.WriteFile(unknown, []byte("adapter \"zendesk\" \"desk\" {\n}\n"), 0o644)
	for _, tc := range []struct {
		file, out, err string
		status         int
	}{
		{good, "good.hcl: valid", "", 0},
		{bad, "", "bad.hcl:2:12: listen: expected an explicit host", 1},
		// The adapter, a real plugin process, checks its own settings.
		{badAdapter, "", `adapter.hcl:2:11: adapter "log" "console": level: expected info or debug, got "loud"`, 1},
		{unknown, "", `adapter "zendesk" "desk": no adapter of type "zendesk"`, 1},
	} {
		status, out, errb := runBinary(t, "config", "validate", tc.file)
		if status != tc.status || !strings.Contains(out, tc.out) || !strings.Contains(errb, tc.err) {
			t.Errorf("validate %s: %d %q %q", tc.file, status, out, errb)
		}
	}
}

func TestPluginsCommands(t *testing.T) {
	status, out, errb := runBinary(t, "plugins", "list", "--plugins-dir", t.TempDir())
	if status != 0 || !regexp.MustCompile(`(?m)^log\s+built-in\s+\S+\s+availability,requests,sessions,alerts\s`).MatchString(out) {
		t.Fatalf("plugins list: %d\n%s\n%s", status, out, errb)
	}
	status, out, errb = runBinary(t, "plugins", "check", "log")
	if status != 0 || strings.Count(out, "PASS  ") != 12 || strings.Contains(out, "FAIL") {
		t.Fatalf("plugins check log: %d\n%s\n%s", status, out, errb)
	}
	// An executable that is not an adapter fails the first check, clearly.
	fake := filepath.Join(t.TempDir(), "not-an-adapter")
	os.WriteFile(fake, []byte("#!/bin/sh\necho hello\n"), 0o755)
	status, out, _ = runBinary(t, "plugins", "check", fake)
	if status != 1 || !strings.Contains(out, "FAIL  starts and completes the handshake") {
		t.Fatalf("plugins check on a non-adapter: %d\n%s", status, out)
	}
}
