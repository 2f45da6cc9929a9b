package dispatch

import (
	"sync"

	"github.com/acdbridge/acdbridge/bridge/availability"
)

// mailbox holds what one adapter has still to be sent, coalesced per agent:
// only the newest version waits. Putting never blocks, so the producer (and
// through it every other adapter) never waits for a slow adapter.
type mailbox struct {
	mu      sync.Mutex
	pending map[string]availability.Desired
	order   []string // agents in the order they first became pending
	signal  chan struct{}
}

func newMailbox() *mailbox {
	return &mailbox{pending: map[string]availability.Desired{}, signal: make(chan struct{}, 1)}
}

// put adds d unless a newer or equal version of the agent already waits.
func (m *mailbox) put(d availability.Desired) {
	m.mu.Lock()
	cur, ok := m.pending[d.AgentID]
	if ok && cur.Version >= d.Version {
		m.mu.Unlock()
		return
	}
	if !ok {
		m.order = append(m.order, d.AgentID)
	}
	m.pending[d.AgentID] = d
	m.mu.Unlock()
	select {
	case m.signal <- struct{}{}:
	default:
	}
}

// take removes up to n waiting items, oldest first.
func (m *mailbox) take(n int) []availability.Desired {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []availability.Desired
	i := 0
	for ; i < len(m.order) && len(out) < n; i++ {
		id := m.order[i]
		if d, ok := m.pending[id]; ok {
			out = append(out, d)
			delete(m.pending, id)
		}
	}
	m.order = m.order[i:]
	if len(m.order) == 0 {
		m.order = nil
	}
	return out
}

// size is how many agents wait.
func (m *mailbox) size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pending)
}
