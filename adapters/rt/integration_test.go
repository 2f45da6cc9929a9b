//go:build integration

package rt

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/plugins/sdk"
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

// TestRealRT: a customer request becomes a ticket in a real Request
// Tracker 5; after the session ends, the ticket has the session's comment
// and the status of its resolution. The adapter that handles the session
// is a new one (as after a restart): it finds the ticket by its tag.
func TestRealRT(t *testing.T) {
	rtURL, token, user, password := itEnv(t)
	ctx := context.Background()
	configure := func(settings map[string]any) *Adapter {
		t.Helper()
		settings["url"] = rtURL
		settings["queues"] = map[string]string{"support/printers": "Printers"}
		settings["custom_fields"] = map[string]string{"serial_number": "Serial number", "account": "Account"}
		js, _ := json.Marshal(settings)
		a := New(hclog.NewNullLogger())
		if err := a.Configure(ctx, sdk.Settings{Instance: "it", JSON: js}); err != nil {
			t.Fatal(err)
		}
		return a
	}

	// A request as the simulator makes them; its id is new on every run.
	now := time.Now().UTC().Truncate(time.Second)
	id := fmt.Sprintf("r-it%d", now.UnixNano())
	req := sdk.Request{ID: id, Queue: "support/printers", Status: "waiting", CreatedAt: now.Add(-time.Minute),
		Name: "Grace Hopper", Email: "grace@example.com", Problem: "The printer prints blank pages",
		Fields: map[string]string{"serial_number": "PRN-0042", "account": "ACME-42", "os": "Windows 11"}}
	r := configure(map[string]any{"token": token}).HandleRequest(ctx, req)
	if r.Outcome != sdk.Applied || r.Reference == "" {
		t.Fatalf("request: %+v", r)
	}
	ticket := r.Reference

	// Basic authentication, and the same request again: the same ticket.
	if again := configure(map[string]any{"username": user, "password": password}).HandleRequest(ctx, req); again.Outcome != sdk.Applied || again.Reference != ticket {
		t.Fatalf("the request again, with basic authentication: %+v, want ticket %s", again, ticket)
	}

	sess := sdk.Session{
		ID: "s-" + strings.TrimPrefix(id, "r-"), RequestID: id, AgentID: "a-0001", Queue: "support/printers",
		StartedAt: now.Add(-30 * time.Second), EndedAt: now, DurationSeconds: 30,
		Customer: sdk.Customer{Name: "Grace Hopper", Email: "grace@example.com"},
		Fields:   req.Fields,
		Events: []sdk.SessionEvent{
			{At: now.Add(-29 * time.Second), Type: sdk.EventChat, From: "customer", Text: "It prints blank pages."},
			{At: now.Add(-20 * time.Second), Type: sdk.EventFileTransfer, From: "agent", File: &sdk.FileInfo{Name: "driver.zip", Size: 1024, Direction: "to_customer"}},
			{At: now.Add(-10 * time.Second), Type: sdk.EventChat, From: "agent", Text: "Fixed: the new driver is in. Ça marche ?"},
		},
		Resolution: "resolved",
		Survey:     &sdk.Survey{Rating: 5, Comment: "Fixed in minutes"},
	}
	s := configure(map[string]any{"token": token}).HandleSession(ctx, sess)
	if s.Outcome != sdk.Applied || s.Reference != ticket {
		t.Fatalf("session: %+v, want ticket %s", s, ticket)
	}

	// What RT holds: the ticket's status and custom fields, and the comment.
	var tk struct {
		Subject      string
		Status       string
		Queue        struct{ ID string }
		Requestor    []struct{ ID string }
		CustomFields []struct {
			Name   string
			Values []string
		}
	}
	rtGet(t, rtURL, token, "ticket/"+ticket, nil, &tk)
	if tk.Status != "resolved" || tk.Subject != "The printer prints blank pages [acdbridge request "+id+"]" ||
		len(tk.Requestor) != 1 || tk.Requestor[0].ID != "grace@example.com" {
		t.Fatalf("ticket %s: %+v", ticket, tk)
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
	for _, h := range hist.Items {
		if h.Type == "Comment" && strings.TrimSpace(h.Data) == "Remote-support session "+sess.ID+" ended" {
			comment = h.ID
		}
	}
	if comment == "" {
		t.Fatalf("no comment of session %s in ticket %s's history: %+v", sess.ID, ticket, hist.Items)
	}
	var att struct {
		Items []struct{ Content, ContentType string } `json:"items"`
	}
	rtGet(t, rtURL, token, "transaction/"+comment+"/attachments", url.Values{"fields": {"Content,ContentType"}}, &att)
	if len(att.Items) == 0 || att.Items[0].ContentType != "text/plain" || att.Items[0].Content != sessionText(sess) {
		t.Fatalf("the comment's attachment %+v, want text/plain:\n%s", att.Items, sessionText(sess))
	}
}
