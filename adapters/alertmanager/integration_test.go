//go:build integration

package alertmanager_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/internal/testutil"
)

// The whole path against real Alertmanagers (Debian's
// prometheus-alertmanager, two started by scripts/integration.d/40-alertmanager.sh,
// plus an address where none answers, as an HA member that is down): the
// simulator (acdbridge simulate) with a queue no agent serves; the bridge
// (acdbridge run, ACDBRIDGE_BIN) with a rule on that queue and this adapter;
// customers posted into the queue make it cross the threshold, the alert
// shows in both Alertmanagers' GET /api/v2/alerts, and when the customers
// give up waiting it resolves there.
func TestAlertReachesARealAlertmanager(t *testing.T) {
	am, am2 := os.Getenv("ACDBRIDGE_IT_ALERTMANAGER"), os.Getenv("ACDBRIDGE_IT_ALERTMANAGER_2")
	bin := os.Getenv("ACDBRIDGE_BIN")
	if am == "" || am2 == "" || bin == "" {
		t.Fatal("ACDBRIDGE_IT_ALERTMANAGER, ACDBRIDGE_IT_ALERTMANAGER_2 and ACDBRIDGE_BIN must be set: run make integration (scripts/integration.d/40-alertmanager.sh)")
	}
	down := closedAddress(t)
	// The second Alertmanager is reached through a proxy that can fail its
	// POSTs, as a member that misses the resolution would, and notes the
	// endsAt of each escalations_waiting alert it refused or passed on (and
	// the Alertmanager took).
	var failing atomic.Bool
	var seenMu sync.Mutex
	var refused, forwarded []time.Time
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var posted []amAlert
		json.Unmarshal(body, &posted)
		var ends []time.Time
		for _, a := range posted {
			if a.Labels["alertname"] == "escalations_waiting" {
				ends = append(ends, a.EndsAt)
			}
		}
		if failing.Load() {
			seenMu.Lock()
			refused = append(refused, ends...)
			seenMu.Unlock()
			http.Error(w, "this member is failing", http.StatusServiceUnavailable)
			return
		}
		req, _ := http.NewRequest(r.Method, am2+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 == 2 {
			seenMu.Lock()
			forwarded = append(forwarded, ends...)
			seenMu.Unlock()
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(out)
	}))
	t.Cleanup(proxy.Close)
	saw := func(list *[]time.Time, end time.Time) bool {
		seenMu.Lock()
		defer seenMu.Unlock()
		return slices.ContainsFunc(*list, end.Equal)
	}
	dir := t.TempDir()
	const simToken, apiToken = "it-sim-token", "it-supervisor-token"
	scenario := filepath.Join(dir, "scenario.hcl")
	os.WriteFile(scenario, []byte(`seed  = 7
speed = 5
customers {
  patience_median = "30s"
}
queue "support" {
  rate_per_minute = 0
}
queue "escalations" {
  rate_per_minute = 0
}
agents "staff" {
  count  = 2
  queues = ["support"]
}
`), 0o644)
	sim := exec.Command(bin, "simulate", "--listen", "127.0.0.1:0", "--token", simToken, "--scenario", scenario, "--heartbeat", "1s")
	simOut := testutil.StartProcess(t, sim)
	simURL := testutil.WaitLine(t, simOut, regexp.MustCompile(`listening on (http://\S+)`))

	sum := sha256.Sum256([]byte(apiToken))
	cfg := filepath.Join(dir, "bridge.hcl")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir = %q
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
  token "lead" {
    role   = "supervisor"
    sha256 = %q
  }
}
rule "escalations_waiting" {
  queues      = ["escalations"]
  when        = "waiting >= 1"
  for         = "1s"
  severity    = "critical"
  labels      = { team = "tier2" }
  annotations = { summary = "${waiting} waiting in ${queue}" }
}
adapter "alertmanager" "am" {
  urls            = [%q, %q, %q]
  generator_url   = "http://127.0.0.1:8080/#alerts"
  resend_interval = "2s"
}
`, filepath.Join(dir, "data"), simURL, hex.EncodeToString(sum[:]), am, proxy.URL, down)), 0o644)
	run := exec.Command(bin, "run", "--config", cfg)
	run.Env = append(os.Environ(), "ACDBRIDGE_SOURCE_TOKEN="+simToken)
	runOut := testutil.StartProcess(t, run)
	apiURL := testutil.WaitLine(t, runOut, regexp.MustCompile(`api: metrics, health and readiness on (http://\S+) `))
	waitFor(t, "the bridge to be ready", func() bool { st, _ := get(apiURL+"/readyz", ""); return st == 200 })

	// The supervisor sees the rule, read-only (from the file).
	if st, body := get(apiURL+"/api/v1/rules/escalations_waiting", apiToken); st != 200 || !strings.Contains(body, `"read_only":true`) {
		t.Fatalf("GET the rule: %d %s", st, body)
	}
	for i := range 3 {
		body := fmt.Sprintf(`{"queue":"escalations","name":"Customer %d","email":"c%d@example.com","problem":"escalated"}`, i, i)
		req, _ := http.NewRequest("POST", simURL+"/v1/requests", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+simToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("POST /v1/requests: %d %s", resp.StatusCode, b)
		}
	}

	// Firing in both Alertmanagers, with everything the rule said.
	var firing amAlert
	waitFor(t, "the alert in both Alertmanagers", func() bool {
		as, as2 := amAlerts(t, am), amAlerts(t, am2)
		if len(as) == 1 && as[0].Status.State == "active" && len(as2) == 1 && as2[0].Status.State == "active" {
			firing = as[0]
			return true
		}
		return false
	})
	wantLabels := map[string]string{"alertname": "escalations_waiting", "queue": "escalations", "severity": "critical", "team": "tier2"}
	for k, v := range wantLabels {
		if firing.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, firing.Labels[k], v, firing.Labels)
		}
	}
	if !regexp.MustCompile(`^[123] waiting in escalations$`).MatchString(firing.Annotations["summary"]) {
		t.Errorf("summary %q", firing.Annotations["summary"])
	}
	if firing.GeneratorURL != "http://127.0.0.1:8080/#alerts" || !firing.EndsAt.After(time.Now()) || firing.StartsAt.IsZero() {
		t.Errorf("firing alert: %+v", firing)
	}
	if st, body := get(apiURL+"/api/v1/alerts", apiToken); st != 200 || !strings.Contains(body, `"status":"firing"`) {
		t.Errorf("the bridge's /api/v1/alerts: %d %s", st, body)
	}
	// The member that is down shows in the adapter's health, not as a failure.
	waitFor(t, "the adapter degraded, naming the member that is down", func() bool {
		_, body := get(apiURL+"/api/v1/adapters", apiToken)
		return strings.Contains(body, "degraded") && strings.Contains(body, strings.TrimPrefix(down, "http://"))
	})

	// The second Alertmanager fails from now on. The customers give up and
	// the alert resolves: the second refuses the resolution (the first takes
	// it, so the send succeeds). Once the second answers again, the
	// resolution's resend reaches it, rather than the alert staying active
	// there until the endsAt of the last firing resend it took.
	failing.Store(true)
	var resolvedAt time.Time
	waitFor(t, "the bridge to resolve the alert", func() bool {
		var doc struct {
			Alerts []struct {
				Rule   string     `json:"rule"`
				Status string     `json:"status"`
				EndsAt *time.Time `json:"ends_at"`
			} `json:"alerts"`
		}
		_, body := get(apiURL+"/api/v1/alerts", apiToken)
		json.Unmarshal([]byte(body), &doc)
		for _, a := range doc.Alerts {
			if a.Rule == "escalations_waiting" && a.Status == "resolved" && a.EndsAt != nil {
				resolvedAt = *a.EndsAt
				return true
			}
		}
		return false
	})
	waitFor(t, "the second Alertmanager to refuse the resolution", func() bool { return saw(&refused, resolvedAt) })
	failing.Store(false)
	waitFor(t, "the resolution resent to the second Alertmanager", func() bool { return saw(&forwarded, resolvedAt) })

	// Resolved in both: its endsAt is in the past, and it leaves the active
	// alerts.
	waitFor(t, "the alert to resolve in both Alertmanagers", func() bool {
		for _, u := range []string{am, am2} {
			as := amAlertsAll(t, u)
			if len(as) > 1 || (len(as) == 1 && as[0].EndsAt.After(time.Now())) {
				return false
			}
		}
		return true
	})
	if st, body := get(apiURL+"/api/v1/alerts", apiToken); st != 200 || !strings.Contains(body, `"status":"resolved"`) {
		t.Errorf("the bridge's /api/v1/alerts after the resolution: %d %s", st, body)
	}
	for _, u := range []string{am, am2} {
		if as := amAlerts(t, u); len(as) != 0 {
			t.Errorf("still active in %s: %+v", u, as)
		}
	}
}

// promtool accepts configs/prometheus-rules.yml, and its unit tests pass.
func TestPrometheusRules(t *testing.T) {
	promtool := os.Getenv("ACDBRIDGE_IT_PROMTOOL")
	if promtool == "" {
		t.Fatal("ACDBRIDGE_IT_PROMTOOL must be set: run make integration (scripts/integration.d/40-alertmanager.sh)")
	}
	for _, args := range [][]string{
		{"check", "rules", "prometheus-rules.yml"},
		{"test", "rules", "prometheus-rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "../../configs"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// closedAddress is an http URL where nothing listens.
func closedAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

// amAlerts is Alertmanager's alerts named escalations_waiting (active ones).
func amAlerts(t *testing.T, am string) []amAlert {
	return queryAM(t, am+"/api/v2/alerts?filter="+url.QueryEscape(`alertname="escalations_waiting"`))
}

// amAlertsAll includes silenced, inhibited and unprocessed ones.
func amAlertsAll(t *testing.T, am string) []amAlert {
	return queryAM(t, am+"/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true&filter="+url.QueryEscape(`alertname="escalations_waiting"`))
}

func queryAM(t *testing.T, u string) []amAlert {
	t.Helper()
	st, body := get(u, "")
	if st != 200 {
		t.Fatalf("GET %s: %d %s", u, st, body)
	}
	var as []amAlert
	if err := json.Unmarshal([]byte(body), &as); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, body)
	}
	return as
}

func get(u, token string) (int, string) {
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond until it holds (a hang guard, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, what, 3*time.Minute, 200*time.Millisecond, cond)
}
