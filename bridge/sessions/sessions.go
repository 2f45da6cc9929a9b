// Package sessions downloads ended sessions into the archive, three ways
// that work together: in real time (on each session_ended update, with a
// poll of the sessions list every 10 s as a safety net), by date range
// (`acdbridge sessions sync`, resumable from its checkpoint), and on a
// cron schedule inside `acdbridge run`.
//
// Each session's record is fetched, its recording streamed into the
// recordings folder (checked against the record's sha256, written
// atomically), and both archived in batches, one transaction per batch.
// What is not ready, malformed or corrupt is retried with backoff and
// reported; nothing is kept silently. Writes are idempotent by session id,
// so the three ways may overlap.
package sessions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/source"
	"github.com/acdbridge/acdbridge/monitors"
)

// Defaults for the options left at zero.
const (
	DefaultConcurrency  = 8
	DefaultPollInterval = 10 * time.Second
	DefaultAttempts     = 5
	DefaultBackoffMin   = 500 * time.Millisecond
	DefaultBackoffMax   = 30 * time.Second
	DefaultPageSize     = 1000
	// batchSize is the most sessions in one archive transaction.
	batchSize = 500
)

// Options are what a Syncer runs with.
type Options struct {
	Source        *source.Client
	Store         *archive.Store
	RecordingsDir string
	Concurrency   int           // downloads at once (default 8); the source's rate limit applies on top
	PollInterval  time.Duration // real time: the safety-net poll (default 10 s)
	Attempts      int           // tries per record or recording before it counts as failed (default 5)
	BackoffMin    time.Duration // between tries: exponential with full jitter (default 500 ms)
	BackoffMax    time.Duration // default 30 s
	PageSize      int           // sessions per list call (default 1000)
	Logger        hclog.Logger
	// OnArchived, when set, is called with each session once its record
	// is first archived (its recording stored, or failed and to be
	// retried later without another call). A session the archive held
	// before (a range sync over sessions real time archived with a failed
	// recording) is not passed again: what it feeds writes each session
	// once (RT comments on a ticket). Two syncs archiving the same new
	// session at the same moment may both pass it; the bus keeps a
	// session once (its id is the message id). Calls come from the
	// syncer's goroutines, one batch at a time, after the batch's
	// transaction committed.
	//
	// The sessions passed stay in the archive's outbox until the consumer
	// calls Published with them; the first RunRealtime or RunSchedule of
	// a syncer passes again those still there (a crash came before they
	// were handed on).
	OnArchived func(context.Context, archive.Session)
	// Progress, when set, is called as a range sync advances.
	Progress func(Progress)
	// Registry, when set, takes the syncer's metrics
	// (acdbridge_sessions_*).
	Registry prometheus.Registerer
	// Now is the time (default time.Now): the source's retention edge
	// is reckoned from it.
	Now func() time.Time
}

// Progress is how far a range sync got.
type Progress struct {
	Done    int64 // sessions archived with their recording, this run and before it (resumed)
	Skipped int64 // of Done, those found already archived
	Failed  int64 // sessions that failed every try in this run
	Total   int64 // sessions in the range
	Resumed int64 // of Done, those a checkpoint of an earlier run covered
	Start   time.Time
}

// Syncer downloads sessions into the archive.
type Syncer struct {
	opts   Options
	log    hclog.Logger
	folder archive.Folder
	ended  chan monitors.SessionSummary
	m      *metrics
	replay sync.Once // the outbox's sessions passed again, once
}

// New checks the options; it does no I/O.
func New(opts Options) (*Syncer, error) {
	if opts.Source == nil || opts.Store == nil {
		return nil, errors.New("sessions: a source client and an archive store are required")
	}
	if opts.RecordingsDir == "" {
		return nil, errors.New("sessions: a recordings folder is required, got none")
	}
	if opts.Concurrency < 0 || opts.Attempts < 0 || opts.PageSize < 0 || opts.PageSize > 1000 {
		return nil, fmt.Errorf("sessions: expected concurrency, attempts ≥ 0 and a page size of 0 to 1000, got %d, %d, %d", opts.Concurrency, opts.Attempts, opts.PageSize)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opts.Concurrency, DefaultConcurrency)
	def(&opts.Attempts, DefaultAttempts)
	def(&opts.PageSize, DefaultPageSize)
	defd(&opts.PollInterval, DefaultPollInterval)
	defd(&opts.BackoffMin, DefaultBackoffMin)
	defd(&opts.BackoffMax, DefaultBackoffMax)
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	return &Syncer{opts: opts, log: opts.Logger.Named("sessions"), folder: archive.Folder{Root: opts.RecordingsDir},
		ended: make(chan monitors.SessionSummary, 4096), m: m}, nil
}

// wait sleeps before try n+1; false when ctx ended.
func (s *Syncer) wait(ctx context.Context, err error, n int) bool {
	t := time.NewTimer(source.RetryWait(err, n, s.opts.BackoffMin, s.opts.BackoffMax))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// record fetches a session's record, retrying what may pass: a record
// not ready yet (404, 409), a malformed one, a source in trouble.
func (s *Syncer) record(ctx context.Context, id string) (archive.Session, error) {
	var err error
	for n := 1; ; n++ {
		var x archive.Session
		x, err = s.opts.Source.Session(ctx, id)
		if err == nil {
			return x, nil
		}
		if ctx.Err() != nil || source.Permanent(err) || n >= s.opts.Attempts {
			break
		}
		s.log.Debug("record not archived yet; retrying", "session", id, "try", n, "error", err)
		if !s.wait(ctx, err, n) {
			break
		}
	}
	return archive.Session{}, fmt.Errorf("session %s: record: %w", id, err)
}

// recording downloads x's recording into the folder, retrying, and sets
// x.Recording's path and state. A file already stored and verified is
// kept. The error is the last try's.
func (s *Syncer) recording(ctx context.Context, x *archive.Session) error {
	r := &x.Recording
	rel, err := s.folder.RelPath(x.ID, x.EndedAt)
	if err != nil {
		r.State, r.LastError = archive.RecordingFailed, err.Error()
		return err
	}
	if s.folder.Verify(rel, r.Size, r.SHA256) == nil {
		r.Path, r.State, r.LastError = rel, archive.RecordingStored, ""
		return nil
	}
	for n := 1; ; n++ {
		r.Attempts++
		err = s.download(ctx, x)
		if err == nil {
			r.Path, r.State, r.LastError = rel, archive.RecordingStored, ""
			s.m.bytes.Add(float64(r.Size))
			return nil
		}
		r.State, r.LastError = archive.RecordingFailed, err.Error()
		if ctx.Err() != nil || source.Permanent(err) || n >= s.opts.Attempts {
			return err
		}
		s.log.Debug("recording not stored; retrying", "session", x.ID, "try", n, "error", err)
		if !s.wait(ctx, err, n) {
			return err
		}
	}
}

// maxResumes bounds the Range requests that continue one download cut
// short.
const maxResumes = 3

// download makes one try at a recording: streamed into a temporary file
// while hashed, resumed with a Range request when the connection is cut,
// checked against the record and renamed into place.
func (s *Syncer) download(ctx context.Context, x *archive.Session) error {
	w, _, err := s.folder.Create(x.ID, x.EndedAt, x.Recording.Size, x.Recording.SHA256)
	if err != nil {
		return err
	}
	defer w.Abort()
	for resumes := 0; ; resumes++ {
		body, resumed, err := s.opts.Source.Recording(ctx, x.ID, w.Written())
		if err != nil {
			return fmt.Errorf("session %s: recording: %w", x.ID, err)
		}
		if !resumed && w.Written() > 0 {
			if err := w.Reset(); err != nil {
				body.Close()
				return fmt.Errorf("session %s: recording: start over: %w", x.ID, err)
			}
		}
		_, err = io.Copy(w, body)
		body.Close()
		if err == nil {
			break
		}
		var ce *archive.ChecksumError
		if errors.As(err, &ce) {
			return err // more bytes than the record says
		}
		if ctx.Err() != nil || resumes >= maxResumes {
			return fmt.Errorf("session %s: recording cut after %d of %d bytes: %w", x.ID, w.Written(), x.Recording.Size, err)
		}
		s.log.Debug("recording download cut; resuming with a Range request", "session", x.ID, "at", w.Written(), "error", err)
	}
	return w.Commit()
}

// result is one session's outcome.
type result struct {
	x   archive.Session
	ok  bool  // record fetched (x is set)
	err error // the record's or the recording's failure
}

// archiveAll fetches the sessions of list concurrently and archives them
// in batches. It returns the sessions archived with their recording, and
// one error per session that failed (its record, or its recording: the
// record is then archived with the recording marked failed). A failed
// archive write is returned as err.
// With passOn false, nothing is handed to OnArchived (the first real-time
// poll ever: what ended before the bridge was first switched on is
// history, not news for a ticketing system).
func (s *Syncer) archiveAll(ctx context.Context, list []monitors.SessionSummary, passOn bool) (done int, failures []error, err error) {
	if len(list) == 0 {
		return 0, nil, nil
	}
	// A failed write stops the downloads: nothing more could be archived.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	in := make(chan string)
	out := make(chan result)
	var wg sync.WaitGroup
	for range min(s.opts.Concurrency, len(list)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range in {
				x, err := s.record(ctx, id)
				if err != nil {
					if ctx.Err() == nil {
						s.m.failed.WithLabelValues("record").Inc()
					}
					out <- result{err: err}
					continue
				}
				err = s.recording(ctx, &x)
				if err != nil && ctx.Err() == nil {
					s.m.failed.WithLabelValues("recording").Inc()
				}
				out <- result{x: x, ok: true, err: err}
			}
		}()
	}
	go func() {
		defer close(in)
		for _, sum := range list {
			select {
			case in <- sum.ID:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(out) }()

	var batch []archive.Session
	flush := func() error {
		if len(batch) == 0 || err != nil {
			return err
		}
		// The sessions the archive held before were passed on already.
		var before map[string]archive.RecordingState
		if s.opts.OnArchived != nil && passOn {
			ids := make([]string, len(batch))
			for i, x := range batch {
				ids[i] = x.ID
			}
			var kerr error
			if before, kerr = s.opts.Store.Known(ctx, ids); kerr == nil {
				// Queued before they are archived: a crash between the
				// commit and their publication leaves them queued, and
				// the next start hands them on (replay).
				fresh := ids[:0]
				for _, id := range ids {
					if _, had := before[id]; !had {
						fresh = append(fresh, id)
					}
				}
				kerr = s.opts.Store.Enqueue(ctx, fresh)
			}
			if kerr != nil {
				err = kerr
				s.m.failed.WithLabelValues("write").Add(float64(len(batch)))
				stop()
				return err
			}
		}
		if perr := s.opts.Store.Put(ctx, batch); perr != nil {
			err = perr
			s.m.failed.WithLabelValues("write").Add(float64(len(batch)))
			stop()
			return err
		}
		s.m.archived.Add(float64(len(batch)))
		for _, x := range batch {
			if x.Recording.State == archive.RecordingStored {
				done++
			}
			if _, had := before[x.ID]; s.opts.OnArchived != nil && passOn && !had {
				s.opts.OnArchived(ctx, x)
			}
		}
		batch = batch[:0]
		return nil
	}
	for r := range out {
		if r.err != nil {
			failures = append(failures, r.err)
			s.log.Warn("session not archived whole; it is retried", "error", r.err)
		}
		if r.ok {
			batch = append(batch, r.x)
			if len(batch) >= batchSize {
				flush() // an error stops the writes; the workers are drained
			}
		}
	}
	flush()
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return done, failures, err
}

// missing is the sessions of list the archive does not hold whole (record
// and stored recording).
func (s *Syncer) missing(ctx context.Context, list []monitors.SessionSummary) ([]monitors.SessionSummary, error) {
	ids := make([]string, len(list))
	for i, x := range list {
		ids[i] = x.ID
	}
	known, err := s.opts.Store.Known(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []monitors.SessionSummary
	for _, x := range list {
		if known[x.ID] != archive.RecordingStored {
			out = append(out, x)
		}
	}
	return out, nil
}

// FailedError is a sync in which some sessions failed every try.
type FailedError struct {
	Failed int
	First  error
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("%d sessions not archived whole after every try (first: %v); run the sync again to retry them", e.Failed, e.First)
}

func (e *FailedError) Unwrap() error { return e.First }

// sweep removes what downloads of killed processes left in the folder.
func (s *Syncer) sweep() {
	n, err := s.folder.Sweep()
	if err != nil {
		s.log.Warn("could not sweep the recordings folder for temporary files", "error", err)
	}
	if n > 0 {
		s.log.Info("removed temporary files of interrupted downloads", "files", n)
	}
}

// Published takes sessions OnArchived passed out of the archive's outbox:
// they were handed on (the bus took them). An error is logged; the
// sessions are then passed again at the next start, which the bus and the
// adapters take as a duplicate.
func (s *Syncer) Published(ctx context.Context, ids []string) {
	if err := s.opts.Store.Dequeue(ctx, ids); err != nil {
		s.log.Warn("could not note sessions as published; they are handed on again at the next start", "sessions", len(ids), "error", err)
	}
}

// replayOutbox passes to OnArchived, once per syncer, the sessions the
// archive's outbox still holds: archived, but a crash came before they
// were handed on. One not archived (the crash came before its batch
// committed) is dropped: the sync archives it anew.
func (s *Syncer) replayOutbox(ctx context.Context) {
	if s.opts.OnArchived == nil {
		return
	}
	s.replay.Do(func() {
		ids, err := s.opts.Store.Queued(ctx)
		if err != nil {
			s.log.Error("read the archive's outbox; its sessions are handed on at the next start", "error", err)
			return
		}
		var gone []string
		passed := 0
		for _, id := range ids {
			x, err := s.opts.Store.Get(ctx, id)
			switch {
			case errors.Is(err, archive.ErrNotFound):
				gone = append(gone, id)
				continue
			case err != nil:
				s.log.Error("read a session of the outbox", "session", id, "error", err)
				continue
			}
			s.opts.OnArchived(ctx, x)
			passed++
		}
		if len(gone) > 0 {
			s.Published(ctx, gone)
		}
		if passed > 0 {
			s.log.Info("handing on sessions archived before a restart and not published then", "sessions", passed)
		}
	})
}
