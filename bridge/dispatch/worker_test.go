package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acdbridge/acdbridge/bridge/availability"
	"github.com/acdbridge/acdbridge/bridge/bus"
	"github.com/acdbridge/acdbridge/monitors"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// fake is an adapter in the test process.
type fake struct {
	mu      sync.Mutex
	calls   []string                           // "reconcile:N" or "set:N"
	state   map[string]uint64                  // what it applied
	outcome func(sdk.Availability) sdk.Outcome // nil: applied
	delay   time.Duration
	failing bool
	exited  bool
	maxSeen int
}

func newFake() *fake { return &fake{state: map[string]uint64{}} }

func (f *fake) apply(kind string, items []sdk.Availability) ([]sdk.Result, error) {
	time.Sleep(f.delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing || f.exited {
		return nil, errors.New("connection refused")
	}
	f.calls = append(f.calls, fmt.Sprintf("%s:%d", kind, len(items)))
	f.maxSeen = max(f.maxSeen, len(items))
	out := make([]sdk.Result, len(items))
	for i, it := range items {
		o := sdk.Applied
		if f.outcome != nil {
			o = f.outcome(it)
		}
		if o == sdk.Applied {
			if it.Version > f.state[it.AgentID] || kind == "reconcile" {
				f.state[it.AgentID] = it.Version
			} else {
				o = sdk.Ignored
			}
		}
		out[i] = sdk.Result{AgentID: it.AgentID, Version: it.Version, Outcome: o}
	}
	return out, nil
}

func (f *fake) SetAvailability(_ context.Context, items []sdk.Availability) ([]sdk.Result, error) {
	return f.apply("set", items)
}
func (f *fake) Reconcile(_ context.Context, items []sdk.Availability) ([]sdk.Result, error) {
	return f.apply("reconcile", items)
}
func (f *fake) Health(context.Context) (sdk.Health, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.exited {
		return sdk.Health{}, errors.New("gone")
	}
	return sdk.Health{Status: sdk.Up}, nil
}
func (f *fake) Describe(context.Context) (sdk.Info, error) { return sdk.Info{Name: "fake"}, nil }
func (f *fake) Configure(context.Context, sdk.Settings) ([]sdk.FieldError, error) {
	return nil, nil
}
func (f *fake) HandleRequest(_ context.Context, r sdk.Request) (sdk.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "request:"+r.ID)
	if f.outcome != nil {
		return sdk.Result{Outcome: f.outcome(sdk.Availability{AgentID: r.ID})}, nil
	}
	return sdk.Result{Outcome: sdk.Applied}, nil
}
func (f *fake) HandleSession(context.Context, sdk.Session) (sdk.Result, error) {
	return sdk.Result{}, sdk.ErrUnsupported
}
func (f *fake) HandleAlert(context.Context, sdk.Alert) (sdk.Result, error) {
	return sdk.Result{}, sdk.ErrUnsupported
}
func (f *fake) Exited() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.exited }
func (f *fake) Kill()        { f.mu.Lock(); f.exited = true; f.mu.Unlock() }

func (f *fake) snapshot() (map[string]uint64, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := map[string]uint64{}
	for k, v := range f.state {
		st[k] = v
	}
	return st, append([]string(nil), f.calls...)
}

// desiredState is the bridge's desired state, as the KV would hold it.
type desiredState struct {
	mu sync.Mutex
	m  map[string]availability.Desired
}

func (d *desiredState) set(id string, v uint64) availability.Desired {
	d.mu.Lock()
	defer d.mu.Unlock()
	x := availability.Desired{AgentID: id, Version: v, Available: v%2 == 0, Reason: "remote-support", Since: time.Now()}
	d.m[id] = x
	return x
}

func (d *desiredState) all() map[string]availability.Desired {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]availability.Desired{}
	for k, v := range d.m {
		out[k] = v
	}
	return out
}

func (d *desiredState) versions() map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range d.all() {
		out[k] = v.Version
	}
	return out
}

func newWorker(t *testing.T, name string, ds *desiredState, m *Metrics, tweak func(*Options)) *Worker {
	t.Helper()
	o := Options{Name: name, Desired: ds.all, Metrics: m, BatchSize: 50, RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond, HealthEvery: 20 * time.Millisecond}
	if tweak != nil {
		tweak(&o)
	}
	w, err := NewWorker(o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func equalState(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestReconcileFirstThenCoalescedBatches(t *testing.T) {
	ds := &desiredState{m: map[string]availability.Desired{}}
	for i := range 120 {
		ds.set(fmt.Sprintf("a-%03d", i), 1)
	}
	w := newWorker(t, "fake", ds, NewMetrics(prometheus.NewRegistry()), func(o *Options) { o.BatchWait = 50 * time.Millisecond })
	f := newFake()
	// Changes offered before the adapter runs: five versions of one agent.
	for v := uint64(2); v <= 6; v++ {
		w.Offer(ds.set("a-007", v))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Serve(ctx, f)
	eventually(t, "the adapter to hold the desired state", func() bool { st, _ := f.snapshot(); return equalState(st, ds.versions()) })
	_, calls := f.snapshot()
	if calls[0] != "reconcile:120" {
		t.Fatalf("first call %s, want reconcile:120 (the whole state)", calls[0])
	}
	// A burst over many agents goes in batches of at most 50, and the five
	// versions of a-007 arrived as one.
	for i := range 120 {
		w.Offer(ds.set(fmt.Sprintf("a-%03d", i), 10))
	}
	eventually(t, "the burst to be applied", func() bool { st, _ := f.snapshot(); return equalState(st, ds.versions()) })
	f.mu.Lock()
	maxSeen := f.maxSeen
	f.mu.Unlock()
	if maxSeen > 120 || maxSeen < 1 {
		t.Fatalf("largest call %d", maxSeen)
	}
	_, calls = f.snapshot()
	for _, c := range calls[1:] {
		var n int
		fmt.Sscanf(c, "set:%d", &n)
		if n > 50 {
			t.Fatalf("a batch of %d, over the bound of 50: %v", n, calls)
		}
	}
	if w.Pending() != 0 {
		t.Fatalf("%d still pending", w.Pending())
	}
}

func TestRetryableAndPermanent(t *testing.T) {
	ds := &desiredState{m: map[string]availability.Desired{}}
	w := newWorker(t, "flaky", ds, NewMetrics(prometheus.NewRegistry()), nil)
	f := newFake()
	var mu sync.Mutex
	tries := map[string]int{}
	f.outcome = func(it sdk.Availability) sdk.Outcome {
		mu.Lock()
		defer mu.Unlock()
		tries[it.AgentID]++
		switch {
		case it.AgentID == "bad":
			return sdk.Permanent
		case it.AgentID == "flaky" && tries["flaky"] < 3:
			return sdk.Retryable
		}
		return sdk.Applied
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Serve(ctx, f)
	w.Offer(ds.set("flaky", 1))
	w.Offer(ds.set("bad", 1))
	w.Offer(ds.set("good", 1))
	eventually(t, "the flaky agent applied after retries", func() bool { return w.Applied()["flaky"] == 1 })
	time.Sleep(50 * time.Millisecond) // a permanent one must not come back
	mu.Lock()
	badTries := tries["bad"]
	mu.Unlock()
	if badTries != 1 {
		t.Fatalf("a permanent failure was tried %d times", badTries)
	}
	if got := testutil.ToFloat64(w.m.deadLetters); got != 1 {
		t.Fatalf("dead letters %g, want 1", got)
	}
	if got := testutil.ToFloat64(w.m.retries); got != 2 {
		t.Fatalf("retries %g, want 2", got)
	}
	if _, ok := w.Applied()["bad"]; ok {
		t.Fatal("a dead letter counts as applied")
	}
}

// TestSlowAdapterDoesNotDelayAnother feeds one producer to two workers:
// one adapter sleeps on every call, the other must get everything anyway.
func TestSlowAdapterDoesNotDelayAnother(t *testing.T) {
	ds := &desiredState{m: map[string]availability.Desired{}}
	m := NewMetrics(prometheus.NewRegistry())
	fastW := newWorker(t, "fast", ds, m, nil)
	slowW := newWorker(t, "slow", ds, m, nil)
	fast, slow := newFake(), newFake()
	slow.delay = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go fastW.Serve(ctx, fast)
	go slowW.Serve(ctx, slow)
	for round := uint64(1); round <= 20; round++ {
		for i := range 500 {
			d := ds.set(fmt.Sprintf("a-%03d", i), round)
			fastW.Offer(d)
			slowW.Offer(d)
		}
	}
	eventually(t, "the fast adapter to hold every change", func() bool { st, _ := fast.snapshot(); return equalState(st, ds.versions()) })
	slowState, _ := slow.snapshot()
	if equalState(slowState, ds.versions()) {
		t.Fatal("the slow adapter is already done: the test proves nothing")
	}
	// The slow one catches up too, with far fewer items than offered: only
	// the newest version of each agent waits.
	eventually(t, "the slow adapter to catch up", func() bool { st, _ := slow.snapshot(); return equalState(st, ds.versions()) })
	if a := testutil.ToFloat64(slowW.m.applied); a >= 20*500 {
		t.Fatalf("the slow adapter applied %g changes: nothing was coalesced", a)
	}
}

// TestRestartReconcilesBeforeChanges kills the adapter under a steady stream
// of changes; the worker launches it again, reconciles, and the adapter's
// state ends equal to the desired state for every agent.
func TestRestartReconcilesBeforeChanges(t *testing.T) {
	ds := &desiredState{m: map[string]availability.Desired{}}
	w := newWorker(t, "crashy", ds, NewMetrics(prometheus.NewRegistry()), nil)
	var mu sync.Mutex
	var instances []*fake
	launch := func(context.Context) (Instance, error) {
		mu.Lock()
		defer mu.Unlock()
		f := newFake() // a fresh process remembers nothing
		instances = append(instances, f)
		return f, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx, launch)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for v := uint64(1); ; v++ {
			select {
			case <-stop:
				return
			default:
			}
			for i := range 200 {
				w.Offer(ds.set(fmt.Sprintf("a-%03d", i), v))
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	eventually(t, "the first instance", func() bool { mu.Lock(); defer mu.Unlock(); return len(instances) == 1 })
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	instances[0].Kill() // kill -9
	mu.Unlock()
	eventually(t, "a second instance", func() bool { mu.Lock(); defer mu.Unlock(); return len(instances) >= 2 })
	time.Sleep(100 * time.Millisecond)
	close(stop)
	<-done
	var last *fake
	mu.Lock()
	last = instances[len(instances)-1]
	mu.Unlock()
	eventually(t, "the restarted adapter to hold the desired state", func() bool { st, _ := last.snapshot(); return equalState(st, ds.versions()) })
	_, calls := last.snapshot()
	if calls[0] != "reconcile:200" {
		t.Fatalf("the restarted adapter's first call was %s, want reconcile:200", calls[0])
	}
	if got := testutil.ToFloat64(w.m.restarts); got < 1 {
		t.Fatalf("restarts %g", got)
	}
}

func TestHandleEvent(t *testing.T) {
	ds := &desiredState{m: map[string]availability.Desired{}}
	w := newWorker(t, "events", ds, NewMetrics(prometheus.NewRegistry()), nil)
	ctx := context.Background()
	req := bus.Event{Kind: bus.KindRequest, Subject: "acdbridge.request.support"}
	if err := w.HandleEvent(ctx, req); err == nil || errors.Is(err, bus.ErrPermanent) {
		t.Fatalf("before the adapter runs: %v, want a retryable error", err)
	}
	f := newFake()
	f.outcome = func(a sdk.Availability) sdk.Outcome {
		switch a.AgentID {
		case "r-later":
			return sdk.Retryable
		case "r-never":
			return sdk.Permanent
		}
		return sdk.Applied
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.Run(cctx, func(context.Context) (Instance, error) { return f, nil })
	eventually(t, "the adapter to run", func() bool { return w.HandleEvent(ctx, bus.Event{Kind: bus.KindRequest}) == nil })
	tests := []struct {
		ev        bus.Event
		permanent bool
		ok        bool
	}{
		{bus.Event{Kind: bus.KindRequest, Request: monitors.Request{ID: "r-1"}}, false, true},
		{bus.Event{Kind: bus.KindRequest, Request: monitors.Request{ID: "r-later"}}, false, false},
		{bus.Event{Kind: bus.KindRequest, Request: monitors.Request{ID: "r-never"}}, true, false},
		{bus.Event{Kind: bus.KindSession}, true, false}, // the adapter has no sessions capability
		{bus.Event{Kind: bus.KindAlert}, true, false},
	}
	for _, tc := range tests {
		err := w.HandleEvent(ctx, tc.ev)
		if (err == nil) != tc.ok || errors.Is(err, bus.ErrPermanent) != tc.permanent {
			t.Errorf("%s %s: %v, want ok=%v permanent=%v", tc.ev.Kind, tc.ev.Request.ID, err, tc.ok, tc.permanent)
		}
	}
}

// TestRetryNeverSendsAnOlderVersion: a retry of v1 that comes due after v2
// was offered is dropped; the adapter's versions never go back.
func TestRetryNeverSendsAnOlderVersion(t *testing.T) {
	ds := &desiredState{m: map[string]availability.Desired{}}
	w := newWorker(t, "order", ds, NewMetrics(prometheus.NewRegistry()), func(o *Options) {
		o.RetryMin, o.RetryMax = 200*time.Millisecond, 10*time.Second // v1 comes due before v2
	})
	f := newFake()
	var mu sync.Mutex
	var seen []uint64
	f.outcome = func(it sdk.Availability) sdk.Outcome {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, it.Version)
		if len(seen) <= 2 {
			return sdk.Retryable // v1, then v2, both fail once
		}
		return sdk.Applied
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Serve(ctx, f)
	eventually(t, "the first reconcile", func() bool { return testutil.ToFloat64(w.m.health) == float64(sdk.Up) })
	w.Offer(ds.set("x", 1))
	eventually(t, "v1 tried", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) >= 1 })
	w.Offer(ds.set("x", 2))
	eventually(t, "v2 applied", func() bool { return w.Applied()["x"] == 2 })
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] {
			t.Fatalf("versions sent %v: went back", seen)
		}
	}
}

func TestResyncReconcilesAgain(t *testing.T) {
	ds := &desiredState{m: map[string]availability.Desired{}}
	ds.set("a-1", 1)
	ds.set("a-2", 1)
	w := newWorker(t, "resync", ds, NewMetrics(prometheus.NewRegistry()), nil)
	f := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Serve(ctx, f)
	eventually(t, "the first reconcile", func() bool { _, calls := f.snapshot(); return len(calls) == 1 })
	w.Resync()
	eventually(t, "a second reconcile", func() bool { _, calls := f.snapshot(); return len(calls) == 2 })
	if _, calls := f.snapshot(); strings.Join(calls, " ") != "reconcile:2 reconcile:2" {
		t.Fatalf("calls %v, want two reconciles of both agents", calls)
	}
}
