package monitors

import (
	"slices"
	"time"
)

// AgentEvent is a change to one agent.
type AgentEvent = Event[Agent]

func agentID(a Agent) string { return a.ID }

// AgentsEqual compares every field of two agents.
func AgentsEqual(a, b Agent) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Email == b.Email && a.Status == b.Status &&
		a.ActiveSessions == b.ActiveSessions && a.MaxSessions == b.MaxSessions &&
		a.StatusSince.Equal(b.StatusSince) && slices.Equal(a.Queues, b.Queues)
}

// DiffAgents is the events between two agent snapshots.
func DiffAgents(old, new []Agent) []AgentEvent {
	return Diff(old, new, agentID, AgentsEqual)
}

// AgentMonitor is the live table of agents. It is not safe for concurrent
// use; the runtime owns it.
type AgentMonitor struct {
	t *table[Agent]
	Freshness
}

// NewAgentMonitor makes an empty agent monitor that goes stale when no fresh
// data arrives for staleAfter.
func NewAgentMonitor(staleAfter time.Duration) *AgentMonitor {
	return &AgentMonitor{t: newTable(agentID, AgentsEqual), Freshness: Freshness{After: staleAfter}}
}

// Snapshot applies a full agent table taken at seq.
func (m *AgentMonitor) Snapshot(agents []Agent, seq uint64, authoritative bool) []AgentEvent {
	return m.t.snapshot(agents, seq, authoritative)
}

// Change applies one agent from the stream at seq.
func (m *AgentMonitor) Change(a Agent, seq uint64) (AgentEvent, bool) {
	return m.t.change(a, seq)
}

// Get is one agent.
func (m *AgentMonitor) Get(id string) (Agent, bool) { return m.t.get(id) }

// All is every agent, by id.
func (m *AgentMonitor) All() []Agent { return m.t.all() }

// Len is the number of agents.
func (m *AgentMonitor) Len() int { return len(m.t.rows) }

// Counts is the number of agents in each status.
func (m *AgentMonitor) Counts() map[Status]int {
	out := make(map[Status]int, len(Statuses))
	for _, s := range Statuses {
		out[s] = 0
	}
	for _, r := range m.t.rows {
		out[r.v.Status]++
	}
	return out
}
