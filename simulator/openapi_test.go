package simulator

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// This file checks every call against openapi.yaml on a running server:
// each call of the contract table is validated as a request (does the
// document accept what was sent?) and as a response (does the answer match
// the document, status included?). TestOpenAPITableCoversEveryOperation keeps
// the table complete: every operation and every status the document lists
// must be called.

// oaSpecServer is the server openapi.yaml names; requests are matched
// against the document as if sent there.
const oaSpecServer = "http://127.0.0.1:8089"

var oaDecoderOnce sync.Once

// oaContract is openapi.yaml, loaded, validated and routed.
type oaContract struct {
	doc    *openapi3.T
	router routers.Router
	client *http.Client
}

func newOAContract(t *testing.T) *oaContract {
	t.Helper()
	oaDecoderOnce.Do(func() {
		// The stream's body is a text/event-stream, which the document
		// describes as a string; its events are checked one by one.
		openapi3filter.RegisterBodyDecoder("text/event-stream", func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			b, err := io.ReadAll(r)
			return string(b), err
		})
	})
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("openapi.yaml")
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("route openapi.yaml: %v", err)
	}
	return &oaContract{doc: doc, router: router, client: &http.Client{Timeout: 30 * time.Second}}
}

// Ways a call authenticates.
const (
	oaAuthToken = "" // the test token
	oaAuthNone  = "none"
	oaAuthWrong = "wrong"
)

// oaCall is one HTTP call.
type oaCall struct {
	method string
	path   string // with the query
	ctype  string
	body   []byte
	header map[string]string
	auth   string
}

// oaResult is a call's answer and what the document said of its request.
type oaResult struct {
	route  *routers.Route
	reqErr error // the document's verdict on the request; nil: accepted
	status int
	header http.Header
	body   []byte
}

func (c *oaContract) newRequest(t *testing.T, ctx context.Context, base string, call oaCall) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, call.method, base+call.path, bytes.NewReader(call.body))
	if err != nil {
		t.Fatalf("%s %s: %v", call.method, call.path, err)
	}
	for k, v := range call.header {
		req.Header.Set(k, v)
	}
	if call.ctype != "" {
		req.Header.Set("Content-Type", call.ctype)
	}
	switch call.auth {
	case oaAuthToken:
		req.Header.Set("Authorization", "Bearer "+testToken)
	case oaAuthWrong:
		req.Header.Set("Authorization", "Bearer not-"+testToken)
	case oaAuthNone:
	default:
		t.Fatalf("unknown auth %q", call.auth)
	}
	return req
}

// oaBearer accepts any bearer token: whether it is the right one is the
// server's business, not the document's.
func oaBearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "bearerAuth" {
		return fmt.Errorf("unexpected security scheme %q", in.SecuritySchemeName)
	}
	tok, ok := strings.CutPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// validateRequest finds call's operation in the document and checks the
// request against it.
func (c *oaContract) validateRequest(t *testing.T, call oaCall) (*openapi3filter.RequestValidationInput, error) {
	t.Helper()
	req := c.newRequest(t, context.Background(), oaSpecServer, call)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: no operation in openapi.yaml: %v", call.method, call.path, err)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: oaBearer},
	}
	return in, openapi3filter.ValidateRequest(context.Background(), in)
}

// validateResponse checks an answer against the document, status included.
func (c *oaContract) validateResponse(t *testing.T, in *openapi3filter.RequestValidationInput, status int, header http.Header, body []byte) {
	t.Helper()
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	rin.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), rin); err != nil {
		t.Errorf("%s %s: the answer %d does not match openapi.yaml: %v\nbody: %.300q", in.Request.Method, in.Request.URL.RequestURI(), status, err, body)
	}
	if status >= 400 {
		biErrorBody(t, status, header, body)
	}
}

// do sends call to the server at base and checks request and answer against
// the document.
func (c *oaContract) do(t *testing.T, base string, call oaCall) oaResult {
	t.Helper()
	in, reqErr := c.validateRequest(t, call)
	resp, err := c.client.Do(c.newRequest(t, context.Background(), base, call))
	if err != nil {
		t.Fatalf("%s %s: %v", call.method, call.path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: read body: %v", call.method, call.path, err)
	}
	c.validateResponse(t, in, resp.StatusCode, resp.Header, body)
	return oaResult{route: in.Route, reqErr: reqErr, status: resp.StatusCode, header: resp.Header, body: body}
}

// oaEvent is one server-sent event as it came over the wire.
type oaEvent struct {
	id    string
	hasID bool
	name  string
	data  string
	retry string
}

func oaReadSSE(r io.Reader, out chan<- oaEvent) {
	defer close(out)
	br := bufio.NewReader(r)
	var ev oaEvent
	var data []string
	have := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			if have {
				ev.data = strings.Join(data, "\n")
				out <- ev
			}
			ev, data, have = oaEvent{}, nil, false
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		have = true
		switch field {
		case "id":
			ev.id, ev.hasID = value, true
		case "event":
			ev.name = value
		case "data":
			data = append(data, value)
		case "retry":
			ev.retry = value
		}
	}
}

// oaStream opens the stream at base, calls drive once the answer's headers
// are in, and reads events until done says so, the server ends the stream
// (eof), or a deadline passes (an error unless wantEOF is false and done
// never held: then too). The request and the answer, with the bytes read,
// are checked against the document.
func (c *oaContract) stream(t *testing.T, base string, call oaCall, drive func(), done func([]oaEvent) bool) (res oaResult, evs []oaEvent, eof bool) {
	t.Helper()
	in, reqErr := c.validateRequest(t, call)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := (&http.Client{}).Do(c.newRequest(t, ctx, base, call))
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	defer resp.Body.Close()
	res = oaResult{route: in.Route, reqErr: reqErr, status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode != http.StatusOK {
		res.body, _ = io.ReadAll(resp.Body)
		c.validateResponse(t, in, res.status, res.header, res.body)
		return res, nil, true
	}
	var raw bytes.Buffer
	ch := make(chan oaEvent)
	go oaReadSSE(io.TeeReader(resp.Body, &raw), ch)
	if drive != nil {
		drive()
	}
	for !eof && !done(evs) {
		select {
		case ev, ok := <-ch:
			if !ok {
				eof = true
				break
			}
			evs = append(evs, ev)
		case <-ctx.Done():
			t.Errorf("stream: no end in sight before the deadline; got %d events: %s", len(evs), oaEventNames(evs))
			eof = true
		}
	}
	cancel()
	for range ch {
	}
	res.body = raw.Bytes()
	c.validateResponse(t, in, res.status, res.header, res.body)
	return res, evs, eof
}

func oaEventNames(evs []oaEvent) string {
	var names []string
	for _, ev := range evs {
		names = append(names, ev.name)
	}
	return strings.Join(names, ",")
}

// oaEventSchemas maps each stream event to the component schema of its data.
var oaEventSchemas = map[string]string{
	evAgent: "Agent", evQueue: "Queue", evRequest: "Request", evSessionEnded: "SessionSummary",
	evReset: "Reset", evHeartbeat: "Heartbeat", evDropped: "Dropped",
}

// checkEvents validates each event's data against its component schema and
// the id rules: heartbeat and dropped carry no id, the others do, and ids
// follow one another without a gap (a reset restarts the count at its id).
// It returns how many events of each name it saw.
func (c *oaContract) checkEvents(t *testing.T, evs []oaEvent) map[string]int {
	t.Helper()
	counts := map[string]int{}
	var prev uint64
	for i, ev := range evs {
		if ev.name == "" {
			if i != 0 || ev.retry == "" || ev.data != "" {
				t.Errorf("event %d: a frame without a name %+v; only the leading retry: is expected", i, ev)
			}
			continue
		}
		name, ok := oaEventSchemas[ev.name]
		if !ok {
			t.Errorf("event %d: %q is not an event of openapi.yaml", i, ev.name)
			continue
		}
		ref := c.doc.Components.Schemas[name]
		if ref == nil || ref.Value == nil {
			t.Fatalf("openapi.yaml has no component schema %s", name)
		}
		var v any
		if err := json.Unmarshal([]byte(ev.data), &v); err != nil {
			t.Errorf("event %d (%s): data is not JSON: %v: %s", i, ev.name, err, ev.data)
			continue
		}
		if err := ref.Value.VisitJSON(v, openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
			t.Errorf("event %d (%s): data does not match schema %s: %v\ndata: %s", i, ev.name, name, err, ev.data)
		}
		wantID := ev.name != evHeartbeat && ev.name != evDropped
		if ev.hasID != wantID {
			t.Errorf("event %d (%s): has id %v, want %v", i, ev.name, ev.hasID, wantID)
		}
		if ev.hasID {
			id, err := strconv.ParseUint(ev.id, 10, 64)
			if err != nil {
				t.Errorf("event %d (%s): id %q is not a sequence number", i, ev.name, ev.id)
			} else {
				if prev > 0 && ev.name != evReset && id != prev+1 {
					t.Errorf("event %d (%s): id %d follows %d", i, ev.name, id, prev)
				}
				prev = id
			}
		}
		counts[ev.name]++
	}
	return counts
}

// oaState is what the contract table's rows learn and pass on.
type oaState struct {
	c    *oaContract
	env  *testEnv
	vars map[string]string
	rec  SessionRecord // the history session's record
	full []byte        // its recording
}

func (st *oaState) expand(t *testing.T, s string) string {
	t.Helper()
	return os.Expand(s, func(k string) string {
		v, ok := st.vars[k]
		if !ok {
			t.Fatalf("no value for $%s yet (did an earlier row fail?)", k)
		}
		return v
	})
}

// oaRow is one call of the contract table.
type oaRow struct {
	name   string
	method string
	tmpl   string            // the path as openapi.yaml writes it
	path   string            // the path and query sent, with $vars; empty: tmpl
	ctype  string            // Content-Type
	body   string            // with $vars
	raw    []byte            // a body sent as is
	header map[string]string // with $vars
	auth   string
	before func(t *testing.T, st *oaState)
	run    func(t *testing.T, st *oaState) oaResult // instead of one plain call

	status     int
	reqInvalid bool   // openapi.yaml itself refuses the request
	code       string // the error's code, for errors
	field      string // the error's field, for errors
	check      func(t *testing.T, st *oaState, res oaResult)
}

func (row oaRow) call(t *testing.T, st *oaState) oaCall {
	t.Helper()
	p := row.path
	if p == "" {
		p = row.tmpl
	}
	call := oaCall{method: row.method, path: st.expand(t, p), ctype: row.ctype, auth: row.auth, body: row.raw}
	if row.body != "" {
		call.body = []byte(st.expand(t, row.body))
	}
	if row.header != nil {
		call.header = map[string]string{}
		for k, v := range row.header {
			call.header[k] = st.expand(t, v)
		}
	}
	return call
}

// oaPadded is a JSON body over MaxBodyBytes that openapi.yaml accepts: obj
// padded with white space.
func oaPadded(obj string) []byte {
	return append(bytes.Repeat([]byte(" "), MaxBodyBytes), obj...)
}

func oaDecode(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %T: %v; body %.300s", v, err, body)
	}
}

// oaScenario is oaScenarioSpec (fuzz_test.go), checked: smallScenario with
// a route from support to support/printers and a required serial_number
// there, for the calls that need them.
func oaScenario(t *testing.T) Scenario {
	t.Helper()
	sc := oaScenarioSpec()
	found := 0
	for _, q := range sc.Queues {
		if q.ID == "support" && len(q.Routes) == 1 || q.ID == "support/printers" && len(q.RequiredFields) == 1 {
			found++
		}
	}
	if found != 2 {
		t.Fatalf("smallScenario has no support and support/printers queues: %+v", sc.Queues)
	}
	return sc
}

const (
	oaJSON = "application/json"
	oaForm = "application/x-www-form-urlencoded"
)

// oaExamples is, per operation, a call the document accepts; the 401 and
// 503 rows are made from them.
var oaExamples = map[string]oaRow{
	"getAgents":            {method: "GET", tmpl: "/v1/monitors/agents"},
	"getQueues":            {method: "GET", tmpl: "/v1/monitors/queues"},
	"streamMonitors":       {method: "GET", tmpl: "/v1/monitors/stream"},
	"createRequest":        {method: "POST", tmpl: "/v1/requests", ctype: oaJSON, body: `{"queue":"sales"}`},
	"getRequest":           {method: "GET", tmpl: "/v1/requests/{id}", path: "/v1/requests/r-00000001"},
	"createConnectionCode": {method: "POST", tmpl: "/v1/connection-codes", ctype: oaJSON, body: `{"agent_id":"a-0001"}`},
	"cancelConnectionCode": {method: "DELETE", tmpl: "/v1/connection-codes/{code}", path: "/v1/connection-codes/123456789"},
	"joinWithCode":         {method: "POST", tmpl: "/v1/connection-codes/{code}/join", path: "/v1/connection-codes/123456789/join"},
	"listSessions":         {method: "GET", tmpl: "/v1/sessions"},
	"getSession":           {method: "GET", tmpl: "/v1/sessions/{id}", path: "/v1/sessions/s-000000001"},
	"getSessionRecording":  {method: "GET", tmpl: "/v1/sessions/{id}/recording", path: "/v1/sessions/s-000000001/recording"},
	"getFaults":            {method: "GET", tmpl: "/v1/admin/faults"},
	"setFaults":            {method: "POST", tmpl: "/v1/admin/faults", ctype: oaJSON, body: `{}`},
}

// oaOperations lists the document's operations, sorted, with their ids.
func oaOperations(doc *openapi3.T) (ids []string, ops map[string]*openapi3.Operation, where map[string][2]string) {
	ops, where = map[string]*openapi3.Operation{}, map[string][2]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ids = append(ids, op.OperationID)
			ops[op.OperationID] = op
			where[op.OperationID] = [2]string{method, path}
		}
	}
	slices.Sort(ids)
	return ids, ops, where
}

// oaTable is the contract table: rows run in order and pass what they learn
// on in oaState.vars.
func oaTable(doc *openapi3.T) []oaRow {
	rows := []oaRow{
		// Monitors.
		{name: "agents", method: "GET", tmpl: "/v1/monitors/agents", status: 200, check: func(t *testing.T, st *oaState, res oaResult) {
			var s AgentsSnapshot
			oaDecode(t, res.body, &s)
			if len(s.Agents) != 20 {
				t.Errorf("got %d agents, want 20", len(s.Agents))
			}
			if !s.AsOf.Equal(st.env.clock.Now()) {
				t.Errorf("as_of %s, want the clock's %s", s.AsOf, st.env.clock.Now())
			}
		}},
		{name: "queues", method: "GET", tmpl: "/v1/monitors/queues", status: 200, check: func(t *testing.T, st *oaState, res oaResult) {
			var s QueuesSnapshot
			oaDecode(t, res.body, &s)
			parents := map[string]string{}
			for _, q := range s.Queues {
				p := "<null>"
				if q.Parent != nil {
					p = *q.Parent
				}
				parents[q.ID] = p
			}
			if parents["support"] != "<null>" || parents["support/printers"] != "support" {
				t.Errorf("parents: %v; want support top-level and support/printers under it", parents)
			}
		}},
		{name: "stream", method: "GET", tmpl: "/v1/monitors/stream", status: 200, run: oaRunStream},

		// Requests.
		{name: "create request (JSON)", method: "POST", tmpl: "/v1/requests", ctype: oaJSON, status: 201,
			body: `{"queue":"sales","name":"Ann Lee","email":"ann@customer.example","problem":"printer jams","fields":{"account":"ACC-1"}}`,
			check: func(t *testing.T, st *oaState, res oaResult) {
				var r RequestJSON
				oaDecode(t, res.body, &r)
				if r.Queue != "sales" || r.Name != "Ann Lee" || r.Fields["account"] != "ACC-1" || r.RoutedFrom != "" {
					t.Errorf("request %+v; want it in sales with its name and fields, not routed", r)
				}
				if got := res.header.Get("Location"); got != "/v1/requests/"+r.ID {
					t.Errorf("Location %q, want /v1/requests/%s", got, r.ID)
				}
				st.vars["req"] = r.ID
			}},
		{name: "create request (form, routed)", method: "POST", tmpl: "/v1/requests", ctype: oaForm, status: 201,
			body: "queue=support&name=Bo+Berg&fields%5Bproduct%5D=printer&fields%5Bserial_number%5D=SN-1",
			check: func(t *testing.T, st *oaState, res oaResult) {
				var r RequestJSON
				oaDecode(t, res.body, &r)
				if r.Queue != "support/printers" || r.RoutedFrom != "support" || r.Name != "Bo Berg" || r.Fields["serial_number"] != "SN-1" || r.Fields["product"] != "printer" {
					t.Errorf("request %+v; want it routed from support to support/printers with its fields", r)
				}
			}},
		{name: "create request: unknown queue", method: "POST", tmpl: "/v1/requests", ctype: oaJSON, body: `{"queue":"nope"}`,
			status: 400, code: "invalid_argument", field: "queue"},
		{name: "create request: required field missing", method: "POST", tmpl: "/v1/requests", ctype: oaJSON, body: `{"queue":"support/printers"}`,
			status: 400, code: "invalid_argument", field: "fields.serial_number"},
		{name: "create request: required field of the routed-to queue missing", method: "POST", tmpl: "/v1/requests", ctype: oaForm,
			body: "queue=support&fields%5Bproduct%5D=printer", status: 400, code: "invalid_argument", field: "fields.serial_number"},
		{name: "create request: no queue", method: "POST", tmpl: "/v1/requests", ctype: oaJSON, body: `{"name":"x"}`,
			status: 400, reqInvalid: true, code: "invalid_argument", field: "queue"},
		{name: "create request: too large", method: "POST", tmpl: "/v1/requests", ctype: oaJSON, raw: oaPadded(`{"queue":"sales"}`),
			status: 413, code: "too_large"},
		{name: "create request: text/plain", method: "POST", tmpl: "/v1/requests", ctype: "text/plain", body: "queue=sales",
			status: 415, reqInvalid: true, code: "unsupported_media_type"},
		{name: "get request", method: "GET", tmpl: "/v1/requests/{id}", path: "/v1/requests/$req", status: 200,
			check: func(t *testing.T, st *oaState, res oaResult) {
				var r RequestJSON
				oaDecode(t, res.body, &r)
				if r.ID != st.vars["req"] || r.Queue != "sales" {
					t.Errorf("request %+v, want %s in sales", r, st.vars["req"])
				}
			}},
		{name: "get request: unknown", method: "GET", tmpl: "/v1/requests/{id}", path: "/v1/requests/r-99999999",
			status: 404, code: "not_found"},

		// Connection codes. The agents row picks an offline agent and one on
		// shift; the clock stands still until the joins are done.
		{name: "agents (pick offline and on-shift agents)", method: "GET", tmpl: "/v1/monitors/agents", status: 200,
			check: func(t *testing.T, st *oaState, res oaResult) {
				var s AgentsSnapshot
				oaDecode(t, res.body, &s)
				for _, a := range s.Agents {
					if a.Status == StatusOffline && st.vars["offline"] == "" {
						st.vars["offline"] = a.ID
					}
					if a.Status != StatusOffline && st.vars["online"] == "" {
						st.vars["online"], st.vars["online_queue"] = a.ID, a.Queues[0]
					}
				}
				if st.vars["offline"] == "" || st.vars["online"] == "" {
					t.Fatalf("want an offline agent and one on shift, got %+v", s.Agents)
				}
			}},
		{name: "create code", method: "POST", tmpl: "/v1/connection-codes", ctype: oaJSON, status: 201,
			body: `{"agent_id":"$online","external_ref":"CRM-42"}`,
			check: func(t *testing.T, st *oaState, res oaResult) {
				var c CodeJSON
				oaDecode(t, res.body, &c)
				if c.AgentID != st.vars["online"] || c.Queue != st.vars["online_queue"] || c.ExternalRef != "CRM-42" || len(c.Code) != 9 {
					t.Errorf("code %+v; want a 9-digit code for %s in %s carrying CRM-42", c, st.vars["online"], st.vars["online_queue"])
				}
				if want := st.env.clock.Now().Add(10 * time.Minute); !c.ExpiresAt.Equal(want) {
					t.Errorf("expires_at %s, want %s (the default TTL)", c.ExpiresAt, want)
				}
				st.vars["code"] = c.Code
			}},
		{name: "create code for an offline agent", method: "POST", tmpl: "/v1/connection-codes", ctype: oaJSON, status: 201,
			body: `{"agent_id":"$offline"}`,
			check: func(t *testing.T, st *oaState, res oaResult) {
				var c CodeJSON
				oaDecode(t, res.body, &c)
				st.vars["code_offline"] = c.Code
			}},
		{name: "create code to cancel", method: "POST", tmpl: "/v1/connection-codes", ctype: oaJSON, status: 201,
			body: `{"agent_id":"$online","queue":"$online_queue","ttl_seconds":60}`,
			check: func(t *testing.T, st *oaState, res oaResult) {
				var c CodeJSON
				oaDecode(t, res.body, &c)
				if want := st.env.clock.Now().Add(time.Minute); !c.ExpiresAt.Equal(want) {
					t.Errorf("expires_at %s, want %s", c.ExpiresAt, want)
				}
				st.vars["code_cancel"] = c.Code
			}},
		{name: "create code: unknown agent", method: "POST", tmpl: "/v1/connection-codes", ctype: oaJSON, body: `{"agent_id":"a-9999"}`,
			status: 400, code: "invalid_argument", field: "agent_id"},
		{name: "create code: a queue the agent does not serve", method: "POST", tmpl: "/v1/connection-codes", ctype: oaJSON,
			body: `{"agent_id":"$online","queue":"nope"}`, status: 400, code: "invalid_argument", field: "queue"},
		{name: "create code: no agent", method: "POST", tmpl: "/v1/connection-codes", ctype: oaJSON, body: `{"queue":"sales"}`,
			status: 400, reqInvalid: true, code: "invalid_argument", field: "agent_id"},
		{name: "create code: ttl out of range", method: "POST", tmpl: "/v1/connection-codes", ctype: oaJSON, body: `{"agent_id":"$online","ttl_seconds":86401}`,
			status: 400, reqInvalid: true, code: "invalid_argument", field: "ttl_seconds"},
		{name: "create code: too large", method: "POST", tmpl: "/v1/connection-codes", ctype: oaJSON, raw: oaPadded(`{"agent_id":"a-0001"}`),
			status: 413, code: "too_large"},
		{name: "create code: text/plain", method: "POST", tmpl: "/v1/connection-codes", ctype: "text/plain", body: `{"agent_id":"a-0001"}`,
			status: 415, reqInvalid: true, code: "unsupported_media_type"},
		{name: "cancel code", method: "DELETE", tmpl: "/v1/connection-codes/{code}", path: "/v1/connection-codes/$code_cancel", status: 204,
			check: func(t *testing.T, st *oaState, res oaResult) {
				if len(res.body) != 0 {
					t.Errorf("204 with a body: %q", res.body)
				}
			}},
		{name: "cancel code: already cancelled", method: "DELETE", tmpl: "/v1/connection-codes/{code}", path: "/v1/connection-codes/$code_cancel",
			status: 404, code: "not_found"},
		{name: "join: cancelled code", method: "POST", tmpl: "/v1/connection-codes/{code}/join", path: "/v1/connection-codes/$code_cancel/join",
			status: 404, code: "not_found"},
		{name: "join: agent offline", method: "POST", tmpl: "/v1/connection-codes/{code}/join", path: "/v1/connection-codes/$code_offline/join",
			ctype: oaJSON, body: `{"name":"Early Caller"}`, status: 409, code: "conflict"},
		// The engine leaves a code whose agent is offline alive: the caller
		// may try again once the agent logs in.
		{name: "cancel code after a 409 join", method: "DELETE", tmpl: "/v1/connection-codes/{code}", path: "/v1/connection-codes/$code_offline", status: 204},
		{name: "join", method: "POST", tmpl: "/v1/connection-codes/{code}/join", path: "/v1/connection-codes/$code/join", status: 201,
			ctype: oaJSON, body: `{"name":"Cal Ler","email":"cal@customer.example","fields":{"ticket":"T-7"}}`,
			check: func(t *testing.T, st *oaState, res oaResult) {
				var j JoinJSON
				oaDecode(t, res.body, &j)
				if j.AgentID != st.vars["online"] || j.Queue != st.vars["online_queue"] || j.ExternalRef != "CRM-42" || !j.StartedAt.Equal(st.env.clock.Now()) {
					t.Errorf("join %+v; want a session with %s in %s carrying CRM-42, started now", j, st.vars["online"], st.vars["online_queue"])
				}
				st.vars["live"] = j.SessionID
			}},
		{name: "join: code used up", method: "POST", tmpl: "/v1/connection-codes/{code}/join", path: "/v1/connection-codes/$code/join",
			status: 404, code: "not_found"},
		{name: "join: bad body", method: "POST", tmpl: "/v1/connection-codes/{code}/join", path: "/v1/connection-codes/123456789/join",
			ctype: oaJSON, body: `{"name":5}`, status: 400, reqInvalid: true, code: "invalid_argument", field: "name"},
		{name: "join: too large", method: "POST", tmpl: "/v1/connection-codes/{code}/join", path: "/v1/connection-codes/123456789/join",
			ctype: oaJSON, raw: oaPadded(`{"name":"x"}`), status: 413, code: "too_large"},
		{name: "join: text/plain", method: "POST", tmpl: "/v1/connection-codes/{code}/join", path: "/v1/connection-codes/123456789/join",
			ctype: "text/plain", body: "name=x", status: 415, reqInvalid: true, code: "unsupported_media_type"},

		// Sessions.
		{name: "sessions (defaults)", method: "GET", tmpl: "/v1/sessions", status: 200, check: func(t *testing.T, st *oaState, res oaResult) {
			var p SessionsPage
			oaDecode(t, res.body, &p)
			if len(p.Sessions) == 0 {
				t.Errorf("no sessions in the last 24 hours of a 48-hour history")
			}
			for _, s := range p.Sessions {
				if s.EndedAt.Before(st.env.clock.Now().Add(-24*time.Hour)) || !s.EndedAt.Before(st.env.clock.Now()) {
					t.Errorf("session %s ended %s, outside the default 24 hours", s.ID, s.EndedAt)
				}
			}
		}},
		{name: "sessions paged", method: "GET", tmpl: "/v1/sessions", path: "/v1/sessions?since=$since47h&limit=200", status: 200, check: oaCheckPaging},
		{name: "sessions: since older than 90 days", method: "GET", tmpl: "/v1/sessions", path: "/v1/sessions?since=$too_old",
			status: 400, code: "out_of_range", field: "since"},
		{name: "sessions: since after until", method: "GET", tmpl: "/v1/sessions", path: "/v1/sessions?since=$start&until=$since47h",
			status: 400, code: "invalid_argument", field: "until"},
		{name: "sessions: limit 0", method: "GET", tmpl: "/v1/sessions", path: "/v1/sessions?limit=0",
			status: 400, reqInvalid: true, code: "invalid_argument", field: "limit"},
		{name: "sessions: since not a time", method: "GET", tmpl: "/v1/sessions", path: "/v1/sessions?since=yesterday",
			status: 400, reqInvalid: true, code: "invalid_argument", field: "since"},
		{name: "session record (history)", method: "GET", tmpl: "/v1/sessions/{id}", path: "/v1/sessions/$hist", status: 200,
			check: func(t *testing.T, st *oaState, res oaResult) {
				oaDecode(t, res.body, &st.rec)
				if st.rec.ID != st.vars["hist"] || st.rec.Recording.URL != "/v1/sessions/"+st.rec.ID+"/recording" || len(st.rec.Events) == 0 {
					t.Errorf("record %+v; want %s with its recording url and events", st.rec, st.vars["hist"])
				}
				st.vars["hist_size"] = strconv.FormatInt(st.rec.Recording.Size, 10)
			}},
		{name: "session record: running", method: "GET", tmpl: "/v1/sessions/{id}", path: "/v1/sessions/$live", status: 409, code: "conflict"},
		{name: "session record: unknown", method: "GET", tmpl: "/v1/sessions/{id}", path: "/v1/sessions/s-999999999", status: 404, code: "not_found"},
		{name: "session record: unknown history id", method: "GET", tmpl: "/v1/sessions/{id}", path: "/v1/sessions/s-h2026110100-999999", status: 404, code: "not_found"},
		{name: "recording", method: "GET", tmpl: "/v1/sessions/{id}/recording", path: "/v1/sessions/$hist/recording", status: 200,
			check: func(t *testing.T, st *oaState, res oaResult) {
				oaCheckRecording(t, st.rec, res)
				st.full = res.body
			}},
		{name: "recording: first 100 bytes", method: "GET", tmpl: "/v1/sessions/{id}/recording", path: "/v1/sessions/$hist/recording",
			header: map[string]string{"Range": "bytes=0-99"}, status: 206,
			check: func(t *testing.T, st *oaState, res oaResult) {
				if want := "bytes 0-99/" + st.vars["hist_size"]; res.header.Get("Content-Range") != want {
					t.Errorf("Content-Range %q, want %q", res.header.Get("Content-Range"), want)
				}
				if len(st.full) < 100 || !bytes.Equal(res.body, st.full[:100]) {
					t.Errorf("got %d bytes that are not the recording's first 100", len(res.body))
				}
			}},
		{name: "recording: last 10 bytes", method: "GET", tmpl: "/v1/sessions/{id}/recording", path: "/v1/sessions/$hist/recording",
			header: map[string]string{"Range": "bytes=-10"}, status: 206,
			check: func(t *testing.T, st *oaState, res oaResult) {
				if len(st.full) < 10 || !bytes.Equal(res.body, st.full[len(st.full)-10:]) {
					t.Errorf("got %q, want the recording's last 10 bytes", res.body)
				}
			}},
		{name: "recording: range past the end", method: "GET", tmpl: "/v1/sessions/{id}/recording", path: "/v1/sessions/$hist/recording",
			header: map[string]string{"Range": "bytes=$hist_size-"}, status: 416, code: "out_of_range", field: "Range",
			check: func(t *testing.T, st *oaState, res oaResult) {
				if want := "bytes */" + st.vars["hist_size"]; res.header.Get("Content-Range") != want {
					t.Errorf("Content-Range %q, want %q", res.header.Get("Content-Range"), want)
				}
			}},
		{name: "recording: running session", method: "GET", tmpl: "/v1/sessions/{id}/recording", path: "/v1/sessions/$live/recording",
			status: 409, code: "conflict"},
		{name: "recording: unknown", method: "GET", tmpl: "/v1/sessions/{id}/recording", path: "/v1/sessions/s-999999999/recording",
			status: 404, code: "not_found"},
		{name: "session record (live, ended)", method: "GET", tmpl: "/v1/sessions/{id}", path: "/v1/sessions/$live", status: 200,
			before: func(t *testing.T, st *oaState) { st.env.clock.Add(9 * time.Hour) }, // sessions last 8 hours at most
			check: func(t *testing.T, st *oaState, res oaResult) {
				var rec SessionRecord
				oaDecode(t, res.body, &rec)
				if rec.ID != st.vars["live"] || rec.AgentID != st.vars["online"] || rec.ExternalRef != "CRM-42" ||
					rec.Customer != (Customer{Name: "Cal Ler", Email: "cal@customer.example"}) || rec.Fields["ticket"] != "T-7" {
					t.Errorf("record %+v; want the joined session with its caller, fields and external_ref", rec)
				}
				st.rec = rec
			}},
		{name: "recording (live, ended)", method: "GET", tmpl: "/v1/sessions/{id}/recording", path: "/v1/sessions/$live/recording", status: 200,
			check: func(t *testing.T, st *oaState, res oaResult) { oaCheckRecording(t, st.rec, res) }},
		{name: "sessions since the start list the joined session", method: "GET", tmpl: "/v1/sessions", path: "/v1/sessions?since=$start&limit=1000", status: 200,
			check: func(t *testing.T, st *oaState, res oaResult) {
				var p SessionsPage
				oaDecode(t, res.body, &p)
				if !slices.ContainsFunc(p.Sessions, func(s SessionSummary) bool { return s.ID == st.vars["live"] && s.ExternalRef == "CRM-42" }) {
					t.Errorf("the joined session %s is not among the %d sessions since the start", st.vars["live"], len(p.Sessions))
				}
			}},

		// Admin.
		{name: "faults", method: "GET", tmpl: "/v1/admin/faults", status: 200, check: func(t *testing.T, st *oaState, res oaResult) {
			var f Faults
			oaDecode(t, res.body, &f)
			if f != (Faults{}) {
				t.Errorf("faults %+v, want none", f)
			}
		}},
		{name: "set faults", method: "POST", tmpl: "/v1/admin/faults", ctype: oaJSON, body: `{"latency_ms":0,"stream_drop_rate":0.25}`, status: 200,
			check: func(t *testing.T, st *oaState, res oaResult) {
				var f Faults
				oaDecode(t, res.body, &f)
				if f != (Faults{StreamDropRate: 0.25}) {
					t.Errorf("faults %+v, want only stream_drop_rate 0.25", f)
				}
			}},
		{name: "set faults: rate over 1", method: "POST", tmpl: "/v1/admin/faults", ctype: oaJSON, body: `{"error_rate":1.5}`,
			status: 400, reqInvalid: true, code: "invalid_argument", field: "error_rate"},
		{name: "set faults: negative latency", method: "POST", tmpl: "/v1/admin/faults", ctype: oaJSON, body: `{"latency_ms":-1}`,
			status: 400, reqInvalid: true, code: "invalid_argument", field: "latency_ms"},
		{name: "set faults: unknown property", method: "POST", tmpl: "/v1/admin/faults", ctype: oaJSON, body: `{"colour":1}`,
			status: 400, reqInvalid: true, code: "invalid_argument", field: "colour"},
		{name: "set faults: too large", method: "POST", tmpl: "/v1/admin/faults", ctype: oaJSON, raw: oaPadded(`{}`),
			status: 413, code: "too_large"},
		{name: "set faults: text/plain", method: "POST", tmpl: "/v1/admin/faults", ctype: "text/plain", body: `{}`,
			status: 415, reqInvalid: true, code: "unsupported_media_type"},
		{name: "faults unchanged by refused changes", method: "GET", tmpl: "/v1/admin/faults", status: 200, check: func(t *testing.T, st *oaState, res oaResult) {
			var f Faults
			oaDecode(t, res.body, &f)
			if f != (Faults{StreamDropRate: 0.25}) {
				t.Errorf("faults %+v, want only stream_drop_rate 0.25", f)
			}
		}},
		{name: "set faults: every call fails", method: "POST", tmpl: "/v1/admin/faults", ctype: oaJSON, body: `{"error_rate":1,"stream_drop_rate":0}`, status: 200},
	}

	ids, _, where := oaOperations(doc)
	for _, id := range ids {
		ex, ok := oaExamples[id]
		if !ok || ex.method != where[id][0] || ex.tmpl != where[id][1] {
			// TestOpenAPITableCoversEveryOperation reports it.
			continue
		}
		if strings.HasPrefix(ex.tmpl, "/v1/admin/") {
			continue // fault injection spares the admin calls
		}
		ex.name = id + ": injected fault"
		ex.status, ex.code = 503, "unavailable"
		rows = append(rows, ex)
	}
	rows = append(rows, oaRow{name: "set faults: none", method: "POST", tmpl: "/v1/admin/faults", ctype: oaJSON, body: `{"error_rate":0}`, status: 200})
	for _, id := range ids {
		ex, ok := oaExamples[id]
		if !ok || ex.method != where[id][0] || ex.tmpl != where[id][1] {
			continue
		}
		for _, auth := range []string{oaAuthNone, oaAuthWrong} {
			r := ex
			r.name = id + ": token " + auth
			r.auth = auth
			r.status, r.code = 401, "unauthenticated"
			r.reqInvalid = auth == oaAuthNone
			r.check = func(t *testing.T, st *oaState, res oaResult) {
				if got := res.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer ") {
					t.Errorf("WWW-Authenticate %q, want a Bearer challenge", got)
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

func oaCheckRecording(t *testing.T, rec SessionRecord, res oaResult) {
	t.Helper()
	sum := sha256.Sum256(res.body)
	if got := hex.EncodeToString(sum[:]); got != rec.Recording.SHA256 {
		t.Errorf("sha256 of the recording is %s, the record says %s", got, rec.Recording.SHA256)
	}
	if int64(len(res.body)) != rec.Recording.Size {
		t.Errorf("recording has %d bytes, the record says %d", len(res.body), rec.Recording.Size)
	}
	if got := res.header.Get("Content-Length"); got != strconv.FormatInt(rec.Recording.Size, 10) {
		t.Errorf("Content-Length %q, want %d", got, rec.Recording.Size)
	}
}

// oaCheckPaging follows next until it is absent, every page checked against
// the document, and checks that the pages list each session once, oldest
// first; then pages a smaller window with a small limit and compares.
func oaCheckPaging(t *testing.T, st *oaState, res oaResult) {
	since, until := testStart.Add(-47*time.Hour), st.env.clock.Now()
	all := oaPages(t, st, res, fmt.Sprintf("/v1/sessions?since=%s&limit=200", since.Format(time.RFC3339)), 200)
	if len(all) <= 200 {
		t.Fatalf("got %d sessions in 47 hours of history, want more than a page of 200", len(all))
	}
	seen := map[string]bool{}
	for i, s := range all {
		if seen[s.ID] {
			t.Errorf("session %s listed twice", s.ID)
		}
		seen[s.ID] = true
		if s.EndedAt.Before(since) || !s.EndedAt.Before(until) {
			t.Errorf("session %s ended %s, outside [%s, %s)", s.ID, s.EndedAt, since, until)
		}
		if i > 0 {
			p := all[i-1]
			if s.EndedAt.Before(p.EndedAt) || s.EndedAt.Equal(p.EndedAt) && s.ID <= p.ID {
				t.Errorf("session %s (ended %s) listed after %s (ended %s): not oldest first", s.ID, s.EndedAt, p.ID, p.EndedAt)
			}
		}
	}
	st.vars["hist"] = all[len(all)/2].ID

	// The same sessions, a window of them, seven at a time.
	from, to := testStart.Add(-5*time.Hour), testStart.Add(-2*time.Hour)
	path := fmt.Sprintf("/v1/sessions?since=%s&until=%s&limit=7", from.Format(time.RFC3339), to.Format(time.RFC3339))
	first := st.c.do(t, st.env.url, oaCall{method: "GET", path: path})
	small := oaPages(t, st, first, path, 7)
	var want []string
	for _, s := range all {
		if !s.EndedAt.Before(from) && s.EndedAt.Before(to) {
			want = append(want, s.ID)
		}
	}
	var got []string
	for _, s := range small {
		got = append(got, s.ID)
	}
	if len(want) < 8 || !slices.Equal(got, want) {
		t.Errorf("paging 7 at a time over [%s, %s) gave %d sessions, want the %d of the big pages (and more than one page)", from, to, len(got), len(want))
	}
}

// oaPages follows the pages after the first one, res, answered for path.
func oaPages(t *testing.T, st *oaState, res oaResult, path string, limit int) []SessionSummary {
	t.Helper()
	var all []SessionSummary
	for pages := 1; ; pages++ {
		if res.status != 200 {
			t.Fatalf("page %d: status %d: %s", pages, res.status, res.body)
		}
		var p SessionsPage
		oaDecode(t, res.body, &p)
		if len(p.Sessions) > limit {
			t.Fatalf("page %d has %d sessions, limit %d", pages, len(p.Sessions), limit)
		}
		all = append(all, p.Sessions...)
		if p.Next == "" {
			return all
		}
		if len(p.Sessions) != limit {
			t.Errorf("page %d has %d sessions and a next; want a full page of %d", pages, len(p.Sessions), limit)
		}
		if pages > 200 {
			t.Fatalf("more than 200 pages")
		}
		res = st.c.do(t, st.env.url, oaCall{method: "GET", path: path + "&after=" + url.QueryEscape(p.Next)})
		if res.reqErr != nil {
			t.Errorf("openapi.yaml refuses the call for the next page: %v", res.reqErr)
		}
	}
}

// oaRunStream opens the stream, moves the clock, posts a request, reads
// until every kind of change has come, and checks every event.
func oaRunStream(t *testing.T, st *oaState) oaResult {
	snap := st.env.engine.Agents() // the clock stands still: the stream starts after this sequence
	var posted RequestJSON
	drive := func() {
		st.env.clock.Add(30 * time.Minute)
		st.c.do(t, st.env.url, oaCall{method: "GET", path: "/v1/monitors/agents"})
		res := st.c.do(t, st.env.url, oaCall{method: "POST", path: "/v1/requests", ctype: oaJSON, body: []byte(`{"queue":"sales","name":"Stream Test"}`)})
		if res.status != 201 {
			t.Fatalf("post request: %d %s", res.status, res.body)
		}
		oaDecode(t, res.body, &posted)
	}
	sawPosted := func(evs []oaEvent) bool {
		for _, ev := range evs {
			if ev.name == evRequest && strings.Contains(ev.data, `"id":"`+posted.ID+`"`) {
				return true
			}
		}
		return false
	}
	done := func(evs []oaEvent) bool {
		names := map[string]bool{}
		for _, ev := range evs {
			names[ev.name] = true
		}
		return names[evAgent] && names[evQueue] && names[evRequest] && names[evSessionEnded] && sawPosted(evs)
	}
	res, evs, _ := st.c.stream(t, st.env.url, oaCall{method: "GET", path: "/v1/monitors/stream"}, drive, done)
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache"} {
		if got := res.header.Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	counts := st.c.checkEvents(t, evs)
	for _, name := range []string{evAgent, evQueue, evRequest, evSessionEnded} {
		if counts[name] == 0 {
			t.Errorf("no %s event among %s", name, oaEventNames(evs))
		}
	}
	if counts[evReset] != 0 {
		t.Errorf("a stream opened without a resume point got a reset")
	}
	if !sawPosted(evs) {
		t.Errorf("no request event for the posted request %s", posted.ID)
	}
	if len(evs) > 1 && evs[1].id != strconv.FormatUint(snap.Sequence+1, 10) {
		t.Errorf("first event has id %q, want %d, the one after the snapshot's sequence", evs[1].id, snap.Sequence+1)
	}
	return res
}

func TestOpenAPIContract(t *testing.T) {
	c := newOAContract(t)
	st := &oaState{c: c, env: newTestEnv(t, oaScenario(t)), vars: map[string]string{
		"start":    testStart.Format(time.RFC3339),
		"since47h": testStart.Add(-47 * time.Hour).Format(time.RFC3339),
		"too_old":  testStart.Add(-91 * 24 * time.Hour).Format(time.RFC3339),
	}}
	for _, row := range oaTable(c.doc) {
		t.Run(row.name, func(t *testing.T) {
			if row.before != nil {
				row.before(t, st)
			}
			var res oaResult
			if row.run != nil {
				res = row.run(t, st)
			} else {
				res = c.do(t, st.env.url, row.call(t, st))
			}
			if res.route.Method != row.method || res.route.Path != row.tmpl {
				t.Errorf("the call went to %s %s in openapi.yaml, the row says %s %s", res.route.Method, res.route.Path, row.method, row.tmpl)
			}
			switch {
			case row.reqInvalid && res.reqErr == nil:
				t.Errorf("openapi.yaml accepts the request; the row expects it to refuse it")
			case !row.reqInvalid && res.reqErr != nil:
				t.Errorf("openapi.yaml refuses the request: %v", res.reqErr)
			}
			if res.status != row.status {
				t.Fatalf("status %d, want %d; body %.500s", res.status, row.status, res.body)
			}
			if row.status >= 400 {
				eb := biErrorBody(t, res.status, res.header, res.body)
				if eb.Code != row.code || eb.Field != row.field {
					t.Errorf("error code %q field %q, want code %q field %q (%s)", eb.Code, eb.Field, row.code, row.field, eb.Message)
				}
			}
			if row.check != nil {
				row.check(t, st, res)
			}
		})
	}
}

// TestOpenAPITableCoversEveryOperation fails when openapi.yaml has an
// operation, or a status of one, that no row of the contract table calls,
// and when a row names an operation or status the document does not have.
func TestOpenAPITableCoversEveryOperation(t *testing.T) {
	c := newOAContract(t)
	ids, ops, where := oaOperations(c.doc)
	if len(ids) == 0 {
		t.Fatal("openapi.yaml has no operations")
	}
	for _, id := range ids {
		ex, ok := oaExamples[id]
		if !ok {
			t.Errorf("operation %s (%s %s) has no example in oaExamples", id, where[id][0], where[id][1])
		} else if ex.method != where[id][0] || ex.tmpl != where[id][1] {
			t.Errorf("oaExamples[%s] is %s %s, openapi.yaml says %s %s", id, ex.method, ex.tmpl, where[id][0], where[id][1])
		}
	}
	called := map[string]bool{}
	for _, row := range oaTable(c.doc) {
		item := c.doc.Paths.Value(row.tmpl)
		if item == nil || item.GetOperation(row.method) == nil {
			t.Errorf("row %q: openapi.yaml has no operation %s %s", row.name, row.method, row.tmpl)
			continue
		}
		op := item.GetOperation(row.method)
		if op.Responses.Status(row.status) == nil {
			t.Errorf("row %q: %s answers %d, which openapi.yaml does not list", row.name, op.OperationID, row.status)
		}
		called[op.OperationID+" "+strconv.Itoa(row.status)] = true
	}
	for _, id := range ids {
		for status := range ops[id].Responses.Map() {
			if !called[id+" "+status] {
				t.Errorf("openapi.yaml: %s (%s %s) answers %s, but no row of the contract table gets that answer", id, where[id][0], where[id][1], status)
			}
		}
	}
}

// TestOpenAPIStreamEvents checks the stream's other events against their
// schemas: reset (by header and by query), a resume that replays, heartbeat
// and dropped.
func TestOpenAPIStreamEvents(t *testing.T) {
	c := newOAContract(t)
	env := newTestEnv(t, smallScenario())
	total := map[string]int{}
	add := func(counts map[string]int) {
		for k, v := range counts {
			total[k] += v
		}
	}
	first := func(n int) func([]oaEvent) bool {
		return func(evs []oaEvent) bool { return len(evs) >= n }
	}

	checkReset := func(t *testing.T, call oaCall) {
		t.Helper()
		seq := env.engine.Agents().Sequence
		res, evs, _ := c.stream(t, env.url, call, nil, first(2))
		if res.reqErr != nil {
			t.Errorf("openapi.yaml refuses the request: %v", res.reqErr)
		}
		add(c.checkEvents(t, evs))
		if len(evs) < 2 || evs[1].name != evReset || evs[1].id != strconv.FormatUint(seq, 10) {
			t.Fatalf("want a reset with id %d first, got %+v", seq, evs)
		}
		var r ResetJSON
		oaDecode(t, []byte(evs[1].data), &r)
		if r.Sequence != seq || r.Reason == "" || len(r.Agents) != 20 || len(r.Queues) != 6 {
			t.Errorf("reset %+v; want sequence %d, a reason and the whole state", r, seq)
		}
	}
	t.Run("reset by header", func(t *testing.T) {
		checkReset(t, oaCall{method: "GET", path: "/v1/monitors/stream", header: map[string]string{"Last-Event-ID": "999999999"}})
	})
	t.Run("reset by query", func(t *testing.T) {
		checkReset(t, oaCall{method: "GET", path: "/v1/monitors/stream?last_event_id=999999999"})
	})
	t.Run("resume replays", func(t *testing.T) {
		seq := env.engine.Agents().Sequence
		if seq < 2 {
			t.Fatalf("sequence %d: nothing to replay", seq)
		}
		res, evs, _ := c.stream(t, env.url, oaCall{method: "GET", path: "/v1/monitors/stream", header: map[string]string{"Last-Event-ID": "1"}}, nil, first(int(seq)))
		if res.reqErr != nil {
			t.Errorf("openapi.yaml refuses the request: %v", res.reqErr)
		}
		add(c.checkEvents(t, evs))
		if len(evs) < 2 || evs[1].id != "2" || evs[len(evs)-1].id != strconv.FormatUint(seq, 10) {
			t.Errorf("want events 2 to %d replayed, got %d events", seq, len(evs)-1)
		}
	})
	t.Run("heartbeat", func(t *testing.T) {
		srv, err := NewServer(env.engine, Options{Token: testToken, Heartbeat: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv.Handler())
		defer func() { srv.Close(); hs.Close() }()
		seq := env.engine.Agents().Sequence
		_, evs, _ := c.stream(t, hs.URL, oaCall{method: "GET", path: "/v1/monitors/stream"}, nil, func(evs []oaEvent) bool {
			return slices.ContainsFunc(evs, func(ev oaEvent) bool { return ev.name == evHeartbeat })
		})
		add(c.checkEvents(t, evs))
		for _, ev := range evs {
			if ev.name == evHeartbeat {
				var h HeartbeatJSON
				oaDecode(t, []byte(ev.data), &h)
				if h.Sequence != seq || !h.AsOf.Equal(env.clock.Now()) {
					t.Errorf("heartbeat %+v, want sequence %d as of %s", h, seq, env.clock.Now())
				}
			}
		}
	})
	t.Run("dropped", func(t *testing.T) {
		clock := NewManualClock(testStart)
		eng, err := NewEngine(smallScenario(), clock, 16)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := NewServer(eng, Options{Token: testToken, Heartbeat: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv.Handler())
		defer func() { srv.Close(); hs.Close() }()
		drive := func() {
			clock.Add(2 * time.Hour) // far more than 16 events in one step
			eng.Agents()
		}
		_, evs, eof := c.stream(t, hs.URL, oaCall{method: "GET", path: "/v1/monitors/stream"}, drive, func([]oaEvent) bool { return false })
		add(c.checkEvents(t, evs))
		if !eof || len(evs) != 2 || evs[1].name != evDropped {
			t.Fatalf("want a dropped event and the end of the stream, got %s (eof %v)", oaEventNames(evs), eof)
		}
		var d map[string]string
		oaDecode(t, []byte(evs[1].data), &d)
		if !strings.Contains(d["reason"], "Last-Event-ID") {
			t.Errorf("reason %q does not tell how to resume", d["reason"])
		}
	})
	for _, name := range []string{evReset, evHeartbeat, evDropped, evAgent, evQueue} {
		if total[name] == 0 {
			t.Errorf("no %s event checked against its schema", name)
		}
	}
}
