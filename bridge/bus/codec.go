package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/acdbridge/acdbridge/bridge/availability"
	"github.com/acdbridge/acdbridge/monitors"
)

// Version is the payload version every message carries as "v". Fields may
// be added within a version; none is renamed or changes meaning.
const Version = 1

// ErrVersion is wrapped by every decoder when a payload's "v" is not
// Version: a newer bridge, or something that is not one of its messages.
var ErrVersion = errors.New("unsupported payload version")

// maxSeconds bounds durations in seconds, so that they fit a time.Duration
// with room to spare (about 31 years).
const maxSeconds = 1e9

// AgentMsg is an agent's status as last seen: the value in KV bucket
// "agents" and the payload on acdbridge.agent.<agent>.
type AgentMsg struct {
	V              int       `json:"v"`
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Email          string    `json:"email"`
	Status         string    `json:"status"`
	Queues         []string  `json:"queues"` // always an array, [] when none
	ActiveSessions int       `json:"active_sessions"`
	MaxSessions    int       `json:"max_sessions"`
	StatusSince    time.Time `json:"status_since,omitzero"` // absent when the source gave none
}

// QueueMsg is a queue's status: the value in KV bucket "queues" and the
// payload on acdbridge.queue.<queue>.
type QueueMsg struct {
	V                  int       `json:"v"`
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	Parent             string    `json:"parent,omitempty"` // absent for a top-level queue
	Waiting            int       `json:"waiting"`
	LongestWaitSeconds float64   `json:"longest_wait_seconds"`       // at as_of, to the millisecond
	OldestRequestAt    time.Time `json:"oldest_request_at,omitzero"` // absent when nobody waits
	AgentsLoggedIn     int       `json:"agents_logged_in"`
	AgentsAvailable    int       `json:"agents_available"`
	AsOf               time.Time `json:"as_of"`
}

// AvailabilityMsg is an agent's desired availability: the value in KV bucket
// "availability" and the payload on acdbridge.availability.<agent>.
type AvailabilityMsg struct {
	V         int       `json:"v"`
	AgentID   string    `json:"agent_id"`
	Available bool      `json:"available"`
	State     string    `json:"state"`   // the agent status that decided
	Reason    string    `json:"reason"`  // "" when available
	Version   uint64    `json:"version"` // per agent, from 1, only grows
	Since     time.Time `json:"since"`
}

// RequestMsg is a customer request: the payload on acdbridge.request.<queue>
// in stream "EVENTS".
type RequestMsg struct {
	V           int               `json:"v"`
	ID          string            `json:"id"`
	Queue       string            `json:"queue"`
	Status      string            `json:"status"` // waiting, in_session, abandoned, completed
	CreatedAt   time.Time         `json:"created_at"`
	Name        string            `json:"name"`
	Email       string            `json:"email"`
	Problem     string            `json:"problem"`
	Fields      map[string]string `json:"fields,omitempty"`
	ExternalRef string            `json:"external_ref,omitempty"`
	AgentID     string            `json:"agent_id,omitempty"`   // once taken
	SessionID   string            `json:"session_id,omitempty"` // once taken
}

// SessionMsg is an ended session: the payload on acdbridge.session.<queue>
// in stream "EVENTS". The first fields are the summary, always there; the
// others are the whole record (the source's GET /v1/sessions/{id}), present
// when the bridge publishes it, each optional.
type SessionMsg struct {
	V               int       `json:"v"`
	ID              string    `json:"id"`
	RequestID       string    `json:"request_id,omitempty"` // absent for a phone-mode session
	AgentID         string    `json:"agent_id"`
	Queue           string    `json:"queue"`
	ExternalRef     string    `json:"external_ref,omitempty"`
	StartedAt       time.Time `json:"started_at"`
	EndedAt         time.Time `json:"ended_at"`
	DurationSeconds float64   `json:"duration_seconds"`

	Customer   *CustomerMsg      `json:"customer,omitempty"`
	Fields     map[string]string `json:"fields,omitempty"`
	Events     []SessionEventMsg `json:"events,omitempty"`
	Resolution string            `json:"resolution,omitempty"` // resolved or unresolved
	Survey     *SurveyMsg        `json:"survey,omitempty"`     // absent when the customer did not answer
	Recording  *RecordingMsg     `json:"recording,omitempty"`
	ReplayURL  string            `json:"replay_url,omitempty"`
}

// CustomerMsg is who asked for help, in a session record.
type CustomerMsg struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// SessionEventMsg is one entry of a session's timeline. Type says which
// fields are set: chat has from and text; file_transfer from and file;
// diagnostics diagnostics; reboot from; transfer from, to and text.
type SessionEventMsg struct {
	At          time.Time       `json:"at"`
	Type        string          `json:"type"`
	From        string          `json:"from,omitempty"`
	To          string          `json:"to,omitempty"`
	Text        string          `json:"text,omitempty"`
	File        *FileMsg        `json:"file,omitempty"`
	Diagnostics *DiagnosticsMsg `json:"diagnostics,omitempty"`
}

// FileMsg is a file transfer.
type FileMsg struct {
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	Direction string `json:"direction"` // to_customer or from_customer
}

// DiagnosticsMsg is what remote diagnostics read off the customer's computer.
type DiagnosticsMsg struct {
	OS       string        `json:"os"`
	Hostname string        `json:"hostname"`
	MemoryMB int64         `json:"memory_mb"`
	Software []SoftwareMsg `json:"software,omitempty"`
}

// SoftwareMsg is one installed program.
type SoftwareMsg struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// SurveyMsg is the customer's rating of a session.
type SurveyMsg struct {
	Rating  int    `json:"rating"` // 1 to 5
	Comment string `json:"comment"`
}

// RecordingMsg is a session's recording.
type RecordingMsg struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`         // lower-case hex
	URL    string `json:"url,omitempty"`  // where the source serves it
	Path   string `json:"path,omitempty"` // in the bridge's recordings folder, once archived
}

// NewAgentMsg is the message for an agent.
func NewAgentMsg(a monitors.Agent) AgentMsg {
	queues := a.Queues
	if queues == nil {
		queues = []string{}
	}
	return AgentMsg{
		V: Version, ID: a.ID, Name: a.Name, Email: a.Email, Status: string(a.Status), Queues: queues,
		ActiveSessions: a.ActiveSessions, MaxSessions: a.MaxSessions, StatusSince: utc(a.StatusSince),
	}
}

// Agent is the agent a message carries.
func (m AgentMsg) Agent() monitors.Agent {
	return monitors.Agent{
		ID: m.ID, Name: m.Name, Email: m.Email, Status: monitors.Status(m.Status), Queues: nilIfEmpty(m.Queues),
		ActiveSessions: m.ActiveSessions, MaxSessions: m.MaxSessions, StatusSince: utc(m.StatusSince),
	}
}

// Validate checks what a reader relies on.
func (m AgentMsg) Validate() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := checkID("id", m.ID, "the agent's id"); err != nil {
		return err
	}
	if _, err := monitors.ParseStatus(m.Status); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if err := nonNegative("active_sessions", m.ActiveSessions); err != nil {
		return err
	}
	if err := nonNegative("max_sessions", m.MaxSessions); err != nil {
		return err
	}
	return inRange("status_since", m.StatusSince)
}

// NewQueueMsg is the message for a queue.
func NewQueueMsg(q monitors.Queue) QueueMsg {
	return QueueMsg{
		V: Version, ID: q.ID, Name: q.Name, Parent: q.Parent, Waiting: q.Waiting,
		LongestWaitSeconds: math.Round(q.LongestWait.Seconds()*1000) / 1000,
		OldestRequestAt:    utc(q.OldestRequestAt), AgentsLoggedIn: q.AgentsLoggedIn,
		AgentsAvailable: q.AgentsAvailable, AsOf: utc(q.AsOf),
	}
}

// Queue is the queue a message carries; the longest wait comes back to the
// millisecond.
func (m QueueMsg) Queue() monitors.Queue {
	return monitors.Queue{
		ID: m.ID, Name: m.Name, Parent: m.Parent, Waiting: m.Waiting, OldestRequestAt: utc(m.OldestRequestAt),
		AgentsLoggedIn: m.AgentsLoggedIn, AgentsAvailable: m.AgentsAvailable,
		LongestWait: time.Duration(math.Round(m.LongestWaitSeconds*1000)) * time.Millisecond,
		AsOf:        utc(m.AsOf),
	}
}

// Validate checks what a reader relies on.
func (m QueueMsg) Validate() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := checkID("id", m.ID, "the queue's id"); err != nil {
		return err
	}
	if m.AsOf.IsZero() {
		return missing("as_of", "the time of the figures")
	}
	if err := inRange("as_of", m.AsOf); err != nil {
		return err
	}
	if err := inRange("oldest_request_at", m.OldestRequestAt); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		n    int
	}{{"waiting", m.Waiting}, {"agents_logged_in", m.AgentsLoggedIn}, {"agents_available", m.AgentsAvailable}} {
		if err := nonNegative(f.name, f.n); err != nil {
			return err
		}
	}
	return seconds("longest_wait_seconds", m.LongestWaitSeconds)
}

// NewAvailabilityMsg is the message for a desired availability.
func NewAvailabilityMsg(d availability.Desired) AvailabilityMsg {
	return AvailabilityMsg{
		V: Version, AgentID: d.AgentID, Available: d.Available, State: string(d.State),
		Reason: d.Reason, Version: d.Version, Since: utc(d.Since),
	}
}

// Desired is the desired availability a message carries.
func (m AvailabilityMsg) Desired() availability.Desired {
	return availability.Desired{
		AgentID: m.AgentID, Available: m.Available, State: monitors.Status(m.State),
		Reason: m.Reason, Version: m.Version, Since: utc(m.Since),
	}
}

// Validate checks what a reader relies on.
func (m AvailabilityMsg) Validate() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := checkID("agent_id", m.AgentID, "the agent's id"); err != nil {
		return err
	}
	if _, err := monitors.ParseStatus(m.State); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if m.Version == 0 {
		return fmt.Errorf("version is 0: expected 1 or more")
	}
	if m.Since.IsZero() {
		return missing("since", "when the availability took effect")
	}
	return inRange("since", m.Since)
}

// NewRequestMsg is the message for a customer request.
func NewRequestMsg(r monitors.Request) RequestMsg {
	return RequestMsg{
		V: Version, ID: r.ID, Queue: r.Queue, Status: r.Status, CreatedAt: utc(r.CreatedAt),
		Name: r.Name, Email: r.Email, Problem: r.Problem, Fields: r.Fields,
		ExternalRef: r.ExternalRef, AgentID: r.AgentID, SessionID: r.SessionID,
	}
}

// Request is the customer request a message carries.
func (m RequestMsg) Request() monitors.Request {
	fields := m.Fields
	if len(fields) == 0 {
		fields = nil
	}
	return monitors.Request{
		ID: m.ID, Queue: m.Queue, Status: m.Status, CreatedAt: utc(m.CreatedAt),
		Name: m.Name, Email: m.Email, Problem: m.Problem, Fields: fields,
		ExternalRef: m.ExternalRef, AgentID: m.AgentID, SessionID: m.SessionID,
	}
}

// Validate checks what a reader relies on.
func (m RequestMsg) Validate() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	switch {
	case m.ID == "":
		return missing("id", "the request's id")
	case m.Queue == "":
		return missing("queue", "the queue's id")
	case m.Status == "":
		return missing("status", "waiting, in_session, abandoned or completed")
	case m.CreatedAt.IsZero():
		return missing("created_at", "when the request was made")
	}
	return inRange("created_at", m.CreatedAt)
}

// NewSessionMsg is the message for an ended session.
func NewSessionMsg(s monitors.SessionSummary) SessionMsg {
	return SessionMsg{
		V: Version, ID: s.ID, RequestID: s.RequestID, AgentID: s.AgentID, Queue: s.Queue,
		ExternalRef: s.ExternalRef, StartedAt: utc(s.StartedAt), EndedAt: utc(s.EndedAt),
		DurationSeconds: s.DurationSeconds,
	}
}

// Session is the session summary a message carries.
func (m SessionMsg) Session() monitors.SessionSummary {
	return monitors.SessionSummary{
		ID: m.ID, RequestID: m.RequestID, AgentID: m.AgentID, Queue: m.Queue, ExternalRef: m.ExternalRef,
		StartedAt: utc(m.StartedAt), EndedAt: utc(m.EndedAt), DurationSeconds: m.DurationSeconds,
	}
}

// Validate checks what a reader relies on.
func (m SessionMsg) Validate() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	switch {
	case m.ID == "":
		return missing("id", "the session's id")
	case m.AgentID == "":
		return missing("agent_id", "the agent's id")
	case m.Queue == "":
		return missing("queue", "the queue's id")
	case m.StartedAt.IsZero():
		return missing("started_at", "when the session started")
	case m.EndedAt.IsZero():
		return missing("ended_at", "when the session ended")
	}
	if err := inRange("started_at", m.StartedAt); err != nil {
		return err
	}
	if err := inRange("ended_at", m.EndedAt); err != nil {
		return err
	}
	if err := seconds("duration_seconds", m.DurationSeconds); err != nil {
		return err
	}
	return m.validateRecord()
}

// validateRecord checks the whole record's fields, those that are there.
func (m SessionMsg) validateRecord() error {
	switch m.Resolution {
	case "", "resolved", "unresolved":
	default:
		return fmt.Errorf("\"resolution\" is %q: expected resolved or unresolved", m.Resolution)
	}
	for i, e := range m.Events {
		field := fmt.Sprintf("events[%d]", i)
		switch {
		case e.At.IsZero():
			return missing(field+".at", "when it happened")
		case e.Type == "":
			return missing(field+".type", "chat, file_transfer, diagnostics, reboot or transfer")
		}
		if err := inRange(field+".at", e.At); err != nil {
			return err
		}
		if f := e.File; f != nil {
			if f.Size < 0 {
				return fmt.Errorf("%q is %d: expected 0 or more bytes", field+".file.size", f.Size)
			}
			if f.Direction != "to_customer" && f.Direction != "from_customer" {
				return fmt.Errorf("%q is %q: expected to_customer or from_customer", field+".file.direction", f.Direction)
			}
		}
		if d := e.Diagnostics; d != nil && d.MemoryMB < 0 {
			return fmt.Errorf("%q is %d: expected 0 or more", field+".diagnostics.memory_mb", d.MemoryMB)
		}
	}
	if v := m.Survey; v != nil && (v.Rating < 1 || v.Rating > 5) {
		return fmt.Errorf("\"survey.rating\" is %d: expected 1 to 5", v.Rating)
	}
	if r := m.Recording; r != nil {
		if r.Size < 0 {
			return fmt.Errorf("\"recording.size\" is %d: expected 0 or more bytes", r.Size)
		}
		if !isSHA256(r.SHA256) {
			return fmt.Errorf("\"recording.sha256\" is %q: expected 64 lower-case hex digits", r.SHA256)
		}
	}
	return nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// EncodeAgent is an agent's payload.
func EncodeAgent(a monitors.Agent) ([]byte, error) { return encode("agent", NewAgentMsg(a)) }

// DecodeAgent reads an agent's payload.
func DecodeAgent(data []byte) (monitors.Agent, error) {
	return decode("agent", data, AgentMsg.Agent)
}

// EncodeQueue is a queue's payload.
func EncodeQueue(q monitors.Queue) ([]byte, error) { return encode("queue", NewQueueMsg(q)) }

// DecodeQueue reads a queue's payload.
func DecodeQueue(data []byte) (monitors.Queue, error) {
	return decode("queue", data, QueueMsg.Queue)
}

// EncodeAvailability is a desired availability's payload.
func EncodeAvailability(d availability.Desired) ([]byte, error) {
	return encode("availability", NewAvailabilityMsg(d))
}

// DecodeAvailability reads a desired availability's payload.
func DecodeAvailability(data []byte) (availability.Desired, error) {
	return decode("availability", data, AvailabilityMsg.Desired, "available")
}

// EncodeRequest is a customer request's payload.
func EncodeRequest(r monitors.Request) ([]byte, error) { return encode("request", NewRequestMsg(r)) }

// DecodeRequest reads a customer request's payload.
func DecodeRequest(data []byte) (monitors.Request, error) {
	return decode("request", data, RequestMsg.Request)
}

// EncodeSession is an ended session's payload.
func EncodeSession(s monitors.SessionSummary) ([]byte, error) {
	return encode("session", NewSessionMsg(s))
}

// DecodeSession reads an ended session's payload: its summary.
func DecodeSession(data []byte) (monitors.SessionSummary, error) {
	return decode("session", data, SessionMsg.Session)
}

// EncodeSessionMsg is an ended session's payload with whatever of its whole
// record m carries. "v" is set to Version.
func EncodeSessionMsg(m SessionMsg) ([]byte, error) {
	m.V = Version
	return encode("session", m.inUTC())
}

// DecodeSessionMsg reads an ended session's payload whole: the summary and
// the record's fields that are there, times in UTC.
func DecodeSessionMsg(data []byte) (SessionMsg, error) {
	return decode("session", data, SessionMsg.inUTC)
}

// inUTC is m with its times in UTC and empty collections nil, so that a
// record survives a round trip through JSON unchanged.
func (m SessionMsg) inUTC() SessionMsg {
	m.StartedAt, m.EndedAt = utc(m.StartedAt), utc(m.EndedAt)
	if len(m.Fields) == 0 {
		m.Fields = nil
	}
	if len(m.Events) == 0 {
		m.Events = nil
		return m
	}
	evs := make([]SessionEventMsg, len(m.Events))
	for i, e := range m.Events {
		e.At = utc(e.At)
		if e.Diagnostics != nil && len(e.Diagnostics.Software) == 0 {
			d := *e.Diagnostics
			d.Software = nil
			e.Diagnostics = &d
		}
		evs[i] = e
	}
	m.Events = evs
	return m
}

type validator interface{ Validate() error }

// encode refuses what decode would refuse, so that nothing the bridge
// writes is unreadable.
func encode(kind string, m validator) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("encode %s message: %w", kind, err)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s message: %w", kind, err)
	}
	return data, nil
}

// decode reads a JSON object into M, validates it, and returns what it
// carries. present lists keys that must be there although their zero value
// is valid (a bool).
func decode[M validator, T any](kind string, data []byte, carried func(M) T, present ...string) (T, error) {
	var m M
	var zero T
	if err := json.Unmarshal(data, &m); err != nil {
		return zero, fmt.Errorf("decode %s message: expected a JSON object with \"v\": %d: %w", kind, Version, err)
	}
	if err := m.Validate(); err != nil {
		return zero, fmt.Errorf("decode %s message: %w", kind, err)
	}
	if len(present) > 0 {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(data, &keys); err != nil {
			return zero, fmt.Errorf("decode %s message: %w", kind, err)
		}
		for _, k := range present {
			if v, ok := keys[k]; !ok || string(v) == "null" {
				return zero, fmt.Errorf("decode %s message: %w", kind, missing(k, "true or false"))
			}
		}
	}
	return carried(m), nil
}

func checkVersion(v int) error {
	if v != Version {
		return fmt.Errorf("%w: \"v\" is %d: expected %d", ErrVersion, v, Version)
	}
	return nil
}

func missing(field, what string) error {
	return fmt.Errorf("%q is missing or empty: expected %s", field, what)
}

// checkID checks an id that becomes a KV key: JSON would turn bytes that are not
// UTF-8 into U+FFFD, and the key would no longer match the id.
func checkID(field, v, what string) error {
	if v == "" {
		return missing(field, what)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%q is %q: expected UTF-8", field, v)
	}
	return nil
}

// inRange checks that a time can be written in RFC 3339 in UTC.
func inRange(field string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("%q is %s: expected a time in the years 0 to 9999 UTC", field, t.Format(time.RFC3339Nano))
	}
	return nil
}

func nonNegative(field string, n int) error {
	if n < 0 {
		return fmt.Errorf("%q is %d: expected 0 or more", field, n)
	}
	return nil
}

func seconds(field string, s float64) error {
	if math.IsNaN(s) || s < 0 || s > maxSeconds {
		return fmt.Errorf("%q is %v: expected 0 to %g seconds", field, s, float64(maxSeconds))
	}
	return nil
}

// utc drops the location and monotonic reading, so that a time survives a
// round trip through JSON unchanged.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
