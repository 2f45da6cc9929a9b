package runtime

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtestutil "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/bus"
	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/internal/testutil"
)

// TestSessionRecordMsg: an archived session becomes a bus message with
// every field of its record, which survives the bus's JSON.
func TestSessionRecordMsg(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 14, 5, 0, time.UTC)
	s := archive.Session{
		ID: "s-9b02", RequestID: "r-5f1c", AgentID: "a-0001", Queue: "support/printers", ExternalRef: "1234",
		CustomerName: "Grace Hopper", CustomerEmail: "grace@example.com",
		StartedAt: at, EndedAt: at.Add(1062 * time.Second), DurationSeconds: 1062,
		Resolution: "resolved", ReplayURL: "http://127.0.0.1:8089/replay/s-9b02",
		Fields: map[string]string{"problem": "blank pages"},
		Events: []archive.Event{
			{At: at.Add(time.Second), Type: archive.EventChat, From: "customer", To: "agent", Text: "hello"},
			{At: at.Add(2 * time.Second), Type: archive.EventTransfer, From: "a-0001", To: "a-0002", Text: "expert",
				File:        &archive.File{Name: "driver.zip", Size: 1024, Direction: "to_customer"},
				Diagnostics: &archive.Diagnostics{OS: "Windows 11", Hostname: "PC-1", MemoryMB: 16384, Software: []archive.Software{{Name: "Office", Version: "16"}}}},
		},
		Survey:    &archive.Survey{Rating: 4, Comment: "quick"},
		Recording: archive.Recording{Size: 734003, SHA256: strings.Repeat("ab", 32), URL: "http://127.0.0.1:8089/v1/sessions/s-9b02/recording", Path: "2026/03/02/s-9b02.rec", State: archive.RecordingStored},
	}
	m := sessionRecordMsg(s)
	if z := testutil.ZeroFields(m); !reflect.DeepEqual(z, []string{"Events[0].File", "Events[0].Diagnostics"}) {
		t.Fatalf("fields not carried: %v", z)
	}
	want := bus.SessionMsg{V: 1, ID: "s-9b02", RequestID: "r-5f1c", AgentID: "a-0001", Queue: "support/printers", ExternalRef: "1234",
		StartedAt: s.StartedAt, EndedAt: s.EndedAt, DurationSeconds: 1062,
		Customer: &bus.CustomerMsg{Name: "Grace Hopper", Email: "grace@example.com"}, Fields: s.Fields,
		Events: []bus.SessionEventMsg{
			{At: at.Add(time.Second), Type: "chat", From: "customer", To: "agent", Text: "hello"},
			{At: at.Add(2 * time.Second), Type: "transfer", From: "a-0001", To: "a-0002", Text: "expert",
				File:        &bus.FileMsg{Name: "driver.zip", Size: 1024, Direction: "to_customer"},
				Diagnostics: &bus.DiagnosticsMsg{OS: "Windows 11", Hostname: "PC-1", MemoryMB: 16384, Software: []bus.SoftwareMsg{{Name: "Office", Version: "16"}}}},
		},
		Resolution: "resolved", Survey: &bus.SurveyMsg{Rating: 4, Comment: "quick"},
		Recording: &bus.RecordingMsg{Size: 734003, SHA256: strings.Repeat("ab", 32), URL: "http://127.0.0.1:8089/v1/sessions/s-9b02/recording", Path: "2026/03/02/s-9b02.rec"},
		ReplayURL: "http://127.0.0.1:8089/replay/s-9b02"}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("message\n got %+v\nwant %+v", m, want)
	}
	data, err := bus.EncodeSessionMsg(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := bus.DecodeSessionMsg(data)
	if err != nil || !reflect.DeepEqual(back, want) {
		t.Fatalf("through JSON: %v\n got %+v\nwant %+v", err, back, want)
	}

	// A recording not stored yet has no path; a session without a
	// customer or recording data has none in the message.
	s.Recording.State = archive.RecordingPending
	if r := sessionRecordMsg(s).Recording; r == nil || r.Path != "" {
		t.Fatalf("a pending recording: %+v", r)
	}
	s.CustomerName, s.CustomerEmail, s.Recording = "", "", archive.Recording{}
	if m := sessionRecordMsg(s); m.Customer != nil || m.Recording != nil {
		t.Fatalf("empty customer and recording: %+v %+v", m.Customer, m.Recording)
	}
}

// TestArchivedRecordTheBusRefuses: a record the bus's codec refuses (here
// a resolution it does not know) is published as its summary, counted,
// rather than left to hold the outbox for ever.
func TestArchivedRecordTheBusRefuses(t *testing.T) {
	b, err := New(Options{Config: config.Defaults(), Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	x := archive.Session{ID: "s-1", AgentID: "a-0001", Queue: "support", StartedAt: at, EndedAt: at.Add(time.Minute), DurationSeconds: 60,
		Resolution: "postponed", Events: []archive.Event{{At: at, Type: archive.EventChat, From: "customer", Text: "hi"}}}
	b.sessionArchived(context.Background(), x)
	want := bus.SessionMsg{V: 1, ID: "s-1", AgentID: "a-0001", Queue: "support", StartedAt: x.StartedAt, EndedAt: x.EndedAt, DurationSeconds: 60}
	if len(b.out.records) != 1 || !reflect.DeepEqual(b.out.records[0], want) {
		t.Fatalf("outbox %+v, want the summary %+v", b.out.records, want)
	}
	if n := promtestutil.ToFloat64(b.metrics.errors.WithLabelValues("session_record")); n != 1 {
		t.Fatalf("session_record errors %v, want 1", n)
	}
}
