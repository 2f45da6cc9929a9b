package monitors

import (
	"sort"
	"time"
)

// QueueEvent is a change to one queue.
type QueueEvent = Event[Queue]

func queueID(q Queue) string { return q.ID }

// QueuesEqual compares the figures that matter of two queues; AsOf and the
// source's LongestWait move with every report and are not a change.
func QueuesEqual(a, b Queue) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Parent == b.Parent && a.Waiting == b.Waiting &&
		a.OldestRequestAt.Equal(b.OldestRequestAt) && a.AgentsLoggedIn == b.AgentsLoggedIn &&
		a.AgentsAvailable == b.AgentsAvailable
}

// QueueMonitor is the live table of queues.
type QueueMonitor struct {
	t *table[Queue]
	Freshness
}

// NewQueueMonitor makes an empty queue monitor that goes stale when no fresh
// data arrives for staleAfter.
func NewQueueMonitor(staleAfter time.Duration) *QueueMonitor {
	return &QueueMonitor{t: newTable(queueID, QueuesEqual), Freshness: Freshness{After: staleAfter}}
}

// Snapshot applies a full queue table taken at seq.
func (m *QueueMonitor) Snapshot(queues []Queue, seq uint64, authoritative bool) []QueueEvent {
	return m.t.snapshot(queues, seq, authoritative)
}

// Change applies one queue from the stream at seq.
func (m *QueueMonitor) Change(q Queue, seq uint64) (QueueEvent, bool) {
	return m.t.change(q, seq)
}

// Get is one queue.
func (m *QueueMonitor) Get(id string) (Queue, bool) { return m.t.get(id) }

// All is every queue, by id.
func (m *QueueMonitor) All() []Queue { return m.t.all() }

// Figures are a queue's numbers as the bridge derives them at one moment.
type Figures struct {
	Queue           string
	Waiting         int
	LongestWait     time.Duration
	AgentsLoggedIn  int // from the agent monitor: agents serving the queue and not offline
	AgentsAvailable int // from the agent monitor: agents serving the queue and available
}

// Figures derives every queue's figures at now: waiting and the longest wait
// from the queue's last report (the wait keeps growing between reports),
// agents logged in and available from the agent table, so they stay right
// even when a queue event was lost.
func (m *QueueMonitor) Figures(agents *AgentMonitor, now time.Time) []Figures {
	idx := make(map[string]int, len(m.t.rows))
	out := make([]Figures, 0, len(m.t.rows))
	for _, q := range m.All() {
		idx[q.ID] = len(out)
		out = append(out, Figures{Queue: q.ID, Waiting: q.Waiting, LongestWait: q.LongestWaitAt(now)})
	}
	for _, r := range agents.t.rows {
		a := r.v
		for _, qid := range a.Queues {
			i, ok := idx[qid]
			if !ok {
				continue
			}
			if a.Status != Offline {
				out[i].AgentsLoggedIn++
			}
			if a.Status == Available {
				out[i].AgentsAvailable++
			}
		}
	}
	return out
}

// Busiest is the n queues with the most customers waiting, then the longest
// wait.
func Busiest(figs []Figures, n int) []Figures {
	s := append([]Figures(nil), figs...)
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Waiting != s[j].Waiting {
			return s[i].Waiting > s[j].Waiting
		}
		return s[i].LongestWait > s[j].LongestWait
	})
	return s[:min(n, len(s))]
}
