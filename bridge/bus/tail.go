package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// DefaultTailSubject is everything the bridge publishes.
const DefaultTailSubject = SubjectPrefix + ".>"

// Tail connects to url with opts and calls fn with every message on subject
// (default "acdbridge.>") from now on, as any third party sees them: one
// core NATS subscription, so KV deletions arrive as empty payloads and a
// request or session published twice arrives twice. fn runs on one
// goroutine, in order. Tail returns nil when ctx ends, and an error when it
// cannot connect or subscribe, or when the connection is lost for good.
// For an embedded server without a listener, pass url "" and
// nats.InProcessServer in opts.
func Tail(ctx context.Context, url string, opts []nats.Option, subject string, fn func(subject string, data []byte)) error {
	if fn == nil {
		return errors.New("tail: fn is nil: expected a function to call with each message")
	}
	if subject == "" {
		subject = DefaultTailSubject
	}
	closed := make(chan struct{})
	asyncErr := make(chan error, 1)
	mine := []nats.Option{
		nats.Name("acdbridge events tail"),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				return // fn is slow: the server drops for us and we go on
			}
			select {
			case asyncErr <- err:
			default:
			}
		}),
	}
	// The caller's options come last so that they win.
	nc, err := connect(ctx, url, append(mine, opts...))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("tail: connect to %s: %w; is the server running? set bus.url", redactURLs(url), err)
	}
	defer nc.Close()

	msgs := make(chan *nats.Msg, 4096)
	sub, err := nc.ChanSubscribe(subject, msgs)
	if err != nil {
		return fmt.Errorf("tail: subscribe to %q: %w", subject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	// A round trip makes sure the server has the subscription and reports
	// a permissions violation before the first message could.
	// FlushWithContext needs a deadline; a command's context has none.
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := nc.FlushWithContext(fctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("tail: subscribe to %q: %w", subject, err)
	}
	for {
		select {
		case m := <-msgs:
			fn(m.Subject, m.Data)
		case err := <-asyncErr:
			return fmt.Errorf("tail %q on %s: %w", subject, nc.ConnectedUrlRedacted(), err)
		case <-closed:
			if err := nc.LastError(); err != nil {
				return fmt.Errorf("tail %q: connection to %s closed: %w", subject, redactURLs(url), err)
			}
			return fmt.Errorf("tail %q: connection to %s closed", subject, redactURLs(url))
		case <-ctx.Done():
			return nil
		}
	}
}
