package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/acdbridge/acdbridge/bridge/availability"
)

// WatchAvailability calls ready (if not nil) once it is subscribed, then fn with the availability bucket's values as they
// change (with all, the current ones first), until ctx ends (nil) or the
// watch fails. The bucket keeps one value per agent, so a version replaced
// before the watch read it is skipped: per agent, what fn sees only grows
// and ends with the newest, which is all an adapter needs. A value that
// cannot be read is logged and skipped: the agent's next change carries its
// whole state again.
func (b *Bus) WatchAvailability(ctx context.Context, all bool, ready func(), fn func(availability.Desired)) error {
	opts := []jetstream.WatchOpt{jetstream.IgnoreDeletes()}
	if !all {
		opts = append(opts, jetstream.UpdatesOnly())
	}
	w, err := b.availability.WatchAll(ctx, opts...)
	if err != nil {
		return fmt.Errorf("watch KV bucket %q: %w", BucketAvailability, err)
	}
	if ready != nil {
		ready() // the watch is subscribed: nothing stored from now on is missed
	}
	defer func() {
		_ = w.Stop()
		go func() {
			for range w.Updates() {
			}
		}()
	}()
	log := b.logger.Named("watch")
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("watch KV bucket %q: the watch ended", BucketAvailability)
			}
			if e == nil { // the current values are all delivered
				continue
			}
			d, err := DecodeAvailability(e.Value())
			if err != nil {
				log.Error("an availability that cannot be read is skipped", "key", e.Key(), "error", err)
				continue
			}
			fn(d)
		}
	}
}
