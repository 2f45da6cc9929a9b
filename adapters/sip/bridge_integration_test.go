//go:build integration

package sip

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/acdbridge/acdbridge/internal/testutil"
)

// TestBridgeToKamailio is the whole path through the bridge binary: the
// simulator (acdbridge simulate), the bridge (acdbridge run, ACDBRIDGE_BIN)
// with a directory template giving each agent sip:<id>@example.test and
// this adapter publishing to the real Kamailio; a watcher subscribed there.
// A caller joins the agent with a connection code (phone mode): the
// watcher sees the agent busy; when the session ends, available.
func TestBridgeToKamailio(t *testing.T) {
	kam := kamailio(t, "ACDBRIDGE_IT_KAMAILIO_AUTH")
	bin := bridgeBin(t)
	dir := t.TempDir()
	domain := "bridge" + runID + ".example.test"
	simURL, agent := startSimulator(t, bin, dir)
	aor := "sip:" + agent + "@" + domain

	// The watcher subscribes first: it sees every change from the start.
	w := NewWatcher(t, "bob", "bobpw")
	if res, err := w.Subscribe(t.Context(), kam, "UDP", aor, EventPresence, 300); err != nil || res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE at Kamailio: %v %v", res, err)
	}

	// Per-agent credentials: sip_user from the directory, the password
	// shared (alice's, in Kamailio's subscriber table).
	runBridge(t, bin, dir, simURL, fmt.Sprintf(`    sip_uri  = "sip:${id}@%s"
    sip_user = "alice"
`, domain), fmt.Sprintf(`adapter "sip" "kamailio" {
  address  = %q
  password = env("SIP_PASSWORD")
  username = "nobody" # the agents' own sip_user wins
  expires  = "2m"
}
`, kam), "SIP_PASSWORD=alicepw")

	w.WaitNotify(t, "the agent available (the bridge's first reconcile)", 0, func(n Notify) bool {
		p, ok := presenceIn(t, n)
		return ok && !p.Busy() && p.Note == "available"
	})
	seen := len(w.Notifies())

	// Phone mode: a code for the agent, the caller joins, a session starts.
	var code struct{ Code string }
	if st := call(t, "POST", simURL+"/v1/connection-codes", simToken, fmt.Sprintf(`{"agent_id":%q,"queue":"support","external_ref":"T-1"}`, agent), &code); st != 201 {
		t.Fatalf("POST /v1/connection-codes: %d", st)
	}
	if st := call(t, "POST", simURL+"/v1/connection-codes/"+code.Code+"/join", simToken, "", nil); st != 200 && st != 201 {
		t.Fatalf("join: %d", st)
	}
	n := w.WaitNotify(t, "the agent busy", seen, func(n Notify) bool {
		p, ok := presenceIn(t, n)
		return ok && p.Busy() && len(p.Activities) == 1 && p.Activities[0] == "on-the-phone"
	})
	t.Logf("busy: %s", n.State)
	seen = len(w.Notifies())
	w.WaitNotify(t, "the agent available after the session", seen, func(n Notify) bool {
		p, ok := presenceIn(t, n)
		return ok && !p.Busy()
	})
}

// simToken is the simulator's API token in the bridge tests.
const simToken = "it-sim-token"

// startSimulator starts acdbridge simulate (two agents, sessions of about
// 3 s) and gives its URL and the agent on shift, available.
func startSimulator(t *testing.T, bin, dir string) (string, string) {
	t.Helper()
	scenario := filepath.Join(dir, "scenario.hcl")
	if err := os.WriteFile(scenario, []byte(`seed       = 11
speed      = 10 # sessions of 30 s at least (simulated): 3 s here
start_busy = 0
sessions {
  median_duration = "60s"
  p90_duration    = "90s"
}
shifts {
  length       = "12h"
  off          = "1h"
  break_every  = "6h"
  break_length = "5m"
}
queue "support" {
  rate_per_minute = 0
}
agents "staff" {
  count  = 2
  queues = ["support"]
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	sim := exec.Command(bin, "simulate", "--listen", "127.0.0.1:0", "--token", simToken, "--scenario", scenario, "--heartbeat", "1s")
	simURL := testutil.WaitLine(t, testutil.StartProcess(t, sim), regexp.MustCompile(`listening on (http://\S+)`))

	// The agent on shift: the one to put in a session.
	var agent string
	waitFor(t, "an available agent", func() bool {
		var body struct {
			Agents []struct{ ID, Status string }
		}
		if st := call(t, "GET", simURL+"/v1/monitors/agents", simToken, "", &body); st != 200 {
			return false
		}
		for _, a := range body.Agents {
			if a.Status == "available" {
				agent = a.ID
				return true
			}
		}
		return false
	})
	return simURL, agent
}

// call does one API call with a bearer token and decodes the JSON answer.
func call(t *testing.T, method, url, token, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// TestBridgeServerModeSipp is the server mode's whole path: the simulator,
// the bridge binary running this adapter as the presence server, and sipp
// (testdata/sipp/watcher-bridge.xml) subscribed directly to the bridge. The
// first NOTIFY shows the agent available; sipp then has the caller join
// the agent (curl, the connection code's join URL), sees the agent busy,
// then available when the session ends, refreshes and unsubscribes.
func TestBridgeServerModeSipp(t *testing.T) {
	bin := bridgeBin(t)
	sipp := os.Getenv("ACDBRIDGE_IT_SIPP")
	if sipp == "" {
		t.Fatal("ACDBRIDGE_IT_SIPP is not set: run the integration suite (make integration), which installs sipp (package sip-tester)")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is missing: the integration suite installs it (sipp runs it to have the caller join)")
	}
	dir := t.TempDir()
	simURL, agent := startSimulator(t, bin, dir)
	aor := "sip:" + agent + "@example.test"
	addr := "127.0.0.1:" + freePort(t)

	runBridge(t, bin, dir, simURL, `    sip_uri = "sip:${id}@example.test"
`, fmt.Sprintf(`adapter "sip" "presence" {
  mode   = "server"
  listen = %q
}
`, addr))

	// Until the bridge serves the agent: a fetch (Expires: 0) gets 200.
	waitFor(t, "the bridge serving "+aor, func() bool {
		w := NewWatcher(t, "", "")
		defer w.Stop()
		res, err := w.Subscribe(t.Context(), addr, "UDP", aor, EventPresence, 0)
		return err == nil && res.StatusCode == 200
	})

	var code struct{ Code string }
	if st := call(t, "POST", simURL+"/v1/connection-codes", simToken, fmt.Sprintf(`{"agent_id":%q,"queue":"support","external_ref":"T-2"}`, agent), &code); st != 201 {
		t.Fatalf("POST /v1/connection-codes: %d", st)
	}
	cmd := exec.Command(sipp, "-sf", "testdata/sipp/watcher-bridge.xml", "-s", agent,
		"-key", "join_url", simURL+"/v1/connection-codes/"+code.Code+"/join", "-key", "join_token", simToken,
		"-m", "1", "-t", "u1", "-i", "127.0.0.1", "-p", "0", "-nostdin", "-timeout", "90s", "-timeout_error", "-trace_err",
		"-error_file", filepath.Join(dir, "errors.log"), addr)
	if out, err := cmd.CombinedOutput(); err != nil {
		errs, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
		t.Fatalf("sipp: %v\n%s\n%s", err, out, errs)
	}
}

// bridgeBin is the bridge binary the integration suite built.
func bridgeBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("ACDBRIDGE_BIN")
	if bin == "" {
		t.Fatal("ACDBRIDGE_BIN is not set: run make integration, which builds bin/acdbridge")
	}
	return bin
}

// runBridge writes dir/bridge.hcl, the simulator at simURL as the source
// with the directory template's fields (template) and the adapter block
// adapter, and runs the bridge binary on it with env added to its
// environment.
func runBridge(t *testing.T, bin, dir, simURL, template, adapter string, env ...string) {
	t.Helper()
	cfg := filepath.Join(dir, "bridge.hcl")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir = %q
source "remote_support" {
  url           = %q
  token         = env("ACDBRIDGE_SOURCE_TOKEN")
  poll_interval = "1s"
}
bus {
  listen = "-"
}
api {
  listen = "127.0.0.1:0"
}
directory {
  template {
%s  }
}
%s`, filepath.Join(dir, "data"), simURL, template, adapter)), 0o644); err != nil {
		t.Fatal(err)
	}
	run := exec.Command(bin, "run", "--config", cfg)
	run.Env = append(append(os.Environ(), "ACDBRIDGE_SOURCE_TOKEN="+simToken), env...)
	testutil.StartProcess(t, run)
}

// freePort is a port free for both UDP and TCP on 127.0.0.1.
func freePort(t *testing.T) string {
	t.Helper()
	for range 20 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		u.Close()
		if err == nil {
			l.Close()
			return strconv.Itoa(port)
		}
	}
	t.Fatal("no port free for UDP and TCP")
	return ""
}
