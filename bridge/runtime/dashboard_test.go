package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tmaxmax/go-sse"

	"github.com/acdbridge/acdbridge/bridge/api"
	"github.com/acdbridge/acdbridge/bridge/config"
)

// The dashboard's stream, fed by the running bridge: a browser that
// applies the snapshot and then every change ends with the simulator's
// agents as they are, each applied by the adapter, after the simulator
// moved on several times.
func TestDashboardStreamFollowsTheSource(t *testing.T) {
	r := newRig(t, 200, 6, 1<<16, func(c *config.Config) {
		c.Adapters = []config.Adapter{{Type: "log", Name: "console", Settings: []byte(`{}`)}}
	})
	r.converge(fresh(r))
	hs := httptest.NewServer(r.bridge.stream)
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	type event struct{ name, data string }
	events := make(chan event, 64)
	go func() {
		defer close(events)
		for ev, err := range sse.Read(resp.Body, &sse.ReadConfig{MaxEventSize: 64 << 20}) {
			if err != nil {
				return
			}
			events <- event{ev.Type, ev.Data}
		}
	}()
	next := func() event {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			return ev
		case <-time.After(30 * time.Second): // a hang guard
			t.Fatal("no event from the stream")
		}
		panic("unreachable")
	}
	// What the browser has: each agent's row, with what the adapter
	// confirmed.
	rows := map[string]api.AgentRow{}
	seen := map[string]string{} // agent → status/availability, once the adapter applied it
	key := func(a api.AgentRow) string {
		if a.Availability == nil {
			return a.Status + "/-"
		}
		k := fmt.Sprintf("%s/%v/%s/%s", a.Status, a.Availability.Available, a.Availability.State, a.Availability.Reason)
		if a.Adapters["console"] != a.Availability.Version {
			k += fmt.Sprintf(" (console has v%d of v%d)", a.Adapters["console"], a.Availability.Version)
		}
		return k
	}
	set := func(a api.AgentRow) { rows[a.ID] = a; seen[a.ID] = key(a) }
	ev := next()
	var snap struct {
		Agents []api.AgentRow `json:"agents"`
		Queues []api.QueueRow `json:"queues"`
	}
	if ev.name != "snapshot" || json.Unmarshal([]byte(ev.data), &snap) != nil || len(snap.Agents) != 200 || len(snap.Queues) != 6 {
		t.Fatalf("first event %s: %d agents, %d queues", ev.name, len(snap.Agents), len(snap.Queues))
	}
	for _, a := range snap.Agents {
		set(a)
	}
	if n := gauge(t, r, "acdbridge_dashboard_streams"); n != 1 {
		t.Fatalf("acdbridge_dashboard_streams %v with one browser", n)
	}
	for step := range 3 {
		allowed := fresh(r)
		r.step(2*time.Minute, allowed)
		r.converge(allowed)
		truth := map[string]string{}
		for _, a := range r.engine.Agents().Agents {
			truth[a.ID] = a.Status + "/" + r.key(a)
		}
		differs := func() int {
			n := 0
			for id, want := range truth {
				if seen[id] != want {
					n++
				}
			}
			return n + len(seen) - len(truth)
		}
		changes, applied := 0, 0
		for differs() > 0 {
			ev := next()
			var ch struct {
				Agents  []api.AgentRow               `json:"agents"`
				Removed []string                     `json:"removed"`
				Applied map[string]map[string]uint64 `json:"applied"`
			}
			if ev.name != "agents" && ev.name != "applied" {
				continue
			}
			if err := json.Unmarshal([]byte(ev.data), &ch); err != nil {
				t.Fatal(err)
			}
			for _, a := range ch.Agents {
				set(a)
			}
			for _, id := range ch.Removed {
				delete(rows, id)
				delete(seen, id)
			}
			for id, v := range ch.Applied {
				a := rows[id]
				a.Adapters = v
				set(a)
				applied++
			}
			changes++
		}
		if changes == 0 {
			t.Fatalf("step %d: the simulator changed nothing the stream had to send", step)
		}
		// Whether a confirmation came in the agent's row or on its own
		// depends on when the adapter answered; either way it came.
		t.Logf("step %d: %d events, %d confirmations on their own", step, changes, applied)
	}
}

func gauge(t *testing.T, r *rig, name string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
