// Package monitors keeps the bridge's picture of the remote-support service:
// the agent monitor and the queues monitor. They hold live tables, turn two
// snapshots into the events between them, derive queue figures, and know
// when their data has gone stale. They compute; the runtime in bridge/
// publishes and dispatches.
package monitors

import (
	"fmt"
	"time"
)

// Status is an agent's status in the remote-support service.
type Status string

// The statuses the Remote Support API v1 knows.
const (
	Available Status = "available"
	InSession Status = "in_session"
	Away      Status = "away"
	Offline   Status = "offline"
)

// Statuses lists every status, in a fixed order (for metrics and reports).
var Statuses = []Status{Available, InSession, Away, Offline}

// ParseStatus checks a status from the wire.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case Available, InSession, Away, Offline:
		return st, nil
	}
	return "", fmt.Errorf("unknown agent status %q: expected available, in_session, away or offline", s)
}

// Agent is one agent as the source last reported it.
type Agent struct {
	ID             string
	Name           string
	Email          string
	Status         Status
	Queues         []string
	ActiveSessions int
	MaxSessions    int
	StatusSince    time.Time
}

// Queue is one queue as the source last reported it.
type Queue struct {
	ID              string
	Name            string
	Parent          string // empty for a top-level queue
	Waiting         int
	OldestRequestAt time.Time // zero when nobody waits
	AgentsLoggedIn  int
	AgentsAvailable int
	// LongestWait is the source's figure at AsOf; LongestWaitAt derives it
	// for any later moment from OldestRequestAt.
	LongestWait time.Duration
	AsOf        time.Time
}

// LongestWaitAt is how long the oldest waiting customer has waited at now.
func (q Queue) LongestWaitAt(now time.Time) time.Duration {
	if q.Waiting == 0 {
		return 0
	}
	if q.OldestRequestAt.IsZero() {
		return q.LongestWait + now.Sub(q.AsOf)
	}
	return max(now.Sub(q.OldestRequestAt), 0)
}

// Request is a customer request as the source reported it.
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

// SessionSummary is an ended session as the source announced it.
type SessionSummary struct {
	ID              string
	RequestID       string
	AgentID         string
	Queue           string
	ExternalRef     string
	StartedAt       time.Time
	EndedAt         time.Time
	DurationSeconds float64
}
