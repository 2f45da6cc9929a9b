package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// runner is one Run: a single loop owns every piece of state below and is
// the only one that sends to out, so updates leave in the order learned.
// The stream is read by one goroutine at a time, which only decodes and
// hands events over.
type runner struct {
	c   *Client
	out chan<- Update

	agentRows int // the size of the last agent table, to size the next one

	// What the client knows of the source's sequence.
	synced     bool   // tables were sent in this Run
	resume     uint64 // the stream's resume point: the last event id seen, or the first tables' sequence
	high       uint64 // the highest sequence seen anywhere, to notice a source that restarted
	agentFloor uint64 // agent events at or below this are already in the last agent table
	queueFloor uint64 // likewise for queue events

	// The source's clock, as last read (an as_of) and when (wall clock):
	// queue events carry no as_of, so theirs is estimated from this.
	sourceAsOf time.Time
	sourceAt   time.Time

	pollOK        bool      // the last poll succeeded
	lastPoll      time.Time // when it did
	pollBackoff   backoff
	streamBackoff backoff
	notBefore     time.Time // the source asked (Retry-After) for no calls before this

	stream    *streamConn // the open or opening stream; nil when none
	streaming bool        // the stream answered 200 and is being read
	// downSince is when the stream stopped delivering (zero while it
	// delivers): polls run every PollInterval from then until a connection
	// delivers an event again. A stream that connects and is cut before its
	// first event does not count as back.
	downSince time.Time
	attempts  int // stream connection attempts in this Run
	wg        sync.WaitGroup

	pollTimer   *time.Timer
	pollAt      time.Time // zero: no poll scheduled
	streamTimer *time.Timer
	streamAt    time.Time // zero: no stream attempt scheduled
}

// streamConn is one stream connection's goroutine.
type streamConn struct {
	cancel   context.CancelFunc
	msgs     chan streamMsg
	gotEvent bool   // it delivered at least one good event
	dropped  string // the reason the source gave in a dropped event
}

func newRunner(c *Client, out chan<- Update) *runner {
	r := &runner{
		c: c, out: out,
		pollBackoff:   backoff{min: c.cfg.BackoffMin, max: c.cfg.BackoffMax},
		streamBackoff: backoff{min: c.cfg.BackoffMin, max: c.cfg.BackoffMax},
		pollTimer:     time.NewTimer(time.Hour),
		streamTimer:   time.NewTimer(time.Hour),
	}
	r.pollTimer.Stop()
	r.streamTimer.Stop()
	return r
}

// stop ends the stream goroutine, if any, and waits for it.
func (r *runner) stop() {
	r.closeStream()
	r.wg.Wait()
	r.pollTimer.Stop()
	r.streamTimer.Stop()
}

func (r *runner) run(ctx context.Context) {
	r.schedulePoll(time.Now())
	if r.c.cfg.Stream {
		r.downSince = time.Now()
	}
	for ctx.Err() == nil {
		var msgs <-chan streamMsg
		if r.stream != nil {
			msgs = r.stream.msgs
		}
		select {
		case <-ctx.Done():
			return
		case <-r.pollTimer.C:
			r.pollAt = time.Time{}
			r.poll(ctx)
		case <-r.streamTimer.C:
			r.streamAt = time.Time{}
			r.connect(ctx)
		case m := <-msgs:
			r.onStream(ctx, m)
		}
		r.updateMode()
	}
}

// schedulePoll moves the next poll to at (or to the end of a Retry-After).
func (r *runner) schedulePoll(at time.Time) {
	if at.Before(r.notBefore) {
		at = r.notBefore
	}
	r.pollAt = at
	r.pollTimer.Reset(max(time.Until(at), 0))
}

// pollNoLaterThan brings the next poll forward to at, if it is later, and
// unless a failed poll is being retried on its own backoff.
func (r *runner) pollNoLaterThan(at time.Time) {
	if !r.pollOK {
		return
	}
	if r.pollAt.IsZero() || at.Before(r.pollAt) {
		r.schedulePoll(at)
	}
}

func (r *runner) scheduleStream(at time.Time) {
	if at.Before(r.notBefore) {
		at = r.notBefore
	}
	r.streamAt = at
	r.streamTimer.Reset(max(time.Until(at), 0))
}

func (r *runner) updateMode() {
	switch {
	case r.streaming:
		r.c.setMode(Streaming)
	case r.pollOK:
		r.c.setMode(Polling)
	default:
		r.c.setMode(Down)
	}
}

// emit sends u, unless ctx ends first.
func (r *runner) emit(ctx context.Context, u Update) bool {
	select {
	case r.out <- u:
		return true
	case <-ctx.Done():
		return false
	}
}

// failed records a failure: state, metrics, a log line that cannot flood,
// and the hold a Retry-After asks for.
func (r *runner) failed(what string, err error) {
	c := r.c
	c.setError(err)
	if ra := retryAfterOf(err); ra > 0 {
		if t := time.Now().Add(ra); t.After(r.notBefore) {
			r.notBefore = t
		}
	}
	var pe *PayloadError
	switch {
	case errors.As(err, &pe):
		c.m.bad.WithLabelValues(pe.Kind).Inc()
		c.limited.Log(hclog.Warn, "bad:"+pe.Kind, "rejected a payload that breaks the Remote Support API contract; the bridge's picture is unchanged",
			"kind", pe.Kind, "error", err.Error())
	case unauthorized(err):
		msg := "the source rejected the token (401): check source.token"
		if se := (*StatusError)(nil); errors.As(err, &se) && se.Status == http.StatusForbidden {
			msg = "the source refused the token (403): check that source.token may read the monitors"
		}
		c.limited.Log(hclog.Error, "auth:"+what, msg, "call", what, "error", err.Error())
	default:
		c.limited.Log(hclog.Warn, "fail:"+what, "the source call failed; backing off", "call", what, "error", err.Error())
	}
}

// poll takes both snapshots and sends them as tables.
func (r *runner) poll(ctx context.Context) {
	c := r.c
	agents, aRecv, err := c.fetchAgents(ctx, r.agentRows)
	var queues queuesSnapshot
	var qRecv time.Time
	if err == nil {
		queues, qRecv, err = c.fetchQueues(ctx)
	}
	if err == nil && queues.seq < agents.seq {
		err = fmt.Errorf("the queues snapshot (sequence %d) is older than the agents snapshot taken before it (sequence %d): did the source restart between the two calls? Polling again", queues.seq, agents.seq)
	}
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		r.pollOK = false
		r.failed("poll", err)
		r.schedulePoll(time.Now().Add(max(r.pollBackoff.next(), retryAfterOf(err))))
		if r.c.cfg.Stream && r.synced && r.stream == nil && r.streamAt.IsZero() {
			r.scheduleStream(time.Now())
		}
		return
	}
	r.pollBackoff.reset()
	r.pollOK = true
	r.lastPoll = time.Now()
	r.agentRows = len(agents.agents)

	// The first tables of a Run, and tables whose sequence went backwards
	// (the source restarted, and its counter with it), replace everything.
	restarted := r.synced && agents.seq < r.high
	authoritative := !r.synced || restarted
	if restarted {
		c.log.Warn("the source's sequence went backwards: it restarted; its tables replace the bridge's picture",
			"sequence", agents.seq, "highest_seen", r.high)
	}
	if !r.synced || restarted {
		r.resume = agents.seq
		r.high = queues.seq
	} else {
		r.high = max(r.high, queues.seq)
	}
	r.agentFloor, r.queueFloor = agents.seq, queues.seq
	r.synced = true
	if !r.emit(ctx, Update{Kind: Agents, Seq: agents.seq, AsOf: agents.asOf, Received: aRecv, Authoritative: authoritative, AgentList: agents.agents}) {
		return
	}
	if !r.emit(ctx, Update{Kind: Queues, Seq: queues.seq, AsOf: queues.asOf, Received: qRecv, Authoritative: authoritative, QueueList: queues.queues}) {
		return
	}
	c.setSuccess(qRecv)
	r.sourceClock(queues.asOf, qRecv)

	if r.streaming && r.downSince.IsZero() {
		r.schedulePoll(r.lastPoll.Add(c.cfg.ReconcileInterval))
	} else {
		r.schedulePoll(r.lastPoll.Add(c.cfg.PollInterval))
	}
	if !c.cfg.Stream {
		return
	}
	if restarted && r.stream != nil {
		// A stream that outlived a restart of its source is not to be
		// trusted; open it again from the new tables.
		r.closeStream()
		if r.downSince.IsZero() {
			r.downSince = time.Now()
		}
	}
	if r.stream == nil && r.streamAt.IsZero() {
		r.scheduleStream(time.Now())
	}
}

// connect opens the stream from the resume point, in its own goroutine.
func (r *runner) connect(ctx context.Context) {
	if r.stream != nil || !r.synced {
		return
	}
	r.attempts++
	if r.attempts > 1 {
		r.c.m.reconnects.Inc()
	}
	sctx, cancel := context.WithCancel(ctx)
	sc := &streamConn{cancel: cancel, msgs: make(chan streamMsg, 64)}
	r.stream = sc
	after := r.resume
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.c.runStream(sctx, after, sc.msgs)
	}()
	r.c.log.Debug("opening the event stream", "last_event_id", after)
}

// closeStream ends the current stream connection, if any. Its goroutine
// stops on its own; its messages are no longer read.
func (r *runner) closeStream() {
	if r.stream != nil {
		r.stream.cancel()
		r.stream = nil
	}
	r.streaming = false
}

// streamEnded handles the end of a stream connection, whatever the cause.
// report is false when the cause was already reported (and counted).
func (r *runner) streamEnded(err error, report bool) {
	sc := r.stream
	r.closeStream()
	if sc != nil && sc.dropped != "" {
		err = fmt.Errorf("the source dropped the stream: %s", sc.dropped)
	}
	if sc != nil && sc.gotEvent {
		// It worked for a while: come back soon, not after the backoff
		// the failures before it built up.
		r.streamBackoff.reset()
	}
	if report {
		r.failed("stream", err)
	}
	r.scheduleStream(time.Now().Add(max(r.streamBackoff.next(), retryAfterOf(err))))
	if r.downSince.IsZero() {
		r.downSince = time.Now()
	}
	// Until the stream is back, poll every PollInterval.
	r.pollNoLaterThan(r.downSince.Add(r.c.cfg.PollInterval))
}

func (r *runner) onStream(ctx context.Context, m streamMsg) {
	switch {
	case m.end != nil:
		r.streamEnded(m.end, true)
	case m.connected:
		r.streaming = true
		r.c.limited.Log(hclog.Info, "stream:connected", "event stream open", "last_event_id", r.resume)
	case m.event != nil:
		r.onEvent(ctx, m.event)
	}
}

// hasID says whether events of this name carry an id: (heartbeat and
// dropped do not; reset does, but is checked by its data's sequence).
func hasID(name string) bool {
	switch name {
	case evHeartbeat, evDropped, evReset:
		return false
	}
	return true
}

func (r *runner) onEvent(ctx context.Context, e *rawEvent) {
	c := r.c
	label := e.ev.name
	if e.err != nil {
		label = e.name
	}
	switch label {
	case evAgent, evQueue, evRequest, evSessionEnded, evReset, evHeartbeat, evDropped:
	default:
		label = evUnknown
	}
	c.m.events.WithLabelValues(label).Inc()
	loc := "stream event " + strconv.Quote(truncate(e.name, 40))

	if hasID(label) {
		seq, err := strconv.ParseUint(e.id, 10, 64)
		if err != nil {
			if label != evUnknown {
				r.failed("stream", &PayloadError{Kind: KindBadValue, Where: loc,
					Err: fmt.Errorf("expected a numeric id: field, got %q", truncate(e.id, 40))})
			}
			return
		}
		if seq <= r.resume {
			// Already seen, or an event that came without an id of its
			// own (go-sse then repeats the last one): either way, not new.
			c.log.Debug("skipping a stream event at or before the resume point", "event", label, "id", seq, "resume", r.resume)
			return
		}
		if seq > r.resume+1 {
			c.limited.Log(hclog.Warn, "stream:gap", "the stream skipped sequence numbers", "after", r.resume, "got", seq)
		}
		r.resume = seq
		r.high = max(r.high, seq)
		loc += " (id " + e.id + ")"
	}

	if e.err != nil {
		r.failed("stream", where(e.err, loc))
		switch label {
		case evAgent, evQueue:
			// The table is now missing a change: reconcile soon.
			r.pollNoLaterThan(r.lastPoll.Add(c.cfg.PollInterval))
		case evReset:
			// No baseline: poll now, and try the stream again later.
			r.pollNoLaterThan(time.Now())
			r.streamEnded(e.err, false)
		}
		return
	}

	ev := e.ev
	u := Update{Received: e.received}
	switch ev.name {
	case evUnknown:
		c.log.Debug("ignoring a stream event the contract does not know", "event", truncate(e.name, 40))
		return
	case evDropped:
		c.limited.Log(hclog.Warn, "stream:dropped", "the source is dropping the stream; resuming", "reason", ev.reason, "last_event_id", r.resume)
		if r.stream != nil {
			r.stream.dropped = ev.reason
		}
		return
	case evHeartbeat:
		u.Kind, u.Seq, u.AsOf = Heartbeat, ev.seq, ev.asOf
		r.sourceClock(ev.asOf, e.received)
	case evReset:
		c.limited.Log(hclog.Warn, "stream:reset", "the stream could not resume; the source sent its whole state (request and session events in between are lost)",
			"reason", ev.reason, "last_event_id", r.resume, "sequence", ev.seq)
		r.resume, r.high, r.agentFloor, r.queueFloor = ev.seq, ev.seq, ev.seq, ev.seq
		r.sourceClock(ev.asOf, e.received)
		if !r.emit(ctx, Update{Kind: Agents, Seq: ev.seq, AsOf: ev.asOf, Received: e.received, Authoritative: true, AgentList: ev.agents}) {
			return
		}
		u = Update{Kind: Queues, Seq: ev.seq, AsOf: ev.asOf, Received: e.received, Authoritative: true, QueueList: ev.queues}
	case evAgent:
		u.Kind, u.Seq, u.Agent = AgentChanged, r.resume, ev.agent
	case evQueue:
		u.Kind, u.Seq, u.Queue = QueueChanged, r.resume, ev.queue
		u.Queue.AsOf = r.sourceNow(e.received)
	case evRequest:
		u.Kind, u.Seq, u.Request = RequestEvent, r.resume, ev.request
	case evSessionEnded:
		u.Kind, u.Seq, u.Session = SessionEnded, r.resume, ev.session
	}
	r.delivering()
	// An agent or queue event at or below the last table's sequence is
	// already in that table; sending it would flap the agent back.
	stale := (u.Kind == AgentChanged && u.Seq <= r.agentFloor) || (u.Kind == QueueChanged && u.Seq <= r.queueFloor)
	if !stale && !r.emit(ctx, u) {
		return
	}
	c.setSuccess(e.received)
}

// delivering notes that the stream delivered a good event: it is back.
func (r *runner) delivering() {
	if r.stream != nil {
		r.stream.gotEvent = true
	}
	if !r.downSince.IsZero() {
		r.downSince = time.Time{}
		if r.pollOK {
			// Back to reconcile polls only.
			r.schedulePoll(r.lastPoll.Add(r.c.cfg.ReconcileInterval))
		}
	}
}

// sourceClock notes the source's as_of, read at the wall clock's at.
func (r *runner) sourceClock(asOf, at time.Time) {
	r.sourceAsOf, r.sourceAt = asOf, at
}

// sourceNow estimates the source's clock at the wall clock's at: its last
// as_of plus the time since. It is zero before the first as_of.
func (r *runner) sourceNow(at time.Time) time.Time {
	if r.sourceAsOf.IsZero() {
		return time.Time{}
	}
	return r.sourceAsOf.Add(max(at.Sub(r.sourceAt), 0))
}
