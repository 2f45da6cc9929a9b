package runtime

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/bus"
	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/simulator"
)

// TestRunArchivesSessionsAsTheyEnd: `acdbridge run` with the default
// archive (SQLite and the recordings folder under data_dir) archives every
// session that ends, with its recording verified.
func TestRunArchivesSessionsAsTheyEnd(t *testing.T) {
	r := newRig(t, 8, 2, 1<<14)
	r.converge(fresh(r)) // the bridge follows the stream
	// Each archived session went on the bus whole (not as the stream's
	// summary), once.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	onBus := map[string][]bus.SessionMsg{}
	ready := make(chan struct{})
	go r.bridge.bus.ConsumeEvents(ctx, "sessions-test", []string{bus.KindSession}, func() { close(ready) }, func(_ context.Context, ev bus.Event) error {
		m, err := bus.DecodeSessionMsg(ev.Data)
		if err != nil {
			t.Errorf("session on the bus: %v", err)
			return err
		}
		mu.Lock()
		onBus[m.ID] = append(onBus[m.ID], m)
		mu.Unlock()
		return nil
	})
	<-ready
	start := r.clock.Now()
	for range 20 {
		r.step(time.Minute, fresh(r))
	}
	page, err := r.engine.Sessions(simulator.SessionQuery{Since: start, Until: r.clock.Now(), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Sessions) == 0 {
		t.Fatal("no session ended in 20 simulated minutes")
	}
	ac := r.bridge.opts.Config.Archive.Resolved(r.bridge.opts.Config.DataDir)
	st, err := archive.Open(context.Background(), ac.Driver, ac.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := make([]string, len(page.Sessions))
	for i, s := range page.Sessions {
		ids[i] = s.ID
	}
	testutil.WaitFor(t, "every ended session archived with its recording", 60*time.Second, 20*time.Millisecond, func() bool {
		known, err := st.Known(context.Background(), ids)
		if err != nil {
			return false
		}
		for _, id := range ids {
			if known[id] != archive.RecordingStored {
				return false
			}
		}
		return true
	})
	folder := archive.Folder{Root: ac.RecordingsDir}
	for _, s := range page.Sessions {
		rec, _ := r.engine.Session(s.ID)
		got, err := st.Get(context.Background(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.AgentID != rec.AgentID || got.Recording.SHA256 != rec.Recording.SHA256 || len(got.Events) != len(rec.Events) {
			t.Fatalf("%s archived as %+v; the simulator has %+v", s.ID, got, rec)
		}
		if err := folder.Verify(got.Recording.Path, rec.Recording.Size, rec.Recording.SHA256); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, "every archived session on the bus", 30*time.Second, 20*time.Millisecond, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			if len(onBus[id]) == 0 {
				return false
			}
		}
		return true
	})
	// Published, they leave the archive's outbox (a restart does not
	// hand them on again).
	testutil.WaitFor(t, "the published sessions out of the archive's outbox", 30*time.Second, 20*time.Millisecond, func() bool {
		q, err := st.Queued(context.Background())
		if err != nil {
			return false
		}
		for _, id := range q {
			if slices.Contains(ids, id) {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	for _, s := range page.Sessions {
		rec, _ := r.engine.Session(s.ID)
		ms := onBus[s.ID]
		if len(ms) != 1 {
			t.Fatalf("%s on the bus %d times", s.ID, len(ms))
		}
		m := ms[0]
		if m.Resolution != rec.Resolution || len(m.Events) != len(rec.Events) || len(m.Fields) != len(rec.Fields) ||
			m.Recording == nil || m.Recording.SHA256 != rec.Recording.SHA256 || (m.Survey == nil) != (rec.Survey == nil) {
			t.Fatalf("%s on the bus as %+v; the simulator has %+v", s.ID, m, rec)
		}
	}
	if ac.DSN != filepath.Join(r.bridge.opts.Config.DataDir, "archive.db") {
		t.Fatalf("the default archive is at %s", ac.DSN)
	}
}

// TestRunWithoutArchive: realtime off and no schedule open nothing.
func TestRunWithoutArchive(t *testing.T) {
	r := newRig(t, 2, 1, 1<<10, func(c *config.Config) { c.Archive.Realtime = false })
	if r.bridge.syncer != nil {
		t.Fatal("a syncer runs with realtime off")
	}
	if m, _ := filepath.Glob(filepath.Join(r.bridge.opts.Config.DataDir, "archive.db*")); len(m) != 0 {
		t.Fatalf("an archive was made: %v", m)
	}
}
