package monitors

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func ag(id string, st Status, sessions int) Agent {
	return Agent{ID: id, Name: "N " + id, Status: st, Queues: []string{"support"}, ActiveSessions: sessions, MaxSessions: 2, StatusSince: t0}
}

func kinds(evs []AgentEvent) string {
	s := ""
	for _, e := range evs {
		id := e.New.ID
		if e.Kind == Removed {
			id = e.Old.ID
		}
		s += fmt.Sprintf("%s:%s ", e.Kind, id)
	}
	return s
}

func TestAgentMonitorSequences(t *testing.T) {
	tests := []struct {
		name  string
		steps func(m *AgentMonitor) []AgentEvent
		want  string            // events of the last step
		final map[string]Status // the whole table afterwards
	}{
		{"first snapshot adds all", func(m *AgentMonitor) []AgentEvent {
			return m.Snapshot([]Agent{ag("a", Available, 0), ag("b", Away, 0)}, 10, false)
		}, "added:a added:b ", map[string]Status{"a": Available, "b": Away}},
		{"same snapshot again is quiet", func(m *AgentMonitor) []AgentEvent {
			m.Snapshot([]Agent{ag("a", Available, 0)}, 10, false)
			return m.Snapshot([]Agent{ag("a", Available, 0)}, 11, false)
		}, "", map[string]Status{"a": Available}},
		{"stream change", func(m *AgentMonitor) []AgentEvent {
			m.Snapshot([]Agent{ag("a", Available, 0)}, 10, false)
			e, ok := m.Change(ag("a", InSession, 1), 11)
			if !ok {
				return nil
			}
			return []AgentEvent{e}
		}, "changed:a ", map[string]Status{"a": InSession}},
		{"older stream event is ignored", func(m *AgentMonitor) []AgentEvent {
			m.Snapshot([]Agent{ag("a", Available, 0)}, 10, false)
			m.Change(ag("a", InSession, 1), 12)
			if e, ok := m.Change(ag("a", Away, 0), 11); ok {
				return []AgentEvent{e}
			}
			return nil
		}, "", map[string]Status{"a": InSession}},
		{"snapshot older than a stream event keeps the newer row", func(m *AgentMonitor) []AgentEvent {
			m.Snapshot([]Agent{ag("a", Available, 0), ag("b", Available, 0)}, 10, false)
			m.Change(ag("a", InSession, 1), 15)
			m.Change(ag("c", Available, 0), 16)
			return m.Snapshot([]Agent{ag("a", Available, 0), ag("b", Away, 0)}, 14, false)
		}, "changed:b ", map[string]Status{"a": InSession, "b": Away, "c": Available}},
		{"snapshot removes missing rows", func(m *AgentMonitor) []AgentEvent {
			m.Snapshot([]Agent{ag("a", Available, 0), ag("b", Available, 0)}, 10, false)
			return m.Snapshot([]Agent{ag("b", Available, 0)}, 11, false)
		}, "removed:a ", map[string]Status{"b": Available}},
		{"authoritative snapshot replaces newer rows (source restarted)", func(m *AgentMonitor) []AgentEvent {
			m.Snapshot([]Agent{ag("a", Available, 0), ag("b", Available, 0)}, 500, false)
			m.Change(ag("a", InSession, 1), 501)
			return m.Snapshot([]Agent{ag("a", Away, 0)}, 3, true)
		}, "changed:a removed:b ", map[string]Status{"a": Away}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewAgentMonitor(time.Minute)
			if got := kinds(tc.steps(m)); got != tc.want {
				t.Fatalf("events %q, want %q", got, tc.want)
			}
			all := m.All()
			if len(all) != len(tc.final) {
				t.Fatalf("table has %d rows, want %d", len(all), len(tc.final))
			}
			for _, a := range all {
				if tc.final[a.ID] != a.Status {
					t.Fatalf("agent %s is %s, want %s", a.ID, a.Status, tc.final[a.ID])
				}
			}
		})
	}
}

func TestDiffAgents(t *testing.T) {
	old := []Agent{ag("a", Available, 0), ag("b", Available, 0), ag("c", Away, 0)}
	changedQueues := ag("c", Away, 0)
	changedQueues.Queues = []string{"sales"}
	new := []Agent{ag("d", Offline, 0), ag("a", Available, 0), changedQueues}
	if got, want := kinds(DiffAgents(old, new)), "added:d changed:c removed:b "; got != want {
		t.Fatalf("diff %q, want %q", got, want)
	}
	if got := DiffAgents(new, new); len(got) != 0 {
		t.Fatalf("diff of a snapshot with itself: %v", got)
	}
}

func TestAgentsEqualSeesEveryField(t *testing.T) {
	base := ag("a", Available, 0)
	mods := map[string]func(*Agent){
		"name":     func(a *Agent) { a.Name = "x" },
		"email":    func(a *Agent) { a.Email = "x" },
		"status":   func(a *Agent) { a.Status = Away },
		"sessions": func(a *Agent) { a.ActiveSessions = 1 },
		"max":      func(a *Agent) { a.MaxSessions = 9 },
		"since":    func(a *Agent) { a.StatusSince = t0.Add(time.Second) },
		"queues":   func(a *Agent) { a.Queues = []string{"support", "sales"} },
	}
	for name, mod := range mods {
		b := base
		b.Queues = append([]string(nil), base.Queues...)
		mod(&b)
		if AgentsEqual(base, b) {
			t.Errorf("a change of %s is not seen", name)
		}
	}
	if !AgentsEqual(base, base) {
		t.Error("an agent differs from itself")
	}
}

func TestFreshness(t *testing.T) {
	f := Freshness{After: 30 * time.Second}
	if stale, _ := f.Check(t0); !stale {
		t.Fatal("fresh before any data arrived")
	}
	if !f.Touch(t0) {
		t.Fatal("first data did not end the stale period")
	}
	steps := []struct {
		at           time.Duration
		stale, event bool
	}{
		{10 * time.Second, false, false},
		{30 * time.Second, false, false},
		{31 * time.Second, true, true},
		{40 * time.Second, true, false},
	}
	for _, s := range steps {
		stale, changed := f.Check(t0.Add(s.at))
		if stale != s.stale || changed != s.event {
			t.Fatalf("at %s: stale %v changed %v, want %v %v", s.at, stale, changed, s.stale, s.event)
		}
	}
	if !f.Touch(t0.Add(41*time.Second)) || f.Stale() {
		t.Fatal("fresh data did not end staleness")
	}
}

func TestQueueFigures(t *testing.T) {
	am := NewAgentMonitor(time.Minute)
	sales := ag("s1", Available, 0)
	sales.Queues = []string{"sales"}
	both := ag("b1", InSession, 1)
	both.Queues = []string{"support", "sales"}
	am.Snapshot([]Agent{ag("a1", Available, 0), ag("a2", Away, 0), ag("a3", Offline, 0), sales, both}, 1, false)
	qm := NewQueueMonitor(time.Minute)
	qm.Snapshot([]Queue{
		{ID: "support", Waiting: 2, OldestRequestAt: t0, AgentsLoggedIn: 99, AsOf: t0},
		{ID: "sales", Waiting: 1, LongestWait: 5 * time.Second, AsOf: t0},
		{ID: "empty"},
	}, 1, false)
	got := qm.Figures(am, t0.Add(time.Minute))
	want := []Figures{
		{Queue: "empty"},
		{Queue: "sales", Waiting: 1, LongestWait: 65 * time.Second, AgentsLoggedIn: 2, AgentsAvailable: 1},
		{Queue: "support", Waiting: 2, LongestWait: time.Minute, AgentsLoggedIn: 3, AgentsAvailable: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("figures\n got %v\nwant %v", got, want)
	}
	if b := Busiest(got, 2); b[0].Queue != "support" || b[1].Queue != "sales" || len(b) != 2 {
		t.Fatalf("busiest: %v", b)
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range Statuses {
		if got, err := ParseStatus(string(s)); err != nil || got != s {
			t.Errorf("ParseStatus(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "busy", "Available", "in-session"} {
		if _, err := ParseStatus(s); err == nil {
			t.Errorf("ParseStatus(%q) accepted", s)
		}
	}
}

func snapshot100k(gen int) []Agent {
	out := make([]Agent, 100_000)
	for i := range out {
		st := Statuses[(i+gen*(i%7))%4]
		out[i] = Agent{ID: fmt.Sprintf("a-%06d", i), Name: "Agent", Status: st, Queues: []string{"q"}, MaxSessions: 1, StatusSince: t0}
	}
	return out
}

// BenchmarkDiff100k is the diff of two 100,000-agent snapshots in which
// about 6 in 7 agents changed.
func BenchmarkDiff100k(b *testing.B) {
	old, new := snapshot100k(0), snapshot100k(1)
	b.ReportAllocs()
	b.ResetTimer()
	var n int
	for range b.N {
		n = len(DiffAgents(old, new))
	}
	b.ReportMetric(float64(n), "events")
}

// BenchmarkSnapshotApply100k applies a 100,000-agent snapshot to a monitor
// holding the previous one: the reconcile poll's work.
func BenchmarkSnapshotApply100k(b *testing.B) {
	snaps := [2][]Agent{snapshot100k(0), snapshot100k(1)}
	m := NewAgentMonitor(time.Minute)
	m.Snapshot(snaps[0], 1, false)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.Snapshot(snaps[(i+1)%2], uint64(i+2), false)
	}
}

// TestDiffPathsAgree checks the merge of sorted snapshots against the map
// path, over random snapshots, and both against applying the events.
func TestDiffPathsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var old, new []Agent
		for i := range 40 {
			id := fmt.Sprintf("a-%03d", i)
			if rng.IntN(4) > 0 {
				old = append(old, ag(id, Statuses[rng.IntN(4)], 0))
			}
			if rng.IntN(4) > 0 {
				new = append(new, ag(id, Statuses[rng.IntN(4)], 0))
			}
		}
		sorted := DiffAgents(old, new)
		// Reversing new forces the map path; the events are the same set.
		rev := slices.Clone(new)
		slices.Reverse(rev)
		mapped := DiffAgents(old, rev)
		key := func(evs []AgentEvent) []string {
			var out []string
			for _, e := range evs {
				out = append(out, fmt.Sprintf("%s %s %s %s", e.Kind, e.Old.ID, e.New.ID, e.New.Status))
			}
			slices.Sort(out)
			return out
		}
		if !slices.Equal(key(sorted), key(mapped)) {
			t.Fatalf("round %d: merge %v, map %v", round, key(sorted), key(mapped))
		}
		// Applying the events to old gives new.
		m := map[string]Agent{}
		for _, a := range old {
			m[a.ID] = a
		}
		for _, e := range sorted {
			switch e.Kind {
			case Removed:
				delete(m, e.Old.ID)
			default:
				m[e.New.ID] = e.New
			}
		}
		if len(m) != len(new) {
			t.Fatalf("round %d: %d agents after applying, want %d", round, len(m), len(new))
		}
		for _, a := range new {
			if !AgentsEqual(m[a.ID], a) {
				t.Fatalf("round %d: agent %s differs after applying", round, a.ID)
			}
		}
	}
}
