package freeswitch

import (
	"context"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	"github.com/acdbridge/acdbridge/adapters/internal/golden"
	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

var update = flag.Bool("update", false, "rewrite testcases/*.txt from the fake server's transcripts")

func TestREADMEShowsSample(t *testing.T) { acdtest.READMEShowsSample(t, Sample) }

func TestConfigure(t *testing.T) {
	tests := []struct {
		json   string
		fields []string
	}{
		{`{"password":"p"}`, nil},
		{`{"address":"pbx:8021","password":"p","agent_identity":"ext","available_status":"Available (On Demand)","busy_status":"Logged Out","state_file":"/tmp/x","timeout":"2s"}`, nil},
		{`{}`, []string{"password"}},
		{`{"address":"pbx","password":"p"}`, []string{"address"}},
		{`{"address":"pbx:0","password":"p"}`, []string{"address"}},
		{`{"address":"","password":"p"}`, []string{"address"}},
		{`{"password":"p","timeout":"1h"}`, []string{"timeout"}},
		{`{"password":"p","timeout":"soon"}`, []string{"timeout"}},
		{`{"password":"p","available_status":"available"}`, []string{"available_status"}},
		{`{"password":"p","available_status":"On Break"}`, []string{"available_status"}},
		{`{"password":"p","busy_status":"Available"}`, []string{"busy_status"}},
		{`{"password":"p","busy_status":"Lunch"}`, []string{"busy_status"}},
		{`{"password":"p","agent_identity":""}`, []string{"agent_identity"}},
		{`{"password":"p","state_file":""}`, []string{"state_file"}},
		{`{"password":"p\n\napi shutdown"}`, []string{"password"}},
		{`{"pasword":"p"}`, []string{"pasword"}},
	}
	for _, tc := range tests {
		acdtest.ConfigErrors(t, func(s sdk.Settings) error { _, err := parseConfig(s); return err }, tc.json, tc.fields)
	}
}

func TestCheckAgentName(t *testing.T) {
	for name, ok := range map[string]bool{
		"1001@default": true, "agent.1001@call-center.example.com": true, "PJSIP/1001": true, "é@default": true,
		"":            true, // refused earlier: no identity
		"Agent Smith": false, "1001@default\n": false, "it's": false, `"1001"`: false, `a\b`: false, "a\tb": false, "a\x00b": false,
		"reload-Mod_Event_Socket@x":                      false,
		strings.Repeat("a", MaxAgentName-8) + "@default": true, strings.Repeat("a", MaxAgentName-7) + "@default": false,
		strings.Repeat("x", 2100) + "exit": false,
	} {
		if err := checkAgentName(name); (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", name, err, ok)
		}
	}
}

// start configures a fast-retrying adapter against f and waits until it is
// authenticated (unless the password is wrong or the fake refuses).
func start(t *testing.T, f *FakeServer, password string, extra map[string]any) *Adapter {
	t.Helper()
	a := New(hclog.NewNullLogger())
	a.minBackoff, a.maxBackoff, a.authBackoff = 10*time.Millisecond, 50*time.Millisecond, time.Hour
	acl := false
	f.Set(func(f *FakeServer) { acl = f.acl })
	wait := ""
	if password == f.Password && !acl {
		wait = "authenticated"
	}
	acdtest.Start(t, a, map[string]any{"address": f.Addr(), "password": password, "timeout": "2s"}, extra, wait)
	return a
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, what, 5*time.Second, 2*time.Millisecond, cond)
}

func agent(id, name string, available bool, version uint64) sdk.Availability {
	return acdtest.Agent(id, "callcenter_agent", name, available, version)
}

func expectStatus(t *testing.T, f *FakeServer, name, want string) {
	t.Helper()
	if got := f.Status(name); got != want {
		t.Fatalf("%s: %q, want %q", name, got, want)
	}
}

const a1001, a1002 = "1001@default", "1002@default"

func TestGolden(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, f *FakeServer)
	}{
		{"set-busy", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Password, nil)
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Applied, `set "On Break" (was "Available")`)
			expectStatus(t, f, a1001, StatusOnBreak)
			expectStatus(t, f, a1002, StatusAvailable)
			a.Close()
		}},
		{"restore-available", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Password, nil)
			a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)})
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, true, 2)}), sdk.Applied, `set "Available" (was "On Break", set by the bridge)`)
			expectStatus(t, f, a1001, StatusAvailable)
			a.Close()
		}},
		{"agent-break-before-session-survives", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Password, nil)
			f.SetStatus(a1001, StatusOnBreak) // the agent's own break, before the session
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Applied, `kept the agent's own status "On Break"`)
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, true, 2)}), sdk.Applied, `left the agent's own status "On Break" alone`)
			expectStatus(t, f, a1001, StatusOnBreak)
			a.Close()
		}},
		{"agent-logout-during-session-survives", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Password, nil)
			a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)})
			f.SetStatus(a1001, StatusLoggedOut) // on the phone, during the session
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, true, 2)}), sdk.Applied, `left the agent's own status "Logged Out" alone`)
			expectStatus(t, f, a1001, StatusLoggedOut)
			// The agent's own break later is not the bridge's either.
			f.SetStatus(a1001, StatusOnBreak)
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, true, 3)}), sdk.Applied, `left the agent's own status "On Break" alone`)
			expectStatus(t, f, a1001, StatusOnBreak)
			a.Close()
		}},
		{"available-on-demand", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Password, map[string]any{"available_status": StatusAvailableOnDemand})
			f.SetStatus(a1001, StatusAvailableOnDemand)
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Applied, `set "On Break" (was "Available (On Demand)")`)
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, true, 2)}), sdk.Applied, `set "Available (On Demand)"`)
			expectStatus(t, f, a1001, StatusAvailableOnDemand)
			a.Close()
		}},
		{"on-demand-agent-gets-on-demand-back", func(t *testing.T, f *FakeServer) {
			// available_status is "Available", but this agent works on
			// demand: the agent gets back what the agent had.
			a := start(t, f, f.Password, nil)
			f.SetStatus(a1001, StatusAvailableOnDemand)
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Applied, `set "On Break" (was "Available (On Demand)")`)
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, true, 2)}), sdk.Applied, `set "Available (On Demand)" (was "On Break", set by the bridge)`)
			expectStatus(t, f, a1001, StatusAvailableOnDemand)
			a.Close()
		}},
		{"unknown-agent", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Password, nil)
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-9", "9999@default", false, 1)}), sdk.Permanent, `FreeSWITCH refused "callcenter_config agent get status 9999@default": -ERR Agent not found!`)
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-8", "Agent Smith", false, 1)}), sdk.Permanent, `expected a name without spaces`)
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{{AgentID: "a-2", Version: 1}}), sdk.Ignored, `no "callcenter_agent" identity`)
			a.Close()
		}},
		{"reconnect", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Password, nil)
			a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)})
			f.Drop()
			waitFor(t, "authenticated again", func() bool { return f.Auths() == 2 && a.Health(ctx).Status == sdk.Up })
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, true, 2)}), sdk.Applied, `set "Available"`)
			expectStatus(t, f, a1001, StatusAvailable)
			a.Close()
		}},
		{"restart-forgets-statuses", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Password, nil)
			a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1), agent("a-2", a1002, true, 1)})
			f.Restart()
			waitFor(t, "authenticated again", func() bool { return f.Auths() == 2 && a.Health(ctx).Status == sdk.Up })
			// The reconcile after connecting set the break again.
			expectStatus(t, f, a1001, StatusOnBreak)
			expectStatus(t, f, a1002, StatusAvailable)
			a.Close()
		}},
		{"reply-lost-after-set", func(t *testing.T, f *FakeServer) {
			// FreeSWITCH sets the break, and the connection drops before
			// its "+OK": the break may be the bridge's, so it is claimed
			// before it is sent, and given back when the session ends.
			a := start(t, f, f.Password, nil)
			f.Set(func(f *FakeServer) { f.dropAfterSet = true })
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Retryable, "ended")
			expectStatus(t, f, a1001, StatusOnBreak)
			waitFor(t, "authenticated again", func() bool { return f.Auths() == 2 && a.Health(ctx).Status == sdk.Up })
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, true, 2)}), sdk.Applied, `set "Available" (was "On Break", set by the bridge)`)
			expectStatus(t, f, a1001, StatusAvailable)
			a.Close()
		}},
		{"wrong-password", func(t *testing.T, f *FakeServer) {
			a := start(t, f, "wrong", nil)
			waitFor(t, "down", func() bool { return a.Health(ctx).Status == sdk.Down && f.Auths() == 1 })
			if h := a.Health(ctx); !strings.Contains(h.Message, "refused the password") || !strings.Contains(h.Message, "-ERR invalid") || strings.Contains(h.Message, "wrong") {
				t.Fatalf("health %+v", h)
			}
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Retryable, "refused the password")
			a.Close()
			// Closed during the hour-long wait after the refusal: one
			// attempt, no crash loop.
			if n := f.Auths(); n != 1 {
				t.Fatalf("%d auth attempts, want 1: no crash loop", n)
			}
		}},
		{"acl-refused", func(t *testing.T, f *FakeServer) {
			f.Set(func(f *FakeServer) { f.acl = true })
			a := start(t, f, f.Password, nil)
			waitFor(t, "down", func() bool { return a.Health(ctx).Status == sdk.Down })
			if h := a.Health(ctx); !strings.Contains(h.Message, "refused this host") || !strings.Contains(h.Message, "Access Denied, go away.") {
				t.Fatalf("health %+v", h)
			}
			a.Close()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFakeServer(t)
			tc.run(t, f)
			f.Close()
			golden.Compare(t, filepath.Join("testcases", tc.name+".txt"), f.Transcript(), *update)
		})
	}
}

// The agents the bridge set busy survive a restart of the adapter in the
// state file: the next adapter gives them back, and still leaves the
// agents' own breaks alone.
func TestStateFileSurvivesARestart(t *testing.T) {
	ctx := context.Background()
	f := NewFakeServer(t)
	state := filepath.Join(t.TempDir(), "data", "fs.state") // data/ is made
	a := start(t, f, f.Password, map[string]any{"state_file": state})
	f.SetStatus(a1002, StatusOnBreak) // the agent's own
	a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1), agent("a-2", a1002, false, 1)})
	a.Close()
	b, err := os.ReadFile(state)
	if err != nil || string(b) != stateHeader+a1001+"\tAvailable\n" {
		t.Fatalf("state file %q %v", b, err)
	}
	a = start(t, f, f.Password, map[string]any{"state_file": state})
	rs := a.Reconcile(ctx, []sdk.Availability{agent("a-1", a1001, true, 2), agent("a-2", a1002, true, 2)})
	if len(rs) != 2 || rs[0].Outcome != sdk.Applied || rs[1].Outcome != sdk.Applied {
		t.Fatalf("%+v", rs)
	}
	expectStatus(t, f, a1001, StatusAvailable)
	expectStatus(t, f, a1002, StatusOnBreak)
	a.Close()
	if b, _ := os.ReadFile(state); string(b) != stateHeader {
		t.Fatalf("state file after giving back: %q", b)
	}

	// Without a state file, a new adapter does not know the break was the
	// bridge's, and leaves it.
	f.SetStatus(a1001, StatusOnBreak)
	a = start(t, f, f.Password, nil)
	acdtest.ExpectOutcome(t, a.Reconcile(ctx, []sdk.Availability{agent("a-1", a1001, true, 3)}), sdk.Applied, `left the agent's own status "On Break" alone`)

	// A broken state file is a configuration error naming the field.
	os.WriteFile(state, []byte(stateHeader+"Agent Smith\n"), 0o644)
	err = New(nil).Configure(ctx, sdk.Settings{JSON: []byte(`{"password":"p","state_file":"` + state + `"}`)})
	var fe *sdk.FieldError
	if !errors.As(err, &fe) || fe.Field != "state_file" || !strings.Contains(fe.Message, ":2:") {
		t.Fatalf("%v", err)
	}
}

// Every kind of state file: only the adapter's own, whole, is read; an
// empty file, one cut short or another file is an error saying so, not a
// silent start without state.
func TestParseState(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // nil: an error containing msg
		msg      string
	}{
		{"header only", stateHeader, []string{}, ""},
		{"agents", stateHeader + "1001@default\tAvailable\n1002@default\tAvailable (On Demand)\n", []string{a1001 + "=" + StatusAvailable, a1002 + "=" + StatusAvailableOnDemand}, ""},
		{"twice", stateHeader + "1001@default\tAvailable\n1001@default\tAvailable\n", []string{a1001 + "=" + StatusAvailable}, ""},
		{"empty file", "", nil, "expected the adapter's state file, starting with the line"},
		{"another file", "1001@default\tAvailable\n", nil, "expected the adapter's state file"},
		{"header cut", stateHeader[:20], nil, "expected the adapter's state file"},
		{"name cut", stateHeader + "1001@default\tAvailable\n1002@def", nil, `got a file cut short, ending with "1002@def"`},
		{"empty line", stateHeader + "1001@default\tAvailable\n\n", nil, "fs.state:3: expected an agent name, got an empty line"},
		{"no status", stateHeader + "1001@default\n", nil, `fs.state:2: expected the agent name, a tab and "Available" or "Available (On Demand)"`},
		{"not an available status", stateHeader + "1001@default\tOn Break\n", nil, `fs.state:2: expected the agent name, a tab and`},
		{"bad name", stateHeader + "Agent Smith\tAvailable\n", nil, "fs.state:2: cannot name the mod_callcenter agent"},
		{"crlf", stateHeader + "1001@default\tAvailable\r\n", nil, "fs.state:2: expected the agent name, a tab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseState("fs.state", []byte(tc.in))
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "delete the file") {
					t.Fatalf("%v, want an error containing %q", err, tc.msg)
				}
				return
			}
			var names []string
			for n, r := range got {
				names = append(names, n+"="+r)
			}
			slices.Sort(names)
			if err != nil || strings.Join(names, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("%v %v, want %v", names, err, tc.want)
			}
		})
	}
}

// FuzzParseState: any bytes give agent names that can be sent, or an
// error; never a panic. What the adapter writes reads back the same.
func FuzzParseState(f *testing.F) {
	f.Add([]byte(stateHeader + "1001@default\tAvailable (On Demand)\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		owned, err := parseState("fs.state", b)
		if err != nil {
			return
		}
		var text strings.Builder
		text.WriteString(stateHeader)
		for n, r := range owned {
			if checkAgentName(n) != nil || n == "" || (r != StatusAvailable && r != StatusAvailableOnDemand) {
				t.Fatalf("%q gave %q to give back %q", b, n, r)
			}
			text.WriteString(n + "\t" + r + "\n")
		}
		back, err := parseState("fs.state", []byte(text.String()))
		if err != nil || !maps.Equal(back, owned) {
			t.Fatalf("%q: written back, %v %v", b, back, err)
		}
	})
}

// Every current status against every desired availability, with the
// bridge holding no break, or one to give back as "Available" or as
// "Available (On Demand)": the whole ownership table.
func TestDecide(t *testing.T) {
	cfg := settingsOf{available: StatusAvailable, busy: StatusOnBreak}
	const av, od, br, lo = StatusAvailable, StatusAvailableOnDemand, StatusOnBreak, StatusLoggedOut
	tests := []struct {
		cur       string
		owned     string // the status to give back; "" when not the bridge's
		available bool
		set       string
		own       bool
		restore   string
	}{
		{av, "", false, br, true, av},
		{av, av, false, br, true, av},
		{av, od, false, br, true, av},
		{od, "", false, br, true, od},
		{od, av, false, br, true, od},
		{od, od, false, br, true, od},
		{br, "", false, "", false, ""},
		{br, av, false, "", true, av},
		{br, od, false, "", true, od},
		{lo, "", false, "", false, ""},
		{lo, av, false, "", false, ""},
		{lo, od, false, "", false, ""},
		{av, "", true, "", false, ""},
		{av, av, true, "", false, ""},
		{av, od, true, "", false, ""},
		{od, "", true, "", false, ""},
		{od, av, true, "", false, ""},
		{od, od, true, "", false, ""},
		{br, "", true, "", false, ""},
		{br, av, true, av, false, ""},
		{br, od, true, od, false, ""},
		{lo, "", true, "", false, ""},
		{lo, av, true, "", false, ""},
		{lo, od, true, "", false, ""},
	}
	for _, tc := range tests {
		a := New(nil)
		a.setOwned("x", tc.owned != "", tc.owned)
		p := a.decide(cfg, "x", tc.available, tc.cur)
		if p.set != tc.set || p.own != tc.own || p.restore != tc.restore || p.msg == "" {
			t.Errorf("%q owned=%q available=%v: %+v, want set %q own %v restore %q", tc.cur, tc.owned, tc.available, p, tc.set, tc.own, tc.restore)
		}
	}
	// Logged Out as the busy status: the same rule.
	cfg.busy = lo
	a := New(nil)
	a.setOwned("x", true, od)
	if p := a.decide(cfg, "x", true, lo); p.set != od {
		t.Errorf("Logged Out held by the bridge: %+v, want %q back", p, od)
	}
	if p := a.decide(cfg, "x", true, br); p.set != "" {
		t.Errorf("On Break with Logged Out as the busy status: %+v, want left alone", p)
	}
}

// The state file names an agent before the break is sent: an adapter that
// dies before the reply (here: the reply never comes) still knows, after
// its restart, that the break may be the bridge's, and gives it back.
func TestStateFileWrittenBeforeTheSet(t *testing.T) {
	ctx := context.Background()
	f := NewFakeServer(t)
	state := filepath.Join(t.TempDir(), "fs.state")
	a := start(t, f, f.Password, map[string]any{"state_file": state})
	f.Set(func(f *FakeServer) { f.dropAfterSet = true })
	acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Retryable, "ended")
	if b, err := os.ReadFile(state); err != nil || string(b) != stateHeader+a1001+"\tAvailable\n" {
		t.Fatalf("state file %q %v, want %s named", b, err, a1001)
	}
	a.Close()
	expectStatus(t, f, a1001, StatusOnBreak)
	a = start(t, f, f.Password, map[string]any{"state_file": state})
	acdtest.ExpectOutcome(t, a.Reconcile(ctx, []sdk.Availability{agent("a-1", a1001, true, 2)}), sdk.Applied, `set "Available" (was "On Break", set by the bridge)`)
	expectStatus(t, f, a1001, StatusAvailable)
	a.Close()
	if b, _ := os.ReadFile(state); string(b) != stateHeader {
		t.Fatalf("state file after giving back: %q", b)
	}
	// A break FreeSWITCH refuses (the agent deleted between the read and
	// the set) is claimed before it is sent, and no longer after.
	a = start(t, f, f.Password, map[string]any{"state_file": state})
	f.Set(func(f *FakeServer) { f.deleteBeforeSet = true })
	acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 3)}), sdk.Permanent, "-ERR Agent not found!")
	if b, _ := os.ReadFile(state); string(b) != stateHeader {
		t.Fatalf("state file after a refusal: %q", b)
	}
	a.Close()
}

// Two items naming the same mod_callcenter agent in one call: without a
// rule, both would read "Available", the busy one would set the break and
// the available one would forget the claim, leaving a break nobody gives
// back. The later item counts; the earlier one is ignored, saying why.
func TestSameAgentTwiceInOneCall(t *testing.T) {
	ctx := context.Background()
	f := NewFakeServer(t)
	a := start(t, f, f.Password, nil)
	rs := a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1), agent("a-1", a1001, true, 2)})
	if len(rs) != 2 || rs[0].Outcome != sdk.Ignored || !strings.Contains(rs[0].Message, `given again later in the same call (agent "a-1", version 2)`) ||
		rs[1].Outcome != sdk.Applied || rs[1].Message != `already "Available"` {
		t.Fatalf("%+v", rs)
	}
	expectStatus(t, f, a1001, StatusAvailable)
	rs = a.SetAvailability(ctx, []sdk.Availability{agent("a-2", a1002, true, 1), agent("a-9", a1002, false, 1)})
	if len(rs) != 2 || rs[0].Outcome != sdk.Ignored || rs[1].Outcome != sdk.Applied || rs[1].Message != `set "On Break" (was "Available")` {
		t.Fatalf("%+v", rs)
	}
	acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-9", a1002, true, 2)}), sdk.Applied, `set "Available" (was "On Break", set by the bridge)`)
	a.Close()
}
