package sessions

import (
	"context"
	"time"
)

// Scheduled runs one scheduled sync as if the schedule fired at now.
func (s *Syncer) Scheduled(ctx context.Context, now time.Time) { s.scheduled(ctx, now) }

// Poll runs one real-time poll.
func (s *Syncer) Poll(ctx context.Context) { s.poll(ctx) }
