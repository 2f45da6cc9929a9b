package runtime

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acdbridge/acdbridge/bridge/availability"
	"github.com/acdbridge/acdbridge/bridge/config"
	iutil "github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/monitors"
	"github.com/acdbridge/acdbridge/plugins/host"
	"github.com/acdbridge/acdbridge/plugins/sdk"
	"github.com/acdbridge/acdbridge/simulator"
)

// rig is a simulator on a manual clock, a bridge reading it over HTTP, and
// the bridge's embedded NATS server, all in the test process.
type rig struct {
	t      testing.TB
	clock  *simulator.ManualClock
	engine *simulator.Engine
	url    string
	bridge *Bridge
	reg    *prometheus.Registry
	rules  availability.Rules
	cancel context.CancelFunc
	done   chan error
	seen   uint64 // the simulator's stream events read so far
}

const rigToken = "rig-token"

// Under go test, os.Executable is the test binary: built-in adapters run it
// as `plugin serve NAME`, so it serves them when asked.
func TestMain(m *testing.M) {
	if os.Getenv("ACDBRIDGE_TEST_RECORDER") == "1" {
		sdk.Serve(&recorder{applied: map[string]uint64{}})
		os.Exit(0)
	}
	if len(os.Args) == 4 && os.Args[1] == "plugin" && os.Args[2] == "serve" {
		if err := host.ServeBuiltin(os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// newRig starts the rig. For a benchmark, the embedded NATS server listens
// on a free loopback port, so that a subscriber measures what a third party
// sees.
func newRig(t testing.TB, agents, queues, ring int, tweak ...func(*config.Config)) *rig {
	t.Helper()
	sc := simulator.DefaultScenario(agents, queues)
	sc.Seed = 11
	clock := simulator.NewManualClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	eng, err := simulator.NewEngine(sc, clock, ring)
	if err != nil {
		t.Fatal(err)
	}
	hs := iutil.ServeSimulator(t, eng, simulator.Options{Token: rigToken, Heartbeat: 200 * time.Millisecond}, nil) // closed after the bridge stops (cleanups run last first)
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Bus.Listen = "-"
	cfg.API.Listen = ""
	cfg.Source = &config.Source{URL: hs.URL, Token: rigToken, Stream: true, PollInterval: 200 * time.Millisecond,
		ReconcileInterval: time.Second, Timeout: 2 * time.Second, RateLimit: 1000, StaleAfter: 2 * time.Second}
	if _, bench := t.(*testing.B); bench {
		// As deployed: the default reconcile period, and a port for
		// outside subscribers.
		cfg.Source.ReconcileInterval = time.Minute
		cfg.Bus.Listen = "127.0.0.1:0"
	}
	for _, f := range tweak {
		f(&cfg)
	}
	reg := prometheus.NewRegistry()
	b, err := New(Options{Config: cfg, Registry: reg, Tick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{t: t, clock: clock, engine: eng, url: hs.URL, bridge: b, reg: reg, rules: cfg.Availability, cancel: cancel, done: make(chan error, 1), seen: eng.Agents().Sequence}
	started := make(chan struct{})
	go func() { r.done <- b.Run(ctx, func() { close(started) }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("bridge: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("bridge did not stop")
		}
	})
	select {
	case <-started:
	case err := <-r.done:
		t.Fatalf("bridge stopped at start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("bridge did not start")
	}
	return r
}

// step moves simulated time and adds, per agent, the availability the
// rules give for every state the simulator reported during the step: the
// states the bridge may truthfully show while it catches up.
func (r *rig) step(d time.Duration, allowed map[string]map[string]bool) {
	r.clock.Add(d)
	for _, a := range r.engine.Agents().Agents {
		r.allow(allowed, a)
	}
	for {
		evs, ok := r.engine.StreamEvents(r.seen, 1<<16)
		if !ok {
			// Overwritten: the bridge cannot have seen them either; it
			// gets a reset with the state at the end of the step.
			r.seen = r.engine.Agents().Sequence
			return
		}
		if len(evs) == 0 {
			return
		}
		for _, ev := range evs {
			if a, ok := ev.Data.(simulator.AgentJSON); ok {
				r.allow(allowed, a)
			}
			r.seen = ev.Seq
		}
	}
}

func (r *rig) allow(allowed map[string]map[string]bool, a simulator.AgentJSON) {
	if allowed[a.ID] == nil {
		allowed[a.ID] = map[string]bool{}
	}
	allowed[a.ID][r.key(a)] = true
}

func (r *rig) key(a simulator.AgentJSON) string {
	sr := r.rules.Decide(monitors.Agent{ID: a.ID, Status: monitors.Status(a.Status), ActiveSessions: a.ActiveSessions})
	return fmt.Sprintf("%v/%s/%s", sr.Available, sr.State, sr.Reason)
}

func dkey(d availability.Desired) string {
	return fmt.Sprintf("%v/%s/%s", d.Available, d.State, d.Reason)
}

// kv reads the availability KV bucket, as adapters will.
func (r *rig) kv() map[string]availability.Desired {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.bridge.mu.Lock()
	bs := r.bridge.bus
	r.bridge.mu.Unlock()
	m, err := bs.Availability(ctx)
	if err != nil {
		r.t.Fatalf("read the availability KV: %v", err)
	}
	return m
}

// converge waits until the KV holds, for every agent, the rules applied to
// the simulator's truth. Meanwhile every value seen must be one of allowed.
func (r *rig) converge(allowed map[string]map[string]bool) {
	r.t.Helper()
	truth := map[string]string{}
	for _, a := range r.engine.Agents().Agents {
		truth[a.ID] = r.key(a)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		kv := r.kv()
		var wrong, behind []string
		for id, d := range kv {
			if !allowed[id][dkey(d)] {
				wrong = append(wrong, fmt.Sprintf("%s=%s", id, dkey(d)))
			}
		}
		if len(wrong) > 0 {
			r.t.Fatalf("availability never true for the agent was published: %s", strings.Join(wrong, ", "))
		}
		for id, want := range truth {
			if d, ok := kv[id]; !ok || dkey(d) != want {
				behind = append(behind, fmt.Sprintf("%s: kv %s, truth %s", id, dkey(d), want))
			}
		}
		if len(behind) == 0 && len(kv) == len(truth) {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("not converged after 20 s: %d of %d agents differ, e.g. %s", len(behind), len(truth), behind[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fresh keeps only the newest step's allowed values: after convergence the
// bridge must never go back to an older one.
func fresh(r *rig) map[string]map[string]bool {
	allowed := map[string]map[string]bool{}
	for _, a := range r.engine.Agents().Agents {
		r.allow(allowed, a)
	}
	return allowed
}

func (r *rig) faults(body string) {
	r.t.Helper()
	req, _ := http.NewRequest("POST", r.url+"/v1/admin/faults", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+rigToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		r.t.Fatalf("set faults %s: %v %v", body, err, resp)
	}
	resp.Body.Close()
}

func TestAvailabilityFollowsTheSource(t *testing.T) {
	r := newRig(t, 300, 12, 1<<16)
	r.converge(fresh(r))
	for i := 0; i < 40; i++ {
		allowed := fresh(r)
		r.step(20*time.Second, allowed)
		r.converge(allowed)
	}
	if got := testutil.ToFloat64(r.bridge.metrics.changes.WithLabelValues("false")); got < 50 {
		t.Fatalf("only %g changes to unavailable in 40 steps", got)
	}
	// The default log adapter, a real plugin process, confirms the newest
	// version of every agent.
	kv := r.kv()
	w := r.bridge.workers[0]
	deadline := time.Now().Add(20 * time.Second)
	for {
		applied, behind := w.Applied(), 0
		for id, d := range kv {
			if applied[id] != d.Version {
				behind++
			}
		}
		if behind == 0 && len(applied) == len(kv) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log adapter is behind on %d of %d agents", behind, len(kv))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Requests and sessions reach it too, through its durable consumer.
	for testutil.ToFloat64(r.bridge.workers[0].Events()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no request or session reached the log adapter")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAvailabilityAfterStreamCutsAndReset(t *testing.T) {
	// A ring of 256 events: a few steps while the stream is down put the
	// resume point out of reach, so the bridge must take a reset.
	r := newRig(t, 200, 8, 256)
	r.converge(fresh(r))
	r.faults(`{"stream_drop_rate":0.2}`)
	for range 10 {
		allowed := fresh(r)
		r.step(15*time.Second, allowed)
		r.converge(allowed)
	}
	r.faults(`{"stream_drop_rate":1}`)
	allowed := fresh(r)
	for range 5 {
		r.step(5*time.Minute, allowed)
	}
	r.faults(`{"stream_drop_rate":0}`)
	r.converge(allowed)
}

func TestNoWrongAvailabilityUnderFaults(t *testing.T) {
	r := newRig(t, 200, 8, 1<<16)
	r.converge(fresh(r))
	r.faults(`{"error_rate":0.2,"latency_ms":20,"malformed_rate":0.1,"error_body_rate":0.1,"stream_drop_rate":0.05}`)
	for range 15 {
		allowed := fresh(r)
		r.step(20*time.Second, allowed)
		r.converge(allowed)
	}
	// The source goes dark: the bridge must say it is stale and hold.
	r.faults(`{"error_rate":1,"stream_drop_rate":1}`)
	before := r.kv()
	deadline := time.Now().Add(20 * time.Second)
	for !r.bridge.Stale() {
		if time.Now().After(deadline) {
			t.Fatal("the bridge never noticed the source went dark")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := testutil.ToFloat64(r.bridge.metrics.stale); got != 1 {
		t.Fatalf("acdbridge_source_stale = %g while stale", got)
	}
	allowed := fresh(r)
	r.step(10*time.Minute, allowed) // the truth moves on unseen
	time.Sleep(300 * time.Millisecond)
	after := r.kv()
	for id, d := range before {
		if after[id].Version != d.Version {
			t.Fatalf("agent %s's availability changed while the source was stale: %+v -> %+v", id, d, after[id])
		}
	}
	r.faults(`{"error_rate":0,"stream_drop_rate":0,"malformed_rate":0,"error_body_rate":0,"latency_ms":0}`)
	r.converge(allowed)
	if r.bridge.Stale() {
		t.Fatal("still stale after the source came back")
	}
}
