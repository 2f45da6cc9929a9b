package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/acdbridge/acdbridge/monitors"
)

// Event is one message of the EVENTS stream, decoded.
type Event struct {
	Subject   string
	Kind      string // KindRequest, KindSession or KindAlert
	Data      []byte
	Request   monitors.Request        // Kind request
	Session   monitors.SessionSummary // Kind session
	Alert     monitors.Alert          // Kind alert
	Delivered uint64                  // 1 on the first delivery
}

// ErrPermanent, wrapped in a handler's error, ends a message's deliveries:
// it is terminated (a dead letter) instead of delivered again.
var ErrPermanent = errors.New("permanent failure")

// ConsumeEvents calls ready (if not nil) once its durable consumer exists,
// then delivers the EVENTS stream's messages of the given kinds to
// fn through the durable consumer named durable, one at a time, in order,
// at least once: a message is acknowledged only after fn returns nil; after
// an error it comes again, with a growing delay; after an error wrapping
// ErrPermanent it is terminated. A new consumer starts with the messages
// published from now on; an existing one goes on where it stopped, so what
// arrived while the bridge or the adapter was down is delivered then. It
// returns nil when ctx ends.
func (b *Bus) ConsumeEvents(ctx context.Context, durable string, kinds []string, ready func(), fn func(context.Context, Event) error) error {
	if len(kinds) == 0 {
		return errors.New("consume events: expected at least one kind")
	}
	subjects := make([]string, len(kinds))
	for i, k := range kinds {
		subjects[i] = SubjectPrefix + "." + k + ".>"
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, StreamEvents, jetstream.ConsumerConfig{
		Durable:        durable,
		Description:    "acdbridge: events for " + durable,
		FilterSubjects: subjects,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        5 * time.Minute, // longer than any adapter call (dispatch allows 3 minutes)
		MaxDeliver:     -1,
		MaxAckPending:  1, // one at a time keeps the order
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("consume events: create the durable consumer %q on %s: %w", durable, StreamEvents, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consume events %q: %w", durable, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	if ready != nil {
		ready() // the durable consumer exists: what is published from now on is kept for it
	}
	log := b.logger.Named("events").With("consumer", durable)
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("consume events %q: %w", durable, err)
		}
		ev := Event{Subject: msg.Subject(), Data: msg.Data()}
		if md, err := msg.Metadata(); err == nil {
			ev.Delivered = md.NumDelivered
		}
		if err := decodeEvent(&ev); err != nil {
			log.Error("a message that cannot be read is dropped", "subject", ev.Subject, "error", err)
			_ = msg.Term()
			continue
		}
		switch err := fn(ctx, ev); {
		case err == nil:
			_ = msg.Ack()
		case errors.Is(err, ErrPermanent):
			log.Error("dead letter: the event will not be delivered again", "subject", ev.Subject, "error", err)
			_ = msg.Term()
		default:
			delay := min(time.Second/2<<min(ev.Delivered, 8), 2*time.Minute)
			log.Warn("event not delivered; trying again", "subject", ev.Subject, "in", delay, "error", err)
			_ = msg.NakWithDelay(delay)
		}
	}
}

// decodeEvent fills in the event's kind and payload from its subject and data.
func decodeEvent(ev *Event) error {
	var err error
	switch {
	case hasKind(ev.Subject, KindRequest):
		ev.Kind = KindRequest
		ev.Request, err = DecodeRequest(ev.Data)
	case hasKind(ev.Subject, KindSession):
		ev.Kind = KindSession
		ev.Session, err = DecodeSession(ev.Data)
	case hasKind(ev.Subject, KindAlert):
		ev.Kind = KindAlert
		ev.Alert, err = DecodeAlert(ev.Data)
	default:
		err = fmt.Errorf("subject %q is none of %s.{request,session,alert}.*", ev.Subject, SubjectPrefix)
	}
	return err
}

func hasKind(subject, kind string) bool {
	p := SubjectPrefix + "." + kind + "."
	return len(subject) > len(p) && subject[:len(p)] == p
}
