// Package availability decides what the bridge wants ACDs to believe about
// each agent: available or not, with the state that decided it and a reason.
// Rules map the states an agent can be in to availability; when several hold
// at once (away with a session still open), precedence picks the one that
// speaks. Every change gets a per-agent version that only grows, and an
// optional minimum dwell time holds back changes that come too fast.
package availability

import (
	"fmt"
	"slices"
	"time"

	"github.com/acdbridge/acdbridge/monitors"
)

// Desired is the availability the bridge wants for one agent.
type Desired struct {
	AgentID   string
	Available bool
	State     monitors.Status // the state that decided
	Reason    string          // the bridge's reason text; empty when available
	Version   uint64          // grows with every change for this agent
	Since     time.Time       // when this availability took effect
}

// StateRule is the availability one state gives.
type StateRule struct {
	State     monitors.Status
	Available bool
	Reason    string
}

// Rules map states to availability.
type Rules struct {
	// Precedence lists states from strongest to weakest; the first that
	// holds for an agent decides.
	Precedence []StateRule
	// MinDwell is how long an availability stays in effect at least before
	// the next change is let through; 0 lets every change through at once.
	MinDwell time.Duration
}

// DefaultReason is the reason text the bridge pauses with unless told
// otherwise; adapters recognise their own pauses by it.
const DefaultReason = "remote-support"

// DefaultRules: unavailable while in at least one remote-support session, or
// away, or offline. Offline is strongest, then a session (an agent away with
// a session still open is busy with it), then away.
func DefaultRules() Rules {
	r, err := NewRules([]monitors.Status{monitors.InSession, monitors.Away, monitors.Offline}, DefaultReason, nil, 0)
	if err != nil {
		panic(err) // the defaults are valid
	}
	return r
}

// NewRules builds rules: the states in unavailable make an agent
// unavailable, with reason (reasons can be set per state in
// reasonByState); precedence orders the states (nil: offline, in_session,
// away, available).
func NewRules(unavailable []monitors.Status, reason string, reasonByState map[monitors.Status]string, minDwell time.Duration) (Rules, error) {
	order := []monitors.Status{monitors.Offline, monitors.InSession, monitors.Away, monitors.Available}
	if len(reason) > 79 {
		return Rules{}, fmt.Errorf("reason %q is %d characters; at most 79 fit an ACD's pause reason", reason, len(reason))
	}
	for _, s := range unavailable {
		if _, err := monitors.ParseStatus(string(s)); err != nil {
			return Rules{}, err
		}
		if s == monitors.Available {
			return Rules{}, fmt.Errorf("unavailable_when cannot hold %q", s)
		}
	}
	for s, text := range reasonByState {
		if _, err := monitors.ParseStatus(string(s)); err != nil {
			return Rules{}, err
		}
		if len(text) > 79 {
			return Rules{}, fmt.Errorf("reason for %s is %d characters; at most 79 fit an ACD's pause reason", s, len(text))
		}
	}
	if minDwell < 0 {
		return Rules{}, fmt.Errorf("min_dwell %s: expected zero or more", minDwell)
	}
	r := Rules{MinDwell: minDwell}
	for _, s := range order {
		sr := StateRule{State: s, Available: !slices.Contains(unavailable, s)}
		if !sr.Available {
			sr.Reason = reason
			if text, ok := reasonByState[s]; ok {
				sr.Reason = text
			}
		}
		r.Precedence = append(r.Precedence, sr)
	}
	return r, nil
}

// holds says whether state s holds for agent a. An agent is in a session
// while it has at least one, whatever else its status says.
func holds(s monitors.Status, a monitors.Agent) bool {
	switch s {
	case monitors.InSession:
		return a.Status == monitors.InSession || a.ActiveSessions > 0
	default:
		return a.Status == s
	}
}

// Decide applies the rules to one agent.
func (r Rules) Decide(a monitors.Agent) StateRule {
	for _, sr := range r.Precedence {
		if holds(sr.State, a) {
			return sr
		}
	}
	return StateRule{State: a.Status, Available: true}
}

// WithPrecedence reorders the rules: order lists every state once, from
// strongest to weakest (the default is offline, in_session, away,
// available). A center that wants an agent's break to show even while a
// session is still open puts away before in_session.
func (r Rules) WithPrecedence(order []monitors.Status) (Rules, error) {
	if len(order) != len(r.Precedence) {
		return r, fmt.Errorf("precedence %v: expected each of offline, in_session, away and available once", order)
	}
	byState := map[monitors.Status]StateRule{}
	for _, sr := range r.Precedence {
		byState[sr.State] = sr
	}
	out := r
	out.Precedence = nil
	for _, s := range order {
		sr, ok := byState[s]
		if !ok {
			return r, fmt.Errorf("precedence %v: %q is unknown or listed twice; expected each of offline, in_session, away and available once", order, s)
		}
		delete(byState, s)
		out.Precedence = append(out.Precedence, sr)
	}
	return out, nil
}
