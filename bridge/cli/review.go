package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

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
	fmt.Fprintf(w, "session     %s (request %s)\n", x.ID, x.RequestID)
	fmt.Fprintf(w, "agent       %s\nqueue       %s\n", x.AgentID, x.Queue)
	if x.ExternalRef != "" {
		fmt.Fprintf(w, "external    %s\n", x.ExternalRef)
	}
	fmt.Fprintf(w, "customer    %s <%s>\n", x.CustomerName, x.CustomerEmail)
	fmt.Fprintf(w, "time        %s to %s (%s)\n", ts(x.StartedAt), ts(x.EndedAt), dur(x.DurationSeconds))
	fmt.Fprintf(w, "resolution  %s\n", x.Resolution)
	if x.ReplayURL != "" {
		fmt.Fprintf(w, "replay      %s\n", x.ReplayURL)
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
		fmt.Fprintf(w, "  %-16s %s\n", k, x.Fields[k])
	}

	fmt.Fprintf(w, "\ntimeline\n")
	var diags []archive.Event
	for _, e := range x.Events {
		at := "+" + e.At.Sub(x.StartedAt).Round(time.Second).String()
		switch e.Type {
		case archive.EventChat:
			fmt.Fprintf(w, "  %-8s %s: %s\n", at, e.From, e.Text)
		case archive.EventFileTransfer:
			f := e.File
			fmt.Fprintf(w, "  %-8s file %s (%d bytes, %s) by %s\n", at, f.Name, f.Size, strings.ReplaceAll(f.Direction, "_", " "), e.From)
		case archive.EventDiagnostics:
			fmt.Fprintf(w, "  %-8s diagnostics taken (below)\n", at)
			diags = append(diags, e)
		case archive.EventReboot:
			fmt.Fprintf(w, "  %-8s reboot by %s %s\n", at, e.From, e.Text)
		case archive.EventTransfer:
			fmt.Fprintf(w, "  %-8s transfer from %s to %s: %s\n", at, e.From, e.To, e.Text)
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
		fmt.Fprintf(w, "  %s, %s, %d MB\n", d.OS, d.Hostname, d.MemoryMB)
		for _, s := range d.Software {
			fmt.Fprintf(w, "    %s %s\n", s.Name, s.Version)
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
		fmt.Fprintf(w, "  last error after %d tries: %s\n", r.Attempts, r.LastError)
	}
}
