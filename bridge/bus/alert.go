package bus

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/acdbridge/acdbridge/monitors"
)

// AlertMsg is an alert firing or resolved: the payload on
// acdbridge.alert.<rule> in stream "EVENTS".
type AlertMsg struct {
	V           int                `json:"v"`
	Rule        string             `json:"rule"`
	Status      string             `json:"status"` // firing or resolved
	Severity    string             `json:"severity"`
	Queue       string             `json:"queue,omitempty"`
	Session     string             `json:"session,omitempty"` // session alerts
	Labels      map[string]string  `json:"labels"`            // always an object; holds queue (and session, agent)
	Annotations map[string]string  `json:"annotations,omitempty"`
	StartsAt    time.Time          `json:"starts_at"`
	EndsAt      time.Time          `json:"ends_at,omitzero"` // when resolved
	Value       map[string]float64 `json:"value,omitempty"`  // the figures when it fired
}

// NewAlertMsg is the message for an alert.
func NewAlertMsg(a monitors.Alert) AlertMsg {
	labels := a.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return AlertMsg{
		V: Version, Rule: a.Rule, Status: string(a.Status), Severity: a.Severity, Queue: a.Queue, Session: a.Session,
		Labels: labels, Annotations: a.Annotations, StartsAt: utc(a.StartsAt), EndsAt: utc(a.EndsAt), Value: a.Value,
	}
}

// Alert is the alert a message carries.
func (m AlertMsg) Alert() monitors.Alert {
	labels := m.Labels
	if len(labels) == 0 {
		labels = nil
	}
	return monitors.Alert{
		Rule: m.Rule, Status: monitors.AlertState(m.Status), Severity: m.Severity, Queue: m.Queue, Session: m.Session,
		Labels: labels, Annotations: m.Annotations, StartsAt: utc(m.StartsAt), EndsAt: utc(m.EndsAt), Value: m.Value,
	}
}

// Validate checks what a reader relies on.
func (m AlertMsg) Validate() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := checkID("rule", m.Rule, "the rule's name"); err != nil {
		return err
	}
	switch m.Status {
	case string(monitors.Firing):
		if !m.EndsAt.IsZero() {
			return fmt.Errorf("%q is set on a firing alert: expected it only once resolved", "ends_at")
		}
	case string(monitors.Resolved):
		if m.EndsAt.IsZero() {
			return missing("ends_at", "when the alert resolved")
		}
	default:
		return fmt.Errorf("%q is %q: expected firing or resolved", "status", m.Status)
	}
	if m.Severity == "" {
		return missing("severity", "critical, warning, info or another word")
	}
	if m.StartsAt.IsZero() {
		return missing("starts_at", "when the alert fired")
	}
	if err := inRange("starts_at", m.StartsAt); err != nil {
		return err
	}
	if err := inRange("ends_at", m.EndsAt); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(m.Value)) {
		if v := m.Value[k]; math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%q is %v: expected a finite number", "value."+k, v)
		}
	}
	return nil
}

// EncodeAlert is an alert's payload.
func EncodeAlert(a monitors.Alert) ([]byte, error) { return encode("alert", NewAlertMsg(a)) }

// DecodeAlert reads an alert's payload.
func DecodeAlert(data []byte) (monitors.Alert, error) {
	return decode("alert", data, AlertMsg.Alert)
}

// AlertMsgID is an alert transition's Nats-Msg-Id: one message per rule,
// queue or session, status and firing (its start, in Unix milliseconds).
func AlertMsgID(a monitors.Alert) string {
	return "alert-" + Token(a.Rule) + "-" + Token(a.Key()) + "-" + Token(string(a.Status)) + "-" + strconv.FormatInt(a.StartsAt.UnixMilli(), 10)
}

// PublishAlert publishes an alert firing or resolved on
// acdbridge.alert.<rule> into stream EVENTS.
func (b *Bus) PublishAlert(ctx context.Context, a monitors.Alert) error {
	data, err := EncodeAlert(a)
	if err != nil {
		return err
	}
	return b.publish(ctx, AlertSubject(a.Rule), AlertMsgID(a), data)
}
