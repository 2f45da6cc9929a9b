package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/bridge/api"
	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/monitors"
)

// The threshold rules at run time. The rules come from the config file
// (read-only) and from the API (kept in data_dir/rules.json, written
// atomically, read again at start). Queue rules are evaluated on every
// tick and, at most every minEvalGap, after a change to the queues or the
// agents; session rules on every session the archive's real-time sync
// reads whole (the stream's session_ended carries neither the survey nor
// the resolution). While the source is stale no queue rule is evaluated:
// the figures are not known (session alerts still resolve on time). Every transition is published on
// acdbridge.alert.<rule>, in order, and dispatch hands it to the adapters
// with the alerts capability.

// rulesFile is where the API's rules are kept, under data_dir.
const rulesFile = "rules.json"

// minEvalGap bounds how often a burst of queue changes evaluates the rules;
// the gap also stays at least evalGapFactor times the last evaluation's
// duration, so that rules over many queues never take more than a fifth of
// a core, however fast the tables change.
const (
	minEvalGap    = 100 * time.Millisecond
	evalGapFactor = 4
)

// sessionAlertWindow: a session that ended longer ago than this does not
// alert. The archive also reads old sessions (the nightly schedule, a
// recording fetched again), and those are history, not news. "Ago" is
// measured from the newest session end seen, when that is earlier than the
// bridge's clock: a source whose clock runs behind (a simulator started in
// the past) still alerts on what just ended there.
const sessionAlertWindow = time.Hour

// alerting owns the rule engine; it is safe for concurrent use (the API
// calls it).
type alerting struct {
	pubMu    sync.Mutex // one publisher at a time, so that transitions keep their order
	mu       sync.Mutex
	engine   *monitors.Engine
	origin   map[string]string        // rule → api.OriginConfig or api.OriginAPI
	apiRules map[string]monitors.Rule // what rules.json holds
	leftOut  map[string]api.RuleDoc   // what rules.json holds that could not be loaded: written back as it was
	path     string
	out      []monitors.Alert // transitions still to publish, in order
	lastEval time.Time
	evalTook time.Duration        // how long the last evaluation took
	sessions map[string]time.Time // sessions the rules have seen, by when they ended; kept sessionAlertWindow
	newest   time.Time            // the newest session end seen
	now      func() time.Time
	log      hclog.Logger
	say      func(string, ...any)
}

// rulesDoc is rules.json.
type rulesDoc struct {
	V     int           `json:"v"`
	Rules []api.RuleDoc `json:"rules"`
}

// newAlerting loads the config's rules and the API's rules kept in dataDir.
// An API rule that no longer loads (a config rule took its name, or it is
// invalid) is logged and left out, never fatal; it stays in rules.json as
// it was (it comes back once the config rule is gone, or the file is
// fixed) until the API puts or deletes a rule by its name.
func newAlerting(config []monitors.Rule, dataDir string, now func() time.Time, log hclog.Logger, say func(string, ...any)) (*alerting, error) {
	al := &alerting{engine: monitors.NewEngine(200), origin: map[string]string{}, apiRules: map[string]monitors.Rule{}, leftOut: map[string]api.RuleDoc{}, sessions: map[string]time.Time{},
		path: filepath.Join(dataDir, rulesFile), now: now, log: log, say: say}
	t := now()
	for _, r := range config {
		if _, err := al.engine.Set(r, t); err != nil {
			return nil, fmt.Errorf("rule %q: %w", r.Name, err)
		}
		al.origin[r.Name] = api.OriginConfig
	}
	raw, err := os.ReadFile(al.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return al, nil
	case err != nil:
		return nil, fmt.Errorf("read the API's rules: %w", err)
	}
	var doc rulesDoc
	if err := json.Unmarshal(raw, &doc); err != nil || doc.V != 1 {
		return nil, fmt.Errorf("read the API's rules from %s: expected {\"v\": 1, \"rules\": [...]}: %v (fix or move the file)", al.path, err)
	}
	for _, d := range doc.Rules {
		r, err := d.Rule()
		if err == nil && al.origin[r.Name] == api.OriginConfig {
			err = errors.New("the config file has a rule by that name, which wins")
		}
		if err == nil {
			_, err = al.engine.Set(r, t)
		}
		if err != nil {
			log.Error("a rule kept from the API is left out", "rule", d.Name, "file", al.path, "error", err)
			say("rules: %q from %s left out: %v", d.Name, al.path, err)
			al.leftOut[d.Name] = d
			continue
		}
		al.origin[r.Name] = api.OriginAPI
		al.apiRules[r.Name] = r
	}
	return al, nil
}

func (al *alerting) info(name string) (api.RuleInfo, bool) {
	st, ok := al.engine.Rule(name)
	return api.RuleInfo{RuleStatus: st, Origin: al.origin[name]}, ok
}

// List is every rule, by name.
func (al *alerting) List() []api.RuleInfo {
	al.mu.Lock()
	defer al.mu.Unlock()
	var out []api.RuleInfo
	for _, st := range al.engine.Rules() {
		out = append(out, api.RuleInfo{RuleStatus: st, Origin: al.origin[st.Name]})
	}
	return out
}

// Get is one rule.
func (al *alerting) Get(name string) (api.RuleInfo, bool) {
	al.mu.Lock()
	defer al.mu.Unlock()
	return al.info(name)
}

// Put adds or replaces an API rule and keeps it in rules.json.
func (al *alerting) Put(r monitors.Rule, by string) (api.RuleInfo, bool, error) {
	al.mu.Lock()
	defer al.mu.Unlock()
	if al.origin[r.Name] == api.OriginConfig {
		return api.RuleInfo{}, false, fmt.Errorf("rule %q: %w", r.Name, api.ErrReadOnly)
	}
	checked, err := monitors.CheckRule(r)
	if err != nil {
		return api.RuleInfo{}, false, err
	}
	_, existed := al.apiRules[r.Name]
	next := maps.Clone(al.apiRules)
	next[r.Name] = checked
	leftOut := maps.Clone(al.leftOut)
	delete(leftOut, r.Name)
	if err := al.save(next, leftOut); err != nil {
		return api.RuleInfo{}, false, err
	}
	al.leftOut = leftOut
	resolved, err := al.engine.Set(checked, al.now())
	if err != nil { // CheckRule passed; this cannot happen
		return api.RuleInfo{}, false, err
	}
	al.apiRules = next
	al.origin[r.Name] = api.OriginAPI
	al.out = append(al.out, resolved...)
	action := "created"
	if existed {
		action = "changed"
	}
	doc, _ := json.Marshal(api.NewRuleDoc(checked))
	al.log.Info("rule "+action, "rule", r.Name, "by", by, "rule_json", string(doc))
	al.say("rules: %q %s by %s", r.Name, action, by)
	info, _ := al.info(r.Name)
	return info, !existed, nil
}

// Delete removes an API rule, resolving its alerts.
func (al *alerting) Delete(name, by string) error {
	al.mu.Lock()
	defer al.mu.Unlock()
	_, wasLeftOut := al.leftOut[name]
	switch al.origin[name] {
	case api.OriginConfig:
		return fmt.Errorf("rule %q: %w", name, api.ErrReadOnly)
	case "":
		if !wasLeftOut {
			return fmt.Errorf("rule %q: %w", name, api.ErrRuleNotFound)
		}
	}
	next := maps.Clone(al.apiRules)
	delete(next, name)
	leftOut := maps.Clone(al.leftOut)
	delete(leftOut, name)
	if err := al.save(next, leftOut); err != nil {
		return err
	}
	al.leftOut = leftOut
	if al.origin[name] == "" { // only the kept document, left out at start
		al.log.Info("rule deleted", "rule", name, "by", by, "left_out", true)
		al.say("rules: %q (left out at start) deleted by %s", name, by)
		return nil
	}
	resolved, _ := al.engine.Remove(name, al.now())
	al.apiRules = next
	delete(al.origin, name)
	al.out = append(al.out, resolved...)
	al.log.Info("rule deleted", "rule", name, "by", by)
	al.say("rules: %q deleted by %s", name, by)
	return nil
}

// Alerts is the firing alerts, then the recently resolved, newest first.
func (al *alerting) Alerts() []monitors.Alert {
	al.mu.Lock()
	defer al.mu.Unlock()
	return al.engine.Alerts()
}

// save writes rules, and the documents left out at start, atomically: a
// temporary file in the same folder, synced, renamed over rules.json, and
// the folder synced.
func (al *alerting) save(rules map[string]monitors.Rule, leftOut map[string]api.RuleDoc) error {
	docs := map[string]api.RuleDoc{}
	maps.Copy(docs, leftOut)
	for name, r := range rules {
		docs[name] = api.NewRuleDoc(r)
	}
	doc := rulesDoc{V: 1, Rules: []api.RuleDoc{}}
	for _, name := range slices.Sorted(maps.Keys(docs)) {
		doc.Rules = append(doc.Rules, docs[name])
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(al.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("keep the rules: %w", err)
	}
	f, err := os.CreateTemp(dir, rulesFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("keep the rules: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, al.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("keep the rules in %s: %w", al.path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// evaluate runs the queue rules over figs at now and queues the transitions.
func (al *alerting) evaluate(figs []monitors.Figures, now time.Time) {
	al.mu.Lock()
	defer al.mu.Unlock()
	started := time.Now()
	al.lastEval = now
	al.out = append(al.out, al.engine.Evaluate(figs, now)...)
	al.evalTook = time.Since(started)
}

// expireSessions resolves the session alerts that are due, evaluating
// nothing (the source is stale), and queues the transitions.
func (al *alerting) expireSessions(now time.Time) {
	al.mu.Lock()
	defer al.mu.Unlock()
	al.out = append(al.out, al.engine.ExpireSessions(now)...)
}

// due says whether to evaluate now: after a change, once minEvalGap has
// passed; on a tick, unless a slow evaluation's gap is not over.
func (al *alerting) due(now time.Time, tick bool) bool {
	al.mu.Lock()
	defer al.mu.Unlock()
	if tick {
		return now.Sub(al.lastEval) >= evalGapFactor*al.evalTook
	}
	return now.Sub(al.lastEval) >= max(minEvalGap, evalGapFactor*al.evalTook)
}

// sessionEnded runs the session rules on a session's record, once per
// session, and only for a session that ended within sessionAlertWindow.
func (al *alerting) sessionEnded(o monitors.SessionOutcome) {
	al.mu.Lock()
	defer al.mu.Unlock()
	now := al.now()
	if o.EndedAt.After(al.newest) {
		al.newest = o.EndedAt
	}
	ref := now
	if al.newest.Before(ref) {
		ref = al.newest
	}
	for id, ended := range al.sessions {
		if ref.Sub(ended) > sessionAlertWindow {
			delete(al.sessions, id)
		}
	}
	if _, seen := al.sessions[o.ID]; seen || ref.Sub(o.EndedAt) > sessionAlertWindow {
		return
	}
	al.sessions[o.ID] = o.EndedAt
	al.out = append(al.out, al.engine.SessionEnded(o, now)...)
}

// take is the transitions still to publish; giveBack returns the ones not
// published, ahead of newer ones.
func (al *alerting) take() []monitors.Alert {
	al.mu.Lock()
	defer al.mu.Unlock()
	out := al.out
	al.out = nil
	return out
}

func (al *alerting) giveBack(rest []monitors.Alert) {
	al.mu.Lock()
	defer al.mu.Unlock()
	al.out = append(slices.Clone(rest), al.out...)
}

// startAlerts loads the rules; Run calls it once the bus is open.
func (b *Bridge) startAlerts() error {
	al, err := newAlerting(b.opts.Config.Rules, b.opts.Config.DataDir, time.Now, b.log.Named("rules"), b.say)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.alerts = al
	b.mu.Unlock()
	if n := len(al.engine.Rules()); n > 0 {
		b.say("rules: %d threshold rules (%d from the API, kept in %s); alerts on acdbridge.alert.<rule>", n, len(al.apiRules), al.path)
	}
	if !b.opts.Config.Archive.Realtime {
		if names := sessionRuleNames(al.engine.Rules()); len(names) > 0 {
			// Session rules read the archived record (survey, resolution).
			b.log.Warn("session rules cannot fire: real-time archiving is off (archive { realtime = false })", "rules", names)
			b.say("rules: session rules %s cannot fire while real-time archiving is off (archive { realtime = true } turns it on)", strings.Join(names, ", "))
		}
	}
	return nil
}

// sessionRuleNames are the names of the session rules among rules.
func sessionRuleNames(rules []monitors.RuleStatus) []string {
	var names []string
	for _, r := range rules {
		if r.Kind == monitors.SessionRuleKind {
			names = append(names, r.Name)
		}
	}
	return names
}

// evaluateAlerts evaluates the queue rules over the figures now (unless
// the source is stale) and publishes the transitions. force: a tick, which
// evaluates unless the last evaluation took so long that the gap after it
// is not over; otherwise a table change, at most every minEvalGap.
func (b *Bridge) evaluateAlerts(ctx context.Context, force bool) {
	b.mu.Lock()
	al := b.alerts
	if al == nil {
		b.mu.Unlock()
		return
	}
	now := time.Now()
	if b.agents.Stale() || b.agents.LastFresh().IsZero() || !al.due(now, force) {
		stale := b.agents.Stale() || b.agents.LastFresh().IsZero()
		b.mu.Unlock()
		if stale && force {
			al.expireSessions(now) // session alerts resolve by time alone
		}
		b.publishAlerts(ctx)
		return
	}
	figs := b.queues.Figures(b.agents, now)
	b.mu.Unlock()
	al.evaluate(figs, now)
	b.publishAlerts(ctx)
}

// alertSession runs the session rules on an archived session's record.
func (b *Bridge) alertSession(ctx context.Context, x archive.Session) {
	b.mu.Lock()
	al := b.alerts
	b.mu.Unlock()
	if al == nil {
		return
	}
	o := monitors.SessionOutcome{ID: x.ID, AgentID: x.AgentID, Queue: x.Queue, EndedAt: x.EndedAt, Resolution: x.Resolution}
	if x.Survey != nil {
		o.Rating = x.Survey.Rating
	}
	al.sessionEnded(o)
	b.publishAlerts(ctx)
}

// publishAlerts publishes the transitions in order; at the first failure
// the rest waits for the next tick.
func (b *Bridge) publishAlerts(ctx context.Context) {
	b.mu.Lock()
	al, bs := b.alerts, b.bus
	b.mu.Unlock()
	if al == nil || bs == nil {
		return
	}
	al.pubMu.Lock()
	defer al.pubMu.Unlock()
	todo := al.take()
	for i, a := range todo {
		pctx, cancel := context.WithTimeout(ctx, publishTimeout)
		err := bs.PublishAlert(pctx, a)
		cancel()
		if err != nil {
			b.metrics.errors.WithLabelValues("bus_publish").Inc()
			b.log.Warn("publish failed; retrying on the next tick", "what", "alert", "id", a.Rule+"/"+a.Key(), "error", err)
			al.giveBack(todo[i:])
			return
		}
		b.metrics.alerts.WithLabelValues(string(a.Status)).Inc()
		b.log.Info("alert "+string(a.Status), "rule", a.Rule, "queue", a.Queue, "session", a.Session, "severity", a.Severity)
		b.say("alert: %s %s %s (%s)", a.Status, a.Rule, a.Key(), a.Severity)
	}
}

// Rules is the rules and alerts API.
func (b *Bridge) Rules() api.Rules {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.alerts == nil {
		return nil
	}
	return b.alerts
}

// QueueAlertStates is, per queue with a pending or firing alert, its state
// (firing over pending), for the queues monitor.
func (b *Bridge) QueueAlertStates() map[string]monitors.AlertState {
	b.mu.Lock()
	al := b.alerts
	b.mu.Unlock()
	if al == nil {
		return nil
	}
	al.mu.Lock()
	defer al.mu.Unlock()
	return al.engine.QueueStates()
}

// firingAlerts is every alert firing now, for an adapter that (re)starts.
func (b *Bridge) firingAlerts() []monitors.Alert {
	b.mu.Lock()
	al := b.alerts
	b.mu.Unlock()
	if al == nil {
		return nil
	}
	var out []monitors.Alert
	for _, a := range al.Alerts() {
		if a.Status == monitors.Firing {
			out = append(out, a)
		}
	}
	return out
}
