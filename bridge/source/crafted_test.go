package source

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acdbridge/acdbridge/monitors"
)

// These tests run the client against a server of their own that serves
// crafted bodies: the payloads the simulator would never send.

// answer is one crafted HTTP answer.
type answer struct {
	status     int    // 0: 200
	ct         string // "": application/json; "-": no Content-Type at all
	body       string
	retryAfter string
}

func (a answer) write(w http.ResponseWriter) {
	switch a.ct {
	case "":
		w.Header().Set("Content-Type", "application/json")
	case "-":
		w.Header()["Content-Type"] = nil // and no sniffing either
	default:
		w.Header().Set("Content-Type", a.ct)
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	status := a.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	fmt.Fprint(w, a.body)
}

// crafted is a Remote Support API stand-in whose answers the test sets.
type crafted struct {
	t  *testing.T
	hs *httptest.Server

	mu           sync.Mutex
	agents       []answer // served in turn; the last one repeats
	queues       []answer
	agentGets    int
	queueGets    int
	stream       func(w http.ResponseWriter, r *http.Request, n int) // n counts connections from 0
	streamGets   int
	lastEventIDs []string
}

func newCrafted(t *testing.T) *crafted {
	c := &crafted{t: t}
	c.hs = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.hs.Close)
	return c
}

func (c *crafted) set(agents, queues []answer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.agents, c.queues, c.agentGets, c.queueGets = agents, queues, 0, 0
}

func (c *crafted) gets() (agents, queues, stream int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agentGets, c.queueGets, c.streamGets
}

func (c *crafted) resumeIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lastEventIDs...)
}

func pick(as []answer, n int) answer {
	if n >= len(as) {
		n = len(as) - 1
	}
	return as[n]
}

func (c *crafted) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		answer{status: http.StatusUnauthorized, body: `{"error":{"code":"unauthenticated","message":"no"}}`}.write(w)
		return
	}
	c.mu.Lock()
	switch r.URL.Path {
	case pathAgents:
		a := pick(c.agents, c.agentGets)
		c.agentGets++
		c.mu.Unlock()
		a.write(w)
	case pathQueues:
		a := pick(c.queues, c.queueGets)
		c.queueGets++
		c.mu.Unlock()
		a.write(w)
	case pathStream:
		n := c.streamGets
		c.streamGets++
		c.lastEventIDs = append(c.lastEventIDs, r.Header.Get("Last-Event-ID"))
		stream := c.stream
		c.mu.Unlock()
		if stream == nil {
			answer{status: http.StatusNotFound, body: `{"error":{"code":"not_found","message":"no stream here"}}`}.write(w)
			return
		}
		stream(w, r, n)
	default:
		c.mu.Unlock()
		http.NotFound(w, r)
	}
}

// sseScript serves events, then holds the stream open until the client
// goes (hold) or closes it.
func sseScript(hold bool, events ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "retry: 2000\n\n")
		for _, e := range events {
			fmt.Fprint(w, e)
		}
		w.(http.Flusher).Flush()
		if hold {
			<-r.Context().Done()
		}
	}
}

func sseEvent(id, name, data string) string {
	var b strings.Builder
	if id != "" {
		b.WriteString("id: " + id + "\n")
	}
	b.WriteString("event: " + name + "\ndata: " + data + "\n\n")
	return b.String()
}

const asOf = `"2026-11-02T09:00:00Z"`

func agentJSON(id, status string, active int) string {
	return fmt.Sprintf(`{"id":%q,"name":"Agent %s","email":"%s@example.com","status":%q,"queues":["support"],"active_sessions":%d,"max_sessions":2,"status_since":"2026-11-02T08:00:00Z"}`,
		id, id, id, status, active)
}

func queueJSON(id string, waiting int) string {
	return fmt.Sprintf(`{"id":%q,"name":"Queue %s","parent":null,"waiting":%d,"longest_wait_seconds":%d,"oldest_request_at":null,"agents_logged_in":1,"agents_available":1}`,
		id, id, waiting, waiting*10)
}

func agentsBody(seq int, rows ...string) string {
	return fmt.Sprintf(`{"sequence":%d,"as_of":%s,"agents":[%s]}`, seq, asOf, strings.Join(rows, ","))
}

func queuesBody(seq int, rows ...string) string {
	return fmt.Sprintf(`{"sequence":%d,"as_of":%s,"queues":[%s]}`, seq, asOf, strings.Join(rows, ","))
}

var goodAgentRows = []string{agentJSON("a-1", "available", 0), agentJSON("a-2", "in_session", 1)}

func goodAgents(seq int) answer { return answer{body: agentsBody(seq, goodAgentRows...)} }
func goodQueues(seq int) answer { return answer{body: queuesBody(seq, queueJSON("support", 2))} }
func one(a answer) []answer     { return []answer{a} }
func otherKinds(k string) []string {
	var out []string
	for _, kind := range badKinds() {
		if kind != k {
			out = append(out, kind)
		}
	}
	return out
}

func TestBadSnapshotsAreCountedAndNotPassedOn(t *testing.T) {
	const errorBody = `{"error":{"code":"internal","message":"injected"}}`
	for _, tc := range []struct {
		name           string
		agents, queues answer
		kind           string
	}{
		{"malformed JSON", answer{body: `{"sequence":5,"as_of":` + asOf + `,"agents":[{"id":"a-1"`}, goodQueues(5), KindMalformedJSON},
		{"empty body", answer{body: ""}, goodQueues(5), KindMalformedJSON},
		{"not JSON at all", answer{body: "<html>oops</html>"}, goodQueues(5), KindMalformedJSON},
		{"unknown status", answer{body: agentsBody(5, agentJSON("a-1", "busy", 0))}, goodQueues(5), KindUnknownStatus},
		{"missing status", answer{body: agentsBody(5, `{"id":"a-1","name":"x"}`)}, goodQueues(5), KindUnknownStatus},
		{"missing agent id", answer{body: agentsBody(5, agentJSON("", "available", 0))}, goodQueues(5), KindMissingID},
		{"one bad row among good ones", answer{body: agentsBody(5, append(goodAgentRows[:2:2], agentJSON("", "away", 0))...)}, goodQueues(5), KindMissingID},
		{"missing queue id", goodAgents(5), answer{body: queuesBody(5, queueJSON("", 1))}, KindMissingID},
		{"error body behind a 200", answer{body: errorBody}, goodQueues(5), KindErrorBody},
		{"error body behind a 200, as text", answer{body: errorBody, ct: "text/plain"}, goodQueues(5), KindErrorBody},
		{"error body on queues", goodAgents(5), answer{body: errorBody}, KindErrorBody},
		{"wrong content type", answer{body: agentsBody(5, goodAgentRows...), ct: "text/html; charset=utf-8"}, goodQueues(5), KindContentType},
		{"no content type", answer{body: agentsBody(5, goodAgentRows...), ct: "-"}, goodQueues(5), KindContentType},
		{"negative active sessions", answer{body: agentsBody(5, agentJSON("a-1", "in_session", -1))}, goodQueues(5), KindBadValue},
		{"negative waiting", goodAgents(5), answer{body: queuesBody(5, queueJSON("support", -3))}, KindBadValue},
		{"count as a string", goodAgents(5), answer{body: queuesBody(5, `{"id":"q","waiting":"3"}`)}, KindBadValue},
		{"duplicate agent", answer{body: agentsBody(5, agentJSON("a-1", "available", 0), agentJSON("a-1", "away", 0))}, goodQueues(5), KindBadValue},
		{"no sequence", answer{body: `{"as_of":` + asOf + `,"agents":[]}`}, goodQueues(5), KindBadValue},
		{"no agents list", answer{body: `{"sequence":5,"as_of":` + asOf + `}`}, goodQueues(5), KindBadValue},
		{"a bad time", answer{body: `{"sequence":5,"as_of":"yesterday","agents":[]}`}, goodQueues(5), KindBadValue},
		{"an array", answer{body: `[]`}, goodQueues(5), KindBadValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCrafted(t)
			srv.set(one(tc.agents), one(tc.queues))
			cfg := fastConfig(srv.hs.URL)
			cfg.Stream = false
			cfg.PollInterval = 5 * time.Millisecond
			r := start(t, cfg)
			counter := r.c.m.bad.WithLabelValues(tc.kind)
			waitFor(t, "two rejected polls", func() bool { return testutil.ToFloat64(counter) >= 2 })
			if n := len(r.pic.all()); n != 0 {
				t.Fatalf("%d updates from a bad payload, want none: %+v", n, r.pic.all()[0])
			}
			for _, k := range otherKinds(tc.kind) {
				if v := testutil.ToFloat64(r.c.m.bad.WithLabelValues(k)); v != 0 {
					t.Errorf("bad_payloads_total{kind=%q} = %v, want 0", k, v)
				}
			}
			s := r.c.State()
			var pe *PayloadError
			if s.Mode != Down || !errors.As(s.LastError, &pe) || pe.Kind != tc.kind {
				t.Errorf("state %+v: want down with a %s PayloadError", s, tc.kind)
			}
			if c := countLines(r.log.String(), "rejected a payload"); c != 1 {
				t.Errorf("%d log lines about rejected payloads, want exactly 1 (the rest held back for 10 s)", c)
			}

			// The same client takes good tables as soon as they come.
			srv.set(one(goodAgents(6)), one(goodQueues(6)))
			waitFor(t, "a good table", func() bool { return r.pic.count(Queues) >= 1 })
			u := r.pic.all()[0]
			// (The good half of a pair may have been fetched before the switch.)
			if u.Kind != Agents || (u.Seq != 5 && u.Seq != 6) || len(u.AgentList) != 2 || u.AgentList[1].Status != monitors.InSession {
				t.Errorf("first update %+v, want the good agent table", u)
			}
		})
	}
}

func TestBadStreamEventsAreCountedAndNotPassedOn(t *testing.T) {
	good := sseEvent("12", "agent", agentJSON("a-1", "away", 0))
	for _, tc := range []struct {
		name  string
		event string
		kind  string
	}{
		{"malformed JSON", sseEvent("11", "agent", `{"id":"a-1","status":`), KindMalformedJSON},
		{"unknown status", sseEvent("11", "agent", agentJSON("a-2", "lunch", 0)), KindUnknownStatus},
		{"missing agent id", sseEvent("11", "agent", agentJSON("", "away", 0)), KindMissingID},
		{"error body", sseEvent("11", "agent", `{"error":{"code":"internal","message":"boom"}}`), KindErrorBody},
		{"negative count", sseEvent("11", "agent", agentJSON("a-2", "in_session", -2)), KindBadValue},
		{"queue with negative waiting", sseEvent("11", "queue", queueJSON("support", -1)), KindBadValue},
		{"queue without id", sseEvent("11", "queue", queueJSON("", 1)), KindMissingID},
		{"request with unknown status", sseEvent("11", "request", `{"id":"r-1","queue":"support","status":"lost","created_at":`+asOf+`,"fields":{}}`), KindUnknownStatus},
		{"session without id", sseEvent("11", "session_ended", `{"agent_id":"a-1","queue":"support","duration_seconds":3}`), KindMissingID},
		{"heartbeat without as_of", sseEvent("", "heartbeat", `{"sequence":11}`), KindBadValue},
		{"event without id", sseEvent("", "agent", agentJSON("a-2", "away", 0)), KindBadValue},
		{"event with a word for an id", sseEvent("eleven", "agent", agentJSON("a-2", "away", 0)), KindBadValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCrafted(t)
			srv.set(one(goodAgents(10)), one(goodQueues(10)))
			srv.stream = func(w http.ResponseWriter, r *http.Request, n int) { sseScript(true, tc.event, good)(w, r) }
			cfg := fastConfig(srv.hs.URL)
			cfg.PollInterval = time.Hour
			r := start(t, cfg)
			waitFor(t, "the good event", func() bool { return r.pic.count(AgentChanged) >= 1 })
			ups := r.pic.all()
			if len(ups) != 3 || ups[2].Seq != 12 || ups[2].Agent.Status != monitors.Away {
				t.Fatalf("updates %+v; want the two tables and the good agent event only", ups)
			}
			if v := testutil.ToFloat64(r.c.m.bad.WithLabelValues(tc.kind)); v != 1 {
				t.Errorf("bad_payloads_total{kind=%q} = %v, want 1", tc.kind, v)
			}
			for _, k := range otherKinds(tc.kind) {
				if v := testutil.ToFloat64(r.c.m.bad.WithLabelValues(k)); v != 0 {
					t.Errorf("bad_payloads_total{kind=%q} = %v, want 0", k, v)
				}
			}
		})
	}
}

func TestRejectedResetKeepsTheResumePoint(t *testing.T) {
	srv := newCrafted(t)
	srv.set(one(goodAgents(10)), one(goodQueues(10)))
	badReset := sseEvent("50", "reset", `{"sequence":50,"as_of":`+asOf+`,"reason":"test","agents":[`+agentJSON("", "away", 0)+`],"queues":[]}`)
	srv.stream = func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			sseScript(true, badReset, sseEvent("51", "agent", agentJSON("a-1", "offline", 0)))(w, r)
			return
		}
		sseScript(true, sseEvent("11", "agent", agentJSON("a-1", "away", 0)))(w, r)
	}
	cfg := fastConfig(srv.hs.URL)
	cfg.PollInterval = time.Hour
	r := start(t, cfg)
	waitFor(t, "the event of the second connection", func() bool { return r.pic.count(AgentChanged) >= 1 })
	for _, u := range r.pic.all()[2:] {
		if u.Authoritative || u.Agent.Status == monitors.Offline {
			t.Errorf("update %+v came from a rejected reset's connection", u)
		}
	}
	if ids := srv.resumeIDs(); len(ids) < 2 || ids[1] != "10" {
		t.Errorf("Last-Event-ID of the connections %q; want 10 again after the rejected reset", ids)
	}
	if v := testutil.ToFloat64(r.c.m.bad.WithLabelValues(KindMissingID)); v != 1 {
		t.Errorf("bad_payloads_total{kind=missing_id} = %v, want 1", v)
	}
}

// The stream resumes from the smaller of the two snapshots' sequences, then
// from the last id seen; what it already has is not passed on twice.
func TestStreamResumePointsAndStaleEvents(t *testing.T) {
	srv := newCrafted(t)
	srv.set(one(goodAgents(10)), one(goodQueues(12)))
	srv.stream = func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 0:
			sseScript(false,
				sseEvent("11", "agent", agentJSON("a-1", "away", 0)), // after the agent table: passed on
				sseEvent("12", "queue", queueJSON("support", 7)),     // in the queue table already: not passed on
				sseEvent("13", "request", request("r-0")),
				sseEvent("", "dropped", `{"reason":"test: too slow"}`))(w, r)
		default:
			sseScript(true,
				sseEvent("13", "request", request("r-0")), // a repeat of the resume point
				sseEvent("14", "queue", queueJSON("support", 8)),
				sseEvent("15", "request", request("r-1")),
				sseEvent("16", "session_ended", `{"id":"s-1","request_id":"r-0","agent_id":"a-2","queue":"support","started_at":`+asOf+`,"ended_at":"2026-11-02T09:05:00Z","duration_seconds":300}`),
				sseEvent("17", "brand_new_event", `{"x":1}`),
				sseEvent("18", "agent", agentJSON("a-2", "available", 0)))(w, r)
		}
	}
	cfg := fastConfig(srv.hs.URL)
	cfg.PollInterval = time.Hour
	r := start(t, cfg)
	waitFor(t, "the last event", func() bool { return r.pic.seq() >= 18 })

	var got []string
	for _, u := range r.pic.all() {
		got = append(got, fmt.Sprintf("%v@%d", u.Kind, u.Seq))
	}
	want := []string{"agents@10", "queues@12", "agent_changed@11", "request@13", "queue_changed@14", "request@15", "session_ended@16", "agent_changed@18"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("updates\n%s\nwant\n%s", strings.Join(got, " "), strings.Join(want, " "))
	}
	if ids := srv.resumeIDs(); len(ids) < 2 || ids[0] != "10" || ids[1] != "13" {
		t.Errorf("Last-Event-ID of the connections %q, want 10 then 13", ids)
	}
	ups := r.pic.all()
	if req := ups[5].Request; req.ID != "r-1" || req.Fields["serial"] != "X1" || !req.CreatedAt.Equal(testStart) {
		t.Errorf("request %+v", req)
	}
	if s := ups[6].Session; s.ID != "s-1" || s.AgentID != "a-2" || s.DurationSeconds != 300 {
		t.Errorf("session %+v", s)
	}
	if q := ups[4].Queue; q.Waiting != 8 || q.AsOf.Before(testStart) || q.AsOf.After(testStart.Add(hangGuard)) {
		t.Errorf("queue event %+v: want waiting 8 as of an estimate from the table's as_of", q)
	}
	if v := metric(t, r.reg, "stream_events_total", "event", "dropped"); v != 1 {
		t.Errorf("stream_events_total{event=dropped} %v, want 1", v)
	}
	if v := metric(t, r.reg, "stream_events_total", "event", "unknown"); v != 1 {
		t.Errorf("stream_events_total{event=unknown} %v, want 1", v)
	}
	if !strings.Contains(r.log.String(), "test: too slow") {
		t.Errorf("the dropped event's reason is not in the log")
	}
}

func request(id string) string {
	return `{"id":"` + id + `","queue":"support","status":"waiting","created_at":` + asOf + `,"fields":{"serial":"X1"}}`
}

func TestPollSequenceGoingBackwardsIsAuthoritative(t *testing.T) {
	srv := newCrafted(t)
	srv.set([]answer{goodAgents(100), goodAgents(5), goodAgents(6)}, []answer{goodQueues(100), goodQueues(5), goodQueues(6)})
	cfg := fastConfig(srv.hs.URL)
	cfg.Stream = false
	cfg.PollInterval = time.Millisecond
	r := start(t, cfg)
	waitFor(t, "three polls", func() bool { return r.pic.count(Agents) >= 3 })
	ups := r.pic.all()
	for i, want := range []struct {
		seq  uint64
		auth bool
	}{{100, true}, {100, true}, {5, true}, {5, true}, {6, false}, {6, false}} {
		if ups[i].Seq != want.seq || ups[i].Authoritative != want.auth {
			t.Errorf("update %d: %v at %d authoritative %v; want at %d authoritative %v", i, ups[i].Kind, ups[i].Seq, ups[i].Authoritative, want.seq, want.auth)
		}
	}
}

func TestQueuesOlderThanAgentsIsRetried(t *testing.T) {
	srv := newCrafted(t)
	srv.set([]answer{goodAgents(20), goodAgents(21)}, []answer{goodQueues(3), goodQueues(21)})
	cfg := fastConfig(srv.hs.URL)
	cfg.Stream = false
	r := start(t, cfg)
	waitFor(t, "a consistent poll", func() bool { return r.pic.count(Queues) >= 1 })
	if u := r.pic.all()[0]; u.Seq != 21 {
		t.Errorf("first table at %d, want 21: an inconsistent pair was passed on", u.Seq)
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter string
		held       bool
	}{
		{"held for an hour", "3600", true},
		{"no header: backoff", "", false},
		{"zero", "0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCrafted(t)
			srv.set([]answer{{status: http.StatusTooManyRequests, retryAfter: tc.retryAfter, body: `{"error":{"code":"unavailable","message":"slow down"}}`}, goodAgents(1)}, one(goodQueues(1)))
			cfg := fastConfig(srv.hs.URL)
			cfg.Stream = false
			r := start(t, cfg)
			waitFor(t, "the 429", func() bool { a, _, _ := srv.gets(); return a >= 1 })
			if !tc.held {
				waitFor(t, "a table after the 429", func() bool { return r.pic.count(Agents) >= 1 })
				return
			}
			// A guard, not a timing assertion: with a one-hour hold, no
			// second call may come in any wait a test can afford.
			time.Sleep(200 * time.Millisecond)
			if a, _, _ := srv.gets(); a != 1 {
				t.Errorf("%d calls within an hour of Retry-After: 3600, want 1", a)
			}
			var se *StatusError
			if err := r.c.State().LastError; !errors.As(err, &se) || se.Status != 429 || se.RetryAfter != time.Hour || !strings.Contains(err.Error(), "Retry-After") {
				t.Errorf("last error %v, want a 429 that says it waits an hour", err)
			}
		})
	}
}

func TestNotFoundSaysToCheckTheURL(t *testing.T) {
	srv := newCrafted(t)
	srv.set(one(answer{status: 404, body: `{"error":{"code":"not_found","message":"no such call"}}`}), one(goodQueues(1)))
	r := start(t, fastConfig(srv.hs.URL))
	waitFor(t, "an error", func() bool { return r.c.State().LastError != nil })
	if err := r.c.State().LastError; !strings.Contains(err.Error(), "check that source.url") || !strings.Contains(err.Error(), "no such call") {
		t.Errorf("error %q does not point at source.url or lacks the source's message", err)
	}
}

func TestSourceGoneMidStreamFallsBackToPolls(t *testing.T) {
	srv := newCrafted(t)
	srv.set(one(goodAgents(10)), one(goodQueues(10)))
	srv.stream = func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			sseScript(false, sseEvent("11", "agent", agentJSON("a-1", "away", 0)))(w, r)
			return
		}
		answer{status: http.StatusBadGateway, body: "<html>bad gateway</html>", ct: "text/html"}.write(w)
	}
	cfg := fastConfig(srv.hs.URL)
	cfg.PollInterval = 5 * time.Millisecond
	r := start(t, cfg)
	waitFor(t, "polls after the stream went", func() bool { return r.pic.count(Agents) >= 3 })
	if m := r.c.State().Mode; m != Polling {
		t.Errorf("mode %v, want polling", m)
	}
	if v := metric(t, r.reg, "requests_total", "endpoint", "stream", "code", "502"); v < 1 {
		t.Errorf("requests_total{stream,502} = %v, want 1 or more", v)
	}
}

func TestBadStreamAnswersFallBackToPolls(t *testing.T) {
	big := sseEvent("11", "agent", agentJSON("a-1", "away", 0)+strings.Repeat(" ", 8000))
	for _, tc := range []struct {
		name   string
		stream func(w http.ResponseWriter, r *http.Request)
		kind   string
	}{
		{"error body behind a 200", func(w http.ResponseWriter, r *http.Request) {
			answer{body: `{"error":{"code":"internal","message":"no stream today"}}`}.write(w)
		}, KindErrorBody},
		{"HTML behind a 200", func(w http.ResponseWriter, r *http.Request) {
			answer{body: "<html>login</html>", ct: "text/html"}.write(w)
		}, KindContentType},
		{"an event over the size limit", sseScript(true, big), KindTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCrafted(t)
			srv.set(one(goodAgents(10)), one(goodQueues(10)))
			srv.stream = func(w http.ResponseWriter, r *http.Request, n int) { tc.stream(w, r) }
			cfg := fastConfig(srv.hs.URL)
			cfg.PollInterval = 5 * time.Millisecond
			r := startWith(t, cfg, func(c *Client) { c.maxPayload = 4096 })
			waitFor(t, "two rejected streams", func() bool { return testutil.ToFloat64(r.c.m.bad.WithLabelValues(tc.kind)) >= 2 })
			waitFor(t, "polls instead", func() bool { return r.pic.count(Agents) >= 3 })
			if n := r.pic.count(AgentChanged); n != 0 {
				t.Errorf("%d agent events from a rejected stream", n)
			}
			if m := r.c.State().Mode; m == Down {
				t.Errorf("mode %v though polls succeed", m)
			}
		})
	}
}

func TestSnapshotOverTheSizeLimit(t *testing.T) {
	srv := newCrafted(t)
	srv.set(one(answer{body: agentsBody(5, goodAgentRows...) + strings.Repeat(" ", 5000)}), one(goodQueues(5)))
	cfg := fastConfig(srv.hs.URL)
	cfg.Stream = false
	r := startWith(t, cfg, func(c *Client) { c.maxPayload = 4096 })
	waitFor(t, "a rejected snapshot", func() bool { return testutil.ToFloat64(r.c.m.bad.WithLabelValues(KindTooLarge)) >= 1 })
	if n := len(r.pic.all()); n != 0 {
		t.Errorf("%d updates from a body over the limit", n)
	}
}

func TestStreamThatNeverAnswersTimesOut(t *testing.T) {
	srv := newCrafted(t)
	srv.set(one(goodAgents(10)), one(goodQueues(10)))
	srv.stream = func(w http.ResponseWriter, r *http.Request, n int) { <-r.Context().Done() }
	cfg := fastConfig(srv.hs.URL)
	cfg.Timeout = 20 * time.Millisecond
	cfg.PollInterval = 5 * time.Millisecond
	r := start(t, cfg)
	waitFor(t, "a stream timeout", func() bool {
		err := r.c.State().LastError
		return err != nil && strings.Contains(err.Error(), "did not answer within")
	})
	waitFor(t, "polls meanwhile", func() bool { return r.pic.count(Agents) >= 3 })
	if v := metric(t, r.reg, "requests_total", "endpoint", "stream", "code", "error"); v < 1 {
		t.Errorf("requests_total{stream,error} = %v, want 1 or more", v)
	}
}
