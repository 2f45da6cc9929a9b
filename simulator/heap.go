package simulator

// timer kinds: what happens when a timer in the engine's heap is due.
const (
	tArrival    uint8 = iota + 1 // a queue's next customer (maybe; the profile thins arrivals)
	tAbandon                     // a waiting customer runs out of patience
	tSessionEnd                  // a session ends
	tShiftStart                  // an agent logs in
	tShiftEnd                    // an agent's shift is over
	tBreakStart                  // an agent goes away
	tBreakEnd                    // an agent is back
	tCodeExpire                  // a connection code expires
)

// timer is one future happening. seq orders timers due at the same instant
// by when they were set, which keeps the engine deterministic.
type timer struct {
	at   int64 // simulated Unix nanoseconds
	seq  uint64
	kind uint8
	gen  uint32 // agent timers: the agent's generation when set
	idx  int32  // agent or queue index
	req  *request
	sess *session
	code *code
}

// timerHeap is a binary min-heap of timers by (at, seq). It is written out
// rather than built on container/heap so that pushing a timer does not box it.
type timerHeap []timer

func (h timerHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h *timerHeap) push(t timer) {
	*h = append(*h, t)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *timerHeap) pop() timer {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = timer{}
	s = s[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// agentHeap holds the agents who can take a request from one queue, the best
// candidate on top: fewest active sessions, then idle the longest. Agents
// sit in one heap per queue they serve and remember their place in each, so a
// change of state moves them in O(log n).
type agentHeap struct {
	q     *queue
	items []*agent
}

// heapRef is where an agent sits in one of its queues' candidate heaps.
type heapRef struct {
	q   *queue
	pos int32 // -1: not in the heap
}

func agentBefore(a, b *agent) bool {
	if a.active != b.active {
		return a.active < b.active
	}
	if a.idleSince != b.idleSince {
		return a.idleSince < b.idleSince
	}
	return a.idx < b.idx
}

func (h *agentHeap) setPos(i int) {
	a := h.items[i]
	a.refs[a.slotOf(h.q)].pos = int32(i)
}

func (h *agentHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !agentBefore(h.items[i], h.items[p]) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		h.setPos(i)
		h.setPos(p)
		i = p
	}
}

func (h *agentHeap) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && agentBefore(h.items[r], h.items[l]) {
			m = r
		}
		if !agentBefore(h.items[m], h.items[i]) {
			return
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		h.setPos(i)
		h.setPos(m)
		i = m
	}
}

func (h *agentHeap) add(a *agent, ref *heapRef) {
	h.items = append(h.items, a)
	ref.pos = int32(len(h.items) - 1)
	h.up(len(h.items) - 1)
}

func (h *agentHeap) remove(ref *heapRef) {
	i := int(ref.pos)
	n := len(h.items) - 1
	ref.pos = -1
	if i != n {
		h.items[i] = h.items[n]
		h.setPos(i)
	}
	h.items[n] = nil
	h.items = h.items[:n]
	if i != n {
		h.down(i)
		h.up(i)
	}
}

func (h *agentHeap) fix(ref *heapRef) {
	i := int(ref.pos)
	h.down(i)
	h.up(i)
}

func (h *agentHeap) top() *agent {
	if len(h.items) == 0 {
		return nil
	}
	return h.items[0]
}
