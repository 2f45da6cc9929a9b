package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/config"
)

func newReviewCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "review SESSION_ID",
		Short: "Show one archived session, whole",
		Long: `Show one archived session: who and where, its form fields, a timeline of
chat and events, the diagnostics, the survey, and where its recording is.`,
		Example: `  acdbridge review s-h2026110109-000042`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd, file)
			if err != nil {
				return err
			}
			ac := cfg.Archive.Resolved(cfg.DataDir)
			store, err := archive.Open(cmd.Context(), ac.Driver, ac.DSN)
			if err != nil {
				return err
			}
			defer store.Close()
			x, err := store.Get(cmd.Context(), args[0])
			if errors.Is(err, archive.ErrNotFound) {
				return fmt.Errorf("session %s is not in the archive (%s); archive it with acdbridge sessions sync", args[0], archiveWhere(ac))
			}
			if err != nil {
				return err
			}
			writeReview(cmd.OutOrStdout(), x, ac)
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "config", "", "HCL configuration file with the archive block (default: the SQLite archive under ./data)")
	return cmd
}

func writeReview(w io.Writer, x archive.Session, ac config.Archive) {
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }
	fmt.Fprintf(w, "session     %s (request %s)\n", shown(x.ID), shown(x.RequestID))
	fmt.Fprintf(w, "agent       %s\nqueue       %s\n", shown(x.AgentID), shown(x.Queue))
	if x.ExternalRef != "" {
		fmt.Fprintf(w, "external    %s\n", shown(x.ExternalRef))
	}
	fmt.Fprintf(w, "customer    %s <%s>\n", shown(x.CustomerName), shown(x.CustomerEmail))
	fmt.Fprintf(w, "time        %s to %s (%s)\n", ts(x.StartedAt), ts(x.EndedAt), dur(x.DurationSeconds))
	fmt.Fprintf(w, "resolution  %s\n", x.Resolution)
	if x.ReplayURL != "" {
		fmt.Fprintf(w, "replay      %s\n", shown(x.ReplayURL))
	}

	fmt.Fprintf(w, "\nfields\n")
	if len(x.Fields) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	keys := make([]string, 0, len(x.Fields))
	for k := range x.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-16s %s\n", shown(k), shown(x.Fields[k]))
	}

	fmt.Fprintf(w, "\ntimeline\n")
	var diags []archive.Event
	for _, e := range x.Events {
		at := "+" + e.At.Sub(x.StartedAt).Round(time.Second).String()
		switch e.Type {
		case archive.EventChat:
			fmt.Fprintf(w, "  %-8s %s: %s\n", at, shown(e.From), shown(e.Text))
		case archive.EventFileTransfer:
			f := e.File
			fmt.Fprintf(w, "  %-8s file %s (%d bytes, %s) by %s\n", at, shown(f.Name), f.Size, strings.ReplaceAll(f.Direction, "_", " "), shown(e.From))
		case archive.EventDiagnostics:
			fmt.Fprintf(w, "  %-8s diagnostics taken (below)\n", at)
			diags = append(diags, e)
		case archive.EventReboot:
			fmt.Fprintf(w, "  %-8s reboot by %s %s\n", at, shown(e.From), shown(e.Text))
		case archive.EventTransfer:
			fmt.Fprintf(w, "  %-8s transfer from %s to %s: %s\n", at, shown(e.From), shown(e.To), shown(e.Text))
		}
	}
	if len(x.Events) == 0 {
		fmt.Fprintln(w, "  (none)")
	}

	fmt.Fprintf(w, "\ndiagnostics\n")
	if len(diags) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, e := range diags {
		d := e.Diagnostics
		fmt.Fprintf(w, "  %s, %s, %d MB\n", shown(d.OS), shown(d.Hostname), d.MemoryMB)
		for _, s := range d.Software {
			fmt.Fprintf(w, "    %s %s\n", shown(s.Name), shown(s.Version))
		}
	}

	fmt.Fprintf(w, "\nsurvey\n")
	if x.Survey == nil {
		fmt.Fprintln(w, "  (not answered)")
	} else {
		fmt.Fprintf(w, "  rating %d/5", x.Survey.Rating)
		if x.Survey.Comment != "" {
			fmt.Fprintf(w, ": %q", x.Survey.Comment)
		}
		fmt.Fprintln(w)
	}

	r := x.Recording
	fmt.Fprintf(w, "\nrecording\n  %d bytes, sha256 %s, %s\n", r.Size, r.SHA256, r.State)
	switch r.State {
	case archive.RecordingStored:
		fmt.Fprintf(w, "  %s\n", archive.Folder{Root: ac.RecordingsDir}.Path(r.Path))
	case archive.RecordingFailed:
		fmt.Fprintf(w, "  last error after %d tries: %s\n", r.Attempts, shown(r.LastError))
	}
}

// shown makes text of a record safe to print on a terminal: control
// characters (escape sequences that would drive the terminal, newlines and
// carriage returns that would forge or hide timeline lines) and
// bidirectional overrides are written as Go escapes (\x1b, \n, \u202e),
// as are bytes that are not UTF-8.
// The archive keeps the text as it came.
func shown(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, unsafeRune) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1: // not UTF-8: the byte, as \xff
			q := strconv.Quote(s[i : i+1])
			b.WriteString(q[1 : len(q)-1])
		case unsafeRune(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f
}
