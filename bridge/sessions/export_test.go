package sessions

import (
	"context"
	"time"
)

// Scheduled runs one scheduled sync as if the schedule fired at now.
func (s *Syncer) Scheduled(ctx context.Context, now time.Time) { s.scheduled(ctx, now) }

// Poll runs one real-time poll (not the first at start).
func (s *Syncer) Poll(ctx context.Context) { s.poll(ctx, false) }

// FirstPoll runs the poll RunRealtime runs at start.
func (s *Syncer) FirstPoll(ctx context.Context) { s.poll(ctx, true) }

// ReplayOutbox passes the outbox's sessions to OnArchived, as the first
// RunRealtime or RunSchedule does.
func (s *Syncer) ReplayOutbox(ctx context.Context) { s.replayOutbox(ctx) }
