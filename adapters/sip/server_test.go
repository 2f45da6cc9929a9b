package sip

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// serving configures a server-mode adapter on a free port of 127.0.0.1.
func serving(t *testing.T, extra map[string]any) (*Adapter, string) {
	t.Helper()
	s := map[string]any{"mode": "server", "listen": "127.0.0.1:0", "timeout": "3s"}
	for k, v := range extra {
		s[k] = v
	}
	a := configure(t, s)
	a.mu.Lock()
	addr := a.srv.Addr()
	a.mu.Unlock()
	return a, addr
}

// watched is a server-mode adapter (serving's, with extra) showing alice
// in state (version 1), and a watcher subscribed to her for expires
// seconds that got the first NOTIFY.
func watched(t *testing.T, extra map[string]any, state string, expires int) (*Adapter, *Watcher) {
	t.Helper()
	ctx := context.Background()
	a, addr := serving(t, extra)
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, state, 1)})
	w := NewWatcher(t, "", "")
	if res, err := w.Subscribe(ctx, addr, "UDP", alice, EventPresence, expires); err != nil || res.StatusCode != 200 {
		t.Fatal(res, err)
	}
	w.WaitNotify(t, "the first NOTIFY", 0, func(Notify) bool { return true })
	return a, w
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, what, 20*time.Second, 5*time.Millisecond, cond)
}

func subscriptions(a *Adapter) int {
	a.mu.Lock()
	s := a.srv
	a.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

func busyIn(t *testing.T, n Notify) bool {
	p, ok := presenceIn(t, n)
	return ok && p.Busy()
}

func availableIn(t *testing.T, n Notify) bool {
	p, ok := presenceIn(t, n)
	return ok && !p.Busy()
}

// TestServerDialog follows one subscription through its life: 200 and an
// immediate NOTIFY, a NOTIFY per change with growing CSeq in the same
// dialog, a refresh, and an unsubscribe with a final NOTIFY.
func TestServerDialog(t *testing.T) {
	for _, transport := range []string{"UDP", "TCP"} {
		t.Run(transport, func(t *testing.T) {
			ctx := context.Background()
			a, addr := serving(t, nil)
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "in_session (remote-support); notifying 0 subscription(s)")
			w := NewWatcher(t, "", "")
			res, err := w.Subscribe(ctx, addr, transport, alice, EventPresence, 120)
			if err != nil || res.StatusCode != 200 || headerValue(res, "Expires") != "120" || !strings.Contains(headerValue(res, "Contact"), addr) {
				t.Fatalf("SUBSCRIBE: %v %v", res, err)
			}
			toTag, _ := res.To().Params.Get("tag")
			n := w.WaitNotify(t, "busy", 0, func(n Notify) bool { return busyIn(t, n) })
			if n.CSeq != 1 || n.State != "active;expires=120" && n.State != "active;expires=119" || n.FromTag != toTag || n.Event != "presence" || n.Type != TypePIDF || n.CallID != w.callID {
				t.Fatalf("first NOTIFY %+v (to tag %s)", n, toTag)
			}
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 2)}), sdk.Applied, "available; notifying 1 subscription(s)")
			n = w.WaitNotify(t, "available", 1, func(n Notify) bool { return availableIn(t, n) })
			if n.CSeq != 2 || n.FromTag != toTag {
				t.Fatalf("second NOTIFY %+v", n)
			}
			res, err = w.Refresh(ctx, 300)
			if err != nil || res.StatusCode != 200 || headerValue(res, "Expires") != "300" {
				t.Fatalf("refresh: %v %v", res, err)
			}
			n = w.WaitNotify(t, "the refresh's NOTIFY", 2, func(Notify) bool { return true })
			if n.CSeq != 3 || !strings.HasPrefix(n.State, "active;expires=") || !availableIn(t, n) {
				t.Fatalf("refresh NOTIFY %+v", n)
			}
			if left, _ := strconv.Atoi(strings.TrimPrefix(n.State, "active;expires=")); left < 290 {
				t.Fatalf("refresh NOTIFY %+v: the refresh's 300 s not honoured", n)
			}
			res, err = w.Refresh(ctx, 0)
			if err != nil || res.StatusCode != 200 || headerValue(res, "Expires") != "0" {
				t.Fatalf("unsubscribe: %v %v", res, err)
			}
			n = w.WaitNotify(t, "the final NOTIFY", 3, func(Notify) bool { return true })
			if n.CSeq != 4 || n.State != "terminated;reason=timeout" {
				t.Fatalf("final NOTIFY %+v", n)
			}
			waitFor(t, "no subscription left", func() bool { return subscriptions(a) == 0 })
			// The dialog is gone: a refresh in it gets 481.
			if res, err := w.Refresh(ctx, 60); err != nil || res.StatusCode != 481 {
				t.Fatalf("refresh after unsubscribe: %v %v, want 481", res, err)
			}
		})
	}
}

func TestServerDialogInfo(t *testing.T) {
	ctx := context.Background()
	a, addr := serving(t, nil)
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)})
	w := NewWatcher(t, "", "")
	if res, err := w.Subscribe(ctx, addr, "UDP", alice, "dialog;id=blf1", 60); err != nil || res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %v %v", res, err)
	}
	n := w.WaitNotify(t, "dialog-info", 0, func(Notify) bool { return true })
	d, err := ParseDialogInfo([]byte(n.Body))
	if err != nil || !d.Busy() || d.Version != 0 || n.Type != TypeDialogInfo || n.Event != "dialog;id=blf1" {
		t.Fatalf("NOTIFY %+v: %+v %v", n, d, err)
	}
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 2)})
	n = w.WaitNotify(t, "dialog-info", 1, func(Notify) bool { return true })
	if d, err = ParseDialogInfo([]byte(n.Body)); err != nil || d.Busy() || d.Version != 1 {
		t.Fatalf("NOTIFY %+v: %+v %v", n, d, err)
	}
}

// TestServerRouteSet: a SUBSCRIBE that came through proxies (Record-Route)
// gets its NOTIFYs through them: Route headers in the recorded order, sent
// to the first route, whatever the Contact says.
func TestServerRouteSet(t *testing.T) {
	ctx := context.Background()
	a, addr := serving(t, nil)
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)})
	w := NewWatcher(t, "", "")
	first := "<sip:127.0.0.1:" + strconv.Itoa(w.Port) + ";lr>"
	w.RecordRoute = []string{first, "<sip:proxy2.example.test;lr>"}
	w.Contact = "<sip:watcher@192.0.2.1:5060>" // unreachable: only the route set gets there
	if res, err := w.Subscribe(ctx, addr, "UDP", alice, EventPresence, 60); err != nil || res.StatusCode != 200 {
		t.Fatal(res, err)
	}
	n := w.WaitNotify(t, "the NOTIFY through the route set", 0, func(Notify) bool { return true })
	if strings.Join(n.Routes, ", ") != first+", <sip:proxy2.example.test;lr>" || n.RequestTo != "sip:watcher@192.0.2.1:5060" {
		t.Fatalf("NOTIFY %+v: want Route %s, <sip:proxy2.example.test;lr> and the Contact as Request-URI", n, first)
	}
}

// TestServerRefusals checks each refusal's status code.
func TestServerRefusals(t *testing.T) {
	ctx := context.Background()
	a, addr := serving(t, map[string]any{"min_expires": "60s", "max_expires": "10m"})
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 1)})
	tests := []struct {
		name    string
		aor     string
		event   string
		expires int
		code    int
		header  string
	}{
		{"unknown agent", "sip:nobody@example.test", EventPresence, 60, 404, ""},
		{"unknown event", alice, "message-summary", 60, 489, "Allow-Events: presence, dialog"},
		{"too brief", alice, EventPresence, 5, 423, "Min-Expires: 60"},
		{"too long is cut", alice, EventPresence, 7200, 200, "Expires: 600"},
		{"by user at our address", "sip:alice@127.0.0.1", EventPresence, 60, 200, "Expires: 60"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWatcher(t, "", "")
			res, err := w.Subscribe(ctx, addr, "UDP", tc.aor, tc.event, tc.expires)
			if err != nil || res.StatusCode != tc.code || tc.header != "" && !strings.Contains(res.String(), tc.header+"\r\n") {
				t.Fatalf("got %v %v, want %d with %q", res, err, tc.code, tc.header)
			}
		})
	}
	// A refresh in a dialog that does not exist.
	w := NewWatcher(t, "", "")
	if res, err := w.Subscribe(ctx, addr, "UDP", alice, EventPresence, 60); err != nil || res.StatusCode != 200 {
		t.Fatal(res, err)
	}
	w.toTag = "not-ours"
	if res, err := w.Refresh(ctx, 60); err != nil || res.StatusCode != 481 {
		t.Fatalf("refresh in an unknown dialog: %v %v, want 481", res, err)
	}
}

// TestServerEndsSubscriptions: expiry, a 481 from the subscriber, a
// subscriber that does not answer, and Close.
func TestServerEndsSubscriptions(t *testing.T) {
	ctx := context.Background()
	t.Run("expires", func(t *testing.T) {
		a, addr := serving(t, map[string]any{"min_expires": "1s"})
		a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 1)})
		w := NewWatcher(t, "", "")
		if res, err := w.Subscribe(ctx, addr, "UDP", alice, EventPresence, 1); err != nil || res.StatusCode != 200 {
			t.Fatal(res, err)
		}
		w.WaitNotify(t, "terminated;reason=timeout", 0, func(n Notify) bool { return n.State == "terminated;reason=timeout" })
		waitFor(t, "no subscription left", func() bool { return subscriptions(a) == 0 })
	})
	for _, code := range []int{481, 408} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			a, w := watched(t, nil, "available", 60)
			w.mu.Lock()
			w.Answer = code
			w.mu.Unlock()
			a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 2)})
			waitFor(t, "the subscription dropped", func() bool { return subscriptions(a) == 0 })
			a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 3)})
			if n := len(w.Notifies()); n != 2 {
				t.Fatalf("%d NOTIFYs, want 2: none after the %d", n, code)
			}
		})
	}
	t.Run("no answer", func(t *testing.T) {
		a, w := watched(t, nil, "available", 60)
		w.Stop()
		a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 2)})
		waitFor(t, "the subscription dropped", func() bool { return subscriptions(a) == 0 })
	})
	t.Run("close", func(t *testing.T) {
		a, w := watched(t, nil, "available", 60)
		a.Close()
		w.WaitNotify(t, "terminated;reason=noresource", 1, func(n Notify) bool { return n.State == "terminated;reason=noresource" })
	})
	t.Run("identity gone", func(t *testing.T) {
		a, w := watched(t, nil, "available", 60)
		expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", "", "available", 2)}), sdk.Ignored, `no "sip_uri" identity`)
		w.WaitNotify(t, "terminated;reason=noresource", 1, func(n Notify) bool { return n.State == "terminated;reason=noresource" })
	})
}

// TestServerDigest: with watchers set, a SUBSCRIBE without credentials
// gets 401 and one with the right ones gets in.
func TestServerDigest(t *testing.T) {
	ctx := context.Background()
	a, addr := serving(t, map[string]any{"watchers": map[string]string{"bob": "bobpw"}, "realm": "example.test"})
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)})
	tests := []struct {
		user, pass string
		code       int
	}{
		{"", "", 401},
		{"bob", "wrong", 401},
		{"eve", "bobpw", 401},
		{"bob", "bobpw", 200},
	}
	for _, tc := range tests {
		t.Run(tc.user+":"+tc.pass, func(t *testing.T) {
			w := NewWatcher(t, tc.user, tc.pass)
			res, err := w.Subscribe(ctx, addr, "UDP", alice, EventPresence, 60)
			if err != nil || res.StatusCode != tc.code {
				t.Fatalf("got %v %v, want %d", res, err, tc.code)
			}
			if tc.code == 401 && !strings.Contains(headerValue(res, "WWW-Authenticate"), `Digest realm="example.test", nonce="`) {
				t.Fatalf("challenge %q", headerValue(res, "WWW-Authenticate"))
			}
			if tc.code == 200 {
				w.WaitNotify(t, "busy", 0, func(n Notify) bool { return busyIn(t, n) })
				if res, err := w.Refresh(ctx, 0); err != nil || res.StatusCode != 200 {
					t.Fatalf("authenticated unsubscribe: %v %v", res, err)
				}
			}
		})
	}
}

// TestServerCountsMalformed: garbage and a SUBSCRIBE without a From tag
// are counted, answered where they can be, and never crash the server.
func TestServerCountsMalformed(t *testing.T) {
	a, addr := serving(t, nil)
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := c.LocalAddr().(*net.UDPAddr).Port
	for _, m := range []string{
		"GARBAGE\r\n\r\n",
		"SUBSCRIBE sip:alice@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(port) + ";branch=z9hG4bKx1\r\nFrom: <sip:bob@example.test>\r\nTo: <sip:alice@example.test>\r\nCall-ID: c1\r\nCSeq: 1 SUBSCRIBE\r\nMax-Forwards: 70\r\nEvent: presence\r\nContent-Length: 0\r\n\r\n",
	} {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 400 Bad Request - expected a tag in From\r\n") {
		t.Fatalf("answer %q %v", buf[:n], err)
	}
	waitFor(t, "both counted", func() bool { return a.count.malformed.Load() == 2 })
	if h := a.Health(context.Background()); h.Status != sdk.Up || !strings.Contains(h.Message, "malformed SIP 2") {
		t.Fatalf("health %+v", h)
	}
}
