package asterisk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

func counter() func() string {
	var n atomic.Uint64
	return func() string { return fmt.Sprintf("t-%d", n.Add(1)) }
}

// Events sent to a session that asked for none (Asterisk sends some
// anyway) are skipped, and the answers still find their actions.
func TestEventsInterleavedWithResponses(t *testing.T) {
	f := NewFakeServer(t)
	f.eventsAlways = true
	ctx := context.Background()
	c, version, err := dial(ctx, f.Addr(), "bridge", "s3cret", AuthPlain, time.Second, counter())
	if err != nil || version != "11.0.0" {
		t.Fatalf("%q %v", version, err)
	}
	defer c.close(errors.New("done"))
	if _, _, err := c.do(ctx, Message{{"Action", "QueuePause"}, {"Interface", a1001}, {"Paused", "true"}, {"Reason", "remote-support"}}, time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := c.queueStatus(ctx, a1001, time.Second)
	if err != nil || len(st) != 2 || !st[0].paused || st[0].reason != "remote-support" || st[1].queue != "sales" || st[0].iface != a1001 {
		t.Fatalf("%+v %v", st, err)
	}
	if !strings.Contains(f.Transcript(), "<< Event: QueueMemberPause") {
		t.Fatal("the fake sent no events: the test tests nothing")
	}
}

// Several actions in flight at once each get their own answer.
func TestActionIDCorrelation(t *testing.T) {
	f := NewFakeServer(t)
	ctx := context.Background()
	c, _, err := dial(ctx, f.Addr(), "bridge", "s3cret", AuthPlain, time.Second, counter())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close(errors.New("done"))
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			iface := []string{a1001, "Local/1002@agents", "Local/9999@agents"}[i%3]
			st, err := c.queueStatus(ctx, iface, 2*time.Second)
			if err != nil {
				errs <- err
				return
			}
			for _, s := range st {
				if s.iface != iface {
					errs <- fmt.Errorf("asked for %s, got %s", iface, s.iface)
				}
			}
			if iface == "Local/9999@agents" && len(st) != 0 || iface != "Local/9999@agents" && len(st) != 2 {
				errs <- fmt.Errorf("%s: %d members", iface, len(st))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestActionErrorsAndTimeouts(t *testing.T) {
	f := NewFakeServer(t)
	ctx := context.Background()
	c, _, err := dial(ctx, f.Addr(), "bridge", "s3cret", AuthPlain, time.Second, counter())
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.do(ctx, Message{{"Action", "QueuePause"}, {"Paused", "true"}}, time.Second)
	var ae *ActionError
	if !errors.As(err, &ae) || ae.Message != "Need 'Interface' and 'Paused' parameters." {
		t.Fatalf("%v", err)
	}

	// A server that never answers: the action times out and the
	// connection is closed, not left out of step.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		s, err := ln.Accept()
		if err == nil {
			fmt.Fprintf(s, "%s11.0.0\r\n", BannerPrefix)
			time.Sleep(2 * time.Second)
			s.Close()
		}
	}()
	start := time.Now()
	_, _, err = dial(ctx, ln.Addr().String(), "bridge", "s3cret", AuthPlain, 100*time.Millisecond, counter())
	if err == nil || !strings.Contains(err.Error(), "expected an answer to Login") || time.Since(start) > time.Second {
		t.Fatalf("after %s: %v", time.Since(start), err)
	}

	// Not AMI at all.
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln2.Close()
	go func() {
		s, err := ln2.Accept()
		if err == nil {
			fmt.Fprint(s, "HTTP/1.1 400 Bad Request\r\n\r\n")
			s.Close()
		}
	}()
	if _, _, err := dial(ctx, ln2.Addr().String(), "bridge", "s3cret", AuthPlain, time.Second, counter()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("%v", err)
	}
}

// The keepalive pings; a server that stops answering is left, and the
// adapter reconnects (degraded meanwhile).
func TestKeepaliveAndDegraded(t *testing.T) {
	f := NewFakeServer(t)
	a := New(nil)
	a.keepalive, a.minBackoff, a.maxBackoff = 20*time.Millisecond, 10*time.Millisecond, 20*time.Millisecond
	if err := a.Configure(context.Background(), sdk.Settings{JSON: []byte(`{"address":"` + f.Addr() + `","username":"bridge","secret":"s3cret","timeout":"200ms"}`)}); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitFor(t, "a Ping", func() bool { return strings.Contains(f.Transcript(), "<< Ping: Pong") })
	f.Close() // gone for good
	waitFor(t, "degraded", func() bool { return a.Health(context.Background()).Status == sdk.Degraded })
	h := a.Health(context.Background())
	if !strings.Contains(h.Message, "reconnecting to AMI at "+f.Addr()) {
		t.Fatalf("%+v", h)
	}
	rs := a.SetAvailability(context.Background(), []sdk.Availability{agent("a-1", a1001, false, 1)})
	acdtest.ExpectOutcome(t, rs, sdk.Retryable, "not logged in to AMI")
}

func TestTruncReason(t *testing.T) {
	long := strings.Repeat("é", 50) // 100 bytes
	if got := truncReason(long); len(got) != 78 || got != strings.Repeat("é", 39) {
		t.Fatalf("%d bytes: %q", len(got), got)
	}
	if got := truncReason(strings.Repeat("x", 100)); len(got) != MaxReason {
		t.Fatalf("%d bytes", len(got))
	}
	if truncReason("") != defaultReason {
		t.Fatal("an empty reason")
	}
}

func TestMD5Login(t *testing.T) {
	f := NewFakeServer(t)
	ctx := context.Background()
	c, _, err := dial(ctx, f.Addr(), "bridge", "s3cret", AuthMD5, time.Second, counter())
	if err != nil {
		t.Fatal(err)
	}
	c.close(errors.New("done"))
	if tr := f.Transcript(); strings.Contains(tr, "s3cret") || !strings.Contains(tr, ">> Key: ") {
		t.Fatalf("the secret crossed the network, or no key did:\n%s", tr)
	}
	_, _, err = dial(ctx, f.Addr(), "bridge", "wrong", AuthMD5, time.Second, counter())
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Message != "Authentication failed" {
		t.Fatalf("%v", err)
	}
}

// An event of no action, and one of another action, in the middle of a
// QueueStatus list are not taken for its members.
func TestForeignEventsInsideAList(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		r := bufio.NewReader(server)
		fmt.Fprintf(server, "%s11.0.0\r\n", BannerPrefix)
		if _, err := ReadMessage(r); err != nil { // Login
			return
		}
		fmt.Fprint(server, "Response: Success\r\nActionID: t-1\r\nMessage: Authentication accepted\r\n\r\n")
		if _, err := ReadMessage(r); err != nil { // QueueStatus
			return
		}
		fmt.Fprint(server, "Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"+
			"response: success\r\nactionid: t-2\r\neventlist: start\r\nmessage: Queue status will follow\r\n\r\n"+
			"Event: QueueMember\r\nQueue: other\r\nName: x\r\nLocation: PJSIP/9\r\nPaused: 1\r\nPausedReason: x\r\nActionID: someone-else\r\n\r\n"+
			"Event: QueueMemberPause\r\nQueue: support\r\nMemberName: agent1001\r\nInterface: Local/1001@agents\r\nPaused: 1\r\n\r\n"+
			"EVENT: QueueMember\r\nQUEUE: support\r\nNAME: agent1001\r\nLOCATION: Local/1001@agents\r\nPAUSED: 1\r\nPAUSEDREASON: remote-support: since 10:02\r\nACTIONID: t-2\r\n\r\n"+
			"Event: QueueStatusComplete\r\nActionID: t-2\r\nEventList: Complete\r\nListItems: 1\r\n\r\n")
	}()
	c := &conn{c: client, nextID: counter(), pending: map[string]*call{}}
	r := bufio.NewReader(client)
	if _, err := ReadBanner(r); err != nil {
		t.Fatal(err)
	}
	go c.read(r)
	ctx := context.Background()
	if _, _, err := c.do(ctx, Message{{"Action", "Login"}, {"Username", "bridge"}, {"Secret", "s3cret"}}, time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := c.queueStatus(ctx, "", time.Second)
	want := []memberState{{queue: "support", name: "agent1001", iface: a1001, paused: true, reason: "remote-support: since 10:02"}}
	if err != nil || len(st) != 1 || st[0] != want[0] {
		t.Fatalf("%+v %v, want %+v", st, err, want)
	}
}

func TestSecretIsNeverLogged(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := hclog.New(&hclog.LoggerOptions{Output: writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), Level: hclog.Trace})
	for _, secret := range []string{"s3cret", "wrong-s3cret"} {
		f := NewFakeServer(t)
		a := New(logger)
		a.authBackoff = time.Hour
		_ = a.Configure(context.Background(), sdk.Settings{JSON: []byte(`{"address":"` + f.Addr() + `","username":"bridge","secret":"` + secret + `"}`)})
		waitFor(t, "a login", func() bool { return f.Logins() == 1 && a.Health(context.Background()).Status != sdk.Degraded })
		a.Close()
		f.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(buf.String(), "s3cret") || !strings.Contains(buf.String(), "login refused") {
		t.Fatalf("the log:\n%s", buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }
