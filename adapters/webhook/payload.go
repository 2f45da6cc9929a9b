package webhook

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// The wire shapes: a JSON object with "v": 1 first, then snake_case fields;
// times RFC 3339 in UTC. Fields may be added in version 1, never renamed.
// The README shows one real example of each (testcases/*.json).

// Event types: the payload's "type" and the X-Acdbridge-Event header.
const (
	EventAvailability = "availability"
	EventReconcile    = "reconcile"
	EventRequest      = "request"
	EventSession      = "session"
	EventAlert        = "alert"
)

// header is what every payload starts with.
type header struct {
	V        int       `json:"v"`
	Type     string    `json:"type"`
	Instance string    `json:"instance"` // the adapter block's NAME
	SentAt   time.Time `json:"sent_at"`
}

type availabilityPayload struct {
	header
	Changes []availabilityItem `json:"changes"`
}

type reconcilePayload struct {
	header
	Desired []availabilityItem `json:"desired"` // the whole desired state; [] when no agents
}

type requestPayload struct {
	header
	Request requestBody `json:"request"`
}

type sessionPayload struct {
	header
	Session sessionBody `json:"session"`
}

type alertPayload struct {
	header
	Alert alertBody `json:"alert"`
}

type availabilityItem struct {
	AgentID    string            `json:"agent_id"`
	AgentName  string            `json:"agent_name"`
	Available  bool              `json:"available"`
	State      string            `json:"state"`
	Reason     string            `json:"reason"`
	Version    uint64            `json:"version"`
	Since      time.Time         `json:"since,omitzero"`
	Identities map[string]string `json:"identities"` // {} when none
}

// The request and session shapes are those of the bridge's events on NATS
// (docs/events.md), so a receiver can share code between the two.
type requestBody struct {
	ID          string            `json:"id"`
	Queue       string            `json:"queue"`
	Status      string            `json:"status"`
	CreatedAt   time.Time         `json:"created_at,omitzero"`
	Name        string            `json:"name"`
	Email       string            `json:"email"`
	Problem     string            `json:"problem"`
	Fields      map[string]string `json:"fields,omitempty"`
	ExternalRef string            `json:"external_ref,omitempty"`
	AgentID     string            `json:"agent_id,omitempty"`
	SessionID   string            `json:"session_id,omitempty"`
}

type sessionBody struct {
	ID              string    `json:"id"`
	RequestID       string    `json:"request_id,omitempty"`
	AgentID         string    `json:"agent_id"`
	Queue           string    `json:"queue"`
	ExternalRef     string    `json:"external_ref,omitempty"`
	StartedAt       time.Time `json:"started_at,omitzero"`
	EndedAt         time.Time `json:"ended_at,omitzero"`
	DurationSeconds float64   `json:"duration_seconds"`
}

type alertBody struct {
	Rule        string            `json:"rule"`
	Status      string            `json:"status"`
	Severity    string            `json:"severity"`
	Labels      map[string]string `json:"labels"`      // {} when none
	Annotations map[string]string `json:"annotations"` // {} when none
	StartsAt    time.Time         `json:"starts_at,omitzero"`
	EndsAt      time.Time         `json:"ends_at,omitzero"` // absent while firing
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func availabilityItems(items []sdk.Availability) []availabilityItem {
	out := make([]availabilityItem, len(items))
	for i, it := range items {
		out[i] = availabilityItem{AgentID: it.AgentID, AgentName: it.AgentName, Available: it.Available, State: it.State,
			Reason: it.Reason, Version: it.Version, Since: utc(it.Since), Identities: nonNil(it.Identities)}
	}
	return out
}

func requestOf(r sdk.Request) requestBody {
	return requestBody{ID: r.ID, Queue: r.Queue, Status: r.Status, CreatedAt: utc(r.CreatedAt), Name: r.Name, Email: r.Email,
		Problem: r.Problem, Fields: r.Fields, ExternalRef: r.ExternalRef, AgentID: r.AgentID, SessionID: r.SessionID}
}

func sessionOf(s sdk.Session) sessionBody {
	return sessionBody{ID: s.ID, RequestID: s.RequestID, AgentID: s.AgentID, Queue: s.Queue, ExternalRef: s.ExternalRef,
		StartedAt: utc(s.StartedAt), EndedAt: utc(s.EndedAt), DurationSeconds: s.DurationSeconds}
}

func alertOf(a sdk.Alert) alertBody {
	return alertBody{Rule: a.Rule, Status: a.Status, Severity: a.Severity, Labels: nonNil(a.Labels),
		Annotations: nonNil(a.Annotations), StartsAt: utc(a.StartsAt), EndsAt: utc(a.EndsAt)}
}

// encode is compact JSON without HTML escaping: a customer's "A & B" stays
// readable for the receiver.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
