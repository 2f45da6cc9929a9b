package sessions

import (
	"context"
	"fmt"
	"time"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/source"
)

// Retention is how far back the source keeps sessions (Remote Support API
// v1: 90 days).
const Retention = 90 * 24 * time.Hour

// RangeName is the checkpoint name of a range sync.
func RangeName(since, until time.Time) string {
	return "range " + since.UTC().Format(time.RFC3339Nano) + " " + until.UTC().Format(time.RFC3339Nano)
}

// SyncRange archives every session that ended in [since, until). It
// resumes from the range's checkpoint when an earlier run of the same
// range was interrupted, skips sessions already archived whole, and moves
// the checkpoint after each page archived whole. Sessions that failed
// every try make it return a *FailedError after the whole range was tried;
// the checkpoint then stays before the first failure, so the next run
// tries them again.
func (s *Syncer) SyncRange(ctx context.Context, since, until time.Time) (Progress, error) {
	p := Progress{Start: time.Now()}
	if !since.Before(until) {
		return p, fmt.Errorf("sessions: expected --since (%s) before --until (%s)", since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	s.sweep()
	st := s.opts.Store
	name := RangeName(since, until)
	cp, ok, err := st.Checkpoint(ctx, name)
	if err != nil {
		return p, err
	}
	if !ok || (cp.Cursor == "" && !cp.At.IsZero()) {
		// New, or finished before: from the start (what is archived is skipped).
		cp = archive.Checkpoint{Name: name, Since: since, Until: until}
	}
	if cp.Cursor != "" {
		p.Done, p.Resumed = cp.Done, cp.Done
		s.log.Info("resuming a range sync from its checkpoint", "since", since, "until", until, "done", cp.Done)
	}
	// Count what is left, for the progress bar's total and ETA.
	left, err := s.count(ctx, since, until, cp.Cursor)
	if err != nil {
		return p, err
	}
	p.Total = p.Done + left
	cp.Total = p.Total
	s.report(p)

	var failed []error
	frozen := false // a page had failures: the checkpoint stays before it
	cursor := cp.Cursor
	listSince := since // moves with the source's retention edge (below)
	var lastEnded time.Time
	movedAt := "\x00" // the cursor at which listSince last moved
	for {
		page, err := s.list(ctx, source.SessionQuery{Since: listSince, Until: until, After: cursor, Limit: s.opts.PageSize})
		if err != nil && isOutOfRange(err) && cursor != "" && cursor != movedAt {
			// A long sync near the retention edge: the range's start has
			// passed out of what the source keeps since the sync began.
			// The cursor holds the place; list from the new edge on.
			edge := s.opts.Now().Add(-Retention + time.Minute)
			if edge.After(listSince) && edge.Before(until) {
				if lastEnded.Before(edge) {
					s.log.Warn("the source dropped sessions of this range before they could be archived (they passed out of its retention during the sync)",
						"between", lastEnded.UTC().Format(time.RFC3339), "and", edge.UTC().Format(time.RFC3339))
				} else {
					s.log.Info("the range's start passed out of the source's retention during the sync; listing on from its new edge (nothing lost: the sync is past it)", "since", edge.UTC().Format(time.RFC3339))
				}
				listSince, movedAt = edge, cursor
				continue
			}
		}
		if err != nil {
			return p, err
		}
		if n := len(page.Sessions); n > 0 {
			lastEnded = page.Sessions[n-1].EndedAt
		}
		todo, err := s.missing(ctx, page.Sessions)
		if err != nil {
			return p, err
		}
		skipped := int64(len(page.Sessions) - len(todo))
		p.Done += skipped
		p.Skipped += skipped
		done, fails, err := s.archiveAll(ctx, todo, true)
		p.Done += int64(done)
		p.Failed += int64(len(fails))
		failed = append(failed, fails...)
		if err != nil {
			return p, err
		}
		if len(fails) > 0 {
			frozen = true
		}
		if !frozen {
			cp.Cursor, cp.Done = page.Next, p.Done
			if page.Next == "" {
				cp.At = until
			}
			if err := st.SaveCheckpoint(ctx, cp); err != nil {
				return p, err
			}
		}
		s.report(p)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(failed) > 0 {
		return p, &FailedError{Failed: len(failed), First: failed[0]}
	}
	return p, nil
}

func (s *Syncer) report(p Progress) {
	if s.opts.Progress != nil {
		s.opts.Progress(p)
	}
}

// list reads a page, retrying what may pass.
func (s *Syncer) list(ctx context.Context, q source.SessionQuery) (source.SessionsPage, error) {
	var err error
	for n := 1; ; n++ {
		var page source.SessionsPage
		if page, err = s.opts.Source.ListSessions(ctx, q); err == nil {
			return page, nil
		}
		if ctx.Err() != nil || source.Permanent(err) || n >= s.opts.Attempts || isOutOfRange(err) {
			return source.SessionsPage{}, fmt.Errorf("sessions: list the range: %w", err)
		}
		if !s.wait(ctx, err, n) {
			return source.SessionsPage{}, ctx.Err()
		}
	}
}

// count is how many sessions the range holds after cursor.
func (s *Syncer) count(ctx context.Context, since, until time.Time, cursor string) (int64, error) {
	var n int64
	for {
		page, err := s.list(ctx, source.SessionQuery{Since: since, Until: until, After: cursor, Limit: 1000})
		if err != nil {
			return 0, err
		}
		n += int64(len(page.Sessions))
		if page.Next == "" {
			return n, nil
		}
		cursor = page.Next
	}
}

// isOutOfRange is the source refusing a range older than its retention.
func isOutOfRange(err error) bool {
	var se *source.StatusError
	return asStatus(err, &se) && se.Status == 400
}
