package simulator

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

type sseEvent struct {
	id   string
	name string
	data string
}

// sseClient reads one stream's events into a channel; it closes the channel
// when the stream ends.
type sseClient struct {
	resp   *http.Response
	events chan sseEvent
}

func openStream(t *testing.T, url, lastID string) *sseClient {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/v1/monitors/stream", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	c := &sseClient{resp: resp, events: make(chan sseEvent, 1<<16)}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					c.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return c
}

// next returns the next event, failing the test if none comes in time (a
// guard against hanging, not a timing assertion).
func (c *sseClient) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return sseEvent{}
}

// ended says whether the stream ends without another event.
func (c *sseClient) ended(t *testing.T) bool {
	t.Helper()
	select {
	case ev, ok := <-c.events:
		if ok {
			t.Logf("unexpected event %+v", ev)
		}
		return !ok
	case <-time.After(10 * time.Second):
		return false
	}
}

func TestStreamLiveEvents(t *testing.T) {
	env := newTestEnv(t, smallScenario())
	c := openStream(t, env.url, "")
	start := env.engine.stream.sequence()
	r, err := env.engine.CreateRequest(NewRequest{Queue: "support", Name: "Streamed"})
	if err != nil {
		t.Fatal(err)
	}
	ev := c.next(t)
	if ev.name != evRequest || ev.id != strconv.FormatUint(start+1, 10) {
		t.Fatalf("first event %+v, want request with id %d", ev, start+1)
	}
	var got RequestJSON
	if err := json.Unmarshal([]byte(ev.data), &got); err != nil || got.ID != r.ID || got.Name != "Streamed" {
		t.Fatalf("request event %s: %v", ev.data, err)
	}
	// Every event after it follows in sequence, without gaps.
	env.clock.Add(30 * time.Minute)
	env.engine.Agents()
	want := start + 2
	for want <= env.engine.stream.sequence() {
		ev := c.next(t)
		if ev.id != strconv.FormatUint(want, 10) {
			t.Fatalf("event id %s, want %d", ev.id, want)
		}
		want++
	}
}

func TestStreamResume(t *testing.T) {
	env := newTestEnv(t, smallScenario())
	env.clock.Add(20 * time.Minute)
	env.engine.Agents()
	seq := env.engine.stream.sequence()
	if seq < 20 {
		t.Fatalf("only %d events in 20 minutes", seq)
	}
	from := seq - 10
	c := openStream(t, env.url, strconv.FormatUint(from, 10))
	want, _, _ := env.engine.stream.read(nil, from, 100)
	for _, w := range want {
		ev := c.next(t)
		b, _ := json.Marshal(w.data)
		if ev.id != strconv.FormatUint(w.seq, 10) || ev.name != w.name || ev.data != string(b) {
			t.Fatalf("resumed event %+v, want %d %s %s", ev, w.seq, w.name, b)
		}
	}
}

func TestStreamResetWhenResumePointIsGone(t *testing.T) {
	env := newTestEnv(t, smallScenario())
	env.clock.Add(48 * time.Hour) // far more events than the 4096 kept
	env.engine.Agents()
	seq := env.engine.stream.sequence()
	if seq < 5000 {
		t.Fatalf("only %d events in two days", seq)
	}
	for _, tc := range []struct{ name, lastID string }{
		{"too old", "1"},
		{"ahead", strconv.FormatUint(seq+100, 10)},
		{"not a number", "abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := openStream(t, env.url, tc.lastID)
			ev := c.next(t)
			if ev.name != evReset || ev.id != strconv.FormatUint(seq, 10) {
				t.Fatalf("got %s id %s, want reset id %d", ev.name, ev.id, seq)
			}
			var r ResetJSON
			if err := json.Unmarshal([]byte(ev.data), &r); err != nil {
				t.Fatal(err)
			}
			snap := env.engine.Agents()
			qs := env.engine.Queues()
			if r.Sequence != seq || len(r.Agents) != len(snap.Agents) || len(r.Queues) != len(qs.Queues) || r.Reason == "" {
				t.Fatalf("reset: seq %d, %d agents, %d queues, reason %q", r.Sequence, len(r.Agents), len(r.Queues), r.Reason)
			}
			for i := range snap.Agents {
				if r.Agents[i].ID != snap.Agents[i].ID || r.Agents[i].Status != snap.Agents[i].Status {
					t.Fatalf("reset agent %d: %+v, snapshot %+v", i, r.Agents[i], snap.Agents[i])
				}
			}
			// Live events continue after the reset's sequence.
			env.engine.CreateRequest(NewRequest{Queue: "support"})
			if ev := c.next(t); ev.id != strconv.FormatUint(seq+1, 10) {
				t.Fatalf("after the reset: event %+v, want id %d", ev, seq+1)
			}
			seq = env.engine.stream.sequence()
		})
	}
}

func TestStreamDropsClientThatFallsBehind(t *testing.T) {
	env := newTestEnv(t, smallScenario())
	c := openStream(t, env.url, "")
	env.engine.CreateRequest(NewRequest{Queue: "support"})
	c.next(t) // the server now waits for more
	// One step publishes far more than the ring holds before the client's
	// server side is woken: the engine does not wait for it.
	env.clock.Add(72 * time.Hour)
	env.engine.Agents()
	var last sseEvent
	for ev := range c.events {
		last = ev
	}
	if last.name != evDropped || !strings.Contains(last.data, "fell more than 4096 events behind") {
		t.Fatalf("last event %+v, want dropped with a reason", last)
	}
}

func TestStreamHeartbeatAndClose(t *testing.T) {
	env := newTestEnv(t, smallScenario())
	srv, err := NewServer(env.engine, Options{Token: testToken, Heartbeat: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	c := openStream(t, hs.URL, "")
	ev := c.next(t)
	var hb HeartbeatJSON
	if ev.name != evHeartbeat || ev.id != "" || json.Unmarshal([]byte(ev.data), &hb) != nil || hb.Sequence != env.engine.stream.sequence() {
		t.Fatalf("got %+v, want a heartbeat without id at sequence %d", ev, env.engine.stream.sequence())
	}
	srv.Close()
	for range c.events {
	}
}

func TestStreamDropFault(t *testing.T) {
	env := newTestEnv(t, smallScenario())
	env.server.faults.StreamDropRate = 1
	c := openStream(t, env.url, "")
	env.engine.CreateRequest(NewRequest{Queue: "support"})
	if !c.ended(t) {
		t.Fatal("the stream was not cut")
	}
}
