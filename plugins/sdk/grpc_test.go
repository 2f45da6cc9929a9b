package sdk

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	pb "github.com/acdbridge/acdbridge/plugins/proto/v1"
)

// mock is an adapter whose calls are function fields; nil fields fail the
// test if called.
type mock struct {
	t         *testing.T
	configure func(Settings) error
	set       func([]Availability) []Result
	reconcile func([]Availability) []Result
	request   func(Request) Result
	session   func(Session) Result
	alert     func(Alert) Result
}

func (m *mock) Info() Info {
	return Info{Name: "mock", Version: "0.1.0", Identities: []string{"interface"}, Settings: []Setting{{Name: "url", Type: "string", Required: true, Description: "where"}, {Name: "token", Type: "string", Secret: true}}}
}
func (m *mock) Configure(_ context.Context, s Settings) error { return m.configure(s) }
func (m *mock) Health(context.Context) Health                 { return Health{Status: Degraded, Message: "slow"} }
func (m *mock) SetAvailability(_ context.Context, items []Availability) []Result {
	return m.set(items)
}
func (m *mock) Reconcile(_ context.Context, items []Availability) []Result { return m.reconcile(items) }
func (m *mock) HandleRequest(_ context.Context, r Request) Result          { return m.request(r) }
func (m *mock) HandleSession(_ context.Context, s Session) Result          { return m.session(s) }
func (m *mock) HandleAlert(_ context.Context, a Alert) Result              { return m.alert(a) }

// only has no capability beyond the required three.
type only struct{}

func (only) Info() Info                                { return Info{Name: "only"} }
func (only) Configure(context.Context, Settings) error { return nil }
func (only) Health(context.Context) Health             { return Health{Status: Up} }

func connect(t *testing.T, a Adapter) Client {
	t.Helper()
	// go-plugin's test server sets its fields in the goroutine that serves,
	// so stopping it right after a short test races with that start
	// (reported by -race); closing the client is enough here, the server
	// ends with the test binary.
	c, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{PluginName: &Plugin{Impl: a}})
	t.Cleanup(func() { c.Close() })
	raw, err := c.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(Client)
}

var when = time.Date(2026, 11, 2, 9, 30, 0, 123456789, time.UTC)

func TestShimCarriesEveryField(t *testing.T) {
	ctx := context.Background()
	av := []Availability{
		{AgentID: "a-1", AgentName: "Ada", Available: false, State: "in_session", Reason: "remote-support", Version: 7, Since: when, Identities: map[string]string{"interface": "PJSIP/1001", "sip_uri": "sip:1001@pbx"}},
		{AgentID: "a-2", Available: true, State: "available", Version: 1}, // zero time, no identities
	}
	req := Request{ID: "r-1", Queue: "support/printers", Status: "waiting", CreatedAt: when, Name: "Bo", Email: "bo@x", Problem: "jam", Fields: map[string]string{"serial_number": "SN1"}, ExternalRef: "T-1", AgentID: "a-1", SessionID: "s-1"}
	sess := Session{ID: "s-1", RequestID: "r-1", AgentID: "a-1", Queue: "support", ExternalRef: "T-1", StartedAt: when, EndedAt: when.Add(time.Minute), DurationSeconds: 60}
	alert := Alert{Rule: "backlog", Status: "firing", Severity: "warning", Labels: map[string]string{"queue": "support"}, Annotations: map[string]string{"waiting": "7"}, StartsAt: when}
	var got struct {
		settings Settings
		set, rec []Availability
		req      Request
		sess     Session
		alert    Alert
	}
	m := &mock{t: t,
		configure: func(s Settings) error { got.settings = s; return nil },
		set: func(items []Availability) []Result {
			got.set = items
			return []Result{{AgentID: "a-1", Version: 7, Outcome: Applied}, {AgentID: "a-2", Version: 1, Outcome: Permanent, Message: "no such member"}}
		},
		reconcile: func(items []Availability) []Result {
			got.rec = items
			return []Result{{AgentID: "a-1", Version: 7, Outcome: Ignored}} // one short: the shim fills in
		},
		request: func(r Request) Result { got.req = r; return Result{Outcome: Applied, Reference: "ticket 42"} },
		session: func(s Session) Result { got.sess = s; return Result{Outcome: Retryable, Message: "CRM down"} },
		alert:   func(a Alert) Result { got.alert = a; return Result{Outcome: Applied} },
	}
	c := connect(t, m)

	info, err := c.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := m.Info()
	want.Capabilities = []Capability{CapAvailability, CapRequests, CapSessions, CapAlerts}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("describe\n got %+v\nwant %+v", info, want)
	}
	if errs, err := c.Configure(ctx, Settings{Instance: "pbx1", JSON: []byte(`{"url":"x"}`)}); err != nil || len(errs) != 0 {
		t.Fatalf("configure: %v %v", errs, err)
	}
	if got.settings.Instance != "pbx1" || string(got.settings.JSON) != `{"url":"x"}` {
		t.Fatalf("settings arrived as %+v", got.settings)
	}
	rs, err := c.SetAvailability(ctx, av)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.set, av) {
		t.Fatalf("availability arrived as\n%+v\nwant\n%+v", got.set, av)
	}
	if want := []Result{{AgentID: "a-1", Version: 7, Outcome: Applied}, {AgentID: "a-2", Version: 1, Outcome: Permanent, Message: "no such member"}}; !reflect.DeepEqual(rs, want) {
		t.Fatalf("results %+v", rs)
	}
	rs, err = c.Reconcile(ctx, av)
	if err != nil || !reflect.DeepEqual(got.rec, av) {
		t.Fatalf("reconcile: %v %+v", err, got.rec)
	}
	if len(rs) != 2 || rs[1].Outcome != Retryable || rs[1].AgentID != "a-2" || !strings.Contains(rs[1].Message, "no result") {
		t.Fatalf("a missing result must come back retryable: %+v", rs)
	}
	if r, err := c.HandleRequest(ctx, req); err != nil || r.Reference != "ticket 42" || r.Outcome != Applied || !reflect.DeepEqual(got.req, req) {
		t.Fatalf("request: %+v %v; arrived %+v", r, err, got.req)
	}
	if r, err := c.HandleSession(ctx, sess); err != nil || r.Outcome != Retryable || r.Message != "CRM down" || !reflect.DeepEqual(got.sess, sess) {
		t.Fatalf("session: %+v %v; arrived %+v", r, err, got.sess)
	}
	if r, err := c.HandleAlert(ctx, alert); err != nil || r.Outcome != Applied || !reflect.DeepEqual(got.alert, alert) {
		t.Fatalf("alert: %+v %v; arrived %+v", r, err, got.alert)
	}
	if h, err := c.Health(ctx); err != nil || h != (Health{Status: Degraded, Message: "slow"}) {
		t.Fatalf("health %+v %v", h, err)
	}
}

func TestShimConfigureErrorsNameFields(t *testing.T) {
	m := &mock{t: t, configure: func(s Settings) error {
		return errors.Join(&FieldError{Field: "url", Message: "expected a URL"}, errors.New("the token file cannot be read"))
	}}
	errs, err := connect(t, m).Configure(context.Background(), Settings{})
	if err != nil {
		t.Fatal(err)
	}
	want := []FieldError{{Field: "url", Message: "expected a URL"}, {Message: "the token file cannot be read"}}
	if !reflect.DeepEqual(errs, want) {
		t.Fatalf("errors %+v, want %+v", errs, want)
	}
}

func TestShimCapabilitiesAreEnforced(t *testing.T) {
	c := connect(t, only{})
	ctx := context.Background()
	info, _ := c.Describe(ctx)
	if len(info.Capabilities) != 0 {
		t.Fatalf("capabilities %v, want none", info.Capabilities)
	}
	calls := map[string]func() error{
		"SetAvailability": func() error { _, err := c.SetAvailability(ctx, nil); return err },
		"Reconcile":       func() error { _, err := c.Reconcile(ctx, nil); return err },
		"HandleRequest":   func() error { _, err := c.HandleRequest(ctx, Request{}); return err },
		"HandleSession":   func() error { _, err := c.HandleSession(ctx, Session{}); return err },
		"HandleAlert":     func() error { _, err := c.HandleAlert(ctx, Alert{}); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
}

func TestSettingsDecode(t *testing.T) {
	type cfg struct {
		URL     string `json:"url"`
		Retries int    `json:"retries"`
	}
	tests := []struct {
		json, field, msg string
	}{
		{`{"url":"x","retries":3}`, "", ""},
		{`{"url":5}`, "url", "expected string, got a JSON number"},
		{`{"retries":"three"}`, "retries", "expected int, got a JSON string"},
		{`{"colour":"red"}`, "colour", `unknown setting "colour"`},
	}
	for _, tc := range tests {
		var c cfg
		err := Settings{JSON: []byte(tc.json)}.Decode(&c)
		var fe *FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.json, err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field || fe.Message != tc.msg):
			t.Errorf("%s: %v, want %s: %s", tc.json, err, tc.field, tc.msg)
		}
	}
}

// TestOutcomesAndHealthWholeTable converts every protocol value, known or
// not: an outcome this bridge does not know is retried, never lost.
func TestOutcomesAndHealthWholeTable(t *testing.T) {
	outcomes := map[pb.Outcome]Outcome{
		pb.Outcome_OUTCOME_UNSPECIFIED: Retryable,
		pb.Outcome_OUTCOME_APPLIED:     Applied,
		pb.Outcome_OUTCOME_IGNORED:     Ignored,
		pb.Outcome_OUTCOME_RETRYABLE:   Retryable,
		pb.Outcome_OUTCOME_PERMANENT:   Permanent,
		pb.Outcome(99):                 Retryable,
	}
	for in, want := range outcomes {
		if got := outcomeFromPB(in); got != want {
			t.Errorf("outcome %v: %s, want %s", in, got, want)
		}
	}
	for o, want := range map[Outcome]string{Applied: "applied", Ignored: "ignored", Retryable: "retryable", Permanent: "permanent", Outcome(9): "outcome(9)"} {
		if o.String() != want {
			t.Errorf("%d: %q, want %q", int(o), o.String(), want)
		}
	}
	for h, want := range map[HealthStatus]string{Up: "up", Degraded: "degraded", Down: "down", HealthStatus(0): "unknown"} {
		if h.String() != want {
			t.Errorf("%d: %q, want %q", int(h), h.String(), want)
		}
	}
}
