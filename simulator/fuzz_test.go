package simulator

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fuzz targets feed every decoder of the API whatever the fuzzer makes
// up. Whatever it is, nothing panics, and every refusal is an *APIError with
// a 4xx status; what is accepted is handed on to the engine, which answers
// with a result or a 4xx too. Seeds are added here and kept in
// testdata/fuzz/FuzzXxx; a crasher found later is kept there as well.

// fzEngine hands out an engine on a manual clock, made afresh every renew
// calls so that what fuzz inputs create does not pile up.
type fzEngine struct {
	mu    sync.Mutex
	renew int
	n     int
	e     *Engine
}

func (f *fzEngine) get(t *testing.T) *Engine {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.e == nil || f.n >= f.renew {
		e, err := NewEngine(oaScenarioSpec(), NewManualClock(testStart), 256)
		if err != nil {
			t.Fatalf("NewEngine: %v", err)
		}
		f.e, f.n = e, 0
	}
	f.n++
	return f.e
}

// oaScenarioSpec is oaScenario without a test to fail: smallScenario with a
// route from support to support/printers and a required serial_number there.
func oaScenarioSpec() Scenario {
	sc := smallScenario()
	for i := range sc.Queues {
		switch sc.Queues[i].ID {
		case "support":
			sc.Queues[i].Routes = []Route{{Field: "product", Equals: "printer", To: "support/printers"}}
		case "support/printers":
			sc.Queues[i].RequiredFields = []string{"serial_number"}
		}
	}
	return sc
}

// fzAPIError fails unless err is nil or an *APIError with a 4xx status, a
// code and a message.
func fzAPIError(t *testing.T, err error) *APIError {
	t.Helper()
	if err == nil {
		return nil
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %T (%v) is not an *APIError: the server would answer 500", err, err)
	}
	if ae.Status < 400 || ae.Status > 499 || ae.Code == "" || ae.Message == "" {
		t.Fatalf("error %+v: want a 4xx with a code and a message", ae)
	}
	return ae
}

// fzBody is a request with body, as the server's wrap hands it on.
func fzBody(body, ctype string) *http.Request {
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	r.Body = http.MaxBytesReader(nil, r.Body, MaxBodyBytes)
	return r
}

// fzRoundTrip checks that what decodeJSON accepted encodes to JSON that
// decodes strictly to the same value.
func fzRoundTrip[T any](t *testing.T, in T) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("marshal %+v: %v", in, err)
	}
	var again T
	if err := unmarshalStrict(b, &again); err != nil {
		t.Fatalf("%s, the encoding of an accepted body, is refused: %v", b, err)
	}
	if !reflect.DeepEqual(in, again) {
		t.Fatalf("round trip changed %+v into %+v", in, again)
	}
}

func fzCheckCreated(t *testing.T, e *Engine, in NewRequest, out *RequestJSON) {
	t.Helper()
	if out.ID == "" || (out.Status != RequestWaiting && out.Status != RequestInSession) {
		t.Fatalf("created request %+v: want an id and waiting or in_session", out)
	}
	for k, v := range in.Fields {
		if out.Fields[k] != v {
			t.Fatalf("field %q is %q, posted %q", k, out.Fields[k], v)
		}
	}
	if out.RoutedFrom == "" && out.Queue != in.Queue || out.RoutedFrom != "" && out.RoutedFrom != in.Queue {
		t.Fatalf("posted to %q, landed in %q routed from %q", in.Queue, out.Queue, out.RoutedFrom)
	}
	got, err := e.Request(out.ID)
	if err != nil || got.ID != out.ID {
		t.Fatalf("Request(%s) = %+v, %v", out.ID, got, err)
	}
}

func FuzzNewRequestJSON(f *testing.F) {
	for _, s := range []string{
		`{"queue":"sales"}`,
		`{"queue":"support/printers","fields":{"serial_number":"SN-1"}}`,
		`{"queue":"support","name":"Ann","email":"ann@example.com","problem":"jam","fields":{"product":"printer","serial_number":"x"}}`,
		`{"queue":"support","fields":{"product":"printer"}}`,
		``, `{`, `[]`, `null`, `{"queue":5}`, `{"queue":"sales","fields":{"a":1}}`,
		`{"queue":"sales"}{}`, `{"queue":"sales","colour":1}`, `{"queue":"\ud800"}`,
		`{"queue":"sales","fields":{"":""}}`, `{"QUEUE":"sales"}`, `{"queue":"sales","queue":"nope"}`,
	} {
		f.Add(s)
	}
	eng := &fzEngine{renew: 2000}
	f.Fuzz(func(t *testing.T, body string) {
		var in NewRequest
		if err := decodeJSON(fzBody(body, oaJSON), &in, false); err != nil {
			fzAPIError(t, err)
			return
		}
		fzRoundTrip(t, in)
		e := eng.get(t)
		out, err := e.CreateRequest(in)
		if fzAPIError(t, err) == nil {
			fzCheckCreated(t, e, in, out)
		}
	})
}

func FuzzNewRequestForm(f *testing.F) {
	for _, s := range []string{
		"queue=sales",
		"queue=support&name=Bo&fields%5Bproduct%5D=printer&fields%5Bserial_number%5D=SN-1",
		"queue=support%2Fprinters&fields[serial_number]=1",
		"", "queue=%zz", "queue=a&queue=b", "colour=red", "queue=sales;x=1",
		"fields[]=x", "fields[a=1", "queue=sales&fields%5Ba%5D=1&fields%5Ba%5D=2", "=&&=",
	} {
		f.Add(s)
	}
	eng := &fzEngine{renew: 2000}
	f.Fuzz(func(t *testing.T, body string) {
		in, err := parseRequestForm(body)
		if err != nil {
			fzAPIError(t, err)
			return
		}
		e := eng.get(t)
		out, err := e.CreateRequest(in)
		if fzAPIError(t, err) == nil {
			fzCheckCreated(t, e, in, out)
		}
	})
}

func FuzzNewCode(f *testing.F) {
	for _, s := range []string{
		`{"agent_id":"a-0001"}`,
		`{"agent_id":"a-0002","queue":"sales","external_ref":"CRM-1","ttl_seconds":60}`,
		`{"agent_id":"a-0001","ttl_seconds":86400}`,
		``, `{}`, `{"agent_id":5}`, `{"agent_id":"a-0001","ttl_seconds":-1}`,
		`{"agent_id":"a-0001","ttl_seconds":1e40}`, `{"agent_id":"a-9999"}`,
		`{"agent_id":"a-0001","queue":"sales"}`, `{"agent_id":"a-0001"} 1`,
	} {
		f.Add(s)
	}
	eng := &fzEngine{renew: 5000}
	f.Fuzz(func(t *testing.T, body string) {
		var in NewCode
		if err := decodeJSON(fzBody(body, oaJSON), &in, false); err != nil {
			fzAPIError(t, err)
			return
		}
		fzRoundTrip(t, in)
		e := eng.get(t)
		c, err := e.CreateCode(in)
		if fzAPIError(t, err) != nil {
			return
		}
		if len(c.Code) != 9 || strings.Trim(c.Code, "0123456789") != "" || c.AgentID != in.AgentID ||
			in.Queue != "" && c.Queue != in.Queue || c.ExternalRef != in.ExternalRef || !c.ExpiresAt.After(testStart) {
			t.Fatalf("code %+v for %+v", c, in)
		}
		if err := e.CancelCode(c.Code); err != nil {
			t.Fatalf("cancel a new code: %v", err)
		}
		if ae := fzAPIError(t, e.CancelCode(c.Code)); ae == nil || ae.Status != http.StatusNotFound {
			t.Fatalf("cancel a cancelled code: %v, want a 404", ae)
		}
	})
}

func FuzzJoinRequest(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"name":"Cal","email":"cal@example.com","fields":{"ticket":"T-1"}}`,
		`{"name":5}`, `{"fields":{"a":1}}`, `{"fields":{"":"x"}}`, `{"code":"1"}`, `{} {}`, `[{}]`, " \n",
	} {
		f.Add(s)
	}
	eng := &fzEngine{renew: 2000}
	f.Fuzz(func(t *testing.T, body string) {
		var in JoinRequest
		if err := decodeJSON(fzBody(body, oaJSON), &in, true); err != nil {
			fzAPIError(t, err)
			return
		}
		fzRoundTrip(t, in)
		e := eng.get(t)
		agentID := e.agents[len(body)%len(e.agents)].id // offline or not, as it falls
		c, err := e.CreateCode(NewCode{AgentID: agentID, ExternalRef: "CRM-1"})
		if err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		j, err := e.JoinCode(c.Code, in)
		ae := fzAPIError(t, err)
		if ae == nil {
			if j.SessionID == "" || j.AgentID != agentID || j.ExternalRef != "CRM-1" {
				t.Fatalf("join %+v, want a session with %s carrying CRM-1", j, agentID)
			}
			return
		}
		if ae.Status == http.StatusConflict {
			for _, a := range e.Agents().Agents {
				if a.ID == agentID && a.Status != StatusOffline {
					t.Fatalf("409 joining %s, who is %s", agentID, a.Status)
				}
			}
		} else if ae.Status != http.StatusBadRequest {
			t.Fatalf("joining a fresh code: %v", ae)
		}
	})
}

func FuzzFaults(f *testing.F) {
	for _, s := range [][2]string{
		{`{}`, oaJSON},
		{`{"error_rate":0.1,"latency_ms":150,"malformed_rate":0.05,"error_body_rate":0.05,"stream_drop_rate":0.01}`, oaJSON},
		{`{"latency_ms":60000}`, "application/json; charset=utf-8"},
		{`{"error_rate":1.5}`, oaJSON}, {`{"latency_ms":-1}`, oaJSON}, {`{"latency_ms":1.5}`, oaJSON},
		{`{"x":1}`, oaJSON}, {``, oaJSON}, {`null`, oaJSON}, {`{}`, "text/plain"}, {`{}`, ""}, {`{}`, "application/"},
		{`{"error_rate":-0}`, oaJSON}, {`{"error_rate":1e-400}`, oaJSON},
	} {
		f.Add(s[0], s[1])
	}
	eng, err := NewEngine(smallScenario(), NewManualClock(testStart), 256)
	if err != nil {
		f.Fatal(err)
	}
	srv, err := NewServer(eng, Options{Token: testToken})
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, body, ctype string) {
		defer func() {
			srv.faultMu.Lock()
			srv.faults = Faults{}
			srv.faultMu.Unlock()
		}()
		req := httptest.NewRequest("POST", "/v1/admin/faults", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			var got Faults
			if err := unmarshalStrict(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("200 with %q: %v", rec.Body.Bytes(), err)
			}
			for _, r := range []float64{got.ErrorRate, got.MalformedRate, got.ErrorBodyRate, got.StreamDropRate} {
				if !(r >= 0 && r <= 1) {
					t.Fatalf("accepted faults %+v with a rate outside 0..1", got)
				}
			}
			if got.LatencyMS < 0 || got.LatencyMS > 60000 {
				t.Fatalf("accepted faults %+v with latency outside 0..60000", got)
			}
			if now := srv.currentFaults(); now != got {
				t.Fatalf("answered %+v, in force %+v", got, now)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			biErrorBody(t, rec.Code, rec.Header(), rec.Body.Bytes())
			if now := srv.currentFaults(); now != (Faults{}) {
				t.Fatalf("a refused change left faults %+v", now)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
		}
	})
}

func FuzzSessionQuery(f *testing.F) {
	for _, s := range []string{
		"", "limit=1", "limit=1000", "since=2026-11-01T00:00:00Z&until=2026-11-01T06:00:00Z&limit=7",
		"since=2026-10-31T09:00:00Z&until=2100-01-01T00:00:00Z",
		"after=" + encodeCursor(testStart.Add(-3*time.Hour).UnixNano(), "s-h2026110206-000001"),
		"since=yesterday", "limit=0", "limit=abc", "after=!!!", "foo=1", "since=2026-01-01T00:00:00Z",
		"since=2026-11-02T09:00:00Z", "until=0001-01-01T00:00:00Z", "until=9999-12-31T23:59:59Z",
		"since=2026-11-01T00:00:00+23:59", "limit=1&limit=2", "%zz",
		"since=2026-11-01T00:00:00Z&until=9999-12-31T23:59:59Z",
	} {
		f.Add(s)
	}
	clock := NewManualClock(testStart)
	eng, err := NewEngine(smallScenario(), clock, 4096)
	if err != nil {
		f.Fatal(err)
	}
	clock.Add(2 * time.Hour) // some live sessions end too
	now := clock.Now()
	f.Fuzz(func(t *testing.T, raw string) {
		v, _ := url.ParseQuery(raw) // as r.URL.Query() does
		q, err := parseSessionQuery(v)
		if err != nil {
			fzAPIError(t, err)
			return
		}
		page, err := eng.Sessions(q)
		if fzAPIError(t, err) != nil {
			return
		}
		limit := q.Limit
		if limit == 0 {
			limit = 100
		}
		until := q.Until
		if until.IsZero() {
			until = now
		}
		since := q.Since
		if since.IsZero() {
			since = until.Add(-24 * time.Hour)
		}
		if len(page.Sessions) > limit {
			t.Fatalf("%d sessions, limit %d", len(page.Sessions), limit)
		}
		after, hasAfter := decodeCursor(q.After)
		for i, s := range page.Sessions {
			if s.EndedAt.Before(since) || !s.EndedAt.Before(until) {
				t.Fatalf("session %s ended %s, outside [%s, %s)", s.ID, s.EndedAt, since, until)
			}
			if hasAfter && !after.less(s.EndedAt.UnixNano(), s.ID) {
				t.Fatalf("session %s (%s) is not after the cursor %+v", s.ID, s.EndedAt, after)
			}
			if i > 0 {
				p := page.Sessions[i-1]
				if !(cursor{end: p.EndedAt.UnixNano(), id: p.ID}).less(s.EndedAt.UnixNano(), s.ID) {
					t.Fatalf("session %s listed after %s: not oldest first", s.ID, p.ID)
				}
			}
		}
		if page.Next != "" {
			c, ok := decodeCursor(page.Next)
			last := page.Sessions[len(page.Sessions)-1]
			if !ok || len(page.Sessions) != limit || c.end != last.EndedAt.UnixNano() || c.id != last.ID {
				t.Fatalf("next %q (%+v) after a page of %d ending with %s", page.Next, c, len(page.Sessions), last.ID)
			}
		}
		// No session ends after now: a range after it is empty, and a later
		// until lists the same ones as now.
		if !since.Before(now) && len(page.Sessions) != 0 {
			t.Fatalf("%d sessions ending after now (since %s)", len(page.Sessions), since)
		}
		if !q.Since.IsZero() && q.Since.Before(now) && q.Until.After(now) {
			q2 := q
			q2.Until = now
			page2, err := eng.Sessions(q2)
			if err != nil {
				t.Fatalf("until %s lists, until now (%s) fails: %v", q.Until, now, err)
			}
			if !reflect.DeepEqual(page, page2) {
				t.Fatalf("until %s lists %d sessions, until now %d", q.Until, len(page.Sessions), len(page2.Sessions))
			}
		}
	})
}

func FuzzCursor(f *testing.F) {
	f.Add(encodeCursor(1793610000000000000, "s-000000001"), int64(1793610000000000000), "000000001")
	f.Add(encodeCursor(-1, "s-h2026110100-000001"), int64(-1), "h2026110100-000001")
	f.Add("", int64(0), "")
	f.Add("!!!", int64(0), ".")
	f.Add(biB64("12345"), int64(9223372036854775807), "a.b")
	f.Add(biB64("abc.s-1"), int64(-9223372036854775808), "\xff")
	f.Add(biB64("+1.s-"), int64(1), "")
	f.Fuzz(func(t *testing.T, s string, end int64, id string) {
		if c, ok := decodeCursor(s); ok {
			if !strings.HasPrefix(c.id, "s-") {
				t.Fatalf("decoded %q to %+v, whose id is not a session id", s, c)
			}
			if c2, ok := decodeCursor(encodeCursor(c.end, c.id)); !ok || c2 != c {
				t.Fatalf("%+v encodes to a cursor that decodes to %+v, %v", c, c2, ok)
			}
		}
		want := cursor{end: end, id: "s-" + id}
		if got, ok := decodeCursor(encodeCursor(want.end, want.id)); !ok || got != want {
			t.Fatalf("encodeCursor(%d, %q) decodes to %+v, %v", want.end, want.id, got, ok)
		}
	})
}

func FuzzScenario(f *testing.F) {
	for _, s := range []string{
		"queue \"support\" {}\n",
		"seed = 3\nhistory = \"1d\"\nqueue \"support\" {}\nqueue \"support/printers\" {\n  required_fields = [\"serial_number\"]\n}\nagents \"desk\" {\n  count = 8\n  queues = [\"support\", \"support/printers\"]\n}\nfaults {\n  error_rate = 0.1\n  latency_ms = 150\n}\n",
		"queue \"a\" {\n  rate_per_minute = 2\n  profile = [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]\n  route {\n    field = \"x\"\n    equals = \"y\"\n    to = \"a/b\"\n  }\n}\nqueue \"a/b\" {}\n",
		"sessions {\n  median_duration = \"9m\"\n  p90_duration = \"30m\"\n  recording_min_bytes = 64\n  recording_max_bytes = 128\n}\nqueue \"q\" {}\n",
		"", "queue {}", "queue \"Bad\" {}", "queue \"a/b\" {}", "seed = -1\nqueue \"q\" {}",
		"history = \"1e400d\"\nqueue \"q\" {}", "speed = \"fast\"\nqueue \"q\" {}", "queue \"q\" {\n  profile = [1]\n}",
		"agents \"x\" {\n  queues = [\"nope\"]\n}\nqueue \"q\" {}", "start = \"2026-13-01T00:00:00Z\"\nqueue \"q\" {}",
		"queue \"q\" {}\nqueue \"q\" {}", "${", "queue \"q\" {\n  name = var.x\n}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		sc, err := ParseScenario(src, "fuzz.hcl")
		if err != nil {
			return
		}
		if len(sc.Queues) == 0 {
			t.Fatalf("accepted a scenario without queues")
		}
		known := map[string]bool{}
		agents := 0
		for _, q := range sc.Queues {
			if !validQueueID(q.ID) || known[q.ID] {
				t.Fatalf("accepted queue id %q (invalid or twice)", q.ID)
			}
			known[q.ID] = true
		}
		for _, q := range sc.Queues {
			if p, ok := parentOf(q.ID); ok && !known[p] {
				t.Fatalf("accepted queue %q without its parent", q.ID)
			}
			for _, r := range q.Routes {
				if !known[r.To] {
					t.Fatalf("accepted a route to unknown queue %q", r.To)
				}
			}
		}
		for _, g := range sc.Agents {
			agents += g.Count
			for _, q := range g.Queues {
				if !known[q] {
					t.Fatalf("accepted agents %q serving unknown queue %q", g.Name, q)
				}
			}
		}
		if agents > 1000 || len(sc.Queues) > 1000 {
			return // too big to build here
		}
		// The engine may refuse what the parser let through, but not panic.
		_, _ = NewEngine(sc, NewManualClock(testStart), 64)
	})
}
