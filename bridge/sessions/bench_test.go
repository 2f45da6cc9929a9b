package sessions_test

import (
	"context"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/bridge/sessions"
)

// BenchmarkBackfill is a range sync end to end, as `acdbridge sessions
// sync` runs it: the in-process simulator's history over HTTP (small
// recordings, 64 B to 8 KiB; no rate limit), records and recordings
// downloaded 8 at a time, checked, written to the folder and archived in
// SQLite. It reports sessions per second; 1,000,000 sessions take
// 1e6 / that many seconds at the same rate.
func BenchmarkBackfill(b *testing.B) {
	eng := newSim(b, 24)
	ts := serve(b, eng, nil)
	since, until := simNow.Add(-23*time.Hour), simNow.Add(-time.Hour)
	var n int64
	for b.Loop() {
		b.StopTimer()
		f := newFixture(b, ts.URL, sessions.Options{})
		b.StartTimer()
		p, err := f.sy.SyncRange(context.Background(), since, until)
		if err != nil {
			b.Fatal(err)
		}
		n += p.Done
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "sessions/s")
}
