package simulator

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// Scenario is everything the engine needs to know to play a remote-support
// service: its queues and agents, and the shares and distributions that drive
// them. DefaultScenario and LoadScenario make one; the CLI's flags then
// override Seed, Start, Speed and History.
type Scenario struct {
	Seed        uint64
	Start       time.Time // simulated time at start; zero: the wall clock's now
	Speed       float64
	History     time.Duration // past sessions generated at start
	Retention   time.Duration // sessions older than this are gone, ranges older refused
	Utilization float64       // load when a queue has no rate of its own
	StartBusy   float64       // share of on-duty agents already in a session at start
	CodeTTL     time.Duration // phone-mode codes expire after this
	Sessions    SessionModel
	Customers   CustomerModel
	Shifts      ShiftModel
	Queues      []QueueSpec
	Agents      []AgentGroup
	Faults      Faults
}

// SessionModel shapes sessions and their records.
type SessionModel struct {
	MedianDuration  time.Duration
	P90Duration     time.Duration
	SurveyShare     float64 // share of customers who answer the survey
	NegativeShare   float64 // share of answered surveys rated 1 or 2
	UnresolvedShare float64
	RecordingMin    int64 // bytes
	RecordingMax    int64
}

// check refuses shifts that would stall simulated time: a zero-length shift
// or break would schedule the next change at the same instant forever.
func (m ShiftModel) check() error {
	if m.Length < time.Minute {
		return fmt.Errorf("expected a shift length of at least 1m, got %s", m.Length)
	}
	if m.BreakEvery != 0 && (m.BreakEvery < time.Minute || m.BreakLength < time.Second) {
		return fmt.Errorf("expected break_every of at least 1m (or 0 for no breaks) and break_length of at least 1s, got %s and %s", m.BreakEvery, m.BreakLength)
	}
	return nil
}

// CustomerModel shapes customers' patience.
type CustomerModel struct {
	PatienceMedian time.Duration // how long half of the customers wait before giving up
}

// ShiftModel shapes agents' working time.
type ShiftModel struct {
	Length      time.Duration
	Off         time.Duration
	BreakEvery  time.Duration // mean time between breaks
	BreakLength time.Duration // mean break
}

// QueueSpec is one queue. A queue whose id holds a slash is a sub-queue of
// the queue named by the part before the last slash.
type QueueSpec struct {
	ID             string
	Name           string
	RatePerMinute  float64   // customer requests per minute; 0 with Auto: from utilization
	Auto           bool      // rate derived from the agents who serve the queue
	Profile        []float64 // 24 hourly factors (UTC) on the rate; empty: flat
	RequiredFields []string
	Routes         []Route
}

// Route sends a request posted to a queue on to a sub-queue when a field
// equals a value.
type Route struct {
	Field  string
	Equals string
	To     string
}

// AgentGroup is a number of agents alike.
type AgentGroup struct {
	Name        string
	Count       int
	Queues      []string
	MaxSessions int
}

// DefaultScenario is the simulator's scenario without a scenario file: agents
// agents over queues queues, a third of them sub-queues, with defaults that
// make a busy but coping contact center.
func DefaultScenario(agents, queues int) Scenario {
	sc := baseScenario()
	sc.StartBusy = 0.6 // a center in full swing, not one that just opened
	if queues < 1 {
		queues = 1
	}
	tops := (queues + 2) / 3
	if tops < 1 {
		tops = 1
	}
	for i := 0; i < queues; i++ {
		var q QueueSpec
		if i < tops {
			q.ID = topQueueName(i)
		} else {
			parent := sc.Queues[(i-tops)%tops].ID
			q.ID = parent + "/" + subQueueName((i-tops)/tops)
		}
		q.Name = queueTitle(q.ID)
		q.Auto = true
		sc.Queues = append(sc.Queues, q)
	}
	// Agents serve one queue each, round robin, plus its parent; every fourth
	// agent takes two sessions at once.
	for i := 0; i < agents; i++ {
		q := sc.Queues[i%queues]
		qs := []string{q.ID}
		if p, ok := parentOf(q.ID); ok {
			qs = append(qs, p)
		}
		max := 1
		if i%4 == 3 {
			max = 2
		}
		g := &sc.Agents
		if n := len(*g); n > 0 && slices.Equal((*g)[n-1].Queues, qs) && (*g)[n-1].MaxSessions == max {
			(*g)[n-1].Count++
			continue
		}
		*g = append(*g, AgentGroup{Name: fmt.Sprintf("group-%d", len(*g)+1), Count: 1, Queues: qs, MaxSessions: max})
	}
	return sc
}

func baseScenario() Scenario {
	return Scenario{
		Seed:        1,
		Speed:       1,
		Retention:   90 * 24 * time.Hour,
		Utilization: 0.8,
		CodeTTL:     10 * time.Minute,
		Sessions: SessionModel{
			MedianDuration:  8 * time.Minute,
			P90Duration:     25 * time.Minute,
			SurveyShare:     0.6,
			NegativeShare:   0.15,
			UnresolvedShare: 0.1,
			RecordingMin:    4 << 10,
			RecordingMax:    4 << 20,
		},
		Customers: CustomerModel{PatienceMedian: 5 * time.Minute},
		Shifts: ShiftModel{
			Length:      8 * time.Hour,
			Off:         4 * time.Hour,
			BreakEvery:  2 * time.Hour,
			BreakLength: 15 * time.Minute,
		},
	}
}

var topNames = []string{"support", "sales", "billing", "onboarding", "field", "it", "returns", "partners"}
var subNames = []string{"printers", "network", "email", "accounts", "hardware", "software", "mobile", "vpn"}

func topQueueName(i int) string {
	if i < len(topNames) {
		return topNames[i]
	}
	return fmt.Sprintf("queue-%04d", i+1)
}

func subQueueName(i int) string {
	if i < len(subNames) {
		return subNames[i]
	}
	return fmt.Sprintf("sub-%04d", i+1)
}

func queueTitle(id string) string {
	parts := strings.Split(id, "/")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, " / ")
}

func parentOf(id string) (string, bool) {
	i := strings.LastIndexByte(id, '/')
	if i < 0 {
		return "", false
	}
	return id[:i], true
}

// ParseDuration reads a Go duration or a number of days, weeks with d or w
// ("30d", "2w", "90m").
func ParseDuration(s string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			f, err := strconv.ParseFloat(n, 64)
			if err != nil || f < 0 || math.IsInf(f, 0) || f > 1e5 {
				return 0, fmt.Errorf("invalid duration %q: expected a number then %s, like 30%s", s, suffix, suffix)
			}
			return time.Duration(f * float64(unit)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: expected a number and a unit, like 90s, 10m, 8h or 30d", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: expected a positive duration", s)
	}
	return d, nil
}

// The scenario file's raw form. Every attribute is kept as an *hcl.Attribute
// so that a wrong value is reported at its file, line and column.
type scenarioFile struct {
	Seed        *hcl.Attribute  `hcl:"seed,attr"`
	Start       *hcl.Attribute  `hcl:"start,attr"`
	Speed       *hcl.Attribute  `hcl:"speed,attr"`
	History     *hcl.Attribute  `hcl:"history,attr"`
	Retention   *hcl.Attribute  `hcl:"retention,attr"`
	Utilization *hcl.Attribute  `hcl:"utilization,attr"`
	StartBusy   *hcl.Attribute  `hcl:"start_busy,attr"`
	CodeTTL     *hcl.Attribute  `hcl:"code_ttl,attr"`
	Sessions    *sessionsBlock  `hcl:"sessions,block"`
	Customers   *customersBlock `hcl:"customers,block"`
	Shifts      *shiftsBlock    `hcl:"shifts,block"`
	Queues      []queueBlock    `hcl:"queue,block"`
	Agents      []agentsBlock   `hcl:"agents,block"`
	Faults      *faultsBlock    `hcl:"faults,block"`
}

type sessionsBlock struct {
	MedianDuration  *hcl.Attribute `hcl:"median_duration,attr"`
	P90Duration     *hcl.Attribute `hcl:"p90_duration,attr"`
	SurveyShare     *hcl.Attribute `hcl:"survey_share,attr"`
	NegativeShare   *hcl.Attribute `hcl:"negative_share,attr"`
	UnresolvedShare *hcl.Attribute `hcl:"unresolved_share,attr"`
	RecordingMin    *hcl.Attribute `hcl:"recording_min_bytes,attr"`
	RecordingMax    *hcl.Attribute `hcl:"recording_max_bytes,attr"`
	DefRange        hcl.Range      `hcl:",def_range"`
}

type customersBlock struct {
	PatienceMedian *hcl.Attribute `hcl:"patience_median,attr"`
}

type shiftsBlock struct {
	Length      *hcl.Attribute `hcl:"length,attr"`
	Off         *hcl.Attribute `hcl:"off,attr"`
	BreakEvery  *hcl.Attribute `hcl:"break_every,attr"`
	BreakLength *hcl.Attribute `hcl:"break_length,attr"`
	DefRange    hcl.Range      `hcl:",def_range"`
}

type queueBlock struct {
	ID             string         `hcl:"id,label"`
	Name           *hcl.Attribute `hcl:"name,attr"`
	Rate           *hcl.Attribute `hcl:"rate_per_minute,attr"`
	Profile        *hcl.Attribute `hcl:"profile,attr"`
	RequiredFields *hcl.Attribute `hcl:"required_fields,attr"`
	Routes         []routeBlock   `hcl:"route,block"`
	DefRange       hcl.Range      `hcl:",def_range"`
}

type routeBlock struct {
	Field    *hcl.Attribute `hcl:"field,attr"`
	Equals   *hcl.Attribute `hcl:"equals,attr"`
	To       *hcl.Attribute `hcl:"to,attr"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type agentsBlock struct {
	Name        string         `hcl:"name,label"`
	Count       *hcl.Attribute `hcl:"count,attr"`
	Queues      *hcl.Attribute `hcl:"queues,attr"`
	MaxSessions *hcl.Attribute `hcl:"max_sessions,attr"`
	DefRange    hcl.Range      `hcl:",def_range"`
}

type faultsBlock struct {
	ErrorRate      *hcl.Attribute `hcl:"error_rate,attr"`
	LatencyMS      *hcl.Attribute `hcl:"latency_ms,attr"`
	MalformedRate  *hcl.Attribute `hcl:"malformed_rate,attr"`
	ErrorBodyRate  *hcl.Attribute `hcl:"error_body_rate,attr"`
	StreamDropRate *hcl.Attribute `hcl:"stream_drop_rate,attr"`
}

// LoadScenario reads a scenario file (HCL). Errors are hcl.Diagnostics: each
// names the file, line and column and says what was expected.
func LoadScenario(path string) (Scenario, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("read scenario: %w", err)
	}
	return ParseScenario(src, path)
}

// ParseScenario reads a scenario from HCL source; filename is used in errors.
func ParseScenario(src []byte, filename string) (Scenario, error) {
	f, diags := hclparse.NewParser().ParseHCL(src, filename)
	if diags.HasErrors() {
		return Scenario{}, diags
	}
	var raw scenarioFile
	if diags := gohcl.DecodeBody(f.Body, nil, &raw); diags.HasErrors() {
		return Scenario{}, diags
	}
	sc := baseScenario()
	d := &decoder{}
	var seed int64 = 1
	d.int(raw.Seed, 0, math.MaxInt64, &seed)
	sc.Seed = uint64(seed)
	if raw.Start != nil {
		var s string
		d.str(raw.Start, &s)
		if t, err := time.Parse(time.RFC3339, s); err != nil && s != "" {
			d.fail(raw.Start.Expr.Range(), "Invalid start", fmt.Sprintf("expected an RFC 3339 time like 2026-01-05T08:00:00Z, got %q", s))
		} else {
			sc.Start = t.UTC()
		}
	}
	d.float(raw.Speed, 0.001, 1e6, &sc.Speed)
	d.duration(raw.History, &sc.History)
	d.duration(raw.Retention, &sc.Retention)
	d.float(raw.Utilization, 0, 10, &sc.Utilization)
	d.float(raw.StartBusy, 0, 1, &sc.StartBusy)
	d.duration(raw.CodeTTL, &sc.CodeTTL)
	if b := raw.Sessions; b != nil {
		s := &sc.Sessions
		d.duration(b.MedianDuration, &s.MedianDuration)
		d.duration(b.P90Duration, &s.P90Duration)
		d.float(b.SurveyShare, 0, 1, &s.SurveyShare)
		d.float(b.NegativeShare, 0, 1, &s.NegativeShare)
		d.float(b.UnresolvedShare, 0, 1, &s.UnresolvedShare)
		d.int(b.RecordingMin, 64, 1<<30, &s.RecordingMin)
		d.int(b.RecordingMax, 64, 1<<30, &s.RecordingMax)
		if s.RecordingMax < s.RecordingMin {
			d.fail(b.DefRange, "Invalid recording sizes", fmt.Sprintf("expected recording_max_bytes (%d) at least recording_min_bytes (%d)", s.RecordingMax, s.RecordingMin))
		}
		if s.P90Duration <= s.MedianDuration || s.MedianDuration <= 0 {
			d.fail(b.DefRange, "Invalid session durations", fmt.Sprintf("expected 0 < median_duration (%s) < p90_duration (%s)", s.MedianDuration, s.P90Duration))
		}
	}
	if b := raw.Customers; b != nil {
		d.duration(b.PatienceMedian, &sc.Customers.PatienceMedian)
	}
	if b := raw.Shifts; b != nil {
		sh := &sc.Shifts
		d.duration(b.Length, &sh.Length)
		d.duration(b.Off, &sh.Off)
		d.duration(b.BreakEvery, &sh.BreakEvery)
		d.duration(b.BreakLength, &sh.BreakLength)
		if err := sh.check(); err != nil {
			d.fail(b.DefRange, "Invalid shifts", err.Error())
		}
	}
	if b := raw.Faults; b != nil {
		var lat int64
		d.float(b.ErrorRate, 0, 1, &sc.Faults.ErrorRate)
		d.int(b.LatencyMS, 0, 60000, &lat)
		sc.Faults.LatencyMS = int(lat)
		d.float(b.MalformedRate, 0, 1, &sc.Faults.MalformedRate)
		d.float(b.ErrorBodyRate, 0, 1, &sc.Faults.ErrorBodyRate)
		d.float(b.StreamDropRate, 0, 1, &sc.Faults.StreamDropRate)
	}
	known := map[string]bool{}
	for _, qb := range raw.Queues {
		if known[qb.ID] {
			d.fail(qb.DefRange, "Duplicate queue", fmt.Sprintf("queue %q is declared twice", qb.ID))
		}
		known[qb.ID] = true
	}
	for _, qb := range raw.Queues {
		q := QueueSpec{ID: qb.ID, Name: queueTitle(qb.ID), Auto: qb.Rate == nil}
		if !validQueueID(qb.ID) {
			d.fail(qb.DefRange, "Invalid queue id", fmt.Sprintf("expected lower-case words of a-z, 0-9, - and _ joined by /, like support/printers, got %q", qb.ID))
		}
		if p, ok := parentOf(qb.ID); ok && !known[p] {
			d.fail(qb.DefRange, "Unknown parent queue", fmt.Sprintf("queue %q is a sub-queue of %q, which is not declared", qb.ID, p))
		}
		d.str(qb.Name, &q.Name)
		d.float(qb.Rate, 0, 1e6, &q.RatePerMinute)
		d.floats(qb.Profile, &q.Profile)
		if qb.Profile != nil && len(q.Profile) != 24 {
			d.fail(qb.Profile.Expr.Range(), "Invalid profile", fmt.Sprintf("expected 24 hourly factors, got %d", len(q.Profile)))
		}
		d.strs(qb.RequiredFields, &q.RequiredFields)
		for _, rb := range qb.Routes {
			var r Route
			d.str(rb.Field, &r.Field)
			d.str(rb.Equals, &r.Equals)
			d.str(rb.To, &r.To)
			if r.Field == "" || r.To == "" {
				d.fail(rb.DefRange, "Incomplete route", "expected field, equals and to")
			} else if !known[r.To] {
				d.fail(rb.To.Expr.Range(), "Unknown queue", fmt.Sprintf("route to %q: no such queue", r.To))
			}
			q.Routes = append(q.Routes, r)
		}
		sc.Queues = append(sc.Queues, q)
	}
	for _, ab := range raw.Agents {
		g := AgentGroup{Name: ab.Name, Count: 1, MaxSessions: 1}
		var count, max int64 = 1, 1
		d.int(ab.Count, 0, 1_000_000, &count)
		d.int(ab.MaxSessions, 1, 20, &max)
		g.Count, g.MaxSessions = int(count), int(max)
		d.strs(ab.Queues, &g.Queues)
		if len(g.Queues) == 0 {
			d.fail(ab.DefRange, "No queues", fmt.Sprintf("agents %q: expected queues = [...] naming at least one queue", ab.Name))
		}
		for _, q := range g.Queues {
			if !known[q] {
				d.fail(ab.Queues.Expr.Range(), "Unknown queue", fmt.Sprintf("agents %q serve %q: no such queue", ab.Name, q))
			}
		}
		sc.Agents = append(sc.Agents, g)
	}
	if len(raw.Queues) == 0 {
		d.fail(f.Body.MissingItemRange(), "No queues", `expected at least one queue "ID" { } block`)
	}
	if d.diags.HasErrors() {
		return Scenario{}, d.diags
	}
	return sc, nil
}

func validQueueID(id string) bool {
	if id == "" {
		return false
	}
	for _, part := range strings.Split(id, "/") {
		if part == "" {
			return false
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// decoder turns attributes into Go values, gathering diagnostics that point
// at the attribute.
type decoder struct{ diags hcl.Diagnostics }

func (d *decoder) fail(rng hcl.Range, summary, detail string) {
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()})
}

func (d *decoder) value(a *hcl.Attribute, ty cty.Type, dst any) bool {
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		d.diags = append(d.diags, diags...)
		return false
	}
	v, err := convert.Convert(v, ty)
	if err == nil && !v.IsKnown() || v.IsNull() {
		err = fmt.Errorf("a value is required")
	}
	if err == nil {
		err = gocty.FromCtyValue(v, dst)
	}
	if err != nil {
		d.fail(a.Expr.Range(), "Invalid "+a.Name, fmt.Sprintf("expected %s for %s: %s", ty.FriendlyName(), a.Name, err))
		return false
	}
	return true
}

func (d *decoder) str(a *hcl.Attribute, dst *string) {
	if a != nil {
		d.value(a, cty.String, dst)
	}
}

func (d *decoder) strs(a *hcl.Attribute, dst *[]string) {
	if a != nil {
		d.value(a, cty.List(cty.String), dst)
	}
}

func (d *decoder) floats(a *hcl.Attribute, dst *[]float64) {
	if a == nil {
		return
	}
	if d.value(a, cty.List(cty.Number), dst) {
		for _, f := range *dst {
			if f < 0 {
				d.fail(a.Expr.Range(), "Invalid "+a.Name, fmt.Sprintf("expected factors of 0 or more, got %g", f))
				return
			}
		}
	}
}

func (d *decoder) float(a *hcl.Attribute, min, max float64, dst *float64) {
	between(d, a, min, max, dst)
}

func (d *decoder) int(a *hcl.Attribute, min, max int64, dst *int64) {
	between(d, a, min, max, dst)
}

// between decodes a number from min to max into dst; %v writes a float64
// as %g and an int64 as %d.
func between[N int64 | float64](d *decoder, a *hcl.Attribute, min, max N, dst *N) {
	if a == nil {
		return
	}
	var n N
	if d.value(a, cty.Number, &n) {
		if n < min || n > max {
			d.fail(a.Expr.Range(), "Invalid "+a.Name, fmt.Sprintf("expected %s between %v and %v, got %v", a.Name, min, max, n))
			return
		}
		*dst = n
	}
}

func (d *decoder) duration(a *hcl.Attribute, dst *time.Duration) {
	if a == nil {
		return
	}
	var s string
	if d.value(a, cty.String, &s) {
		v, err := ParseDuration(s)
		if err != nil {
			d.fail(a.Expr.Range(), "Invalid "+a.Name, err.Error())
			return
		}
		*dst = v
	}
}
