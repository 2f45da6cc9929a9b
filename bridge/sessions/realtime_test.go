package sessions_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/sessions"
	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/monitors"
	"github.com/acdbridge/acdbridge/simulator"
)

// TestRealtime archives what the first poll finds (the source's last 24
// hours) without handing it on (history, when the bridge is first switched
// on), then sessions that end later as SessionEnded announces them, each
// handed on once.
func TestRealtime(t *testing.T) {
	sc := simulator.DefaultScenario(20, 6)
	sc.Seed, sc.History = 3, 3*time.Hour
	sc.Sessions.RecordingMin, sc.Sessions.RecordingMax = 64, 4096
	clock := simulator.NewManualClock(simNow)
	eng, err := simulator.NewEngine(sc, clock, 10000)
	if err != nil {
		t.Fatal(err)
	}
	ts := serve(t, eng, nil)
	var mu sync.Mutex
	handed := map[string]int{}
	onArchived := func(_ context.Context, x archive.Session) { mu.Lock(); handed[x.ID]++; mu.Unlock() }
	f := newFixture(t, ts.URL, sessions.Options{PollInterval: time.Hour, OnArchived: onArchived})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.sy.RunRealtime(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	count := func() int64 { n, _ := f.store.Count(ctx); return n }
	history := truth(t, eng, simNow.Add(-24*time.Hour), simNow)
	if len(history) < 50 {
		t.Fatalf("only %d sessions of history", len(history))
	}
	testutil.WaitFor(t, "the first poll's sessions archived", 30*time.Second, 10*time.Millisecond, func() bool { return count() == int64(len(history)) })
	testutil.WaitFor(t, "the real-time checkpoint", 30*time.Second, 10*time.Millisecond, func() bool {
		cp, ok, _ := f.store.Checkpoint(ctx, sessions.RealtimeName)
		return ok && cp.At.Equal(history[len(history)-1].EndedAt.Truncate(time.Millisecond))
	})

	mu.Lock()
	if len(handed) != 0 {
		t.Errorf("the first poll handed on %d sessions of history, want none", len(handed))
	}
	mu.Unlock()

	// Live sessions end as the simulated clock moves.
	clock.Add(40 * time.Minute)
	page, err := eng.Sessions(simulator.SessionQuery{Since: simNow, Until: simNow.Add(time.Hour), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Sessions) == 0 {
		t.Fatal("no live session ended in 40 simulated minutes")
	}
	for _, s := range page.Sessions {
		if !strings.HasPrefix(s.ID, "s-0") {
			t.Fatalf("expected live sessions after simNow, got %s", s.ID)
		}
		f.sy.SessionEnded(monitors.SessionSummary{ID: s.ID, AgentID: s.AgentID, Queue: s.Queue, EndedAt: s.EndedAt})
	}
	all := truth(t, eng, simNow.Add(-24*time.Hour), simNow.Add(time.Hour))
	testutil.WaitFor(t, "the announced sessions archived", 30*time.Second, 10*time.Millisecond, func() bool { return count() == int64(len(all)) })
	checkAgainstTruth(t, f.store, f.dir, all)
	mu.Lock()
	defer mu.Unlock()
	if len(handed) != len(page.Sessions) {
		t.Errorf("handed on %d sessions, want the %d that ended live", len(handed), len(page.Sessions))
	}
	for _, s := range page.Sessions {
		if handed[s.ID] != 1 {
			t.Errorf("%s handed on %d times, want once", s.ID, handed[s.ID])
		}
	}
}

func TestSchedule(t *testing.T) {
	eng := newSim(t, 30)
	ts := serve(t, eng, nil)
	f := newFixture(t, ts.URL, sessions.Options{})
	ctx := context.Background()
	f.sy.Scheduled(ctx, simNow)
	checkAgainstTruth(t, f.store, f.dir, truth(t, eng, simNow.Add(-24*time.Hour), simNow))
	cp, ok, _ := f.store.Checkpoint(ctx, sessions.ScheduleName)
	if !ok || !cp.At.Equal(simNow) {
		t.Fatalf("schedule checkpoint %+v", cp)
	}
	// The next run starts where this one ended: nothing new, nothing done.
	f.sy.Scheduled(ctx, simNow)
	if n, _ := f.store.Count(ctx); n != int64(len(truth(t, eng, simNow.Add(-24*time.Hour), simNow))) {
		t.Fatalf("%d sessions after a second run", n)
	}

	if err := f.sy.RunSchedule(ctx, "every day at two"); err == nil || !strings.Contains(err.Error(), `expected a cron expression like "0 2 * * *"`) {
		t.Fatalf("a bad schedule: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.sy.RunSchedule(cctx, "0 2 * * *"); err != nil {
		t.Fatalf("RunSchedule after its context ended: %v", err)
	}
}
