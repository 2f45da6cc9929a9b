package sessions_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/sessions"
)

func TestSyncRangeMatchesTheSimulator(t *testing.T) {
	eng := newSim(t, 6)
	ts := serve(t, eng, nil)
	var mu sync.Mutex
	var archived []string
	var last sessions.Progress
	f := newFixture(t, ts.URL, sessions.Options{PageSize: 17, Concurrency: 4,
		OnArchived: func(_ context.Context, x archive.Session) { mu.Lock(); archived = append(archived, x.ID); mu.Unlock() },
		Progress:   func(p sessions.Progress) { last = p }})
	since, until := simNow.Add(-5*time.Hour), simNow.Add(-time.Hour)
	want := truth(t, eng, since, until)
	if len(want) < 100 {
		t.Fatalf("the simulator made %d sessions; the test wants more than 100", len(want))
	}
	p, err := f.sy.SyncRange(context.Background(), since, until)
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != int64(len(want)) || p.Done != p.Total || p.Skipped != 0 || p.Failed != 0 || last != p {
		t.Fatalf("progress %+v (last reported %+v), want %d done", p, last, len(want))
	}
	if len(archived) != len(want) {
		t.Fatalf("OnArchived called %d times, want %d", len(archived), len(want))
	}
	checkAgainstTruth(t, f.store, f.dir, want)
	cp, ok, _ := f.store.Checkpoint(context.Background(), sessions.RangeName(since, until))
	if !ok || cp.Cursor != "" || !cp.At.Equal(until) || cp.Done != p.Total {
		t.Fatalf("checkpoint after a whole range: %+v", cp)
	}
	// Again: everything is skipped, nothing duplicated.
	p, err = f.sy.SyncRange(context.Background(), since, until)
	if err != nil || p.Skipped != int64(len(want)) {
		t.Fatalf("second sync: %+v, %v", p, err)
	}
	checkAgainstTruth(t, f.store, f.dir, want)
}

// brokenOnce serves a broken answer the first times paths are asked for,
// then the good one.
type brokenOnce struct {
	mu     sync.Mutex
	times  int            // how many broken answers per path
	seen   map[string]int // path → calls
	break_ func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

func (b *brokenOnce) wrap(match func(path string) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.mu.Lock()
			n := 0
			if match(r.URL.Path) {
				b.seen[r.URL.Path]++
				n = b.seen[r.URL.Path]
			}
			b.mu.Unlock()
			if n > 0 && n <= b.times {
				b.break_(w, r, next)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// recordWith serves the good record changed by edit.
func recordWith(edit func(string) string) func(http.ResponseWriter, *http.Request, http.Handler) {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := &captured{header: http.Header{}}
		next.ServeHTTP(rec, r)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(edit(rec.body.String())))
	}
}

type captured struct {
	header http.Header
	body   strings.Builder
	code   int
}

func (c *captured) Header() http.Header         { return c.header }
func (c *captured) Write(b []byte) (int, error) { return c.body.Write(b) }
func (c *captured) WriteHeader(code int)        { c.code = code }

func TestBrokenRecordsAndRecordingsAreRetried(t *testing.T) {
	isRecord := func(p string) bool {
		return strings.HasPrefix(p, "/v1/sessions/s-") && !strings.HasSuffix(p, "/recording")
	}
	isRecording := func(p string) bool { return strings.HasSuffix(p, "/recording") }
	cases := []struct {
		name  string
		match func(string) bool
		brk   func(http.ResponseWriter, *http.Request, http.Handler)
	}{
		{"rating outside 1..5", isRecord, recordWith(func(s string) string {
			if i := strings.Index(s, `"rating":`); i >= 0 {
				return s[:i] + `"rating":9,"x":` + s[i+len(`"rating":`):]
			}
			return strings.Replace(s, `"survey":null`, `"survey":{"rating":0,"comment":""}`, 1)
		})},
		{"end before start", isRecord, recordWith(func(s string) string {
			return strings.Replace(s, `"ended_at":"2026`, `"ended_at":"2025`, 1)
		})},
		{"unknown resolution", isRecord, recordWith(func(s string) string {
			return strings.Replace(strings.Replace(s, `"resolution":"resolved"`, `"resolution":"maybe"`, 1), `"resolution":"unresolved"`, `"resolution":"maybe"`, 1)
		})},
		{"missing id", isRecord, recordWith(func(s string) string {
			return strings.Replace(s, `"id":"s-`, `"id":"","was":"s-`, 1)
		})},
		{"truncated JSON", isRecord, recordWith(func(s string) string { return s[:len(s)/2] })},
		{"not ready (409)", isRecord, func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"error":{"code":"conflict","message":"session is still running"}}`))
		}},
		{"recording with a wrong checksum", isRecording, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			rec := &captured{header: http.Header{}}
			next.ServeHTTP(rec, r)
			b := []byte(rec.body.String())
			b[len(b)/2] ^= 0xff
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(b)
		}},
		{"recording cut short", isRecording, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			rec := &captured{header: http.Header{}}
			next.ServeHTTP(rec, r)
			b := rec.body.String()
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write([]byte(b[:len(b)/2]))
		}},
		{"recording too long", isRecording, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			rec := &captured{header: http.Header{}}
			next.ServeHTTP(rec, r)
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write([]byte(rec.body.String() + "extra"))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eng := newSim(t, 3)
			since, until := simNow.Add(-2*time.Hour), simNow.Add(-time.Hour)
			want := truth(t, eng, since, until)

			// Broken once: retried, and the archive ends whole.
			b := &brokenOnce{times: 1, seen: map[string]int{}, break_: tc.brk}
			ts := serve(t, eng, b.wrap(tc.match))
			f := newFixture(t, ts.URL, sessions.Options{Attempts: 3})
			if _, err := f.sy.SyncRange(context.Background(), since, until); err != nil {
				t.Fatal(err)
			}
			checkAgainstTruth(t, f.store, f.dir, want)
			if len(b.seen) < len(want) {
				t.Fatalf("only %d paths were broken; want every one of %d", len(b.seen), len(want))
			}
			for p, n := range b.seen {
				if n != 2 {
					t.Fatalf("%s asked %d times; want 2 (broken, then good)", p, n)
				}
			}
			if m := tempFiles(t, f.dir); len(m) != 0 {
				t.Fatalf("temporary files left: %v", m)
			}

			// Broken every time: a clear error, nothing kept silently.
			b = &brokenOnce{times: 1 << 30, seen: map[string]int{}, break_: tc.brk}
			ts = serve(t, eng, b.wrap(tc.match))
			reg := prometheus.NewRegistry()
			f = newFixture(t, ts.URL, sessions.Options{Attempts: 2, Registry: reg})
			_, err := f.sy.SyncRange(context.Background(), since, until)
			what := "record"
			if tc.match("/x/recording") {
				what = "recording"
			}
			mf, _ := reg.Gather()
			counts := map[string]float64{}
			for _, m := range mf {
				for _, x := range m.GetMetric() {
					key := m.GetName()
					for _, l := range x.GetLabel() {
						key += "/" + l.GetValue()
					}
					counts[key] = x.GetCounter().GetValue()
				}
			}
			if counts["acdbridge_sessions_failed_total/"+what] != float64(len(want)) || counts["acdbridge_sessions_failed_total/write"] != 0 {
				t.Fatalf("failed_total: %v; want %d %s failures", counts, len(want), what)
			}
			var fe *sessions.FailedError
			if !errors.As(err, &fe) || fe.Failed != len(want) {
				t.Fatalf("err = %v; want a FailedError for all %d sessions", err, len(want))
			}
			t.Logf("error: %v", err)
			if m := tempFiles(t, f.dir); len(m) != 0 {
				t.Fatalf("temporary files left: %v", m)
			}
			n, _ := f.store.Count(context.Background())
			if isRecording("/x/recording") && tc.match("/x/recording") {
				// The records are archived, their recordings failed, no file.
				if n != int64(len(want)) {
					t.Fatalf("%d records archived, want %d", n, len(want))
				}
				pend, _ := f.store.PendingRecordings(context.Background(), 10000)
				if len(pend) != len(want) {
					t.Fatalf("%d recordings pending or failed, want %d", len(pend), len(want))
				}
				for _, p := range pend {
					if p.Recording.State != archive.RecordingFailed || p.Recording.LastError == "" || p.Recording.Attempts != 2 || p.Recording.Path != "" {
						t.Fatalf("%s: %+v; want failed after 2 tries with its error", p.SessionID, p.Recording)
					}
					rel, _ := archive.Folder{Root: f.dir}.RelPath(p.SessionID, p.EndedAt)
					if _, err := os.Stat(archive.Folder{Root: f.dir}.Path(rel)); !os.IsNotExist(err) {
						t.Fatalf("%s: a recording file was kept: %v", p.SessionID, err)
					}
				}
			} else if n != 0 {
				t.Fatalf("%d malformed records archived", n)
			}
			cp, ok, _ := f.store.Checkpoint(context.Background(), sessions.RangeName(since, until))
			if ok && (cp.Cursor != "" || !cp.At.IsZero()) {
				t.Fatalf("the checkpoint moved past failed sessions: %+v", cp)
			}
		})
	}
}
