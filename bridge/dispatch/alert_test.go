package dispatch

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acdbridge/acdbridge/bridge/availability"
	"github.com/acdbridge/acdbridge/bridge/bus"
	"github.com/acdbridge/acdbridge/monitors"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// alertTaker is an adapter with the alerts capability, served over gRPC in
// the test process.
type alertTaker struct {
	mu  sync.Mutex
	got []sdk.Alert
}

func (a *alertTaker) Info() sdk.Info                                { return sdk.Info{Name: "alerts", Version: "1"} }
func (a *alertTaker) Configure(context.Context, sdk.Settings) error { return nil }
func (a *alertTaker) Health(context.Context) sdk.Health             { return sdk.Health{Status: sdk.Up} }
func (a *alertTaker) HandleAlert(_ context.Context, al sdk.Alert) sdk.Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, al)
	if al.Rule == "refused" {
		return sdk.Result{Outcome: sdk.Permanent, Message: "no"}
	}
	return sdk.Result{Outcome: sdk.Applied}
}

// TestAlertReachesTheAdapter: an alert from the bus reaches an adapter with
// the alerts capability whole (bus JSON → monitors.Alert → sdk.Alert →
// protobuf → sdk.Alert), firing and resolved; a refusal is a dead letter.
func TestAlertReachesTheAdapter(t *testing.T) {
	taker := &alertTaker{}
	conn, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{sdk.PluginName: &sdk.Plugin{Impl: taker}})
	t.Cleanup(func() { conn.Close() })
	raw, err := conn.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	ds := &desiredState{m: map[string]availability.Desired{}}
	w := newWorker(t, "alerts", ds, NewMetrics(prometheus.NewRegistry()), func(o *Options) { o.EventsOnly = true })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx, func(context.Context) (Instance, error) { return grpcInstance{raw.(sdk.Client)}, nil })

	start := time.Date(2026, 3, 2, 9, 14, 5, 0, time.UTC)
	firing := monitors.Alert{Rule: "support_backlog", Queue: "support", Status: monitors.Firing, Severity: "critical",
		Labels: map[string]string{"queue": "support", "team": "a"}, Annotations: map[string]string{"summary": "7 waiting"},
		StartsAt: start, Value: map[string]float64{"waiting": 7}}
	resolved := firing
	resolved.Status, resolved.EndsAt = monitors.Resolved, start.Add(time.Minute)
	event := func(a monitors.Alert) bus.Event {
		data, err := bus.EncodeAlert(a)
		if err != nil {
			t.Fatal(err)
		}
		ev := bus.Event{Subject: bus.AlertSubject(a.Rule), Kind: bus.KindAlert, Data: data}
		ev.Alert, err = bus.DecodeAlert(data)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	eventually(t, "the adapter to run", func() bool { return w.HandleEvent(ctx, event(firing)) == nil })
	if err := w.HandleEvent(ctx, event(resolved)); err != nil {
		t.Fatal(err)
	}
	refused := firing
	refused.Rule = "refused"
	if err := w.HandleEvent(ctx, event(refused)); err == nil || !errors.Is(err, bus.ErrPermanent) {
		t.Errorf("a refused alert: %v, want a permanent error", err)
	}
	taker.mu.Lock()
	defer taker.mu.Unlock()
	want := []sdk.Alert{
		{Rule: "support_backlog", Status: "firing", Severity: "critical", Labels: firing.Labels, Annotations: firing.Annotations, StartsAt: start},
		{Rule: "support_backlog", Status: "resolved", Severity: "critical", Labels: firing.Labels, Annotations: firing.Annotations, StartsAt: start, EndsAt: start.Add(time.Minute)},
	}
	got := taker.got
	if len(got) < len(want) {
		t.Fatalf("got %d alerts: %+v", len(got), got)
	}
	for i, wa := range want {
		g := got[len(got)-3+i] // the first firing may have come more than once while the adapter started
		if g.Rule != wa.Rule || g.Status != wa.Status || g.Severity != wa.Severity || !maps.Equal(g.Labels, wa.Labels) ||
			!maps.Equal(g.Annotations, wa.Annotations) || !g.StartsAt.Equal(wa.StartsAt) || !g.EndsAt.Equal(wa.EndsAt) {
			t.Errorf("alert %d:\n got %+v\nwant %+v", i, g, wa)
		}
	}
}

// TestFiringAlertsReplayedOnStart: a started adapter with the alerts
// capability gets the alerts firing now (not the resolved ones) before any
// event. A restart is a launch like the first (Run's loop).
func TestFiringAlertsReplayedOnStart(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 14, 5, 0, time.UTC)
	firing := []monitors.Alert{
		{Rule: "a", Queue: "q1", Status: monitors.Firing, Severity: "warning", Labels: map[string]string{"queue": "q1"}, StartsAt: start},
		{Rule: "b", Queue: "q2", Status: monitors.Resolved, Severity: "warning", Labels: map[string]string{"queue": "q2"}, StartsAt: start, EndsAt: start},
		{Rule: "c", Status: monitors.Firing, Severity: "info", StartsAt: start},
	}
	ds := &desiredState{m: map[string]availability.Desired{}}
	w := newWorker(t, "alerts", ds, NewMetrics(prometheus.NewRegistry()), func(o *Options) {
		o.EventsOnly = true
		o.Firing = func() []monitors.Alert { return firing }
	})
	var takers []*alertTaker
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx, func(context.Context) (Instance, error) {
		taker := &alertTaker{}
		conn, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{sdk.PluginName: &sdk.Plugin{Impl: taker}})
		raw, err := conn.Dispense(sdk.PluginName)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		takers = append(takers, taker)
		mu.Unlock()
		return grpcInstance{raw.(sdk.Client)}, nil
	})
	ev := bus.Event{Kind: bus.KindAlert, Subject: "acdbridge.alert.c", Alert: monitors.Alert{Rule: "c", Status: monitors.Firing, Severity: "info", StartsAt: start}}
	eventually(t, "the adapter to run", func() bool { return w.HandleEvent(ctx, ev) == nil })
	mu.Lock()
	first := takers[0]
	mu.Unlock()
	first.mu.Lock()
	var got []string
	for _, a := range first.got {
		got = append(got, a.Rule+":"+a.Status)
	}
	first.mu.Unlock()
	if len(got) < 3 || got[0] != "a:firing" || got[len(got)-1] != "c:firing" || slices.Contains(got, "b:resolved") {
		t.Errorf("the adapter got %v: want a:firing first, then the event c:firing, and never the resolved b", got)
	}
}

// A firing alert that waited in the stream and no longer fires (it
// resolved since, or the bridge restarted and its rules decided anew) is
// not handed to the adapter: Alertmanager's adapter would resend it for
// ever, since no resolution of it may ever come. Firing alerts that still
// fire, and resolutions, are handed over.
func TestStaleFiringAlertNotHandedOver(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 14, 5, 0, time.UTC)
	now := []monitors.Alert{{Rule: "a", Queue: "q1", Status: monitors.Firing, Severity: "warning", StartsAt: start.Add(time.Minute)}}
	taker := &alertTaker{}
	conn, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{sdk.PluginName: &sdk.Plugin{Impl: taker}})
	t.Cleanup(func() { conn.Close() })
	raw, err := conn.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	ds := &desiredState{m: map[string]availability.Desired{}}
	w := newWorker(t, "alerts", ds, NewMetrics(prometheus.NewRegistry()), func(o *Options) {
		o.EventsOnly = true
		o.Firing = func() []monitors.Alert { return now }
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx, func(context.Context) (Instance, error) { return grpcInstance{raw.(sdk.Client)}, nil })
	ev := func(a monitors.Alert) bus.Event {
		return bus.Event{Kind: bus.KindAlert, Subject: bus.AlertSubject(a.Rule), Alert: a}
	}
	events := []monitors.Alert{
		{Rule: "a", Queue: "q1", Status: monitors.Firing, StartsAt: start},                                   // an earlier firing of a: stale
		{Rule: "a", Queue: "q1", Status: monitors.Resolved, StartsAt: start, EndsAt: start.Add(time.Second)}, // its resolution: handed over
		{Rule: "a", Queue: "q1", Status: monitors.Firing, StartsAt: start.Add(time.Minute)},                  // fires now: handed over
		{Rule: "a", Queue: "q2", Status: monitors.Firing, StartsAt: start.Add(time.Minute)},                  // another queue: stale
		{Rule: "gone", Queue: "q1", Status: monitors.Firing, StartsAt: start.Add(time.Minute)},               // a rule the bridge no longer has
	}
	eventually(t, "the adapter to run", func() bool { return w.HandleEvent(ctx, ev(events[0])) == nil })
	taker.mu.Lock()
	taker.got = nil // the replay of what fires now
	taker.mu.Unlock()
	for i, a := range events {
		if err := w.HandleEvent(ctx, ev(a)); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	taker.mu.Lock()
	defer taker.mu.Unlock()
	var got []string
	for _, a := range taker.got {
		got = append(got, a.Rule+":"+a.Status+":"+a.StartsAt.Format("15:04:05"))
	}
	if want := []string{"a:resolved:09:14:05", "a:firing:09:15:05"}; !slices.Equal(got, want) {
		t.Errorf("the adapter got %v, want %v", got, want)
	}
}
