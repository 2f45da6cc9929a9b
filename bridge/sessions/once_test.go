package sessions_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

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

// TestOutboxHandsOnAfterACrash: sessions passed to OnArchived but never
// published (the process died before the bus took them) are passed again
// by the next syncer on the same archive, once; published ones are not; a
// queued session that was never archived is dropped.
func TestOutboxHandsOnAfterACrash(t *testing.T) {
	eng := newSim(t, 3)
	ts := serve(t, eng, nil)
	since, until := simNow.Add(-2*time.Hour), simNow.Add(-time.Hour)
	want := truth(t, eng, since, until)
	ctx := context.Background()
	var mu sync.Mutex
	calls := map[string]int{}
	onArchived := func(_ context.Context, x archive.Session) { mu.Lock(); calls[x.ID]++; mu.Unlock() }

	f := newFixture(t, ts.URL, sessions.Options{OnArchived: onArchived})
	if _, err := f.sy.SyncRange(ctx, since, until); err != nil {
		t.Fatal(err)
	}
	if len(calls) != len(want) {
		t.Fatalf("OnArchived saw %d sessions, want %d", len(calls), len(want))
	}
	q, _ := f.store.Queued(ctx)
	if len(q) != len(want) {
		t.Fatalf("%d sessions queued, want all %d (none published yet)", len(q), len(want))
	}
	// The first third was published before the "crash"; a session queued
	// but never archived is there too.
	third := len(want) / 3
	var published []string
	for _, rec := range want[:third] {
		published = append(published, rec.ID)
	}
	f.sy.Published(ctx, published)
	if err := f.store.Enqueue(ctx, []string{"s-ghost"}); err != nil {
		t.Fatal(err)
	}

	// The next process: a new syncer on the same archive.
	clear(calls)
	g := newFixtureOn(t, ts.URL, sessions.Options{OnArchived: onArchived}, f.store, filepath.Dir(f.dir))
	g.sy.ReplayOutbox(ctx)
	g.sy.ReplayOutbox(ctx) // once per syncer
	if len(calls) != len(want)-third {
		t.Fatalf("replay passed %d sessions, want the %d unpublished", len(calls), len(want)-third)
	}
	for i, rec := range want {
		n := calls[rec.ID]
		if i < third && n != 0 || i >= third && n != 1 {
			t.Fatalf("%s (published: %t) passed %d times on replay", rec.ID, i < third, n)
		}
	}
	q, _ = f.store.Queued(ctx)
	if len(q) != len(want)-third || slices.Contains(q, "s-ghost") {
		t.Fatalf("outbox after the replay: %d sessions (ghost kept: %t), want the %d unpublished", len(q), slices.Contains(q, "s-ghost"), len(want)-third)
	}
}

// TestPollSaysWhenItsCheckpointIsTooOld: a real-time checkpoint older than
// the source keeps makes the poll fall back to the source's last day; the
// sessions in between are not archived by real time, and the log says so.
func TestPollSaysWhenItsCheckpointIsTooOld(t *testing.T) {
	eng := newSim(t, 3)
	ts := serve(t, eng, nil)
	var log bytes.Buffer
	f := newFixture(t, ts.URL, sessions.Options{Logger: hclog.New(&hclog.LoggerOptions{Output: &log, Level: hclog.Warn})})
	ctx := context.Background()
	old := time.Now().Add(-sessions.Retention + 30*time.Minute)
	if err := f.store.SaveCheckpoint(ctx, archive.Checkpoint{Name: sessions.RealtimeName, At: old}); err != nil {
		t.Fatal(err)
	}
	f.sy.Poll(ctx)
	if !strings.Contains(log.String(), "the real-time checkpoint is older than the source's retention") || !strings.Contains(log.String(), "acdbridge sessions sync --since 90d") {
		t.Fatalf("the log says nothing of the gap:\n%s", log.String())
	}
}
