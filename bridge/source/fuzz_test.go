package source

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/monitors"
)

// The fuzz targets check, for any input, that a decoder never panics, that
// a failure is a *PayloadError of a known kind, that what it accepts keeps
// the checks' promises, and that what it accepts survives a round trip
// through the wire shape unchanged. Seeds: f.Add below, and the files in
// testdata/fuzz/<target>/ (bodies captured from the simulator and crafted
// bad ones). Run one with: go test -run '^$' -fuzz '^FuzzDecodeEvent$' -fuzztime 20s ./bridge/source/

func FuzzDecodeAgents(f *testing.F) {
	f.Add([]byte(agentsBody(5, goodAgentRows...)))
	f.Add([]byte(agentsBody(5, agentJSON("", "away", 0))))
	f.Add([]byte(agentsBody(5, agentJSON("a", "busy", -1))))
	f.Add([]byte(`{"sequence":1,"as_of":"2026-11-02T10:00:00+01:00","agents":[]}`))
	f.Add([]byte(`{"error":{"code":"internal","message":"x"}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := decodeAgents(body)
		if err != nil {
			checkPayloadError(t, err)
			return
		}
		checkAgents(t, s.agents)
		checkUTC(t, s.asOf)
		again, err := decodeAgents(mustJSON(t, map[string]any{"sequence": s.seq, "as_of": s.asOf, "agents": wireAgents(s.agents)}))
		if err != nil {
			t.Fatalf("a re-encoded snapshot is rejected: %v", err)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip changed the snapshot:\n%+v\n%+v", s, again)
		}
	})
}

func FuzzDecodeQueues(f *testing.F) {
	f.Add([]byte(queuesBody(5, queueJSON("support", 2), queueJSON("support/printers", 0))))
	f.Add([]byte(queuesBody(5, queueJSON("", 2))))
	f.Add([]byte(`{"sequence":5,"as_of":"2026-11-02T09:00:00Z","queues":[{"id":"q","parent":"p","waiting":1,"longest_wait_seconds":0.001,"oldest_request_at":"2026-11-02T08:59:59.999Z"}]}`))
	f.Add([]byte(`{"sequence":5,"as_of":"2026-11-02T09:00:00Z","queues":[{"id":"q","longest_wait_seconds":315360000}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := decodeQueues(body)
		if err != nil {
			checkPayloadError(t, err)
			return
		}
		checkQueues(t, s.queues, s.asOf)
		checkUTC(t, s.asOf)
		again, err := decodeQueues(mustJSON(t, map[string]any{"sequence": s.seq, "as_of": s.asOf, "queues": wireQueues(s.queues)}))
		if err != nil {
			t.Fatalf("a re-encoded snapshot is rejected: %v", err)
		}
		if !queuesEqual(again.queues, s.queues) || again.seq != s.seq || !again.asOf.Equal(s.asOf) {
			t.Fatalf("round trip changed the snapshot:\n%+v\n%+v", s, again)
		}
	})
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add("agent", agentJSON("a-1", "in_session", 1))
	f.Add("queue", queueJSON("support", 3))
	f.Add("request", `{"id":"r-1","queue":"support","status":"waiting","created_at":"2026-11-02T09:00:00Z","fields":{"serial":"X1"}}`)
	f.Add("session_ended", `{"id":"s-1","request_id":"r-1","agent_id":"a-1","queue":"support","started_at":"2026-11-02T09:00:00Z","ended_at":"2026-11-02T09:05:00Z","duration_seconds":300}`)
	f.Add("reset", `{"sequence":9,"as_of":"2026-11-02T09:00:00Z","reason":"r","agents":[`+agentJSON("a", "away", 0)+`],"queues":[`+queueJSON("q", 0)+`]}`)
	f.Add("heartbeat", `{"sequence":41,"as_of":"2026-11-02T09:00:00Z"}`)
	f.Add("dropped", `{"reason":"too slow"}`)
	f.Add("agent", `{"id":"a","status":"away","active_sessions":-1}`)
	f.Add("mystery", `{}`)
	f.Fuzz(func(t *testing.T, name, data string) {
		ev, err := decodeEvent(name, data)
		if err != nil {
			checkPayloadError(t, err)
			return
		}
		var wire any
		switch ev.name {
		case evAgent:
			checkAgents(t, []monitors.Agent{ev.agent})
			wire = wireAgents([]monitors.Agent{ev.agent})[0]
		case evQueue:
			checkQueues(t, []monitors.Queue{ev.queue}, time.Time{})
			wire = wireQueues([]monitors.Queue{ev.queue})[0]
		case evRequest:
			r := ev.request
			if r.ID == "" || r.Queue == "" || !knownRequestStatus(r.Status) {
				t.Fatalf("accepted a request without id, queue or known status: %+v", r)
			}
			checkUTC(t, r.CreatedAt)
			wire = map[string]any{"id": r.ID, "queue": r.Queue, "status": r.Status, "created_at": r.CreatedAt, "name": r.Name,
				"email": r.Email, "problem": r.Problem, "fields": r.Fields, "external_ref": r.ExternalRef, "agent_id": r.AgentID, "session_id": r.SessionID}
		case evSessionEnded:
			s := ev.session
			if s.ID == "" || s.AgentID == "" || s.Queue == "" || s.DurationSeconds < 0 {
				t.Fatalf("accepted a bad session: %+v", s)
			}
			checkUTC(t, s.StartedAt, s.EndedAt)
			wire = map[string]any{"id": s.ID, "request_id": s.RequestID, "agent_id": s.AgentID, "queue": s.Queue, "external_ref": s.ExternalRef,
				"started_at": s.StartedAt, "ended_at": s.EndedAt, "duration_seconds": s.DurationSeconds}
		case evReset:
			checkAgents(t, ev.agents)
			checkQueues(t, ev.queues, ev.asOf)
			checkUTC(t, ev.asOf)
			wire = map[string]any{"sequence": ev.seq, "as_of": ev.asOf, "reason": ev.reason, "agents": wireAgents(ev.agents), "queues": wireQueues(ev.queues)}
		case evHeartbeat:
			checkUTC(t, ev.asOf)
			wire = map[string]any{"sequence": ev.seq, "as_of": ev.asOf}
		case evDropped:
			if ev.reason == "" {
				t.Fatalf("a dropped event without a reason")
			}
			return
		case evUnknown:
			switch name {
			case evAgent, evQueue, evRequest, evSessionEnded, evReset, evHeartbeat, evDropped:
				t.Fatalf("a known event %q decoded as unknown", name)
			}
			return
		default:
			t.Fatalf("event name %q", ev.name)
		}
		if ev.name != name {
			t.Fatalf("event %q decoded as %q", name, ev.name)
		}
		again, err := decodeEvent(name, string(mustJSON(t, wire)))
		if err != nil {
			t.Fatalf("a re-encoded %s event is rejected: %v", name, err)
		}
		if ev.name == evQueue || ev.name == evReset {
			if !queuesEqual(again.queues, ev.queues) || !queuesEqual([]monitors.Queue{again.queue}, []monitors.Queue{ev.queue}) {
				t.Fatalf("round trip changed the queues:\n%+v\n%+v", ev, again)
			}
			again.queues, ev.queues, again.queue, ev.queue = nil, nil, monitors.Queue{}, monitors.Queue{}
		}
		if !reflect.DeepEqual(again, ev) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, again)
		}
	})
}

func checkPayloadError(t *testing.T, err error) {
	t.Helper()
	var pe *PayloadError
	if !errors.As(err, &pe) || !slices.Contains(badKinds(), pe.Kind) || pe.Err == nil || pe.Error() == "" {
		t.Fatalf("error %v (%T) is not a PayloadError of a known kind", err, err)
	}
}

func checkUTC(t *testing.T, ts ...time.Time) {
	t.Helper()
	for _, x := range ts {
		if x.Location() != time.UTC {
			t.Fatalf("time %s is not in UTC", x)
		}
	}
}

func checkAgents(t *testing.T, agents []monitors.Agent) {
	t.Helper()
	seen := map[string]bool{}
	for _, a := range agents {
		if a.ID == "" || seen[a.ID] {
			t.Fatalf("accepted an empty or repeated agent id %q", a.ID)
		}
		seen[a.ID] = true
		if _, err := monitors.ParseStatus(string(a.Status)); err != nil {
			t.Fatalf("accepted agent %q with status %q", a.ID, a.Status)
		}
		if a.ActiveSessions < 0 || a.MaxSessions < 0 {
			t.Fatalf("accepted agent %q with negative counts", a.ID)
		}
		checkUTC(t, a.StatusSince)
	}
}

func checkQueues(t *testing.T, queues []monitors.Queue, asOf time.Time) {
	t.Helper()
	seen := map[string]bool{}
	for _, q := range queues {
		if q.ID == "" || seen[q.ID] {
			t.Fatalf("accepted an empty or repeated queue id %q", q.ID)
		}
		seen[q.ID] = true
		if q.Waiting < 0 || q.AgentsLoggedIn < 0 || q.AgentsAvailable < 0 || q.LongestWait < 0 {
			t.Fatalf("accepted queue %q with a negative figure: %+v", q.ID, q)
		}
		if !q.AsOf.Equal(asOf) {
			t.Fatalf("queue %q as of %s, want %s", q.ID, q.AsOf, asOf)
		}
		checkUTC(t, q.OldestRequestAt)
		_ = q.LongestWaitAt(asOf.Add(time.Hour)) // must not panic
	}
}

// queuesEqual compares queues exactly, but the longest wait within the
// float64 precision its seconds travel in.
func queuesEqual(a, b []monitors.Queue) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		d := x.LongestWait - y.LongestWait
		if d < 0 {
			d = -d
		}
		if d > 1+x.LongestWait/1e9 {
			return false
		}
		x.LongestWait, y.LongestWait = 0, 0
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// wireAgents and wireQueues write monitors values back in the wire shape.
func wireAgents(agents []monitors.Agent) []map[string]any {
	out := make([]map[string]any, len(agents))
	for i, a := range agents {
		out[i] = map[string]any{"id": a.ID, "name": a.Name, "email": a.Email, "status": a.Status, "queues": a.Queues,
			"active_sessions": a.ActiveSessions, "max_sessions": a.MaxSessions, "status_since": a.StatusSince}
	}
	return out
}

func wireQueues(queues []monitors.Queue) []map[string]any {
	out := make([]map[string]any, len(queues))
	for i, q := range queues {
		m := map[string]any{"id": q.ID, "name": q.Name, "parent": nil, "waiting": q.Waiting, "longest_wait_seconds": q.LongestWait.Seconds(),
			"oldest_request_at": nil, "agents_logged_in": q.AgentsLoggedIn, "agents_available": q.AgentsAvailable}
		if q.Parent != "" {
			m["parent"] = q.Parent
		}
		if !q.OldestRequestAt.IsZero() {
			m["oldest_request_at"] = q.OldestRequestAt
		}
		out[i] = m
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %+v: %v", v, err)
	}
	return b
}
