package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/simulator"
)

// want is the archive's form of a simulator record, built field by field
// from the simulator's own types: the two sides share no code.
func wantSession(r simulator.SessionRecord) archive.Session {
	s := archive.Session{
		ID: r.ID, RequestID: r.RequestID, AgentID: r.AgentID, Queue: r.Queue, ExternalRef: r.ExternalRef,
		CustomerName: r.Customer.Name, CustomerEmail: r.Customer.Email,
		StartedAt: r.StartedAt.UTC(), EndedAt: r.EndedAt.UTC(), DurationSeconds: r.DurationSeconds,
		Resolution: r.Resolution, ReplayURL: r.ReplayURL, Fields: r.Fields, Events: []archive.Event{},
		Recording: archive.Recording{Size: r.Recording.Size, SHA256: r.Recording.SHA256, URL: r.Recording.URL},
	}
	if r.Survey != nil {
		s.Survey = &archive.Survey{Rating: r.Survey.Rating, Comment: r.Survey.Comment}
	}
	for _, e := range r.Events {
		x := archive.Event{At: e.At.UTC(), Type: e.Type, From: e.From, To: e.To, Text: e.Text}
		if e.File != nil {
			x.File = &archive.File{Name: e.File.Name, Size: e.File.Size, Direction: e.File.Direction}
		}
		if d := e.Diagnostics; d != nil {
			x.Diagnostics = &archive.Diagnostics{OS: d.OS, Hostname: d.Hostname, MemoryMB: d.MemoryMB}
			for _, sw := range d.Software {
				x.Diagnostics.Software = append(x.Diagnostics.Software, archive.Software{Name: sw.Name, Version: sw.Version})
			}
		}
		s.Events = append(s.Events, x)
	}
	return s
}

func TestSessionCallsAgainstTheSimulator(t *testing.T) {
	env := newSim(t, simOptions{})
	env.step(2 * time.Hour)
	c, err := New(fastConfig(env.url), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	since, until := testStart, testStart.Add(2*time.Hour)
	truth, err := env.engine.Sessions(simulator.SessionQuery{Since: since, Until: until, Limit: 1000})
	if err != nil || len(truth.Sessions) < 20 {
		t.Fatalf("%d sessions ended (%v); want more", len(truth.Sessions), err)
	}
	// Paged by 7, every session comes once, in order, as the simulator has it.
	var got []string
	after := ""
	for {
		page, err := c.ListSessions(ctx, SessionQuery{Since: since, Until: until, After: after, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Sessions {
			got = append(got, s.ID)
			w := truth.Sessions[len(got)-1]
			if s.ID != w.ID || s.AgentID != w.AgentID || s.Queue != w.Queue || !s.EndedAt.Equal(w.EndedAt) || s.DurationSeconds != w.DurationSeconds || s.RequestID != w.RequestID {
				t.Fatalf("page row %+v, simulator %+v", s, w)
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if len(got) != len(truth.Sessions) {
		t.Fatalf("listed %d sessions, the simulator has %d", len(got), len(truth.Sessions))
	}
	for _, sum := range truth.Sessions {
		rec, _ := env.engine.Session(sum.ID)
		s, err := c.Session(ctx, sum.ID)
		if err != nil {
			t.Fatal(err)
		}
		raw := s.Raw
		s.Raw = nil
		if w := wantSession(rec); !reflect.DeepEqual(s, w) {
			t.Fatalf("%s:\n got %+v\nwant %+v", sum.ID, s, w)
		}
		var back simulator.SessionRecord
		if err := json.Unmarshal(raw, &back); err != nil || !reflect.DeepEqual(wantSession(back), wantSession(rec)) {
			t.Fatalf("%s: raw does not hold the record: %v", sum.ID, err)
		}
		if err := (&archive.Session{}).Validate(); err == nil {
			t.Fatal("an empty session validates")
		}
		s.Raw = raw
		if err := s.Validate(); err != nil {
			t.Fatalf("%s: the archive refuses what the source accepted: %v", sum.ID, err)
		}
	}

	// The recording, whole and from an offset.
	id := truth.Sessions[0].ID
	rec, _ := env.engine.Session(id)
	body, resumed, err := c.Recording(ctx, id, 0)
	if err != nil || resumed {
		t.Fatalf("recording: %v, resumed %v", err, resumed)
	}
	all, _ := io.ReadAll(body)
	body.Close()
	sum := sha256.Sum256(all)
	if int64(len(all)) != rec.Recording.Size || hex.EncodeToString(sum[:]) != rec.Recording.SHA256 {
		t.Fatalf("recording: %d bytes with sha256 %x; the record says %d, %s", len(all), sum, rec.Recording.Size, rec.Recording.SHA256)
	}
	body, resumed, err = c.Recording(ctx, id, 100)
	if err != nil || !resumed {
		t.Fatalf("recording from 100: %v, resumed %v", err, resumed)
	}
	rest, _ := io.ReadAll(body)
	body.Close()
	if string(rest) != string(all[100:]) {
		t.Fatal("the recording from byte 100 differs from the whole one's tail")
	}

	// Not there: NotReady; a bad token: Permanent.
	for _, call := range []func() error{
		func() error { _, err := c.Session(ctx, "s-999999999"); return err },
		func() error { _, _, err := c.Recording(ctx, "s-999999999", 0); return err },
	} {
		if err := call(); !NotReady(err) || Permanent(err) {
			t.Fatalf("unknown session: %v; want NotReady", err)
		}
	}
	cfg := fastConfig(env.url)
	cfg.Token = "wrong"
	bad, _ := New(cfg, nil, nil)
	if _, err := bad.Session(ctx, id); !Permanent(err) {
		t.Fatalf("bad token: %v; want Permanent", err)
	}
	if _, err := c.ListSessions(ctx, SessionQuery{Since: testStart.Add(-100 * 24 * time.Hour)}); err == nil || !strings.Contains(err.Error(), "out_of_range") {
		t.Fatalf("a range past retention: %v", err)
	}
	if _, err := c.ListSessions(ctx, SessionQuery{Limit: 1001}); err == nil {
		t.Fatal("limit 1001 was sent")
	}
}

// goodRecord is a record as the simulator serves it.
const goodRecord = `{"id":"s-1","request_id":"r-1","agent_id":"a-0001","queue":"support","external_ref":"","started_at":"2026-11-02T09:00:00Z","ended_at":"2026-11-02T09:05:00Z","duration_seconds":300,"customer":{"name":"Ada","email":"ada@x"},"fields":{"problem":"vpn"},"events":[{"at":"2026-11-02T09:00:06Z","type":"diagnostics","diagnostics":{"os":"macOS","hostname":"h","memory_mb":8192,"software":[{"name":"Zoom","version":"1"}]}},{"at":"2026-11-02T09:01:00Z","type":"chat","from":"a-0001","text":"hi"},{"at":"2026-11-02T09:02:00Z","type":"file_transfer","from":"customer","file":{"name":"log.zip","size":10,"direction":"from_customer"}},{"at":"2026-11-02T09:03:00Z","type":"reboot","from":"a-0001","text":"reboot"},{"at":"2026-11-02T09:04:00Z","type":"transfer","from":"a-0001","to":"a-0002","text":"tier 2"}],"resolution":"resolved","survey":{"rating":4,"comment":"ok"},"recording":{"size":10,"sha256":"` + "0000000000000000000000000000000000000000000000000000000000000000" + `","url":"/v1/sessions/s-1/recording"},"replay_url":"https://r/s-1"}`

func TestDecodeRecord(t *testing.T) {
	s, err := decodeRecord([]byte(goodRecord))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Events) != 5 || s.Survey.Rating != 4 || s.Events[2].File.Size != 10 || s.Events[0].Diagnostics.Software[0].Name != "Zoom" || string(s.Raw) != goodRecord || s.Validate() != nil {
		t.Fatalf("decoded %+v", s)
	}
	for _, tc := range []struct{ name, from, to, kind, msg string }{
		{"missing id", `"id":"s-1"`, `"id":""`, KindMissingID, "expected a non-empty id"},
		{"end before start", `"ended_at":"2026-11-02T09:05:00Z"`, `"ended_at":"2026-11-02T08:05:00Z"`, KindBadValue, "is before started_at"},
		{"unknown resolution", `"resolution":"resolved"`, `"resolution":"fixed"`, KindUnknownStatus, `resolution: expected resolved or unresolved, got "fixed"`},
		{"rating 0", `"rating":4`, `"rating":0`, KindBadValue, "survey.rating: expected 1 to 5, got 0"},
		{"rating 6", `"rating":4`, `"rating":6`, KindBadValue, "survey.rating: expected 1 to 5, got 6"},
		{"rating as text", `"rating":4`, `"rating":"4"`, KindBadValue, "expected the shape"},
		{"unknown event", `"type":"reboot"`, `"type":"dance"`, KindUnknownStatus, `events[3].type: expected chat, file_transfer, diagnostics, reboot or transfer, got "dance"`},
		{"file transfer without file", `"file":{"name":"log.zip","size":10,"direction":"from_customer"}`, `"x":1`, KindBadValue, "events[2].file"},
		{"unknown direction", `"direction":"from_customer"`, `"direction":"sideways"`, KindUnknownStatus, "events[2].file.direction"},
		{"diagnostics missing", `"diagnostics":{"os":"macOS","hostname":"h","memory_mb":8192,"software":[{"name":"Zoom","version":"1"}]}`, `"y":2`, KindBadValue, "events[0].diagnostics"},
		{"no start", `"started_at":"2026-11-02T09:00:00Z",`, ``, KindBadValue, "expected started_at and ended_at"},
		{"event without time", `"at":"2026-11-02T09:01:00Z",`, ``, KindBadValue, "events[1].at"},
		{"no events", `"events":[`, `"evts":[`, KindBadValue, "events: expected a list"},
		{"no recording", `"recording":{`, `"rec":{`, KindBadValue, "recording: expected size"},
		{"bad sha256", `"sha256":"0000`, `"sha256":"ZZ00`, KindBadValue, "recording.sha256: expected 64 lower-case hex digits"},
		{"negative size", `"size":10,"sha256"`, `"size":-1,"sha256"`, KindBadValue, "recording.size"},
		{"missing agent", `"agent_id":"a-0001"`, `"agent_id":""`, KindMissingID, "agent_id"},
		{"NUL in a chat", `"text":"reboot"`, `"text":"re\u0000boot"`, KindBadValue, "events[3].text: expected text without NUL characters"},
		{"agent id over 191 characters", `"agent_id":"a-0001"`, `"agent_id":"` + strings.Repeat("a", 192) + `"`, KindBadValue, "agent_id: expected at most 191 characters"},
		{"error body", goodRecord, `{"error":{"code":"internal","message":"boom"}}`, KindErrorBody, "boom"},
		{"truncated", goodRecord, goodRecord[:100], KindMalformedJSON, "expected a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(goodRecord, tc.from) {
				t.Fatalf("the good record has no %s", tc.from)
			}
			_, err := decodeRecord([]byte(strings.Replace(goodRecord, tc.from, tc.to, 1)))
			var pe *PayloadError
			if !errors.As(err, &pe) || pe.Kind != tc.kind || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v; want a %s error saying %q", err, tc.kind, tc.msg)
			}
		})
	}
	if _, err := decodeRecord([]byte(strings.Replace(goodRecord, `"survey":{"rating":4,"comment":"ok"}`, `"survey":null`, 1))); err != nil {
		t.Fatalf("a null survey: %v", err)
	}
}

// FuzzDecodeRecord: never a panic; a failure is a PayloadError of a known
// kind; what is accepted the archive accepts too, and keeps its body.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(goodRecord))
	f.Add([]byte(strings.Replace(goodRecord, `"rating":4`, `"rating":9`, 1)))
	f.Add([]byte(`{"id":"s","agent_id":"a","queue":"q","started_at":"2026-11-02T09:00:00Z","ended_at":"2026-11-02T09:00:00Z","events":[],"resolution":"unresolved","survey":null,"recording":{"size":0,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := decodeRecord(body)
		if err != nil {
			checkPayloadError(t, err)
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("the archive refuses a record the source accepted: %v", err)
		}
		if string(s.Raw) != string(body) {
			t.Fatal("raw differs from the body")
		}
		checkUTC(t, s.StartedAt, s.EndedAt)
	})
}
