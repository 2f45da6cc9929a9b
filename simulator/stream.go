package simulator

import "sync"

// Stream event names.
const (
	evAgent        = "agent"
	evQueue        = "queue"
	evRequest      = "request"
	evSessionEnded = "session_ended"
	evReset        = "reset"
	evHeartbeat    = "heartbeat"
	evDropped      = "dropped"
)

type streamEvent struct {
	seq  uint64
	name string
	data any
}

// ring keeps the newest stream events, numbered by a global sequence, for
// every client to read at its own pace. The engine only ever writes to it,
// so a slow client can never slow the engine or the other clients: it falls
// behind, and once the events it still needs are overwritten it is dropped.
type ring struct {
	mu      sync.RWMutex
	buf     []streamEvent
	last    uint64 // sequence of the newest event; 0 before the first
	changed chan struct{}
	pending bool
}

func newRing(size int) *ring {
	if size < 16 {
		size = 16
	}
	return &ring{buf: make([]streamEvent, size), changed: make(chan struct{})}
}

func (r *ring) publish(name string, data any) {
	r.mu.Lock()
	r.last++
	r.buf[r.last%uint64(len(r.buf))] = streamEvent{seq: r.last, name: name, data: data}
	r.pending = true
	r.mu.Unlock()
}

// notify wakes the readers if anything was published since the last call.
func (r *ring) notify() {
	r.mu.Lock()
	if r.pending {
		close(r.changed)
		r.changed = make(chan struct{})
		r.pending = false
	}
	r.mu.Unlock()
}

func (r *ring) sequence() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.last
}

// holds says whether a client that has seen every event up to after can
// resume: the events after it are still in the ring.
func (r *ring) holds(after uint64) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.holdsLocked(after)
}

func (r *ring) holdsLocked(after uint64) bool {
	if after > r.last {
		return false
	}
	return r.last-after <= uint64(len(r.buf))
}

// read appends to dst up to limit events after the sequence after. ok is
// false when events the client needs are gone. wait is closed when more
// events arrive.
func (r *ring) read(dst []streamEvent, after uint64, limit int) (out []streamEvent, ok bool, wait <-chan struct{}) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.holdsLocked(after) {
		return dst, false, nil
	}
	for s := after + 1; s <= r.last && len(dst) < limit; s++ {
		dst = append(dst, r.buf[s%uint64(len(r.buf))])
	}
	return dst, true, r.changed
}

// StreamEvent is one event of the stream, for in-process observers.
type StreamEvent struct {
	Seq  uint64
	Name string // agent, queue, request or session_ended
	Data any    // AgentJSON, QueueJSON, *RequestJSON or SessionSummary
}

// StreamEvents returns up to limit events after the sequence after, as the
// stream would send them; ok is false when some of them are no longer kept.
// It lets a process that embeds the simulator (tests, above all) see every
// change without an HTTP client.
func (e *Engine) StreamEvents(after uint64, limit int) (events []StreamEvent, ok bool) {
	e.lock()
	e.mu.Unlock()
	evs, ok, _ := e.stream.read(nil, after, limit)
	for _, ev := range evs {
		events = append(events, StreamEvent{Seq: ev.seq, Name: ev.name, Data: ev.data})
	}
	return events, ok
}
