package bus

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/internal/testutil"
)

// sampleRecord is an ended session with its whole record, every field set
// (docs/events.md shows it).
func sampleRecord() SessionMsg {
	return SessionMsg{
		V: Version, ID: "s-9b02", RequestID: "r-5f1c", AgentID: "a-0001", Queue: "support/printers",
		ExternalRef: "TICKET-1234", StartedAt: at("2026-03-02T09:14:05Z"), EndedAt: at("2026-03-02T09:31:47Z"),
		DurationSeconds: 1062,
		Customer:        &CustomerMsg{Name: "Grace Hopper", Email: "grace@example.com"},
		Fields:          map[string]string{"problem": "The printer prints blank pages", "serial_number": "PRN-0042"},
		Events: []SessionEventMsg{
			{At: at("2026-03-02T09:14:09Z"), Type: "chat", From: "customer", To: "agent", Text: "It prints blank pages."},
			{At: at("2026-03-02T09:15:30Z"), Type: "transfer", From: "a-0001", To: "a-0002", Text: "driver expert",
				File: &FileMsg{Name: "driver.zip", Size: 1048576, Direction: "to_customer"},
				Diagnostics: &DiagnosticsMsg{OS: "Windows 11", Hostname: "PC-GRACE", MemoryMB: 16384,
					Software: []SoftwareMsg{{Name: "PrinterDriver", Version: "4.2"}}}},
		},
		Resolution: "resolved",
		Survey:     &SurveyMsg{Rating: 5, Comment: "Fixed in minutes"},
		Recording: &RecordingMsg{Size: 734003, SHA256: strings.Repeat("3f", 32),
			URL: "http://127.0.0.1:8089/v1/sessions/s-9b02/recording", Path: "2026/03/02/s-9b02.webm"},
		ReplayURL: "http://127.0.0.1:8089/replay/s-9b02",
	}
}

func TestSampleRecordSetsEveryField(t *testing.T) {
	// The first event is a plain chat line on purpose: absent details must
	// stay absent.
	if z := testutil.ZeroFields(sampleRecord()); !reflect.DeepEqual(z, []string{"Events[0].File", "Events[0].Diagnostics"}) {
		t.Fatalf("the sample leaves fields unset, so a codec dropping them would pass: %v", z)
	}
}

// TestSessionRecordRoundTrip: a whole record survives encode and decode,
// field for field, and its summary is what DecodeSession reads.
func TestSessionRecordRoundTrip(t *testing.T) {
	want := sampleRecord()
	data, err := EncodeSessionMsg(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSessionMsg(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, want)
	}
	summary, err := DecodeSession(data)
	if err != nil {
		t.Fatal(err)
	}
	if summary != sampleSession() {
		t.Fatalf("the summary of a record is %+v, want %+v", summary, sampleSession())
	}
	// A summary written before records existed reads as a record with
	// nothing but the summary.
	old, err := EncodeSession(sampleSession())
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeSessionMsg(old)
	if err != nil {
		t.Fatal(err)
	}
	if z := testutil.ZeroFields(m); !reflect.DeepEqual(z, []string{"Customer", "Fields", "Events", "Resolution", "Survey", "Recording", "ReplayURL"}) {
		t.Fatalf("a summary decoded as a record has %v unset", z)
	}
}

// TestSessionRecordJSONNames: the record's JSON uses the source's names
// (simulator/openapi.yaml SessionRecord), so an outside reader can take
// the record as the source wrote it.
func TestSessionRecordJSONNames(t *testing.T) {
	data, err := EncodeSessionMsg(sampleRecord())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(m))
	want := []string{"agent_id", "customer", "duration_seconds", "ended_at", "events", "external_ref", "fields", "id", "queue",
		"recording", "replay_url", "request_id", "resolution", "started_at", "survey", "v"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	ev := m["events"].([]any)[1].(map[string]any)
	for _, k := range []string{"at", "type", "from", "to", "text", "file", "diagnostics"} {
		if _, ok := ev[k]; !ok {
			t.Errorf("an event lacks %q: %v", k, ev)
		}
	}
	diag := ev["diagnostics"].(map[string]any)
	for _, k := range []string{"os", "hostname", "memory_mb", "software"} {
		if _, ok := diag[k]; !ok {
			t.Errorf("diagnostics lack %q: %v", k, diag)
		}
	}
	for obj, ks := range map[string][]string{"survey": {"rating", "comment"}, "recording": {"size", "sha256", "url", "path"}, "customer": {"name", "email"}} {
		for _, k := range ks {
			if _, ok := m[obj].(map[string]any)[k]; !ok {
				t.Errorf("%s lacks %q", obj, k)
			}
		}
	}
}

// TestSessionRecordRejectsBadRecords: every check of a record's fields,
// with the message that says what was expected.
func TestSessionRecordRejectsBadRecords(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*SessionMsg)
		want   string
	}{
		{"resolution", func(m *SessionMsg) { m.Resolution = "maybe" }, `"resolution" is "maybe": expected resolved or unresolved`},
		{"event time", func(m *SessionMsg) { m.Events[1].At = at("0001-01-01T00:00:00Z") }, `"events[1].at" is missing or empty: expected when it happened`},
		{"event type", func(m *SessionMsg) { m.Events[0].Type = "" }, `"events[0].type" is missing or empty: expected chat, file_transfer, diagnostics, reboot or transfer`},
		{"event year", func(m *SessionMsg) { m.Events[0].At = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, `"events[0].at" is 10000-01-01T00:00:00Z: expected a time in the years 0 to 9999 UTC`},
		{"file size", func(m *SessionMsg) { m.Events[1].File.Size = -1 }, `"events[1].file.size" is -1: expected 0 or more bytes`},
		{"file direction", func(m *SessionMsg) { m.Events[1].File.Direction = "up" }, `"events[1].file.direction" is "up": expected to_customer or from_customer`},
		{"memory", func(m *SessionMsg) { m.Events[1].Diagnostics.MemoryMB = -5 }, `"events[1].diagnostics.memory_mb" is -5: expected 0 or more`},
		{"rating low", func(m *SessionMsg) { m.Survey.Rating = 0 }, `"survey.rating" is 0: expected 1 to 5`},
		{"rating high", func(m *SessionMsg) { m.Survey.Rating = 6 }, `"survey.rating" is 6: expected 1 to 5`},
		{"recording size", func(m *SessionMsg) { m.Recording.Size = -1 }, `"recording.size" is -1: expected 0 or more bytes`},
		{"recording sha256 case", func(m *SessionMsg) { m.Recording.SHA256 = strings.Repeat("3F", 32) }, `"recording.sha256" is "` + strings.Repeat("3F", 32) + `": expected 64 lower-case hex digits`},
		{"recording sha256 short", func(m *SessionMsg) { m.Recording.SHA256 = "abc" }, `"recording.sha256" is "abc": expected 64 lower-case hex digits`},
		{"summary still checked", func(m *SessionMsg) { m.AgentID = "" }, `"agent_id" is missing or empty: expected the agent's id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := sampleRecord()
			// deep copies, so that a change does not leak between cases
			m.Events = []SessionEventMsg{m.Events[0], m.Events[1]}
			f, d, s, r := *m.Events[1].File, *m.Events[1].Diagnostics, *m.Survey, *m.Recording
			m.Events[1].File, m.Events[1].Diagnostics, m.Survey, m.Recording = &f, &d, &s, &r
			tc.change(&m)
			_, err := EncodeSessionMsg(m)
			if want := "encode session message: " + tc.want; err == nil || err.Error() != want {
				t.Fatalf("encode: %v\nwant %s", err, want)
			}
			m.V = Version
			raw, jerr := json.Marshal(m)
			if jerr != nil {
				return // JSON cannot carry it at all (a year past 9999)
			}
			_, err = DecodeSessionMsg(raw)
			if want := "decode session message: " + tc.want; err == nil || err.Error() != want {
				t.Fatalf("decode: %v\nwant %s", err, want)
			}
		})
	}
}

func FuzzDecodeSessionMsg(f *testing.F) {
	fuzzDecoder(f, DecodeSessionMsg, EncodeSessionMsg,
		mustEncode(EncodeSessionMsg(sampleRecord())),
		mustEncode(EncodeSession(sampleSession())),
		`{"v":1,"id":"s","agent_id":"a","queue":"q","started_at":"2026-03-02T09:14:05+02:00","ended_at":"2026-03-02T09:14:05Z","duration_seconds":1,"events":[{"at":"2026-03-02T09:14:05-01:00","type":"diagnostics","diagnostics":{"os":"x","hostname":"h","memory_mb":0,"software":[]}}],"fields":{},"survey":null}`,
	)
}
