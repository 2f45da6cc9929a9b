package sessions_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/sessions"
	"github.com/acdbridge/acdbridge/simulator"
)

// TestOnArchivedOncePerSession: a range sync whose recordings all failed
// archives the records (OnArchived once each); a second sync stores the
// recordings and must not pass the sessions on again, since the bus and
// the adapters behind OnArchived (RT comments on a ticket) would write them
// twice.
func TestOnArchivedOncePerSession(t *testing.T) {
	eng := newSim(t, 3)
	since, until := simNow.Add(-2*time.Hour), simNow.Add(-time.Hour)
	want := truth(t, eng, since, until)
	var mu sync.Mutex
	calls := map[string]int{}
	onArchived := func(_ context.Context, x archive.Session) { mu.Lock(); calls[x.ID]++; mu.Unlock() }

	// Every recording fails the first sync's tries.
	b := &brokenOnce{times: 2, seen: map[string]int{}, break_: func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}}
	ts := serve(t, eng, b.wrap(func(p string) bool { return strings.HasSuffix(p, "/recording") }))
	f := newFixture(t, ts.URL, sessions.Options{Attempts: 2, OnArchived: onArchived})
	ctx := context.Background()
	var fe *sessions.FailedError
	if _, err := f.sy.SyncRange(ctx, since, until); !errors.As(err, &fe) || fe.Failed != len(want) {
		t.Fatalf("first sync: %v; want every one of %d recordings failed", err, len(want))
	}
	// The second gets them.
	if _, err := f.sy.SyncRange(ctx, since, until); err != nil {
		t.Fatalf("second sync: %v", err)
	}
	checkAgainstTruth(t, f.store, f.dir, want)
	if len(calls) != len(want) {
		t.Fatalf("OnArchived saw %d sessions, want %d", len(calls), len(want))
	}
	for _, rec := range want {
		if n := calls[rec.ID]; n != 1 {
			t.Fatalf("OnArchived called %d times for %s; want once", n, rec.ID)
		}
	}
}

// TestPollGoesPastARecordThatFails: one session whose record the source
// always serves malformed keeps the real-time checkpoint before it, but
// the poll still archives every session listed after it.
func TestPollGoesPastARecordThatFails(t *testing.T) {
	eng := newSim(t, 6)
	history := truth(t, eng, simNow.Add(-24*time.Hour), simNow)
	if len(history) < 50 {
		t.Fatalf("only %d sessions of history", len(history))
	}
	bad := history[3]
	b := &brokenOnce{times: 1 << 30, seen: map[string]int{}, break_: recordWith(func(s string) string { return s[:len(s)/2] })}
	ts := serve(t, eng, b.wrap(func(p string) bool { return p == "/v1/sessions/"+bad.ID }))
	f := newFixture(t, ts.URL, sessions.Options{PageSize: 10, Attempts: 2})
	ctx := context.Background()
	f.sy.Poll(ctx)
	var want []simulator.SessionRecord
	for _, rec := range history {
		if rec.ID != bad.ID {
			want = append(want, rec)
		}
	}
	checkAgainstTruth(t, f.store, f.dir, want)
	cp, _, _ := f.store.Checkpoint(ctx, sessions.RealtimeName)
	if !cp.At.Before(bad.EndedAt) {
		t.Fatalf("the real-time checkpoint %s moved past the failed session (ended %s)", cp.At, bad.EndedAt)
	}
}
