package simulator

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

type agent struct {
	idx           int32
	id            string
	name          string
	email         string
	queueIDs      []string // shared by every JSON copy; never changed
	queues        []*queue
	refs          []heapRef // one per queue, same order
	max           int
	active        int
	status        string
	statusSince   int64
	idleSince     int64
	onShift       bool
	onBreak       bool
	pendingBreak  bool // goes away when the current sessions end
	pendingLogout bool // logs out when the current sessions end
	gen           uint32
	bgen          uint32
	dirty         bool
}

func (a *agent) slotOf(q *queue) int {
	for i := range a.refs {
		if a.refs[i].q == q {
			return i
		}
	}
	panic("simulator: agent " + a.id + " is not in queue " + q.id)
}

// routable says whether the agent may be offered another request.
func (a *agent) routable() bool {
	return a.onShift && !a.onBreak && !a.pendingBreak && !a.pendingLogout && a.active < a.max
}

func (a *agent) derivedStatus() string {
	switch {
	case !a.onShift:
		return StatusOffline
	case a.onBreak:
		return StatusAway
	case a.active > 0:
		return StatusInSession
	default:
		return StatusAvailable
	}
}

type queue struct {
	idx        int32
	id         string
	name       string
	parent     *string
	required   []string
	routes     []route
	rate       float64   // requests per simulated second at profile factor 1
	profile    []float64 // 24 factors, or nil
	maxFactor  float64
	waiting    []*request // FIFO; requests no longer waiting are skipped lazily
	head       int
	nWaiting   int
	loggedIn   int
	available  int
	cand       agentHeap
	dirty      bool
	agentCount int
}

type route struct {
	field, equals string
	to            *queue
}

func (q *queue) factor(at int64) float64 {
	if q.profile == nil {
		return 1
	}
	return q.profile[time.Unix(0, at).UTC().Hour()]
}

// oldest is the request waiting longest in the queue, or nil.
func (q *queue) oldest() *request {
	for q.head < len(q.waiting) && q.waiting[q.head].status != RequestWaiting {
		q.waiting[q.head] = nil
		q.head++
	}
	q.waiting, q.head = compact(q.waiting, q.head, 1024)
	if q.head == len(q.waiting) {
		return nil
	}
	return q.waiting[q.head]
}

// compact drops the consumed front of a FIFO kept as a slice and a head
// index, once more than least entries and more than half of the slice are
// consumed, so that its memory stays bounded. It returns the slice and the
// new head.
func compact[T any](s []T, head, least int) ([]T, int) {
	if head <= least || head*2 <= len(s) {
		return s, head
	}
	n := copy(s, s[head:])
	clear(s[n:])
	return s[:n], 0
}

type request struct {
	ord         uint64
	id          string
	queue       *queue
	routedFrom  string
	created     int64
	status      string
	name        string
	email       string
	problem     string
	fields      map[string]string
	externalRef string
	agent       *agent
	sess        *session
	started     int64
	ended       int64
	abandoned   int64
}

type session struct {
	ord   uint64
	id    string
	req   *request
	agent *agent
	queue *queue
	start int64
	end   int64
}

const (
	codeActive uint8 = iota
	codeGone
)

type code struct {
	code        string
	agent       *agent
	queue       *queue
	externalRef string
	expires     int64
	state       uint8
}

// requestRetention is how long a finished request stays readable.
const requestRetention = 24 * time.Hour

// Engine is the simulated remote-support service. Its methods are safe for
// concurrent use; each brings the simulation up to the clock's now first.
type Engine struct {
	mu    sync.Mutex
	sc    Scenario
	clock Clock
	start int64
	now   int64
	rng   *rand.Rand
	seq   uint64

	timers    timerHeap
	agents    []*agent
	agentByID map[string]*agent
	queues    []*queue
	queueByID map[string]*queue

	requests  map[string]*request
	retired   []*request // finished requests, oldest first, deleted after requestRetention
	reqOrd    uint64
	sessOrd   uint64
	ended     []*session // ended sessions, by end time
	endedHead int
	codes     map[string]*code
	sessions  map[string]*session // running and ended, until pruned

	shaMu    sync.Mutex
	shaCache map[string]string

	durMu, durSigma float64 // session duration: log-normal
	patMu           float64 // customers' patience: log-normal, sigma patSigma

	dirtyAgents []*agent
	dirtyQueues []*queue

	stream    *ring
	history   *history
	wake      chan struct{}
	processed uint64
}

const patSigma = 0.9

// NewEngine builds the simulation described by sc, standing at clock.Now().
// streamBuffer is how many stream events are kept for resuming clients.
func NewEngine(sc Scenario, clock Clock, streamBuffer int) (*Engine, error) {
	if len(sc.Queues) == 0 {
		return nil, fmt.Errorf("scenario has no queues")
	}
	if sc.Sessions.MedianDuration <= 0 || sc.Sessions.P90Duration <= sc.Sessions.MedianDuration {
		return nil, fmt.Errorf("session durations: expected 0 < median (%s) < p90 (%s)", sc.Sessions.MedianDuration, sc.Sessions.P90Duration)
	}
	if err := sc.Shifts.check(); err != nil {
		return nil, fmt.Errorf("shifts: %w", err)
	}
	now := clock.Now().UnixNano()
	e := &Engine{
		sc:        sc,
		clock:     clock,
		start:     now,
		now:       now,
		rng:       rand.New(rand.NewPCG(sc.Seed, 0x9e3779b97f4a7c15)),
		agentByID: map[string]*agent{},
		queueByID: map[string]*queue{},
		requests:  map[string]*request{},
		codes:     map[string]*code{},
		sessions:  map[string]*session{},
		shaCache:  map[string]string{},
		stream:    newRing(streamBuffer),
		wake:      make(chan struct{}, 1),
	}
	e.durMu = math.Log(sc.Sessions.MedianDuration.Seconds())
	e.durSigma = math.Log(sc.Sessions.P90Duration.Seconds()/sc.Sessions.MedianDuration.Seconds()) / 1.2816
	e.patMu = math.Log(max(sc.Customers.PatienceMedian.Seconds(), 1))

	for i, qs := range sc.Queues {
		q := &queue{idx: int32(i), id: qs.ID, name: qs.Name, required: qs.RequiredFields, maxFactor: 1}
		if p, ok := parentOf(qs.ID); ok {
			q.parent = &p
		}
		if len(qs.Profile) == 24 {
			q.profile = qs.Profile
			q.maxFactor = 0
			for _, f := range qs.Profile {
				q.maxFactor = max(q.maxFactor, f)
			}
		}
		q.cand.q = q
		if _, dup := e.queueByID[q.id]; dup {
			return nil, fmt.Errorf("queue %q is declared twice", q.id)
		}
		e.queues = append(e.queues, q)
		e.queueByID[q.id] = q
	}
	for i, qs := range sc.Queues {
		for _, r := range qs.Routes {
			to, ok := e.queueByID[r.To]
			if !ok {
				return nil, fmt.Errorf("queue %q: route to unknown queue %q", qs.ID, r.To)
			}
			e.queues[i].routes = append(e.queues[i].routes, route{field: r.Field, equals: r.Equals, to: to})
		}
	}
	for _, g := range sc.Agents {
		qs := make([]*queue, 0, len(g.Queues))
		for _, id := range g.Queues {
			q, ok := e.queueByID[id]
			if !ok {
				return nil, fmt.Errorf("agents %q: unknown queue %q", g.Name, id)
			}
			qs = append(qs, q)
		}
		for range g.Count {
			n := len(e.agents)
			first, last := firstNames[n%len(firstNames)], lastNames[(n/len(firstNames)+n*7)%len(lastNames)]
			a := &agent{
				idx:      int32(n),
				id:       fmt.Sprintf("a-%04d", n+1),
				name:     first + " " + last,
				email:    fmt.Sprintf("%s.%s.%d@example.com", lower(first), lower(last), n+1),
				queueIDs: g.Queues,
				queues:   qs,
				max:      max(g.MaxSessions, 1),
				status:   StatusOffline,
			}
			for _, q := range qs {
				a.refs = append(a.refs, heapRef{q: q, pos: -1})
				q.agentCount++
			}
			e.agents = append(e.agents, a)
			e.agentByID[a.id] = a
		}
	}
	e.deriveRates()
	e.history = newHistory(e)

	// Agents start in the steady state of their shift cycle: on duty with
	// the share of the cycle a shift takes, part-way through it.
	cycle := sc.Shifts.Length + sc.Shifts.Off
	for _, a := range e.agents {
		a.statusSince = now
		a.idleSince = now
		if e.rng.Float64()*float64(cycle) < float64(sc.Shifts.Length) {
			a.onShift = true
			e.setShiftTimer(a, tShiftEnd, time.Duration(e.rng.Float64()*float64(sc.Shifts.Length)))
			e.scheduleBreak(a)
		} else {
			e.setShiftTimer(a, tShiftStart, time.Duration(e.rng.Float64()*float64(sc.Shifts.Off)))
		}
		e.refresh(a)
	}
	for _, q := range e.queues {
		e.scheduleArrival(q)
	}
	// Some agents are already helping a customer when the simulation
	// starts, so that it opens in a working state rather than an empty one.
	for _, a := range e.agents {
		if a.onShift && e.rng.Float64() < sc.StartBusy {
			q := a.queues[e.rng.IntN(len(a.queues))]
			r := e.syntheticRequest(q)
			e.reqOrd++
			r.ord, r.id, r.queue, r.created = e.reqOrd, fmt.Sprintf("r-%08d", e.reqOrd), q, now
			e.requests[r.id] = r
			e.startSession(a, r)
		}
	}
	e.flush()
	return e, nil
}

// deriveRates gives every queue without a rate of its own one that keeps its
// agents at the scenario's utilization.
func (e *Engine) deriveRates() {
	sc := e.sc
	meanDur := math.Exp(e.durMu + e.durSigma*e.durSigma/2)
	duty := float64(sc.Shifts.Length) / float64(sc.Shifts.Length+sc.Shifts.Off)
	working := 1.0
	if sc.Shifts.BreakEvery > 0 {
		working = float64(sc.Shifts.BreakEvery) / float64(sc.Shifts.BreakEvery+sc.Shifts.BreakLength)
	}
	capacity := make([]float64, len(e.queues))
	for _, a := range e.agents {
		c := duty * working * (1 + 0.5*float64(a.max-1)) / meanDur
		for _, q := range a.queues {
			capacity[q.idx] += c / float64(len(a.queues))
		}
	}
	for i, qs := range sc.Queues {
		q := e.queues[i]
		if qs.Auto {
			q.rate = sc.Utilization * capacity[i]
		} else {
			q.rate = qs.RatePerMinute / 60
		}
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Run moves the simulation along with the clock until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		e.mu.Lock()
		e.advance()
		wait := time.Second
		if len(e.timers) > 0 {
			w := time.Duration(float64(e.timers[0].at-e.now) / e.sc.Speed)
			wait = min(max(w, 0), time.Second)
		}
		e.mu.Unlock()
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.wake:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
	}
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// advance processes every timer due by the clock's now. The caller holds mu.
func (e *Engine) advance() {
	e.advanceTo(e.clock.Now().UnixNano())
}

func (e *Engine) advanceTo(target int64) {
	for len(e.timers) > 0 && e.timers[0].at <= target {
		t := e.timers.pop()
		e.now = t.at
		e.handle(t)
		e.flush()
		e.processed++
	}
	if target > e.now {
		e.now = target
	}
	e.prune()
	e.stream.notify()
}

func (e *Engine) handle(t timer) {
	switch t.kind {
	case tArrival:
		q := e.queues[t.idx]
		if q.maxFactor > 0 && e.rng.Float64()*q.maxFactor < q.factor(e.now) {
			e.arrive(q, e.syntheticRequest(q))
		}
		e.scheduleArrival(q)
	case tAbandon:
		r := t.req
		if r.status == RequestWaiting {
			r.status = RequestAbandoned
			r.abandoned = e.now
			r.queue.nWaiting--
			e.markQueue(r.queue)
			e.publishRequest(r)
			e.retire(r)
		}
	case tSessionEnd:
		e.endSession(t.sess)
	case tShiftStart, tShiftEnd:
		a := e.agents[t.idx]
		if t.gen != a.gen {
			return
		}
		if t.kind == tShiftStart {
			a.onShift = true
			a.idleSince = e.now
			e.setShiftTimer(a, tShiftEnd, jitter(e.rng, e.sc.Shifts.Length))
			e.scheduleBreak(a)
			e.refresh(a)
			e.pull(a)
		} else if a.active > 0 {
			a.pendingLogout = true
			e.refresh(a)
		} else {
			e.logOut(a)
		}
	case tBreakStart, tBreakEnd:
		a := e.agents[t.idx]
		if t.gen != a.bgen || !a.onShift {
			return
		}
		if t.kind == tBreakStart {
			if a.active > 0 {
				a.pendingBreak = true
				e.refresh(a)
			} else {
				e.goAway(a)
			}
		} else {
			a.onBreak = false
			a.idleSince = e.now
			e.scheduleBreak(a)
			e.refresh(a)
			e.pull(a)
		}
	case tCodeExpire:
		if c := t.code; c.state == codeActive && e.codes[c.code] == c {
			c.state = codeGone
			delete(e.codes, c.code)
		}
	}
}

func (e *Engine) push(t timer) {
	e.seq++
	t.seq = e.seq
	e.timers.push(t)
}

func (e *Engine) after(d time.Duration) int64 { return e.now + int64(d) }

func (e *Engine) setShiftTimer(a *agent, kind uint8, d time.Duration) {
	a.gen++
	e.push(timer{at: e.after(d), kind: kind, idx: a.idx, gen: a.gen})
}

func (e *Engine) scheduleBreak(a *agent) {
	a.bgen++
	if e.sc.Shifts.BreakEvery <= 0 {
		return
	}
	d := time.Duration(e.rng.ExpFloat64() * float64(e.sc.Shifts.BreakEvery))
	e.push(timer{at: e.after(d), kind: tBreakStart, idx: a.idx, gen: a.bgen})
}

func (e *Engine) goAway(a *agent) {
	a.pendingBreak = false
	a.onBreak = true
	a.bgen++
	e.push(timer{at: e.after(jitter(e.rng, e.sc.Shifts.BreakLength)), kind: tBreakEnd, idx: a.idx, gen: a.bgen})
	e.refresh(a)
}

func (e *Engine) logOut(a *agent) {
	a.onShift, a.onBreak, a.pendingBreak, a.pendingLogout = false, false, false, false
	a.bgen++
	e.setShiftTimer(a, tShiftStart, jitter(e.rng, e.sc.Shifts.Off))
	e.refresh(a)
}

// jitter spreads d uniformly over ±25 %.
func jitter(rng *rand.Rand, d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.75 + 0.5*rng.Float64()))
}

func (e *Engine) scheduleArrival(q *queue) {
	r := q.rate * q.maxFactor
	if r <= 0 {
		return
	}
	d := e.rng.ExpFloat64() / r
	if d > 365*24*3600 {
		return
	}
	e.push(timer{at: e.now + int64(d*1e9) + 1, kind: tArrival, idx: q.idx})
}

// refresh brings an agent's status, its queues' figures and its place in
// the candidate heaps in line with its flags. Every change of an agent ends
// here.
func (e *Engine) refresh(a *agent) {
	if s := a.derivedStatus(); s != a.status {
		old := a.status
		a.status = s
		a.statusSince = e.now
		for _, q := range a.queues {
			if old == StatusOffline {
				q.loggedIn++
			}
			if s == StatusOffline {
				q.loggedIn--
			}
			if old == StatusAvailable {
				q.available--
			}
			if s == StatusAvailable {
				q.available++
			}
			e.markQueue(q)
		}
	}
	ok := a.routable()
	for i := range a.refs {
		ref := &a.refs[i]
		switch {
		case ok && ref.pos < 0:
			ref.q.cand.add(a, ref)
		case ok:
			ref.q.cand.fix(ref)
		case ref.pos >= 0:
			ref.q.cand.remove(ref)
		}
	}
	e.markAgent(a)
}

func (e *Engine) markAgent(a *agent) {
	if !a.dirty {
		a.dirty = true
		e.dirtyAgents = append(e.dirtyAgents, a)
	}
}

func (e *Engine) markQueue(q *queue) {
	if !q.dirty {
		q.dirty = true
		e.dirtyQueues = append(e.dirtyQueues, q)
	}
}

// flush publishes the agents and queues that changed in the last step, once
// each, in their final state.
func (e *Engine) flush() {
	for _, a := range e.dirtyAgents {
		a.dirty = false
		e.stream.publish(evAgent, e.agentJSON(a))
	}
	e.dirtyAgents = e.dirtyAgents[:0]
	for _, q := range e.dirtyQueues {
		q.dirty = false
		e.stream.publish(evQueue, e.queueJSON(q))
	}
	e.dirtyQueues = e.dirtyQueues[:0]
}

// route follows the queue's routing rules from a request's fields.
func (e *Engine) route(q *queue, fields map[string]string) *queue {
	for hops := 0; hops < 8; hops++ {
		next := q
		for _, r := range q.routes {
			if v, ok := fields[r.field]; ok && v == r.equals {
				next = r.to
				break
			}
		}
		if next == q {
			break
		}
		q = next
	}
	return q
}

// arrive routes a new request: to the best candidate agent, or to wait.
func (e *Engine) arrive(q *queue, r *request) {
	target := e.route(q, r.fields)
	if target != q {
		r.routedFrom = q.id
	}
	r.queue = target
	e.reqOrd++
	r.ord = e.reqOrd
	r.id = fmt.Sprintf("r-%08d", r.ord)
	r.created = e.now
	r.status = RequestWaiting
	e.requests[r.id] = r
	if a := target.cand.top(); a != nil {
		e.startSession(a, r)
		return
	}
	target.waiting = append(target.waiting, r)
	target.nWaiting++
	e.markQueue(target)
	e.publishRequest(r)
	pat := math.Exp(e.patMu + patSigma*e.rng.NormFloat64())
	pat = min(max(pat, 10), 4*3600)
	e.push(timer{at: e.now + int64(pat*1e9), kind: tAbandon, req: r})
}

// pull gives an agent who can take more work the oldest requests waiting in
// their queues.
func (e *Engine) pull(a *agent) {
	for a.routable() {
		var best *request
		for _, q := range a.queues {
			r := q.oldest()
			if r != nil && (best == nil || r.created < best.created || r.created == best.created && r.ord < best.ord) {
				best = r
			}
		}
		if best == nil {
			return
		}
		q := best.queue
		q.head++
		q.nWaiting--
		e.markQueue(q)
		e.startSession(a, best)
	}
}

func (e *Engine) startSession(a *agent, r *request) {
	e.sessOrd++
	s := &session{ord: e.sessOrd, id: fmt.Sprintf("s-%09d", e.sessOrd), req: r, agent: a, queue: r.queue, start: e.now}
	e.sessions[s.id] = s
	a.active++
	a.idleSince = e.now
	r.status = RequestInSession
	r.agent = a
	r.sess = s
	r.started = e.now
	e.publishRequest(r)
	e.refresh(a)
	d := math.Exp(e.durMu + e.durSigma*e.rng.NormFloat64())
	d = min(max(d, 30), 8*3600)
	e.push(timer{at: e.now + int64(d*1e9), kind: tSessionEnd, sess: s})
}

func (e *Engine) endSession(s *session) {
	a, r := s.agent, s.req
	s.end = e.now
	a.active--
	a.idleSince = e.now
	r.status = RequestCompleted
	r.ended = e.now
	e.publishRequest(r)
	e.retire(r)
	e.ended = append(e.ended, s)
	e.stream.publish(evSessionEnded, e.sessionSummary(s))
	if a.active == 0 {
		switch {
		case a.pendingLogout:
			e.logOut(a)
			return
		case a.pendingBreak:
			e.goAway(a)
			return
		}
	}
	e.refresh(a)
	e.pull(a)
}

func (e *Engine) retire(r *request) {
	e.retired = append(e.retired, r)
}

// prune forgets finished requests after requestRetention and sessions after
// the scenario's retention.
func (e *Engine) prune() {
	cut := e.now - int64(requestRetention)
	n := 0
	for n < len(e.retired) && max(e.retired[n].ended, e.retired[n].abandoned) < cut {
		delete(e.requests, e.retired[n].id)
		n++
	}
	if n > 0 {
		e.retired = append(e.retired[:0], e.retired[n:]...)
	}
	cut = e.now - int64(e.sc.Retention)
	for e.endedHead < len(e.ended) && e.ended[e.endedHead].end < cut {
		delete(e.sessions, e.ended[e.endedHead].id)
		e.ended[e.endedHead] = nil
		e.endedHead++
	}
	e.ended, e.endedHead = compact(e.ended, e.endedHead, 4096)
}

func (e *Engine) publishRequest(r *request) {
	e.stream.publish(evRequest, e.requestJSON(r))
}
