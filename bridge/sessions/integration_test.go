//go:build integration

package sessions_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/sessions"
)

// A range sync into real PostgreSQL and MariaDB servers (started by
// scripts/integration.d/30-sql.sh), checked against the simulator's truth.
// These tests have databases of their own: bridge/archive's tests, which
// go test runs at the same time, drop the tables of theirs.
func TestSyncRangeIntoSQLServers(t *testing.T) {
	for _, tc := range []struct{ driver, env string }{
		{archive.DriverPostgres, "ACDBRIDGE_IT_POSTGRES_SESSIONS_DSN"},
		{archive.DriverMySQL, "ACDBRIDGE_IT_MYSQL_SESSIONS_DSN"},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			dsn := os.Getenv(tc.env)
			if dsn == "" {
				t.Fatalf("%s is not set: run the integration suite (make integration), which starts the server", tc.env)
			}
			ctx := context.Background()
			st, err := archive.Open(ctx, tc.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			for _, table := range []string{"session_fields", "session_events", "surveys", "recordings", "sync_state", "sessions"} {
				if _, err := st.DB().ExecContext(ctx, "DELETE FROM "+table); err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(func() { st.Close() })
			eng := newSim(t, 4)
			ts := serve(t, eng, nil)
			f := newFixtureOn(t, ts.URL, sessions.Options{PageSize: 40}, st, t.TempDir())
			since, until := simNow.Add(-3*time.Hour), simNow.Add(-time.Hour)
			want := truth(t, eng, since, until)
			if _, err := f.sy.SyncRange(ctx, since, until); err != nil {
				t.Fatal(err)
			}
			checkAgainstTruth(t, st, f.dir, want)
			// Again: nothing duplicated.
			if p, err := f.sy.SyncRange(ctx, since, until); err != nil || p.Skipped != int64(len(want)) {
				t.Fatalf("second sync: %+v, %v", p, err)
			}
			checkAgainstTruth(t, st, f.dir, want)
		})
	}
}

// BenchmarkBackfillPostgres is BenchmarkBackfill into PostgreSQL.
func BenchmarkBackfillPostgres(b *testing.B) {
	dsn := os.Getenv("ACDBRIDGE_IT_POSTGRES_SESSIONS_DSN")
	if dsn == "" {
		b.Fatal("ACDBRIDGE_IT_POSTGRES_SESSIONS_DSN is not set: run it in the integration suite's environment")
	}
	eng := newSim(b, 24)
	ts := serve(b, eng, nil)
	since, until := simNow.Add(-23*time.Hour), simNow.Add(-time.Hour)
	ctx := context.Background()
	var n int64
	for b.Loop() {
		b.StopTimer()
		st, err := archive.Open(ctx, archive.DriverPostgres, dsn)
		if err != nil {
			b.Fatal(err)
		}
		for _, table := range []string{"session_fields", "session_events", "surveys", "recordings", "sync_state", "sessions"} {
			if _, err := st.DB().ExecContext(ctx, "DELETE FROM "+table); err != nil {
				b.Fatal(err)
			}
		}
		f := newFixtureOn(b, ts.URL, sessions.Options{}, st, b.TempDir())
		b.StartTimer()
		p, err := f.sy.SyncRange(ctx, since, until)
		if err != nil {
			b.Fatal(err)
		}
		n += p.Done
		st.Close()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "sessions/s")
}
