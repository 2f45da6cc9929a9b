package link

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/adapters/internal/reconnect"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

type conn struct{ done chan struct{} }

type settings struct{ name string }

var errRefused = errors.New("wrong password")

// logger sends each line it is given, as "level msg".
type logger chan string

func (l logger) Info(msg string, _ ...any)  { l <- "info " + msg }
func (l logger) Warn(msg string, _ ...any)  { l <- "warn " + msg }
func (l logger) Error(msg string, _ ...any) { l <- "error " + msg }

func newLink() *Link[conn, settings] {
	return New[conn, settings](func(err error) bool { return errors.Is(err, errRefused) })
}

var long = reconnect.Policy{Min: time.Hour, Max: time.Hour, RefusedMin: time.Hour, RefusedMax: time.Hour}

func TestNotConfigured(t *testing.T) {
	l := newLink()
	if h := l.Health(); h.Status != sdk.Down || h.Message != "not configured" {
		t.Fatalf("health %+v", h)
	}
	if l.Settings() != nil {
		t.Fatal("settings before Start")
	}
	if c, cfg, err := l.Session(context.Background()); c != nil || cfg != (settings{}) || err == nil || err.Error() != "not configured" {
		t.Fatalf("session %v %v %v", c, cfg, err)
	}
	l.Close() // nothing to stop
}

func TestRefusedDoesNotWait(t *testing.T) {
	l := newLink()
	log := make(logger, 10)
	// An hour's timeout: a Session that waited would never end.
	l.Start(settings{"s"}, Target{Where: "the server at h:1", Absent: "logged in to", Timeout: time.Hour}, func(ctx context.Context, cfg settings) {
		l.Loop(ctx, log, long, "refused; retrying later",
			func(context.Context) (*conn, error) { return nil, fmt.Errorf("login: %w", errRefused) },
			func(context.Context, *conn) error { t.Error("served a failed dial"); return nil })
	})
	defer l.Close()
	if got := <-log; got != "error refused; retrying later" {
		t.Fatalf("logged %q", got)
	}
	if h := l.Health(); h.Status != sdk.Down || h.Message != "login: wrong password" {
		t.Fatalf("health %+v", h)
	}
	if c, cfg, err := l.Session(context.Background()); c != nil || cfg.name != "s" || !errors.Is(err, errRefused) {
		t.Fatalf("session %v %v %v", c, cfg, err)
	}
}

func TestFailedAndWaitedInVain(t *testing.T) {
	l := newLink()
	log := make(logger, 10)
	l.Start(settings{"s"}, Target{Where: "the server at h:1", Absent: "connected to", Timeout: time.Nanosecond}, func(ctx context.Context, cfg settings) {
		l.Loop(ctx, log, long, "refused",
			func(context.Context) (*conn, error) { return nil, errors.New("connection refused") },
			func(context.Context, *conn) error { return nil })
	})
	defer l.Close()
	if h := l.Health(); h.Status != sdk.Degraded || h.Message != "connecting to the server at h:1" {
		t.Fatalf("health after Start %+v", h)
	}
	if got := <-log; got != "warn cannot connect" {
		t.Fatalf("logged %q", got)
	}
	if h := l.Health(); h.Status != sdk.Degraded || h.Message != "reconnecting to the server at h:1 in 1h0m0s: connection refused" {
		t.Fatalf("health %+v", h)
	}
	_, _, err := l.Session(context.Background())
	if want := "not connected to the server at h:1 after waiting 1ns: connection refused"; err == nil || err.Error() != want {
		t.Fatalf("session error %v, want %q", err, want)
	}
}

func TestServe(t *testing.T) {
	l := newLink()
	log := make(logger, 10)
	c := &conn{done: make(chan struct{})}
	reconciled, said := make(chan struct{}), make(chan string, 2)
	l.Start(settings{"s"}, Target{Where: "the server at h:1", Absent: "connected to", Timeout: time.Hour}, func(ctx context.Context, cfg settings) {
		l.Loop(ctx, log, long, "refused",
			func(context.Context) (*conn, error) { return c, nil },
			func(ctx context.Context, c *conn) error {
				return l.Serve(ctx, log, c, Conn{
					Reconcile: func() []sdk.Result {
						close(reconciled)
						return []sdk.Result{{AgentID: "a", Outcome: sdk.Applied}, {AgentID: "b", Outcome: sdk.Retryable}, {AgentID: "c", Outcome: sdk.Ignored}}
					},
					Up: "up at h:1",
					Wait: func() error {
						select {
						case <-ctx.Done():
							return nil
						case <-c.done:
							return errors.New("connection lost")
						}
					},
					Bye: func() { said <- "bye" },
				})
			})
	})
	<-reconciled
	// Session waits for the reconcile to end and the connection to be offered.
	got, cfg, err := l.Session(context.Background())
	if got != c || cfg.name != "s" || err != nil {
		t.Fatalf("session %v %v %v", got, cfg, err)
	}
	if h := l.Health(); h.Status != sdk.Up || h.Message != "up at h:1" {
		t.Fatalf("health %+v", h)
	}
	if got := <-log; got != "warn reconcile after connecting" { // for b only
		t.Fatalf("logged %q", got)
	}
	l.Close()
	if got := <-said; got != "bye" {
		t.Fatalf("said %q", got)
	}
	select {
	case got := <-log:
		t.Fatalf("logged %q after closing", got)
	default:
	}
}

func TestServeLost(t *testing.T) {
	l := newLink()
	log := make(logger, 10)
	dials := make(chan *conn, 1)
	lost := &conn{done: make(chan struct{})}
	close(lost.done)
	dials <- lost
	l.Start(settings{"s"}, Target{Where: "the server at h:1", Absent: "connected to", Timeout: time.Nanosecond}, func(ctx context.Context, cfg settings) {
		l.Loop(ctx, log, long, "refused",
			func(ctx context.Context) (*conn, error) { return <-dials, nil },
			func(ctx context.Context, c *conn) error {
				return l.Serve(ctx, log, c, Conn{
					Reconcile: func() []sdk.Result { return nil },
					// Closed during the reconcile: never offered.
					Closed: func() error { return errors.New("closed while reconciling") },
					Up:     "up",
					Wait:   func() error { t.Error("waited on a closed connection"); return nil },
					Bye:    func() { t.Error("goodbye on a closed connection") },
				})
			})
	})
	defer l.Close()
	if got := <-log; got != "warn connection lost; reconnecting" {
		t.Fatalf("logged %q", got)
	}
	if h := l.Health(); h.Status != sdk.Degraded || h.Message != "reconnecting to the server at h:1: closed while reconciling" {
		t.Fatalf("health %+v", h)
	}
	if _, _, err := l.Session(context.Background()); err == nil || !strings.HasSuffix(err.Error(), ": closed while reconciling") {
		t.Fatalf("session error %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	items := []sdk.Availability{{AgentID: "a", Version: 1}, {AgentID: "b", Version: 2}}
	down := errors.New("no connection")
	skipB := func(it sdk.Availability) *sdk.Result {
		if it.AgentID != "b" {
			return nil
		}
		return &sdk.Result{AgentID: "b", Version: 2, Outcome: sdk.Ignored, Message: "stale"}
	}
	cases := []struct {
		name       string
		configured bool
		want       []sdk.Result
	}{
		{"not configured", false, []sdk.Result{
			{AgentID: "a", Version: 1, Outcome: sdk.Retryable, Message: "no connection"},
			{AgentID: "b", Version: 2, Outcome: sdk.Retryable, Message: "no connection"},
		}},
		{"skipped", true, []sdk.Result{
			{AgentID: "a", Version: 1, Outcome: sdk.Retryable, Message: "no connection"},
			{AgentID: "b", Version: 2, Outcome: sdk.Ignored, Message: "stale"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Unreachable(items, down, tc.configured, skipB)
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v", got)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("%d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// A connection ends once: the first reason stays, Done is closed then and
// not before.
func TestEnding(t *testing.T) {
	var e Ending
	select {
	case <-e.Done():
		t.Fatal("done while open")
	default:
	}
	if e.Closed() != nil {
		t.Fatal("closed while open")
	}
	first := errors.New("lost")
	e.Mu.Lock()
	ended, again := e.EndLocked(first), e.EndLocked(errors.New("later"))
	e.Mu.Unlock()
	if !ended || again {
		t.Fatalf("ended %v, again %v", ended, again)
	}
	<-e.Done()
	if e.Closed() != first || e.ClosedLocked() != first {
		t.Fatalf("closed %v", e.Closed())
	}
}
