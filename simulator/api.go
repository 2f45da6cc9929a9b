package simulator

import (
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// APIError is a failed call: the HTTP status and the body's error object.
type APIError struct {
	Status int
	ErrorBody
}

func (e *APIError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (field %s)", e.Code, e.Message, e.Field)
	}
	return e.Code + ": " + e.Message
}

func invalid(field, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, ErrorBody: ErrorBody{Code: "invalid_argument", Message: fmt.Sprintf(format, args...), Field: field}}
}

func notFound(format string, args ...any) *APIError {
	return &APIError{Status: http.StatusNotFound, ErrorBody: ErrorBody{Code: "not_found", Message: fmt.Sprintf(format, args...)}}
}

func conflict(format string, args ...any) *APIError {
	return &APIError{Status: http.StatusConflict, ErrorBody: ErrorBody{Code: "conflict", Message: fmt.Sprintf(format, args...)}}
}

func ts(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func tsPtr(ns int64) *time.Time {
	if ns == 0 {
		return nil
	}
	t := ts(ns)
	return &t
}

func (e *Engine) agentJSON(a *agent) AgentJSON {
	return AgentJSON{
		ID: a.id, Name: a.name, Email: a.email, Status: a.status, Queues: a.queueIDs,
		ActiveSessions: a.active, MaxSessions: a.max, StatusSince: ts(a.statusSince),
	}
}

func (e *Engine) queueJSON(q *queue) QueueJSON {
	j := QueueJSON{
		ID: q.id, Name: q.name, Parent: q.parent, Waiting: q.nWaiting,
		AgentsLoggedIn: q.loggedIn, AgentsAvailable: q.available,
	}
	if r := q.oldest(); r != nil {
		j.OldestRequestAt = tsPtr(r.created)
		j.LongestWaitSeconds = math.Round(float64(e.now-r.created)/1e6) / 1e3
	}
	return j
}

func (e *Engine) requestJSON(r *request) *RequestJSON {
	j := &RequestJSON{
		ID: r.id, Queue: r.queue.id, Status: r.status, CreatedAt: ts(r.created),
		Name: r.name, Email: r.email, Problem: r.problem, Fields: r.fields,
		ExternalRef: r.externalRef, RoutedFrom: r.routedFrom,
		StartedAt: tsPtr(r.started), EndedAt: tsPtr(r.ended), AbandonedAt: tsPtr(r.abandoned),
	}
	if r.agent != nil {
		j.AgentID = r.agent.id
	}
	if r.sess != nil {
		j.SessionID = r.sess.id
	}
	return j
}

func (e *Engine) sessionSummary(s *session) SessionSummary {
	return SessionSummary{
		ID: s.id, RequestID: s.req.id, AgentID: s.agent.id, Queue: s.queue.id, ExternalRef: s.req.externalRef,
		StartedAt: ts(s.start), EndedAt: ts(s.end), DurationSeconds: float64(s.end-s.start) / 1e9,
	}
}

func (e *Engine) lock() {
	e.mu.Lock()
	e.advance()
}

// Agents is the agent monitor's snapshot.
func (e *Engine) Agents() AgentsSnapshot {
	e.lock()
	defer e.mu.Unlock()
	return AgentsSnapshot{Sequence: e.stream.sequence(), AsOf: ts(e.now), Agents: e.agentsLocked()}
}

func (e *Engine) agentsLocked() []AgentJSON {
	out := make([]AgentJSON, len(e.agents))
	for i, a := range e.agents {
		out[i] = e.agentJSON(a)
	}
	return out
}

func (e *Engine) queuesLocked() []QueueJSON {
	out := make([]QueueJSON, len(e.queues))
	for i, q := range e.queues {
		out[i] = e.queueJSON(q)
	}
	return out
}

// Queues is the queues monitor's snapshot.
func (e *Engine) Queues() QueuesSnapshot {
	e.lock()
	defer e.mu.Unlock()
	return QueuesSnapshot{Sequence: e.stream.sequence(), AsOf: ts(e.now), Queues: e.queuesLocked()}
}

// resume decides where a stream client starts. With no resume point it
// starts after the newest event. A resume point the ring still holds
// continues from there; any other gets the whole state in a reset.
func (e *Engine) resume(lastID string) (after uint64, reset *ResetJSON) {
	e.lock()
	defer e.mu.Unlock()
	seq := e.stream.sequence()
	if lastID == "" {
		return seq, nil
	}
	n, err := strconv.ParseUint(lastID, 10, 64)
	var reason string
	switch {
	case err != nil:
		reason = fmt.Sprintf("Last-Event-ID %q is not a sequence number", lastID)
	case !e.stream.holds(n):
		if n > seq {
			reason = fmt.Sprintf("Last-Event-ID %d is ahead of the newest event %d (did the service restart?)", n, seq)
		} else {
			reason = fmt.Sprintf("Last-Event-ID %d is older than the oldest event kept", n)
		}
	default:
		return n, nil
	}
	return seq, &ResetJSON{Sequence: seq, AsOf: ts(e.now), Reason: reason, Agents: e.agentsLocked(), Queues: e.queuesLocked()}
}

// NewRequest is a customer's request for help, as posted.
type NewRequest struct {
	Queue   string            `json:"queue"`
	Name    string            `json:"name"`
	Email   string            `json:"email"`
	Problem string            `json:"problem"`
	Fields  map[string]string `json:"fields"`
}

const maxFieldLen = 4096

func checkFields(fields map[string]string) *APIError {
	if len(fields) > 100 {
		return invalid("fields", "expected at most 100 fields, got %d", len(fields))
	}
	for k, v := range fields {
		if k == "" || len(k) > 64 {
			return invalid("fields", "expected field names of 1 to 64 characters, got %q", k)
		}
		if len(v) > maxFieldLen {
			return invalid("fields."+k, "expected at most %d bytes, got %d", maxFieldLen, len(v))
		}
	}
	return nil
}

// CreateRequest puts a customer's request in its queue.
func (e *Engine) CreateRequest(in NewRequest) (*RequestJSON, error) {
	if in.Queue == "" {
		return nil, invalid("queue", "expected the queue to ask in, like support or support/printers; got none")
	}
	if err := checkFields(in.Fields); err != nil {
		return nil, err
	}
	for name, v := range map[string]string{"name": in.Name, "email": in.Email, "problem": in.Problem} {
		if len(v) > maxFieldLen {
			return nil, invalid(name, "expected at most %d bytes, got %d", maxFieldLen, len(v))
		}
	}
	e.lock()
	defer func() { e.mu.Unlock(); e.poke() }()
	q, ok := e.queueByID[in.Queue]
	if !ok {
		return nil, invalid("queue", "no queue %q; the queues are listed by GET /v1/monitors/queues", in.Queue)
	}
	fields := map[string]string{}
	for k, v := range in.Fields {
		fields[k] = v
	}
	target := e.route(q, fields)
	for _, qq := range []*queue{q, target} {
		for _, f := range qq.required {
			if strings.TrimSpace(fields[f]) == "" {
				return nil, invalid("fields."+f, "queue %q requires the field %q", qq.id, f)
			}
		}
	}
	r := &request{name: in.Name, email: in.Email, problem: in.Problem, fields: fields}
	e.arrive(q, r)
	e.flush()
	e.stream.notify()
	return e.requestJSON(r), nil
}

// Request reads one request.
func (e *Engine) Request(id string) (*RequestJSON, error) {
	e.lock()
	defer e.mu.Unlock()
	r, ok := e.requests[id]
	if !ok {
		return nil, notFound("no request %q (finished requests are kept for %s)", id, requestRetention)
	}
	return e.requestJSON(r), nil
}

// syntheticRequest is a customer the arrival process made up.
func (e *Engine) syntheticRequest(q *queue) *request {
	rng := e.rng
	c, fields := randomCustomer(rng)
	for _, f := range q.required {
		if _, ok := fields[f]; !ok {
			fields[f] = fmt.Sprintf("%s-%04d", f, rng.IntN(10000))
		}
	}
	if len(q.routes) > 0 && rng.IntN(2) == 0 {
		rt := q.routes[rng.IntN(len(q.routes))]
		fields[rt.field] = rt.equals
		for _, f := range rt.to.required {
			if _, ok := fields[f]; !ok {
				fields[f] = fmt.Sprintf("%s-%04d", f, rng.IntN(10000))
			}
		}
	}
	return &request{name: c.Name, email: c.Email, problem: problems[rng.IntN(len(problems))], fields: fields}
}

// NewCode asks for a phone-mode connection code.
type NewCode struct {
	AgentID     string `json:"agent_id"`
	Queue       string `json:"queue"`
	ExternalRef string `json:"external_ref"`
	TTLSeconds  int    `json:"ttl_seconds"`
}

// CreateCode makes a connection code for an agent to read to a caller.
func (e *Engine) CreateCode(in NewCode) (CodeJSON, error) {
	if in.AgentID == "" {
		return CodeJSON{}, invalid("agent_id", "expected the agent who will take the call, like a-0001; got none")
	}
	if in.TTLSeconds < 0 || in.TTLSeconds > 86400 {
		return CodeJSON{}, invalid("ttl_seconds", "expected 1 to 86400 seconds, got %d", in.TTLSeconds)
	}
	if len(in.ExternalRef) > 256 {
		return CodeJSON{}, invalid("external_ref", "expected at most 256 bytes, got %d", len(in.ExternalRef))
	}
	e.lock()
	defer func() { e.mu.Unlock(); e.poke() }()
	a, ok := e.agentByID[in.AgentID]
	if !ok {
		return CodeJSON{}, invalid("agent_id", "no agent %q", in.AgentID)
	}
	q := a.queues[0]
	if in.Queue != "" {
		q = nil
		for _, aq := range a.queues {
			if aq.id == in.Queue {
				q = aq
			}
		}
		if q == nil {
			return CodeJSON{}, invalid("queue", "agent %s does not serve queue %q; they serve %s", a.id, in.Queue, strings.Join(a.queueIDs, ", "))
		}
	}
	ttl := e.sc.CodeTTL
	if in.TTLSeconds > 0 {
		ttl = time.Duration(in.TTLSeconds) * time.Second
	}
	var s string
	for {
		s = fmt.Sprintf("%09d", e.rng.IntN(1_000_000_000))
		if _, taken := e.codes[s]; !taken {
			break
		}
	}
	c := &code{code: s, agent: a, queue: q, externalRef: in.ExternalRef, expires: e.now + int64(ttl)}
	e.codes[s] = c
	e.push(timer{at: c.expires, kind: tCodeExpire, code: c})
	return CodeJSON{Code: s, AgentID: a.id, Queue: q.id, ExternalRef: c.externalRef, ExpiresAt: ts(c.expires)}, nil
}

func (e *Engine) liveCode(s string) (*code, *APIError) {
	c, ok := e.codes[s]
	if !ok || c.state != codeActive || c.expires <= e.now {
		return nil, notFound("no connection code %q: it may have expired, been used or been cancelled", s)
	}
	return c, nil
}

// CancelCode cancels a connection code.
func (e *Engine) CancelCode(s string) error {
	e.lock()
	defer e.mu.Unlock()
	c, err := e.liveCode(s)
	if err != nil {
		return err
	}
	c.state = codeGone
	delete(e.codes, s)
	return nil
}

// JoinRequest is what a caller joining with a code may tell about themselves.
type JoinRequest struct {
	Name   string            `json:"name"`
	Email  string            `json:"email"`
	Fields map[string]string `json:"fields"`
}

// JoinCode starts a session between the caller and the code's agent.
func (e *Engine) JoinCode(s string, in JoinRequest) (JoinJSON, error) {
	if err := checkFields(in.Fields); err != nil {
		return JoinJSON{}, err
	}
	e.lock()
	defer func() { e.mu.Unlock(); e.poke() }()
	c, err := e.liveCode(s)
	if err != nil {
		return JoinJSON{}, err
	}
	a := c.agent
	if !a.onShift {
		return JoinJSON{}, conflict("agent %s is offline; a code can be joined while its agent is logged in", a.id)
	}
	c.state = codeGone
	delete(e.codes, s)
	if a.onBreak {
		// The agent took the call: the break is over.
		a.onBreak = false
		e.scheduleBreak(a)
	}
	fields := map[string]string{}
	for k, v := range in.Fields {
		fields[k] = v
	}
	e.reqOrd++
	r := &request{ord: e.reqOrd, id: fmt.Sprintf("r-%08d", e.reqOrd), queue: c.queue, created: e.now, name: in.Name, email: in.Email, fields: fields, externalRef: c.externalRef}
	e.requests[r.id] = r
	e.startSession(a, r)
	e.flush()
	e.stream.notify()
	return JoinJSON{SessionID: r.sess.id, RequestID: r.id, AgentID: a.id, Queue: c.queue.id, ExternalRef: c.externalRef, StartedAt: ts(e.now)}, nil
}

// SessionQuery selects ended sessions: ended in [Since, Until), after the
// cursor, at most Limit.
type SessionQuery struct {
	Since, Until time.Time
	After        string
	Limit        int
}

type cursor struct {
	end int64
	id  string
}

func (c cursor) less(end int64, id string) bool {
	return c.end < end || c.end == end && c.id < id
}

func encodeCursor(end int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(end, 10) + "." + id))
}

func decodeCursor(s string) (cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, false
	}
	n, id, ok := strings.Cut(string(b), ".")
	if !ok || !strings.HasPrefix(id, "s-") {
		return cursor{}, false
	}
	end, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return cursor{}, false
	}
	return cursor{end: end, id: id}, true
}

// Sessions lists ended sessions, oldest first.
func (e *Engine) Sessions(q SessionQuery) (SessionsPage, error) {
	e.lock()
	now, retention := e.now, e.sc.Retention
	e.mu.Unlock()
	if q.Until.IsZero() {
		q.Until = ts(now)
	}
	if q.Since.IsZero() {
		q.Since = q.Until.Add(-24 * time.Hour)
		if oldest := ts(now).Add(-retention); q.Since.Before(oldest) {
			q.Since = oldest
		}
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	if q.Limit < 1 || q.Limit > 1000 {
		return SessionsPage{}, invalid("limit", "expected 1 to 1000, got %d", q.Limit)
	}
	if oldest := ts(now).Add(-retention); q.Since.Before(oldest) {
		return SessionsPage{}, &APIError{Status: http.StatusBadRequest, ErrorBody: ErrorBody{Code: "out_of_range", Field: "since",
			Message: fmt.Sprintf("sessions are kept for %s: since must be %s or later, got %s", retention, oldest.Format(time.RFC3339), q.Since.Format(time.RFC3339))}}
	}
	if !q.Since.Before(q.Until) {
		return SessionsPage{}, invalid("until", "expected until (%s) after since (%s)", q.Until.Format(time.RFC3339), q.Since.Format(time.RFC3339))
	}
	// No session ends after now: a later until lists the same sessions, and
	// one past 2262 would overflow UnixNano.
	if q.Until.After(ts(now)) {
		q.Until = ts(now)
		if !q.Since.Before(q.Until) {
			return SessionsPage{Sessions: []SessionSummary{}}, nil
		}
	}
	from := cursor{end: q.Since.UnixNano() - 1, id: "\xff"} // everything ending at since or later
	if q.After != "" {
		c, ok := decodeCursor(q.After)
		if !ok {
			return SessionsPage{}, invalid("after", "expected a cursor from a previous page's next, got %q", q.After)
		}
		if c.end >= from.end {
			from = c
		}
	}
	until := q.Until.UnixNano()
	page := SessionsPage{Sessions: []SessionSummary{}}
	take := func(end int64, id string, mk func() SessionSummary) bool {
		if end >= until {
			return false
		}
		if len(page.Sessions) == q.Limit {
			last := page.Sessions[len(page.Sessions)-1]
			page.Next = encodeCursor(last.EndedAt.UnixNano(), last.ID)
			return false
		}
		page.Sessions = append(page.Sessions, mk())
		return true
	}
	h := e.history
	if from.end < h.to {
		for hr := max(from.end, h.from) / int64(time.Hour); hr*int64(time.Hour) < min(until, h.to); hr++ {
			hs := h.hour(hr)
			i := sort.Search(len(hs), func(i int) bool { return from.less(hs[i].end, hs[i].id) })
			for ; i < len(hs); i++ {
				s := hs[i]
				if !take(s.end, s.id, func() SessionSummary { return h.summary(s) }) {
					return page, nil
				}
			}
		}
	}
	e.lock()
	defer e.mu.Unlock()
	live := e.ended[e.endedHead:]
	i := sort.Search(len(live), func(i int) bool { return from.less(live[i].end, live[i].id) })
	for ; i < len(live); i++ {
		s := live[i]
		if !take(s.end, s.id, func() SessionSummary { return e.sessionSummary(s) }) {
			break
		}
	}
	return page, nil
}

func (h *history) summary(s histSession) SessionSummary {
	return SessionSummary{
		ID: s.id, RequestID: "r-" + s.id[2:], AgentID: s.agent.id, Queue: s.queue.id, ExternalRef: s.extRef,
		StartedAt: ts(s.start), EndedAt: ts(s.end), DurationSeconds: float64(s.end-s.start) / 1e9,
	}
}

// findSession describes an ended session for its record.
func (e *Engine) findSession(id string) (sessionInfo, error) {
	e.lock()
	oldest := e.now - int64(e.sc.Retention)
	if strings.HasPrefix(id, "s-h") {
		// History is generated outside the engine's lock: an hour of it
		// at 100,000 agents takes a while, and the engine must not wait.
		e.mu.Unlock()
		if s, ok := e.history.lookup(id); ok && s.end >= oldest {
			return e.history.info(s), nil
		}
		return sessionInfo{}, notFound("no session %q", id)
	}
	defer e.mu.Unlock()
	s, ok := e.sessions[id]
	if !ok {
		return sessionInfo{}, notFound("no session %q (sessions are kept for %s)", id, e.sc.Retention)
	}
	if s.end == 0 {
		return sessionInfo{}, conflict("session %s is still running; its record is ready when it ends", id)
	}
	r := s.req
	fields := make(map[string]string, len(r.fields)+1)
	for k, v := range r.fields {
		fields[k] = v
	}
	if r.problem != "" {
		fields["problem"] = r.problem
	}
	return sessionInfo{
		id: s.id, requestID: r.id, agentID: s.agent.id, queue: s.queue.id, externalRef: r.externalRef,
		start: s.start, end: s.end, customer: Customer{Name: r.name, Email: r.email}, fields: fields,
	}, nil
}

// Session is an ended session's whole record.
func (e *Engine) Session(id string) (SessionRecord, error) {
	info, err := e.findSession(id)
	if err != nil {
		return SessionRecord{}, err
	}
	return e.buildRecord(info), nil
}

// Recording opens a session's recording.
func (e *Engine) Recording(id string) (io.ReadSeeker, SessionRecord, error) {
	rec, err := e.Session(id)
	if err != nil {
		return nil, rec, err
	}
	return e.newRecording(id, rec.Recording.Size), rec, nil
}

// Processed is how many timers the engine has handled.
func (e *Engine) Processed() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.processed
}
