package asterisk

import (
	"context"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	gold "github.com/acdbridge/acdbridge/adapters/internal/golden"
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
		{`{"address":"pbx:5038","username":"bridge","secret":"s"}`, nil},
		{`{"address":"pbx:5038","username":"bridge","secret":"s","queues":["support"],"interface_identity":"ext","timeout":"2s"}`, nil},
		{`{}`, []string{"address", "username", "secret"}},
		{`{"address":"pbx","username":"bridge","secret":"s"}`, []string{"address"}},
		{`{"address":"pbx:99999","username":"bridge","secret":"s"}`, []string{"address"}},
		{`{"address":"pbx:5038","username":"bridge","secret":"s","timeout":"1h"}`, []string{"timeout"}},
		{`{"address":"pbx:5038","username":"bridge","secret":"s","auth":"md5"}`, nil},
		{`{"address":"pbx:5038","username":"bridge","secret":"s","auth":"sha1"}`, []string{"auth"}},
		{`{"address":"pbx:5038","username":"bridge","secret":"s","queues":["a","a"]}`, []string{"queues"}},
		{`{"address":"pbx:5038","username":"bridge","secret":"s","interface_identity":""}`, []string{"interface_identity"}},
		{`{"address":"pbx:5038","username":"bridge","secret":"s\r\nAction: Logoff"}`, []string{"secret"}},
		{`{"adress":"pbx:5038"}`, []string{"adress"}},
	}
	for _, tc := range tests {
		acdtest.ConfigErrors(t, func(s sdk.Settings) error { _, err := parseConfig(s); return err }, tc.json, tc.fields)
	}
}

// start configures a fast-retrying adapter against f and waits until it is
// logged in (unless the secret is wrong).
func start(t *testing.T, f *FakeServer, secret string, extra map[string]any) *Adapter {
	t.Helper()
	a := New(hclog.NewNullLogger())
	a.keepalive, a.minBackoff, a.maxBackoff, a.authBackoff = time.Hour, 10*time.Millisecond, 50*time.Millisecond, time.Hour
	wait := ""
	if secret == f.Secret {
		wait = "logged in"
	}
	acdtest.Start(t, a, map[string]any{"address": f.Addr(), "username": "bridge", "secret": secret, "timeout": "2s"}, extra, wait)
	return a
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, what, 5*time.Second, 5*time.Millisecond, cond)
}

func agent(id, iface string, available bool, version uint64) sdk.Availability {
	return acdtest.Agent(id, "interface", iface, available, version)
}

func expectState(t *testing.T, f *FakeServer, iface, want string) {
	t.Helper()
	if got := f.State(iface); got != want {
		t.Fatalf("%s: %s, want %s", iface, got, want)
	}
}

// golden compares the fake's transcript with testcases/name.txt byte for
// byte (-update rewrites it).
func golden(t *testing.T, name string, f *FakeServer) {
	t.Helper()
	gold.Compare(t, filepath.Join("testcases", name+".txt"), f.Transcript(), *update)
}

const a1001 = "Local/1001@agents"

func TestGolden(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, f *FakeServer)
	}{
		{"pause", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Secret, nil)
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Applied, "paused")
			expectState(t, f, a1001, "support=remote-support sales=remote-support")
			a.Close()
		}},
		{"unpause", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Secret, nil)
			a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)})
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, true, 2)}), sdk.Applied, "unpaused in support, sales")
			expectState(t, f, a1001, "support=- sales=-")
			a.Close()
		}},
		{"agent-own-pause-survives", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Secret, nil)
			a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)})
			f.Pause("support", a1001, true, "lunch") // on the phone, during the session
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, true, 2)}), sdk.Applied, `left the agent's own pause alone in support (reason "lunch")`)
			expectState(t, f, a1001, "support=lunch sales=-")
			a.Close()
		}},
		{"agent-break-before-session-survives", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Secret, nil)
			f.Pause("support", a1001, true, "lunch") // the agent's own break, before the session
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Applied, `paused in sales with reason "remote-support"; the agent's own pause kept in support (reason "lunch")`)
			expectState(t, f, a1001, "support=lunch sales=remote-support")
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, true, 2)}), sdk.Applied, "unpaused in sales")
			expectState(t, f, a1001, "support=lunch sales=-")
			a.Close()
		}},
		{"one-queue", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Secret, map[string]any{"queues": []string{"support"}})
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Applied, "paused in support")
			expectState(t, f, a1001, "support=remote-support sales=-")
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, true, 2)}), sdk.Applied, "unpaused in support")
			expectState(t, f, a1001, "support=- sales=-")
			a.Close()
		}},
		{"unknown-interface", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Secret, nil)
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-9", "Local/9999@agents", false, 1)}), sdk.Permanent, "expected Local/9999@agents to be a member of a queue, got no QueueMember for it")
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{{AgentID: "a-2", Version: 1}}), sdk.Ignored, `no "interface" identity`)
			a.Close()
		}},
		{"reconnect", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Secret, nil)
			a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)})
			f.Drop()
			waitFor(t, "logged in again", func() bool { return f.Logins() == 2 && a.Health(ctx).Status == sdk.Up })
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, true, 2)}), sdk.Applied, "unpaused")
			expectState(t, f, a1001, "support=- sales=-")
			a.Close()
		}},
		{"restart-forgets-pauses", func(t *testing.T, f *FakeServer) {
			a := start(t, f, f.Secret, nil)
			a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1), agent("a-2", "Local/1002@agents", true, 1)})
			f.Restart()
			waitFor(t, "logged in again", func() bool { return f.Logins() == 2 && a.Health(ctx).Status == sdk.Up })
			// The reconcile after connecting paused the member again.
			expectState(t, f, a1001, "support=remote-support sales=remote-support")
			expectState(t, f, "Local/1002@agents", "support=- sales=-")
			a.Close()
		}},
		{"wrong-credentials", func(t *testing.T, f *FakeServer) {
			a := start(t, f, "wrong", nil)
			waitFor(t, "down", func() bool { return a.Health(ctx).Status == sdk.Down && f.Logins() == 1 })
			if h := a.Health(ctx); !strings.Contains(h.Message, `AMI login as "bridge"`) || !strings.Contains(h.Message, "Authentication failed") || strings.Contains(h.Message, "wrong") {
				t.Fatalf("health %+v", h)
			}
			acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Retryable, "Authentication failed")
			time.Sleep(200 * time.Millisecond)
			if n := f.Logins(); n != 1 {
				t.Fatalf("%d logins in 200ms after a refused one, want 1: no crash loop", n)
			}
			a.Close()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFakeServer(t)
			tc.run(t, f)
			f.Close()
			golden(t, tc.name, f)
		})
	}
}
