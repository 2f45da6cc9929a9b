package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
	"unicode/utf8"

	"github.com/acdbridge/acdbridge/monitors"
)

// The wire structs below are this package's own reading of the shapes in
// simulator/openapi.yaml. They are kept apart from the simulator's types on
// purpose: the contract is the API. Unknown fields are ignored (the contract
// lets the source add fields); every value that would corrupt the bridge's
// picture is checked after decoding.

type wireAgent struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Email          string    `json:"email"`
	Status         string    `json:"status"`
	Queues         []string  `json:"queues"`
	ActiveSessions int       `json:"active_sessions"`
	MaxSessions    int       `json:"max_sessions"`
	StatusSince    time.Time `json:"status_since"`
}

type wireQueue struct {
	ID                 string     `json:"id"`
	Name               string     `json:"name"`
	Parent             *string    `json:"parent"`
	Waiting            int        `json:"waiting"`
	LongestWaitSeconds float64    `json:"longest_wait_seconds"`
	OldestRequestAt    *time.Time `json:"oldest_request_at"`
	AgentsLoggedIn     int        `json:"agents_logged_in"`
	AgentsAvailable    int        `json:"agents_available"`
}

type wireRequest struct {
	ID          string            `json:"id"`
	Queue       string            `json:"queue"`
	Status      string            `json:"status"`
	CreatedAt   time.Time         `json:"created_at"`
	Name        string            `json:"name"`
	Email       string            `json:"email"`
	Problem     string            `json:"problem"`
	Fields      map[string]string `json:"fields"`
	ExternalRef string            `json:"external_ref"`
	AgentID     string            `json:"agent_id"`
	SessionID   string            `json:"session_id"`
}

type wireSession struct {
	ID              string    `json:"id"`
	RequestID       string    `json:"request_id"`
	AgentID         string    `json:"agent_id"`
	Queue           string    `json:"queue"`
	ExternalRef     string    `json:"external_ref"`
	StartedAt       time.Time `json:"started_at"`
	EndedAt         time.Time `json:"ended_at"`
	DurationSeconds float64   `json:"duration_seconds"`
}

// errorField is embedded in every top-level shape so that an error body
// behind a 200 ({"error": {...}}) is recognised whatever the endpoint.
type errorField struct {
	Error json.RawMessage `json:"error"`
}

type wireAgentsSnapshot struct {
	errorField
	Sequence *uint64     `json:"sequence"`
	AsOf     *time.Time  `json:"as_of"`
	Agents   []wireAgent `json:"agents"`
}

type wireQueuesSnapshot struct {
	errorField
	Sequence *uint64     `json:"sequence"`
	AsOf     *time.Time  `json:"as_of"`
	Queues   []wireQueue `json:"queues"`
}

type wireReset struct {
	errorField
	Sequence *uint64     `json:"sequence"`
	AsOf     *time.Time  `json:"as_of"`
	Reason   string      `json:"reason"`
	Agents   []wireAgent `json:"agents"`
	Queues   []wireQueue `json:"queues"`
}

type wireHeartbeat struct {
	errorField
	Sequence *uint64    `json:"sequence"`
	AsOf     *time.Time `json:"as_of"`
}

type wireDropped struct {
	Reason string `json:"reason"`
}

type wireErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// maxWaitSeconds bounds longest_wait_seconds: a figure beyond ten years is
// nonsense, and one beyond 292 years does not fit a time.Duration.
const maxWaitSeconds = 10 * 365 * 24 * 3600

// Bad payload kinds: the label values of acdbridge_source_bad_payloads_total.
const (
	KindMalformedJSON = "malformed_json" // not JSON, or cut short
	KindUnknownStatus = "unknown_status" // a status the contract does not know
	KindMissingID     = "missing_id"     // an agent, queue, request or session without its id
	KindErrorBody     = "error_body"     // {"error": {...}} behind a 200
	KindBadValue      = "bad_value"      // a wrong type, a negative count, a missing required field, a duplicate id
	KindContentType   = "content_type"   // a 200 whose content type is not the expected one
	KindTooLarge      = "too_large"      // a body or event over the size limit
)

// badKinds lists every bad payload kind, so that every series exists at 0.
func badKinds() []string {
	return []string{KindMalformedJSON, KindUnknownStatus, KindMissingID, KindErrorBody, KindBadValue, KindContentType, KindTooLarge}
}

// PayloadError is a payload from the source that broke the contract. It
// never changes the bridge's picture.
type PayloadError struct {
	Kind  string // one of the Kind constants
	Where string // the call or stream event it came with
	Err   error  // what was expected and what came
}

func (e *PayloadError) Error() string {
	if e.Where == "" {
		return fmt.Sprintf("bad payload (%s): %v", e.Kind, e.Err)
	}
	return fmt.Sprintf("%s: bad payload (%s): %v", e.Where, e.Kind, e.Err)
}

func (e *PayloadError) Unwrap() error { return e.Err }

func badf(kind, format string, args ...any) *PayloadError {
	return &PayloadError{Kind: kind, Err: fmt.Errorf(format, args...)}
}

// unmarshal decodes one JSON document, sorting a failure into its kind.
func unmarshal(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return badf(KindMalformedJSON, "expected a JSON object, got an empty body")
	}
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &PayloadError{Kind: KindMalformedJSON, Err: fmt.Errorf("expected a JSON object: %w", err)}
	}
	return &PayloadError{Kind: KindBadValue, Err: fmt.Errorf("expected the shape of the Remote Support API v1: %w", err)}
}

// check reports an {"error": {...}} body, which the contract only
// allows with an error status.
func (f errorField) check() error {
	if len(f.Error) == 0 || string(f.Error) == "null" {
		return nil
	}
	var eb wireErrorBody
	if json.Unmarshal(f.Error, &eb) == nil && (eb.Code != "" || eb.Message != "") {
		return badf(KindErrorBody, "expected data, got an error body: %s: %s", eb.Code, truncate(eb.Message, 200))
	}
	return badf(KindErrorBody, "expected data, got an error body: %s", truncate(string(f.Error), 200))
}

// truncate shortens s for a message, on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func required[T any](p *T, name string) (T, error) {
	if p == nil {
		var zero T
		return zero, badf(KindBadValue, "%s: expected a value, got none", name)
	}
	return *p, nil
}

func requiredTime(p *time.Time, name string) (time.Time, error) {
	t, err := required(p, name)
	if err != nil {
		return t, err
	}
	return utc(name, t)
}

func count(name string, n int) error {
	if n < 0 {
		return badf(KindBadValue, "%s: expected a count of 0 or more, got %d", name, n)
	}
	return nil
}

func convertAgent(w wireAgent) (monitors.Agent, error) {
	if w.ID == "" {
		return monitors.Agent{}, badf(KindMissingID, "agent: expected a non-empty id, got none (name %q)", truncate(w.Name, 80))
	}
	st, err := monitors.ParseStatus(w.Status)
	if err != nil {
		return monitors.Agent{}, &PayloadError{Kind: KindUnknownStatus, Err: fmt.Errorf("agent %q: %w", w.ID, err)}
	}
	if err := count("active_sessions", w.ActiveSessions); err != nil {
		return monitors.Agent{}, prefix(err, "agent %q", w.ID)
	}
	if err := count("max_sessions", w.MaxSessions); err != nil {
		return monitors.Agent{}, prefix(err, "agent %q", w.ID)
	}
	since, err := utc("status_since", w.StatusSince)
	if err != nil {
		return monitors.Agent{}, prefix(err, "agent %q", w.ID)
	}
	return monitors.Agent{
		ID: w.ID, Name: w.Name, Email: w.Email, Status: st, Queues: w.Queues,
		ActiveSessions: w.ActiveSessions, MaxSessions: w.MaxSessions, StatusSince: since,
	}, nil
}

func convertQueue(w wireQueue, asOf time.Time) (monitors.Queue, error) {
	if w.ID == "" {
		return monitors.Queue{}, badf(KindMissingID, "queue: expected a non-empty id, got none (name %q)", truncate(w.Name, 80))
	}
	for _, c := range []struct {
		name string
		n    int
	}{{"waiting", w.Waiting}, {"agents_logged_in", w.AgentsLoggedIn}, {"agents_available", w.AgentsAvailable}} {
		if err := count(c.name, c.n); err != nil {
			return monitors.Queue{}, prefix(err, "queue %q", w.ID)
		}
	}
	if !(w.LongestWaitSeconds >= 0 && w.LongestWaitSeconds <= maxWaitSeconds) {
		return monitors.Queue{}, badf(KindBadValue, "queue %q: longest_wait_seconds: expected 0 to %d seconds, got %g", w.ID, maxWaitSeconds, w.LongestWaitSeconds)
	}
	q := monitors.Queue{
		ID: w.ID, Name: w.Name, Waiting: w.Waiting,
		AgentsLoggedIn: w.AgentsLoggedIn, AgentsAvailable: w.AgentsAvailable,
		LongestWait: time.Duration(math.Round(w.LongestWaitSeconds * float64(time.Second))),
		AsOf:        asOf,
	}
	if w.Parent != nil {
		q.Parent = *w.Parent
	}
	if w.OldestRequestAt != nil {
		t, err := utc("oldest_request_at", *w.OldestRequestAt)
		if err != nil {
			return monitors.Queue{}, prefix(err, "queue %q", w.ID)
		}
		q.OldestRequestAt = t
	}
	return q, nil
}

// knownRequestStatus says whether s is a request status the contract knows.
func knownRequestStatus(s string) bool {
	switch s {
	case "waiting", "in_session", "abandoned", "completed":
		return true
	}
	return false
}

func convertRequest(w wireRequest) (monitors.Request, error) {
	if w.ID == "" {
		return monitors.Request{}, badf(KindMissingID, "request: expected a non-empty id, got none")
	}
	if w.Queue == "" {
		return monitors.Request{}, badf(KindMissingID, "request %q: queue: expected a queue id, got none", w.ID)
	}
	if !knownRequestStatus(w.Status) {
		return monitors.Request{}, badf(KindUnknownStatus, "request %q: unknown request status %q: expected waiting, in_session, abandoned or completed", w.ID, truncate(w.Status, 80))
	}
	created, err := utc("created_at", w.CreatedAt)
	if err != nil {
		return monitors.Request{}, prefix(err, "request %q", w.ID)
	}
	return monitors.Request{
		ID: w.ID, Queue: w.Queue, Status: w.Status, CreatedAt: created,
		Name: w.Name, Email: w.Email, Problem: w.Problem, Fields: w.Fields,
		ExternalRef: w.ExternalRef, AgentID: w.AgentID, SessionID: w.SessionID,
	}, nil
}

func convertSession(w wireSession) (monitors.SessionSummary, error) {
	if w.ID == "" {
		return monitors.SessionSummary{}, badf(KindMissingID, "session: expected a non-empty id, got none")
	}
	if w.AgentID == "" {
		return monitors.SessionSummary{}, badf(KindMissingID, "session %q: agent_id: expected an agent id, got none", w.ID)
	}
	if w.Queue == "" {
		return monitors.SessionSummary{}, badf(KindMissingID, "session %q: queue: expected a queue id, got none", w.ID)
	}
	if !(w.DurationSeconds >= 0 && w.DurationSeconds <= maxWaitSeconds) {
		return monitors.SessionSummary{}, badf(KindBadValue, "session %q: duration_seconds: expected 0 to %d seconds, got %g", w.ID, maxWaitSeconds, w.DurationSeconds)
	}
	started, err := utc("started_at", w.StartedAt)
	if err != nil {
		return monitors.SessionSummary{}, prefix(err, "session %q", w.ID)
	}
	ended, err := utc("ended_at", w.EndedAt)
	if err != nil {
		return monitors.SessionSummary{}, prefix(err, "session %q", w.ID)
	}
	return monitors.SessionSummary{
		ID: w.ID, RequestID: w.RequestID, AgentID: w.AgentID, Queue: w.Queue, ExternalRef: w.ExternalRef,
		StartedAt: started, EndedAt: ended, DurationSeconds: w.DurationSeconds,
	}, nil
}

// prefix puts context in front of a PayloadError's message, keeping its kind.
func prefix(err error, format string, args ...any) error {
	var pe *PayloadError
	if errors.As(err, &pe) {
		return &PayloadError{Kind: pe.Kind, Where: pe.Where, Err: fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), pe.Err)}
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}

// convertAgents checks and converts a whole agent table. One bad row
// rejects the table: a table missing an agent would make the monitors
// believe that agent vanished, which is worse than keeping the last good
// table until the next one.
func convertAgents(rows []wireAgent) ([]monitors.Agent, error) {
	return convertTable(rows, "agent", convertAgent, func(a monitors.Agent) string { return a.ID })
}

// convertQueues checks and converts a whole queue table; one bad row
// rejects it, as for agents.
func convertQueues(rows []wireQueue, asOf time.Time) ([]monitors.Queue, error) {
	convert := func(w wireQueue) (monitors.Queue, error) { return convertQueue(w, asOf) }
	return convertTable(rows, "queue", convert, func(q monitors.Queue) string { return q.ID })
}

// convertTable converts every row of a table of what ("agent", "queue"),
// refusing the whole table for one bad row or one id seen twice.
func convertTable[W, T any](rows []W, what string, convert func(W) (T, error), id func(T) string) ([]T, error) {
	if rows == nil {
		return nil, badf(KindBadValue, "%ss: expected a list, got none", what)
	}
	out := make([]T, len(rows))
	seen := make(map[string]struct{}, len(rows))
	for i, w := range rows {
		v, err := convert(w)
		if err != nil {
			return nil, prefix(err, "%ss[%d] of %d", what, i, len(rows))
		}
		if _, dup := seen[id(v)]; dup {
			return nil, badf(KindBadValue, "%ss[%d] of %d: expected unique ids, got %s %q twice", what, i, len(rows), what, id(v))
		}
		seen[id(v)] = struct{}{}
		out[i] = v
	}
	return out, nil
}

// agentsSnapshot is a checked GET /v1/monitors/agents.
type agentsSnapshot struct {
	seq    uint64
	asOf   time.Time
	agents []monitors.Agent
}

// queuesSnapshot is a checked GET /v1/monitors/queues.
type queuesSnapshot struct {
	seq    uint64
	asOf   time.Time
	queues []monitors.Queue
}

// decodeAgents decodes and checks the body of GET /v1/monitors/agents
// held in memory; the poll itself decodes as it reads (decodeAgentsFrom).
// Errors are *PayloadError.
func decodeAgents(body []byte) (agentsSnapshot, error) {
	return decodeAgentsFrom(bytes.NewReader(body))
}

// decodeQueues decodes and checks the body of GET /v1/monitors/queues.
// Errors are *PayloadError.
func decodeQueues(body []byte) (queuesSnapshot, error) {
	var w wireQueuesSnapshot
	if err := decodeBody(body, &w); err != nil {
		return queuesSnapshot{}, err
	}
	seq, asOf, err := stamp(w.Sequence, w.AsOf)
	if err != nil {
		return queuesSnapshot{}, err
	}
	queues, err := convertQueues(w.Queues, asOf)
	if err != nil {
		return queuesSnapshot{}, err
	}
	return queuesSnapshot{seq: seq, asOf: asOf, queues: queues}, nil
}

// decodeBody decodes a top-level body into w, which embeds errorField, and
// refuses an error body behind a 200.
func decodeBody(body []byte, w interface{ check() error }) error {
	if err := unmarshal(body, w); err != nil {
		return err
	}
	return w.check()
}

// stamp checks the sequence and as_of that snapshots, resets and
// heartbeats carry.
func stamp(seq *uint64, asOf *time.Time) (uint64, time.Time, error) {
	s, err := required(seq, "sequence")
	if err != nil {
		return 0, time.Time{}, err
	}
	t, err := requiredTime(asOf, "as_of")
	if err != nil {
		return 0, time.Time{}, err
	}
	return s, t, nil
}

// Stream event names (the `event:` field).
const (
	evAgent        = "agent"
	evQueue        = "queue"
	evRequest      = "request"
	evSessionEnded = "session_ended"
	evReset        = "reset"
	evHeartbeat    = "heartbeat"
	evDropped      = "dropped"
	evUnknown      = "unknown" // any other name; a metric label, not a wire name
)

// eventNames lists the label values of acdbridge_source_stream_events_total.
func eventNames() []string {
	return []string{evAgent, evQueue, evRequest, evSessionEnded, evReset, evHeartbeat, evDropped, evUnknown}
}

// event is one checked stream event. name says which fields are set.
type event struct {
	name    string // one of the ev constants
	agent   monitors.Agent
	queue   monitors.Queue
	request monitors.Request
	session monitors.SessionSummary
	// reset and heartbeat
	seq    uint64
	asOf   time.Time
	agents []monitors.Agent
	queues []monitors.Queue
	reason string // reset and dropped
}

// decodeEvent decodes and checks the data of one stream event. An event
// name the contract does not know gives an event named evUnknown and no
// error: the contract may grow new events. Errors are *PayloadError.
func decodeEvent(name, data string) (event, error) {
	b := []byte(data)
	switch name {
	case evAgent:
		a, err := decodeRow(b, convertAgent)
		return event{name: name, agent: a}, err
	case evQueue:
		q, err := decodeRow(b, func(w wireQueue) (monitors.Queue, error) { return convertQueue(w, time.Time{}) })
		return event{name: name, queue: q}, err
	case evRequest:
		r, err := decodeRow(b, convertRequest)
		return event{name: name, request: r}, err
	case evSessionEnded:
		s, err := decodeRow(b, convertSession)
		return event{name: name, session: s}, err
	case evReset:
		return decodeReset(b)
	case evHeartbeat:
		var w wireHeartbeat
		if err := decodeBody(b, &w); err != nil {
			return event{}, err
		}
		seq, asOf, err := stamp(w.Sequence, w.AsOf)
		if err != nil {
			return event{}, err
		}
		return event{name: name, seq: seq, asOf: asOf}, nil
	case evDropped:
		// The server closes the stream after this whatever its data says,
		// so a reason that cannot be read is not worth rejecting the event.
		var w wireDropped
		if json.Unmarshal(b, &w) != nil || w.Reason == "" {
			w.Reason = "(no reason given)"
		}
		return event{name: name, reason: truncate(w.Reason, 500)}, nil
	}
	return event{name: evUnknown}, nil
}

// decodeRow decodes and converts the data of an event that carries one row
// (an agent, queue, request or session). The row's fields stand at the top
// level beside a possible error body, so the data is decoded as the row,
// then as errorField for the error body; what decodes as the row always
// decodes as errorField.
func decodeRow[W, T any](b []byte, convert func(W) (T, error)) (T, error) {
	var zero T
	var row W
	if err := unmarshal(b, &row); err != nil {
		return zero, err
	}
	var e errorField
	if err := decodeBody(b, &e); err != nil {
		return zero, err
	}
	return convert(row)
}

func decodeReset(b []byte) (event, error) {
	var w wireReset
	if err := decodeBody(b, &w); err != nil {
		return event{}, err
	}
	seq, asOf, err := stamp(w.Sequence, w.AsOf)
	if err != nil {
		return event{}, err
	}
	agents, err := convertAgents(w.Agents)
	if err != nil {
		return event{}, err
	}
	queues, err := convertQueues(w.Queues, asOf)
	if err != nil {
		return event{}, err
	}
	return event{name: evReset, seq: seq, asOf: asOf, agents: agents, queues: queues, reason: truncate(w.Reason, 500)}, nil
}

// utc puts a time from the wire in UTC. An offset can carry a time in year
// 0 to year -1 (or 9999 to 10000), which no JSON encoder downstream could
// write again; such a time is refused.
func utc(name string, t time.Time) (time.Time, error) {
	u := t.UTC()
	if y := u.Year(); y < 0 || y > 9999 {
		return time.Time{}, badf(KindBadValue, "%s: expected a time between years 0 and 9999 in UTC, got %s", name, t.Format(time.RFC3339Nano))
	}
	return u, nil
}
