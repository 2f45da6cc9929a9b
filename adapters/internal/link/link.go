// Package link keeps an availability adapter's one connection to its
// server: the connection loop that Configure starts and Close ends, the
// health the adapter reports, the calls that wait for a connection, and
// the reconcile of every desired agent after each (re)connect. The
// asterisk and freeswitch adapters share it; it imports only plugins/sdk,
// adapters/internal/reconnect and the standard library.
package link

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/acdbridge/acdbridge/adapters/internal/reconnect"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Logger is what the link logs to (hclog.Logger is one).
type Logger interface {
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

// Target is the server of one configuration, as messages name it.
type Target struct {
	// Where is the server and its address: "AMI at pbx:5038".
	Where string
	// Absent is what a call that waited in vain was not: "logged in to".
	Absent string
	// Timeout is how long a call waits for a connection.
	Timeout time.Duration
}

// Link holds the connection of type *C made from settings of type S. The
// zero value is not usable: use New.
type Link[C, S any] struct {
	// Op is held by one availability operation at a time, the reconcile
	// after a (re)connect included.
	Op sync.Mutex

	refused func(error) bool

	mu      sync.Mutex
	cfg     *S
	target  Target
	stop    context.CancelFunc // ends the connection loop
	stopped chan struct{}      // closed when it has ended
	sess    *C                 // nil while not connected
	ready   chan struct{}      // closed while sess is set
	lastErr error
	health  sdk.Health
}

// New makes an unconfigured link; refused says whether a connection error
// is a refusal that needs a person (calls then do not wait).
func New[C, S any](refused func(error) bool) *Link[C, S] {
	return &Link[C, S]{
		refused: refused,
		ready:   make(chan struct{}),
		health:  sdk.Health{Status: sdk.Down, Message: "not configured"},
	}
}

// Start stops a running loop, takes cfg, and runs loop(ctx, cfg) until
// Close or the next Start.
func (l *Link[C, S]) Start(cfg S, t Target, loop func(ctx context.Context, cfg S)) {
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	l.mu.Lock()
	l.cfg, l.target, l.stop, l.stopped = &cfg, t, cancel, stopped
	l.health = sdk.Health{Status: sdk.Degraded, Message: "connecting to " + t.Where}
	l.mu.Unlock()
	go func() {
		defer close(stopped)
		loop(ctx, cfg)
	}()
}

// Close stops the loop and waits for it to end. It returns nil: its
// error is an adapter's Close's.
func (l *Link[C, S]) Close() error {
	l.mu.Lock()
	stop, stopped := l.stop, l.stopped
	l.stop = nil
	l.mu.Unlock()
	if stop != nil {
		stop()
		<-stopped
	}
	return nil
}

// Health is the adapter's health.
func (l *Link[C, S]) Health() sdk.Health {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.health
}

// Settings is the configuration taken by Start (nil before).
func (l *Link[C, S]) Settings() *S {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg
}

func (l *Link[C, S]) setHealth(s sdk.HealthStatus, msg string) {
	l.mu.Lock()
	l.health = sdk.Health{Status: s, Message: msg}
	l.mu.Unlock()
}

// Loop runs the connection loop: dial connects and logs in, serve runs
// one connection (with Serve). A failed dial makes the health degraded,
// or down after a refusal, which is logged as refusedLog.
func (l *Link[C, S]) Loop(ctx context.Context, log Logger, p reconnect.Policy, refusedLog string,
	dial func(context.Context) (*C, error), serve func(context.Context, *C) error) {
	where := l.Target().Where
	reconnect.Loop[*C]{
		Policy: p,
		Dial: func(ctx context.Context) (*C, error) {
			c, err := dial(ctx)
			if err != nil {
				l.mu.Lock()
				l.lastErr = err
				l.mu.Unlock()
			}
			return c, err
		},
		Refused: l.refused,
		Failed: func(err error, refused bool, retryIn time.Duration) {
			if refused {
				l.setHealth(sdk.Down, err.Error())
				log.Error(refusedLog, "error", err, "retry_in", retryIn)
				return
			}
			l.setHealth(sdk.Degraded, fmt.Sprintf("reconnecting to %s in %s: %v", where, retryIn, err))
			log.Warn("cannot connect", "error", err, "retry_in", retryIn)
		},
		Serve: serve,
		Lost: func(err error, retryIn time.Duration) {
			l.setHealth(sdk.Degraded, fmt.Sprintf("reconnecting to %s: %v", where, err))
			log.Warn("connection lost; reconnecting", "error", err, "retry_in", retryIn)
		},
	}.Run(ctx)
}

// Target is the server of the configuration taken by Start.
func (l *Link[C, S]) Target() Target {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.target
}

// Conn is what Serve does with one fresh connection.
type Conn struct {
	// Reconcile converges every agent the adapter was given (an empty
	// result when there are none). It runs holding Op.
	Reconcile func() []sdk.Result
	// Closed is why the connection ended during the reconcile, nil while
	// it is open (nil: not asked).
	Closed func() error
	// Up is the health message while connected.
	Up string
	// Wait returns why the connection ended, once it or ctx has.
	Wait func() error
	// Bye says goodbye to the server when ctx ended first.
	Bye func()
}

// Serve reconciles on a fresh connection (a restarted server forgets what
// the adapter set), offers c to the calls, and waits for it to end; when
// ctx ends first it says goodbye.
func (l *Link[C, S]) Serve(ctx context.Context, log Logger, c *C, s Conn) error {
	l.Op.Lock()
	for _, r := range s.Reconcile() {
		if r.Outcome == sdk.Retryable || r.Outcome == sdk.Permanent {
			log.Warn("reconcile after connecting", "agent", r.AgentID, "outcome", r.Outcome, "message", r.Message)
		}
	}
	if s.Closed != nil {
		if err := s.Closed(); err != nil {
			l.mu.Lock()
			l.lastErr = err
			l.mu.Unlock()
			l.Op.Unlock()
			return err
		}
	}
	l.mu.Lock()
	l.sess, l.lastErr = c, nil
	close(l.ready)
	l.health = sdk.Health{Status: sdk.Up, Message: s.Up}
	l.mu.Unlock()
	l.Op.Unlock()

	err := s.Wait()
	l.mu.Lock()
	l.sess, l.lastErr = nil, err
	l.ready = make(chan struct{})
	l.mu.Unlock()
	if ctx.Err() != nil {
		s.Bye()
		return ctx.Err()
	}
	return err
}

// Session waits up to the timeout for a connection. It does not wait
// after a refusal: that needs a person. Before Start it returns the zero
// settings and an error.
func (l *Link[C, S]) Session(ctx context.Context) (*C, S, error) {
	l.mu.Lock()
	cfg, t, ready, sess, lastErr := l.cfg, l.target, l.ready, l.sess, l.lastErr
	l.mu.Unlock()
	if cfg == nil {
		var zero S
		return nil, zero, errors.New("not configured")
	}
	if sess != nil {
		return sess, *cfg, nil
	}
	if lastErr != nil && l.refused(lastErr) {
		return nil, *cfg, lastErr
	}
	timer := time.NewTimer(t.Timeout)
	defer timer.Stop()
	select {
	case <-ready:
	case <-timer.C:
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sess == nil {
		why := "no connection yet"
		if l.lastErr != nil {
			why = l.lastErr.Error()
		}
		return nil, *cfg, fmt.Errorf("not %s %s after waiting %s: %s", t.Absent, t.Where, t.Timeout, why)
	}
	return l.sess, *cfg, nil
}

// Unreachable answers items when there is no connection (err says why):
// each is worth retrying, unless the adapter is configured and skip says
// why it is skipped anyway.
func Unreachable(items []sdk.Availability, err error, configured bool, skip func(sdk.Availability) *sdk.Result) []sdk.Result {
	out := make([]sdk.Result, len(items))
	for i, it := range items {
		out[i] = sdk.Result{AgentID: it.AgentID, Version: it.Version, Outcome: sdk.Retryable, Message: err.Error()}
		if configured {
			if r := skip(it); r != nil {
				out[i] = *r
			}
		}
	}
	return out
}

// Ending is a connection's end: why it ended, set once, and a channel
// closed then. Its Mu guards the embedding connection's calls too, so that
// ending the connection and failing its calls is one step. The zero value
// is an open connection's.
type Ending struct {
	Mu   sync.Mutex
	err  error
	done chan struct{}
}

// Done is closed once the connection has ended.
func (e *Ending) Done() <-chan struct{} {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	return e.doneLocked()
}

func (e *Ending) doneLocked() chan struct{} {
	if e.done == nil {
		e.done = make(chan struct{})
	}
	return e.done
}

// EndLocked records err (not nil) as why the connection ended and closes
// Done, unless it has ended already: then it reports false. The caller
// holds Mu; on true it closes the connection and fails its calls before
// letting go of Mu.
func (e *Ending) EndLocked(err error) bool {
	if e.err != nil {
		return false
	}
	e.err = err
	close(e.doneLocked())
	return true
}

// Closed is why the connection ended; nil while it is open.
func (e *Ending) Closed() error {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	return e.err
}

// ClosedLocked is Closed for a caller that holds Mu.
func (e *Ending) ClosedLocked() error { return e.err }
