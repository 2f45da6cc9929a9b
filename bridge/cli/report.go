package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/acdbridge/acdbridge/bridge/archive"
)

func newReportCmd() *cobra.Command {
	var file, by, since, until, format string
	cmd := &cobra.Command{
		Use:   "report --by agent|queue|day --since T --until T",
		Short: "Figures from the session archive, by agent, queue or day",
		Long: `Figures of the archived sessions that ended in [--since, --until), grouped by
agent, queue or day (UTC): sessions, median and 90th-percentile duration,
resolution rate, average rating, and negative ratings (rating 1 or 2).

T is RFC 3339, a date (midnight UTC), or a duration back from now (24h, 7d).`,
		Example: `  acdbridge report --by agent --since 7d
  acdbridge report --by day --since 2026-11-01 --until 2026-12-01 --format csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g := archive.Group(by)
			if g != archive.ByAgent && g != archive.ByQueue && g != archive.ByDay {
				return usagef("--by: expected agent, queue or day, got %q", by)
			}
			if format != "table" && format != "csv" && format != "json" {
				return usagef("--format: expected table, csv or json, got %q", format)
			}
			s, u, err := parseRange(since, until, time.Now())
			if err != nil {
				return err
			}
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
			rows, err := store.Report(cmd.Context(), g, s, u)
			if err != nil {
				return err
			}
			return writeReport(cmd.OutOrStdout(), format, by, rows)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&file, "config", "", "HCL configuration file with the archive block (default: the SQLite archive under ./data)")
	fl.StringVar(&by, "by", "", "group by agent, queue or day (required)")
	fl.StringVar(&since, "since", "7d", "start: RFC 3339, a date, or a duration back from now")
	fl.StringVar(&until, "until", "0s", "end (default: now)")
	fl.StringVar(&format, "format", "table", "output: table, csv or json")
	cmd.MarkFlagRequired("by")
	return cmd
}

// reportHeader names the columns of table and csv output.
var reportHeader = []string{"sessions", "median_duration_s", "p90_duration_s", "resolution_rate", "rated", "average_rating", "negative_ratings"}

func writeReport(w io.Writer, format, by string, rows []archive.ReportRow) error {
	switch format {
	case "json":
		if rows == nil {
			rows = []archive.ReportRow{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"by": by, "rows": rows})
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(append([]string{by}, reportHeader...))
		for _, r := range rows {
			cw.Write([]string{r.Key, strconv.Itoa(r.Sessions), f1(r.MedianDuration), f1(r.P90Duration),
				strconv.FormatFloat(r.ResolutionRate, 'f', 4, 64), strconv.Itoa(r.Rated), strconv.FormatFloat(r.AverageRating, 'f', 2, 64), strconv.Itoa(r.NegativeRatings)})
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tsessions\tmedian\tp90\tresolved\tavg rating\tnegative\t\n", by)
	var total int
	for _, r := range rows {
		avg := "-"
		if r.Rated > 0 {
			avg = fmt.Sprintf("%.2f (%d)", r.AverageRating, r.Rated)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.1f%%\t%s\t%d\t\n", shown(r.Key), r.Sessions, dur(r.MedianDuration), dur(r.P90Duration), 100*r.ResolutionRate, avg, r.NegativeRatings)
		total += r.Sessions
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d sessions in %d groups\n", total, len(rows))
	return err
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func dur(sec float64) string {
	return (time.Duration(sec * float64(time.Second))).Round(time.Second).String()
}
