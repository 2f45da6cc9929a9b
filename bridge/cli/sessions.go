package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/bridge/runtime"
	"github.com/acdbridge/acdbridge/bridge/sessions"
	"github.com/acdbridge/acdbridge/bridge/source"
)

func newSessionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "Work with the session archive",
	}
	var file, since, until, logLevel string
	var concurrency, pageSize int
	sync := &cobra.Command{
		Use:   "sync --since T --until T",
		Short: "Archive the sessions that ended in a time range (resumable)",
		Long: `Archive every session that ended in [--since, --until): its whole record into
the archive's database and its recording into the recordings folder, checked
against the record's sha256. The range must lie within the source's 90-day
retention (--since 90d takes all of it, starting 10 minutes inside). Downloads run concurrently (--concurrency, the archive block's
concurrency by default) within the source's rate limit (source.rate_limit).

A terminal shows a progress bar (done/total, rate, ETA); otherwise a plain
line per page. Interrupted, the same command resumes where it stopped;
sessions already archived whole are skipped, so running it again is safe.

T is RFC 3339 (2026-11-01T08:00:00Z), a date (2026-11-01, midnight UTC), or
a duration back from now (24h, 7d).`,
		Example: `  acdbridge sessions sync --since 7d --until 0s --config bridge.hcl
  acdbridge sessions sync --since 2026-11-01 --until 2026-11-02`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			s, u, err := parseRange(since, until, now)
			if err != nil {
				return err
			}
			// --since 90d is the whole retention; by the time the list is
			// read it would be a little older than the source keeps.
			oldest := now.Add(-sessions.Retention + retentionMargin)
			if s.Before(now.Add(-sessions.Retention - time.Hour)) {
				return usagef("--since %s is older than the source's 90-day retention (%s); the source refuses it", s.Format(time.RFC3339), now.Add(-sessions.Retention).Format(time.RFC3339))
			}
			if s.Before(oldest) {
				fmt.Fprintf(cmd.OutOrStdout(), "starting at %s: the source keeps 90 days\n", oldest.Format(time.RFC3339))
				s = oldest
			}
			cfg, err := loadConfig(cmd, file)
			if err != nil {
				return err
			}
			if cfg.Source == nil {
				return usagef("sessions sync reads a remote-support service: give a --config with a source block (the in-process simulator runs only inside acdbridge run)")
			}
			lvl := hclog.LevelFromString(logLevel)
			if lvl == hclog.NoLevel {
				return usagef("--log-level: expected trace, debug, info, warn or error, got %q", logLevel)
			}
			log := hclog.New(&hclog.LoggerOptions{Name: "acdbridge", Level: lvl, Output: cmd.ErrOrStderr()})
			ac := cfg.Archive.Resolved(cfg.DataDir)
			if cmd.Flags().Changed("concurrency") {
				if concurrency < 1 || concurrency > 256 {
					return usagef("--concurrency: expected 1 to 256, got %d", concurrency)
				}
				ac.Concurrency = concurrency
			}
			if pageSize < 0 || pageSize > 1000 {
				return usagef("--page-size: expected 1 to 1000, got %d", pageSize)
			}
			return runSync(cmd.Context(), cmd.OutOrStdout(), cfg, ac, s, u, pageSize, log)
		},
	}
	fl := sync.Flags()
	fl.StringVar(&file, "config", "", "HCL configuration file with the source and archive blocks")
	fl.StringVar(&since, "since", "", "start of the range: RFC 3339, a date, or a duration back from now (required)")
	fl.StringVar(&until, "until", "0s", "end of the range (default: now)")
	fl.IntVar(&concurrency, "concurrency", 0, "downloads at once (default: the archive block's, 8)")
	fl.IntVar(&pageSize, "page-size", 1000, "sessions per list call; the checkpoint moves after each page")
	fl.StringVar(&logLevel, "log-level", "warn", "log level: trace, debug, info, warn or error")
	sync.MarkFlagRequired("since")
	cmd.AddCommand(sync)
	return cmd
}

func runSync(ctx context.Context, out io.Writer, cfg config.Config, ac config.Archive, since, until time.Time, pageSize int, log hclog.Logger) error {
	src, err := source.New(runtime.SourceConfig(cfg.Source), log, nil)
	if err != nil {
		return err
	}
	store, err := archive.Open(ctx, ac.Driver, ac.DSN)
	if err != nil {
		return err
	}
	defer store.Close()
	bar := newProgress(out)
	sy, err := sessions.New(sessions.Options{Source: src, Store: store, RecordingsDir: ac.RecordingsDir,
		Concurrency: ac.Concurrency, PageSize: pageSize, Logger: log, Progress: bar.update})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "archiving sessions that ended from %s to %s into %s (%s), recordings into %s\n",
		since.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339), archiveWhere(ac), ac.Driver, ac.RecordingsDir)
	p, err := sy.SyncRange(ctx, since, until)
	bar.finish(p)
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted; run the same command again to resume where it stopped")
		}
		return err
	}
	fmt.Fprintf(out, "done: %d sessions in the range, %d archived now, %d already archived, in %s\n",
		p.Total, p.Done-p.Skipped-p.Resumed, p.Skipped+p.Resumed, time.Since(p.Start).Round(time.Millisecond))
	return nil
}

// retentionMargin is how far inside the source's retention a range that
// asks for all of it starts, so that the source still has its start when
// the sync reaches it.
const retentionMargin = 10 * time.Minute

// archiveWhere names the archive without a password a DSN may hold.
func archiveWhere(ac config.Archive) string {
	if ac.Driver == archive.DriverSQLite {
		return ac.DSN
	}
	return "archive.dsn"
}

// loadConfig reads --config, or the embedded defaults without one.
func loadConfig(cmd *cobra.Command, file string) (config.Config, error) {
	if file == "" {
		return config.Defaults(), nil
	}
	cfg, err := config.Load(file)
	if err != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), config.Format(err))
		return cfg, errors.New(file + " is not valid")
	}
	return cfg, nil
}

// parseRange reads --since and --until (parseWhen) and checks that the
// first comes before the second.
func parseRange(since, until string, now time.Time) (s, u time.Time, err error) {
	if s, err = parseWhen("--since", since, now); err != nil {
		return s, u, err
	}
	if u, err = parseWhen("--until", until, now); err != nil {
		return s, u, err
	}
	if !s.Before(u) {
		return s, u, usagef("expected --since (%s) before --until (%s)", s.Format(time.RFC3339), u.Format(time.RFC3339))
	}
	return s, u, nil
}

// parseWhen reads a time flag: RFC 3339, a date (midnight UTC), or a
// duration back from now (90m, 24h, 7d).
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 && days <= 3650 {
			return now.Add(-time.Duration(days) * 24 * time.Hour).UTC(), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, usagef("%s: expected RFC 3339 (2026-11-01T08:00:00Z), a date (2026-11-01) or a duration back from now (24h, 7d), got %q", flag, s)
}

// progress shows a range sync's progress: a bar redrawn in place on a
// terminal, a plain line at most every 2 s otherwise.
type progress struct {
	out   io.Writer
	tty   bool
	width int
	last  time.Time
	shown bool
}

func newProgress(out io.Writer) *progress {
	p := &progress{out: out, width: 80}
	// A character device is a terminal (golang.org/x/term has no go.sum
	// entry in this module; the standard library tells enough).
	if f, ok := out.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(s sessions.Progress) {
	now := time.Now()
	if !p.tty && now.Sub(p.last) < 2*time.Second && s.Done < s.Total {
		return
	}
	p.last = now
	p.shown = true
	line := progressLine(s, now, p.width, p.tty)
	if p.tty {
		fmt.Fprint(p.out, "\r"+line+"\x1b[K")
	} else {
		fmt.Fprintln(p.out, line)
	}
}

func (p *progress) finish(s sessions.Progress) {
	if p.tty && p.shown {
		fmt.Fprint(p.out, "\r"+progressLine(s, time.Now(), p.width, true)+"\x1b[K\n")
	}
}

// progressLine is "[#####-----] 1234/5000 24% 310/s ETA 12s", the bar only
// on a terminal. The rate counts this run's sessions only.
func progressLine(s sessions.Progress, now time.Time, width int, bar bool) string {
	el := now.Sub(s.Start).Seconds()
	run := s.Done - s.Resumed
	rate := 0.0
	if el > 0 {
		rate = float64(run) / el
	}
	pct := 100.0
	if s.Total > 0 {
		pct = 100 * float64(s.Done) / float64(s.Total)
	}
	eta := "?"
	if left := s.Total - s.Done; left <= 0 {
		eta = "0s"
	} else if rate > 0 {
		eta = time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String()
	}
	text := fmt.Sprintf("%d/%d %3.0f%% %.0f/s ETA %s", s.Done, s.Total, pct, rate, eta)
	if s.Failed > 0 {
		text += fmt.Sprintf(" (%d failed)", s.Failed)
	}
	if !bar {
		return "sessions " + text
	}
	n := width - len(text) - 4
	if n < 10 {
		return text
	}
	fill := int(float64(n) * pct / 100)
	return "[" + strings.Repeat("#", fill) + strings.Repeat("-", n-fill) + "] " + text
}
