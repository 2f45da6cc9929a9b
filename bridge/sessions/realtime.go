package sessions

import (
	"context"
	"errors"
	"time"

	"github.com/acdbridge/acdbridge/bridge/source"
	"github.com/acdbridge/acdbridge/monitors"
)

// RealtimeName is the checkpoint of real-time archiving: every session
// that ended before its time is archived.
const RealtimeName = "realtime"

// SessionEnded tells the syncer that a session ended (the runtime calls it
// on each session_ended update). It never blocks: when the queue is full,
// the next poll finds the session.
func (s *Syncer) SessionEnded(sum monitors.SessionSummary) {
	select {
	case s.ended <- sum:
	default:
	}
}

// maxRetryPerPoll bounds the failed recordings retried at each poll.
const maxRetryPerPoll = 50

// RunRealtime archives each session SessionEnded announces, and polls the
// sessions list every PollInterval since its checkpoint, as a safety net
// for what an update missed (a stream that was down, a record that failed
// every try). Each poll also retries recordings that failed. It first
// passes to OnArchived the sessions of the archive's outbox. It returns
// when ctx ends.
func (s *Syncer) RunRealtime(ctx context.Context) error {
	s.sweep()
	s.replayOutbox(ctx)
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	s.poll(ctx, true)
	for {
		select {
		case <-ctx.Done():
			return nil
		case sum := <-s.ended:
			list := []monitors.SessionSummary{sum}
		more:
			for len(list) < batchSize {
				select {
				case x := <-s.ended:
					list = append(list, x)
				default:
					break more
				}
			}
			// Announced twice (a stream resumed), or found by a poll first.
			list, err := s.missing(ctx, list)
			if err != nil {
				s.log.Error("check the archive; the poll retries", "error", err)
				continue
			}
			if _, fails, err := s.archiveAll(ctx, list, true); err != nil && ctx.Err() == nil {
				s.log.Error("archive write failed; the poll retries", "error", err)
			} else if len(fails) > 0 {
				s.log.Warn("sessions not archived whole; the poll retries them", "failed", len(fails))
			}
		case <-t.C:
			s.poll(ctx, false)
		}
	}
}

// poll archives what the list holds since the checkpoint and the archive
// lacks (first: the poll at start), then moves the checkpoint to the newest end before which
// everything is archived.
func (s *Syncer) poll(ctx context.Context, first bool) {
	st := s.opts.Store
	cp, _, err := st.Checkpoint(ctx, RealtimeName)
	if err != nil {
		s.log.Error("read the real-time checkpoint", "error", err)
		return
	}
	cp.Name = RealtimeName
	since := cp.At
	if !since.IsZero() && time.Since(since) > Retention-time.Hour {
		// Older than the source keeps: its default range (the last day).
		// What ended between is left to a range sync: say so.
		s.log.Warn("the real-time checkpoint is older than the source's retention; polling its last day only: archive what ended in between with acdbridge sessions sync --since 90d",
			"checkpoint", since.UTC().Format(time.RFC3339))
		since = time.Time{}
	}
	// The first poll ever (no checkpoint yet, at start) archives what the
	// source already lists without handing it on: switching the bridge on
	// must not comment a day of old sessions into tickets. What ends from
	// now on is handed on.
	passOn := !(first && cp.At.IsZero())
	mark := cp.At
	cursor := ""
	frozen := false // a page had failures: the checkpoint stays before it
	for {
		page, err := s.opts.Source.ListSessions(ctx, source.SessionQuery{Since: since, After: cursor, Limit: s.opts.PageSize})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("poll of the sessions list failed; trying again at the next one", "error", err)
			}
			return
		}
		todo, err := s.missing(ctx, page.Sessions)
		if err != nil {
			s.log.Error("check the archive", "error", err)
			return
		}
		_, fails, err := s.archiveAll(ctx, todo, passOn)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("archive write failed; trying again at the next poll", "error", err)
			}
			return
		}
		// A session that failed keeps the checkpoint before it; the pages
		// after it are archived all the same, or one record the source
		// always refuses would hold back every session behind it.
		if len(fails) > 0 {
			frozen = true
		}
		if n := len(page.Sessions); n > 0 && !frozen {
			mark = page.Sessions[n-1].EndedAt
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if mark.After(cp.At) {
		cp.At = mark
		s.m.checkpoint.Set(float64(mark.UnixNano()) / 1e9)
		if err := st.SaveCheckpoint(ctx, cp); err != nil {
			s.log.Error("save the real-time checkpoint", "error", err)
		}
	}
	s.retryRecordings(ctx)
}

// retryRecordings downloads again recordings archived as failed or pending.
func (s *Syncer) retryRecordings(ctx context.Context) {
	pend, err := s.opts.Store.PendingRecordings(ctx, maxRetryPerPoll)
	if err != nil {
		s.log.Error("list recordings to retry", "error", err)
		return
	}
	for _, p := range pend {
		x, err := s.opts.Store.Get(ctx, p.SessionID)
		if err != nil {
			s.log.Error("read a session to retry its recording", "session", p.SessionID, "error", err)
			continue
		}
		err = s.recording(ctx, &x)
		if serr := s.opts.Store.SetRecording(ctx, x.ID, x.Recording); serr != nil {
			s.log.Error("record a recording's state", "session", x.ID, "error", serr)
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("recording still not stored; retried at the next poll", "session", x.ID, "attempts", x.Recording.Attempts, "error", err)
			continue
		}
		s.log.Info("recording stored after a retry", "session", x.ID)
	}
}

func asStatus(err error, se **source.StatusError) bool { return errors.As(err, se) }
