package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acdbridge/acdbridge/bridge/api"
	"github.com/acdbridge/acdbridge/bridge/config"
	iutil "github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/monitors"
)

var configRule = monitors.Rule{Name: "from_file", Queues: []string{"*"}, When: "waiting > 100"}

func loadAlerting(t *testing.T, dir string, now func() time.Time) *alerting {
	t.Helper()
	checked, err := monitors.CheckRule(configRule)
	if err != nil {
		t.Fatal(err)
	}
	al, err := newAlerting([]monitors.Rule{checked}, dir, now, hclog.NewNullLogger(), func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	return al
}

// API rules are kept in data_dir/rules.json and come back after a restart;
// config rules are read-only; every mistake has its error.
func TestRulesPersistAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	al := loadAlerting(t, dir, now)
	backlog := monitors.Rule{Name: "backlog", Queues: []string{"support/*"}, When: "waiting >= 5", For: 30 * time.Second,
		Severity: "critical", Labels: map[string]string{"team": "a"}, Annotations: map[string]string{"summary": "${waiting} in ${queue}"}}
	if _, created, err := al.Put(backlog, "alice"); err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	backlog.When = "waiting >= 7"
	if info, created, err := al.Put(backlog, "alice"); err != nil || created || info.When != "waiting >= 7" || info.Origin != api.OriginAPI {
		t.Fatalf("replace: %+v %v %v", info, created, err)
	}
	unresolved := monitors.Rule{Name: "unresolved", Kind: monitors.SessionRuleKind, Unresolved: true}
	if _, _, err := al.Put(unresolved, "bob"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"change a config rule", func() error { _, _, err := al.Put(configRule, "alice"); return err }(), api.ErrReadOnly},
		{"delete a config rule", al.Delete("from_file", "alice"), api.ErrReadOnly},
		{"delete an unknown rule", al.Delete("nope", "alice"), api.ErrRuleNotFound},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if _, _, err := al.Put(monitors.Rule{Name: "bad", Queues: []string{"*"}, When: "waitin > 1"}, "alice"); err == nil {
		t.Error("an invalid rule was taken")
	} else if re, ok := monitors.IsRuleError(err); !ok || re.Field != "when" {
		t.Errorf("invalid rule: %v", err)
	}

	// A restart reads them again, with their origins; the file is JSON
	// written whole, with no temporary file left.
	al2 := loadAlerting(t, dir, now)
	var got []string
	for _, r := range al2.List() {
		got = append(got, r.Name+":"+r.Origin+":"+r.When)
	}
	if want := "backlog:api:waiting >= 7 from_file:config:waiting > 100 unresolved:api:"; strings.Join(got, " ") != want {
		t.Errorf("after a restart: %q, want %q", strings.Join(got, " "), want)
	}
	if r, _ := al2.Get("backlog"); r.For != 30*time.Second || r.Severity != "critical" || r.Labels["team"] != "a" || r.Annotations["summary"] != "${waiting} in ${queue}" {
		t.Errorf("backlog after a restart: %+v", r)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != rulesFile {
		t.Errorf("data_dir holds %v", entries)
	}
	var doc rulesDoc
	raw, _ := os.ReadFile(filepath.Join(dir, rulesFile))
	if err := json.Unmarshal(raw, &doc); err != nil || doc.V != 1 || len(doc.Rules) != 2 {
		t.Errorf("rules.json: %s (%v)", raw, err)
	}

	// Delete, and it stays deleted.
	if err := al2.Delete("backlog", "carol"); err != nil {
		t.Fatal(err)
	}
	if _, ok := loadAlerting(t, dir, now).Get("backlog"); ok {
		t.Error("a deleted rule came back")
	}

	// A file that does not read stops the start with a clear error.
	os.WriteFile(filepath.Join(dir, rulesFile), []byte("{not json"), 0o644)
	if _, err := newAlerting(nil, dir, now, hclog.NewNullLogger(), func(string, ...any) {}); err == nil || !strings.Contains(err.Error(), "fix or move the file") {
		t.Errorf("a corrupt rules.json: %v", err)
	}
}

// A config rule wins over a kept API rule of the same name (left out, logged).
func TestConfigRuleWinsOverKeptRule(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, rulesFile), []byte(`{"v":1,"rules":[{"name":"from_file","kind":"queue","queues":["x"],"when":"waiting > 1","severity":"info"},{"name":"kept","kind":"queue","queues":["x"],"when":"waiting > 1","severity":"info"}]}`), 0o644)
	al := loadAlerting(t, dir, time.Now)
	if r, _ := al.Get("from_file"); r.Origin != api.OriginConfig || r.When != "waiting > 100" {
		t.Errorf("from_file: %+v", r)
	}
	if r, ok := al.Get("kept"); !ok || r.Origin != api.OriginAPI {
		t.Errorf("kept: %+v", r)
	}
}

// Rules kept in rules.json that cannot be loaded at start (a config rule
// took the name, or the rule no longer checks) are not lost by the next
// change: the file keeps them as they were, and one comes back once the
// config rule is gone. Deleting one by its name removes it.
func TestLeftOutRulesAreKept(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, rulesFile)
	conflict := `{"name":"from_file","kind":"queue","queues":["x"],"when":"waiting > 1","severity":"info","labels":{},"annotations":{},"read_only":false}`
	invalid := `{"name":"typo","kind":"queue","queues":["x"],"when":"waitin > 1","severity":"info","labels":{},"annotations":{},"read_only":false}`
	os.WriteFile(path, []byte(`{"v":1,"rules":[`+conflict+`,`+invalid+`]}`), 0o644)
	al := loadAlerting(t, dir, time.Now)
	if _, _, err := al.Put(monitors.Rule{Name: "new", Queues: []string{"*"}, When: "waiting > 2"}, "alice"); err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		var doc struct {
			Rules []json.RawMessage `json:"rules"`
		}
		raw, _ := os.ReadFile(path)
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("rules.json: %v: %s", err, raw)
		}
		var out []string
		for _, r := range doc.Rules {
			var d struct{ Name string }
			json.Unmarshal(r, &d)
			out = append(out, d.Name)
		}
		return out
	}
	if got := strings.Join(names(), " "); got != "from_file new typo" {
		t.Fatalf("rules.json after a change holds %q; want from_file new typo", got)
	}
	// Without the config rule, the kept one is back.
	al2, err := newAlerting(nil, dir, time.Now, hclog.NewNullLogger(), func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := al2.Get("from_file"); !ok || r.Origin != api.OriginAPI || r.When != "waiting > 1" {
		t.Errorf("from_file without the config rule: %+v %v", r, ok)
	}
	// The invalid one can be deleted by name, or fixed by a put.
	if err := al.Delete("typo", "bob"); err != nil {
		t.Fatalf("delete the left-out rule: %v", err)
	}
	if err := al.Delete("typo", "bob"); !errors.Is(err, api.ErrRuleNotFound) {
		t.Errorf("delete it again: %v", err)
	}
	if got := strings.Join(names(), " "); got != "from_file new" {
		t.Errorf("rules.json after the delete holds %q", got)
	}
}

// Session rules alert once per session, and not on old sessions (a range
// sync or a recording fetched again).
func TestSessionAlertWindow(t *testing.T) {
	clock := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	al := loadAlerting(t, t.TempDir(), func() time.Time { return clock })
	if _, _, err := al.Put(monitors.Rule{Name: "low", Kind: monitors.SessionRuleKind, RatingAtMost: 2}, "alice"); err != nil {
		t.Fatal(err)
	}
	behind := clock.Add(-30 * 24 * time.Hour) // a source whose clock is a month behind
	for _, o := range []monitors.SessionOutcome{
		{ID: "s-new", Queue: "q", Rating: 1, EndedAt: clock.Add(-time.Minute)},
		{ID: "s-new", Queue: "q", Rating: 1, EndedAt: clock.Add(-time.Minute)}, // again
		{ID: "s-old", Queue: "q", Rating: 1, EndedAt: clock.Add(-2 * time.Hour)},
		{ID: "s-good", Queue: "q", Rating: 5, EndedAt: clock},
		{ID: "s-behind", Queue: "q", Rating: 2, EndedAt: behind},
	} {
		al.sessionEnded(o)
	}
	out := al.take()
	if len(out) != 1 || out[0].Session != "s-new" || out[0].Status != monitors.Firing {
		t.Errorf("alerts: %+v", out)
	}
	// A source a month behind the bridge's clock: what just ended there
	// alerts, what ended two hours before it does not.
	al2 := loadAlerting(t, t.TempDir(), func() time.Time { return clock })
	al2.Put(monitors.Rule{Name: "low", Kind: monitors.SessionRuleKind, RatingAtMost: 2}, "alice")
	for _, o := range []monitors.SessionOutcome{
		{ID: "s-1", Queue: "q", Rating: 1, EndedAt: behind},
		{ID: "s-2", Queue: "q", Rating: 1, EndedAt: behind.Add(-2 * time.Hour)},
		{ID: "s-3", Queue: "q", Rating: 2, EndedAt: behind.Add(time.Minute)},
	} {
		al2.sessionEnded(o)
	}
	var got []string
	for _, a := range al2.take() {
		got = append(got, a.Session)
	}
	if strings.Join(got, " ") != "s-1 s-3" {
		t.Errorf("a source behind: alerts for %v, want s-1 s-3", got)
	}
}

// In the running bridge: a rule that holds fires for every queue it
// watches and is published; changing it through the API resolves them.
func TestAlertsInTheRunningBridge(t *testing.T) {
	parsed, err := config.Parse([]byte("rule \"staffed\" {\n  queues = [\"*\", \"*/*\"]\n  when = \"agents_logged_in >= 0\"\n  severity = \"info\"\n}\n"), "bridge.hcl")
	if err != nil {
		t.Fatal(config.Format(err))
	}
	r := newRig(t, 20, 3, 1<<12, func(c *config.Config) { c.Rules = parsed.Rules })
	r.converge(fresh(r))
	m := r.bridge.metrics
	waitFor(t, "the rule to fire on each queue", func() bool { return testutil.ToFloat64(m.alerts.WithLabelValues("firing")) == 3 })

	rules := r.bridge.Rules()
	if got, _ := rules.Get("staffed"); got.State != monitors.Firing || got.Origin != api.OriginConfig {
		t.Errorf("staffed: %+v", got)
	}
	if _, _, err := rules.Put(monitors.Rule{Name: "staffed", Queues: []string{"*"}, When: "false"}, "alice"); !errors.Is(err, api.ErrReadOnly) {
		t.Errorf("changing a config rule: %v", err)
	}
	if _, _, err := rules.Put(monitors.Rule{Name: "crowded", Queues: []string{"*", "*/*"}, When: "agents_logged_in >= 0"}, "alice"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the API rule to fire", func() bool { return testutil.ToFloat64(m.alerts.WithLabelValues("firing")) == 6 })
	if err := rules.Delete("crowded", "alice"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted rule's alerts to resolve", func() bool { return testutil.ToFloat64(m.alerts.WithLabelValues("resolved")) == 3 })
	alerts := rules.Alerts()
	if len(alerts) != 6 || alerts[0].Status != monitors.Firing || alerts[3].Status != monitors.Resolved || alerts[3].Rule != "crowded" {
		t.Errorf("alerts: %+v", alerts)
	}
}

// The queues' rows (the dashboard's and GET /api/v1/queues') carry each
// queue's own rule state: firing where a rule fires on it, pending where
// one is pending on it, nothing elsewhere.
func TestQueueRowsCarryTheirRuleState(t *testing.T) {
	parsed, err := config.Parse([]byte("rule \"top\" {\n  queues = [\"*\"]\n  when = \"agents_logged_in >= 0\"\n}\nrule \"nested\" {\n  queues = [\"*/*\"]\n  when = \"agents_logged_in >= 0\"\n  for = \"1h\"\n}\n"), "bridge.hcl")
	if err != nil {
		t.Fatal(config.Format(err))
	}
	r := newRig(t, 20, 3, 1<<12, func(c *config.Config) { c.Rules = parsed.Rules })
	r.converge(fresh(r))
	want := func(id string) string {
		if strings.Contains(id, "/") {
			return "pending"
		}
		return "firing"
	}
	var last string
	waitFor(t, "each queue's rule state", func() bool {
		var bad []string
		rows := r.bridge.dash.DashboardTables().Queues
		for _, q := range rows {
			if q.RuleState != want(q.ID) {
				bad = append(bad, q.ID+":"+q.RuleState)
			}
		}
		last = fmt.Sprint(rows)
		return len(rows) > 0 && len(bad) == 0
	})
	raw, _ := json.Marshal(r.bridge.views().Queues())
	var doc struct{ Queues []api.QueueRow }
	json.Unmarshal(raw, &doc)
	if len(doc.Queues) == 0 {
		t.Fatalf("GET /api/v1/queues: %s (dashboard rows %s)", raw, last)
	}
	for _, q := range doc.Queues {
		if q.RuleState != want(q.ID) {
			t.Errorf("GET /api/v1/queues: %s has rule_state %q, want %q", q.ID, q.RuleState, want(q.ID))
		}
	}
}

// While the source is stale no queue rule is evaluated, but session
// alerts still resolve on time.
func TestSessionAlertsResolveWhileStale(t *testing.T) {
	parsed, err := config.Parse([]byte("session_rule \"low\" {\n  rating_at_most = 2\n  keep_firing_for = \"1s\"\n}\n"), "bridge.hcl")
	if err != nil {
		t.Fatal(config.Format(err))
	}
	r := newRig(t, 20, 3, 1<<12, func(c *config.Config) { c.Rules = parsed.Rules })
	r.converge(fresh(r))
	r.faults(`{"error_rate":1,"stream_drop_rate":1}`)
	waitFor(t, "the source to be stale", r.bridge.Stale)
	r.bridge.mu.Lock()
	al := r.bridge.alerts
	r.bridge.mu.Unlock()
	al.sessionEnded(monitors.SessionOutcome{ID: "s-stale", Queue: "support", Rating: 1, EndedAt: time.Now()})
	r.bridge.publishAlerts(context.Background())
	m := r.bridge.metrics
	waitFor(t, "the session alert to fire", func() bool { return testutil.ToFloat64(m.alerts.WithLabelValues("firing")) == 1 })
	waitFor(t, "the session alert to resolve while the source is stale", func() bool {
		return testutil.ToFloat64(m.alerts.WithLabelValues("resolved")) == 1 && r.bridge.Stale()
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	iutil.WaitFor(t, what, 20*time.Second, 10*time.Millisecond, cond)
}

// In the running bridge, session rules fire on the sessions the archive
// reads whole (survey and resolution), one alert per session.
func TestSessionRuleInTheRunningBridge(t *testing.T) {
	parsed, err := config.Parse([]byte("session_rule \"rated\" {\n  rating_at_most = 5\n  annotations = { summary = \"${agent}: ${rating}\" }\n}\n"), "bridge.hcl")
	if err != nil {
		t.Fatal(config.Format(err))
	}
	r := newRig(t, 8, 2, 1<<14, func(c *config.Config) { c.Rules = parsed.Rules })
	r.converge(fresh(r))
	for range 20 {
		r.step(time.Minute, fresh(r))
	}
	m := r.bridge.metrics
	waitFor(t, "a session alert", func() bool { return testutil.ToFloat64(m.alerts.WithLabelValues("firing")) > 0 })
	for _, a := range r.bridge.Rules().Alerts() {
		rec, err := r.engine.Session(a.Session)
		if err != nil || rec.Survey == nil || a.Labels["agent"] != rec.AgentID || a.Value["rating"] != float64(rec.Survey.Rating) ||
			a.Annotations["summary"] != fmt.Sprintf("%s: %d", rec.AgentID, rec.Survey.Rating) {
			t.Errorf("alert %+v; the simulator has %+v", a, rec)
		}
	}
}

// configs/grafana-dashboard.json and configs/prometheus-rules.yml use only
// metrics the running bridge has, with labels those metrics have.
func TestDashboardAndPrometheusRulesUseRealMetrics(t *testing.T) {
	r := newRig(t, 20, 3, 1<<12)
	r.converge(fresh(r))
	fams, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]map[string]bool{}
	for _, f := range fams {
		ls := map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				ls[l.GetName()] = true
			}
		}
		labels[f.GetName()] = ls
	}
	use := regexp.MustCompile(`(acdbridge_[a-z0-9_]+)(\{([^}]*)\})?`)
	matcher := regexp.MustCompile(`([a-z_]+)\s*(=~|!~|!=|=)`)
	for _, file := range []string{"../../configs/grafana-dashboard.json", "../../configs/prometheus-rules.yml", "../../configs/prometheus-rules.test.yml"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(file, ".json") {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
		}
		n := 0
		for _, m := range use.FindAllStringSubmatch(string(raw), -1) {
			name := m[1]
			if _, ok := labels[name]; !ok {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if base, cut := strings.CutSuffix(name, suffix); cut && labels[base] != nil {
						name = base
					}
				}
			}
			have, ok := labels[name]
			if !ok {
				t.Errorf("%s uses %s, which the bridge does not have", file, m[1])
				continue
			}
			n++
			for _, lm := range matcher.FindAllStringSubmatch(m[3], -1) {
				if lm[1] != "le" && !have[lm[1]] {
					t.Errorf("%s: %s has no label %q (it has %v)", file, name, lm[1], have)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s uses no acdbridge metric", file)
		}
	}
}

// TestSessionRulesWithoutRealtimeArchive: session rules read the archived
// record, so with real-time archiving off the bridge says at start that
// they cannot fire, naming them; with it on it says nothing of the kind.
func TestSessionRulesWithoutRealtimeArchive(t *testing.T) {
	for _, realtime := range []bool{false, true} {
		cfg := config.Defaults()
		cfg.DataDir = t.TempDir()
		cfg.Archive.Realtime = realtime
		cfg.Rules = []monitors.Rule{
			{Name: "negative_rating", Kind: monitors.SessionRuleKind, RatingAtMost: 2, Severity: "warning"},
			{Name: "backlog", Kind: monitors.QueueRuleKind, Queues: []string{"support"}, When: "waiting >= 5", Severity: "warning"},
		}
		var console strings.Builder
		b, err := New(Options{Config: cfg, Registry: prometheus.NewRegistry(), Console: &console})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.startAlerts(); err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(console.String(), "session rules negative_rating cannot fire while real-time archiving is off")
		if warned == realtime || strings.Contains(console.String(), "backlog cannot fire") {
			t.Errorf("realtime %t: console %q", realtime, console.String())
		}
	}
}
