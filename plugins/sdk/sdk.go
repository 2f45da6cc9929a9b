// Package sdk is what an acdbridge adapter imports: plain Go types for what
// the bridge sends, an interface per capability, and Serve, which runs the
// adapter as a hashicorp/go-plugin gRPC plugin. An adapter needs nothing
// else of the bridge; protobuf stays hidden here.
//
// An adapter implements Adapter and any of AvailabilityAdapter,
// RequestAdapter, SessionAdapter and AlertAdapter; the interfaces it
// implements are its capabilities, and it is sent only those calls.
//
// Adapters apply what they are given and say, per item, whether a failure is
// worth retrying; buffering, coalescing, retries and ordering are the
// bridge's job (bridge/dispatch).
package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
)

// Handshake is the go-plugin handshake between the bridge and an adapter.
// ProtocolVersion records the adapter protocol's versions:
//
//	1: acdbridge.adapter.v1 (plugins/proto/v1/adapter.proto).
//
// The cookie is not a secret: it keeps an adapter from being run by hand by
// mistake, and a program that is not an adapter from being run as one.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "ACDBRIDGE_ADAPTER",
	MagicCookieValue: "4b1d9c3e-remote-support-to-contact-center",
}

// PluginName is the name the adapter plugin is served and dispensed under.
const PluginName = "adapter"

// Capability is a kind of call an adapter takes.
type Capability string

// The capabilities.
const (
	CapAvailability Capability = "availability"
	CapRequests     Capability = "requests"
	CapSessions     Capability = "sessions"
	CapAlerts       Capability = "alerts"
)

// Info describes an adapter.
type Info struct {
	Name         string
	Version      string
	Capabilities []Capability // filled in by Serve from the interfaces implemented
	Settings     []Setting
	// Identities are the agent-directory keys the adapter needs in every
	// availability (e.g. "interface"); the bridge counts and lists agents
	// without them.
	Identities []string
}

// Setting is one setting an adapter takes.
type Setting struct {
	Name        string
	Type        string // string, number, bool, duration, list, map
	Required    bool
	Secret      bool // never logged, never shown
	Description string
}

// Adapter is what every adapter implements.
type Adapter interface {
	// Info names the adapter and lists its settings.
	Info() Info
	// Configure validates and applies an instance's settings. A bad
	// setting is a *FieldError (or several, joined with errors.Join).
	Configure(ctx context.Context, s Settings) error
	// Health says whether the adapter can do its work now.
	Health(ctx context.Context) Health
}

// AvailabilityAdapter takes agents' desired availability.
type AvailabilityAdapter interface {
	// SetAvailability applies a batch; it must be idempotent and give one
	// result per item, in order. An item older than the version already
	// applied for its agent is Ignored.
	SetAvailability(ctx context.Context, items []Availability) []Result
	// Reconcile converges to the whole desired state. The bridge calls it
	// after the adapter starts or restarts, before any change.
	Reconcile(ctx context.Context, desired []Availability) []Result
}

// RequestAdapter takes new customer requests (ticketing: open a ticket).
type RequestAdapter interface {
	HandleRequest(ctx context.Context, r Request) Result
}

// SessionAdapter takes ended sessions (CRM and ticketing write-back).
type SessionAdapter interface {
	HandleSession(ctx context.Context, s Session) Result
}

// AlertAdapter takes alerts as they fire and resolve.
type AlertAdapter interface {
	HandleAlert(ctx context.Context, a Alert) Result
}

// capabilities lists what a implements.
func capabilities(a Adapter) []Capability {
	var cs []Capability
	if _, ok := a.(AvailabilityAdapter); ok {
		cs = append(cs, CapAvailability)
	}
	if _, ok := a.(RequestAdapter); ok {
		cs = append(cs, CapRequests)
	}
	if _, ok := a.(SessionAdapter); ok {
		cs = append(cs, CapSessions)
	}
	if _, ok := a.(AlertAdapter); ok {
		cs = append(cs, CapAlerts)
	}
	return cs
}

// Settings are an adapter instance's settings: the attributes of its
// adapter "TYPE" "NAME" { ... } block.
type Settings struct {
	Instance string          // NAME
	JSON     json.RawMessage // the block's attributes as a JSON object
}

// Decode reads the settings into v (a pointer to a struct with json tags),
// strictly: an unknown setting or a wrong type is a *FieldError naming it.
func (s Settings) Decode(v any) error {
	if len(s.JSON) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(s.JSON)))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &FieldError{Field: te.Field, Message: fmt.Sprintf("expected %s, got a JSON %s", te.Type, te.Value)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &FieldError{Field: name, Message: fmt.Sprintf("unknown setting %q", name)}
	}
	return fmt.Errorf("settings: %w", err)
}

// FieldError is a bad setting.
type FieldError struct {
	Field   string // the setting's name, dotted for nested ones
	Message string // what was expected and what came
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Availability is the availability the bridge wants for one agent.
type Availability struct {
	AgentID    string
	AgentName  string
	Available  bool
	State      string // the state that decided: available, in_session, away, offline
	Reason     string // the bridge's reason text; empty when available
	Version    uint64 // grows with every change for this agent
	Since      time.Time
	Identities map[string]string // the agent's ids in other systems (interface, sip_uri, email, ...)
}

// Outcome is what became of one item.
type Outcome int

// Outcomes.
const (
	Applied   Outcome = iota + 1 // done, or already so
	Ignored                      // nothing to do: an older version, or no identity here
	Retryable                    // failed; worth trying again
	Permanent                    // failed; trying again will not help
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Ignored:
		return "ignored"
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Result is the outcome of one item.
type Result struct {
	AgentID   string // availability results
	Version   uint64
	Outcome   Outcome
	Message   string
	Reference string // requests, sessions, alerts: e.g. the ticket opened
}

// Request is a customer request.
type Request struct {
	ID          string
	Queue       string
	Status      string
	CreatedAt   time.Time
	Name        string
	Email       string
	Problem     string
	Fields      map[string]string
	ExternalRef string
	AgentID     string
	SessionID   string
}

// Session is an ended session: its summary (the first eight fields) and,
// when the bridge has it, its whole record as the Remote Support API's
// GET /v1/sessions/{id} gives it. A session known only by its summary has
// a zero Customer, nil Fields and Events, an empty Resolution and
// ReplayURL, and nil Survey and Recording.
type Session struct {
	ID              string
	RequestID       string // empty for a phone-mode session
	AgentID         string
	Queue           string
	ExternalRef     string // e.g. a ticket id a connection code carried
	StartedAt       time.Time
	EndedAt         time.Time
	DurationSeconds float64

	Customer   Customer
	Fields     map[string]string // the request's free and hidden fields, by name
	Events     []SessionEvent    // the timeline, in order
	Resolution string            // "resolved" or "unresolved"; empty when unknown
	Survey     *Survey           // nil when the customer did not answer
	Recording  *Recording
	ReplayURL  string
}

// Customer is who asked for help.
type Customer struct {
	Name  string
	Email string
}

// The types of a SessionEvent.
const (
	EventChat         = "chat"
	EventFileTransfer = "file_transfer"
	EventDiagnostics  = "diagnostics"
	EventReboot       = "reboot"
	EventTransfer     = "transfer"
)

// SessionEvent is one entry of a session's timeline. Type says which
// fields are set: chat has From and Text; file_transfer From and File;
// diagnostics Diagnostics; reboot From; transfer From, To and Text (the
// reason). Other types may come; an adapter should skip what it does not
// know.
type SessionEvent struct {
	At          time.Time
	Type        string
	From        string
	To          string
	Text        string
	File        *FileInfo
	Diagnostics *Diagnostics
}

// FileInfo is a file transfer.
type FileInfo struct {
	Name      string
	Size      int64
	Direction string // to_customer or from_customer
}

// Diagnostics is what remote diagnostics read off the customer's computer.
type Diagnostics struct {
	OS       string
	Hostname string
	MemoryMB int64
	Software []Software
}

// Software is one installed program.
type Software struct {
	Name    string
	Version string
}

// Survey is the customer's rating of the session.
type Survey struct {
	Rating  int // 1 to 5
	Comment string
}

// Recording is the session's recording.
type Recording struct {
	Size   int64
	SHA256 string // lower-case hex
	URL    string // where the source serves it
	Path   string // the file in the bridge's recordings folder, once archived
}

// Alert is an alert firing or resolved.
type Alert struct {
	Rule        string
	Status      string // firing or resolved
	Severity    string
	Labels      map[string]string
	Annotations map[string]string
	StartsAt    time.Time
	EndsAt      time.Time
}

// HealthStatus is up, degraded or down.
type HealthStatus int

// Health statuses.
const (
	Up HealthStatus = iota + 1
	Degraded
	Down
)

func (h HealthStatus) String() string {
	switch h {
	case Up:
		return "up"
	case Degraded:
		return "degraded"
	case Down:
		return "down"
	}
	return "unknown"
}

// Health is an adapter's health.
type Health struct {
	Status  HealthStatus
	Message string
}
