package rt

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// FuzzAnswer feeds RT answers of any status and body to every call the
// adapter makes: it never panics, every outcome is one of the four, a
// failure says what happened, and an applied call names its ticket.
// Seeds: f.Add below and testdata/fuzz/FuzzAnswer/.
func FuzzAnswer(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"count":0,"items":[],"page":1,"pages":0,"per_page":100,"total":0}`},
		{200, `{"items":[{"id":"7","Subject":"x [acdbridge request r-1]"}]}`},
		{200, `{"items":[{"id":7,"Subject":"x [acdbridge request r-1]"}]}`},
		{200, `{"items":[{"id":"-1","Subject":"x [acdbridge request r-1]"}]}`},
		{201, `{"id":"12","type":"ticket","_url":"x"}`},
		{201, `{"id":null}`},
		{200, `["Ticket 1: Status changed from 'new' to 'resolved'"]`},
		{200, `["Ticket 1: Status 'x' isn't a valid status for this ticket."]`},
		{200, `{"Status":"resolved"}`},
		{400, `{"message":"ContentType is a required field for application/json"}`},
		{500, "<html>Internal Server Error</html>"},
		{302, ""},
		{200, "\xff\xfe"},
	} {
		f.Add(s.status, []byte(s.body))
	}
	var mu sync.Mutex
	var status int
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	a := New(nil)
	if err := a.Configure(context.Background(), sdk.Settings{JSON: []byte(`{"url": "` + srv.URL + `", "token": "t"}`)}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, code int, data []byte) {
		if code < 200 || code > 599 {
			code = 200 + (code%400+400)%400
		}
		mu.Lock()
		status, body = code, data
		mu.Unlock()
		in := a.current()
		in.st.mu.Lock()
		clear(in.st.tickets) // every call asks RT
		in.st.order = nil
		in.st.mu.Unlock()
		for _, r := range []sdk.Result{
			a.HandleRequest(context.Background(), sdk.Request{ID: "r-1", Queue: "q"}),
			a.HandleSession(context.Background(), sdk.Session{ID: "s-1", ExternalRef: "1", Resolution: "resolved"}),
			a.HandleSession(context.Background(), sdk.Session{ID: "s-2", RequestID: "r-1"}),
		} {
			switch r.Outcome {
			case sdk.Applied:
				if r.Reference == "" {
					t.Fatalf("applied without a ticket: %+v", r)
				}
			case sdk.Retryable, sdk.Permanent:
				if r.Message == "" || strings.ContainsAny(r.Message, "\n\r") {
					t.Fatalf("a failure's message %q: want one line saying what happened", r.Message)
				}
			default:
				t.Fatalf("outcome %v", r.Outcome)
			}
		}
	})
}
