package availability

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/monitors"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func agent(st monitors.Status, sessions int) monitors.Agent {
	return monitors.Agent{ID: "a-1", Status: st, ActiveSessions: sessions, MaxSessions: 2}
}

// TestDefaultRulesWholeTable checks every status with and without sessions.
func TestDefaultRulesWholeTable(t *testing.T) {
	r := DefaultRules()
	tests := []struct {
		st        monitors.Status
		sessions  int
		available bool
		state     monitors.Status
	}{
		{monitors.Available, 0, true, monitors.Available},
		{monitors.Available, 1, false, monitors.InSession}, // a session open, whatever the status says
		{monitors.InSession, 0, false, monitors.InSession},
		{monitors.InSession, 2, false, monitors.InSession},
		{monitors.Away, 0, false, monitors.Away},
		{monitors.Away, 1, false, monitors.InSession}, // a session outranks away
		{monitors.Offline, 0, false, monitors.Offline},
		{monitors.Offline, 1, false, monitors.Offline}, // offline outranks all
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d", tc.st, tc.sessions), func(t *testing.T) {
			got := r.Decide(agent(tc.st, tc.sessions))
			if got.Available != tc.available || got.State != tc.state {
				t.Fatalf("got %+v, want available=%v state=%s", got, tc.available, tc.state)
			}
			if want := map[bool]string{true: "", false: DefaultReason}[tc.available]; got.Reason != want {
				t.Fatalf("reason %q, want %q", got.Reason, want)
			}
		})
	}
}

func TestCustomRules(t *testing.T) {
	// Only sessions make an agent unavailable; away agents stay available
	// (some centers let the ACD handle breaks itself).
	r, err := NewRules([]monitors.Status{monitors.InSession}, "rs", map[monitors.Status]string{monitors.InSession: "in a remote session"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for st, want := range map[monitors.Status]bool{monitors.Available: true, monitors.Away: true, monitors.Offline: true, monitors.InSession: false} {
		if got := r.Decide(agent(st, 0)); got.Available != want {
			t.Errorf("%s: available %v, want %v", st, got.Available, want)
		}
	}
	if got := r.Decide(agent(monitors.InSession, 1)); got.Reason != "in a remote session" {
		t.Errorf("reason %q", got.Reason)
	}
}

func TestNewRulesErrors(t *testing.T) {
	tests := []struct {
		name    string
		states  []monitors.Status
		reason  string
		per     map[monitors.Status]string
		dwell   time.Duration
		wantErr string
	}{
		{"unknown state", []monitors.Status{"busy"}, "r", nil, 0, `unknown agent status "busy"`},
		{"available", []monitors.Status{monitors.Available}, "r", nil, 0, `cannot hold "available"`},
		{"long reason", nil, strings.Repeat("x", 80), nil, 0, "at most 79"},
		{"long per-state reason", nil, "r", map[monitors.Status]string{monitors.Away: strings.Repeat("x", 80)}, 0, "reason for away is 80 characters"},
		{"unknown per-state", nil, "r", map[monitors.Status]string{"lunch": "x"}, 0, `unknown agent status "lunch"`},
		{"negative dwell", nil, "r", nil, -time.Second, "min_dwell -1s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRules(tc.states, tc.reason, tc.per, tc.dwell)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestEngineVersionsGrow(t *testing.T) {
	e := NewEngine(DefaultRules(), nil)
	steps := []struct {
		st       monitors.Status
		sessions int
		changed  bool
		version  uint64
	}{
		{monitors.Available, 0, true, 1},
		{monitors.Available, 0, false, 1},
		{monitors.InSession, 1, true, 2},
		{monitors.InSession, 2, false, 2}, // a second session changes nothing
		{monitors.Away, 0, true, 3},       // unavailable still, but the state and so the story changed
		{monitors.Available, 0, true, 4},
	}
	for i, s := range steps {
		d, changed := e.Apply(agent(s.st, s.sessions), t0.Add(time.Duration(i)*time.Second))
		if changed != s.changed || d.Version != s.version {
			t.Fatalf("step %d: changed %v version %d, want %v %d", i, changed, d.Version, s.changed, s.version)
		}
	}
	// After a restart, versions continue from what the bus kept.
	e2 := NewEngine(DefaultRules(), e.All())
	d, changed := e2.Apply(agent(monitors.Offline, 0), t0.Add(time.Minute))
	if !changed || d.Version != 5 {
		t.Fatalf("after restart: changed %v version %d, want true 5", changed, d.Version)
	}
}

func TestEngineDwell(t *testing.T) {
	r := DefaultRules()
	r.MinDwell = 10 * time.Second
	e := NewEngine(r, nil)
	e.Apply(agent(monitors.Available, 0), t0)
	// A session that comes and goes within the dwell time: held, then the
	// last word wins, and since it equals the current one nothing is sent.
	if _, changed := e.Apply(agent(monitors.InSession, 1), t0.Add(2*time.Second)); changed {
		t.Fatal("a change within the dwell time went through")
	}
	if _, changed := e.Apply(agent(monitors.Available, 0), t0.Add(3*time.Second)); changed {
		t.Fatal("a return within the dwell time went through")
	}
	if due := e.Due(t0.Add(20 * time.Second)); len(due) != 0 {
		t.Fatalf("flap released: %+v", due)
	}
	// A change that lasts is released when the dwell time is over.
	e.Apply(agent(monitors.InSession, 1), t0.Add(4*time.Second))
	if due := e.Due(t0.Add(9 * time.Second)); len(due) != 0 {
		t.Fatalf("released before the dwell time: %+v", due)
	}
	due := e.Due(t0.Add(10 * time.Second))
	if len(due) != 1 || due[0].Available || due[0].Version != 2 || !due[0].Since.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("released %+v, want one unavailable at version 2 since t0+10s", due)
	}
	// Past the dwell time a change goes through at once.
	if d, changed := e.Apply(agent(monitors.Available, 0), t0.Add(30*time.Second)); !changed || d.Version != 3 {
		t.Fatalf("change after the dwell: %v %+v", changed, d)
	}
}

func TestWithPrecedence(t *testing.T) {
	r, err := DefaultRules().WithPrecedence([]monitors.Status{monitors.Offline, monitors.Away, monitors.InSession, monitors.Available})
	if err != nil {
		t.Fatal(err)
	}
	// Away now outranks an open session.
	if got := r.Decide(agent(monitors.Away, 1)); got.State != monitors.Away || got.Available {
		t.Fatalf("away with a session: %+v, want away", got)
	}
	if got := r.Decide(agent(monitors.InSession, 1)); got.State != monitors.InSession {
		t.Fatalf("in a session: %+v", got)
	}
	for _, bad := range [][]monitors.Status{
		{monitors.Offline, monitors.Away, monitors.InSession},
		{monitors.Offline, monitors.Away, monitors.Away, monitors.Available},
		{monitors.Offline, monitors.Away, monitors.InSession, "lunch"},
	} {
		if _, err := DefaultRules().WithPrecedence(bad); err == nil {
			t.Errorf("precedence %v accepted", bad)
		}
	}
}
