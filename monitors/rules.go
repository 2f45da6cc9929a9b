package monitors

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Threshold rules. A queue rule watches the queues it names (ids, or
// path.Match patterns such as "support/*" or "*") and fires when its
// condition, an HCL expression over the queue's figures, has held for `for`;
// it resolves once the condition has been false for `keep_firing_for`. A
// session rule fires one alert per ended session whose survey rating is at
// or under a threshold and/or whose resolution is "unresolved"; that alert
// resolves by itself keep_firing_for later (default DefaultSessionAlertTTL).
//
// The queue figures a condition and an annotation template may use:
//
//	queue             string  the queue's id
//	waiting           number  customers waiting
//	longest_wait      number  seconds the oldest waiting customer has waited
//	agents_available  number  agents serving the queue who are available
//	agents_logged_in  number  agents serving the queue who are not offline
//
// A service level is not among them: the source reports neither answer
// times nor a target, so the bridge cannot derive one.
//
// A session rule's annotations may use session, agent, queue (strings),
// rating (number, 0 when the customer did not answer the survey) and
// resolution (string).

// RuleKind says what a rule watches.
type RuleKind string

// Rule kinds.
const (
	QueueRuleKind   RuleKind = "queue"
	SessionRuleKind RuleKind = "session"
)

// AlertState is a rule's, or one of its alerts', state.
type AlertState string

// Alert states. Resolved is only an alert's: a rule is inactive again.
const (
	Inactive AlertState = "inactive"
	Pending  AlertState = "pending"
	Firing   AlertState = "firing"
	Resolved AlertState = "resolved"
)

// DefaultSessionAlertTTL is how long a session alert stays firing when its
// rule sets no keep_firing_for.
const DefaultSessionAlertTTL = 10 * time.Minute

// DefaultSeverity is a rule's severity when it names none.
const DefaultSeverity = "warning"

// Label names the bridge sets on alerts itself; a rule's labels may not use them.
var reservedLabels = []string{"alertname", "queue", "severity", "session", "agent"}

// Variables a queue rule can use, and those a session rule's annotations can.
var (
	queueVars   = []string{"queue", "waiting", "longest_wait", "agents_available", "agents_logged_in"}
	sessionVars = []string{"session", "agent", "queue", "rating", "resolution"}
)

// Rule is a threshold rule as written in the config file or sent to the API.
type Rule struct {
	Name          string
	Kind          RuleKind
	Queues        []string // queue rules: ids or path.Match patterns; session rules: optional, empty is every queue
	When          string   // queue rules: an HCL expression that is true or false
	For           time.Duration
	KeepFiringFor time.Duration
	RatingAtMost  int  // session rules: 1 to 5, 0 for no rating condition
	Unresolved    bool // session rules: only sessions whose resolution is "unresolved"
	Severity      string
	Labels        map[string]string
	Annotations   map[string]string // HCL templates: "${waiting} waiting in ${queue}"

	// Pos is where the rule's texts start in a config file, so that errors
	// carry file:line:col; zero for a rule from the API.
	Pos RulePos
}

// RulePos is where a rule's expressions sit in a file.
type RulePos struct {
	File        string
	Block       hcl.Range          // the rule block's header
	Fields      map[string]hcl.Pos // "when", "queues", "for", ... : where each attribute's value starts
	Annotations map[string]hcl.Pos // where each annotation's template text starts (after the quote)
}

// RuleError is a rule that cannot be used: the field at fault and why.
type RuleError struct {
	Field   string     // "when", "annotations.summary", "queues", ...
	Subject *hcl.Range // where in the file; nil for a rule from the API
	Msg     string
}

func (e *RuleError) Error() string {
	if e.Subject != nil {
		return fmt.Sprintf("%s:%d:%d: %s: %s", e.Subject.Filename, e.Subject.Start.Line, e.Subject.Start.Column, e.Field, e.Msg)
	}
	return e.Field + ": " + e.Msg
}

var (
	ruleName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,127}$`)
	labelName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	severity  = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
)

// compiled is a rule checked and ready to evaluate.
type compiled struct {
	Rule
	when   hclsyntax.Expression
	fast   func(*fastVals) bool // when, compiled to Go when it uses only what fast.go knows; nil: HCL evaluates it
	annots map[string]hclsyntax.Expression
}

// CheckRule validates a rule (applying its defaults) without keeping it.
func CheckRule(r Rule) (Rule, error) {
	c, err := compile(r)
	if err != nil {
		return Rule{}, err
	}
	return c.Rule, nil
}

func (r Rule) fail(field, msg string) *RuleError {
	e := &RuleError{Field: field, Msg: msg}
	if r.Pos.File != "" {
		rng := r.Pos.Block
		if p, ok := r.Pos.Fields[strings.SplitN(field, ".", 2)[0]]; ok {
			rng = hcl.Range{Filename: r.Pos.File, Start: p, End: p}
		}
		if a, ok := strings.CutPrefix(field, "annotations."); ok {
			if p, ok := r.Pos.Annotations[a]; ok {
				rng = hcl.Range{Filename: r.Pos.File, Start: p, End: p}
			}
		}
		e.Subject = &rng
	}
	return e
}

// diagError turns HCL diagnostics about field into a RuleError: the file's
// position when there is one, else the column within the field's text.
func (r Rule) diagError(field string, diags hcl.Diagnostics) *RuleError {
	d := diags[0]
	for _, x := range diags {
		if x.Severity == hcl.DiagError {
			d = x
			break
		}
	}
	msg := d.Summary
	if d.Detail != "" {
		msg += ": " + d.Detail
	}
	if d.Subject == nil {
		return r.fail(field, msg)
	}
	if r.Pos.File != "" {
		rng := *d.Subject
		return &RuleError{Field: field, Subject: &rng, Msg: msg}
	}
	return &RuleError{Field: field, Msg: fmt.Sprintf("column %d: %s", d.Subject.Start.Column, msg)}
}

func (r Rule) fieldPos(field string) hcl.Pos {
	if p, ok := r.Pos.Fields[field]; ok {
		return p
	}
	return hcl.InitialPos
}

func compile(r Rule) (*compiled, *RuleError) {
	if !ruleName.MatchString(r.Name) {
		return nil, r.fail("name", fmt.Sprintf("expected a letter or _ then up to 127 letters, digits, _ . or -, got %q", r.Name))
	}
	if r.Kind == "" {
		r.Kind = QueueRuleKind
	}
	if r.Severity == "" {
		r.Severity = DefaultSeverity
	}
	if !severity.MatchString(r.Severity) {
		return nil, r.fail("severity", fmt.Sprintf("expected a lower-case word like critical, warning or info, got %q", r.Severity))
	}
	if r.For < 0 {
		return nil, r.fail("for", fmt.Sprintf("expected 0 or more, got %s", r.For))
	}
	if r.KeepFiringFor < 0 {
		return nil, r.fail("keep_firing_for", fmt.Sprintf("expected 0 or more, got %s", r.KeepFiringFor))
	}
	for _, k := range slices.Sorted(maps.Keys(r.Labels)) {
		if !labelName.MatchString(k) {
			return nil, r.fail("labels", fmt.Sprintf("label %q: expected a name of letters, digits and _ not starting with a digit", k))
		}
		if slices.Contains(reservedLabels, k) {
			return nil, r.fail("labels", fmt.Sprintf("label %q is set by the bridge; the reserved names are %s", k, strings.Join(reservedLabels, ", ")))
		}
		if r.Labels[k] == "" {
			return nil, r.fail("labels", fmt.Sprintf("label %q: expected a value, got an empty string (an empty label is no label: Alertmanager drops it)", k))
		}
	}
	for _, q := range r.Queues {
		if q == "" {
			return nil, r.fail("queues", "expected queue ids or patterns like support/*, got an empty string")
		}
		if _, err := path.Match(q, ""); err != nil {
			return nil, r.fail("queues", fmt.Sprintf("pattern %q: %v", q, err))
		}
	}
	c := &compiled{Rule: r, annots: map[string]hclsyntax.Expression{}}
	vars := queueVars
	switch r.Kind {
	case QueueRuleKind:
		if len(r.Queues) == 0 {
			return nil, r.fail("queues", `expected at least one queue id or pattern, like ["support", "support/*"] or ["*"]`)
		}
		if r.RatingAtMost != 0 || r.Unresolved {
			return nil, r.fail("kind", "rating_at_most and unresolved belong to session rules (kind session)")
		}
		if strings.TrimSpace(r.When) == "" {
			return nil, r.fail("when", `expected a condition over the queue's figures, like "waiting >= 5 || longest_wait > 120"`)
		}
		expr, err := r.expression("when", r.When, queueVars)
		if err != nil {
			return nil, err
		}
		c.when = expr
		c.fast = compileFast(expr)
		v, diags := expr.Value(sampleQueueContext())
		if diags.HasErrors() {
			return nil, r.diagError("when", diags)
		}
		if v.Type() != cty.Bool {
			return nil, r.fail("when", fmt.Sprintf("expected a condition that is true or false, got a %s", v.Type().FriendlyName()))
		}
	case SessionRuleKind:
		vars = sessionVars
		if r.When != "" {
			return nil, r.fail("when", "session rules have no when; they use rating_at_most and unresolved")
		}
		if r.For != 0 {
			return nil, r.fail("for", "session rules fire as the session ends; they have no for")
		}
		if r.RatingAtMost < 0 || r.RatingAtMost > 5 {
			return nil, r.fail("rating_at_most", fmt.Sprintf("expected a survey rating from 1 to 5, got %d", r.RatingAtMost))
		}
		if r.RatingAtMost == 0 && !r.Unresolved {
			return nil, r.fail("rating_at_most", "expected rating_at_most (1 to 5), unresolved = true, or both")
		}
		if r.KeepFiringFor == 0 {
			r.KeepFiringFor = DefaultSessionAlertTTL
			c.KeepFiringFor = r.KeepFiringFor
		}
	default:
		return nil, r.fail("kind", fmt.Sprintf("expected queue or session, got %q", r.Kind))
	}
	for _, k := range slices.Sorted(maps.Keys(r.Annotations)) {
		field := "annotations." + k
		if !labelName.MatchString(k) {
			return nil, r.fail(field, fmt.Sprintf("expected a name of letters, digits and _, got %q", k))
		}
		pos := hcl.InitialPos
		if p, ok := r.Pos.Annotations[k]; ok {
			pos = p
		}
		file := field
		if r.Pos.File != "" {
			file = r.Pos.File
		}
		expr, diags := hclsyntax.ParseTemplate([]byte(r.Annotations[k]), file, pos)
		if diags.HasErrors() {
			return nil, r.diagError(field, diags)
		}
		if err := r.knownVars(field, expr, vars); err != nil {
			return nil, err
		}
		ctx := sampleQueueContext()
		if r.Kind == SessionRuleKind {
			ctx = sessionContext(SessionOutcome{})
		}
		v, diags := expr.Value(ctx)
		if diags.HasErrors() {
			return nil, r.diagError(field, diags)
		}
		if _, err := convert.Convert(v, cty.String); err != nil {
			return nil, r.fail(field, fmt.Sprintf("expected a template that makes text, got a %s", v.Type().FriendlyName()))
		}
		c.annots[k] = expr
	}
	return c, nil
}

// expression parses src as an HCL expression over vars.
func (r Rule) expression(field, src string, vars []string) (hclsyntax.Expression, *RuleError) {
	file := field
	if r.Pos.File != "" {
		file = r.Pos.File
	}
	expr, diags := hclsyntax.ParseExpression([]byte(src), file, r.fieldPos(field))
	if diags.HasErrors() {
		return nil, r.diagError(field, diags)
	}
	if err := r.knownVars(field, expr, vars); err != nil {
		return nil, err
	}
	if err := r.sameTypes(field, expr); err != nil {
		return nil, err
	}
	return expr, nil
}

// knownVars refuses a variable that is not one of vars, and function calls:
// a condition has no functions.
func (r Rule) knownVars(field string, expr hclsyntax.Expression, vars []string) *RuleError {
	for _, tr := range expr.Variables() {
		if name := tr.RootName(); !slices.Contains(vars, name) {
			rng := tr.SourceRange()
			return r.diagError(field, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown variable",
				Detail: fmt.Sprintf("there is no %q; expected one of %s", name, strings.Join(vars, ", ")), Subject: &rng}})
		}
	}
	var bad *RuleError
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if f, ok := n.(*hclsyntax.FunctionCallExpr); ok && bad == nil {
			rng := f.NameRange
			bad = r.diagError(field, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Functions are not available",
				Detail: fmt.Sprintf("%s(...) cannot be called in a rule", f.Name), Subject: &rng}})
		}
		return nil
	})
	return bad
}

// sameTypes refuses == and != between a string and a number: HCL would
// quietly say false (or true) forever, which is never what was meant.
func (r Rule) sameTypes(field string, expr hclsyntax.Expression) *RuleError {
	var bad *RuleError
	ctx := sampleQueueContext()
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		b, ok := n.(*hclsyntax.BinaryOpExpr)
		if !ok || bad != nil || (b.Op != hclsyntax.OpEqual && b.Op != hclsyntax.OpNotEqual) {
			return nil
		}
		lv, d1 := b.LHS.Value(ctx)
		rv, d2 := b.RHS.Value(ctx)
		if d1.HasErrors() || d2.HasErrors() || lv.Type().Equals(rv.Type()) {
			return nil
		}
		rng := b.SrcRange
		bad = r.diagError(field, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Incompatible types",
			Detail:  fmt.Sprintf("compares a %s with a %s, which is never equal", lv.Type().FriendlyName(), rv.Type().FriendlyName()),
			Subject: &rng}})
		return nil
	})
	return bad
}

// matchQueue says whether one of the rule's patterns matches the queue; an
// empty list matches every queue (session rules).
func (c *compiled) matchQueue(id string) bool {
	if len(c.Queues) == 0 {
		return true
	}
	for _, p := range c.Queues {
		if ok, _ := path.Match(p, id); ok || p == id {
			return true
		}
	}
	return false
}

func sampleQueueContext() *hcl.EvalContext {
	return queueContext(Figures{Queue: "sample"})
}

func queueContext(f Figures) *hcl.EvalContext {
	return &hcl.EvalContext{Variables: map[string]cty.Value{
		"queue":            cty.StringVal(f.Queue),
		"waiting":          cty.NumberIntVal(int64(f.Waiting)),
		"longest_wait":     cty.NumberFloatVal(roundSeconds(f.LongestWait)),
		"agents_available": cty.NumberIntVal(int64(f.AgentsAvailable)),
		"agents_logged_in": cty.NumberIntVal(int64(f.AgentsLoggedIn)),
	}}
}

func sessionContext(s SessionOutcome) *hcl.EvalContext {
	return &hcl.EvalContext{Variables: map[string]cty.Value{
		"session":    cty.StringVal(s.ID),
		"agent":      cty.StringVal(s.AgentID),
		"queue":      cty.StringVal(s.Queue),
		"rating":     cty.NumberIntVal(int64(s.Rating)),
		"resolution": cty.StringVal(s.Resolution),
	}}
}

// roundSeconds is a duration in seconds to the millisecond.
func roundSeconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

func figureValues(f Figures) map[string]float64 {
	return map[string]float64{
		"waiting":          float64(f.Waiting),
		"longest_wait":     roundSeconds(f.LongestWait),
		"agents_available": float64(f.AgentsAvailable),
		"agents_logged_in": float64(f.AgentsLoggedIn),
	}
}

// render fills the annotation templates; a template that fails on these
// values (it passed the checks, so this is rare) says so in its text.
func (c *compiled) render(ctx *hcl.EvalContext) map[string]string {
	if len(c.annots) == 0 {
		return nil
	}
	out := make(map[string]string, len(c.annots))
	for k, expr := range c.annots {
		v, diags := expr.Value(ctx)
		if !diags.HasErrors() {
			if s, err := convert.Convert(v, cty.String); err == nil && s.IsKnown() && !s.IsNull() {
				out[k] = s.AsString()
				continue
			}
		}
		out[k] = fmt.Sprintf("(annotation %s failed: %s)", k, diags.Error())
	}
	return out
}

// SessionOutcome is what a session rule looks at: an ended session with its
// resolution and survey, from the session's record.
type SessionOutcome struct {
	ID         string
	AgentID    string
	Queue      string
	EndedAt    time.Time
	Rating     int    // 1 to 5; 0 when the customer did not answer the survey
	Resolution string // resolved, unresolved, or "" when the record has none
}

// Alert is an alert firing or resolved, as the bridge publishes it.
type Alert struct {
	Rule        string
	Queue       string
	Session     string // session alerts: the session's id
	Status      AlertState
	Severity    string
	Labels      map[string]string // the rule's labels, plus queue (and session and agent for a session alert)
	Annotations map[string]string
	StartsAt    time.Time
	EndsAt      time.Time          // zero while firing
	Value       map[string]float64 // the figures when it fired (queue), or the rating (session)
}

// Key is what identifies an alert among its rule's: the queue or the session.
func (a Alert) Key() string {
	if a.Session != "" {
		return a.Session
	}
	return a.Queue
}

type alertState struct {
	state    AlertState // Pending or Firing
	pass     uint64     // the last evaluation in which the condition held
	activeAt time.Time  // when the condition started to hold
	lastTrue time.Time  // when it last held
	alert    Alert      // the firing alert; set once firing
	bound    *binding   // the match cache's entry that points here, if any
}

// binding is one queue rule watching one queue, in the match cache, with
// its alert's state (nil while inactive), so that an evaluation needs no
// map lookup.
type binding struct {
	c *compiled
	s *alertState
}

func (s *alertState) unbind() {
	if s.bound != nil {
		s.bound.s = nil
	}
}

// RuleStatus is a rule with its state now.
type RuleStatus struct {
	Rule
	State     AlertState // inactive, pending or firing: the most advanced of its alerts
	LastError string     // the last evaluation error, if the condition failed on some queue
}

// Engine evaluates rules; it is not safe for concurrent use (the runtime
// owns it). Time comes in as arguments: the engine never reads a clock.
type Engine struct {
	rules    map[string]*compiled
	states   map[string]map[string]*alertState // rule → queue or session → state
	errs     map[string]string                 // rule → last evaluation error
	resolved []Alert                           // recently resolved, newest first
	keep     int
	match    map[string][]*binding // queue → the queue rules that watch it, by name; nil after a rule changes
	pass     uint64
}

// NewEngine makes an engine without rules that remembers the last keep
// resolved alerts (0: 100).
func NewEngine(keep int) *Engine {
	if keep <= 0 {
		keep = 100
	}
	return &Engine{rules: map[string]*compiled{}, states: map[string]map[string]*alertState{}, errs: map[string]string{}, keep: keep}
}

// Set adds or replaces a rule. Replacing a rule keeps its alerts, pending
// and firing, as Prometheus does when a rule is edited: the next
// evaluation applies the new condition, for, keep_firing_for and queues to
// them (a threshold raised above the figures resolves, one still exceeded
// keeps firing without a resolution and a new firing, a pending alert
// keeps the time it started to hold). Only a change to what the alerts'
// labels are made of (kind, severity, labels) makes them other alerts: the
// old ones are resolved at now (returned) and the rule starts afresh.
// Firing alerts keep the annotations they fired with.
func (e *Engine) Set(r Rule, now time.Time) ([]Alert, error) {
	c, err := compile(r)
	if err != nil {
		return nil, err
	}
	var out []Alert
	if old, ok := e.rules[r.Name]; !ok || !sameAlerts(old.Rule, c.Rule) {
		out = e.drop(r.Name, now)
		e.states[r.Name] = map[string]*alertState{}
	}
	delete(e.errs, r.Name)
	e.rules[r.Name] = c
	e.match = nil
	return out, nil
}

// sameAlerts says whether two versions of a rule make alerts with the same
// labels.
func sameAlerts(a, b Rule) bool {
	return a.Kind == b.Kind && a.Severity == b.Severity && maps.Equal(a.Labels, b.Labels)
}

// Remove deletes a rule, resolving its firing alerts at now.
func (e *Engine) Remove(name string, now time.Time) ([]Alert, bool) {
	if _, ok := e.rules[name]; !ok {
		return nil, false
	}
	out := e.drop(name, now)
	delete(e.rules, name)
	delete(e.states, name)
	e.match = nil
	delete(e.errs, name)
	return out, true
}

func (e *Engine) drop(name string, now time.Time) []Alert {
	var out []Alert
	st := e.states[name]
	for _, k := range slices.Sorted(maps.Keys(st)) {
		if st[k].state == Firing {
			out = append(out, e.resolve(st[k], now))
		}
	}
	delete(e.errs, name)
	return out
}

func (e *Engine) resolve(s *alertState, now time.Time) Alert {
	a := s.alert
	a.Status, a.EndsAt = Resolved, now
	e.resolved = append([]Alert{a}, e.resolved...)
	if len(e.resolved) > e.keep {
		e.resolved = e.resolved[:e.keep]
	}
	return a
}

// Rule is one rule with its state.
func (e *Engine) Rule(name string) (RuleStatus, bool) {
	c, ok := e.rules[name]
	if !ok {
		return RuleStatus{}, false
	}
	st := Inactive
	for _, s := range e.states[name] {
		if s.state == Firing {
			st = Firing
			break
		}
		st = Pending
	}
	return RuleStatus{Rule: c.Rule, State: st, LastError: e.errs[name]}, true
}

// Rules is every rule with its state, by name.
func (e *Engine) Rules() []RuleStatus {
	out := make([]RuleStatus, 0, len(e.rules))
	for _, name := range slices.Sorted(maps.Keys(e.rules)) {
		r, _ := e.Rule(name)
		out = append(out, r)
	}
	return out
}

// Alerts is every firing alert, newest first, then the recently resolved
// ones, newest first.
func (e *Engine) Alerts() []Alert {
	var firing []Alert
	for _, st := range e.states {
		for _, s := range st {
			if s.state == Firing {
				firing = append(firing, s.alert)
			}
		}
	}
	slices.SortFunc(firing, func(a, b Alert) int {
		if c := b.StartsAt.Compare(a.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(a.Rule+"\x00"+a.Key(), b.Rule+"\x00"+b.Key())
	})
	return append(firing, e.resolved...)
}

// Evaluate runs every queue rule over the queues' figures at now, and
// resolves session alerts that are due; it returns the transitions (firing
// and resolved), by rule then queue. A queue missing from figs no longer
// meets any condition.
func (e *Engine) Evaluate(figs []Figures, now time.Time) []Alert {
	var out []Alert
	e.pass++
	failed := map[string]string{} // rule → this pass's evaluation error
	if e.match == nil || len(e.match) > 2*len(figs)+1024 {
		// Rules changed, or many queues came and went since the cache
		// was built: start it afresh (states keep their bindings' truth).
		e.match = map[string][]*binding{}
	}
	var vals fastVals
	for _, f := range figs {
		binds, ok := e.match[f.Queue]
		if !ok {
			for _, n := range slices.Sorted(maps.Keys(e.rules)) {
				if c := e.rules[n]; c.Kind == QueueRuleKind && c.matchQueue(f.Queue) {
					b := &binding{c: c, s: e.states[n][f.Queue]}
					if b.s != nil {
						b.s.bound = b
					}
					binds = append(binds, b)
				}
			}
			e.match[f.Queue] = binds
		}
		if len(binds) == 0 {
			continue
		}
		vals = fastVals{queue: f.Queue, n: [4]float64{float64(f.Waiting), roundSeconds(f.LongestWait), float64(f.AgentsAvailable), float64(f.AgentsLoggedIn)}}
		var ctx *hcl.EvalContext
		for _, b := range binds {
			c := b.c
			var held bool
			if c.fast != nil {
				held = c.fast(&vals)
			} else {
				if ctx == nil {
					ctx = queueContext(f)
				}
				v, diags := c.when.Value(ctx)
				if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.Bool {
					failed[c.Name] = fmt.Sprintf("queue %s: %s", f.Queue, diags.Error())
					continue
				}
				held = v.True()
			}
			if !held {
				continue
			}
			s := b.s
			if s == nil {
				s = &alertState{state: Pending, activeAt: now, bound: b}
				e.states[c.Name][f.Queue] = s
				b.s = s
			}
			s.lastTrue, s.pass = now, e.pass
			if s.state == Pending && now.Sub(s.activeAt) >= c.For {
				if ctx == nil {
					ctx = queueContext(f)
				}
				s.state = Firing
				labels := maps.Clone(c.Labels)
				if labels == nil {
					labels = map[string]string{}
				}
				labels["queue"] = f.Queue
				s.alert = Alert{Rule: c.Name, Queue: f.Queue, Status: Firing, Severity: c.Severity, Labels: labels,
					Annotations: c.render(ctx), StartsAt: now, Value: figureValues(f)}
				out = append(out, s.alert)
			}
		}
	}
	// LastError is the last pass's: an error that passed is no longer shown.
	for n, c := range e.rules {
		if msg, ok := failed[n]; ok {
			e.errs[n] = msg
		} else if c.Kind == QueueRuleKind {
			delete(e.errs, n)
		}
	}
	return e.settle(out, now, true)
}

// ExpireSessions resolves the session alerts whose keep_firing_for is over,
// and evaluates nothing: what the runtime does while the queues' figures
// are not known (the source is stale), since session alerts resolve by
// time alone.
func (e *Engine) ExpireSessions(now time.Time) []Alert {
	return e.settle(nil, now, false)
}

// settle ends the states this pass did not keep: queue rules' (when
// queues) whose condition no longer held (pending at once, firing after
// keep_firing_for), and session alerts whose keep_firing_for is over. It
// returns out with the resolutions, by rule then key.
func (e *Engine) settle(out []Alert, now time.Time, queues bool) []Alert {
	for n, st := range e.states {
		c := e.rules[n]
		if c.Kind == QueueRuleKind && !queues {
			continue
		}
		for k, s := range st {
			switch {
			case c.Kind == QueueRuleKind && s.pass == e.pass:
			case c.Kind == QueueRuleKind && s.state == Pending:
				s.unbind()
				delete(st, k)
			case now.Sub(s.lastTrue) >= c.KeepFiringFor:
				out = append(out, e.resolve(s, now))
				s.unbind()
				delete(st, k)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Alert) int {
		if c := strings.Compare(a.Rule, b.Rule); c != 0 {
			return c
		}
		return strings.Compare(a.Key(), b.Key())
	})
	return out
}

// SessionEnded runs the session rules on one ended session at now: each rule
// it meets fires an alert for that session (returned), resolved by Evaluate
// keep_firing_for later. A session seen again fires nothing new.
func (e *Engine) SessionEnded(s SessionOutcome, now time.Time) []Alert {
	var out []Alert
	for _, n := range slices.Sorted(maps.Keys(e.rules)) {
		c := e.rules[n]
		if c.Kind != SessionRuleKind || !c.matchQueue(s.Queue) || !c.meets(s) {
			continue
		}
		st := e.states[n]
		if _, seen := st[s.ID]; seen {
			continue
		}
		labels := maps.Clone(c.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels["queue"], labels["session"], labels["agent"] = s.Queue, s.ID, s.AgentID
		a := Alert{Rule: n, Queue: s.Queue, Session: s.ID, Status: Firing, Severity: c.Severity, Labels: labels,
			Annotations: c.render(sessionContext(s)), StartsAt: now, Value: map[string]float64{"rating": float64(s.Rating)}}
		st[s.ID] = &alertState{state: Firing, activeAt: now, lastTrue: now, alert: a}
		out = append(out, a)
	}
	return out
}

func (c *compiled) meets(s SessionOutcome) bool {
	if c.RatingAtMost > 0 && (s.Rating < 1 || s.Rating > c.RatingAtMost) {
		return false
	}
	if c.Unresolved && s.Resolution != "unresolved" {
		return false
	}
	return true
}

// IsRuleError says whether err is a rule's validation error, and which.
func IsRuleError(err error) (*RuleError, bool) {
	var re *RuleError
	ok := errors.As(err, &re)
	return re, ok
}

// QueueStates is, per queue with a pending or firing queue alert, the most
// advanced state among its rules' (firing over pending): the rule state the
// queues monitor shows.
func (e *Engine) QueueStates() map[string]AlertState {
	out := map[string]AlertState{}
	for n, st := range e.states {
		if e.rules[n].Kind != QueueRuleKind {
			continue
		}
		for q, s := range st {
			if out[q] != Firing {
				out[q] = s.state
			}
		}
	}
	return out
}
