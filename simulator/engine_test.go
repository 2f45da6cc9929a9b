package simulator

import (
	"fmt"
	"testing"
	"time"
)

// steadyScenario has every agent on duty for the whole test, no breaks, and
// no arrivals of its own: the test posts every request.
func steadyScenario(agents int, queues ...QueueSpec) Scenario {
	sc := baseScenario()
	sc.Shifts = ShiftModel{Length: 1000 * time.Hour}
	sc.Queues = queues
	ids := []string{}
	for _, q := range queues {
		ids = append(ids, q.ID)
	}
	sc.Agents = []AgentGroup{{Name: "all", Count: agents, Queues: ids[:1], MaxSessions: 1}}
	return sc
}

func TestRoutingLongestIdleFirst(t *testing.T) {
	sc := steadyScenario(3, QueueSpec{ID: "support", Name: "Support"})
	sc.Sessions.MedianDuration, sc.Sessions.P90Duration = time.Minute, time.Minute+time.Second
	sc.Customers.PatienceMedian = 100 * time.Hour // nobody gives up here
	env := newTestEnv(t, sc)
	e := env.engine
	// All three went idle at the start; ties go by agent order.
	var got []string
	for i := range 3 {
		env.clock.Add(time.Second)
		r, err := e.CreateRequest(NewRequest{Queue: "support", Name: fmt.Sprint("c", i)})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.AgentID)
	}
	if want := []string{"a-0001", "a-0002", "a-0003"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("agents taken: got %v, want %v", got, want)
	}
	// Everyone is busy: the next two wait, oldest first.
	env.clock.Add(time.Second)
	r4, _ := e.CreateRequest(NewRequest{Queue: "support"})
	env.clock.Add(time.Second)
	r5, _ := e.CreateRequest(NewRequest{Queue: "support"})
	if r4.Status != RequestWaiting || r5.Status != RequestWaiting {
		t.Fatalf("statuses: got %s and %s, want both waiting", r4.Status, r5.Status)
	}
	qs := e.Queues().Queues[0]
	if qs.Waiting != 2 || qs.AgentsAvailable != 0 || qs.AgentsLoggedIn != 3 {
		t.Fatalf("queue figures: %+v", qs)
	}
	if qs.OldestRequestAt == nil || !qs.OldestRequestAt.Equal(r4.CreatedAt) || qs.LongestWaitSeconds != 1 {
		t.Fatalf("oldest request: %+v, want created at %s and 1 s waiting", qs, r4.CreatedAt)
	}
	// The first session to end takes the oldest waiting request.
	e.mu.Lock()
	first := e.timers[0]
	for _, tm := range e.timers {
		if tm.kind == tSessionEnd && (first.kind != tSessionEnd || tm.at < first.at) {
			first = tm
		}
	}
	e.mu.Unlock()
	env.clock.Add(time.Duration(first.at - env.clock.Now().UnixNano()))
	got4, _ := e.Request(r4.ID)
	if got4.Status != RequestInSession || got4.AgentID != first.sess.agent.id {
		t.Fatalf("after %s's session ended: request %s is %s with %q, want in_session with %s", first.sess.agent.id, r4.ID, got4.Status, got4.AgentID, first.sess.agent.id)
	}
	got5, _ := e.Request(r5.ID)
	if got5.Status != RequestWaiting {
		t.Fatalf("request %s: got %s, want still waiting", r5.ID, got5.Status)
	}
}

func TestLongestIdleAfterWork(t *testing.T) {
	sc := steadyScenario(2, QueueSpec{ID: "support"})
	sc.Sessions.MedianDuration, sc.Sessions.P90Duration = time.Minute, time.Minute+time.Second
	env := newTestEnv(t, sc)
	e := env.engine
	// a-0001 takes a session and finishes it; a-0002 has been idle longer
	// and must get the next request.
	r, _ := e.CreateRequest(NewRequest{Queue: "support"})
	if r.AgentID != "a-0001" {
		t.Fatalf("first request went to %s, want a-0001", r.AgentID)
	}
	env.clock.Add(2 * time.Hour)
	if got, _ := e.Request(r.ID); got.Status != RequestCompleted {
		t.Fatalf("request %s: %s, want completed", r.ID, got.Status)
	}
	r2, _ := e.CreateRequest(NewRequest{Queue: "support"})
	if r2.AgentID != "a-0002" {
		t.Fatalf("second request went to %s, want the longer idle a-0002", r2.AgentID)
	}
}

func TestRoutingRulesAndRequiredFields(t *testing.T) {
	sc := steadyScenario(1,
		QueueSpec{ID: "support", Routes: []Route{{Field: "product", Equals: "printer", To: "support/printers"}}},
		QueueSpec{ID: "support/printers", RequiredFields: []string{"serial_number"}},
	)
	env := newTestEnv(t, sc)
	e := env.engine
	tests := []struct {
		name      string
		in        NewRequest
		wantQueue string
		wantFrom  string
		wantField string
	}{
		{"stays", NewRequest{Queue: "support", Fields: map[string]string{"product": "scanner"}}, "support", "", ""},
		{"routed", NewRequest{Queue: "support", Fields: map[string]string{"product": "printer", "serial_number": "SN1"}}, "support/printers", "support", ""},
		{"routed, required missing", NewRequest{Queue: "support", Fields: map[string]string{"product": "printer"}}, "", "", "fields.serial_number"},
		{"sub-queue named", NewRequest{Queue: "support/printers", Fields: map[string]string{"serial_number": "SN2"}}, "support/printers", "", ""},
		{"sub-queue, required blank", NewRequest{Queue: "support/printers", Fields: map[string]string{"serial_number": " "}}, "", "", "fields.serial_number"},
		{"unknown queue", NewRequest{Queue: "nope"}, "", "", "queue"},
		{"no queue", NewRequest{}, "", "", "queue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := e.CreateRequest(tc.in)
			if tc.wantField != "" {
				ae, ok := err.(*APIError)
				if !ok || ae.Status != 400 || ae.Field != tc.wantField {
					t.Fatalf("got %v, want a 400 naming %s", err, tc.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Queue != tc.wantQueue || r.RoutedFrom != tc.wantFrom {
				t.Fatalf("queue %q from %q, want %q from %q", r.Queue, r.RoutedFrom, tc.wantQueue, tc.wantFrom)
			}
		})
	}
}

func TestAbandonment(t *testing.T) {
	sc := steadyScenario(1, QueueSpec{ID: "support"}, QueueSpec{ID: "empty"})
	env := newTestEnv(t, sc)
	e := env.engine
	r, err := e.CreateRequest(NewRequest{Queue: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != RequestWaiting {
		t.Fatalf("status %s, want waiting: nobody serves the queue", r.Status)
	}
	env.clock.Add(5 * time.Hour) // patience is capped at 4 h
	got, _ := e.Request(r.ID)
	if got.Status != RequestAbandoned || got.AbandonedAt == nil {
		t.Fatalf("after 5 h: %+v, want abandoned", got)
	}
	for _, q := range e.Queues().Queues {
		if q.ID == "empty" && (q.Waiting != 0 || q.OldestRequestAt != nil) {
			t.Fatalf("queue after abandonment: %+v", q)
		}
	}
}

// TestInvariants runs the default scenario for two simulated days and checks
// the whole state against its own bookkeeping every simulated minute.
func TestInvariants(t *testing.T) {
	sc := DefaultScenario(60, 9)
	sc.Utilization = 1.1 // overload, so that queues build up and customers give up
	env := newTestEnv(t, sc)
	e := env.engine
	statuses := map[string]int{}
	for step := 0; step < 2*24*60; step++ {
		env.clock.Add(time.Minute)
		e.mu.Lock()
		e.advance()
		checkInvariants(t, e, statuses)
		e.mu.Unlock()
		if t.Failed() {
			t.Fatalf("at step %d", step)
		}
	}
	for _, s := range []string{StatusAvailable, StatusInSession, StatusAway, StatusOffline} {
		if statuses[s] == 0 {
			t.Errorf("no agent was ever %s in two days: %v", s, statuses)
		}
	}
	if len(e.ended) < 1000 {
		t.Errorf("only %d sessions in two days", len(e.ended))
	}
}

func checkInvariants(t *testing.T, e *Engine, statuses map[string]int) {
	t.Helper()
	waiting := map[*queue]int{}
	for _, r := range e.requests {
		if r.status == RequestWaiting {
			waiting[r.queue]++
		}
	}
	for _, q := range e.queues {
		var in, avail int
		for _, a := range e.agents {
			for _, aq := range a.queues {
				if aq == q {
					in += b2i(a.status != StatusOffline)
					avail += b2i(a.status == StatusAvailable)
				}
			}
		}
		if q.nWaiting != waiting[q] || q.loggedIn != in || q.available != avail {
			t.Errorf("queue %s: waiting %d (counted %d), logged in %d (%d), available %d (%d)", q.id, q.nWaiting, waiting[q], q.loggedIn, in, q.available, avail)
		}
		for i, a := range q.cand.items {
			if a.refs[a.slotOf(q)].pos != int32(i) || !a.routable() {
				t.Errorf("queue %s: candidate heap entry %d (%s) is stale", q.id, i, a.id)
			}
			if i > 0 && agentBefore(a, q.cand.items[(i-1)/2]) {
				t.Errorf("queue %s: candidate heap out of order at %d", q.id, i)
			}
		}
	}
	for _, a := range e.agents {
		statuses[a.status]++
		if a.status != a.derivedStatus() {
			t.Errorf("agent %s: status %s, flags say %s", a.id, a.status, a.derivedStatus())
		}
		if a.active < 0 || a.active > a.max {
			t.Errorf("agent %s: %d sessions, max %d", a.id, a.active, a.max)
		}
		if (a.status == StatusAway || a.status == StatusOffline) && a.active != 0 {
			t.Errorf("agent %s is %s with %d sessions", a.id, a.status, a.active)
		}
		// Work conservation: nobody who can take work idles while a
		// customer waits in one of their queues.
		if a.routable() {
			for _, q := range a.queues {
				if q.oldest() != nil {
					t.Errorf("agent %s can take work while %d wait in %s", a.id, q.nWaiting, q.id)
				}
			}
		}
		for i, ref := range a.refs {
			if (ref.pos >= 0) != a.routable() || ref.q != a.queues[i] {
				t.Errorf("agent %s: heap membership in %s is %v, routable %v", a.id, ref.q.id, ref.pos >= 0, a.routable())
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestBreaksWaitForSessionsToEnd(t *testing.T) {
	sc := DefaultScenario(30, 3)
	sc.Shifts.BreakEvery = 20 * time.Minute
	sc.Shifts.Off = 30 * time.Minute
	sc.Shifts.Length = 2 * time.Hour
	env := newTestEnv(t, sc)
	e := env.engine
	var after uint64
	seen := map[string]int{}
	for step := 0; step < 24*6; step++ {
		env.clock.Add(10 * time.Minute)
		e.Agents() // advance
		evs, ok, _ := e.stream.read(nil, after, 1<<30)
		if !ok {
			t.Fatalf("ring lost events at step %d", step)
		}
		for _, ev := range evs {
			if ev.seq != after+1 {
				t.Fatalf("sequence jumps from %d to %d", after, ev.seq)
			}
			after = ev.seq
			if ev.name != evAgent {
				continue
			}
			a := ev.data.(AgentJSON)
			seen[a.Status]++
			if (a.Status == StatusAway || a.Status == StatusOffline) && a.ActiveSessions != 0 {
				t.Fatalf("event %d: agent %s went %s with %d sessions", ev.seq, a.ID, a.Status, a.ActiveSessions)
			}
			if (a.Status == StatusInSession) != (a.ActiveSessions > 0) {
				t.Fatalf("event %d: agent %s is %s with %d sessions", ev.seq, a.ID, a.Status, a.ActiveSessions)
			}
		}
	}
	if seen[StatusAway] == 0 || seen[StatusOffline] == 0 || seen[StatusInSession] == 0 {
		t.Fatalf("statuses seen in a day: %v; want away, offline and in_session", seen)
	}
}

func TestProfileShapesArrivals(t *testing.T) {
	night := make([]float64, 24)
	for h := 9; h < 17; h++ {
		night[h] = 1
	}
	sc := steadyScenario(50, QueueSpec{ID: "support", RatePerMinute: 2, Profile: night})
	env := newTestEnv(t, sc) // starts at 09:00
	e := env.engine
	env.clock.Add(8 * time.Hour)
	e.Agents()
	day := e.reqOrd
	env.clock.Add(16 * time.Hour)
	e.Agents()
	if nightly := e.reqOrd - day; nightly != 0 {
		t.Fatalf("%d requests arrived at night with a profile of zeros", nightly)
	}
	// 2 a minute for 8 hours: 960 expected; Poisson sd about 31.
	if day < 800 || day > 1120 {
		t.Fatalf("%d requests in the 8 profile hours, want about 960", day)
	}
}

func TestStartsInFullSwing(t *testing.T) {
	for _, busy := range []float64{0, 0.6, 1} {
		sc := DefaultScenario(400, 6)
		sc.StartBusy = busy
		e, err := NewEngine(sc, NewManualClock(testStart), 1024)
		if err != nil {
			t.Fatal(err)
		}
		on, inSession := 0, 0
		for _, a := range e.Agents().Agents {
			if a.Status != StatusOffline {
				on++
			}
			if a.Status == StatusInSession {
				inSession++
			}
		}
		// Binomial: 400 agents, 2/3 on duty; allow four standard deviations.
		want := busy * float64(on)
		if d := float64(inSession) - want; d*d > 16*want*(1-busy)+1 {
			t.Errorf("start_busy %g: %d of %d on-duty agents in a session, want about %.0f", busy, inSession, on, want)
		}
	}
}
