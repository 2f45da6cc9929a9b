package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tmaxmax/go-sse"

	"github.com/acdbridge/acdbridge/monitors"
)

// fakeSource is a DashboardSource the test changes by hand.
type fakeSource struct {
	mu      sync.Mutex
	agents  map[string]AgentRow
	tables  DashboardTables
	applied map[string]map[string]uint64 // returned by the next DashboardApplied
	asked   [][]string                   // the ids of each DashboardAgents call
}

func newFakeSource(n int) *fakeSource {
	f := &fakeSource{agents: map[string]AgentRow{}}
	for i := range n {
		id := fmt.Sprintf("a-%05d", i)
		f.agents[id] = AgentRow{ID: id, Name: "Agent " + id, Status: "available", Queues: []string{"support", "support/printers"},
			StatusSince:  time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC),
			Availability: &AvailabilityRow{Available: true, State: "available", Version: 3, Since: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)},
			Adapters:     map[string]uint64{"pbx1": 3}}
	}
	f.tables = DashboardTables{
		Queues:   []QueueRow{{ID: "support", Waiting: 1, LongestWaitSeconds: 12, AgentsLoggedIn: 4, AgentsAvailable: 1}, {ID: "support/printers"}},
		Adapters: []map[string]any{{"name": "pbx1", "health": "up"}},
	}
	return f
}

func (f *fakeSource) set(fn func(f *fakeSource)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeSource) DashboardAgents(ids []string) ([]AgentRow, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ids == nil {
		var rows []AgentRow
		for _, id := range slices.Sorted(func(yield func(string) bool) {
			for id := range f.agents {
				if !yield(id) {
					return
				}
			}
		}) {
			rows = append(rows, f.agents[id])
		}
		return rows, nil
	}
	f.asked = append(f.asked, slices.Clone(ids))
	var rows []AgentRow
	var removed []string
	for _, id := range ids {
		if a, ok := f.agents[id]; ok {
			rows = append(rows, a)
		} else {
			removed = append(removed, id)
		}
	}
	return rows, removed
}

func (f *fakeSource) DashboardApplied() map[string]map[string]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.applied
	f.applied = nil
	return a
}

func (f *fakeSource) DashboardTables() DashboardTables {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tables
	t.Queues = slices.Clone(t.Queues)
	return t
}

// fixedRules is a Rules with fixed lists.
type fixedRules struct {
	Rules
	rules  []RuleInfo
	alerts []monitors.Alert
}

func (f fixedRules) List() []RuleInfo         { return f.rules }
func (f fixedRules) Alerts() []monitors.Alert { return f.alerts }

// manual are options under which nothing happens by itself: the test ends
// each window with stepAgents and stepTables.
var manual = StreamOptions{Window: time.Hour, TablesEvery: time.Hour, Heartbeat: time.Hour}

// events reads a stream's server-sent events with go-sse's parser, as a
// browser would.
type events struct {
	t      *testing.T
	next   func() (sse.Event, error, bool)
	cancel func()
}

func openStream(t *testing.T, url string, header map[string]string) (*http.Response, *events) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	next, stop := iter.Pull2(sse.Read(resp.Body, &sse.ReadConfig{MaxEventSize: 64 << 20}))
	t.Cleanup(func() { cancel(); stop(); resp.Body.Close() })
	return resp, &events{t: t, next: next, cancel: cancel}
}

// read is the next event, which must be called name; v gets its data.
func (e *events) read(name string, v any) {
	e.t.Helper()
	guard := time.AfterFunc(30*time.Second, e.cancel) // a hang guard, not a timing assertion
	defer guard.Stop()
	ev, err, ok := e.next()
	if !ok || err != nil {
		e.t.Fatalf("want event %s; the stream ended (%v)", name, err)
	}
	if ev.Type != name {
		e.t.Fatalf("got event %s %s; want %s", ev.Type, ev.Data, name)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(ev.Data), v); err != nil {
			e.t.Fatalf("event %s: %v in %s", name, err, ev.Data)
		}
	}
}

type agentsEvent struct {
	Agents  []AgentRow `json:"agents"`
	Removed []string   `json:"removed"`
}

func ids(rows []AgentRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

func TestStreamSnapshotThenCoalescedChanges(t *testing.T) {
	src := newFakeSource(3)
	st := NewStream(src, manual, hclog.NewNullLogger())
	hs := httptest.NewServer(st)
	t.Cleanup(hs.Close)
	resp, evs := openStream(t, hs.URL, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	var snap snapshot
	evs.read("snapshot", &snap)
	if got := ids(snap.Agents); !slices.Equal(got, []string{"a-00000", "a-00001", "a-00002"}) {
		t.Fatalf("snapshot agents %v", got)
	}
	if snap.Agents[0].Adapters["pbx1"] != 3 || snap.Agents[0].Availability.Version != 3 || len(snap.Queues) != 2 || snap.Queues[0].Waiting != 1 ||
		!slices.Equal(snap.Queues[0].Trend, []int{1}) || snap.Window != 3600 {
		t.Fatalf("snapshot %+v", snap)
	}

	// Many changes to a-00001 in one window, one to a-00000, a-00002 gone:
	// one event, each agent once, as it stands at the window's end.
	for i := range 50 {
		src.set(func(f *fakeSource) {
			a := f.agents["a-00001"]
			a.Status = []string{"in_session", "away"}[i%2]
			a.ActiveSessions = i
			f.agents["a-00001"] = a
		})
		st.Touch("a-00001")
	}
	src.set(func(f *fakeSource) { delete(f.agents, "a-00002") })
	st.Touch("a-00000", "a-00002", "a-00001")
	st.stepAgents()
	var ch agentsEvent
	evs.read("agents", &ch)
	if got := ids(ch.Agents); !slices.Equal(got, []string{"a-00000", "a-00001"}) || !slices.Equal(ch.Removed, []string{"a-00002"}) {
		t.Fatalf("agents event: rows %v removed %v", got, ch.Removed)
	}
	if a := ch.Agents[1]; a.Status != "away" || a.ActiveSessions != 49 {
		t.Fatalf("a-00001 sent as %+v; want its last state (away, 49 sessions)", a)
	}
	if len(src.asked) != 1 || !slices.Equal(src.asked[0], []string{"a-00000", "a-00001", "a-00002"}) {
		t.Fatalf("rows asked for %v; want one call with each agent once", src.asked)
	}

	// An adapter confirmed a-00000's availability: only the versions go
	// out. a-00001 changed too in this window: its row carries them.
	src.set(func(f *fakeSource) {
		for _, id := range []string{"a-00000", "a-00001"} {
			a := f.agents[id]
			a.Adapters = map[string]uint64{"pbx1": 4}
			f.agents[id] = a
		}
		f.applied = map[string]map[string]uint64{"a-00000": {"pbx1": 4}, "a-00001": {"pbx1": 4}}
	})
	st.Touch("a-00001")
	st.stepAgents()
	evs.read("agents", &ch)
	if got := ids(ch.Agents); !slices.Equal(got, []string{"a-00001"}) || ch.Agents[0].Adapters["pbx1"] != 4 {
		t.Fatalf("the changed agent's row: %+v", ch)
	}
	var applied struct {
		Applied map[string]map[string]uint64 `json:"applied"`
	}
	evs.read("applied", &applied)
	if len(applied.Applied) != 1 || applied.Applied["a-00000"]["pbx1"] != 4 {
		t.Fatalf("applied event %+v; want only a-00000 at pbx1 v4", applied)
	}

	// A window with nothing in it sends nothing; nor do tables that did not
	// change. Then only the queue row that changed, and the adapters, rules,
	// alerts and staleness when they changed.
	st.stepAgents()
	st.stepTables()
	src.set(func(f *fakeSource) {
		f.tables.Queues[1].Waiting = 7
		f.tables.Rules = fixedRules{
			rules:  []RuleInfo{{RuleStatus: monitors.RuleStatus{Rule: monitors.Rule{Name: "backlog", Kind: monitors.QueueRuleKind, Queues: []string{"support/*"}, When: "waiting >= 5", Severity: "warning"}, State: monitors.Firing}, Origin: OriginAPI}},
			alerts: []monitors.Alert{{Rule: "backlog", Queue: "support/printers", Status: monitors.Firing, Severity: "warning", StartsAt: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)}},
		}
		f.tables.Stale = true
	})
	st.stepTables()
	var qs struct {
		Queues  []QueueRow `json:"queues"`
		Removed []string   `json:"removed"`
	}
	evs.read("queues", &qs)
	if len(qs.Queues) != 1 || qs.Queues[0].ID != "support/printers" || qs.Queues[0].Waiting != 7 || len(qs.Removed) != 0 {
		t.Fatalf("queues event %+v; want only support/printers", qs)
	}
	var rules struct{ Rules []RuleDoc }
	var alerts struct{ Alerts []AlertDoc }
	evs.read("rules", &rules)
	evs.read("alerts", &alerts)
	if len(rules.Rules) != 1 || rules.Rules[0].State != "firing" || rules.Rules[0].When != "waiting >= 5" || rules.Rules[0].ReadOnly ||
		len(alerts.Alerts) != 1 || alerts.Alerts[0].Queue != "support/printers" || alerts.Alerts[0].Status != "firing" {
		t.Fatalf("rules %+v alerts %+v", rules, alerts)
	}
	var stale map[string]bool
	evs.read("source", &stale)
	if !stale["stale"] {
		t.Fatalf("source event %v", stale)
	}
	src.set(func(f *fakeSource) { f.tables.Queues = f.tables.Queues[:1] })
	st.stepTables()
	evs.read("queues", &qs)
	if len(qs.Queues) != 0 || !slices.Equal(qs.Removed, []string{"support/printers"}) {
		t.Fatalf("a queue gone: %+v", qs)
	}
	// The next event is this one: nothing empty came between.
	st.Touch("a-00001")
	st.stepAgents()
	evs.read("agents", &ch)
	if got := ids(ch.Agents); !slices.Equal(got, []string{"a-00001"}) {
		t.Fatalf("%v", got)
	}
}

func TestStreamSecondClientSnapshotMatchesItsChanges(t *testing.T) {
	src := newFakeSource(1)
	st := NewStream(src, manual, hclog.NewNullLogger())
	hs := httptest.NewServer(st)
	t.Cleanup(hs.Close)
	_, first := openStream(t, hs.URL, nil)
	first.read("snapshot", nil)
	// A queue changes and changes back around a second client's arrival:
	// the first client hears of both, the second starts from the middle
	// and hears of the change back.
	src.set(func(f *fakeSource) { f.tables.Queues[0].Waiting = 5 })
	_, second := openStream(t, hs.URL, nil)
	var snap snapshot
	second.read("snapshot", &snap)
	if snap.Queues[0].Waiting != 5 {
		t.Fatalf("second snapshot: %+v", snap.Queues)
	}
	var qs struct{ Queues []QueueRow }
	first.read("queues", &qs)
	if qs.Queues[0].Waiting != 5 {
		t.Fatalf("first client: %+v", qs)
	}
	src.set(func(f *fakeSource) { f.tables.Queues[0].Waiting = 1 })
	st.stepTables()
	for _, e := range []*events{first, second} {
		e.read("queues", &qs)
		if qs.Queues[0].Waiting != 1 {
			t.Fatalf("after the change back: %+v", qs)
		}
	}
	if st.Clients() != 2 {
		t.Fatalf("%d clients", st.Clients())
	}
}

// blockingWriter is a ResponseWriter whose writes wait until released: a
// browser that stopped reading.
type blockingWriter struct {
	h       http.Header
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	out     strings.Builder
}

func (w *blockingWriter) Header() http.Header { return w.h }
func (w *blockingWriter) WriteHeader(int)     {}
func (w *blockingWriter) Flush()              {}
func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

func TestStreamDropsASlowClientWithAReason(t *testing.T) {
	src := newFakeSource(20)
	opts := manual
	opts.MaxPending = 4 << 10
	st := NewStream(src, opts, hclog.NewNullLogger())
	w := &blockingWriter{h: http.Header{}, entered: make(chan struct{}), release: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/stream", nil))
	}()
	<-w.entered // stuck writing the snapshot
	for i := 0; st.Dropped() == 0; i++ {
		if i > 1000 {
			t.Fatal("the client was never dropped")
		}
		for id := range src.agents {
			st.Touch(id)
		}
		st.stepAgents()
	}
	if st.Clients() != 0 {
		t.Fatalf("%d clients after the drop", st.Clients())
	}
	close(w.release)
	<-done
	got := w.out.String()
	if !strings.Contains(got, "event: snapshot\n") || strings.Contains(got, "event: agents\n") {
		t.Fatalf("the slow client got:\n%.400s", got)
	}
	want := "event: dropped\ndata: {\"reason\":\"the dashboard fell behind: more than 4096 bytes of changes were waiting to be sent; reconnect for a new snapshot\"}\n\n"
	if !strings.HasSuffix(got, want) {
		t.Fatalf("the slow client's stream ends with\n%q\nwant\n%q", got[max(0, len(got)-300):], want)
	}
}

func TestStreamHeartbeatsAndEndsWhenTheSessionEnds(t *testing.T) {
	r := newLoginRig(t)
	opts := manual
	opts.Heartbeat = 20 * time.Millisecond
	st := NewStream(newFakeSource(1), opts, hclog.NewNullLogger())
	mux := http.NewServeMux()
	routeDashboard(mux, r.a, st, hclog.NewNullLogger())
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	url := hs.URL + "/api/v1/stream"
	// Without a token or a session: 401, no stream.
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), "unauthenticated") || st.Clients() != 0 {
		t.Fatalf("no token: %d %s", resp.StatusCode, b)
	}
	// A viewer's bearer token.
	resp, evs := openStream(t, url, map[string]string{"Authorization": "Bearer view-token"})
	if resp.StatusCode != 200 {
		t.Fatalf("viewer token: %d", resp.StatusCode)
	}
	evs.read("snapshot", nil)
	evs.read("heartbeat", nil)
	// A session cookie, until it logs out.
	sess := r.login(t, "view-token")
	resp, evs = openStream(t, url, map[string]string{"Cookie": sessionCookie + "=" + sess})
	if resp.StatusCode != 200 {
		t.Fatalf("session: %d", resp.StatusCode)
	}
	evs.read("snapshot", nil)
	r.a.sessions.remove(sess)
	var dropped map[string]string
	for {
		ev, err, ok := evs.next()
		if !ok || err != nil {
			t.Fatalf("the stream ended without a reason (%v)", err)
		}
		if ev.Type == "heartbeat" {
			continue
		}
		if ev.Type != "dropped" || json.Unmarshal([]byte(ev.Data), &dropped) != nil || dropped["reason"] != errSessionEnded.Error() {
			t.Fatalf("got %s %s; want dropped: %s", ev.Type, ev.Data, errSessionEnded)
		}
		break
	}
}

func TestStreamRefusesPastMaxClientsAndAfterClose(t *testing.T) {
	opts := manual
	opts.MaxClients = 1
	st := NewStream(newFakeSource(1), opts, hclog.NewNullLogger())
	hs := httptest.NewServer(st)
	t.Cleanup(hs.Close)
	_, evs := openStream(t, hs.URL, nil)
	evs.read("snapshot", nil)
	resp, err := http.Get(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(b), "too many dashboard streams") {
		t.Fatalf("a second client: %d %s", resp.StatusCode, b)
	}
	st.Close()
	var dropped map[string]string
	evs.read("dropped", &dropped)
	if dropped["reason"] != "the bridge is shutting down" {
		t.Fatalf("%v", dropped)
	}
}

// Through New: the stream needs a viewer's token, and shutting the server
// down ends open streams with a reason rather than waiting on them.
func TestStreamServedByNewEndsAtShutdown(t *testing.T) {
	st := NewStream(newFakeSource(2), manual, hclog.NewNullLogger())
	srv, err := New("127.0.0.1:0", prometheus.NewRegistry(), nil, Views{Stream: st}, testTokens, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	url := "http://" + srv.Addr() + "/api/v1/stream"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	_, evs := openStream(t, url, map[string]string{"Authorization": "Bearer view-token"})
	evs.read("snapshot", nil)
	cancel()
	var dropped map[string]string
	evs.read("dropped", &dropped)
	if dropped["reason"] != "the bridge is shutting down" {
		t.Fatalf("%v", dropped)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// TestStreamLimitsEachToken: one token holds at most MaxPerToken streams
// (429 past it), so a viewer's tabs cannot take every slot from the
// others; another token still gets one.
func TestStreamLimitsEachToken(t *testing.T) {
	opts := manual
	opts.MaxPerToken = 2
	st := NewStream(newFakeSource(2), opts, hclog.NewNullLogger())
	srv, err := New("127.0.0.1:0", prometheus.NewRegistry(), nil, Views{Stream: st}, testTokens, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer func() { cancel(); <-served }()
	url := "http://" + srv.Addr() + "/api/v1/stream"
	viewer := map[string]string{"Authorization": "Bearer view-token"}
	for range 2 {
		_, evs := openStream(t, url, viewer)
		evs.read("snapshot", nil)
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer view-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(b), "this token has too many dashboard streams open") {
		t.Fatalf("the viewer's third stream: %d %s", resp.StatusCode, b)
	}
	_, evs := openStream(t, url, map[string]string{"Authorization": "Bearer lead-token"})
	evs.read("snapshot", nil)
}
