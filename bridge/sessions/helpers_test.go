package sessions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/sessions"
	"github.com/acdbridge/acdbridge/bridge/source"
	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/simulator"
)

// simNow is the simulated time of every test simulator: the engine never
// runs, so only the history (a pure function of the seed) exists.
var simNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

const token = "test-token"

// newSim is a simulator with hours of history and small recordings.
func newSim(t testing.TB, hours int) *simulator.Engine {
	t.Helper()
	sc := simulator.DefaultScenario(20, 6)
	sc.Seed = 7
	sc.History = time.Duration(hours) * time.Hour
	sc.Sessions.RecordingMin, sc.Sessions.RecordingMax = 64, 8192
	eng, err := simulator.NewEngine(sc, simulator.NewManualClock(simNow), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// serve serves eng's API behind wrap (nil: as is).
func serve(t testing.TB, eng *simulator.Engine, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	return testutil.ServeSimulator(t, eng, simulator.Options{Token: token}, wrap)
}

// truth is every session the simulator lists in [since, until).
func truth(t *testing.T, eng *simulator.Engine, since, until time.Time) []simulator.SessionRecord {
	t.Helper()
	var out []simulator.SessionRecord
	after := ""
	for {
		page, err := eng.Sessions(simulator.SessionQuery{Since: since, Until: until, After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Sessions {
			rec, err := eng.Session(s.ID)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rec)
		}
		if page.Next == "" {
			return out
		}
		after = page.Next
	}
}

type fixture struct {
	store *archive.Store
	dir   string
	sy    *sessions.Syncer
}

func newFixture(t testing.TB, url string, opts sessions.Options) fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := archive.Open(context.Background(), archive.DriverSQLite, filepath.Join(dir, "archive.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newFixtureOn(t, url, opts, st, dir)
}

// newFixtureOn is newFixture on a store opened by the caller.
func newFixtureOn(t testing.TB, url string, opts sessions.Options, st *archive.Store, dir string) fixture {
	t.Helper()
	src, err := source.New(source.Config{URL: url, Token: token, RateLimit: 10000, Burst: 100, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts.Source, opts.Store, opts.RecordingsDir = src, st, filepath.Join(dir, "recordings")
	if opts.BackoffMin == 0 {
		opts.BackoffMin, opts.BackoffMax = time.Millisecond, 5*time.Millisecond
	}
	sy, err := sessions.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{store: st, dir: opts.RecordingsDir, sy: sy}
}

// checkAgainstTruth checks that the archive holds exactly the sessions of
// want, each as the simulator has it, with its recording stored and
// verified, and no temporary file left.
func checkAgainstTruth(t *testing.T, st *archive.Store, dir string, want []simulator.SessionRecord) {
	t.Helper()
	ctx := context.Background()
	if n, err := st.Count(ctx); err != nil || n != int64(len(want)) {
		t.Fatalf("archive holds %d sessions (%v), the simulator %d", n, err, len(want))
	}
	folder := archive.Folder{Root: dir}
	for _, rec := range want {
		got, err := st.Get(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(rec)
		var a, b any
		json.Unmarshal(raw, &a)
		if err := json.Unmarshal(got.Raw, &b); err != nil {
			t.Fatalf("%s: raw is not JSON: %v", rec.ID, err)
		}
		if ja, jb := mustJSON(a), mustJSON(b); ja != jb {
			t.Fatalf("%s: archived raw record differs from the simulator's\n got %s\nwant %s", rec.ID, jb, ja)
		}
		if got.AgentID != rec.AgentID || got.Queue != rec.Queue || !got.EndedAt.Equal(rec.EndedAt.Truncate(time.Millisecond)) ||
			len(got.Events) != len(rec.Events) || len(got.Fields) != len(rec.Fields) || (got.Survey == nil) != (rec.Survey == nil) ||
			got.Recording.SHA256 != rec.Recording.SHA256 || got.Recording.Size != rec.Recording.Size || got.Resolution != rec.Resolution {
			t.Fatalf("%s: archived %+v\nsimulator %+v", rec.ID, got, rec)
		}
		if got.Recording.State != archive.RecordingStored {
			t.Fatalf("%s: recording %s (%s)", rec.ID, got.Recording.State, got.Recording.LastError)
		}
		if err := folder.Verify(got.Recording.Path, rec.Recording.Size, rec.Recording.SHA256); err != nil {
			t.Fatalf("%s: recording file: %v", rec.ID, err)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// tempFiles lists temporary files left in the recordings folder.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*", ".*.tmp"))
	return m
}
