package sessions

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// ScheduleName is the checkpoint of scheduled syncs: the end of the last
// range a scheduled run archived whole.
const ScheduleName = "schedule"

// ParseSchedule checks a cron expression (five fields, or a descriptor
// such as @daily), as the config's archive.schedule takes it.
func ParseSchedule(spec string) (cron.Schedule, error) {
	sch, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("expected a cron expression like \"0 2 * * *\" (minute hour day month weekday) or @daily, got %q: %v", spec, err)
	}
	return sch, nil
}

// RunSchedule runs a range sync at each time spec names, from where the
// last scheduled run ended (the first: a day back; never past the
// source's retention) to now. A run still going when the next is due
// makes that one skip. It returns when ctx ends.
func (s *Syncer) RunSchedule(ctx context.Context, spec string) error {
	if _, err := ParseSchedule(spec); err != nil {
		return err
	}
	s.replayOutbox(ctx)
	c := cron.New(cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	if _, err := c.AddFunc(spec, func() { s.scheduled(ctx, time.Now()) }); err != nil {
		return err
	}
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
	return nil
}

// scheduled is one scheduled run.
func (s *Syncer) scheduled(ctx context.Context, now time.Time) {
	st := s.opts.Store
	cp, _, err := st.Checkpoint(ctx, ScheduleName)
	if err != nil {
		s.log.Error("scheduled sync: read its checkpoint", "error", err)
		return
	}
	since := cp.At
	if since.IsZero() {
		since = now.Add(-24 * time.Hour)
	}
	if oldest := now.Add(-Retention + time.Hour); since.Before(oldest) {
		since = oldest
	}
	if !since.Before(now) {
		return // nothing new since the last run
	}
	s.log.Info("scheduled sync", "since", since, "until", now)
	p, err := s.SyncRange(ctx, since, now)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("scheduled sync did not finish; the next run starts where it did", "done", p.Done, "total", p.Total, "error", err)
		}
		return
	}
	s.log.Info("scheduled sync done", "sessions", p.Total, "archived", p.Done-p.Skipped, "already", p.Skipped, "took", time.Since(p.Start).Round(time.Millisecond))
	cp.Name, cp.At = ScheduleName, now
	if err := st.SaveCheckpoint(ctx, cp); err != nil {
		s.log.Error("scheduled sync: save its checkpoint", "error", err)
	}
}
