// Package dispatch delivers the bridge's desired availability to adapters:
// one worker per adapter instance, each with its own mailbox that keeps only
// the newest version per agent, batches bounded by size and time, retries
// of what the adapter marks retryable (with backoff), a dead letter for what
// it marks permanent, and a full Reconcile every time the adapter (re)starts.
// A slow or failing adapter never delays another: offering never blocks.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acdbridge/acdbridge/bridge/availability"
	"github.com/acdbridge/acdbridge/bridge/bus"
	"github.com/acdbridge/acdbridge/monitors"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Target is an adapter's availability calls, as the worker uses them.
type Target interface {
	SetAvailability(ctx context.Context, items []sdk.Availability) ([]sdk.Result, error)
	Reconcile(ctx context.Context, desired []sdk.Availability) ([]sdk.Result, error)
}

// Instance is one running adapter process.
type Instance interface {
	sdk.Client
	Exited() bool
	Kill()
}

// Launcher starts the adapter (and configures it).
type Launcher func(ctx context.Context) (Instance, error)

// Options shape a worker.
type Options struct {
	Name        string        // the adapter instance: adapter "TYPE" "NAME"
	BatchSize   int           // at most this many items per call (default 500)
	BatchWait   time.Duration // wait this long for more items before a call (default 2ms)
	CallTimeout time.Duration // per call (default 3m: longer than any adapter's own timeout toward its system)
	RetryMin    time.Duration // first retry of a retryable item (default 200ms)
	RetryMax    time.Duration // longest wait between retries and restarts (default 30s)
	HealthEvery time.Duration // health check period (default 10s)
	// Desired is the whole desired state, for Reconcile.
	Desired func() map[string]availability.Desired
	// Decorate adds what the adapter needs beyond the desired state: the
	// agent's name and identities from the directory. May be nil.
	Decorate func(*sdk.Availability)
	Logger   hclog.Logger
	Metrics  *Metrics
	// Identities are the directory keys the adapter needs; agents whose
	// availability lacks one are counted and listed (still sent: the
	// adapter answers for them).
	Identities []string
	// Firing, when set, is the alerts firing now: a (re)started adapter
	// with the alerts capability gets each (HandleAlert) before any event,
	// since a new process knows none of them (Alertmanager's adapter
	// resends what it knows to be firing).
	Firing func() []monitors.Alert
	// EventsOnly is for an adapter without the availability capability:
	// the worker keeps it running (for HandleEvent) but sends no
	// availability.
	EventsOnly bool
}

// Worker delivers to one adapter instance.
type Worker struct {
	opts Options
	log  hclog.Logger
	box  *mailbox
	m    workerMetrics

	resync chan struct{} // Resync asks the running adapter for a Reconcile

	mu       sync.Mutex
	applied  map[string]uint64 // the newest version the adapter confirmed per agent
	dead     map[string]uint64 // the newest version the adapter refused for good
	attempts map[string]int    // retries so far of a retryable agent
	newest   map[string]uint64 // the newest version offered per agent
	missing  map[string]bool   // agents without an identity the adapter needs
	health   sdk.Health
	lastErr  error
	current  Instance // the running instance, nil while it is (re)started
}

// NewWorker makes a worker; Run starts it.
func NewWorker(opts Options) (*Worker, error) {
	if opts.Name == "" || opts.Desired == nil || opts.Metrics == nil {
		return nil, errors.New("dispatch: a worker needs a name, the desired state and metrics")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	def(&opts.BatchWait, 2*time.Millisecond)
	def(&opts.CallTimeout, 3*time.Minute)
	def(&opts.RetryMin, 200*time.Millisecond)
	def(&opts.RetryMax, 30*time.Second)
	def(&opts.HealthEvery, 10*time.Second)
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	w := &Worker{
		opts: opts, log: opts.Logger.Named("dispatch").With("adapter", opts.Name), box: newMailbox(), resync: make(chan struct{}, 1),
		applied: map[string]uint64{}, dead: map[string]uint64{}, attempts: map[string]int{}, newest: map[string]uint64{}, missing: map[string]bool{},
	}
	w.m = opts.Metrics.forAdapter(opts.Name, w.box.size, func() int { return len(w.WithoutIdentity()) })
	return w, nil
}

// Offer queues a change for the adapter. It never blocks.
func (w *Worker) Offer(d availability.Desired) {
	if w.opts.EventsOnly {
		return
	}
	w.mu.Lock()
	w.newest[d.AgentID] = max(w.newest[d.AgentID], d.Version)
	w.mu.Unlock()
	w.box.put(d)
}

// Applied is the newest version the adapter confirmed for each agent.
func (w *Worker) Applied() map[string]uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]uint64, len(w.applied))
	for k, v := range w.applied {
		out[k] = v
	}
	return out
}

// Status is a worker's state for the bridge's API.
type Status struct {
	Name            string   `json:"name"`
	WithoutIdentity []string `json:"agents_without_identity"` // at most 100 listed
	MissingCount    int      `json:"agents_without_identity_count"`
	Running         bool     `json:"running"`
	Health          string   `json:"health"`
	HealthMessage   string   `json:"health_message,omitempty"`
	Pending         int      `json:"pending"`
	Applied         int      `json:"agents_applied"`
	LastError       string   `json:"last_error,omitempty"`
}

// Status reports the worker's state.
func (w *Worker) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := Status{Name: w.opts.Name, Running: w.current != nil, Health: w.health.Status.String(), HealthMessage: w.health.Message,
		Pending: w.box.size(), Applied: len(w.applied)}
	if w.lastErr != nil {
		st.LastError = w.lastErr.Error()
	}
	st.MissingCount = len(w.missing)
	for id := range w.missing {
		st.WithoutIdentity = append(st.WithoutIdentity, id)
	}
	slices.Sort(st.WithoutIdentity)
	st.WithoutIdentity = st.WithoutIdentity[:min(len(st.WithoutIdentity), 100)]
	return st
}

// Events is the counter of requests, sessions and alerts the adapter handled.
func (w *Worker) Events() prometheus.Counter { return w.m.events }

// Restarts is the counter of the adapter's restarts.
func (w *Worker) Restarts() prometheus.Counter { return w.m.restarts }

// Pending is how many agents wait to be delivered.
func (w *Worker) Pending() int { return w.box.size() }

// Run launches the adapter and delivers to it until ctx ends; when the
// process dies or stops answering it is killed and launched again, with
// backoff, and reconciled before any change.
func (w *Worker) Run(ctx context.Context, launch Launcher) {
	failures := 0 // in a row: launches that failed, or adapters that died within a minute
	for first := true; ; first = false {
		if !first {
			w.m.restarts.Inc()
			if !sleep(ctx, backoff(w.opts.RetryMin, w.opts.RetryMax, failures)) {
				return
			}
		}
		inst, err := launch(ctx)
		if err != nil {
			failures++
			w.fail("launch", err)
			continue
		}
		started := time.Now()
		err = w.serveWithHealth(ctx, inst)
		inst.Kill()
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			failures = 0
		} else {
			failures++
		}
		w.fail("adapter", err)
	}
}

func (w *Worker) fail(what string, err error) {
	w.mu.Lock()
	w.lastErr = err
	w.mu.Unlock()
	w.m.errors.Inc()
	w.m.health.Set(float64(sdk.Down))
	w.log.Error(what+" failed; restarting the adapter", "error", err)
}

// serveWithHealth serves until the instance fails a call or a health check.
func (w *Worker) serveWithHealth(ctx context.Context, inst Instance) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		t := time.NewTicker(w.opts.HealthEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if inst.Exited() {
				cancel(errors.New("the adapter process exited"))
				return
			}
			hctx, hcancel := context.WithTimeout(ctx, min(w.opts.CallTimeout, 10*time.Second)) // a hung adapter shows here
			h, err := inst.Health(hctx)
			hcancel()
			if err != nil {
				cancel(fmt.Errorf("health check: %w", err))
				return
			}
			w.mu.Lock()
			w.health = h
			w.mu.Unlock()
			w.m.health.Set(float64(h.Status))
		}
	}()
	w.replayFiring(ctx, inst)
	w.mu.Lock()
	w.current = inst
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.current = nil
		w.mu.Unlock()
	}()
	err := w.Serve(ctx, inst)
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}

// Serve reconciles t with the whole desired state, then delivers offered
// changes in batches until ctx ends (nil) or a call fails (the error).
func (w *Worker) Serve(ctx context.Context, t Target) error {
	if w.opts.EventsOnly {
		<-ctx.Done()
		return nil
	}
	// A (re)started adapter remembers nothing: what an earlier process
	// confirmed or refused says nothing about this one.
	w.mu.Lock()
	clear(w.applied)
	clear(w.dead)
	clear(w.attempts)
	w.mu.Unlock()
	if err := w.reconcile(ctx, t); err != nil {
		return err
	}
	w.m.health.Set(float64(sdk.Up))
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.resync:
			if err := w.reconcile(ctx, t); err != nil {
				return err
			}
			continue
		case <-w.box.signal:
		}
		if w.box.size() < w.opts.BatchSize && !sleep(ctx, w.opts.BatchWait) {
			return nil
		}
		for {
			batch := w.fresh(w.box.take(w.opts.BatchSize))
			if batch == nil {
				break
			}
			if err := w.deliver(ctx, batch, t.SetAvailability); err != nil {
				return err
			}
		}
	}
}

// noteIdentities keeps the set of agents without an identity the adapter
// needs up to date.
func (w *Worker) noteIdentities(items []sdk.Availability) {
	if len(w.opts.Identities) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, it := range items {
		lacks := false
		for _, k := range w.opts.Identities {
			if it.Identities[k] == "" {
				lacks = true
			}
		}
		if lacks {
			w.missing[it.AgentID] = true
		} else {
			delete(w.missing, it.AgentID)
		}
	}
}

// WithoutIdentity lists the agents that lack an identity the adapter needs.
func (w *Worker) WithoutIdentity() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.missing))
	for id := range w.missing {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// reconcile sends the whole desired state.
func (w *Worker) reconcile(ctx context.Context, t Target) error {
	all := w.opts.Desired()
	ids := make([]string, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	items := make([]availability.Desired, len(ids))
	for i, id := range ids {
		items[i] = all[id]
	}
	if err := w.deliver(ctx, items, t.Reconcile); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	w.log.Info("reconciled", "agents", len(items))
	return nil
}

// Resync has the running adapter reconciled with the whole desired state
// again, for when what it is sent changed without a new version (the
// directory was reloaded). It never blocks.
func (w *Worker) Resync() {
	select {
	case w.resync <- struct{}{}:
	default:
	}
}

// fresh drops the items the adapter already has (or refused for good) at
// that version or a newer one, such as those a Reconcile just covered. It
// returns nil only when taken was empty.
func (w *Worker) fresh(taken []availability.Desired) []availability.Desired {
	if len(taken) == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := taken[:0:0]
	for _, d := range taken {
		if d.Version > w.applied[d.AgentID] && d.Version > w.dead[d.AgentID] {
			out = append(out, d)
		}
	}
	return out
}

// deliver makes one call for items and records each result. On a failed
// call the items go back to the mailbox (unless newer ones wait).
func (w *Worker) deliver(ctx context.Context, items []availability.Desired, call func(context.Context, []sdk.Availability) ([]sdk.Result, error)) error {
	if len(items) == 0 {
		return nil
	}
	req := make([]sdk.Availability, len(items))
	for i, d := range items {
		req[i] = sdk.Availability{AgentID: d.AgentID, Available: d.Available, State: string(d.State), Reason: d.Reason, Version: d.Version, Since: d.Since}
		if w.opts.Decorate != nil {
			w.opts.Decorate(&req[i])
		}
	}
	w.noteIdentities(req)
	cctx, cancel := context.WithTimeout(ctx, w.opts.CallTimeout)
	start := time.Now()
	rs, err := call(cctx, req)
	cancel()
	w.m.callSeconds.Observe(time.Since(start).Seconds())
	if err == nil && len(rs) != len(items) {
		err = fmt.Errorf("the adapter answered %d results for %d items", len(rs), len(items))
	}
	for i := 0; err == nil && i < len(rs); i++ {
		if rs[i].AgentID != items[i].AgentID || rs[i].Version != items[i].Version {
			err = fmt.Errorf("result %d is for %s v%d, the item was %s v%d: expected results in the items' order", i, rs[i].AgentID, rs[i].Version, items[i].AgentID, items[i].Version)
		}
	}
	if err != nil {
		for _, d := range items {
			w.box.put(d)
		}
		return err
	}
	now := time.Now()
	for i, r := range rs {
		d := items[i]
		switch r.Outcome {
		case sdk.Applied, sdk.Ignored:
			w.mu.Lock()
			if d.Version > w.applied[d.AgentID] {
				w.applied[d.AgentID] = d.Version
			}
			delete(w.attempts, d.AgentID)
			w.mu.Unlock()
			if r.Outcome == sdk.Applied {
				w.m.applied.Inc()
				if !d.Since.IsZero() {
					w.m.lag.Observe(now.Sub(d.Since).Seconds())
				}
			}
		case sdk.Permanent:
			w.m.deadLetters.Inc()
			w.log.Error("dead letter: the adapter refused this change for good", "agent", d.AgentID, "version", d.Version, "message", r.Message)
			w.mu.Lock()
			delete(w.attempts, d.AgentID)
			w.dead[d.AgentID] = max(w.dead[d.AgentID], d.Version)
			w.mu.Unlock()
		default: // Retryable, or an outcome we do not know
			w.m.retries.Inc()
			w.mu.Lock()
			n := w.attempts[d.AgentID]
			w.attempts[d.AgentID] = n + 1
			w.mu.Unlock()
			wait := backoff(w.opts.RetryMin, w.opts.RetryMax, n)
			w.log.Warn("retrying a change", "agent", d.AgentID, "version", d.Version, "in", wait, "message", r.Message)
			time.AfterFunc(wait, func() {
				w.mu.Lock()
				stale := w.newest[d.AgentID] > d.Version
				w.mu.Unlock()
				if ctx.Err() == nil && !stale { // a newer version supersedes the retry
					w.box.put(d)
				}
			})
		}
	}
	return nil
}

// HandleEvent hands a request, session or alert from the EVENTS stream to
// the adapter: nil when it is done with it, an error wrapping
// bus.ErrPermanent when it refused it for good (a dead letter), and any
// other error to have it delivered again later (the adapter is restarting,
// or said retryable).
func (w *Worker) HandleEvent(ctx context.Context, ev bus.Event) error {
	w.mu.Lock()
	inst := w.current
	w.mu.Unlock()
	if inst == nil {
		return errors.New("the adapter is not running yet")
	}
	cctx, cancel := context.WithTimeout(ctx, w.opts.CallTimeout)
	defer cancel()
	var r sdk.Result
	var err error
	switch ev.Kind {
	case bus.KindRequest:
		q := ev.Request
		r, err = inst.HandleRequest(cctx, sdk.Request{ID: q.ID, Queue: q.Queue, Status: q.Status, CreatedAt: q.CreatedAt, Name: q.Name,
			Email: q.Email, Problem: q.Problem, Fields: q.Fields, ExternalRef: q.ExternalRef, AgentID: q.AgentID, SessionID: q.SessionID})
	case bus.KindSession:
		s, serr := sessionForAdapter(ev)
		if serr != nil {
			w.m.deadLetters.Inc()
			return serr
		}
		r, err = inst.HandleSession(cctx, s)
	case bus.KindAlert:
		if w.noLongerFiring(ev.Alert) {
			w.log.Info("a firing alert that no longer fires is not handed to the adapter (it resolved since, or the bridge restarted)",
				"rule", ev.Alert.Rule, "key", ev.Alert.Key(), "starts_at", ev.Alert.StartsAt)
			w.m.events.Inc()
			return nil
		}
		r, err = inst.HandleAlert(cctx, alertForAdapter(ev.Alert))
	default:
		return fmt.Errorf("%w: no delivery of %q events to adapters yet", bus.ErrPermanent, ev.Kind)
	}
	switch {
	case errors.Is(err, sdk.ErrUnsupported):
		return fmt.Errorf("%w: %v", bus.ErrPermanent, err)
	case err != nil:
		w.m.errors.Inc()
		return err
	}
	switch r.Outcome {
	case sdk.Applied, sdk.Ignored:
		w.m.events.Inc()
		if r.Reference != "" {
			w.log.Info("event handled", "subject", ev.Subject, "reference", r.Reference)
		}
		return nil
	case sdk.Permanent:
		w.m.deadLetters.Inc()
		return fmt.Errorf("%w: the adapter refused %s: %s", bus.ErrPermanent, ev.Subject, r.Message)
	default:
		w.m.retries.Inc()
		return fmt.Errorf("the adapter will take %s later: %s", ev.Subject, r.Message)
	}
}

// backoff is exponential from min, capped at max, with full jitter.
func backoff(lo, hi time.Duration, attempt int) time.Duration {
	d := lo << min(attempt, 20)
	if d <= 0 || d > hi {
		d = hi
	}
	return time.Duration(rand.Int64N(int64(d)/2+1)) + d/2
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func alertForAdapter(a monitors.Alert) sdk.Alert {
	return sdk.Alert{Rule: a.Rule, Status: string(a.Status), Severity: a.Severity,
		Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: a.EndsAt}
}

// noLongerFiring says whether a firing alert from the stream is no longer
// among the alerts firing now (Options.Firing). Such an event waited in
// the stream (the adapter was retrying, or the bridge stopped): if the
// alert resolved since, its resolution follows in the stream; if the bridge
// restarted, no resolution will ever come. Either way an adapter that
// resends what fires (Alertmanager's) must not learn it, or it would
// resend it for ever.
func (w *Worker) noLongerFiring(a monitors.Alert) bool {
	if a.Status != monitors.Firing || w.opts.Firing == nil {
		return false
	}
	for _, f := range w.opts.Firing() {
		if f.Rule == a.Rule && f.Key() == a.Key() && f.StartsAt.UnixMilli() == a.StartsAt.UnixMilli() {
			return false
		}
	}
	return true
}

// replayFiring hands a freshly started adapter the alerts firing now. It
// is best effort: an alert the adapter does not take is logged, and its
// resolution still comes through the EVENTS stream.
func (w *Worker) replayFiring(ctx context.Context, inst Instance) {
	if w.opts.Firing == nil {
		return
	}
	for _, a := range w.opts.Firing() {
		if a.Status != monitors.Firing {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, w.opts.CallTimeout)
		r, err := inst.HandleAlert(cctx, alertForAdapter(a))
		cancel()
		if err != nil || (r.Outcome != sdk.Applied && r.Outcome != sdk.Ignored) {
			w.log.Warn("a firing alert was not handed to the restarted adapter", "rule", a.Rule, "key", a.Key(), "outcome", r.Outcome.String(), "message", r.Message, "error", err)
		}
	}
}
