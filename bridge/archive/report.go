package archive

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// Group is what a report groups sessions by.
type Group string

// The groupings of a report.
const (
	ByAgent Group = "agent"
	ByQueue Group = "queue"
	ByDay   Group = "day" // the UTC day the session ended
)

// ReportRow is one group's figures.
type ReportRow struct {
	Key               string  `json:"key"`
	Sessions          int     `json:"sessions"`
	MedianDuration    float64 `json:"median_duration_seconds"`
	P90Duration       float64 `json:"p90_duration_seconds"`
	ResolutionRate    float64 `json:"resolution_rate"`     // resolved / sessions, 0..1
	Rated             int     `json:"rated"`               // sessions with a survey
	AverageRating     float64 `json:"average_rating"`      // over rated sessions; 0 when none
	NegativeRatings   int     `json:"negative_ratings"`    // rating <= 2
	NegativeRatingPct float64 `json:"negative_rating_pct"` // of rated sessions
}

// Report computes the figures of the sessions that ended in [since,
// until), grouped by, in key order.
func (s *Store) Report(ctx context.Context, by Group, since, until time.Time) ([]ReportRow, error) {
	if by != ByAgent && by != ByQueue && by != ByDay {
		return nil, fmt.Errorf("report: expected grouping by agent, queue or day, got %q", by)
	}
	list, err := s.Summaries(ctx, since, until)
	if err != nil {
		return nil, err
	}
	return Figures(list, by), nil
}

// Figures groups summaries and computes each group's figures.
func Figures(list []Summary, by Group) []ReportRow {
	groups := map[string][]Summary{}
	for _, x := range list {
		var k string
		switch by {
		case ByAgent:
			k = x.AgentID
		case ByQueue:
			k = x.Queue
		default:
			k = x.EndedAt.UTC().Format("2006-01-02")
		}
		groups[k] = append(groups[k], x)
	}
	out := make([]ReportRow, 0, len(groups))
	for k, g := range groups {
		r := ReportRow{Key: k, Sessions: len(g)}
		durs := make([]float64, len(g))
		resolved, sum := 0, 0
		for i, x := range g {
			durs[i] = x.DurationSeconds
			if x.Resolution == "resolved" {
				resolved++
			}
			if x.Rating > 0 {
				r.Rated++
				sum += x.Rating
				if x.Rating <= 2 {
					r.NegativeRatings++
				}
			}
		}
		slices.Sort(durs)
		r.MedianDuration = quantile(durs, 0.5)
		r.P90Duration = quantile(durs, 0.9)
		r.ResolutionRate = float64(resolved) / float64(len(g))
		if r.Rated > 0 {
			r.AverageRating = float64(sum) / float64(r.Rated)
			r.NegativeRatingPct = 100 * float64(r.NegativeRatings) / float64(r.Rated)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b ReportRow) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return out
}

// quantile is the q-quantile of sorted values by linear interpolation
// between closest ranks (the method of numpy's default and Excel's
// PERCENTILE.INC).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}
