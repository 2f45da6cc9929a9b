package sessions_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/bridge/sessions"
)

// TestRangeSyncOutlivesTheRetentionEdge: a range sync that starts near the
// source's retention edge and runs for long enough that its start passes
// out of what the source keeps (a 90-day backfill of a million sessions
// takes about 20 minutes) lists on from the new edge with its cursor,
// instead of failing with the source's out_of_range refusal.
func TestRangeSyncOutlivesTheRetentionEdge(t *testing.T) {
	eng := newSim(t, 30)
	since, until := simNow.Add(-24*time.Hour), simNow
	// The syncer's clock: the range's start has just passed out of the
	// source's 90 days.
	now := since.Add(sessions.Retention + 2*time.Hour)
	edge := now.Add(-sessions.Retention + time.Minute)
	var refused, pages atomic.Int32
	// The source, as the sync goes on, refuses a since before its edge
	// on the sync's pages (limit 20; the count at the start, limit 1000,
	// came before the edge moved) from the tenth on: by then the sync is
	// past the edge (about 40 sessions an hour, 20 a page), so nothing of
	// the range is really gone and the whole range must be archived.
	ts := serve(t, eng, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if r.URL.Path == "/v1/sessions" && q.Get("limit") == "20" && q.Get("after") != "" && pages.Add(1) >= 10 {
				if s, err := time.Parse(time.RFC3339Nano, q.Get("since")); err == nil && s.Before(edge) {
					refused.Add(1)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					w.Write([]byte(`{"error":{"code":"out_of_range","message":"sessions are kept for 2160h0m0s","field":"since"}}`))
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	f := newFixture(t, ts.URL, sessions.Options{PageSize: 20, Now: func() time.Time { return now }})
	if _, err := f.sy.SyncRange(context.Background(), since, until); err != nil {
		t.Fatalf("the sync failed at the moving edge: %v", err)
	}
	if refused.Load() != 1 {
		t.Fatalf("the source refused %d pages, want 1 (then the sync lists from the new edge)", refused.Load())
	}
	checkAgainstTruth(t, f.store, f.dir, truth(t, eng, since, until))
}
