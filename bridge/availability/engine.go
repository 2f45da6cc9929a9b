package availability

import (
	"time"

	"github.com/acdbridge/acdbridge/monitors"
)

// Engine keeps each agent's desired availability and its version. It is not
// safe for concurrent use: one goroutine of the runtime owns it.
type Engine struct {
	rules   Rules
	current map[string]Desired
	pending map[string]StateRule // changes held back by the dwell time
}

// NewEngine starts from the desired state known so far (from the bus after a
// restart, so versions keep growing); known may be nil.
func NewEngine(rules Rules, known map[string]Desired) *Engine {
	e := &Engine{rules: rules, current: map[string]Desired{}, pending: map[string]StateRule{}}
	for id, d := range known {
		e.current[id] = d
	}
	return e
}

// Rules are the engine's rules.
func (e *Engine) Rules() Rules { return e.rules }

// Apply decides an agent's availability at now. It returns the new desired
// availability and true when it changed and may take effect now. A change
// within the dwell time is held back; Due releases it later.
func (e *Engine) Apply(a monitors.Agent, now time.Time) (Desired, bool) {
	return e.set(a.ID, e.rules.Decide(a), now)
}

func (e *Engine) set(id string, sr StateRule, now time.Time) (Desired, bool) {
	cur, known := e.current[id]
	if known && cur.Available == sr.Available && cur.Reason == sr.Reason && cur.State == sr.State {
		delete(e.pending, id)
		return cur, false
	}
	if known && e.rules.MinDwell > 0 && now.Sub(cur.Since) < e.rules.MinDwell {
		e.pending[id] = sr
		return cur, false
	}
	delete(e.pending, id)
	d := Desired{AgentID: id, Available: sr.Available, State: sr.State, Reason: sr.Reason, Version: cur.Version + 1, Since: now}
	e.current[id] = d
	return d, true
}

// Due releases the held-back changes whose dwell time has passed at now.
func (e *Engine) Due(now time.Time) []Desired {
	var out []Desired
	for id, sr := range e.pending {
		if now.Sub(e.current[id].Since) >= e.rules.MinDwell {
			if d, ok := e.set(id, sr, now); ok {
				out = append(out, d)
			}
		}
	}
	return out
}

// Remove forgets an agent the source no longer lists; its version is kept
// so that a comeback continues from it.
func (e *Engine) Remove(id string) {
	delete(e.pending, id)
}

// Get is an agent's current desired availability.
func (e *Engine) Get(id string) (Desired, bool) {
	d, ok := e.current[id]
	return d, ok
}

// All is every agent's current desired availability.
func (e *Engine) All() map[string]Desired {
	out := make(map[string]Desired, len(e.current))
	for id, d := range e.current {
		out[id] = d
	}
	return out
}
