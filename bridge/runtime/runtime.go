// Package runtime runs the bridge: it reads the source, keeps the monitors,
// decides availability and publishes on the bus, serves the bridge's HTTP
// API, and writes the console view. It is what `acdbridge run` starts.
package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acdbridge/acdbridge/bridge/api"
	"github.com/acdbridge/acdbridge/bridge/availability"
	"github.com/acdbridge/acdbridge/bridge/bus"
	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/bridge/directory"
	"github.com/acdbridge/acdbridge/bridge/dispatch"
	"github.com/acdbridge/acdbridge/bridge/sessions"
	"github.com/acdbridge/acdbridge/bridge/source"
	"github.com/acdbridge/acdbridge/monitors"
	"github.com/acdbridge/acdbridge/plugins/host"
	"github.com/acdbridge/acdbridge/simulator"
)

// Options are what the bridge runs with.
type Options struct {
	Config       config.Config
	Logger       hclog.Logger
	Registry     *prometheus.Registry
	Console      io.Writer     // the console view; nil: none
	SummaryEvery time.Duration // console summary period; 0: 30 s
	Tick         time.Duration // staleness, dwell and retry period; 0: 500 ms
}

// Bridge is one running bridge.
type Bridge struct {
	opts    Options
	log     hclog.Logger
	metrics *Metrics

	mu      sync.Mutex // guards everything below
	agents  *monitors.AgentMonitor
	queues  *monitors.QueueMonitor
	avail   *availability.Engine
	bus     *bus.Bus
	out     outbox // what is still to be published; flush sends it
	started bool
	workers []*dispatch.Worker // one per adapter instance; set before the loop starts
	dir     *directory.Directory
	syncer  *sessions.Syncer // real-time archiving (sessions.go); nil when off
	archive *sessions.Syncer // the syncer whose records flush publishes (sessions.go); nil without archiving
	stream  *api.Stream      // the dashboard's; flush touches it (dashboard.go)
	dash    *dashboard
	alerts  *alerting // threshold rules (alerts.go); set once at start

	simURL string
}

// outbox is what is still to be published: the newest value per key, and
// requests and sessions in order.
type outbox struct {
	avail  map[string]named
	agents map[string]*monitors.Agent // nil: delete
	queues map[string]*monitors.Queue // nil: delete
	events []source.Update            // RequestEvent, and SessionEnded while nothing archives
	// records are archived sessions' whole records, in the order archived
	// (sessionArchived); with real-time archiving on, they stand in for
	// the SessionEnded summaries.
	records []bus.SessionMsg
}

// named is a desired availability with its agent's name, for the console.
type named struct {
	d    availability.Desired
	name string
}

func newOutbox() outbox {
	return outbox{avail: map[string]named{}, agents: map[string]*monitors.Agent{}, queues: map[string]*monitors.Queue{}}
}

// New checks the options; it does no I/O.
func New(opts Options) (*Bridge, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Registry == nil {
		return nil, errors.New("runtime: a metrics registry is required")
	}
	if opts.SummaryEvery <= 0 {
		opts.SummaryEvery = 30 * time.Second
	}
	if opts.Tick <= 0 {
		opts.Tick = 500 * time.Millisecond
	}
	stale := 30 * time.Second
	if s := opts.Config.Source; s != nil {
		stale = s.StaleAfter
	}
	b := &Bridge{
		opts:    opts,
		log:     opts.Logger,
		metrics: NewMetrics(opts.Registry),
		agents:  monitors.NewAgentMonitor(stale),
		queues:  monitors.NewQueueMonitor(stale),
		out:     newOutbox(),
	}
	opts.Registry.MustRegister(queueCollector{b})
	b.dash = &dashboard{b: b}
	b.stream = api.NewStream(b.dash, api.StreamOptions{Window: dashboardWindow}, opts.Logger.Named("dashboard"))
	registerDashboardMetrics(opts.Registry, b.stream)
	return b, nil
}

// Run runs the bridge until ctx ends. started, if not nil, is called once
// everything is up.
func (b *Bridge) Run(ctx context.Context, started func()) error {
	ctx, cancel := context.WithCancel(ctx)
	cfg := b.opts.Config
	var wg sync.WaitGroup
	// Whatever ends Run, shut down in order: stop every goroutine first (so
	// no worker relaunches an adapter and nothing publishes), then the
	// adapters' processes, then the bus.
	var bs *bus.Bus
	defer func() {
		cancel()
		wg.Wait()
		host.CleanupAll()
		if bs != nil {
			bs.Close()
		}
	}()

	srcCfg, err := b.sourceConfig(ctx, &wg)
	if err != nil {
		return err
	}
	bc := cfg.Bus
	bc.DataDir = cfg.DataDir // data_dir is the one setting for where data goes
	bs, err = bus.Open(ctx, bc, b.log)
	if err != nil {
		return err
	}
	known, err := bs.Availability(ctx)
	if err != nil {
		return fmt.Errorf("read the availability kept on the bus: %w", err)
	}
	src, err := source.New(srcCfg, b.log, b.opts.Registry)
	if err != nil {
		return err
	}
	if err := b.startAlerts(); err != nil {
		return err
	}
	if err := b.startSessions(ctx, src, &wg); err != nil {
		return err
	}
	dir, err := directory.Load(cfg.Directory)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.bus = bs
	b.avail = availability.NewEngine(cfg.Availability, known)
	b.dir = dir
	b.mu.Unlock()

	if err := b.startAdapters(ctx, func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}); err != nil {
		return err
	}

	if cfg.API.Listen != "" {
		views := b.views()
		views.Rules = b.Rules()
		views.Codes = sourceCodes{src}
		srv, err := api.New(cfg.API.Listen, b.opts.Registry, map[string]api.Check{"source": b.sourceReady, "bus": bs.Ready, "adapters": b.adaptersReady}, views, b.apiTokens(), b.log.Named("api"))
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ctx); err != nil {
				b.log.Error("api stopped", "error", err)
			}
		}()
		b.say("api: metrics, health and readiness on http://%s (/metrics, /healthz, /readyz)", srv.Addr())
		b.say("dashboard: http://%s/ (log in with an API token)", srv.Addr())
	}
	b.say("bus: NATS at %s; watch it with: acdbridge events tail --url %s", bs.RedactedURL(), bs.RedactedURL())

	updates := make(chan source.Update, 1024)
	srcErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		srcErr <- src.Run(ctx, updates)
	}()
	if started != nil {
		started()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(b.opts.Tick)
	defer tick.Stop()
	summary := time.NewTicker(b.opts.SummaryEvery)
	defer summary.Stop()
	for {
		select {
		case <-ctx.Done():
			b.log.Info("shutting down")
			return nil
		case err := <-srcErr:
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("source: %w", err)
			}
			return nil
		case u := <-updates:
			b.apply(ctx, u)
		case now := <-tick.C:
			b.tick(ctx, now)
		case <-summary.C:
			b.summary(time.Now())
		case <-hup:
			b.reloadDirectory()
		}
	}
}

// sourceConfig is the configured source, or an in-process simulator started
// here when there is none.
func (b *Bridge) sourceConfig(ctx context.Context, wg *sync.WaitGroup) (source.Config, error) {
	if s := b.opts.Config.Source; s != nil {
		return SourceConfig(s), nil
	}
	sim := b.opts.Config.Simulator
	sc := simulator.DefaultScenario(sim.Agents, sim.Queues)
	sc.Seed, sc.Speed, sc.History = sim.Seed, sim.Speed, sim.History
	eng, err := simulator.NewEngine(sc, simulator.NewScaledClock(time.Now().UTC(), sc.Speed), 100_000)
	if err != nil {
		return source.Config{}, fmt.Errorf("in-process simulator: %w", err)
	}
	tok := make([]byte, 16)
	rand.Read(tok)
	token := hex.EncodeToString(tok)
	srv, err := simulator.NewServer(eng, simulator.Options{Token: token, Logger: b.log.Named("simulator")})
	if err != nil {
		return source.Config{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return source.Config{}, fmt.Errorf("in-process simulator: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	wg.Add(2)
	go func() { defer wg.Done(); eng.Run(ctx) }()
	go func() {
		defer wg.Done()
		go func() {
			<-ctx.Done()
			srv.Close()
			hs.Close()
		}()
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.log.Error("in-process simulator stopped", "error", err)
		}
	}()
	b.simURL = "http://" + ln.Addr().String()
	b.say("source: in-process simulator, %d agents in %d queues, at %s", sim.Agents, sim.Queues, b.simURL)
	return source.Config{URL: b.simURL, Token: token, Stream: true}, nil
}

func (b *Bridge) say(format string, args ...any) {
	if b.opts.Console != nil {
		fmt.Fprintf(b.opts.Console, time.Now().Format("15:04:05")+" "+format+"\n", args...)
	}
}

// reloadDirectory reads the agent directory again (SIGHUP). A directory
// that does not load leaves the old one in place.
func (b *Bridge) reloadDirectory() {
	dir, err := directory.Load(b.opts.Config.Directory)
	if err != nil {
		b.log.Error("directory not reloaded; the old one stays", "error", err)
		b.say("directory: not reloaded (%v); the old one stays", err)
		return
	}
	b.mu.Lock()
	b.dir = dir
	b.mu.Unlock()
	for _, w := range b.workers {
		w.Resync() // the identities changed under unchanged versions
	}
	b.log.Info("directory reloaded", "agents", dir.Len())
	b.say("directory: reloaded, %d agents with a row; adapters are reconciled with the new identities", dir.Len())
}

// adaptersReady says whether every adapter runs and is not down.
func (b *Bridge) adaptersReady() error {
	var bad []string
	for _, w := range b.workers {
		st := w.Status()
		if !st.Running || st.Health == "down" {
			msg := st.Name + ": " + st.Health
			if st.LastError != "" {
				msg += " (" + st.LastError + ")"
			}
			bad = append(bad, msg)
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

func (b *Bridge) sourceReady() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.agents.LastFresh().IsZero() {
		return errors.New("no data from the source yet")
	}
	if b.agents.Stale() {
		return fmt.Errorf("no fresh data from the source since %s", b.agents.LastFresh().Format(time.RFC3339))
	}
	return nil
}

// apply takes one update from the source into the monitors, and records
// what changed for the bus; flush publishes it after the lock is let go.
func (b *Bridge) apply(ctx context.Context, u source.Update) {
	b.mu.Lock()
	now := time.Now()
	wasStale := b.agents.Stale() || b.agents.LastFresh().IsZero()
	b.agents.Touch(now)
	b.queues.Touch(now)
	b.metrics.lastFresh.Set(float64(now.UnixNano()) / 1e9)
	switch u.Kind {
	case source.Agents:
		for _, ev := range b.agents.Snapshot(u.AgentList, u.Seq, u.Authoritative) {
			b.agentEvent(ev, now, wasStale)
		}
	case source.AgentChanged:
		if ev, ok := b.agents.Change(u.Agent, u.Seq); ok {
			b.agentEvent(ev, now, wasStale)
		}
	case source.Queues:
		for _, ev := range b.queues.Snapshot(u.QueueList, u.Seq, u.Authoritative) {
			b.queueEvent(ev)
		}
	case source.QueueChanged:
		if ev, ok := b.queues.Change(u.Queue, u.Seq); ok {
			b.queueEvent(ev)
		}
	case source.RequestEvent:
		b.out.events = append(b.out.events, u)
	case source.SessionEnded:
		if b.syncer != nil {
			// The archive fetches the whole record; sessionArchived
			// publishes it, so the bus and the adapters get it whole.
			b.syncer.SessionEnded(u.Session) // never blocks
		} else {
			b.out.events = append(b.out.events, u)
		}
	}
	if wasStale {
		// Fresh data after a stale spell (or the first data): decide every
		// agent again from the table as it now stands.
		b.metrics.stale.Set(0)
		if b.started {
			b.say("source: fresh data again; availability follows the source once more")
		}
		b.started = true
		for _, a := range b.agents.All() {
			b.decide(a, now)
		}
	}
	b.mu.Unlock()
	b.flush(ctx)
	if !u.Received.IsZero() && u.Kind != source.Heartbeat {
		b.metrics.propagation.Observe(time.Since(u.Received).Seconds())
	}
	if u.Kind != source.Heartbeat && u.Kind != source.RequestEvent && u.Kind != source.SessionEnded {
		b.evaluateAlerts(ctx, false) // queue or agent figures changed
	}
}

func (b *Bridge) agentEvent(ev monitors.AgentEvent, now time.Time, stale bool) {
	if ev.Kind == monitors.Removed {
		b.avail.Remove(ev.Old.ID)
		b.out.agents[ev.Old.ID] = nil
		return
	}
	a := ev.New
	b.out.agents[a.ID] = &a
	if stale {
		b.metrics.held.Inc()
		return
	}
	b.decide(a, now)
}

// decide applies the rules to one agent and records a change for the bus.
func (b *Bridge) decide(a monitors.Agent, now time.Time) {
	if d, changed := b.avail.Apply(a, now); changed {
		b.out.avail[d.AgentID] = named{d, a.Name}
	}
}

func (b *Bridge) queueEvent(ev monitors.QueueEvent) {
	if ev.Kind == monitors.Removed {
		b.out.queues[ev.Old.ID] = nil
		return
	}
	q := ev.New
	b.out.queues[q.ID] = &q
}

// publishTimeout bounds one publish: a bus that does not answer is retried
// on the next tick rather than waited for.
const publishTimeout = 5 * time.Second

// flush publishes what apply and tick recorded, without holding mu: a slow
// or unreachable bus never blocks the monitors, the API or the adapters'
// workers. At the first failure it stops and keeps the rest (newest value
// per key, events in order) for the next tick.
func (b *Bridge) flush(ctx context.Context) {
	b.mu.Lock()
	out := b.out
	b.out = newOutbox()
	b.dash.touch(out)
	b.mu.Unlock()
	var failed error
	try := func(what, id string, f func(context.Context) error) bool {
		if failed != nil {
			return false
		}
		pctx, cancel := context.WithTimeout(ctx, publishTimeout)
		defer cancel()
		if err := f(pctx); err != nil {
			failed = err
			b.metrics.errors.WithLabelValues("bus_publish").Inc()
			b.log.Warn("publish failed; retrying on the next tick", "what", what, "id", id, "error", err)
			return false
		}
		return true
	}
	keep := newOutbox()
	for i, u := range out.events {
		ok := false
		if u.Kind == source.RequestEvent {
			ok = try("request", u.Request.ID, func(c context.Context) error { return b.bus.PublishRequest(c, u.Request) })
		} else {
			ok = try("session", u.Session.ID, func(c context.Context) error { return b.bus.PublishSession(c, u.Session) })
		}
		if !ok {
			keep.events = out.events[i:]
			break
		}
	}
	for i, m := range out.records {
		if !try("session", m.ID, func(c context.Context) error { return b.bus.PublishSessionMsg(c, m) }) {
			keep.records = out.records[i:]
			break
		}
	}
	b.recordsPublished(ctx, out.records[:len(out.records)-len(keep.records)]) // sessions.go
	for id, a := range out.agents {
		if !try("agent", id, func(c context.Context) error {
			if a == nil {
				return b.bus.DeleteAgent(c, id)
			}
			return b.bus.PutAgent(c, *a)
		}) {
			keep.agents[id] = a
		}
	}
	for id, q := range out.queues {
		if !try("queue", id, func(c context.Context) error {
			if q == nil {
				return b.bus.DeleteQueue(c, id)
			}
			return b.bus.PutQueue(c, *q)
		}) {
			keep.queues[id] = q
		}
	}
	for _, id := range slices.Sorted(maps.Keys(out.avail)) {
		n := out.avail[id]
		if !try("availability", id, func(c context.Context) error { return b.bus.PutAvailability(c, n.d) }) {
			keep.avail[id] = n
			continue
		}
		b.metrics.changes.WithLabelValues(fmt.Sprint(n.d.Available)).Inc()
		word := "available"
		if !n.d.Available {
			word = "unavailable (" + string(n.d.State) + ": " + n.d.Reason + ")"
		}
		b.say("%-8s %-20s %s v%d", id, n.name, word, n.d.Version)
	}
	if failed == nil {
		return
	}
	// What failed goes back, unless something newer was recorded meanwhile.
	b.mu.Lock()
	defer b.mu.Unlock()
	b.out.events = append(keep.events, b.out.events...)
	b.out.records = append(keep.records, b.out.records...)
	for id, a := range keep.agents {
		if _, newer := b.out.agents[id]; !newer {
			b.out.agents[id] = a
		}
	}
	for id, q := range keep.queues {
		if _, newer := b.out.queues[id]; !newer {
			b.out.queues[id] = q
		}
	}
	for id, n := range keep.avail {
		if _, newer := b.out.avail[id]; !newer {
			b.out.avail[id] = n
		}
	}
}

// tick checks staleness, releases changes held by the dwell time, retries
// what could not be published and refreshes the gauges.
func (b *Bridge) tick(ctx context.Context, now time.Time) {
	b.mu.Lock()
	if b.avail == nil {
		b.mu.Unlock()
		return
	}
	if stale, changed := b.agents.Check(now); changed && stale && !b.agents.LastFresh().IsZero() {
		b.queues.Check(now)
		b.metrics.stale.Set(1)
		b.log.Warn("source is stale: holding availability", "last_fresh", b.agents.LastFresh())
		b.say("source: no fresh data since %s; holding every agent's availability as it is", b.agents.LastFresh().Format("15:04:05"))
	}
	if !b.agents.Stale() {
		for _, d := range b.avail.Due(now) {
			a, _ := b.agents.Get(d.AgentID)
			b.out.avail[d.AgentID] = named{d, a.Name}
		}
	}
	for s, n := range b.agents.Counts() {
		b.metrics.agents.WithLabelValues(string(s)).Set(float64(n))
	}
	b.mu.Unlock()
	b.flush(ctx)
	b.evaluateAlerts(ctx, true) // for, keep_firing_for and the growing longest wait
}

// summary writes the console's periodic line: agents by status and the
// busiest queues.
func (b *Bridge) summary(now time.Time) {
	if b.opts.Console == nil {
		return
	}
	b.mu.Lock()
	counts := b.agents.Counts()
	figs := b.queues.Figures(b.agents, now)
	stale := b.agents.Stale()
	b.mu.Unlock()
	var parts []string
	for _, s := range monitors.Statuses {
		parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
	}
	var busy []string
	for _, f := range monitors.Busiest(figs, 3) {
		if f.Waiting > 0 {
			busy = append(busy, fmt.Sprintf("%s %d waiting (longest %s)", f.Queue, f.Waiting, f.LongestWait.Round(time.Second)))
		}
	}
	if len(busy) == 0 {
		busy = []string{"nobody waiting"}
	}
	state := ""
	if stale {
		state = " [source stale: availability held]"
	}
	b.say("summary: agents %s | %s%s", strings.Join(parts, ", "), strings.Join(busy, "; "), state)
}

// QueueFigures are the queues' figures now.
func (b *Bridge) QueueFigures() []monitors.Figures {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.queues.Figures(b.agents, time.Now())
}

// Agents is the agent monitor's table.
func (b *Bridge) Agents() []monitors.Agent {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.agents.All()
}

// AgentCount is how many agents the agent monitor holds.
func (b *Bridge) AgentCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.agents.Len()
}

// Stale says whether the source is stale.
func (b *Bridge) Stale() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.agents.Stale()
}
