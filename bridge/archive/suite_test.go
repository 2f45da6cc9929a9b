package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The store tests run on SQLite in `make test` (store_test.go) and on real
// PostgreSQL and MariaDB servers in `make integration`
// (integration_test.go): the same table on every driver.

// base is a session that sets every column.
func base(id string) Session {
	t0 := time.Date(2026, 11, 1, 9, 30, 0, 123_000_000, time.UTC)
	return Session{
		ID: id, RequestID: "r-" + id, AgentID: "a-0007", Queue: "support/printers", ExternalRef: "CRM-001234",
		CustomerName: "Zoë Ødegård", CustomerEmail: "zoe@customer.example",
		StartedAt: t0, EndedAt: t0.Add(7*time.Minute + 250*time.Millisecond), DurationSeconds: 420.25,
		Resolution: "resolved", ReplayURL: "https://replay.example.invalid/sessions/" + id,
		Fields: map[string]string{"problem": "printer prints blank pages", "serial_number": "SN-00FF", "account": "ACC-1", "empty": ""},
		Events: []Event{
			{At: t0.Add(time.Second), Type: EventDiagnostics, Diagnostics: &Diagnostics{OS: "Windows 11 Pro 23H2", Hostname: "DESKTOP-1", MemoryMB: 16384,
				Software: []Software{{Name: "7-Zip", Version: "23.1"}, {Name: "Zoom", Version: "6.0.2"}}}},
			{At: t0.Add(2 * time.Second), Type: EventChat, From: "a-0007", Text: "Hello, I'm connected — \"quoted\" and 'single' ✓"},
			{At: t0.Add(2 * time.Second), Type: EventChat, From: "customer", Text: "same instant, kept in order"},
			{At: t0.Add(3 * time.Second), Type: EventFileTransfer, From: "customer", File: &File{Name: "support-log.zip", Size: 8 << 20, Direction: "from_customer"}},
			{At: t0.Add(4 * time.Second), Type: EventReboot, From: "a-0007", Text: "remote reboot, session reconnected"},
			{At: t0.Add(5 * time.Second), Type: EventTransfer, From: "a-0007", To: "a-0009", Text: "escalated to tier 2"},
			{At: t0.Add(6 * time.Second), Type: EventDiagnostics, Diagnostics: &Diagnostics{OS: "macOS 15.1", Hostname: "mac", MemoryMB: 0, Software: []Software{}}},
		},
		Survey:    &Survey{Rating: 2, Comment: "Took far too long."},
		Recording: Recording{Size: 12345, SHA256: strings.Repeat("ab", 32), URL: "/v1/sessions/" + id + "/recording", Path: "2026/11/01/" + id + ".rec", State: RecordingStored, Attempts: 2, LastError: "earlier: cut"},
		Raw:       []byte(`{"id":"` + id + `","note":"kept byte for byte","x":[1,2]}`),
	}
}

// storeCases each change something of base.
var storeCases = []struct {
	name string
	edit func(*Session)
}{
	{"every column set", func(*Session) {}},
	{"no survey", func(s *Session) { s.Survey = nil }},
	{"survey without comment", func(s *Session) { s.Survey = &Survey{Rating: 5} }},
	{"no events, no fields", func(s *Session) { s.Events = nil; s.Fields = map[string]string{} }},
	{"no external ref, unresolved", func(s *Session) { s.ExternalRef = ""; s.Resolution = "unresolved" }},
	{"zero duration", func(s *Session) { s.EndedAt = s.StartedAt; s.DurationSeconds = 0 }},
	{"recording pending", func(s *Session) {
		s.Recording.Path, s.Recording.State, s.Recording.Attempts, s.Recording.LastError = "", RecordingPending, 0, ""
	}},
	{"recording failed", func(s *Session) {
		s.Recording.Path, s.Recording.State, s.Recording.LastError = "", RecordingFailed, "sha256 mismatch"
	}},
	{"empty recording", func(s *Session) { s.Recording.Size = 0 }},
	{"long text", func(s *Session) {
		s.Events[1].Text = strings.Repeat("long line ", 2000)
		s.Fields["note"] = strings.Repeat("x", 5000)
	}},
	{"empty raw becomes {}", func(s *Session) { s.Raw = nil }},
}

// want is what Get returns for s once archived.
func want(s Session, archivedAt time.Time) Session {
	s.ArchivedAt = archivedAt
	if s.Raw == nil {
		s.Raw = []byte("{}")
	}
	if s.Fields == nil {
		s.Fields = map[string]string{}
	}
	if s.Recording.State == "" {
		s.Recording.State = RecordingPending
	}
	for i := range s.Events {
		if d := s.Events[i].Diagnostics; d != nil && d.Software == nil {
			d.Software = []Software{}
		}
	}
	return s
}

func runStoreSuite(t *testing.T, open func(t *testing.T) *Store) {
	ctx := context.Background()
	t.Run("round trip of every column", func(t *testing.T) {
		st := open(t)
		for i, tc := range storeCases {
			t.Run(tc.name, func(t *testing.T) {
				s := base(fmt.Sprintf("s-%03d", i))
				tc.edit(&s)
				batch := []Session{s}
				if err := st.Put(ctx, batch); err != nil {
					t.Fatal(err)
				}
				got, err := st.Get(ctx, s.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.ArchivedAt.IsZero() {
					t.Fatal("archived_at not set")
				}
				w := want(s, got.ArchivedAt)
				if !reflect.DeepEqual(got, w) {
					gj, _ := json.MarshalIndent(got, "", " ")
					wj, _ := json.MarshalIndent(w, "", " ")
					t.Fatalf("round trip differs\n got %s\nwant %s", gj, wj)
				}
			})
		}
		n, err := st.Count(ctx)
		if err != nil || n != int64(len(storeCases)) {
			t.Fatalf("count = %d, %v; want %d", n, err, len(storeCases))
		}
	})

	t.Run("idempotent by id", func(t *testing.T) {
		st := open(t)
		a, b := base("s-a"), base("s-b")
		if err := st.Put(ctx, []Session{a, b}); err != nil {
			t.Fatal(err)
		}
		// Again, changed: fewer events, another survey, a field gone; the
		// recording (same sha256, state left empty) keeps its state.
		a2 := base("s-a")
		a2.Events = a2.Events[:2]
		a2.Survey = &Survey{Rating: 5, Comment: "second"}
		delete(a2.Fields, "account")
		a2.Recording.State, a2.Recording.Path, a2.Recording.Attempts, a2.Recording.LastError = "", "", 0, ""
		if err := st.Put(ctx, []Session{a2, a2}); err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, []Session{a2}); err != nil {
			t.Fatal(err)
		}
		got, err := st.Get(ctx, "s-a")
		if err != nil {
			t.Fatal(err)
		}
		w := want(a2, got.ArchivedAt)
		w.Recording = a.Recording
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("after re-archive:\n got %+v\nwant %+v", got, w)
		}
		for table, wantN := range map[string]int{"sessions": 2, "session_events": len(a2.Events) + len(b.Events),
			"session_fields": len(a2.Fields) + len(b.Fields), "surveys": 2, "recordings": 2} {
			var n int
			if err := st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil || n != wantN {
				t.Errorf("%s has %d rows (%v), want %d", table, n, err, wantN)
			}
		}
		// A new sha256 makes the recording pending again.
		a3 := a2
		a3.Recording.SHA256 = strings.Repeat("cd", 32)
		if err := st.Put(ctx, []Session{a3}); err != nil {
			t.Fatal(err)
		}
		got, _ = st.Get(ctx, "s-a")
		if got.Recording.State != RecordingPending || got.Recording.Path != "" {
			t.Fatalf("recording with a new sha256: %+v, want pending without path", got.Recording)
		}
	})

	t.Run("an invalid session fails its whole batch", func(t *testing.T) {
		st := open(t)
		for _, tc := range []struct {
			name string
			edit func(*Session)
			msg  string
		}{
			{"missing id", func(s *Session) { s.ID = "" }, "expected a non-empty id"},
			{"end before start", func(s *Session) { s.EndedAt = s.StartedAt.Add(-time.Second) }, "before started_at"},
			{"unknown resolution", func(s *Session) { s.Resolution = "maybe" }, `resolution: expected resolved or unresolved, got "maybe"`},
			{"rating 0", func(s *Session) { s.Survey.Rating = 0 }, "survey.rating: expected 1 to 5, got 0"},
			{"rating 6", func(s *Session) { s.Survey.Rating = 6 }, "survey.rating: expected 1 to 5, got 6"},
			{"bad sha256", func(s *Session) { s.Recording.SHA256 = "ABC" }, "recording.sha256"},
			{"unknown event", func(s *Session) { s.Events[0].Type = "dance" }, `events[0].type`},
			{"missing agent", func(s *Session) { s.AgentID = "" }, "agent_id"},
			// What one dialect would refuse, every one refuses alike.
			{"agent id over 191 characters", func(s *Session) { s.AgentID = strings.Repeat("ä", 192) }, "agent_id: expected at most 191 characters, got 192"},
			{"external_ref over 256 characters", func(s *Session) { s.ExternalRef = strings.Repeat("e", 257) }, "external_ref: expected at most 256 characters, got 257"},
			{"field name over 191 characters", func(s *Session) { s.Fields[strings.Repeat("f", 192)] = "v" }, "fields name: expected at most 191 characters"},
			{"transfer target over 191 characters", func(s *Session) { s.Events[5].To = strings.Repeat("a", 192) }, "events[5].to: expected at most 191 characters"},
			{"chat text over 65535 bytes", func(s *Session) { s.Events[1].Text = strings.Repeat("x", 65536) }, "events[1].text: expected at most 65535 bytes, got 65536"},
			{"NUL in a chat text", func(s *Session) { s.Events[1].Text = "a\x00b" }, "events[1].text: expected text without NUL characters"},
			{"NUL in a field", func(s *Session) { s.Fields["problem"] = "\x00" }, "fields[problem]: expected text without NUL"},
			{"NUL in the survey comment", func(s *Session) { s.Survey.Comment = "\x00" }, "survey.comment: expected text without NUL"},
			{"memory over 32 bits", func(s *Session) { s.Events[0].Diagnostics.MemoryMB = 1 << 31 }, "events[0].diagnostics.memory_mb: expected 0 to 2147483647"},
			{"year 10000", func(s *Session) { s.EndedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "ended_at: expected a time in the years 1000 to 9999"},
			{"event in year 999", func(s *Session) { s.Events[2].At = time.Date(999, 1, 1, 0, 0, 0, 0, time.UTC) }, "events[2].at: expected a time in the years 1000 to 9999"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				good, bad := base("s-good"), base("s-bad")
				tc.edit(&bad)
				err := st.Put(ctx, []Session{good, bad})
				if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "nothing of this batch") {
					t.Fatalf("err = %v; want one naming %q", err, tc.msg)
				}
				if n, _ := st.Count(ctx); n != 0 {
					t.Fatalf("%d sessions written by a failed batch", n)
				}
			})
		}
	})

	t.Run("values at every dialect's bounds are kept whole", func(t *testing.T) {
		st := open(t)
		x := base("s-" + strings.Repeat("i", 189))
		x.AgentID, x.Queue, x.RequestID = strings.Repeat("ä", 191), strings.Repeat("q", 191), strings.Repeat("r", 191)
		x.ExternalRef = strings.Repeat("e", 256) // a connection code's longest
		x.Fields[strings.Repeat("ß", 191)] = strings.Repeat("v", 65535)
		x.Events[1].Text = strings.Repeat("t", 65535)
		x.Events[5].From, x.Events[5].To = strings.Repeat("f", 191), strings.Repeat("ø", 191)
		x.Events[0].Diagnostics.MemoryMB = 1<<31 - 1
		x.Survey.Comment = strings.Repeat("c", 65535)
		x.StartedAt = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := st.Put(ctx, []Session{x}); err != nil {
			t.Fatal(err)
		}
		got, err := st.Get(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.AgentID != x.AgentID || got.Queue != x.Queue || got.ExternalRef != x.ExternalRef || !reflect.DeepEqual(got.Fields, x.Fields) || got.Events[1].Text != x.Events[1].Text ||
			got.Events[5].From != x.Events[5].From || got.Events[5].To != x.Events[5].To || got.Events[0].Diagnostics.MemoryMB != x.Events[0].Diagnostics.MemoryMB ||
			got.Survey.Comment != x.Survey.Comment || !got.StartedAt.Equal(x.StartedAt) {
			t.Fatal("a session at the bounds came back changed")
		}
	})

	t.Run("outbox", func(t *testing.T) {
		st := open(t)
		if q, err := st.Queued(ctx); err != nil || len(q) != 0 {
			t.Fatalf("a new archive's outbox: %v, %v", q, err)
		}
		if err := st.Enqueue(ctx, []string{"s-b", "s-a", "s-b"}); err != nil {
			t.Fatal(err)
		}
		if err := st.Enqueue(ctx, []string{"s-a", "s-c"}); err != nil { // again: harmless
			t.Fatal(err)
		}
		q, err := st.Queued(ctx)
		if err != nil || strings.Join(q, ",") != "s-b,s-a,s-c" && strings.Join(q, ",") != "s-a,s-b,s-c" {
			t.Fatalf("queued %v, %v; want s-a, s-b, s-c", q, err)
		}
		if err := st.Dequeue(ctx, []string{"s-a", "s-none", "s-c"}); err != nil {
			t.Fatal(err)
		}
		if q, err := st.Queued(ctx); err != nil || strings.Join(q, ",") != "s-b" {
			t.Fatalf("after a dequeue: %v, %v; want s-b", q, err)
		}
	})

	t.Run("not found", func(t *testing.T) {
		st := open(t)
		if _, err := st.Get(ctx, "s-none"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		if err := st.SetRecording(ctx, "s-none", Recording{State: RecordingStored}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("SetRecording err = %v, want ErrNotFound", err)
		}
	})

	t.Run("recordings, known, pending", func(t *testing.T) {
		st := open(t)
		a, b := base("s-1"), base("s-2")
		b.Recording.State, b.Recording.Path = RecordingPending, ""
		if err := st.Put(ctx, []Session{a, b}); err != nil {
			t.Fatal(err)
		}
		known, err := st.Known(ctx, []string{"s-1", "s-2", "s-3"})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(known, map[string]RecordingState{"s-1": RecordingStored, "s-2": RecordingPending}) {
			t.Fatalf("known = %v", known)
		}
		pend, err := st.PendingRecordings(ctx, 10)
		if err != nil || len(pend) != 1 || pend[0].SessionID != "s-2" || !pend[0].EndedAt.Equal(b.EndedAt) || pend[0].Recording.SHA256 != b.Recording.SHA256 {
			t.Fatalf("pending = %+v, %v", pend, err)
		}
		r := Recording{Path: "2026/11/01/s-2.rec", State: RecordingStored, Attempts: 3}
		if err := st.SetRecording(ctx, "s-2", r); err != nil {
			t.Fatal(err)
		}
		got, _ := st.Get(ctx, "s-2")
		if got.Recording.Path != r.Path || got.Recording.State != r.State || got.Recording.Attempts != 3 || got.Recording.Size != b.Recording.Size {
			t.Fatalf("after SetRecording: %+v", got.Recording)
		}
		if err := st.SetRecording(ctx, "s-2", Recording{State: "weird"}); err == nil {
			t.Fatal("an unknown state was accepted")
		}
	})

	t.Run("checkpoints", func(t *testing.T) {
		st := open(t)
		if _, ok, err := st.Checkpoint(ctx, "range x"); ok || err != nil {
			t.Fatalf("empty: ok=%v err=%v", ok, err)
		}
		since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		c := Checkpoint{Name: "range x", Since: since, Until: since.Add(24 * time.Hour), Cursor: "opaque:1", At: since.Add(time.Hour + 5*time.Millisecond), Done: 7, Total: 9}
		for range 2 {
			if err := st.SaveCheckpoint(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		got, ok, err := st.Checkpoint(ctx, "range x")
		if !ok || err != nil || got.UpdatedAt.IsZero() {
			t.Fatalf("ok=%v err=%v %+v", ok, err, got)
		}
		got.UpdatedAt = time.Time{}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("checkpoint\n got %+v\nwant %+v", got, c)
		}
		// Times left out are NULL and come back zero.
		if err := st.SaveCheckpoint(ctx, Checkpoint{Name: "realtime"}); err != nil {
			t.Fatal(err)
		}
		got, _, _ = st.Checkpoint(ctx, "realtime")
		if !got.Since.IsZero() || !got.At.IsZero() || got.Cursor != "" {
			t.Fatalf("empty checkpoint: %+v", got)
		}
		if err := st.DeleteCheckpoint(ctx, "range x"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := st.Checkpoint(ctx, "range x"); ok {
			t.Fatal("deleted checkpoint still there")
		}
	})

	t.Run("report figures", func(t *testing.T) {
		st := open(t)
		day := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
		var batch []Session
		for i, d := range []float64{60, 120, 180, 240, 600} {
			s := base(fmt.Sprintf("s-r%d", i))
			s.StartedAt, s.EndedAt, s.DurationSeconds = day, day.Add(time.Duration(d)*time.Second), d
			if i == 4 {
				s.Resolution = "unresolved"
				s.Survey = nil
				s.AgentID = "a-0002"
			} else {
				s.Survey = &Survey{Rating: i + 1}
			}
			batch = append(batch, s)
		}
		outside := base("s-out")
		outside.StartedAt, outside.EndedAt = day.Add(48*time.Hour), day.Add(49*time.Hour)
		batch = append(batch, outside)
		if err := st.Put(ctx, batch); err != nil {
			t.Fatal(err)
		}
		rows, err := st.Report(ctx, ByDay, day.Add(-time.Hour), day.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		w := []ReportRow{{Key: "2026-11-02", Sessions: 5, MedianDuration: 180, P90Duration: 456, ResolutionRate: 0.8, Rated: 4, AverageRating: 2.5, NegativeRatings: 2, NegativeRatingPct: 50}}
		if !reflect.DeepEqual(rows, w) {
			t.Fatalf("by day\n got %+v\nwant %+v", rows, w)
		}
		rows, _ = st.Report(ctx, ByAgent, day.Add(-time.Hour), day.Add(24*time.Hour))
		if len(rows) != 2 || rows[0].Key != "a-0002" || rows[0].Sessions != 1 || rows[0].Rated != 0 || rows[1].Key != "a-0007" || rows[1].Sessions != 4 {
			t.Fatalf("by agent: %+v", rows)
		}
		if _, err := st.Report(ctx, "month", day, day.Add(time.Hour)); err == nil {
			t.Fatal("an unknown grouping was accepted")
		}
	})

	t.Run("migrations run again change nothing", func(t *testing.T) {
		st := open(t)
		v1, err := st.SchemaVersion(ctx)
		if err != nil || v1 < 1 {
			t.Fatalf("version %d, %v", v1, err)
		}
		if err := st.Put(ctx, []Session{base("s-keep")}); err != nil {
			t.Fatal(err)
		}
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		v2, _ := st.SchemaVersion(ctx)
		if n, _ := st.Count(ctx); v2 != v1 || n != 1 {
			t.Fatalf("after a second Migrate: version %d (was %d), %d sessions", v2, v1, n)
		}
	})
}
