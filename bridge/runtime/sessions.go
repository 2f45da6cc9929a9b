package runtime

import (
	"context"
	"fmt"
	"sync"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/bus"
	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/bridge/sessions"
	"github.com/acdbridge/acdbridge/bridge/source"
)

// startSessions opens the archive and runs the session syncer beside the
// pipeline: real time (fed by apply's session_ended updates, with its own
// poll) and the schedule, as the archive block says. With neither, it
// opens nothing. The archive closes after the syncer's goroutines end.
func (b *Bridge) startSessions(ctx context.Context, src *source.Client, wg *sync.WaitGroup) error {
	ac := b.opts.Config.Archive.Resolved(b.opts.Config.DataDir)
	if !ac.Realtime && ac.Schedule == "" {
		return nil
	}
	store, err := archive.Open(ctx, ac.Driver, ac.DSN)
	if err != nil {
		return fmt.Errorf("%w (check the archive block: driver %s)", err, ac.Driver)
	}
	sy, err := sessions.New(sessions.Options{
		Source: src, Store: store, RecordingsDir: ac.RecordingsDir, Concurrency: ac.Concurrency,
		Logger: b.log, OnArchived: b.sessionArchived, Registry: b.opts.Registry,
	})
	if err != nil {
		store.Close()
		return err
	}
	b.mu.Lock()
	b.archive = sy
	b.mu.Unlock()
	var inner sync.WaitGroup
	if ac.Realtime {
		inner.Add(1)
		go func() { defer inner.Done(); sy.RunRealtime(ctx) }()
		b.mu.Lock()
		b.syncer = sy
		b.mu.Unlock()
	}
	if ac.Schedule != "" {
		inner.Add(1)
		go func() {
			defer inner.Done()
			if err := sy.RunSchedule(ctx, ac.Schedule); err != nil {
				b.log.Error("archive schedule not running", "error", err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		inner.Wait()
		store.Close()
	}()
	where := ac.DSN
	if ac.Driver != archive.DriverSQLite {
		where = "the " + ac.Driver + " database of archive.dsn" // a DSN may hold a password
	}
	b.say("archive: sessions into %s, recordings into %s (real time: %t, schedule: %q)", where, ac.RecordingsDir, ac.Realtime, ac.Schedule)
	return nil
}

// sessionArchived is called with each session once archived: its whole
// record goes into the outbox (flush publishes it on
// acdbridge.session.<queue>, whence it reaches every adapter with the
// sessions capability), and the session rules see it.
func (b *Bridge) sessionArchived(ctx context.Context, x archive.Session) {
	b.log.Debug("session archived", "session", x.ID, "recording", x.Recording.State)
	m := sessionRecordMsg(x)
	if err := m.Validate(); err != nil {
		// The archive took a record the bus's codec refuses: publish the
		// summary rather than hold the outbox on a message that can never
		// be sent, and say so.
		b.metrics.errors.WithLabelValues("session_record").Inc()
		b.log.Error("session record not publishable whole; publishing its summary", "session", x.ID, "error", err)
		m = bus.NewSessionMsg(m.Session()) // the summary part alone
	}
	b.mu.Lock()
	b.out.records = append(b.out.records, m)
	b.mu.Unlock()
	b.alertSession(ctx, x) // session rules need the survey and resolution (alerts.go)
}

// recordsPublished takes the records the bus took out of the archive's
// outbox, so that the next start does not hand them on again.
func (b *Bridge) recordsPublished(ctx context.Context, records []bus.SessionMsg) {
	b.mu.Lock()
	sy := b.archive
	b.mu.Unlock()
	if sy == nil || len(records) == 0 {
		return
	}
	ids := make([]string, len(records))
	for i, m := range records {
		ids[i] = m.ID
	}
	sy.Published(ctx, ids)
}

// SourceConfig is the source client's settings from the config's source
// block (`acdbridge sessions sync` reads the source as `run` does).
func SourceConfig(s *config.Source) source.Config {
	return source.Config{URL: s.URL, Token: s.Token, Stream: s.Stream, PollInterval: s.PollInterval,
		ReconcileInterval: s.ReconcileInterval, Timeout: s.Timeout, RateLimit: s.RateLimit}
}
