package runtime

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/bridge/archive"
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
