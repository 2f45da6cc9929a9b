package freeswitch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Event frames between the replies (sent only to a connection that
// subscribed, which the adapter never does, but tolerated) are skipped,
// and each reply still finds its command.
func TestEventsBetweenReplies(t *testing.T) {
	f := NewFakeServer(t)
	f.Set(func(f *FakeServer) { f.events = true })
	a := start(t, f, f.Password, nil)
	ctx := context.Background()
	acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Applied, `set "On Break"`)
	acdtest.ExpectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{agent("a-1", a1001, true, 2)}), sdk.Applied, `set "Available"`)
	expectStatus(t, f, a1001, StatusAvailable)
	if !strings.Contains(f.Transcript(), "<< Content-Type: text/event-plain") {
		t.Fatal("the fake sent no events: the test tests nothing")
	}
}

// Many commands in flight on one connection each get their own reply, in
// order.
func TestPipelinedRepliesInOrder(t *testing.T) {
	f := NewFakeServer(t)
	for i := range 600 {
		f.AddAgent(fmt.Sprintf("%d@default", 2000+i), Statuses[i%len(Statuses)])
	}
	ctx := context.Background()
	c, err := dial(ctx, f.Addr(), f.Password, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close(errors.New("done"))
	var cmds []string
	for i := range 600 {
		name := fmt.Sprintf("%d@default", 2000+i)
		if i%7 == 0 {
			name = fmt.Sprintf("%d@nowhere", i)
		}
		cmds = append(cmds, "callcenter_config agent get status "+name)
	}
	for i, r := range c.apiAll(ctx, cmds, 2*time.Second) {
		st, err := ParseStatus(cmds[i], r.body)
		if r.err != nil {
			t.Fatalf("%d: %v", i, r.err)
		}
		if i%7 == 0 {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Reply != "-ERR Agent not found!" {
				t.Fatalf("%d: %q %v", i, st, err)
			}
		} else if st != Statuses[i%len(Statuses)] {
			t.Fatalf("%d: %q %v, want %q", i, st, err, Statuses[i%len(Statuses)])
		}
	}
}

// serveOnce accepts one connection and runs script on it.
func serveOnce(t *testing.T, script func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err == nil {
			script(c)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	readAuth := func(c net.Conn) {
		buf := make([]byte, 64)
		_, _ = c.Read(buf)
	}
	// accept greets, reads the auth command and accepts it.
	accept := func(c net.Conn) {
		c.Write(authRequest())
		readAuth(c)
		c.Write(commandReply("+OK accepted"))
	}
	tests := []struct {
		name   string
		script func(c net.Conn)
		dial   string // part of dial's error; "" when it succeeds
		api    string // part of the first api command's error
	}{
		{"not an event socket", func(c net.Conn) { fmt.Fprint(c, "HTTP/1.1 400 Bad Request\r\n\r\n") }, "is this FreeSWITCH's event socket port?", ""},
		{"silent", func(c net.Conn) { time.Sleep(time.Second) }, "reading the greeting", ""},
		{"acl", func(c net.Conn) { c.Write(rudeRejection()) }, "refused this host", ""},
		{"closed after the greeting", func(c net.Conn) { c.Write(authRequest()) }, "reading the answer to auth", ""},
		{"no reply to api", func(c net.Conn) {
			accept(c)
			time.Sleep(time.Second)
		}, "", "expected an answer to \"api callcenter_config agent get status 1001@default\""},
		{"disconnect notice", func(c net.Conn) {
			accept(c)
			c.Write(disconnectNotice("The system is being shut down.\n"))
			time.Sleep(time.Second)
		}, "", "FreeSWITCH closed the event socket"},
		{"a reply to no command", func(c net.Conn) {
			accept(c)
			c.Write(apiResponse("+OK\n"))
			time.Sleep(time.Second)
		}, "", "answered no command"},
		{"a command/reply to an api command", func(c net.Conn) {
			accept(c)
			readAuth(c)
			c.Write(commandReply("-ERR command not found"))
			time.Sleep(time.Second)
		}, "", "expected Content-Type: api/response"},
		{"a body cut short", func(c net.Conn) {
			accept(c)
			readAuth(c)
			c.Write([]byte("Content-Type: api/response\nContent-Length: 8\n\nOn"))
		}, "", "expected a body of 8 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := serveOnce(t, tc.script)
			c, err := dial(ctx, addr, "ClueCon", 200*time.Millisecond)
			if tc.dial != "" {
				if err == nil || !strings.Contains(err.Error(), tc.dial) {
					t.Fatalf("dial: %v, want %q", err, tc.dial)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.close(errors.New("done"))
			if tc.name == "a reply to no command" {
				<-c.Done() // closed by the reader: no command was sent
				if !strings.Contains(c.Closed().Error(), tc.api) {
					t.Fatalf("closed: %v, want %q", c.Closed(), tc.api)
				}
				return
			}
			// Give a notice sent at once the time to arrive: either way
			// the command fails with the reason.
			_, err = c.api(ctx, "callcenter_config agent get status 1001@default", 200*time.Millisecond)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.api) {
				<-c.Done()
				if !strings.Contains(c.Closed().Error(), tc.api) {
					t.Fatalf("api: %v (closed: %v), want %q", err, c.Closed(), tc.api)
				}
			}
		})
	}
}

func TestWithoutMod_callcenter(t *testing.T) {
	f := NewFakeServer(t)
	f.Set(func(f *FakeServer) { f.noCallcenter = true })
	a := start(t, f, f.Password, nil)
	acdtest.ExpectOutcome(t, a.SetAvailability(context.Background(), []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Permanent, "-ERR callcenter_config Command not found!")
}

// A FreeSWITCH that is gone: degraded, and items retryable.
func TestDegradedWhileGone(t *testing.T) {
	f := NewFakeServer(t)
	a := start(t, f, f.Password, map[string]any{"timeout": "200ms"})
	f.Close() // gone for good
	waitFor(t, "degraded", func() bool { return a.Health(context.Background()).Status == sdk.Degraded })
	if h := a.Health(context.Background()); !strings.Contains(h.Message, "reconnecting to the FreeSWITCH event socket at "+f.Addr()) {
		t.Fatalf("%+v", h)
	}
	acdtest.ExpectOutcome(t, a.SetAvailability(context.Background(), []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Retryable, "not connected to the FreeSWITCH event socket")
}

// Items given while disconnected are applied by the reconcile after
// connecting.
func TestDesiredStateAppliedOnConnect(t *testing.T) {
	f := NewFakeServer(t)
	f.Set(func(f *FakeServer) { f.acl = true })
	a := start(t, f, f.Password, map[string]any{"timeout": "200ms"})
	waitFor(t, "down", func() bool { return a.Health(context.Background()).Status == sdk.Down })
	acdtest.ExpectOutcome(t, a.SetAvailability(context.Background(), []sdk.Availability{agent("a-1", a1001, false, 1)}), sdk.Retryable, "refused this host")
	f.Set(func(f *FakeServer) { f.acl = false })
	// Reconfigure to retry at once (the loop waits authBackoff).
	if err := a.Configure(context.Background(), sdk.Settings{JSON: []byte(`{"address":"` + f.Addr() + `","password":"ClueCon"}`)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "up", func() bool { return a.Health(context.Background()).Status == sdk.Up })
	expectStatus(t, f, a1001, StatusOnBreak)
}

func TestPasswordIsNeverLogged(t *testing.T) {
	var buf testutil.SyncBuffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Trace})
	// Not FreeSWITCH's default password, which its goodbye mentions.
	for _, password := range []string{"Tr0ub4dor", "wrong-Tr0ub4dor"} {
		f := NewFakeServer(t)
		f.Set(func(f *FakeServer) { f.Password = "Tr0ub4dor" })
		a := New(logger)
		a.authBackoff = time.Hour
		_ = a.Configure(context.Background(), sdk.Settings{JSON: []byte(`{"address":"` + f.Addr() + `","password":"` + password + `"}`)})
		waitFor(t, "an auth", func() bool { return f.Auths() == 1 && a.Health(context.Background()).Status != sdk.Degraded })
		a.SetAvailability(context.Background(), []sdk.Availability{agent("a-1", a1001, false, 1)})
		a.Close()
		f.Close()
	}
	if strings.Contains(buf.String(), "Tr0ub4dor") || !strings.Contains(buf.String(), "event socket refused us") {
		t.Fatalf("the log:\n%s", buf.String())
	}
}

// A caller that gives up waiting (its context ends) leaves the connection
// open, and the reply it abandoned is not taken by the next command.
func TestAbandonedReplyGoesToItsCommand(t *testing.T) {
	release := make(chan struct{})
	addr := serveOnce(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		c.Write(authRequest())
		if _, _, err := readCommand(r); err != nil {
			return
		}
		c.Write(commandReply("+OK accepted"))
		for _, reply := range []string{"On Break", "Available"} {
			if _, _, err := readCommand(r); err != nil {
				return
			}
			if reply == "On Break" {
				<-release // the first command's caller has given up
			}
			c.Write(apiResponse(reply))
		}
		readCommand(r)
	})
	c, err := dial(context.Background(), addr, "ClueCon", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close(errors.New("done"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.api(ctx, "callcenter_config agent get status 1001@default", 2*time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("first command: %v, want context.Canceled", err)
	}
	close(release)
	body, err := c.api(context.Background(), "callcenter_config agent get status 1002@default", 2*time.Second)
	if err != nil || string(body) != "Available" {
		t.Fatalf("second command: %q %v, want its own reply \"Available\"", body, err)
	}
	if err := c.Closed(); err != nil {
		t.Fatalf("the connection was closed: %v", err)
	}
}
