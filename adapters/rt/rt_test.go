package rt

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	goldenfile "github.com/acdbridge/acdbridge/adapters/internal/golden"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

var update = flag.Bool("update", false, "rewrite testcases/ from what the adapter sends and the fake answers")

var at = acdtest.At

// The examples: those of docs/events.md where they overlap.
var (
	request = sdk.Request{ID: "r-5f1c", Queue: "support/printers", Status: "waiting", CreatedAt: at("2026-03-02T09:13:22.5Z"),
		Name: "Grace Hopper", Email: "grace@example.com", Problem: "The printer prints blank pages",
		Fields: map[string]string{"account": "ACME-42", "serial_number": "PRN-0042", "floor": "3"}}
	record = sdk.Session{
		ID: "s-9b02", RequestID: "r-5f1c", AgentID: "a-0001", Queue: "support/printers",
		StartedAt: at("2026-03-02T09:14:05Z"), EndedAt: at("2026-03-02T09:31:47Z"), DurationSeconds: 1062,
		Customer: sdk.Customer{Name: "Grace Hopper", Email: "grace@example.com"},
		Fields:   map[string]string{"problem": "The printer prints blank pages", "serial_number": "PRN-0042"},
		Events: []sdk.SessionEvent{
			{At: at("2026-03-02T09:14:09Z"), Type: sdk.EventChat, From: "customer", Text: "It prints blank pages."},
			{At: at("2026-03-02T09:14:30Z"), Type: sdk.EventChat, From: "agent", Text: "Let me look.\nOne moment."},
			{At: at("2026-03-02T09:15:02Z"), Type: sdk.EventDiagnostics, Diagnostics: &sdk.Diagnostics{OS: "Windows 11", Hostname: "PC-GRACE", MemoryMB: 16384,
				Software: []sdk.Software{{Name: "PrinterDriver", Version: "4.2"}}}},
			{At: at("2026-03-02T09:16:40Z"), Type: sdk.EventFileTransfer, From: "agent", File: &sdk.FileInfo{Name: "driver-4.3.zip", Size: 1048576, Direction: "to_customer"}},
			{At: at("2026-03-02T09:20:00Z"), Type: sdk.EventReboot, From: "agent"},
			{At: at("2026-03-02T09:25:00Z"), Type: sdk.EventTransfer, From: "a-0001", To: "a-0002", Text: "driver expert"},
			{At: at("2026-03-02T09:31:00Z"), Type: "annotation", From: "agent", Text: "a type this adapter does not know"},
		},
		Resolution: "resolved",
		Survey:     &sdk.Survey{Rating: 5, Comment: "Fixed in minutes"},
		Recording: &sdk.Recording{Size: 734003, SHA256: strings.Repeat("3f", 32),
			URL: "http://127.0.0.1:8089/v1/sessions/s-9b02/recording", Path: "2026/03/02/s-9b02.webm"},
		ReplayURL: "http://127.0.0.1:8089/replay/s-9b02",
	}
)

// configured is an adapter named "helpdesk" with settings (a JSON object
// where "URL" stands for the fake's url).
func configured(t *testing.T, f *fakeRT, settings string) *Adapter {
	t.Helper()
	a := New(hclog.NewNullLogger())
	js := strings.ReplaceAll(settings, "URL", f.url())
	if err := a.Configure(context.Background(), sdk.Settings{Instance: "helpdesk", JSON: []byte(js)}); err != nil {
		t.Fatalf("configure %s: %v", js, err)
	}
	return a
}

const withToken = `{"url": "URL", "token": "1-14-3d6e4e51659a4cf5a0f709d56032ba85",
	"queues": {"support": "Support", "support/printers": "Printers"},
	"custom_fields": {"serial_number": "Serial number", "account": "Account", "email": "Customer email"}}`

const withBasic = `{"url": "URL", "username": "acdbridge", "password": "s3cret"}`

// golden compares got with testcases/name (go test ./adapters/rt -update
// rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Compare(t, filepath.Join("testcases", name), got, *update)
}

func resultLine(r sdk.Result) string {
	return fmt.Sprintf("= %s reference=%q message=%q\n\n", r.Outcome, r.Reference, r.Message)
}

// TestGolden runs the write-back's calls against the fake and compares the
// whole HTTP transcript, requests and answers, with testcases/*.txt.
func TestGolden(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, f *fakeRT) string
	}{
		{"request.txt", func(t *testing.T, f *fakeRT) string {
			// A new request: a search for its tag finds nothing, a ticket is
			// created; the same request in a later status needs no call.
			a := configured(t, f, withToken)
			out := resultLine(a.HandleRequest(ctx, request))
			later := request
			later.Status, later.AgentID, later.SessionID = "in_session", "a-0001", "s-9b02"
			return out + resultLine(a.HandleRequest(ctx, later))
		}},
		{"session.txt", func(t *testing.T, f *fakeRT) string {
			// The ticket was made for the request by an adapter that has
			// since restarted: the session finds it by its tag, sets the
			// status and comments.
			out := resultLine(configured(t, f, withToken).HandleRequest(ctx, request))
			return out + resultLine(configured(t, f, withToken).HandleSession(ctx, record))
		}},
		{"session-external-ref.txt", func(t *testing.T, f *fakeRT) string {
			// Phone mode: the connection code carried the ticket's number;
			// basic authentication; an unresolved session reopens it.
			f.tickets = append(f.tickets, &fakeTicket{id: 1, queue: "General", subject: "Printer on floor 3", status: "new", customFields: map[string]string{}})
			s := record
			s.RequestID, s.ExternalRef, s.Resolution, s.Survey = "", "#1", "unresolved", nil
			return resultLine(configured(t, f, withBasic).HandleSession(ctx, s))
		}},
		{"session-without-ticket.txt", func(t *testing.T, f *fakeRT) string {
			// A session whose request has no ticket (it came before the
			// adapter was set up): the ticket is made from the record. The
			// summary alone (no record) says so in the comment.
			s := sdk.Session{ID: "s-77", RequestID: "r-77", AgentID: "a-0003", Queue: "sales", ExternalRef: "CRM-1234",
				StartedAt: at("2026-03-02T10:00:00Z"), EndedAt: at("2026-03-02T10:05:30Z"), DurationSeconds: 330}
			return resultLine(configured(t, f, withToken).HandleSession(ctx, s))
		}},
		{"errors.txt", func(t *testing.T, f *fakeRT) string {
			var out strings.Builder
			// An RT queue that does not exist.
			out.WriteString(resultLine(configured(t, f, `{"url": "URL", "token": "1-14-3d6e4e51659a4cf5a0f709d56032ba85", "queue": "Nowhere"}`).HandleRequest(ctx, request)))
			// A wrong token.
			out.WriteString(resultLine(configured(t, f, `{"url": "URL", "token": "1-14-wrong"}`).HandleRequest(ctx, request)))
			// A status RT does not know.
			f.tickets = append(f.tickets, &fakeTicket{id: 1, queue: "General", subject: "x", status: "new", customFields: map[string]string{}})
			s := record
			s.ExternalRef = "1"
			out.WriteString(resultLine(configured(t, f, withBasic[:len(withBasic)-1]+`, "status": {"resolved": "done"}}`).HandleSession(ctx, s)))
			// A ticket that does not exist.
			s.ExternalRef = "404"
			out.WriteString(resultLine(configured(t, f, withBasic).HandleSession(ctx, s)))
			// RT failing.
			f.failNext = []int{http.StatusInternalServerError}
			out.WriteString(resultLine(configured(t, f, withBasic).HandleRequest(ctx, request)))
			return out.String()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRT(t)
			results := tc.run(t, f)
			got := strings.ReplaceAll(f.transcript(), f.URL, "http://rt.test") + "--- results\n" + results
			golden(t, tc.name, strings.ReplaceAll(got, f.URL, "http://rt.test"))
		})
	}
}

// TestSessionComment: the comment's text, whole, for a full record.
func TestSessionComment(t *testing.T) {
	golden(t, "session-comment.txt", sessionText(record))
}

// TestWriteBack checks what RT holds after a request and its session: the
// ticket's queue, subject, requestor, custom fields, body, status, and the
// comment.
func TestWriteBack(t *testing.T) {
	ctx := context.Background()
	f := newFakeRT(t)
	a := configured(t, f, withToken)
	r := a.HandleRequest(ctx, request)
	if r.Outcome != sdk.Applied || r.Reference != "1" {
		t.Fatalf("request: %+v", r)
	}
	s := a.HandleSession(ctx, record)
	if s.Outcome != sdk.Applied || s.Reference != "1" || s.Message != `commented on ticket 1; status "resolved"` {
		t.Fatalf("session: %+v", s)
	}
	if len(f.tickets) != 1 {
		t.Fatalf("%d tickets, want 1", len(f.tickets))
	}
	tk := f.tickets[0]
	want := fakeTicket{id: 1, queue: "Printers", subject: "The printer prints blank pages [acdbridge request r-5f1c]",
		requestor: "grace@example.com", status: "resolved",
		customFields: map[string]string{"Serial number": "PRN-0042", "Account": "ACME-42"}} // "Customer email" does not exist in this RT
	if tk.queue != want.queue || tk.subject != want.subject || tk.requestor != want.requestor || tk.status != want.status ||
		fmt.Sprint(tk.customFields) != fmt.Sprint(want.customFields) {
		t.Fatalf("ticket\n got %+v\nwant %+v", *tk, want)
	}
	for _, l := range []string{"Remote-support request r-5f1c in queue support/printers.", "Customer:     Grace Hopper <grace@example.com>",
		"  account: ACME-42", "  floor: 3", "  serial_number: PRN-0042"} {
		if !strings.Contains(tk.content, l+"\n") {
			t.Errorf("the ticket's body lacks %q:\n%s", l, tk.content)
		}
	}
	if len(tk.comments) != 1 || tk.comments[0] != (fakeComment{txn: 2, subject: "Remote-support session s-9b02 ended", content: sessionText(record), contentType: "text/plain"}) {
		t.Fatalf("comments %+v", tk.comments)
	}
	// Delivered again (the bus delivers at least once, and a retry follows
	// a comment whose answer was lost): no second comment.
	s = a.HandleSession(ctx, record)
	if s.Outcome != sdk.Applied || s.Reference != "1" || s.Message != `ticket 1 has the session's comment already; status "resolved"` {
		t.Fatalf("session again: %+v", s)
	}
	if len(tk.comments) != 1 {
		t.Fatalf("%d comments after the session came twice, want 1: %+v", len(tk.comments), tk.comments)
	}
	// Another session of the same request gets its own.
	other := record
	other.ID = "s-9b03"
	if s = a.HandleSession(ctx, other); s.Outcome != sdk.Applied || len(tk.comments) != 2 || tk.comments[1].subject != "Remote-support session s-9b03 ended" {
		t.Fatalf("another session: %+v; comments %+v", s, tk.comments)
	}
}

// TestOutcomes: every way a call ends, and whether the bridge should try
// again.
func TestOutcomes(t *testing.T) {
	ctx := context.Background()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/rt/NoAuth/Login.html?next=abc", http.StatusFound)
	}))
	defer redirect.Close()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>RT login</body></html>"))
	}))
	defer html.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + closed.Addr().String()
	closed.Close()

	tests := []struct {
		name     string
		settings string // "URL": the fake's
		fail     []int  // the fake's next answers
		call     func(*Adapter) sdk.Result
		outcome  sdk.Outcome
		says     string
	}{
		{"created", withToken, nil, func(a *Adapter) sdk.Result { return a.HandleRequest(ctx, request) }, sdk.Applied, `created ticket 1 in queue "Printers"`},
		{"500", withToken, []int{500}, func(a *Adapter) sdk.Result { return a.HandleRequest(ctx, request) }, sdk.Retryable, "HTTP 500 Internal Server Error: <html>"},
		{"502 on create", withToken, []int{0, 502}, func(a *Adapter) sdk.Result { return a.HandleRequest(ctx, request) }, sdk.Retryable, "POST URL/REST/2.0/ticket: HTTP 502 Bad Gateway"},
		{"503 on comment", withToken, []int{0, 0, 0, 0, 503}, func(a *Adapter) sdk.Result {
			a.HandleRequest(ctx, request)
			return a.HandleSession(ctx, record)
		}, sdk.Retryable, "POST URL/REST/2.0/ticket/1/comment: HTTP 503"},
		{"429", withToken, []int{429}, func(a *Adapter) sdk.Result { return a.HandleRequest(ctx, request) }, sdk.Retryable, "HTTP 429 Too Many Requests"},
		{"408", withToken, []int{408}, func(a *Adapter) sdk.Result { return a.HandleRequest(ctx, request) }, sdk.Retryable, "HTTP 408 Request Timeout"},
		{"401", `{"url": "URL", "token": "nope"}`, nil, func(a *Adapter) sdk.Result { return a.HandleRequest(ctx, request) }, sdk.Permanent, "RT refused the credentials (Unauthorized)"},
		{"basic wrong password", `{"url": "URL", "username": "acdbridge", "password": "nope"}`, nil, func(a *Adapter) sdk.Result { return a.HandleRequest(ctx, request) }, sdk.Permanent, "HTTP 401 Unauthorized"},
		{"403 unknown queue", `{"url": "URL", "token": "1-14-3d6e4e51659a4cf5a0f709d56032ba85", "queue": "Nowhere"}`, nil, func(a *Adapter) sdk.Result { return a.HandleRequest(ctx, request) }, sdk.Permanent, "HTTP 403 Forbidden: No permission to create tickets in the queue 'Nowhere'"},
		{"404 ticket", withBasic, nil, func(a *Adapter) sdk.Result {
			s := record
			s.ExternalRef = "#77"
			return a.HandleSession(ctx, s)
		}, sdk.Permanent, "PUT URL/REST/2.0/ticket/77: HTTP 404 Not Found: Resource does not exist; use POST to create"},
		{"comment on a missing ticket", withBasic, nil, func(a *Adapter) sdk.Result {
			s := record
			s.ExternalRef, s.Resolution = "77", ""
			return a.HandleSession(ctx, s)
		}, sdk.Permanent, "GET URL/REST/2.0/ticket/77/history: HTTP 404 Not Found"},
		{"status refused", `{"url": "URL", "username": "acdbridge", "password": "s3cret", "status": {"resolved": "done"}}`, nil, func(a *Adapter) sdk.Result {
			a.HandleRequest(ctx, request)
			return a.HandleSession(ctx, record)
		}, sdk.Permanent, `status "done" refused: Ticket 1: Status 'done' isn't a valid status for this ticket.`},
		{"status left alone", `{"url": "URL", "username": "acdbridge", "password": "s3cret", "status": {"resolved": ""}}`, nil, func(a *Adapter) sdk.Result {
			a.HandleRequest(ctx, request)
			return a.HandleSession(ctx, record)
		}, sdk.Applied, "commented on ticket 1"},
		{"timeout", `{"url": "` + slow.URL + `", "token": "t", "timeout": "1s"}`, nil, func(a *Adapter) sdk.Result { return a.HandleRequest(ctx, request) }, sdk.Retryable, "no answer within the timeout of 1s"},
		{"connection refused", `{"url": "` + deadURL + `", "token": "t"}`, nil, func(a *Adapter) sdk.Result { return a.HandleRequest(ctx, request) }, sdk.Retryable, "connection refused"},
		{"redirect to login", `{"url": "` + redirect.URL + `", "token": "t"}`, nil, func(a *Adapter) sdk.Result { return a.HandleRequest(ctx, request) }, sdk.Permanent, "redirected to " + redirect.URL + "/rt/NoAuth/Login.html?…: RT sends to its login page"},
		{"not RT", `{"url": "` + html.URL + `", "token": "t"}`, nil, func(a *Adapter) sdk.Result { return a.HandleRequest(ctx, request) }, sdk.Permanent, "with a body that is not the JSON RT answers"},
		{"request without id", withToken, nil, func(a *Adapter) sdk.Result { return a.HandleRequest(ctx, sdk.Request{Queue: "q"}) }, sdk.Permanent, "the request has no id"},
		{"session without id", withToken, nil, func(a *Adapter) sdk.Result { return a.HandleSession(ctx, sdk.Session{}) }, sdk.Permanent, "the session has no id"},
		{"not configured", "", nil, func(*Adapter) sdk.Result { return New(nil).HandleRequest(ctx, request) }, sdk.Retryable, notConfigured},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRT(t)
			var a *Adapter
			if tc.settings != "" {
				a = configured(t, f, tc.settings)
			}
			f.failNext = tc.fail
			r := tc.call(a)
			says := strings.ReplaceAll(tc.says, "URL", f.url())
			if r.Outcome != tc.outcome || !strings.Contains(r.Message, says) {
				t.Fatalf("%s: %q\nwant %s with %q", r.Outcome, r.Message, tc.outcome, says)
			}
			if a == nil {
				return
			}
			h := a.Health(ctx)
			if (r.Outcome == sdk.Applied) != (h.Status == sdk.Up) || (r.Outcome != sdk.Applied && !strings.Contains(h.Message, says)) {
				t.Fatalf("health after %s: %+v", r.Outcome, h)
			}
		})
	}
}

// TestFindsItsOwnTicketOnly: the tag is matched exactly (RT's LIKE is a
// substring match without case): r-1 is not r-12, nor R-1; and the oldest
// of several tickets is the one.
func TestFindsItsOwnTicketOnly(t *testing.T) {
	ctx := context.Background()
	f := newFakeRT(t)
	for i, subj := range []string{"x [acdbridge request r-12]", "x [ACDBRIDGE REQUEST R-1]", "y [acdbridge request r-1]", "z [acdbridge request r-1]", "quote [acdbridge request it's\\]"} {
		f.tickets = append(f.tickets, &fakeTicket{id: i + 1, queue: "General", subject: subj, status: "new", customFields: map[string]string{}})
	}
	a := configured(t, f, withToken)
	for _, tc := range []struct {
		id   string
		want string
	}{{"r-1", "3"}, {"r-12", "1"}, {"it's\\", "5"}, {"r-2", "6"}} {
		r := a.HandleRequest(ctx, sdk.Request{ID: tc.id, Queue: "q", Status: "waiting"})
		if r.Outcome != sdk.Applied || r.Reference != tc.want {
			t.Errorf("request %s: %+v, want ticket %s", tc.id, r, tc.want)
		}
	}
	if len(f.tickets) != 6 {
		t.Fatalf("%d tickets, want 6: only r-2 is new", len(f.tickets))
	}
}

func TestRTQueue(t *testing.T) {
	cfg, err := parseConfig(sdk.Settings{JSON: []byte(`{"url": "http://rt", "token": "t", "queue": "Default",
		"queues": {"support": "Support", "support/printers": "Printers", "sales/emea": "EMEA"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{
		"support": "Support", "support/printers": "Printers", "support/printers/laser": "Printers", "support/phones": "Support",
		"sales": "Default", "sales/emea": "EMEA", "sales/emea/de": "EMEA", "supportx": "Default", "": "Default",
	} {
		if got := cfg.rtQueue(q); got != want {
			t.Errorf("rtQueue(%q) = %q, want %q", q, got, want)
		}
	}
}

func TestTicketFromRef(t *testing.T) {
	def, err := parseConfig(sdk.Settings{JSON: []byte(`{"url": "http://rt", "token": "t"}`)})
	if err != nil {
		t.Fatal(err)
	}
	custom, err := parseConfig(sdk.Settings{JSON: []byte(`{"url": "http://rt", "token": "t", "ticket_ref": "^RT-([0-9]+)$"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg  settingsOf
		ref  string
		want int
	}{
		{def, "42", 42}, {def, "#42", 42}, {def, " 42 ", 42}, {def, "", 0}, {def, "0", 0}, {def, "CRM-42", 0}, {def, "42a", 0},
		{def, "99999999999999999999", 0}, {custom, "RT-7", 7}, {custom, "7", 0},
	} {
		got, ok := tc.cfg.ticketFromRef(tc.ref)
		if got != tc.want || ok != (tc.want > 0) {
			t.Errorf("ticketFromRef(%q) = %d, %v; want %d", tc.ref, got, ok, tc.want)
		}
	}
}

func TestSubject(t *testing.T) {
	long := strings.Repeat("é", 300)
	for _, tc := range []struct{ text, want string }{
		{"Blank pages", "Blank pages [acdbridge request r-1]"},
		{"two\nlines  and\tspace", "two lines and space [acdbridge request r-1]"},
		{"", "[acdbridge request r-1]"},
		{long, strings.Repeat("é", 200-len([]rune(" [acdbridge request r-1]"))-1) + "… [acdbridge request r-1]"},
	} {
		got := subjectWith(tc.text, requestTag("r-1"))
		if got != tc.want || len([]rune(got)) > maxSubject {
			t.Errorf("subjectWith(%.20q) = %q (%d runes), want %q", tc.text, got, len([]rune(got)), tc.want)
		}
	}
}

// TestSettingsNeverLogged: the token and password appear in no log line.
func TestSettingsNeverLogged(t *testing.T) {
	var logs strings.Builder
	a := New(hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace, JSONFormat: true}))
	f := newFakeRT(t)
	for _, s := range []string{withToken, withBasic, `{"url": "URL", "token": "1-14-wrong-secret"}`} {
		js := strings.ReplaceAll(s, "URL", f.url())
		if err := a.Configure(context.Background(), sdk.Settings{Instance: "x", JSON: json.RawMessage(js)}); err != nil {
			t.Fatal(err)
		}
		a.HandleRequest(context.Background(), request)
		a.HandleSession(context.Background(), record)
		_ = a.Health(context.Background())
	}
	for _, secret := range []string{"3d6e4e51659a4cf5a0f709d56032ba85", "s3cret", "wrong-secret"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("a secret is in the log:\n%s", logs.String())
		}
	}
}
