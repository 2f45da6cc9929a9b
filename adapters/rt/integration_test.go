//go:build integration

package rt

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/plugins/sdk"
	"github.com/acdbridge/acdbridge/simulator"
)

// itEnv reads the variables scripts/integration.d/50-rt.sh exports.
func itEnv(t *testing.T) (rtURL, token, user, password string) {
	t.Helper()
	get := func(k string) string {
		v := os.Getenv(k)
		if v == "" {
			t.Fatalf("%s is not set: run make integration (scripts/integration.d/50-rt.sh starts Request Tracker)", k)
		}
		return v
	}
	return get("ACDBRIDGE_IT_RT_URL"), get("ACDBRIDGE_IT_RT_TOKEN"), get("ACDBRIDGE_IT_RT_USER"), get("ACDBRIDGE_IT_RT_PASSWORD")
}

// rtGet reads a REST2 resource as the test's own client, with the token.
func rtGet(t *testing.T, rtURL, token, path string, q url.Values, out any) {
	t.Helper()
	u := rtURL + "/REST/2.0/" + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// simulated is a customer request and the session it became, from the
// simulator: the request as the bridge hands it to adapters, and the
// session's whole record.
func simulated(t *testing.T) (sdk.Request, sdk.Session) {
	t.Helper()
	start := time.Now().UTC().Truncate(time.Second)
	sc := simulator.DefaultScenario(4, 2)
	sc.Seed = uint64(start.UnixNano()) // ids differ from run to run, as RT keeps its tickets
	clock := simulator.NewManualClock(start)
	eng, err := simulator.NewEngine(sc, clock, 1024)
	if err != nil {
		t.Fatal(err)
	}
	queue := eng.Queues().Queues[0].ID
	r, err := eng.CreateRequest(simulator.NewRequest{Queue: queue, Name: "Grace Hopper", Email: "grace@example.com",
		Problem: "The printer prints blank pages", Fields: map[string]string{"serial_number": "PRN-0042", "account": "ACME-42", "os": "Windows 11"}})
	if err != nil {
		t.Fatal(err)
	}
	req := sdk.Request{ID: r.ID, Queue: r.Queue, Status: r.Status, CreatedAt: r.CreatedAt, Name: r.Name, Email: r.Email,
		Problem: r.Problem, Fields: r.Fields, ExternalRef: r.ExternalRef, AgentID: r.AgentID, SessionID: r.SessionID}
	for i := 0; ; i++ {
		now, err := eng.Request(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if now.Status == "completed" {
			r = now
			break
		}
		if now.Status == "abandoned" || i > 24*60 {
			t.Fatalf("the simulated request did not become a session: %+v", now)
		}
		clock.Add(time.Minute)
	}
	rec, err := eng.Session(r.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	s := sdk.Session{ID: rec.ID, RequestID: rec.RequestID, AgentID: rec.AgentID, Queue: rec.Queue, ExternalRef: rec.ExternalRef,
		StartedAt: rec.StartedAt, EndedAt: rec.EndedAt, DurationSeconds: rec.DurationSeconds,
		Customer: sdk.Customer{Name: rec.Customer.Name, Email: rec.Customer.Email}, Fields: rec.Fields,
		Resolution: rec.Resolution, ReplayURL: rec.ReplayURL,
		Recording: &sdk.Recording{Size: rec.Recording.Size, SHA256: rec.Recording.SHA256, URL: rec.Recording.URL}}
	if v := rec.Survey; v != nil {
		s.Survey = &sdk.Survey{Rating: v.Rating, Comment: v.Comment}
	}
	for _, e := range rec.Events {
		ev := sdk.SessionEvent{At: e.At, Type: e.Type, From: e.From, To: e.To, Text: e.Text}
		if f := e.File; f != nil {
			ev.File = &sdk.FileInfo{Name: f.Name, Size: f.Size, Direction: f.Direction}
		}
		if d := e.Diagnostics; d != nil {
			ev.Diagnostics = &sdk.Diagnostics{OS: d.OS, Hostname: d.Hostname, MemoryMB: int64(d.MemoryMB)}
			for _, sw := range d.Software {
				ev.Diagnostics.Software = append(ev.Diagnostics.Software, sdk.Software{Name: sw.Name, Version: sw.Version})
			}
		}
		s.Events = append(s.Events, ev)
	}
	if len(s.Events) == 0 || s.Resolution == "" {
		t.Fatalf("the simulated record has no events or resolution: %+v", rec)
	}
	return req, s
}

// TestRealRT: a simulator's customer request becomes a ticket in a real
// Request Tracker 5; after the session ends, the ticket has the session's
// comment, with its transcript, and the status of its resolution. The
// adapter that handles the session is a new one (as after a restart): it
// finds the ticket by its tag.
func TestRealRT(t *testing.T) {
	rtURL, token, user, password := itEnv(t)
	ctx := context.Background()
	configure := func(settings map[string]any) *Adapter {
		t.Helper()
		settings["url"] = rtURL
		settings["queue"] = "Printers"
		settings["custom_fields"] = map[string]string{"serial_number": "Serial number", "account": "Account"}
		js, _ := json.Marshal(settings)
		a := New(hclog.NewNullLogger())
		if err := a.Configure(ctx, sdk.Settings{Instance: "it", JSON: js}); err != nil {
			t.Fatal(err)
		}
		return a
	}
	req, sess := simulated(t)

	r := configure(map[string]any{"token": token}).HandleRequest(ctx, req)
	if r.Outcome != sdk.Applied || r.Reference == "" {
		t.Fatalf("request: %+v", r)
	}
	ticket := r.Reference

	// Basic authentication, and the same request again: the same ticket.
	if again := configure(map[string]any{"username": user, "password": password}).HandleRequest(ctx, req); again.Outcome != sdk.Applied || again.Reference != ticket {
		t.Fatalf("the request again, with basic authentication: %+v, want ticket %s", again, ticket)
	}

	s := configure(map[string]any{"token": token}).HandleSession(ctx, sess)
	if s.Outcome != sdk.Applied || s.Reference != ticket {
		t.Fatalf("session: %+v, want ticket %s", s, ticket)
	}
	wantStatus := map[string]string{"resolved": "resolved", "unresolved": "open"}[sess.Resolution]
	// Delivered again: RT's history shows the comment, none is added.
	if again := configure(map[string]any{"token": token}).HandleSession(ctx, sess); again.Outcome != sdk.Applied || !strings.Contains(again.Message, "has the session's comment already") {
		t.Fatalf("the session again: %+v, want it found commented", again)
	}

	// What RT holds: the ticket's status and custom fields, and the comment.
	var tk struct {
		Subject      string
		Status       string
		Requestor    []struct{ ID string }
		CustomFields []struct {
			Name   string
			Values []string
		}
	}
	rtGet(t, rtURL, token, "ticket/"+ticket, nil, &tk)
	if tk.Status != wantStatus || tk.Subject != "The printer prints blank pages [acdbridge request "+req.ID+"]" ||
		len(tk.Requestor) != 1 || tk.Requestor[0].ID != "grace@example.com" {
		t.Fatalf("ticket %s: %+v; want status %q", ticket, tk, wantStatus)
	}
	cfs := map[string]string{}
	for _, cf := range tk.CustomFields {
		cfs[cf.Name] = strings.Join(cf.Values, ",")
	}
	if cfs["Serial number"] != "PRN-0042" || cfs["Account"] != "ACME-42" {
		t.Fatalf("custom fields %v", cfs)
	}
	var hist struct {
		Items []struct {
			ID   string `json:"id"`
			Kind string `json:"type"` // "transaction": apart, or it would fill Type
			Type string `json:"Type"`
			Data string `json:"Data"`
		} `json:"items"`
	}
	rtGet(t, rtURL, token, "ticket/"+ticket+"/history", url.Values{"fields": {"Type,Data"}, "per_page": {"100"}}, &hist)
	var comment string
	comments := 0
	for _, h := range hist.Items {
		if h.Type == "Comment" && strings.TrimSpace(h.Data) == "Remote-support session "+sess.ID+" ended" {
			comment = h.ID
			comments++
		}
	}
	if comments != 1 {
		t.Fatalf("%d comments of session %s in ticket %s's history, want 1: %+v", comments, sess.ID, ticket, hist.Items)
	}
	var att struct {
		Items []struct{ Content, ContentType string } `json:"items"`
	}
	rtGet(t, rtURL, token, "transaction/"+comment+"/attachments", url.Values{"fields": {"Content,ContentType"}}, &att)
	if len(att.Items) == 0 || att.Items[0].ContentType != "text/plain" || att.Items[0].Content != sessionText(sess) {
		t.Fatalf("the comment's attachment %+v, want text/plain:\n%s", att.Items, sessionText(sess))
	}
}
