// Package reconnect runs an adapter's connection loop: connect, serve the
// connection until it ends, and connect again with backoff. A refusal that
// needs a person (a wrong password, a host not allowed) is waited out
// longer, so that the adapter neither hammers the server nor trips its
// bans. The asterisk and freeswitch adapters share it; it imports only the
// standard library.
package reconnect

import (
	"context"
	"time"
)

// Policy is how long the loop waits before trying again.
type Policy struct {
	// Min is the first wait after a failed connection, doubling up to
	// Max. After a connection that ended, the wait is Min again if the
	// connection lasted at least Max; a shorter one (a server that
	// accepts, then drops at once) keeps the wait doubling, so that the
	// server is not reconnected to, and reconciled, twice a second.
	Min, Max time.Duration
	// RefusedMin is the first wait after a refusal, doubling up to
	// RefusedMax.
	RefusedMin, RefusedMax time.Duration
}

// Loop is one adapter's connection loop over connections of type C.
type Loop[C any] struct {
	Policy
	// Dial connects and logs in.
	Dial func(ctx context.Context) (C, error)
	// Refused says whether a Dial error is a refusal that needs a person.
	Refused func(err error) bool
	// Failed is told of each failed Dial, whether it was a refusal, and
	// the wait before the next attempt.
	Failed func(err error, refused bool, retryIn time.Duration)
	// Serve runs while connected; it returns why the connection ended, or
	// when ctx ends (the loop is stopping: it says goodbye and returns).
	Serve func(ctx context.Context, c C) error
	// Lost is told of each connection that ended while the loop runs,
	// with the wait before the next attempt.
	Lost func(err error, retryIn time.Duration)
	// Now is the clock that times connections (nil: time.Now).
	Now func() time.Time
}

// Run runs the loop until ctx ends. The wait after refusals is reset once
// a Dial succeeds; the wait after failures, once a connection lasted Max.
func (l Loop[C]) Run(ctx context.Context) {
	now := l.Now
	if now == nil {
		now = time.Now
	}
	backoff, refusedWait := l.Min, l.RefusedMin
	for ctx.Err() == nil {
		c, err := l.Dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			refused := l.Refused != nil && l.Refused(err)
			wait := backoff
			if refused {
				wait, refusedWait = refusedWait, min(2*refusedWait, l.RefusedMax)
			} else {
				backoff = min(2*backoff, l.Max)
			}
			l.Failed(err, refused, wait)
			if !Sleep(ctx, wait) {
				return
			}
			continue
		}
		refusedWait = l.RefusedMin
		started := now()
		err = l.Serve(ctx, c)
		if ctx.Err() != nil {
			return
		}
		if now().Sub(started) >= l.Max {
			backoff = l.Min
		}
		wait := backoff
		backoff = min(2*backoff, l.Max)
		l.Lost(err, wait)
		if !Sleep(ctx, wait) {
			return
		}
	}
}

// Sleep waits d, or until ctx ends; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
