package monitors

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// fakeClock is the tests' time: it moves only when told.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }
func fig(q string, waiting int, wait time.Duration) Figures {
	return Figures{Queue: q, Waiting: waiting, LongestWait: wait, AgentsLoggedIn: 3, AgentsAvailable: 1}
}

// transitions renders alerts as "status rule/key" lines, in order.
func transitions(as []Alert) string {
	var s []string
	for _, a := range as {
		s = append(s, fmt.Sprintf("%s %s/%s", a.Status, a.Rule, a.Key()))
	}
	return strings.Join(s, "; ")
}

func TestQueueRuleTimeline(t *testing.T) {
	type step struct {
		after time.Duration // advance the clock first
		figs  []Figures
		want  string     // the transitions
		state AlertState // the rule's state afterwards
	}
	backlog := Rule{Name: "backlog", Queues: []string{"support", "support/*"}, When: "waiting >= 5 || longest_wait > 120"}
	withFor := backlog
	withFor.For = 30 * time.Second
	withKeep := backlog
	withKeep.KeepFiringFor = time.Minute
	both := withFor
	both.KeepFiringFor = time.Minute
	tests := []struct {
		name  string
		rule  Rule
		steps []step
	}{
		{"no for: fires at once, resolves at once", backlog, []step{
			{0, []Figures{fig("support", 4, 0)}, "", Inactive},
			{time.Second, []Figures{fig("support", 5, 0)}, "firing backlog/support", Firing},
			{time.Second, []Figures{fig("support", 6, 0)}, "", Firing},
			{time.Second, []Figures{fig("support", 1, 0)}, "resolved backlog/support", Inactive},
		}},
		{"longest_wait alone fires", backlog, []step{
			{0, []Figures{fig("support", 1, 120*time.Second)}, "", Inactive},
			{0, []Figures{fig("support", 1, 121*time.Second)}, "firing backlog/support", Firing},
		}},
		{"for: pending, then firing once it held 30s", withFor, []step{
			{0, []Figures{fig("support", 9, 0)}, "", Pending},
			{29 * time.Second, []Figures{fig("support", 9, 0)}, "", Pending},
			{time.Second, []Figures{fig("support", 9, 0)}, "firing backlog/support", Firing},
			{time.Second, []Figures{fig("support", 0, 0)}, "resolved backlog/support", Inactive},
		}},
		{"for: a dip while pending starts the wait again", withFor, []step{
			{0, []Figures{fig("support", 9, 0)}, "", Pending},
			{20 * time.Second, []Figures{fig("support", 0, 0)}, "", Inactive},
			{time.Second, []Figures{fig("support", 9, 0)}, "", Pending},
			{29 * time.Second, []Figures{fig("support", 9, 0)}, "", Pending},
			{time.Second, []Figures{fig("support", 9, 0)}, "firing backlog/support", Firing},
		}},
		{"keep_firing_for: a dip shorter than it does not resolve", withKeep, []step{
			{0, []Figures{fig("support", 9, 0)}, "firing backlog/support", Firing},
			{time.Second, []Figures{fig("support", 0, 0)}, "", Firing},
			{59 * time.Second, []Figures{fig("support", 9, 0)}, "", Firing},
			{time.Second, []Figures{fig("support", 0, 0)}, "", Firing},
			{58 * time.Second, []Figures{fig("support", 0, 0)}, "", Firing},
			{time.Second, []Figures{fig("support", 0, 0)}, "resolved backlog/support", Inactive},
		}},
		{"for and keep_firing_for together", both, []step{
			{0, []Figures{fig("support", 9, 0)}, "", Pending},
			{30 * time.Second, []Figures{fig("support", 9, 0)}, "firing backlog/support", Firing},
			{30 * time.Second, []Figures{fig("support", 0, 0)}, "", Firing},
			{30 * time.Second, []Figures{fig("support", 0, 0)}, "resolved backlog/support", Inactive},
		}},
		{"a queue that disappears resolves", backlog, []step{
			{0, []Figures{fig("support", 9, 0)}, "firing backlog/support", Firing},
			{time.Second, nil, "resolved backlog/support", Inactive},
		}},
		{"patterns: each matching queue has its own alert", backlog, []step{
			{0, []Figures{fig("support", 9, 0), fig("support/printers", 9, 0), fig("support/printers/laser", 9, 0), fig("sales", 9, 0), fig("supportx", 9, 0)},
				"firing backlog/support; firing backlog/support/printers", Firing},
			{time.Second, []Figures{fig("support", 0, 0), fig("support/printers", 9, 0)}, "resolved backlog/support", Firing},
			{time.Second, []Figures{fig("support", 0, 0), fig("support/printers", 0, 0)}, "resolved backlog/support/printers", Inactive},
		}},
		{"the star pattern matches every top-level queue", Rule{Name: "all", Queues: []string{"*"}, When: "agents_available == 0"}, []step{
			{0, []Figures{{Queue: "a"}, {Queue: "b", AgentsAvailable: 2}, {Queue: "a/b"}}, "firing all/a", Firing},
		}},
		{"the queue variable", Rule{Name: "vip", Queues: []string{"*"}, When: `queue == "vip" && waiting > 0`}, []step{
			{0, []Figures{fig("vip", 1, 0), fig("other", 1, 0)}, "firing vip/vip", Firing},
		}},
		{"agents_logged_in and arithmetic", Rule{Name: "ratio", Queues: []string{"*"}, When: "agents_logged_in > 0 && waiting / agents_logged_in >= 2"}, []step{
			{0, []Figures{{Queue: "a", Waiting: 5, AgentsLoggedIn: 3}, {Queue: "b", Waiting: 6, AgentsLoggedIn: 3}, {Queue: "c", Waiting: 6}}, "firing ratio/b", Firing},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{now: t0}
			e := NewEngine(0)
			if _, err := e.Set(tc.rule, clk.Now()); err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				clk.Advance(s.after)
				got := transitions(e.Evaluate(s.figs, clk.Now()))
				if got != s.want {
					t.Errorf("step %d: transitions %q, want %q", i, got, s.want)
				}
				if r, _ := e.Rule(tc.rule.Name); r.State != s.state {
					t.Errorf("step %d: rule state %s, want %s", i, r.State, s.state)
				}
			}
		})
	}
}

func TestAlertContents(t *testing.T) {
	clk := &fakeClock{now: t0}
	e := NewEngine(2)
	r := Rule{Name: "backlog", Queues: []string{"support/*"}, When: "waiting >= 5", For: 10 * time.Second, Severity: "critical",
		Labels:      map[string]string{"team": "a"},
		Annotations: map[string]string{"summary": "${waiting} waiting in ${queue}, the oldest for ${longest_wait}s", "runbook": "https://example.com/rb"}}
	if _, err := e.Set(r, clk.Now()); err != nil {
		t.Fatal(err)
	}
	f := Figures{Queue: "support/printers", Waiting: 7, LongestWait: 42500 * time.Millisecond, AgentsLoggedIn: 4, AgentsAvailable: 0}
	e.Evaluate([]Figures{f}, clk.Now())
	clk.Advance(10 * time.Second)
	got := e.Evaluate([]Figures{f}, clk.Now())
	want := Alert{Rule: "backlog", Queue: "support/printers", Status: Firing, Severity: "critical",
		Labels:      map[string]string{"team": "a", "queue": "support/printers"},
		Annotations: map[string]string{"summary": "7 waiting in support/printers, the oldest for 42.5s", "runbook": "https://example.com/rb"},
		StartsAt:    t0.Add(10 * time.Second),
		Value:       map[string]float64{"waiting": 7, "longest_wait": 42.5, "agents_available": 0, "agents_logged_in": 4}}
	if len(got) != 1 || !alertsEqual(got[0], want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if a := e.Alerts(); len(a) != 1 || !alertsEqual(a[0], want) {
		t.Errorf("Alerts() = %+v", a)
	}
	clk.Advance(time.Second)
	res := e.Evaluate(nil, clk.Now())
	want.Status, want.EndsAt = Resolved, clk.Now()
	if len(res) != 1 || !alertsEqual(res[0], want) {
		t.Fatalf("resolved: got %+v\nwant %+v", res, want)
	}
	// Recently resolved alerts are kept, newest first, up to the limit.
	for i := range 3 {
		clk.Advance(time.Second)
		e.Evaluate([]Figures{f}, clk.Now()) // pending
		clk.Advance(10 * time.Second)
		e.Evaluate([]Figures{f}, clk.Now()) // firing
		clk.Advance(time.Second)
		if got := e.Evaluate(nil, clk.Now()); len(got) != 1 {
			t.Fatalf("round %d: %v", i, got)
		}
	}
	all := e.Alerts()
	if len(all) != 2 || !all[0].EndsAt.After(all[1].EndsAt) || all[0].Status != Resolved {
		t.Errorf("resolved history: %+v", all)
	}
}

func alertsEqual(a, b Alert) bool {
	return a.Rule == b.Rule && a.Queue == b.Queue && a.Session == b.Session && a.Status == b.Status && a.Severity == b.Severity &&
		maps.Equal(a.Labels, b.Labels) && maps.Equal(a.Annotations, b.Annotations) && a.StartsAt.Equal(b.StartsAt) &&
		a.EndsAt.Equal(b.EndsAt) && maps.Equal(a.Value, b.Value)
}

func TestRuleChangeAndRemove(t *testing.T) {
	clk := &fakeClock{now: t0}
	e := NewEngine(0)
	r := Rule{Name: "b", Queues: []string{"q"}, When: "waiting >= 5"}
	e.Set(r, clk.Now())
	if got := transitions(e.Evaluate([]Figures{fig("q", 5, 0)}, clk.Now())); got != "firing b/q" {
		t.Fatal(got)
	}
	r.When = "waiting >= 10"
	clk.Advance(time.Second)
	res, err := e.Set(r, clk.Now())
	if err != nil || transitions(res) != "" {
		t.Fatalf("replace: %v %v", transitions(res), err)
	}
	if got := transitions(e.Evaluate([]Figures{fig("q", 5, 0)}, clk.Now())); got != "resolved b/q" {
		t.Errorf("the new threshold, above the figures: %q, want the alert resolved", got)
	}
	if got := transitions(e.Evaluate([]Figures{fig("q", 10, 0)}, clk.Now())); got != "firing b/q" {
		t.Errorf("the new threshold did not fire: %q", got)
	}
	res, ok := e.Remove("b", clk.Now())
	if !ok || transitions(res) != "resolved b/q" {
		t.Errorf("remove: %v %v", transitions(res), ok)
	}
	if _, ok := e.Remove("b", clk.Now()); ok {
		t.Error("removed twice")
	}
	if len(e.Rules()) != 0 {
		t.Error(e.Rules())
	}
	// A bad replacement keeps the old rule.
	e.Set(Rule{Name: "c", Queues: []string{"q"}, When: "waiting > 1"}, clk.Now())
	if _, err := e.Set(Rule{Name: "c", Queues: []string{"q"}, When: "waiting >"}, clk.Now()); err == nil {
		t.Error("a bad rule replaced a good one")
	}
	if r, ok := e.Rule("c"); !ok || r.When != "waiting > 1" {
		t.Errorf("rule c: %+v %v", r, ok)
	}
}

// Editing a rule keeps its alerts; the next evaluation applies the new
// rule to them. Only new labels (or severity, or kind) make other alerts.
func TestRuleEdits(t *testing.T) {
	base := Rule{Name: "b", Queues: []string{"support/*"}, When: "waiting >= 5", For: 30 * time.Second,
		Labels: map[string]string{"team": "a"}, Annotations: map[string]string{"summary": "${waiting} waiting"}}
	edit := func(f func(r *Rule)) Rule {
		r := base
		r.Labels = maps.Clone(base.Labels)
		r.Annotations = maps.Clone(base.Annotations)
		f(&r)
		return r
	}
	type step struct {
		after time.Duration
		set   *Rule // the edit, made before evaluating
		set2  string
		figs  []Figures
		want  string
		state AlertState
	}
	q := func(n int) []Figures { return []Figures{fig("support/x", n, 0)} }
	ptr := func(r Rule) *Rule { return &r }
	tests := []struct {
		name  string
		steps []step
	}{
		{"a threshold lowered while firing: keeps firing, no resolution", []step{
			{0, nil, "", q(7), "", Pending},
			{30 * time.Second, nil, "", q(7), "firing b/support/x", Firing},
			{time.Second, ptr(edit(func(r *Rule) { r.When = "waiting >= 6" })), "", q(7), "", Firing},
			{time.Second, nil, "", q(5), "resolved b/support/x", Inactive},
		}},
		{"a threshold raised above the figures while firing: resolves at the next evaluation", []step{
			{0, nil, "", q(7), "", Pending},
			{30 * time.Second, nil, "", q(7), "firing b/support/x", Firing},
			{time.Second, ptr(edit(func(r *Rule) { r.When = "waiting >= 10" })), "", q(7), "resolved b/support/x", Inactive},
		}},
		{"edited while pending: keeps the time it started to hold", []step{
			{0, nil, "", q(7), "", Pending},
			{20 * time.Second, ptr(edit(func(r *Rule) { r.Annotations["summary"] = "now ${waiting}" })), "", q(7), "", Pending},
			{10 * time.Second, nil, "", q(7), "firing b/support/x", Firing},
		}},
		{"for shortened while pending: fires once the new for is met", []step{
			{0, nil, "", q(7), "", Pending},
			{20 * time.Second, ptr(edit(func(r *Rule) { r.For = 10 * time.Second })), "", q(7), "firing b/support/x", Firing},
		}},
		{"edited while pending to a condition that fails: back to inactive", []step{
			{0, nil, "", q(7), "", Pending},
			{20 * time.Second, ptr(edit(func(r *Rule) { r.When = "waiting >= 8" })), "", q(7), "", Inactive},
			{10 * time.Second, ptr(edit(func(r *Rule) { r.When = "waiting >= 5" })), "", q(7), "", Pending},
		}},
		{"keep_firing_for added while firing: holds through a dip", []step{
			{0, nil, "", q(7), "", Pending},
			{30 * time.Second, nil, "", q(7), "firing b/support/x", Firing},
			{time.Second, ptr(edit(func(r *Rule) { r.KeepFiringFor = time.Minute })), "", q(1), "", Firing},
			{time.Minute, nil, "", q(1), "resolved b/support/x", Inactive},
		}},
		{"a queue no longer matched while firing: resolves", []step{
			{0, nil, "", q(7), "", Pending},
			{30 * time.Second, nil, "", q(7), "firing b/support/x", Firing},
			{time.Second, ptr(edit(func(r *Rule) { r.Queues = []string{"sales"} })), "", q(7), "resolved b/support/x", Inactive},
		}},
		{"new labels while firing: the old alert resolves at the edit, the new one waits its for", []step{
			{0, nil, "", q(7), "", Pending},
			{30 * time.Second, nil, "", q(7), "firing b/support/x", Firing},
			{time.Second, ptr(edit(func(r *Rule) { r.Labels["team"] = "b" })), "resolved b/support/x", q(7), "", Pending},
			{30 * time.Second, nil, "", q(7), "firing b/support/x", Firing},
		}},
		{"a new severity while firing: another alert", []step{
			{0, nil, "", q(7), "", Pending},
			{30 * time.Second, nil, "", q(7), "firing b/support/x", Firing},
			{time.Second, ptr(edit(func(r *Rule) { r.Severity = "critical" })), "resolved b/support/x", q(7), "", Pending},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{now: t0}
			e := NewEngine(0)
			if _, err := e.Set(base, clk.Now()); err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				clk.Advance(s.after)
				if s.set != nil {
					res, err := e.Set(*s.set, clk.Now())
					if err != nil {
						t.Fatal(err)
					}
					if got := transitions(res); got != s.set2 {
						t.Errorf("step %d: the edit's transitions %q, want %q", i, got, s.set2)
					}
				}
				if got := transitions(e.Evaluate(s.figs, clk.Now())); got != s.want {
					t.Errorf("step %d: transitions %q, want %q", i, got, s.want)
				}
				if r, _ := e.Rule("b"); r.State != s.state {
					t.Errorf("step %d: rule state %s, want %s", i, r.State, s.state)
				}
			}
		})
	}
}

func TestSessionRules(t *testing.T) {
	rules := []Rule{
		{Name: "low_rating", Kind: SessionRuleKind, RatingAtMost: 2, Annotations: map[string]string{"summary": "${agent} got ${rating} on ${session} (${resolution})"}},
		{Name: "unresolved", Kind: SessionRuleKind, Unresolved: true, KeepFiringFor: time.Minute, Queues: []string{"support/*"}},
		{Name: "bad_and_unresolved", Kind: SessionRuleKind, RatingAtMost: 1, Unresolved: true, Severity: "critical"},
	}
	tests := []struct {
		s    SessionOutcome
		want string
	}{
		{SessionOutcome{ID: "s1", AgentID: "a1", Queue: "support/printers", Rating: 5, Resolution: "resolved"}, ""},
		{SessionOutcome{ID: "s2", AgentID: "a1", Queue: "support/printers", Rating: 2, Resolution: "resolved"}, "firing low_rating/s2"},
		{SessionOutcome{ID: "s3", AgentID: "a1", Queue: "support/printers", Rating: 3, Resolution: "unresolved"}, "firing unresolved/s3"},
		{SessionOutcome{ID: "s4", AgentID: "a1", Queue: "sales", Rating: 0, Resolution: "unresolved"}, ""}, // no survey; queue not matched
		{SessionOutcome{ID: "s5", AgentID: "a2", Queue: "support/x", Rating: 1, Resolution: "unresolved"},
			"firing bad_and_unresolved/s5; firing low_rating/s5; firing unresolved/s5"},
		{SessionOutcome{ID: "s5", AgentID: "a2", Queue: "support/x", Rating: 1, Resolution: "unresolved"}, ""}, // seen again
	}
	clk := &fakeClock{now: t0}
	e := NewEngine(0)
	for _, r := range rules {
		if _, err := e.Set(r, clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range tests {
		got := e.SessionEnded(tc.s, clk.Now())
		if transitions(got) != tc.want {
			t.Errorf("%s: %q, want %q", tc.s.ID, transitions(got), tc.want)
		}
		for _, a := range got {
			if a.Labels["session"] != tc.s.ID || a.Labels["agent"] != tc.s.AgentID || a.Labels["queue"] != tc.s.Queue || a.Value["rating"] != float64(tc.s.Rating) {
				t.Errorf("%s: labels %v value %v", tc.s.ID, a.Labels, a.Value)
			}
			if a.Rule == "low_rating" && a.Annotations["summary"] != fmt.Sprintf("a%s got %d on %s (%s)", tc.s.AgentID[1:], tc.s.Rating, tc.s.ID, tc.s.Resolution) {
				t.Errorf("annotation %q", a.Annotations["summary"])
			}
		}
	}
	// Session alerts resolve by themselves: "unresolved" after its minute,
	// the others after the default.
	clk.Advance(time.Minute - time.Nanosecond)
	if got := transitions(e.Evaluate(nil, clk.Now())); got != "" {
		t.Errorf("early: %s", got)
	}
	clk.Advance(time.Nanosecond)
	if got := transitions(e.Evaluate(nil, clk.Now())); got != "resolved unresolved/s3; resolved unresolved/s5" {
		t.Errorf("after a minute: %q", got)
	}
	clk.Advance(DefaultSessionAlertTTL - time.Minute)
	if got := transitions(e.Evaluate(nil, clk.Now())); got != "resolved bad_and_unresolved/s5; resolved low_rating/s2; resolved low_rating/s5" {
		t.Errorf("after the default: %q", got)
	}
}

func TestRuleErrors(t *testing.T) {
	q := func(when string) Rule { return Rule{Name: "r", Queues: []string{"q"}, When: when} }
	tests := []struct {
		name  string
		rule  Rule
		field string
		msg   string // a part of the message
	}{
		{"syntax", q("waiting >="), "when", "column"},
		{"unknown variable", q("waitin >= 5"), "when", `there is no "waitin"`},
		{"unknown variable in a branch", q("waiting > 1 || queues == 2"), "when", `there is no "queues"`},
		{"string compared with a number", q(`waiting > "many"`), "when", "number is required"},
		{"string equal to a number", q(`queue == 5`), "when", "compares a string with a number"},
		{"not a condition", q("waiting + 1"), "when", "true or false, got a number"},
		{"a string", q(`"waiting > 5"`), "when", "true or false, got a string"},
		{"function", q("max(waiting, 1) > 2"), "when", "cannot be called"},
		{"empty when", q(" "), "when", "expected a condition"},
		{"no queues", Rule{Name: "r", When: "waiting > 1"}, "queues", "at least one"},
		{"bad pattern", Rule{Name: "r", Queues: []string{"support/["}, When: "waiting > 1"}, "queues", "syntax error in pattern"},
		{"bad name", Rule{Name: "bad name", Queues: []string{"q"}, When: "waiting > 1"}, "name", "expected a letter"},
		{"reserved label", Rule{Name: "r", Queues: []string{"q"}, When: "waiting > 1", Labels: map[string]string{"queue": "x"}}, "labels", "set by the bridge"},
		{"bad label", Rule{Name: "r", Queues: []string{"q"}, When: "waiting > 1", Labels: map[string]string{"a-b": "x"}}, "labels", "label \"a-b\""},
		{"empty label", Rule{Name: "r", Queues: []string{"q"}, When: "waiting > 1", Labels: map[string]string{"team": ""}}, "labels", "label \"team\": expected a value"},
		{"bad severity", Rule{Name: "r", Queues: []string{"q"}, When: "waiting > 1", Severity: "LOUD!"}, "severity", "lower-case"},
		{"negative for", Rule{Name: "r", Queues: []string{"q"}, When: "waiting > 1", For: -1}, "for", "0 or more"},
		{"annotation unknown variable", Rule{Name: "r", Queues: []string{"q"}, When: "waiting > 1", Annotations: map[string]string{"summary": "${rating}"}}, "annotations.summary", `there is no "rating"`},
		{"annotation syntax", Rule{Name: "r", Queues: []string{"q"}, When: "waiting > 1", Annotations: map[string]string{"summary": "${waiting"}}, "annotations.summary", "column"},
		{"session rule without a condition", Rule{Name: "r", Kind: SessionRuleKind}, "rating_at_most", "expected rating_at_most"},
		{"session rating out of range", Rule{Name: "r", Kind: SessionRuleKind, RatingAtMost: 6}, "rating_at_most", "from 1 to 5"},
		{"session rule with when", Rule{Name: "r", Kind: SessionRuleKind, Unresolved: true, When: "waiting > 1"}, "when", "no when"},
		{"session annotation with a queue figure", Rule{Name: "r", Kind: SessionRuleKind, Unresolved: true, Annotations: map[string]string{"s": "${waiting}"}}, "annotations.s", `there is no "waiting"`},
		{"queue rule with rating", Rule{Name: "r", Queues: []string{"q"}, When: "waiting > 1", RatingAtMost: 2}, "kind", "session rules"},
		{"unknown kind", Rule{Name: "r", Kind: "agent", Queues: []string{"q"}}, "kind", "expected queue or session"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEngine(0).Set(tc.rule, t0)
			re, ok := IsRuleError(err)
			if !ok {
				t.Fatalf("error %v, want a RuleError", err)
			}
			if re.Field != tc.field || !strings.Contains(re.Msg, tc.msg) || re.Subject != nil {
				t.Errorf("got field %q msg %q subject %v; want field %q and a message with %q", re.Field, re.Msg, re.Subject, tc.field, tc.msg)
			}
		})
	}
}

// A rule from a file reports the file, line and column of the mistake.
func TestRuleErrorPositions(t *testing.T) {
	// As if `when = "waiting >= 5 || waitin > 2"` started at line 7 column 14
	// (the text after the quote), and the annotation at line 9 column 22.
	pos := RulePos{File: "bridge.hcl", Block: hcl.Range{Filename: "bridge.hcl", Start: hcl.Pos{Line: 5, Column: 1}},
		Fields:      map[string]hcl.Pos{"when": {Line: 7, Column: 14, Byte: 100}, "queues": {Line: 6, Column: 14, Byte: 80}},
		Annotations: map[string]hcl.Pos{"summary": {Line: 9, Column: 22, Byte: 150}}}
	tests := []struct {
		rule Rule
		want string
	}{
		{Rule{Name: "r", Queues: []string{"q"}, When: "waiting >= 5 || waitin > 2", Pos: pos}, "bridge.hcl:7:30: when: Unknown variable"},
		{Rule{Name: "r", Queues: []string{"q"}, When: "waiting >= ", Pos: pos}, "bridge.hcl:7:"},
		{Rule{Name: "r", Queues: []string{"q"}, When: `waiting > "x"`, Pos: pos}, "bridge.hcl:7:"},
		{Rule{Name: "r", Queues: []string{"q["}, When: "waiting > 1", Pos: pos}, "bridge.hcl:6:14: queues: pattern"},
		{Rule{Name: "r", Queues: []string{"q"}, When: "waiting > 1", Pos: pos, Annotations: map[string]string{"summary": "at ${nope}"}}, "bridge.hcl:9:27: annotations.summary: Unknown variable"},
		{Rule{Name: "r", Queues: []string{"q"}, When: "waiting > 1", Pos: pos, Severity: "X"}, "bridge.hcl:5:1: severity"},
	}
	for _, tc := range tests {
		_, err := CheckRule(tc.rule)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to start with %q", tc.rule.When, err, tc.want)
		}
	}
}

// While the figures are not known (a stale source), session alerts still
// resolve on time and queue alerts stay as they are.
func TestExpireSessions(t *testing.T) {
	clk := &fakeClock{now: t0}
	e := NewEngine(0)
	e.Set(Rule{Name: "low", Kind: SessionRuleKind, RatingAtMost: 2, KeepFiringFor: time.Minute}, clk.Now())
	e.Set(Rule{Name: "busy", Queues: []string{"q"}, When: "waiting > 0"}, clk.Now())
	e.Set(Rule{Name: "slow", Queues: []string{"q"}, When: "waiting > 0", For: time.Hour}, clk.Now())
	e.Evaluate([]Figures{fig("q", 1, 0)}, clk.Now())
	e.SessionEnded(SessionOutcome{ID: "s1", Queue: "q", Rating: 1}, clk.Now())
	clk.Advance(time.Minute - time.Nanosecond)
	if got := transitions(e.ExpireSessions(clk.Now())); got != "" {
		t.Errorf("early: %q", got)
	}
	clk.Advance(time.Nanosecond)
	if got := transitions(e.ExpireSessions(clk.Now())); got != "resolved low/s1" {
		t.Errorf("after its minute: %q", got)
	}
	if got := e.QueueStates(); !maps.Equal(got, map[string]AlertState{"q": Firing}) {
		t.Errorf("queue states %v", got)
	}
	if r, _ := e.Rule("slow"); r.State != Pending {
		t.Errorf("the pending queue rule: %s", r.State)
	}
}

// A condition that fails on some figures (0/0) says so in LastError, for
// as long as it fails.
func TestEvaluationErrorsClear(t *testing.T) {
	e := NewEngine(0)
	if _, err := e.Set(Rule{Name: "ratio", Queues: []string{"*"}, When: "waiting / (agents_logged_in - 3) > 1"}, t0); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		figs []Figures
		want string
	}{
		{[]Figures{{Queue: "q", Waiting: 0, AgentsLoggedIn: 3}}, "queue q: "},
		{[]Figures{{Queue: "q", Waiting: 0, AgentsLoggedIn: 5}}, ""},
	}
	for i, s := range steps {
		e.Evaluate(s.figs, t0)
		r, _ := e.Rule("ratio")
		if (s.want == "") != (r.LastError == "") || !strings.HasPrefix(r.LastError, s.want) {
			t.Errorf("step %d: LastError %q, want %q", i, r.LastError, s.want)
		}
	}
}

func TestRulesListing(t *testing.T) {
	e := NewEngine(0)
	for _, n := range []string{"c", "a", "b"} {
		if _, err := e.Set(Rule{Name: n, Queues: []string{"*"}, When: "waiting > 0", For: time.Minute}, t0); err != nil {
			t.Fatal(err)
		}
	}
	e.Evaluate([]Figures{fig("q", 1, 0)}, t0)
	var names []string
	for _, r := range e.Rules() {
		names = append(names, r.Name+":"+string(r.State)+":"+r.Severity)
	}
	if want := []string{"a:pending:warning", "b:pending:warning", "c:pending:warning"}; !slices.Equal(names, want) {
		t.Errorf("%v, want %v", names, want)
	}
	e.Set(Rule{Name: "now", Queues: []string{"q2"}, When: "waiting > 0"}, t0)
	e.Set(Rule{Name: "s", Kind: SessionRuleKind, Unresolved: true}, t0)
	e.Evaluate([]Figures{fig("q", 1, 0), fig("q2", 1, 0), fig("q3", 0, 0)}, t0)
	e.SessionEnded(SessionOutcome{ID: "s1", Queue: "q3", Resolution: "unresolved"}, t0)
	if got := e.QueueStates(); !maps.Equal(got, map[string]AlertState{"q": Pending, "q2": Firing}) {
		t.Errorf("queue states %v", got)
	}
}

// The Go-compiled conditions give exactly HCL's answers.
func TestFastMatchesHCL(t *testing.T) {
	conds := []string{
		"waiting >= 5 || longest_wait > 120", "waiting > 0 && agents_available == 0", "!(waiting < 3)",
		"longest_wait >= 42.5", "longest_wait > 0.1", "agents_logged_in != 2 && (waiting <= 1 || true)",
		`queue == "q-3"`, `queue != "q-3" && false`, "(((waiting))) == 4", "longest_wait <= 1e2",
		"waiting + 1 > 5", // arithmetic: left to HCL
	}
	fastCount := 0
	for _, cond := range conds {
		c, err := compile(Rule{Name: "r", Queues: []string{"*"}, When: cond})
		if err != nil {
			t.Fatalf("%s: %v", cond, err)
		}
		if c.fast == nil {
			continue
		}
		fastCount++
		for i := range 2000 {
			f := Figures{Queue: fmt.Sprintf("q-%d", i%5), Waiting: i % 11, LongestWait: time.Duration(i*37) * time.Millisecond % (200 * time.Second),
				AgentsAvailable: i % 3, AgentsLoggedIn: i % 4}
			if i == 7 {
				f.LongestWait = 100 * time.Millisecond // 0.1: not exact in a float64
			}
			v, diags := c.when.Value(queueContext(f))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			vals := fastVals{queue: f.Queue, n: [4]float64{float64(f.Waiting), roundSeconds(f.LongestWait), float64(f.AgentsAvailable), float64(f.AgentsLoggedIn)}}
			if got := c.fast(&vals); got != v.True() {
				t.Fatalf("%s on %+v: fast %v, HCL %v", cond, f, got, v.True())
			}
		}
	}
	if fastCount != len(conds)-2 { // 0.1 and the arithmetic are left to HCL
		t.Errorf("%d conditions compiled, want %d", fastCount, len(conds)-2)
	}
}

// FuzzRule: any condition and template text is either refused with a
// RuleError or evaluates without panicking.
func FuzzRule(f *testing.F) {
	for _, s := range []string{"waiting >= 5 || longest_wait > 120", `queue == "x"`, "waiting >", "${waiting} waiting", "%{ if waiting > 1 }many%{ endif }", "!true", "1/0 > 1"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, when, annotation string) {
		e := NewEngine(0)
		_, err := e.Set(Rule{Name: "r", Queues: []string{"*"}, When: when, Annotations: map[string]string{"a": annotation}}, t0)
		if err != nil {
			if _, ok := IsRuleError(err); !ok {
				t.Fatalf("not a RuleError: %v", err)
			}
			return
		}
		e.Evaluate([]Figures{{Queue: "q", Waiting: 3, LongestWait: time.Second}, {Queue: "z"}}, t0)
	})
}

// Queues that come and go (the cache of which rules watch which queue is
// rebuilt) leave the alerts of the queues that stay as they were.
func TestQueueChurn(t *testing.T) {
	clk := &fakeClock{now: t0}
	e := NewEngine(0)
	e.Set(Rule{Name: "r", Queues: []string{"*"}, When: "waiting > 0", For: time.Second}, clk.Now())
	e.Evaluate([]Figures{fig("stay", 1, 0)}, clk.Now())
	for i := range 3000 {
		clk.Advance(time.Millisecond)
		got := transitions(e.Evaluate([]Figures{fig("stay", 1, 0), fig(fmt.Sprintf("tmp-%d", i), 0, 0)}, clk.Now()))
		if want := ""; i == 999 {
			want = "firing r/stay"
			if got != want {
				t.Fatalf("pass %d: %q, want %q", i, got, want)
			}
		} else if got != want {
			t.Fatalf("pass %d: %q", i, got)
		}
	}
	if len(e.match) > 2*2+1024+1 {
		t.Errorf("the cache holds %d queues", len(e.match))
	}
	clk.Advance(time.Millisecond)
	if got := transitions(e.Evaluate(nil, clk.Now())); got != "resolved r/stay" {
		t.Errorf("resolution: %q", got)
	}
}
