package simulator

import "time"

// The types in this file are the JSON shapes of the Remote Support API v1 as
// the simulator serves them. They are written down in openapi.yaml, and the
// tests check the running server against that file. bridge/source keeps its
// own copies on purpose: the contract is the API, not a shared struct.

// Agent statuses.
const (
	StatusAvailable = "available"
	StatusInSession = "in_session"
	StatusAway      = "away"
	StatusOffline   = "offline"
)

// Request statuses.
const (
	RequestWaiting   = "waiting"
	RequestInSession = "in_session"
	RequestAbandoned = "abandoned"
	RequestCompleted = "completed"
)

// AgentJSON is one agent as GET /v1/monitors/agents and the stream show it.
type AgentJSON struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Email          string    `json:"email"`
	Status         string    `json:"status"`
	Queues         []string  `json:"queues"`
	ActiveSessions int       `json:"active_sessions"`
	MaxSessions    int       `json:"max_sessions"`
	StatusSince    time.Time `json:"status_since"`
}

// AgentsSnapshot is the body of GET /v1/monitors/agents.
type AgentsSnapshot struct {
	Sequence uint64      `json:"sequence"`
	AsOf     time.Time   `json:"as_of"`
	Agents   []AgentJSON `json:"agents"`
}

// QueueJSON is one queue as GET /v1/monitors/queues and the stream show it.
// Figures count the queue's own requests and agents; a parent queue does not
// add up its sub-queues.
type QueueJSON struct {
	ID                 string     `json:"id"`
	Name               string     `json:"name"`
	Parent             *string    `json:"parent"`
	Waiting            int        `json:"waiting"`
	LongestWaitSeconds float64    `json:"longest_wait_seconds"`
	OldestRequestAt    *time.Time `json:"oldest_request_at"`
	AgentsLoggedIn     int        `json:"agents_logged_in"`
	AgentsAvailable    int        `json:"agents_available"`
}

// QueuesSnapshot is the body of GET /v1/monitors/queues.
type QueuesSnapshot struct {
	Sequence uint64      `json:"sequence"`
	AsOf     time.Time   `json:"as_of"`
	Queues   []QueueJSON `json:"queues"`
}

// ResetJSON is the data of a stream `reset` event: the whole state at Sequence.
type ResetJSON struct {
	Sequence uint64      `json:"sequence"`
	AsOf     time.Time   `json:"as_of"`
	Reason   string      `json:"reason"`
	Agents   []AgentJSON `json:"agents"`
	Queues   []QueueJSON `json:"queues"`
}

// HeartbeatJSON is the data of a stream `heartbeat` event.
type HeartbeatJSON struct {
	Sequence uint64    `json:"sequence"`
	AsOf     time.Time `json:"as_of"`
}

// RequestJSON is a customer request: the answer to POST /v1/requests and
// GET /v1/requests/{id}, and the data of a stream `request` event.
type RequestJSON struct {
	ID          string            `json:"id"`
	Queue       string            `json:"queue"`
	Status      string            `json:"status"`
	CreatedAt   time.Time         `json:"created_at"`
	Name        string            `json:"name,omitempty"`
	Email       string            `json:"email,omitempty"`
	Problem     string            `json:"problem,omitempty"`
	Fields      map[string]string `json:"fields"`
	ExternalRef string            `json:"external_ref,omitempty"`
	AgentID     string            `json:"agent_id,omitempty"`
	SessionID   string            `json:"session_id,omitempty"`
	StartedAt   *time.Time        `json:"started_at,omitempty"`
	EndedAt     *time.Time        `json:"ended_at,omitempty"`
	AbandonedAt *time.Time        `json:"abandoned_at,omitempty"`
	RoutedFrom  string            `json:"routed_from,omitempty"`
}

// SessionSummary is one row of GET /v1/sessions and the data of a stream
// `session_ended` event.
type SessionSummary struct {
	ID              string    `json:"id"`
	RequestID       string    `json:"request_id"`
	AgentID         string    `json:"agent_id"`
	Queue           string    `json:"queue"`
	ExternalRef     string    `json:"external_ref,omitempty"`
	StartedAt       time.Time `json:"started_at"`
	EndedAt         time.Time `json:"ended_at"`
	DurationSeconds float64   `json:"duration_seconds"`
}

// SessionsPage is the body of GET /v1/sessions.
type SessionsPage struct {
	Sessions []SessionSummary `json:"sessions"`
	Next     string           `json:"next,omitempty"`
}

// SessionRecord is the body of GET /v1/sessions/{id}.
type SessionRecord struct {
	ID              string            `json:"id"`
	RequestID       string            `json:"request_id"`
	AgentID         string            `json:"agent_id"`
	Queue           string            `json:"queue"`
	ExternalRef     string            `json:"external_ref"`
	StartedAt       time.Time         `json:"started_at"`
	EndedAt         time.Time         `json:"ended_at"`
	DurationSeconds float64           `json:"duration_seconds"`
	Customer        Customer          `json:"customer"`
	Fields          map[string]string `json:"fields"`
	Events          []SessionEvent    `json:"events"`
	Resolution      string            `json:"resolution"`
	Survey          *Survey           `json:"survey"`
	Recording       Recording         `json:"recording"`
	ReplayURL       string            `json:"replay_url"`
}

// Customer is who asked for help.
type Customer struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Session event types.
const (
	EventChat         = "chat"
	EventFileTransfer = "file_transfer"
	EventDiagnostics  = "diagnostics"
	EventReboot       = "reboot"
	EventTransfer     = "transfer"
)

// SessionEvent is one entry of a session's timeline. Type says which of the
// optional fields are set: chat has From and Text; file_transfer has From and
// File; diagnostics has Diagnostics; reboot has From; transfer has From, To
// and Text (the reason).
type SessionEvent struct {
	At          time.Time    `json:"at"`
	Type        string       `json:"type"`
	From        string       `json:"from,omitempty"`
	To          string       `json:"to,omitempty"`
	Text        string       `json:"text,omitempty"`
	File        *FileInfo    `json:"file,omitempty"`
	Diagnostics *Diagnostics `json:"diagnostics,omitempty"`
}

// FileInfo describes a file transfer.
type FileInfo struct {
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	Direction string `json:"direction"` // to_customer or from_customer
}

// Diagnostics is what remote diagnostics read off the customer's computer.
type Diagnostics struct {
	OS       string     `json:"os"`
	Hostname string     `json:"hostname"`
	MemoryMB int        `json:"memory_mb"`
	Software []Software `json:"software"`
}

// Software is one installed program.
type Software struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Survey is the customer's rating of the session; nil when they did not answer.
type Survey struct {
	Rating  int    `json:"rating"`
	Comment string `json:"comment"`
}

// Recording describes the session's recording file.
type Recording struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	URL    string `json:"url"`
}

// CodeJSON is a phone-mode connection code.
type CodeJSON struct {
	Code        string    `json:"code"`
	AgentID     string    `json:"agent_id"`
	Queue       string    `json:"queue"`
	ExternalRef string    `json:"external_ref"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// JoinJSON is the answer to POST /v1/connection-codes/{code}/join.
type JoinJSON struct {
	SessionID   string    `json:"session_id"`
	RequestID   string    `json:"request_id"`
	AgentID     string    `json:"agent_id"`
	Queue       string    `json:"queue"`
	ExternalRef string    `json:"external_ref"`
	StartedAt   time.Time `json:"started_at"`
}

// Faults is the fault injection setting, the body of GET and POST
// /v1/admin/faults. Rates are shares of calls between 0 and 1.
type Faults struct {
	ErrorRate      float64 `json:"error_rate"`       // answer 503 with an error body
	LatencyMS      int     `json:"latency_ms"`       // added to every call
	MalformedRate  float64 `json:"malformed_rate"`   // 200 with a truncated JSON body
	ErrorBodyRate  float64 `json:"error_body_rate"`  // 200 with an error body
	StreamDropRate float64 `json:"stream_drop_rate"` // per event sent: cut the stream
}

// ErrorJSON is the error shape of every call.
type ErrorJSON struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what went wrong; Field names the offending input, if any.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}
