package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/monitors"
)

// sampleAlert is what docs/events.md shows.
func sampleAlert() monitors.Alert {
	return monitors.Alert{
		Rule: "support_backlog", Queue: "support/printers", Status: monitors.Resolved, Severity: "warning",
		Labels:      map[string]string{"queue": "support/printers", "team": "support"},
		Annotations: map[string]string{"summary": "7 waiting in support/printers"},
		StartsAt:    at("2026-03-02T09:14:05Z"), EndsAt: at("2026-03-02T09:20:00Z"),
		Value: map[string]float64{"waiting": 7, "longest_wait": 142.5, "agents_available": 0, "agents_logged_in": 4},
	}
}

func TestAlertRoundTrip(t *testing.T) {
	firing := sampleAlert()
	firing.Status, firing.EndsAt = monitors.Firing, time.Time{}
	session := monitors.Alert{Rule: "negative_rating", Queue: "support", Session: "s-1", Status: monitors.Firing, Severity: "info",
		Labels: map[string]string{"queue": "support", "session": "s-1", "agent": "a-1"}, StartsAt: at("2026-03-02T09:14:05Z"),
		Value: map[string]float64{"rating": 1}}
	for _, a := range []monitors.Alert{sampleAlert(), firing, session} {
		data, err := EncodeAlert(a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeAlert(data)
		if err != nil {
			t.Fatal(err)
		}
		if got.Rule != a.Rule || got.Queue != a.Queue || got.Session != a.Session || got.Status != a.Status || got.Severity != a.Severity ||
			!maps.Equal(got.Labels, a.Labels) || !maps.Equal(got.Annotations, a.Annotations) || !got.StartsAt.Equal(a.StartsAt) ||
			!got.EndsAt.Equal(a.EndsAt) || !maps.Equal(got.Value, a.Value) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, a)
		}
	}
}

func TestAlertRefused(t *testing.T) {
	good := func() AlertMsg { return NewAlertMsg(sampleAlert()) }
	tests := []struct {
		name string
		edit func(*AlertMsg)
		want string
	}{
		{"version", func(m *AlertMsg) { m.V = 2 }, "unsupported payload version"},
		{"no rule", func(m *AlertMsg) { m.Rule = "" }, `"rule" is missing`},
		{"status", func(m *AlertMsg) { m.Status = "pending" }, "expected firing or resolved"},
		{"resolved without ends_at", func(m *AlertMsg) { m.EndsAt = time.Time{} }, `"ends_at" is missing`},
		{"firing with ends_at", func(m *AlertMsg) { m.Status = "firing" }, "only once resolved"},
		{"no severity", func(m *AlertMsg) { m.Severity = "" }, `"severity" is missing`},
		{"no starts_at", func(m *AlertMsg) { m.StartsAt = time.Time{} }, `"starts_at" is missing`},
		{"year", func(m *AlertMsg) { m.StartsAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "years 0 to 9999"},
		{"infinite value", func(m *AlertMsg) { m.Value = map[string]float64{"waiting": math.Inf(1)} }, "finite"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.edit(&m)
			err := m.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
			if tc.name == "infinite value" || tc.name == "year" {
				return // JSON cannot carry them
			}
			data, _ := json.Marshal(m)
			if _, err := DecodeAlert(data); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeAlert: %v", err)
			}
		})
	}
	if _, err := DecodeAlert([]byte(`[1]`)); err == nil || !strings.Contains(err.Error(), "expected a JSON object") {
		t.Errorf("not an object: %v", err)
	}
	if _, err := DecodeAlert([]byte(`{"v":2}`)); !errors.Is(err, ErrVersion) {
		t.Errorf("v 2: %v", err)
	}
}

// docs/events.md shows the alert payload exactly as the encoder writes it,
// between "<!-- alert example begin -->" and "<!-- alert example end -->"
// (markers of its own, beside TestEventsDoc's).
func TestAlertDoc(t *testing.T) {
	raw, err := os.ReadFile(eventsDoc)
	if err != nil {
		t.Fatal(err)
	}
	data, err := EncodeAlert(sampleAlert())
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	json.Indent(&pretty, data, "", "  ")
	want := fmt.Sprintf("Subject `%s`, `Nats-Msg-Id: %s` in stream `%s`:\n\n```json\n%s\n```\n",
		AlertSubject(sampleAlert().Rule), AlertMsgID(sampleAlert()), StreamEvents, pretty.String())
	_, rest, ok1 := strings.Cut(string(raw), "<!-- alert example begin -->\n")
	got, _, ok2 := strings.Cut(rest, "<!-- alert example end -->")
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the alert example markers; it should show:\n%s", eventsDoc, want)
	}
	if got != want {
		t.Errorf("%s, the alert example, is stale:\n got:\n%s\nwant:\n%s", eventsDoc, got, want)
	}
}

// Alerts go through EVENTS to a durable consumer, decoded, once per
// transition even when published twice.
func TestPublishAndConsumeAlerts(t *testing.T) {
	b := open(t, embedded(t))
	ctx := ctxT(t)
	got := make(chan Event, 10)
	ready := make(chan struct{})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go b.ConsumeEvents(cctx, "adapter-am", []string{KindAlert}, func() { close(ready) }, func(_ context.Context, ev Event) error {
		got <- ev
		return nil
	})
	<-ready
	firing := sampleAlert()
	firing.Status, firing.EndsAt = monitors.Firing, time.Time{}
	for _, a := range []monitors.Alert{firing, firing, sampleAlert()} {
		if err := b.PublishAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []monitors.AlertState{monitors.Firing, monitors.Resolved} {
		select {
		case ev := <-got:
			if ev.Kind != KindAlert || ev.Subject != "acdbridge.alert.support_backlog" || ev.Alert.Status != want || ev.Alert.Queue != "support/printers" {
				t.Fatalf("event %d: %+v", i, ev)
			}
		case <-ctx.Done():
			t.Fatalf("event %d never came", i)
		}
	}
	select {
	case ev := <-got:
		t.Fatalf("a duplicate came: %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
}

// FuzzDecodeAlert: any payload is refused with an error or decodes to an
// alert that encodes again.
func FuzzDecodeAlert(f *testing.F) {
	data, _ := EncodeAlert(sampleAlert())
	f.Add(data)
	f.Add([]byte(`{"v":1,"rule":"r","status":"firing","severity":"warning","labels":{},"starts_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"v":1,"rule":"r","status":"resolved","severity":"x","labels":null,"starts_at":"2026-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeAlert(data)
		if err != nil {
			return
		}
		if _, err := EncodeAlert(a); err != nil {
			t.Fatalf("decoded %s but cannot encode it again: %v", data, err)
		}
	})
}
