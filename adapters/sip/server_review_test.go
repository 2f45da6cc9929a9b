package sip

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// TestServerTargetRefresh: a refresh with a new Contact moves the remote
// target (RFC 6665 4.1.2.3) while NOTIFYs for changes are in flight; the
// NOTIFYs after it go to the new Contact. Run with -race: the worker that
// builds a NOTIFY reads the target the refresh writes.
func TestServerTargetRefresh(t *testing.T) {
	ctx := context.Background()
	a, w := watched(t, nil, "in_session", 120)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			state := "available"
			if i%2 == 0 {
				state = "in_session"
			}
			a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, state, uint64(i+2))})
		}()
		w.mu.Lock()
		w.Contact = fmt.Sprintf("<sip:moved%d@127.0.0.1:%d>", i, w.Port)
		w.mu.Unlock()
		if res, err := w.Refresh(ctx, 120); err != nil || res.StatusCode != 200 {
			t.Fatalf("refresh %d: %v %v", i, res, err)
		}
	}
	wg.Wait()
	seen := len(w.Notifies())
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "away", 100)})
	n := w.WaitNotify(t, "the NOTIFY after the refreshes", seen, func(n Notify) bool {
		p, ok := presenceIn(t, n)
		return ok && len(p.Activities) == 1 && p.Activities[0] == "away"
	})
	if want := fmt.Sprintf("sip:moved19@127.0.0.1:%d", w.Port); n.RequestTo != want {
		t.Fatalf("NOTIFY to %s, want the last refresh's Contact %s", n.RequestTo, want)
	}
}

// TestServerSubscriptionCap: with max_subscriptions, a new subscription
// beyond it is answered 503 with Retry-After (memory stays bounded however
// many subscribers come); refreshes of those held still pass, and a place
// freed by an unsubscribe is taken again.
func TestServerSubscriptionCap(t *testing.T) {
	ctx := context.Background()
	a, addr := serving(t, map[string]any{"max_subscriptions": 2})
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 1)})
	var ws []*Watcher
	for i := range 2 {
		w := NewWatcher(t, "", "")
		if res, err := w.Subscribe(ctx, addr, "UDP", alice, EventPresence, 60); err != nil || res.StatusCode != 200 {
			t.Fatalf("subscription %d: %v %v", i, res, err)
		}
		ws = append(ws, w)
	}
	third := NewWatcher(t, "", "")
	res, err := third.Subscribe(ctx, addr, "UDP", alice, EventDialog, 60)
	if err != nil || res.StatusCode != 503 || headerValue(res, "Retry-After") == "" {
		t.Fatalf("a third subscription: %v %v, want 503 with Retry-After", res, err)
	}
	if n := subscriptions(a); n != 2 {
		t.Fatalf("%d subscriptions held, want 2", n)
	}
	if h := a.Health(ctx); !strings.Contains(h.Message, "refused 1 subscription(s) at max_subscriptions 2") {
		t.Fatalf("health %+v: the refusal not shown", h)
	}
	if res, err := ws[0].Refresh(ctx, 60); err != nil || res.StatusCode != 200 {
		t.Fatalf("a refresh at the cap: %v %v, want 200", res, err)
	}
	if res, err := ws[1].Refresh(ctx, 0); err != nil || res.StatusCode != 200 {
		t.Fatalf("unsubscribe: %v %v", res, err)
	}
	waitFor(t, "the place freed", func() bool { return subscriptions(a) == 1 })
	if res, err := third.Subscribe(ctx, addr, "UDP", alice, EventDialog, 60); err != nil || res.StatusCode != 200 {
		t.Fatalf("a subscription after one ended: %v %v, want 200", res, err)
	}
}

// TestServerDigestChecks: credentials computed for another Request-URI
// (a SUBSCRIBE for bob's presence replayed at alice) are refused with 400
// (RFC 2617 3.2.2.5), credentials naming this server (sip:host:port, as
// sipp sends them) are taken, and a response without the qop=auth we asked for
// (RFC 2069 style: no cnonce, no nonce count) is challenged again.
func TestServerDigestChecks(t *testing.T) {
	ctx := context.Background()
	a, addr := serving(t, map[string]any{"watchers": map[string]string{"bob": "bobpw"}, "realm": "example.test"})
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1), item("a-2", "sip:carol@example.test", "in_session", 1)})
	w := NewWatcher(t, "", "")
	res, err := w.Subscribe(ctx, addr, "UDP", alice, EventPresence, 60)
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("SUBSCRIBE without credentials: %v %v", res, err)
	}
	host, _, _ := net.SplitHostPort(addr)
	chal, err := digest.ParseChallenge(headerValue(res, "WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		uri  string
		qop  bool
		code int
	}{
		{"another Request-URI", "sip:carol@example.test", true, 400},
		{"another port of ours", "sip:" + net.JoinHostPort(host, "1"), true, 400},
		{"our address (sipp's uri)", "sip:" + addr, true, 200},
		{"no qop", alice, false, 401},
		{"right", alice, true, 200},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := *chal
			if !tc.qop {
				c.QOP = nil
			}
			// A new nonce count each: a count used before is a replay.
			cred, err := digest.Digest(&c, digest.Options{Method: "SUBSCRIBE", URI: tc.uri, Username: "bob", Password: "bobpw", Count: i + 1})
			if err != nil {
				t.Fatal(err)
			}
			w.mu.Lock()
			w.fromTag, w.callID, w.toTag = sip.GenerateTagN(10), sip.GenerateTagN(16), ""
			w.mu.Unlock()
			res, err := w.do(ctx, w.request(60, "Authorization", cred.String()))
			if err != nil || res.StatusCode != tc.code {
				t.Fatalf("got %v %v, want %d", res, err, tc.code)
			}
		})
	}
}

// TestServerEventID: a refresh names its subscription by the Event
// package and its id (RFC 6665); a SUBSCRIBE in the dialog with
// another id is for no subscription we hold: 481.
func TestServerEventID(t *testing.T) {
	ctx := context.Background()
	a, addr := serving(t, nil)
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)})
	w := NewWatcher(t, "", "")
	if res, err := w.Subscribe(ctx, addr, "UDP", alice, "dialog;id=blf1", 60); err != nil || res.StatusCode != 200 {
		t.Fatal(res, err)
	}
	w.mu.Lock()
	w.event = "dialog;id=blf2"
	w.mu.Unlock()
	if res, err := w.Refresh(ctx, 60); err != nil || res.StatusCode != 481 {
		t.Fatalf("refresh with another id: %v %v, want 481", res, err)
	}
	w.mu.Lock()
	w.event = "dialog;id=blf1"
	w.mu.Unlock()
	if res, err := w.Refresh(ctx, 60); err != nil || res.StatusCode != 200 {
		t.Fatalf("refresh with the id: %v %v, want 200", res, err)
	}
}

// TestServerContactOnAnyAddress: listening on 0.0.0.0, the Contact of the
// 200 and of each NOTIFY (where the subscriber sends its refreshes) is the
// address the subscriber reaches, not 0.0.0.0 (a phone would send its
// refreshes to itself).
func TestServerContactOnAnyAddress(t *testing.T) {
	ctx := context.Background()
	a, addr := serving(t, map[string]any{"listen": "0.0.0.0:0"})
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)})
	_, port, _ := net.SplitHostPort(addr)
	w := NewWatcher(t, "", "")
	res, err := w.Subscribe(ctx, "127.0.0.1:"+port, "UDP", alice, EventPresence, 60)
	if err != nil || res.StatusCode != 200 {
		t.Fatal(res, err)
	}
	if got, want := headerValue(res, "Contact"), "<sip:127.0.0.1:"+port+">"; got != want {
		t.Fatalf("200's Contact %q, want %q", got, want)
	}
	n := w.WaitNotify(t, "the first NOTIFY", 0, func(Notify) bool { return true })
	if want := "<sip:127.0.0.1:" + port + ">"; n.Contact != want {
		t.Fatalf("NOTIFY's Contact %q, want %q", n.Contact, want)
	}
	if res, err := w.Refresh(ctx, 60); err != nil || res.StatusCode != 200 {
		t.Fatalf("refresh to the Contact: %v %v", res, err)
	}
}

// TestServerOnlyChanges: a reconcile (or a new version) that shows the
// same state and reason sends no NOTIFY: the next NOTIFY, CSeq 2, is the
// next real change. (A SIGHUP reconciles every agent: without this, every
// subscriber got a NOTIFY saying nothing new.)
func TestServerOnlyChanges(t *testing.T) {
	ctx := context.Background()
	a, w := watched(t, nil, "in_session", 60)
	expectOutcome(t, a.Reconcile(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "unchanged, no NOTIFY to 1 subscription(s)")
	expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 2)}), sdk.Applied, "unchanged")
	expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 3)}), sdk.Applied, "notifying 1 subscription(s)")
	n := w.WaitNotify(t, "the change", 1, func(Notify) bool { return true })
	if n.CSeq != 2 || !availableIn(t, n) {
		t.Fatalf("NOTIFY %+v after two unchanged updates, want CSeq 2 showing the agent available", n)
	}
}

// TestServerAccept: a subscriber whose Accept does not take the event's
// document (a phone reading only application/xpidf+xml) gets 406 with our
// type, not a PIDF it would misread; lists, parameters and wildcards that
// take it pass.
func TestServerAccept(t *testing.T) {
	ctx := context.Background()
	a, addr := serving(t, nil)
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)})
	tests := []struct {
		event, accept string
		code          int
	}{
		{EventPresence, "application/xpidf+xml", 406},
		{EventPresence, "application/cpim-pidf+xml, application/xpidf+xml", 406},
		{EventPresence, "application/xpidf+xml, Application/PIDF+XML;q=0.5", 200},
		{EventPresence, "multipart/related, application/rlmi+xml, application/pidf+xml", 200},
		{EventPresence, "*/*", 200},
		{EventPresence, "application/*", 200},
		{EventDialog, "application/pidf+xml", 406},
		{EventDialog, "application/dialog-info+xml", 200},
	}
	for _, tc := range tests {
		t.Run(tc.event+" "+tc.accept, func(t *testing.T) {
			w := NewWatcher(t, "", "")
			w.Accept = tc.accept
			res, err := w.Subscribe(ctx, addr, "UDP", alice, tc.event, 60)
			if err != nil || res.StatusCode != tc.code {
				t.Fatalf("got %v %v, want %d", res, err, tc.code)
			}
			want := TypePIDF
			if tc.event == EventDialog {
				want = TypeDialogInfo
			}
			if tc.code == 406 && headerValue(res, "Accept") != want {
				t.Fatalf("406 with Accept %q, want %q", headerValue(res, "Accept"), want)
			}
		})
	}
	if n := subscriptions(a); n != 5 {
		t.Fatalf("%d subscriptions, want the 5 accepted", n)
	}
}

// TestServerRefreshWhileEnding: a refresh that comes after the
// subscription was found expired, while its final NOTIFY is still queued
// (a worker busy with it), gets 481, not a 200 the final NOTIFY
// (terminated) would contradict right after.
func TestServerRefreshWhileEnding(t *testing.T) {
	ctx := context.Background()
	a, w := watched(t, nil, "in_session", 60)
	waitFor(t, "the first NOTIFY's worker done", func() bool {
		a.srv.mu.Lock()
		defer a.srv.mu.Unlock()
		for _, sub := range a.srv.subs {
			sub.mu.Lock()
			defer sub.mu.Unlock()
			return !sub.running
		}
		return false
	})
	// As the sweeper does, with the worker that sends the final NOTIFY
	// not there yet.
	a.srv.mu.Lock()
	var sub *subscription
	for _, s := range a.srv.subs {
		sub = s
	}
	a.srv.mu.Unlock()
	sub.mu.Lock()
	sub.terminate, sub.running = "timeout", true
	sub.mu.Unlock()
	if res, err := w.Refresh(ctx, 60); err != nil || res.StatusCode != 481 {
		t.Fatalf("refresh of a subscription ending: %v %v, want 481", res, err)
	}
	sub.mu.Lock()
	sub.running = false
	sub.mu.Unlock()
	a.srv.kick(sub)
	w.WaitNotify(t, "the final NOTIFY", 1, func(n Notify) bool { return n.State == "terminated;reason=timeout" })
}

// TestServerDigestReplay: an Authorization replayed (a nonce count used
// before with its nonce) is challenged again with stale=true; new counts
// pass, also out of order within the window of 64 (parallel SUBSCRIBEs
// of a phone's BLF keys).
func TestServerDigestReplay(t *testing.T) {
	ctx := context.Background()
	a, addr := serving(t, map[string]any{"watchers": map[string]string{"bob": "bobpw"}, "realm": "example.test"})
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)})
	w := NewWatcher(t, "", "")
	res, err := w.Subscribe(ctx, addr, "UDP", alice, EventPresence, 60)
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("SUBSCRIBE without credentials: %v %v", res, err)
	}
	chal, err := digest.ParseChallenge(headerValue(res, "WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	auth := map[int]string{}
	for _, nc := range []int{1, 2, 5, 4, 3, 70} {
		cred, err := digest.Digest(chal, digest.Options{Method: "SUBSCRIBE", URI: alice, Username: "bob", Password: "bobpw", Count: nc})
		if err != nil {
			t.Fatal(err)
		}
		auth[nc] = cred.String()
	}
	for i, step := range []struct {
		nc   int
		code int
	}{{1, 200}, {1, 401}, {2, 200}, {5, 200}, {4, 200}, {2, 401}, {3, 200}, {5, 401}, {70, 200}, {5, 401}, {3, 401}} {
		w.mu.Lock()
		w.fromTag, w.callID, w.toTag = sip.GenerateTagN(10), sip.GenerateTagN(16), ""
		w.mu.Unlock()
		res, err := w.do(ctx, w.request(60, "Authorization", auth[step.nc]))
		if err != nil || res.StatusCode != step.code {
			t.Fatalf("step %d, nc %d: %v %v, want %d", i, step.nc, res, err, step.code)
		}
		if step.code == 401 && !strings.Contains(headerValue(res, "WWW-Authenticate"), "stale=true") {
			t.Fatalf("step %d: a replay challenged without stale=true: %q", i, headerValue(res, "WWW-Authenticate"))
		}
	}
}
