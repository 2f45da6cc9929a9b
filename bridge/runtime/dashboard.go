package runtime

import (
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acdbridge/acdbridge/bridge/api"
	"github.com/acdbridge/acdbridge/monitors"
)

// dashboard feeds the dashboard's stream (api.Stream): flush touches the
// agents whose row changed, and each window the stream asks for their rows
// and for the agents an adapter confirmed since the last window.
type dashboard struct {
	b *Bridge

	mu       sync.Mutex
	applied  map[string]map[string]uint64 // per adapter, as of the last DashboardApplied; nil before the first
	appliers map[string]bool              // the adapters that take availability; set before the API starts
}

// appliesAvailability notes an adapter with the availability capability:
// the others (tickets, alerts) have no applied state to show.
func (d *dashboard) appliesAvailability(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.appliers == nil {
		d.appliers = map[string]bool{}
	}
	d.appliers[name] = true
}

var _ api.DashboardSource = (*dashboard)(nil)

// touch notes the agents whose row changed in what flush takes; b.mu is
// held. Agents and availabilities are the two things in a row that change
// under the runtime's lock; what adapters confirm is found by
// DashboardApplied.
func (d *dashboard) touch(out outbox) {
	if d == nil || d.b.stream == nil || (len(out.agents) == 0 && len(out.avail) == 0) {
		return
	}
	ids := make([]string, 0, len(out.agents)+len(out.avail))
	for id := range out.agents {
		ids = append(ids, id)
	}
	for id := range out.avail {
		ids = append(ids, id)
	}
	d.b.stream.Touch(ids...)
}

// appliedNow is the confirmed versions now of each adapter that takes
// availability.
func (b *Bridge) appliedNow() map[string]map[string]uint64 {
	b.dash.mu.Lock()
	appliers := b.dash.appliers
	b.dash.mu.Unlock()
	applied := make(map[string]map[string]uint64, len(b.workers))
	for _, w := range b.workers {
		if name := w.Status().Name; appliers[name] {
			applied[name] = w.Applied()
		}
	}
	return applied
}

// agentRowLocked is one agent's row; b.mu is held.
func (b *Bridge) agentRowLocked(a monitors.Agent, applied map[string]map[string]uint64) api.AgentRow {
	v := api.AgentRow{ID: a.ID, Name: a.Name, Status: string(a.Status), ActiveSessions: a.ActiveSessions, Queues: a.Queues,
		StatusSince: a.StatusSince, Adapters: make(map[string]uint64, len(applied))}
	if v.Queues == nil {
		v.Queues = []string{}
	}
	if b.avail != nil {
		if d, ok := b.avail.Get(a.ID); ok {
			v.Availability = &api.AvailabilityRow{Available: d.Available, State: string(d.State), Reason: d.Reason, Version: d.Version, Since: d.Since}
		}
	}
	for name, m := range applied {
		v.Adapters[name] = m[a.ID]
	}
	return v
}

// DashboardAgents is the rows of ids (every agent when ids is nil).
func (d *dashboard) DashboardAgents(ids []string) ([]api.AgentRow, []string) {
	b := d.b
	var applied map[string]map[string]uint64
	if ids == nil {
		applied = b.appliedNow()
	} else {
		// The copies DashboardApplied took for this window: a later
		// confirmation shows up in the next window's diff.
		d.mu.Lock()
		applied = d.applied
		d.mu.Unlock()
		if applied == nil {
			applied = b.appliedNow()
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if ids == nil {
		all := b.agents.All()
		rows := make([]api.AgentRow, 0, len(all))
		for _, a := range all {
			rows = append(rows, b.agentRowLocked(a, applied))
		}
		return rows, nil
	}
	var rows []api.AgentRow
	var removed []string
	for _, id := range ids {
		if a, ok := b.agents.Get(id); ok {
			rows = append(rows, b.agentRowLocked(a, applied))
		} else {
			removed = append(removed, id)
		}
	}
	return rows, removed
}

// DashboardApplied is, for the agents whose confirmed version changed at
// some adapter since the previous call, their versions at every adapter
// that takes availability.
func (d *dashboard) DashboardApplied() map[string]map[string]uint64 {
	now := d.b.appliedNow()
	d.mu.Lock()
	defer d.mu.Unlock()
	prev := d.applied
	d.applied = now
	if prev == nil {
		return nil
	}
	changed := map[string]bool{}
	for name, cur := range now {
		old := prev[name]
		for id, v := range cur {
			if old[id] != v {
				changed[id] = true
			}
		}
		for id := range old {
			if _, ok := cur[id]; !ok {
				changed[id] = true // a restarted adapter starts from nothing confirmed
			}
		}
	}
	out := make(map[string]map[string]uint64, len(changed))
	for id := range changed {
		m := make(map[string]uint64, len(now))
		for name, cur := range now {
			m[name] = cur[id]
		}
		out[id] = m
	}
	return out
}

// DashboardTables is the queues' figures (the longest wait in whole
// seconds, so that a queue's row changes once a second at most), the
// adapters, the rules with their alerts, and the source's staleness.
func (d *dashboard) DashboardTables() api.DashboardTables {
	b := d.b
	figs := b.QueueFigures()
	states := b.QueueAlertStates()
	qs := make([]api.QueueRow, 0, len(figs))
	for _, f := range figs {
		qs = append(qs, api.QueueRow{ID: f.Queue, Waiting: f.Waiting, LongestWaitSeconds: math.Floor(f.LongestWait.Seconds()),
			AgentsLoggedIn: f.AgentsLoggedIn, AgentsAvailable: f.AgentsAvailable, RuleState: string(states[f.Queue])})
	}
	return api.DashboardTables{Queues: qs, Adapters: b.adapterViews(), Rules: b.Rules(), Stale: b.Stale()}
}

// registerDashboardMetrics adds the stream's gauges: browsers connected,
// and browsers dropped for falling behind.
func registerDashboardMetrics(reg prometheus.Registerer, s *api.Stream) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "acdbridge", Name: "dashboard_streams",
			Help: "Dashboard streams open (GET /api/v1/stream)."}, func() float64 { return float64(s.Clients()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "acdbridge", Name: "dashboard_streams_dropped_total",
			Help: "Dashboard streams closed because the browser fell behind."}, func() float64 { return float64(s.Dropped()) }),
	)
}

// dashboardWindow is how long agent changes are coalesced for the
// dashboard.
const dashboardWindow = 250 * time.Millisecond
