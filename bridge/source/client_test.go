package source

import (
	"strings"
	"testing"
	"time"
)

// These tests run the client against the real simulator, in process, on a
// manual clock: the simulator is the peer, and the contract is what both
// sides must agree on.

func TestInitialSnapshotMatchesTheSource(t *testing.T) {
	for _, tc := range []struct {
		name           string
		stream         bool
		agents, queues int
	}{
		{"poll only", false, 30, 6},
		{"with stream", true, 30, 6},
		{"many agents", true, 2000, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newSim(t, simOptions{agents: tc.agents, queues: tc.queues})
			env.step(15 * time.Minute) // agents log in, requests arrive
			wantA, wantQ := env.engine.Agents(), env.engine.Queues()
			cfg := fastConfig(env.url)
			cfg.Stream = tc.stream
			cfg.PollInterval = time.Hour
			r := start(t, cfg)
			waitFor(t, "the first tables", func() bool { return r.pic.count(Queues) >= 1 })

			ups := r.pic.all()
			if ups[0].Kind != Agents || ups[1].Kind != Queues {
				t.Fatalf("first updates are %v, %v; want agents then queues", ups[0].Kind, ups[1].Kind)
			}
			a, q := ups[0], ups[1]
			if len(a.AgentList) != len(wantA.Agents) {
				t.Fatalf("%d agents, want %d", len(a.AgentList), len(wantA.Agents))
			}
			for i, w := range wantA.Agents {
				if d := agentDiff(a.AgentList[i], simAgent(w)); d != "" {
					t.Errorf("agent %d: %s", i, d)
				}
			}
			if len(q.QueueList) != len(wantQ.Queues) {
				t.Fatalf("%d queues, want %d", len(q.QueueList), len(wantQ.Queues))
			}
			for i, w := range wantQ.Queues {
				want := simQueue(w)
				got := q.QueueList[i]
				if d := queueDiff(got, want); d != "" || got.LongestWait != want.LongestWait || !got.AsOf.Equal(wantQ.AsOf) {
					t.Errorf("queue %d: %s; longest wait %s, want %s; as of %s, want %s", i, d, got.LongestWait, want.LongestWait, got.AsOf, wantQ.AsOf)
				}
			}
			if a.Seq != wantA.Sequence || q.Seq != wantQ.Sequence {
				t.Errorf("sequences %d, %d; want %d, %d", a.Seq, q.Seq, wantA.Sequence, wantQ.Sequence)
			}
			if !a.AsOf.Equal(wantA.AsOf) || !q.AsOf.Equal(wantQ.AsOf) {
				t.Errorf("as of %s, %s; want %s", a.AsOf, q.AsOf, wantA.AsOf)
			}
			if !a.Authoritative || !q.Authoritative {
				t.Errorf("the first tables of a Run are not authoritative")
			}
			if a.Received.IsZero() || q.Received.IsZero() {
				t.Errorf("received times not set")
			}
			want := Polling
			if tc.stream {
				want = Streaming
			}
			waitFor(t, "mode "+want.String(), func() bool { return r.c.State().Mode == want })
			if s := r.c.State(); s.LastSuccess.IsZero() || s.LastError != nil {
				t.Errorf("state %+v: want a last success and no error", s)
			}
			if v := metric(t, r.reg, "state"); v != float64(want) {
				t.Errorf("state gauge %v, want %v", v, float64(want))
			}
			if v := metric(t, r.reg, "last_success_timestamp_seconds"); v <= 0 {
				t.Errorf("last_success_timestamp_seconds %v, want a time", v)
			}
		})
	}
}

func TestStreamKeepsThePictureEqualToTheSource(t *testing.T) {
	env := newSim(t, simOptions{agents: 60, queues: 9})
	r := start(t, fastConfig(env.url))
	waitFor(t, "streaming", func() bool { return r.c.State().Mode == Streaming })
	first := r.pic.all()[1].Seq

	var changes int
	for i := 0; i < 12; i++ {
		agents, queues := env.step(10 * time.Minute)
		waitFor(t, "the events up to the truth's sequence", func() bool { return r.pic.seq() >= queues.Sequence })
		if d := r.pic.diff(agents, queues); d != "" {
			t.Fatalf("after step %d the picture differs from the source:\n%s", i, d)
		}
		changes = r.pic.count(AgentChanged)
	}
	if changes == 0 {
		t.Fatal("no agent events in two hours of simulated time: the stream was not followed")
	}
	if r.pic.count(RequestEvent) == 0 || r.pic.count(QueueChanged) == 0 {
		t.Errorf("%d request and %d queue events; want some of each", r.pic.count(RequestEvent), r.pic.count(QueueChanged))
	}
	checkContinuity(t, r.pic.eventSeq, first)
	if n := r.pic.count(Agents); n != 1 {
		t.Errorf("%d agent tables, want 1 (no polls, no resets)", n)
	}
	if v := metric(t, r.reg, "stream_events_total", "event", "agent"); v < float64(changes) {
		t.Errorf("stream_events_total{event=agent} %v, want at least %d", v, changes)
	}
}

// checkContinuity checks that event sequences follow from first without a
// gap or a duplicate.
func checkContinuity(t *testing.T, seqs []uint64, first uint64) {
	t.Helper()
	want := first + 1
	for i, s := range seqs {
		if s != want {
			t.Fatalf("event %d has sequence %d, want %d (a gap or a duplicate)", i, s, want)
		}
		want++
	}
}

func TestStreamResumesWithoutGapsOrDuplicates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(env *simEnv)
		once func(env *simEnv)
	}{
		{
			name: "stream_drop_rate fault",
			once: func(env *simEnv) { env.faults(map[string]any{"stream_drop_rate": 0.2}) },
		},
		{
			name: "connections closed under the client",
			cut:  func(env *simEnv) { env.hs.CloseClientConnections() },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newSim(t, simOptions{agents: 60, queues: 9})
			cfg := fastConfig(env.url)
			cfg.PollInterval = time.Hour // no fallback polls: every change comes from the stream
			r := start(t, cfg)
			waitFor(t, "streaming", func() bool { return r.c.State().Mode == Streaming })
			first := r.pic.all()[1].Seq
			if tc.once != nil {
				tc.once(env)
			}
			var agents, queues = env.engine.Agents(), env.engine.Queues()
			for i := 0; i < 15; i++ {
				if tc.cut != nil {
					tc.cut(env)
				}
				agents, queues = env.step(10 * time.Minute)
				if tc.cut != nil {
					waitFor(t, "the events of the step", func() bool { return r.pic.seq() >= queues.Sequence })
				}
			}
			waitFor(t, "the events up to the truth's sequence", func() bool { return r.pic.seq() >= queues.Sequence })
			if d := r.pic.diff(agents, queues); d != "" {
				t.Fatalf("the picture differs from the source:\n%s", d)
			}
			checkContinuity(t, r.pic.eventSeq, first)
			if v := metric(t, r.reg, "stream_reconnects_total"); v < 1 {
				t.Fatalf("stream_reconnects_total %v: the stream was never cut, the test proves nothing", v)
			}
			for _, u := range r.pic.all()[2:] {
				if u.Authoritative {
					t.Fatalf("an authoritative %v at %d: the client lost its resume point", u.Kind, u.Seq)
				}
			}
		})
	}
}

func TestResetReplacesTheTablesWhenTheResumePointIsGone(t *testing.T) {
	env := newSim(t, simOptions{agents: 60, queues: 9, buffer: 16})
	cfg := fastConfig(env.url)
	cfg.PollInterval = time.Hour
	r := start(t, cfg)
	waitFor(t, "streaming", func() bool { return r.c.State().Mode == Streaming })

	env.blockStream.Store(true)
	env.hs.CloseClientConnections()
	waitFor(t, "the stream to be down", func() bool { return r.c.State().Mode != Streaming })
	agents, queues := env.step(24 * time.Hour) // far more than the 16 events kept
	if queues.Sequence < r.pic.seq()+100 {
		t.Fatalf("only %d events while the stream was down; the test needs the ring overrun", queues.Sequence-r.pic.seq())
	}
	env.blockStream.Store(false)

	waitFor(t, "an authoritative table at the truth's sequence", func() bool {
		for _, u := range r.pic.all()[2:] {
			if u.Kind == Queues && u.Authoritative && u.Seq == queues.Sequence {
				return true
			}
		}
		return false
	})
	ups := r.pic.all()
	var sawAgents bool
	for _, u := range ups[2:] {
		if u.Kind == Agents && u.Authoritative && u.Seq == agents.Sequence && u.AsOf.Equal(agents.AsOf) {
			sawAgents = true
		}
	}
	if !sawAgents {
		t.Errorf("no authoritative agent table at sequence %d before the queue table", agents.Sequence)
	}
	if d := r.pic.diff(agents, queues); d != "" {
		t.Fatalf("after the reset the picture differs from the source:\n%s", d)
	}
	if v := metric(t, r.reg, "stream_events_total", "event", "reset"); v < 1 {
		t.Errorf("stream_events_total{event=reset} %v, want 1 or more", v)
	}
	// And the stream carries on from the reset.
	agents, queues = env.step(10 * time.Minute)
	waitFor(t, "events after the reset", func() bool { return r.pic.seq() >= queues.Sequence })
	if d := r.pic.diff(agents, queues); d != "" {
		t.Fatalf("after the reset and more events the picture differs from the source:\n%s", d)
	}
}

func TestPollsWhileTheStreamFails(t *testing.T) {
	env := newSim(t, simOptions{})
	env.blockStream.Store(true)
	cfg := fastConfig(env.url)
	cfg.PollInterval = 10 * time.Millisecond
	r := start(t, cfg)

	waitFor(t, "three polls", func() bool { return r.pic.count(Agents) >= 3 })
	if m := r.c.State().Mode; m != Polling {
		t.Errorf("mode %v while the stream fails, want polling", m)
	}
	if v := metric(t, r.reg, "requests_total", "endpoint", "stream", "code", "503"); v < 1 {
		t.Errorf("requests_total{stream,503} %v: the stream was never tried", v)
	}
	for _, u := range r.pic.all()[2:] {
		if u.Authoritative {
			t.Errorf("a poll table is authoritative though the sequence did not go backwards")
		}
	}
	agents, queues := env.step(30 * time.Minute)
	waitFor(t, "a poll after the step", func() bool { return r.pic.seq() >= queues.Sequence })
	if d := r.pic.diff(agents, queues); d != "" {
		t.Fatalf("polls did not bring the picture up to the source:\n%s", d)
	}
	if n := r.pic.count(AgentChanged); n != 0 {
		t.Errorf("%d agent events while the stream was blocked", n)
	}

	env.blockStream.Store(false)
	waitFor(t, "streaming again", func() bool { return r.c.State().Mode == Streaming })
	agents, queues = env.step(30 * time.Minute)
	// Polls may still run until the stream delivers, and an event a table
	// already holds is not passed on; so count what the stream brought.
	waitFor(t, "agent events from the stream", func() bool {
		v, _ := metricValue(r.reg, "stream_events_total", "event", "agent")
		return v > 0
	})
	waitFor(t, "the truth's sequence", func() bool { return r.pic.seq() >= queues.Sequence })
	if d := r.pic.diff(agents, queues); d != "" {
		t.Fatalf("after the stream came back the picture differs from the source:\n%s", d)
	}
}

func TestReconcilePollsWhileStreaming(t *testing.T) {
	// Heartbeats: a stream counts as back once it delivers something.
	env := newSim(t, simOptions{heartbeat: 5 * time.Millisecond})
	cfg := fastConfig(env.url)
	cfg.ReconcileInterval = 20 * time.Millisecond
	cfg.PollInterval = time.Hour
	r := start(t, cfg)
	waitFor(t, "streaming", func() bool { return r.c.State().Mode == Streaming })
	before := r.pic.count(Agents)
	waitFor(t, "two reconcile polls", func() bool { return r.pic.count(Agents) >= before+2 })
	if m := r.c.State().Mode; m != Streaming {
		t.Errorf("mode %v during reconcile polls, want streaming", m)
	}
	for _, u := range r.pic.all()[2:] {
		if (u.Kind == Agents || u.Kind == Queues) && u.Authoritative {
			t.Errorf("a reconcile table at %d is authoritative though the sequence did not go backwards", u.Seq)
		}
	}
	// Events and reconcile tables interleave; the picture still ends equal.
	for i := 0; i < 5; i++ {
		agents, queues := env.step(10 * time.Minute)
		waitFor(t, "the truth's sequence", func() bool { return r.pic.seq() >= queues.Sequence })
		if d := r.pic.diff(agents, queues); d != "" {
			t.Fatalf("step %d: the picture differs from the source:\n%s", i, d)
		}
	}
	if r.pic.count(AgentChanged) == 0 {
		t.Errorf("no agent events: the stream was not followed between reconcile polls")
	}
}

func TestUnauthorized(t *testing.T) {
	env := newSim(t, simOptions{})
	cfg := fastConfig(env.url)
	cfg.Token = "wrong-token-4711"
	r := start(t, cfg)
	waitFor(t, "two refused polls", func() bool {
		v, _ := metricValue(r.reg, "requests_total", "endpoint", "agents", "code", "401")
		return v >= 2
	})
	r.stop()
	if n := len(r.pic.all()); n != 0 {
		t.Errorf("%d updates with a wrong token, want none", n)
	}
	s := r.c.State()
	if s.Mode != Down || s.LastError == nil || !strings.Contains(s.LastError.Error(), "check source.token") {
		t.Errorf("state %+v: want down with an error that says to check source.token", s)
	}
	log := r.log.String()
	if !strings.Contains(log, "the source rejected the token (401): check source.token") {
		t.Errorf("the log does not say the token was rejected:\n%s", log)
	}
	if strings.Contains(log, cfg.Token) || strings.Contains(log, testToken) {
		t.Errorf("the log shows a token:\n%s", log)
	}
	if n := countLines(log, "rejected the token"); n > 1 {
		t.Errorf("the 401 is logged %d times in well under 10 s, want once:\n%s", n, log)
	}
}

func TestFaultsBackOffAndRecover(t *testing.T) {
	for _, tc := range []struct {
		name    string
		faults  map[string]any
		timeout time.Duration
		failed  func(r *running) bool
	}{
		{
			name:   "503",
			faults: map[string]any{"error_rate": 1.0},
			failed: func(r *running) bool {
				v, _ := metricValue(r.reg, "requests_total", "endpoint", "agents", "code", "503")
				return v >= 3
			},
		},
		{
			name:    "latency beyond the timeout",
			faults:  map[string]any{"latency_ms": 2000},
			timeout: 50 * time.Millisecond,
			failed: func(r *running) bool {
				v, _ := metricValue(r.reg, "requests_total", "endpoint", "agents", "code", "error")
				return v >= 2
			},
		},
		{
			name:   "truncated JSON behind a 200",
			faults: map[string]any{"malformed_rate": 1.0},
			failed: func(r *running) bool {
				v, _ := metricValue(r.reg, "bad_payloads_total", "kind", KindMalformedJSON)
				return v >= 2
			},
		},
		{
			name:   "error body behind a 200",
			faults: map[string]any{"error_body_rate": 1.0},
			failed: func(r *running) bool {
				v, _ := metricValue(r.reg, "bad_payloads_total", "kind", KindErrorBody)
				return v >= 2
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newSim(t, simOptions{})
			env.faults(tc.faults)
			cfg := fastConfig(env.url)
			if tc.timeout > 0 {
				cfg.Timeout = tc.timeout
			}
			r := start(t, cfg)
			waitFor(t, "failures", func() bool { return tc.failed(r) })
			if n := len(r.pic.all()); n != 0 {
				t.Fatalf("%d updates while every call fails, want none", n)
			}
			if s := r.c.State(); s.Mode != Down || s.LastError == nil {
				t.Errorf("state %+v while every call fails, want down with an error", s)
			}
			env.faults(map[string]any{"error_rate": 0, "latency_ms": 0, "malformed_rate": 0, "error_body_rate": 0})
			waitFor(t, "recovery", func() bool { return r.c.State().Mode == Streaming })
			agents, queues := env.step(20 * time.Minute)
			waitFor(t, "the truth's sequence", func() bool { return r.pic.seq() >= queues.Sequence })
			if d := r.pic.diff(agents, queues); d != "" {
				t.Fatalf("after recovery the picture differs from the source:\n%s", d)
			}
		})
	}
}

func TestStreamIdleTimeoutReconnects(t *testing.T) {
	env := newSim(t, simOptions{}) // no heartbeats: the stream goes silent
	cfg := fastConfig(env.url)
	cfg.StreamIdleTimeout = 30 * time.Millisecond
	cfg.PollInterval = time.Hour
	r := start(t, cfg)
	waitFor(t, "reconnects after silence", func() bool {
		v, _ := metricValue(r.reg, "stream_reconnects_total")
		return v >= 2
	})
	waitFor(t, "the idle timeout in the state", func() bool {
		err := r.c.State().LastError
		return err != nil && strings.Contains(err.Error(), "StreamIdleTimeout")
	})
	// Reconnecting from the resume point loses nothing.
	agents, queues := env.step(10 * time.Minute)
	waitFor(t, "the truth's sequence", func() bool { return r.pic.seq() >= queues.Sequence })
	if d := r.pic.diff(agents, queues); d != "" {
		t.Fatalf("the picture differs from the source:\n%s", d)
	}
}

func TestHeartbeats(t *testing.T) {
	env := newSim(t, simOptions{heartbeat: 5 * time.Millisecond})
	agents, _ := env.step(5 * time.Minute)
	r := start(t, fastConfig(env.url))
	waitFor(t, "two heartbeats", func() bool { return r.pic.count(Heartbeat) >= 2 })
	for _, u := range r.pic.all() {
		if u.Kind != Heartbeat {
			continue
		}
		if u.Seq != agents.Sequence || !u.AsOf.Equal(agents.AsOf) || u.Received.IsZero() {
			t.Errorf("heartbeat %+v, want sequence %d as of %s", u, agents.Sequence, agents.AsOf)
		}
	}
	if v := metric(t, r.reg, "stream_events_total", "event", "heartbeat"); v < 2 {
		t.Errorf("stream_events_total{event=heartbeat} %v, want 2 or more", v)
	}
}

func countLines(log, s string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}
