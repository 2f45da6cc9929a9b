package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/monitors"
	"github.com/acdbridge/acdbridge/simulator"
)

// testStart is the simulated time every simulator in these tests starts at.
var testStart = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

const testToken = "s3cr3t-test-token"

// hangGuard bounds every wait in these tests. It is a guard against a test
// hanging, never a timing assertion: a passing test waits far less.
const hangGuard = 20 * time.Second

// simEnv is the real simulator, in process, behind an httptest server, on a
// manual clock: events happen only when the test moves the clock.
type simEnv struct {
	t      *testing.T
	clock  *simulator.ManualClock
	engine *simulator.Engine
	server *simulator.Server
	hs     *httptest.Server
	url    string

	blockStream atomic.Bool // answer 503 on the stream
	streamGets  atomic.Int64
	pollGets    atomic.Int64
}

type simOptions struct {
	agents, queues int
	buffer         int           // the stream ring; 0: 1<<16
	heartbeat      time.Duration // 0: an hour (no heartbeats)
}

func newSim(t *testing.T, o simOptions) *simEnv {
	t.Helper()
	if o.agents == 0 {
		o.agents, o.queues = 30, 6
	}
	if o.buffer == 0 {
		o.buffer = 1 << 16
	}
	if o.heartbeat == 0 {
		o.heartbeat = time.Hour
	}
	sc := simulator.DefaultScenario(o.agents, o.queues)
	sc.Seed = 11
	clock := simulator.NewManualClock(testStart)
	eng, err := simulator.NewEngine(sc, clock, o.buffer)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	srv, err := simulator.NewServer(eng, simulator.Options{Token: testToken, Heartbeat: o.heartbeat})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	env := &simEnv{t: t, clock: clock, engine: eng, server: srv}
	h := srv.Handler()
	env.hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case pathStream:
			env.streamGets.Add(1)
			if env.blockStream.Load() {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, `{"error":{"code":"unavailable","message":"test: stream blocked"}}`)
				return
			}
		case pathAgents, pathQueues:
			env.pollGets.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	env.url = env.hs.URL
	t.Cleanup(func() { srv.Close(); env.hs.Close() })
	return env
}

// step moves the simulated clock and lets the engine catch up, which
// publishes the events of that time; it returns the truth afterwards.
func (e *simEnv) step(d time.Duration) (simulator.AgentsSnapshot, simulator.QueuesSnapshot) {
	e.clock.Add(d)
	return e.engine.Agents(), e.engine.Queues()
}

// faults sets the simulator's fault injection through its admin call.
func (e *simEnv) faults(f map[string]any) {
	e.t.Helper()
	b, _ := json.Marshal(f)
	req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/admin/faults", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("POST /v1/admin/faults: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("POST /v1/admin/faults %s: status %d", b, resp.StatusCode)
	}
}

// simAgent is the test's own conversion of the simulator's view, to
// compare with what the client decoded.
func simAgent(a simulator.AgentJSON) monitors.Agent {
	return monitors.Agent{ID: a.ID, Name: a.Name, Email: a.Email, Status: monitors.Status(a.Status), Queues: a.Queues,
		ActiveSessions: a.ActiveSessions, MaxSessions: a.MaxSessions, StatusSince: a.StatusSince.UTC()}
}

func simQueue(q simulator.QueueJSON) monitors.Queue {
	m := monitors.Queue{ID: q.ID, Name: q.Name, Waiting: q.Waiting, AgentsLoggedIn: q.AgentsLoggedIn, AgentsAvailable: q.AgentsAvailable,
		LongestWait: time.Duration(q.LongestWaitSeconds * float64(time.Second))}
	if q.Parent != nil {
		m.Parent = *q.Parent
	}
	if q.OldestRequestAt != nil {
		m.OldestRequestAt = q.OldestRequestAt.UTC()
	}
	return m
}

func agentDiff(got, want monitors.Agent) string {
	if got.ID == want.ID && got.Name == want.Name && got.Email == want.Email && got.Status == want.Status &&
		slices.Equal(got.Queues, want.Queues) && got.ActiveSessions == want.ActiveSessions &&
		got.MaxSessions == want.MaxSessions && got.StatusSince.Equal(want.StatusSince) {
		return ""
	}
	return fmt.Sprintf("got %+v, want %+v", got, want)
}

// queueDiff compares everything but the longest wait and as_of: a queue
// event carries the longest wait at its time, the snapshot at its own.
func queueDiff(got, want monitors.Queue) string {
	if got.ID == want.ID && got.Name == want.Name && got.Parent == want.Parent && got.Waiting == want.Waiting &&
		got.OldestRequestAt.Equal(want.OldestRequestAt) && got.AgentsLoggedIn == want.AgentsLoggedIn &&
		got.AgentsAvailable == want.AgentsAvailable {
		return ""
	}
	return fmt.Sprintf("got %+v, want %+v", got, want)
}

// picture is what a consumer of the updates would hold. It applies tables
// whole and changes one by one, exactly as they come.
type picture struct {
	mu        sync.Mutex
	updates   []Update
	agents    map[string]monitors.Agent
	queues    map[string]monitors.Queue
	maxSeq    uint64   // the picture is complete up to this sequence
	agentsSeq uint64   // the last agent table's
	eventSeq  []uint64 // the Seq of every single-change update, in order
}

func (p *picture) apply(u Update) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.updates = append(p.updates, u)
	switch u.Kind {
	case Agents:
		p.agents = make(map[string]monitors.Agent)
		for _, a := range u.AgentList {
			p.agents[a.ID] = a
		}
	case Queues:
		p.queues = make(map[string]monitors.Queue)
		for _, q := range u.QueueList {
			p.queues[q.ID] = q
		}
	case AgentChanged:
		p.agents[u.Agent.ID] = u.Agent
	case QueueChanged:
		p.queues[u.Queue.ID] = u.Queue
	}
	switch u.Kind {
	case AgentChanged, QueueChanged, RequestEvent, SessionEnded:
		p.eventSeq = append(p.eventSeq, u.Seq)
	}
	// An agent table is always followed by its queue table, at the same
	// sequence or later: the pair makes a picture as of the older of the two.
	switch u.Kind {
	case Heartbeat:
	case Agents:
		p.agentsSeq = u.Seq
	case Queues:
		p.maxSeq = max(p.maxSeq, min(u.Seq, p.agentsSeq))
	default:
		p.maxSeq = max(p.maxSeq, u.Seq)
	}
}

// snapshot returns a copy of the updates so far.
func (p *picture) all() []Update {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.updates)
}

func (p *picture) count(k Kind) int {
	n := 0
	for _, u := range p.all() {
		if u.Kind == k {
			n++
		}
	}
	return n
}

// diff compares the picture with the simulator's truth; empty when equal.
func (p *picture) diff(agents simulator.AgentsSnapshot, queues simulator.QueuesSnapshot) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	if len(p.agents) != len(agents.Agents) {
		out = append(out, fmt.Sprintf("%d agents, want %d", len(p.agents), len(agents.Agents)))
	}
	for _, a := range agents.Agents {
		if d := agentDiff(p.agents[a.ID], simAgent(a)); d != "" {
			out = append(out, "agent "+a.ID+": "+d)
		}
	}
	if len(p.queues) != len(queues.Queues) {
		out = append(out, fmt.Sprintf("%d queues, want %d", len(p.queues), len(queues.Queues)))
	}
	for _, q := range queues.Queues {
		if d := queueDiff(p.queues[q.ID], simQueue(q)); d != "" {
			out = append(out, "queue "+q.ID+": "+d)
		}
	}
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("… and %d more", len(out)-5))
	}
	return strings.Join(out, "\n")
}

func (p *picture) seq() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxSeq
}

// running is a Client under test, with its picture, metrics and log.
type running struct {
	c    *Client
	reg  *prometheus.Registry
	log  *testutil.SyncBuffer
	pic  *picture
	stop func()
}

// fastConfig is a config with short intervals for tests.
func fastConfig(url string) Config {
	return Config{
		URL: url, Token: testToken, Stream: true,
		PollInterval: 50 * time.Millisecond, ReconcileInterval: time.Hour,
		Timeout: 5 * time.Second, StreamIdleTimeout: 10 * time.Second,
		RateLimit: 1000, Burst: 100,
		BackoffMin: time.Millisecond, BackoffMax: 20 * time.Millisecond,
	}
}

// start makes a client from cfg and runs it until the test ends. Every
// update is applied to the returned picture.
func start(t *testing.T, cfg Config) *running {
	t.Helper()
	return startWith(t, cfg, nil)
}

// startWith is start with a chance to change the client before it runs.
func startWith(t *testing.T, cfg Config, tweak func(*Client)) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	buf := &testutil.SyncBuffer{}
	logger := hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Debug, Output: buf})
	c, err := New(cfg, logger, reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if tweak != nil {
		tweak(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Update)
	pic := &picture{}
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx, out) }()
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			select {
			case u := <-out:
				pic.apply(u)
			case <-ctx.Done():
				return
			}
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-runDone:
				if err != nil {
					t.Errorf("Run returned %v, want nil when its context ends", err)
				}
			case <-time.After(hangGuard):
				t.Errorf("Run did not return after its context ended")
			}
			<-readDone
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("client log:\n%s", buf.String())
		}
	})
	return &running{c: c, reg: reg, log: buf, pic: pic, stop: stop}
}

// waitFor waits until cond holds, failing the test after the hang guard.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, what, hangGuard, 2*time.Millisecond, cond)
}

// metric reads one series from the registry: name without the
// acdbridge_source_ prefix, labels as name=value pairs. A missing series is
// a test failure, so that a misnamed metric cannot pass as zero.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	v, ok := metricValue(reg, name, labels...)
	if !ok {
		t.Fatalf("no series acdbridge_source_%s%v", name, labels)
	}
	return v
}

func metricValue(reg *prometheus.Registry, name string, labels ...string) (float64, bool) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != "acdbridge_source_"+name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if want[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}
