package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// AgentRow is one agent as GET /api/v1/agents and the dashboard show it:
// the agent as last seen, the availability the bridge wants, and the
// version each adapter confirmed (equal to the availability's version once
// that adapter's ACD applied it).
type AgentRow struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	Status         string            `json:"status"`
	ActiveSessions int               `json:"active_sessions"`
	Queues         []string          `json:"queues"`
	StatusSince    time.Time         `json:"status_since"`
	Availability   *AvailabilityRow  `json:"availability"`
	Adapters       map[string]uint64 `json:"adapters_applied"`
}

// AvailabilityRow is the availability the bridge wants for an agent.
type AvailabilityRow struct {
	Available bool      `json:"available"`
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	Version   uint64    `json:"version"`
	Since     time.Time `json:"since"`
}

// QueueRow is one queue's figures, as GET /api/v1/queues and the
// dashboard show them.
type QueueRow struct {
	ID                 string  `json:"id"`
	Waiting            int     `json:"waiting"`
	LongestWaitSeconds float64 `json:"longest_wait_seconds"`
	AgentsLoggedIn     int     `json:"agents_logged_in"`
	AgentsAvailable    int     `json:"agents_available"`
	// RuleState is the queue's own rule state: pending or firing when one
	// of the queue rules watching it is; empty otherwise.
	RuleState string `json:"rule_state,omitempty"`
}

// DashboardTables is what the dashboard shows besides agents, as it is
// now. Adapters is the list GET /api/v1/adapters serves; the stream sends
// the rules and alerts as GET /api/v1/rules and /alerts do.
type DashboardTables struct {
	Queues   []QueueRow
	Adapters any
	Rules    Rules // nil: no rules
	Stale    bool
}

// ruleDocs and alertDocs are the lists GET /api/v1/rules and /alerts
// serve; nil without rules.
func ruleDocs(rules Rules) any {
	if rules == nil {
		return nil
	}
	list := rules.List()
	docs := make([]RuleDoc, 0, len(list))
	for _, i := range list {
		docs = append(docs, ruleInfoDoc(i))
	}
	return docs
}

func alertDocs(rules Rules) any {
	if rules == nil {
		return nil
	}
	list := rules.Alerts()
	docs := make([]AlertDoc, 0, len(list))
	for _, al := range list {
		docs = append(docs, NewAlertDoc(al))
	}
	return docs
}

// tablesNow is t with the rules and alerts as JSON documents.
type tablesNow struct {
	DashboardTables
	rules, alerts any
}

func (s *Stream) tablesNow() tablesNow {
	t := s.src.DashboardTables()
	return tablesNow{t, ruleDocs(t.Rules), alertDocs(t.Rules)}
}

// DashboardSource is what GET /api/v1/stream reads; the runtime implements
// it. The stream learns which agents changed from Touch and asks for their
// rows once per window, so an agent that changes many times in a window is
// sent once, as it is at the window's end.
type DashboardSource interface {
	// DashboardAgents is the rows of ids that exist and the ids that do
	// not (removed); every agent, sorted by id, when ids is nil.
	DashboardAgents(ids []string) (rows []AgentRow, removed []string)
	// DashboardApplied is, for each agent whose confirmed version changed
	// at some adapter since the previous call, its confirmed version at
	// every adapter that takes availability (the first call: nothing, it
	// sets the baseline).
	DashboardApplied() map[string]map[string]uint64
	// DashboardTables is everything else, as it is now.
	DashboardTables() DashboardTables
}

// StreamOptions tune the dashboard stream; zero values take the defaults.
type StreamOptions struct {
	Window       time.Duration // agent changes are coalesced over it; 250 ms
	TablesEvery  time.Duration // queues, adapters, rules, alerts polled; 1 s
	Heartbeat    time.Duration // 15 s
	WriteTimeout time.Duration // a client that cannot take a write for it is closed; 10 s
	MaxPending   int           // bytes waiting for one client before it is dropped; 16 MiB
	MaxClients   int           // 256
	MaxPerToken  int           // streams open at once under one token's name; 16
	TrendEvery   time.Duration // a queue's waiting sampled for its trend; 5 s
	TrendLen     int           // samples kept per queue; 36
}

func (o *StreamOptions) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Window, 250*time.Millisecond)
	def(&o.TablesEvery, time.Second)
	def(&o.Heartbeat, 15*time.Second)
	def(&o.WriteTimeout, 10*time.Second)
	def(&o.TrendEvery, 5*time.Second)
	if o.MaxPending <= 0 {
		o.MaxPending = 16 << 20
	}
	if o.MaxClients <= 0 {
		o.MaxClients = 256
	}
	if o.MaxPerToken <= 0 {
		o.MaxPerToken = 16
	}
	if o.TrendLen <= 0 {
		o.TrendLen = 36
	}
}

// Stream serves GET /api/v1/stream: server-sent events for the dashboard.
// A client gets a snapshot of everything, then only what changed: agents
// coalesced per window, the versions adapters confirmed, queue rows that
// changed, and the adapters, rules,
// alerts and staleness when they changed. Each message is encoded once
// for every client. A client that falls MaxPending bytes behind is sent
// `dropped` with the reason and closed (its browser reconnects and gets a
// new snapshot); nothing buffers without bound, and no client slows
// another or the bridge.
type Stream struct {
	src  DashboardSource
	opts StreamOptions
	log  hclog.Logger

	dirtyMu sync.Mutex // guards dirty only; Touch takes nothing else
	dirty   map[string]struct{}

	mu       sync.Mutex // guards everything below; taken before the source's locks
	clients  map[*streamClient]struct{}
	running  bool // the loop runs while there are clients
	stop     chan struct{}
	closed   bool
	last     lastTables // what clients were last sent
	trend    map[string][]int
	trendAt  time.Time
	dropped  int   // clients dropped for being slow (for tests and logs)
	sentByte int64 // bytes of changes offered to each client (for the benchmark)
}

type lastTables struct {
	queues   map[string][]byte
	adapters []byte
	rules    []byte
	alerts   []byte
	stale    bool
}

// NewStream builds the stream over src. It does nothing until a client
// connects.
func NewStream(src DashboardSource, opts StreamOptions, logger hclog.Logger) *Stream {
	opts.defaults()
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Stream{src: src, opts: opts, log: logger, dirty: map[string]struct{}{},
		clients: map[*streamClient]struct{}{}, trend: map[string][]int{}}
}

// Touch notes that agents changed; the next window sends their rows. It
// never blocks on the stream's clients, so the runtime may call it while
// holding its own lock.
func (s *Stream) Touch(ids ...string) {
	s.dirtyMu.Lock()
	for _, id := range ids {
		s.dirty[id] = struct{}{}
	}
	s.dirtyMu.Unlock()
}

// Close ends every client's stream (the server shuts down).
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for c := range s.clients {
		c.end("the bridge is shutting down")
	}
	s.stopLoopLocked()
}

// Dropped is how many clients were dropped for falling behind.
func (s *Stream) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Clients is how many clients are connected.
func (s *Stream) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// streamClient is one connected browser: what is to be written to it,
// bounded in bytes.
type streamClient struct {
	mu      sync.Mutex
	queue   [][]byte
	pending int
	reason  string // set: end the stream with this reason
	wake    chan struct{}
	who     string // the token's name (per-token limit)
}

func (c *streamClient) push(msg []byte, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != "" {
		return true
	}
	if c.pending+len(msg) > limit {
		c.reason = fmt.Sprintf("the dashboard fell behind: more than %d bytes of changes were waiting to be sent; reconnect for a new snapshot", limit)
		c.queue, c.pending = nil, 0
		c.signal()
		return false
	}
	c.queue = append(c.queue, msg)
	c.pending += len(msg)
	c.signal()
	return true
}

func (c *streamClient) end(reason string) {
	c.mu.Lock()
	if c.reason == "" {
		c.reason = reason
		c.queue, c.pending = nil, 0
	}
	c.signal()
	c.mu.Unlock()
}

func (c *streamClient) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// take is what to write now, or the reason to end.
func (c *streamClient) take() ([][]byte, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	c.queue, c.pending = nil, 0
	return q, c.reason
}

// event encodes one server-sent event.
func event(name string, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("dashboard stream: encode %s: %w", name, err)
	}
	var b bytes.Buffer
	b.Grow(len(name) + len(data) + 16)
	b.WriteString("event: ")
	b.WriteString(name)
	b.WriteString("\ndata: ")
	b.Write(data) // JSON from encoding/json has no raw newlines
	b.WriteString("\n\n")
	return b.Bytes(), nil
}

// snapshot is the first event a client gets.
type snapshot struct {
	AsOf     time.Time        `json:"as_of"`
	Agents   []AgentRow       `json:"agents"`
	Queues   []queueWithTrend `json:"queues"`
	Adapters any              `json:"adapters"`
	Rules    any              `json:"rules"`
	Alerts   any              `json:"alerts"`
	Stale    bool             `json:"stale"`
	Window   float64          `json:"window_seconds"`
	TrendSec float64          `json:"trend_every_seconds"`
}

type queueWithTrend struct {
	QueueRow
	Trend []int `json:"trend"`
}

// subscribe registers a client and returns its snapshot, both under mu so
// that no window's changes fall between them: every change after the
// snapshot's reading is sent after it.
//
// who is the token's name: one token may hold at most MaxPerToken streams,
// so that one viewer cannot take every slot.
func (s *Stream) subscribe(who string) (*streamClient, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, errStreamClosed
	}
	if len(s.clients) >= s.opts.MaxClients {
		return nil, nil, errTooManyClients
	}
	mine := 0
	for c := range s.clients {
		if c.who == who {
			mine++
		}
	}
	if mine >= s.opts.MaxPerToken {
		return nil, nil, errTooManyForToken
	}
	if !s.running {
		// Nobody was listening: what changed meanwhile is in the snapshot
		// below, read after this.
		s.dirtyMu.Lock()
		clear(s.dirty)
		s.dirtyMu.Unlock()
		s.src.DashboardApplied() // the baseline
		s.last = lastTables{}
	}
	agents, _ := s.src.DashboardAgents(nil)
	t := s.tablesNow()
	now := time.Now()
	s.sampleTrendLocked(t.Queues, now)
	snap := snapshot{AsOf: now.UTC(), Agents: agents, Adapters: t.Adapters, Rules: t.rules, Alerts: t.alerts, Stale: t.Stale,
		Window: s.opts.Window.Seconds(), TrendSec: s.opts.TrendEvery.Seconds()}
	if snap.Agents == nil {
		snap.Agents = []AgentRow{}
	}
	snap.Queues = make([]queueWithTrend, 0, len(t.Queues))
	for _, q := range t.Queues {
		snap.Queues = append(snap.Queues, queueWithTrend{q, slices.Clone(s.trend[q.ID])})
	}
	msg, err := event("snapshot", snap)
	if err != nil {
		return nil, nil, err
	}
	if s.running {
		// The other clients get what changed up to this snapshot, so that
		// what clients were last sent is this snapshot for everyone.
		s.tablesLocked(t)
	} else {
		s.rememberLocked(t)
	}
	c := &streamClient{wake: make(chan struct{}, 1), who: who}
	s.clients[c] = struct{}{}
	if !s.running {
		s.running = true
		s.stop = make(chan struct{})
		go s.loop(s.stop)
	}
	return c, msg, nil
}

func (s *Stream) unsubscribe(c *streamClient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.clients, c)
	if len(s.clients) == 0 {
		s.stopLoopLocked()
	}
}

func (s *Stream) stopLoopLocked() {
	if s.running {
		close(s.stop)
		s.running = false
	}
}

var (
	errStreamClosed   = fmt.Errorf("the bridge is shutting down")
	errTooManyClients = fmt.Errorf("too many dashboard streams open")
	// errTooManyForToken: the token's own streams are at the limit.
	errTooManyForToken = fmt.Errorf("this token has too many dashboard streams open; close another tab or window")
)

func (s *Stream) loop(stop chan struct{}) {
	win := time.NewTicker(s.opts.Window)
	defer win.Stop()
	tab := time.NewTicker(s.opts.TablesEvery)
	defer tab.Stop()
	for {
		select {
		case <-stop:
			return
		case <-win.C:
			s.stepAgents()
		case <-tab.C:
			s.stepTables()
		}
	}
}

// stepAgents ends one window: the rows of every agent touched in it, once
// each, then the versions adapters confirmed for the other agents (an
// adapter confirms most changes a moment after they are made: the row
// need not travel twice).
func (s *Stream) stepAgents() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.dirtyMu.Lock()
	ids := make([]string, 0, len(s.dirty))
	for id := range s.dirty {
		ids = append(ids, id)
	}
	clear(s.dirty)
	s.dirtyMu.Unlock()
	applied := s.src.DashboardApplied() // before the rows: they show at least this
	if len(ids) > 0 {
		slices.Sort(ids)
		rows, removed := s.src.DashboardAgents(ids)
		if rows == nil {
			rows = []AgentRow{}
		}
		if removed == nil {
			removed = []string{}
		}
		for _, id := range ids {
			delete(applied, id)
		}
		s.sendLocked("agents", map[string]any{"agents": rows, "removed": removed})
	}
	if len(applied) > 0 {
		s.sendLocked("applied", map[string]any{"applied": applied})
	}
}

func (s *Stream) sendLocked(name string, v any) {
	msg, err := event(name, v)
	if err != nil {
		s.log.Error("dashboard stream", "error", err)
		return
	}
	s.broadcastLocked(msg)
}

// stepTables sends what changed in the queues (by row), the adapters,
// rules and alerts (whole, when they changed) and the staleness.
func (s *Stream) stepTables() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	t := s.tablesNow()
	s.sampleTrendLocked(t.Queues, time.Now())
	s.tablesLocked(t)
}

// tablesLocked sends every client what changed since what they were last
// sent, and remembers t as that.
func (s *Stream) tablesLocked(t tablesNow) {
	var msgs [][]byte
	add := func(name string, v any) {
		msg, err := event(name, v)
		if err != nil {
			s.log.Error("dashboard stream", "error", err)
			return
		}
		msgs = append(msgs, msg)
	}
	changed := []QueueRow{}
	seen := make(map[string]bool, len(t.Queues))
	for _, q := range t.Queues {
		seen[q.ID] = true
		b, _ := json.Marshal(q)
		if !bytes.Equal(s.last.queues[q.ID], b) {
			changed = append(changed, q)
		}
	}
	removed := []string{}
	for id := range s.last.queues {
		if !seen[id] {
			removed = append(removed, id)
		}
	}
	slices.Sort(removed)
	if len(changed) > 0 || len(removed) > 0 {
		add("queues", map[string]any{"queues": changed, "removed": removed})
	}
	for _, x := range []struct {
		name string
		v    any
		last []byte
	}{{"adapters", t.Adapters, s.last.adapters}, {"rules", t.rules, s.last.rules}, {"alerts", t.alerts, s.last.alerts}} {
		if x.v == nil {
			continue
		}
		b, _ := json.Marshal(x.v)
		if !bytes.Equal(b, x.last) {
			add(x.name, map[string]any{x.name: x.v})
		}
	}
	if t.Stale != s.last.stale {
		add("source", map[string]bool{"stale": t.Stale})
	}
	s.rememberLocked(t)
	for _, m := range msgs {
		s.broadcastLocked(m)
	}
}

// rememberLocked records t as what clients were sent.
func (s *Stream) rememberLocked(t tablesNow) {
	qs := make(map[string][]byte, len(t.Queues))
	for _, q := range t.Queues {
		qs[q.ID], _ = json.Marshal(q)
	}
	enc := func(v any) []byte {
		if v == nil {
			return nil
		}
		b, _ := json.Marshal(v)
		return b
	}
	s.last = lastTables{queues: qs, adapters: enc(t.Adapters), rules: enc(t.rules), alerts: enc(t.alerts), stale: t.Stale}
}

// sampleTrendLocked keeps each queue's waiting every TrendEvery.
func (s *Stream) sampleTrendLocked(qs []QueueRow, now time.Time) {
	if !s.trendAt.IsZero() && now.Sub(s.trendAt) < s.opts.TrendEvery {
		return
	}
	s.trendAt = now
	seen := make(map[string]bool, len(qs))
	for _, q := range qs {
		seen[q.ID] = true
		t := append(s.trend[q.ID], q.Waiting)
		if len(t) > s.opts.TrendLen {
			t = t[len(t)-s.opts.TrendLen:]
		}
		s.trend[q.ID] = t
	}
	for id := range s.trend {
		if !seen[id] {
			delete(s.trend, id)
		}
	}
}

func (s *Stream) broadcastLocked(msg []byte) {
	s.sentByte += int64(len(msg))
	for c := range s.clients {
		if !c.push(msg, s.opts.MaxPending) {
			s.dropped++
			delete(s.clients, c)
			s.log.Warn("dashboard stream: dropping a client that fell behind", "max_pending_bytes", s.opts.MaxPending)
		}
	}
	if len(s.clients) == 0 {
		s.stopLoopLocked()
	}
}

// ServeHTTP serves one client: the snapshot, then the changes as they
// come, heartbeats between them.
func (s *Stream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, nil)
}

// serve is ServeHTTP with a check that the client may still read (its
// session has not ended); nil: always.
func (s *Stream) serve(w http.ResponseWriter, r *http.Request, allowed func() error) {
	p, _ := principalFrom(r.Context())
	c, snap, err := s.subscribe(p.Name)
	if errors.Is(err, errTooManyForToken) {
		writeError(w, http.StatusTooManyRequests, "resource_exhausted", err.Error())
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	defer s.unsubscribe(c)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(msgs ...[]byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		for _, m := range msgs {
			if _, err := w.Write(m); err != nil {
				s.log.Info("dashboard stream: closing a client that cannot take writes", "error", err)
				return false
			}
		}
		if err := rc.Flush(); err != nil {
			s.log.Info("dashboard stream: closing a client that cannot take writes", "error", err)
			return false
		}
		return true
	}
	if !write([]byte("retry: 3000\n\n"), snap) {
		return
	}
	snap = nil
	hb := time.NewTicker(s.opts.Heartbeat)
	defer hb.Stop()
	for {
		select {
		case <-c.wake:
			msgs, reason := c.take()
			if reason != "" {
				msg, _ := event("dropped", map[string]string{"reason": reason})
				write(msg)
				return
			}
			if len(msgs) > 0 && !write(msgs...) {
				return
			}
		case <-hb.C:
			if allowed != nil {
				if err := allowed(); err != nil {
					msg, _ := event("dropped", map[string]string{"reason": err.Error()})
					write(msg)
					return
				}
			}
			msg, _ := event("heartbeat", map[string]time.Time{"at": time.Now().UTC()})
			if !write(msg) {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}
