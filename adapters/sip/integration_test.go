//go:build integration

package sip

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Kamailio 5.6 started by scripts/integration.d/20-kamailio.sh:
// ACDBRIDGE_IT_KAMAILIO without auth, ACDBRIDGE_IT_KAMAILIO_AUTH with
// auth_db challenging with 407 (the script's subscriber table holds
// alice/alicepw and bob/bobpw in example.test, the realm).
func kamailio(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the integration suite (make integration), which starts Kamailio", name)
	}
	return v
}

// runID keeps presentities apart between runs against one database.
var runID = fmt.Sprintf("%d", time.Now().UnixNano()%1e9)

// TestKamailioWatcherSeesAgentBusy: the adapter publishes to a real
// Kamailio, and a watcher subscribed there gets a NOTIFY showing the agent
// busy after the agent enters a session, and available after it ends.
func TestKamailioWatcherSeesAgentBusy(t *testing.T) {
	tests := []struct {
		name      string
		env       string
		transport string
		auth      bool
		dialog    bool
	}{
		{"udp", "ACDBRIDGE_IT_KAMAILIO", "udp", false, true},
		{"tcp", "ACDBRIDGE_IT_KAMAILIO", "tcp", false, false},
		{"udp-auth", "ACDBRIDGE_IT_KAMAILIO_AUTH", "udp", true, false},
		{"tcp-auth", "ACDBRIDGE_IT_KAMAILIO_AUTH", "tcp", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			addr := kamailio(t, tc.env)
			user := "agent" + runID + tc.name
			aor := "sip:" + user + "@example.test"
			settings := map[string]any{"address": addr, "transport": tc.transport, "expires": "2m", "timeout": "3s", "dialog_info": tc.dialog}
			watcherUser, watcherPass := "", ""
			if tc.auth {
				settings["username"], settings["password"] = "alice", "alicepw"
				watcherUser, watcherPass = "bob", "bobpw"
			}
			a := configure(t, settings)
			w := NewWatcher(t, watcherUser, watcherPass)
			res, err := w.Subscribe(ctx, addr, strings.ToUpper(tc.transport), aor, EventPresence, 120)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("SUBSCRIBE at Kamailio: %v %v", res, err)
			}
			w.WaitNotify(t, "the initial NOTIFY", 0, func(n Notify) bool { return strings.HasPrefix(n.State, "active") })
			seen := len(w.Notifies())
			// With dialog_info, a BLF watcher too (Event: dialog).
			var blf *Watcher
			blfSeen := 0
			if tc.dialog {
				blf = NewWatcher(t, watcherUser, watcherPass)
				if res, err := blf.Subscribe(ctx, addr, strings.ToUpper(tc.transport), aor, EventDialog, 120); err != nil || res.StatusCode != 200 {
					t.Fatalf("SUBSCRIBE Event: dialog at Kamailio: %v %v", res, err)
				}
				blf.WaitNotify(t, "the initial dialog NOTIFY", 0, func(n Notify) bool { return strings.HasPrefix(n.State, "active") })
				blfSeen = len(blf.Notifies())
			}
			lamp := func(what string, lit bool) {
				t.Helper()
				if blf == nil {
					return
				}
				defer func() { blfSeen = len(blf.Notifies()) }()
				blf.WaitNotify(t, what, blfSeen, func(n Notify) bool {
					if strings.TrimSpace(n.Body) == "" {
						return false
					}
					d, err := ParseDialogInfo([]byte(n.Body))
					if err != nil {
						t.Fatalf("dialog NOTIFY body: %v\n%s", err, n.Body)
					}
					return d.Busy() == lit && n.Type == TypeDialogInfo
				})
			}

			it := item("a-1", aor, "in_session", 1)
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{it}), sdk.Applied, "published")
			n := w.WaitNotify(t, "the agent busy", seen, func(n Notify) bool {
				p, ok := presenceIn(t, n)
				return ok && p.Busy() && p.Basic == BasicOpen && len(p.Activities) == 1 && p.Activities[0] == "on-the-phone" && p.Note == "remote-support"
			})
			if n.Type != TypePIDF || !strings.HasPrefix(n.State, "active;expires=") {
				t.Fatalf("NOTIFY %+v", n)
			}
			lamp("the BLF lamp lit", true)
			seen = len(w.Notifies())

			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", aor, "available", 2)}), sdk.Applied, "modified")
			if tc.auth {
				// Kamailio took the last challenge's nonce again (nc 2):
				// no second 407 for the modify.
				a.mu.Lock()
				pb := a.pub.agents["a-1"].presence
				a.mu.Unlock()
				pb.mu.Lock()
				nc := pb.nc
				pb.mu.Unlock()
				if nc != 2 {
					t.Fatalf("nonce count %d after the modify, want 2 (the nonce reused)", nc)
				}
			}
			w.WaitNotify(t, "the agent available", seen, func(n Notify) bool {
				p, ok := presenceIn(t, n)
				return ok && !p.Busy() && p.Note == "available"
			})
			lamp("the BLF lamp off", false)
			seen = len(w.Notifies())

			// Unsubscribing ends with a final NOTIFY.
			if res, err := w.Refresh(ctx, 0); err != nil || res.StatusCode != 200 {
				t.Fatalf("un-SUBSCRIBE: %v %v", res, err)
			}
			w.WaitNotify(t, "terminated", seen, func(n Notify) bool { return strings.HasPrefix(n.State, "terminated") })
			a.Close()
		})
	}
}

// TestKamailioWrongPassword: refused credentials are a permanent failure
// with a message naming the user, not a retry loop.
func TestKamailioWrongPassword(t *testing.T) {
	addr := kamailio(t, "ACDBRIDGE_IT_KAMAILIO_AUTH")
	a := configure(t, map[string]any{"address": addr, "username": "alice", "password": "wrong", "timeout": "3s"})
	expectOutcome(t, a.SetAvailability(context.Background(), []sdk.Availability{item("a-1", "sip:alice@example.test", "in_session", 1)}),
		sdk.Permanent, `digest credentials refused (SIP/2.0 407 Proxy Authentication Required) for user "alice"`)
}

// TestKamailioRefreshAndRemove: a refresh keeps the publication (Kamailio
// gives a new SIP-ETag, which the next modify uses), and Close removes it.
func TestKamailioRefreshAndRemove(t *testing.T) {
	ctx := context.Background()
	addr := kamailio(t, "ACDBRIDGE_IT_KAMAILIO")
	aor := "sip:refresh" + runID + "@example.test"
	a := configure(t, map[string]any{"address": addr, "expires": "2m", "timeout": "3s"})
	waitFor(t, "health up: Kamailio answers OPTIONS", func() bool {
		h := a.Health(ctx)
		return h.Status == sdk.Up && strings.Contains(h.Message, "OPTIONS answered SIP/2.0 405")
	})
	expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", aor, "in_session", 1)}), sdk.Applied, "published")
	a.mu.Lock()
	pb := a.pub.agents["a-1"].presence
	a.mu.Unlock()
	pb.mu.Lock()
	first := pb.etag
	pb.refreshAt = time.Now() // due now
	pb.mu.Unlock()
	var second string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		pb.mu.Lock()
		second = pb.etag
		pb.mu.Unlock()
		if second != first {
			break
		}
	}
	if second == first {
		t.Fatalf("the refresh did not bring a new SIP-ETag (still %s)", first)
	}
	expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", aor, "available", 2)}), sdk.Applied, "modified")
	w := NewWatcher(t, "", "")
	if res, err := w.Subscribe(ctx, addr, "UDP", aor, EventPresence, 60); err != nil || res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %v %v", res, err)
	}
	w.WaitNotify(t, "available", 0, func(n Notify) bool { p, ok := presenceIn(t, n); return ok && !p.Busy() })
	seen := len(w.Notifies())
	a.Close()
	// The publication is gone: Kamailio notifies without our document.
	w.WaitNotify(t, "the publication removed", seen, func(n Notify) bool {
		p, ok := presenceIn(t, n)
		return !ok || p.Basic == BasicClosed
	})
}

// TestSippWatcher: sipp (testdata/sipp/watcher.xml) subscribes directly to
// the adapter in server mode, sees the agent busy, then available after
// the session ends, refreshes, and unsubscribes with a final NOTIFY.
func TestSippWatcher(t *testing.T) {
	sipp := os.Getenv("ACDBRIDGE_IT_SIPP")
	if sipp == "" {
		t.Fatal("ACDBRIDGE_IT_SIPP is not set: run the integration suite (make integration), which installs sipp (package sip-tester)")
	}
	ctx := context.Background()
	a, addr := serving(t, nil)
	aor := "sip:sipp" + runID + "@example.test"
	expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", aor, "in_session", 1)}), sdk.Applied, "notifying 0")
	cmd := exec.Command(sipp, "-sf", "testdata/sipp/watcher.xml", "-s", strings.TrimSuffix(strings.TrimPrefix(aor, "sip:"), "@example.test"),
		"-m", "1", "-t", "u1", "-i", "127.0.0.1", "-p", "0", "-nostdin", "-timeout", "30s", "-timeout_error", "-trace_err",
		"-error_file", filepath.Join(t.TempDir(), "errors.log"), addr)
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	a.mu.Lock()
	srv := a.srv
	a.mu.Unlock()
	// The session ends once sipp has answered the first NOTIFY.
	for srv.notifys.Load() < 1 {
		select {
		case err := <-done:
			t.Fatalf("sipp ended before the first NOTIFY was answered: %v\n%s", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", aor, "available", 2)}), sdk.Applied, "notifying 1")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sipp: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("sipp did not finish (guard against hanging)\n%s", out.String())
	}
	if n := srv.notifys.Load(); n != 4 {
		t.Fatalf("%d NOTIFYs answered, want 4", n)
	}
	waitFor(t, "no subscription left", func() bool { return subscriptions(a) == 0 })
}

// TestSippWatcherAuth: sipp answers the adapter's 401 digest challenges
// (server mode with watchers) on the SUBSCRIBE and the un-SUBSCRIBE.
func TestSippWatcherAuth(t *testing.T) {
	sipp := os.Getenv("ACDBRIDGE_IT_SIPP")
	if sipp == "" {
		t.Fatal("ACDBRIDGE_IT_SIPP is not set: run the integration suite (make integration), which installs sipp (package sip-tester)")
	}
	ctx := context.Background()
	a, addr := serving(t, map[string]any{"watchers": map[string]string{"bob": "bobpw"}, "realm": "example.test"})
	aor := "sip:sippauth" + runID + "@example.test"
	expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", aor, "in_session", 1)}), sdk.Applied, "notifying 0")
	for _, tc := range []struct {
		pass string
		ok   bool
	}{{"wrong", false}, {"bobpw", true}} {
		cmd := exec.Command(sipp, "-sf", "testdata/sipp/watcher-auth.xml", "-s", strings.TrimSuffix(strings.TrimPrefix(aor, "sip:"), "@example.test"),
			"-au", "bob", "-ap", tc.pass, "-m", "1", "-t", "u1", "-i", "127.0.0.1", "-p", "0", "-nostdin", "-timeout", "20s", "-timeout_error",
			"-error_file", filepath.Join(t.TempDir(), "errors.log"), addr)
		out, err := cmd.CombinedOutput()
		if (err == nil) != tc.ok {
			t.Fatalf("password %q: sipp: %v, want success %v\n%s", tc.pass, err, tc.ok, out)
		}
	}
	a.mu.Lock()
	srv := a.srv
	a.mu.Unlock()
	if n := srv.notifys.Load(); n != 2 {
		t.Fatalf("%d NOTIFYs answered, want 2 (none for the wrong password)", n)
	}
	waitFor(t, "no subscription left", func() bool { return subscriptions(a) == 0 })
}

// BenchmarkKamailioPublish: PUBLISH transactions per second sustained
// against the real Kamailio (UDP loopback), 500 agents a batch, without
// and with digest auth (the nonce reused: one round trip a PUBLISH).
// Run: ACDBRIDGE_IT_KAMAILIO=... ACDBRIDGE_IT_KAMAILIO_AUTH=... go test -tags integration -run '^$' -bench KamailioPublish ./adapters/sip
func BenchmarkKamailioPublish(b *testing.B) {
	for _, bc := range []struct{ name, env, creds string }{
		{"plain", "ACDBRIDGE_IT_KAMAILIO", ""},
		{"auth", "ACDBRIDGE_IT_KAMAILIO_AUTH", `,"username":"alice","password":"alicepw"`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			addr := os.Getenv(bc.env)
			if addr == "" {
				b.Fatalf("%s is not set: start Kamailio as scripts/integration.d/20-kamailio.sh does", bc.env)
			}
			ctx := context.Background()
			a := New(nil)
			js := fmt.Sprintf(`{"address":%q,"rate":100000,"timeout":"5s"%s}`, addr, bc.creds)
			if err := a.Configure(ctx, sdk.Settings{Instance: "bench", JSON: []byte(js)}); err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			const batch = 500
			b.ResetTimer()
			done := 0
			for v := uint64(1); done < b.N; v++ {
				n := min(batch, b.N-done)
				items := benchAgents(n, v)
				for i := range items {
					items[i].Identities["sip_uri"] = fmt.Sprintf("sip:bench%s%s-%05d@example.test", runID, bc.name, i)
				}
				for _, r := range a.SetAvailability(ctx, items) {
					if r.Outcome != sdk.Applied {
						b.Fatalf("%+v", r)
					}
				}
				done += n
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publish/s")
		})
	}
}
