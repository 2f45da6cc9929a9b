package simulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// biErrorBody checks that an answer is in the API's error shape,
// {"error":{"code","message"[,"field"]}}, with nothing else in it, and
// returns the error.
func biErrorBody(t *testing.T, status int, header http.Header, body []byte) ErrorBody {
	t.Helper()
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt != "application/json" {
		t.Errorf("status %d: Content-Type %q, want application/json", status, header.Get("Content-Type"))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var e ErrorJSON
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("status %d: the body is not the error shape: %v; body %q", status, err, body)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Errorf("status %d: more after the error object: %q", status, body)
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("status %d: error without a code or a message: %q", status, body)
	}
	// A field the body names but leaves empty would be "field":"".
	if bytes.Contains(body, []byte(`"field":""`)) {
		t.Errorf("status %d: an empty field is sent rather than left out: %q", status, body)
	}
	return e.Error
}

// biAuth values: the Authorization header a row sends.
const (
	biToken  = ""  // Bearer and the test token
	biNoAuth = "-" // no header
)

// biRow is one bad call and the answer it must get.
type biRow struct {
	name   string
	method string
	path   string
	ctype  string
	body   string
	raw    []byte
	auth   string
	status int
	code   string
	field  string
	allow  []string // for 405
}

func biSend(t *testing.T, env *testEnv, row biRow) (int, http.Header, []byte) {
	t.Helper()
	body := row.raw
	if body == nil {
		body = []byte(row.body)
	}
	method := row.method
	if method == "" {
		method = "POST"
	}
	req, err := http.NewRequest(method, env.url+row.path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	switch row.auth {
	case biToken:
		req.Header.Set("Authorization", "Bearer "+testToken)
	case biNoAuth:
	default:
		req.Header.Set("Authorization", row.auth)
	}
	if row.ctype != "" {
		req.Header.Set("Content-Type", row.ctype)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, row.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, row.path, err)
	}
	return resp.StatusCode, resp.Header, b
}

func biB64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func biTable() []biRow {
	long := func(n int) string { return strings.Repeat("x", n) }
	manyFields := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"queue":"sales","fields":{`)
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"f%d":"v"`, i)
		}
		b.WriteString("}}")
		return b.String()
	}
	pad := func(obj string) []byte { return append(bytes.Repeat([]byte(" "), MaxBodyBytes), obj...) }
	const req, code, join, faults = "/v1/requests", "/v1/connection-codes", "/v1/connection-codes/123456789/join", "/v1/admin/faults"
	const inv = "invalid_argument"
	j := oaJSON
	rows := []biRow{
		// POST /v1/requests, JSON.
		{name: "request: JSON cut short", path: req, ctype: j, body: `{"queue":`, status: 400, code: inv},
		{name: "request: JSON without a colon", path: req, ctype: j, body: `{"queue" "sales"}`, status: 400, code: inv},
		{name: "request: JSON with a bare key", path: req, ctype: j, body: `{queue:"sales"}`, status: 400, code: inv},
		{name: "request: a form as JSON", path: req, ctype: j, body: `queue=sales`, status: 400, code: inv},
		{name: "request: JSON array", path: req, ctype: j, body: `[]`, status: 400, code: inv},
		{name: "request: JSON string", path: req, ctype: j, body: `"sales"`, status: 400, code: inv},
		{name: "request: JSON number", path: req, ctype: j, body: `5`, status: 400, code: inv},
		{name: "request: JSON null", path: req, ctype: j, body: `null`, status: 400, code: inv, field: "queue"},
		{name: "request: queue a number", path: req, ctype: j, body: `{"queue":5}`, status: 400, code: inv, field: "queue"},
		{name: "request: queue a bool", path: req, ctype: j, body: `{"queue":true}`, status: 400, code: inv, field: "queue"},
		{name: "request: queue null", path: req, ctype: j, body: `{"queue":null}`, status: 400, code: inv, field: "queue"},
		{name: "request: name a number", path: req, ctype: j, body: `{"queue":"sales","name":5}`, status: 400, code: inv, field: "name"},
		{name: "request: email an array", path: req, ctype: j, body: `{"queue":"sales","email":[]}`, status: 400, code: inv, field: "email"},
		{name: "request: problem an object", path: req, ctype: j, body: `{"queue":"sales","problem":{}}`, status: 400, code: inv, field: "problem"},
		{name: "request: a field a number", path: req, ctype: j, body: `{"queue":"sales","fields":{"a":1}}`, status: 400, code: inv, field: "fields"},
		{name: "request: fields an array", path: req, ctype: j, body: `{"queue":"sales","fields":["a"]}`, status: 400, code: inv, field: "fields"},
		{name: "request: fields a string", path: req, ctype: j, body: `{"queue":"sales","fields":"a=1"}`, status: 400, code: inv, field: "fields"},
		{name: "request: unknown field", path: req, ctype: j, body: `{"queue":"sales","colour":"red"}`, status: 400, code: inv, field: "colour"},
		{name: "request: two objects", path: req, ctype: j, body: `{"queue":"sales"} {"queue":"sales"}`, status: 400, code: inv},
		{name: "request: trailing garbage", path: req, ctype: j, body: `{"queue":"sales"}x`, status: 400, code: inv},
		{name: "request: trailing bracket", path: req, ctype: j, body: `{"queue":"sales"}]`, status: 400, code: inv},
		{name: "request: empty body", path: req, ctype: j, body: ``, status: 400, code: inv},
		{name: "request: white space body", path: req, ctype: j, body: " \n\t", status: 400, code: inv},
		{name: "request: unknown queue", path: req, ctype: j, body: `{"queue":"nope"}`, status: 400, code: inv, field: "queue"},
		{name: "request: sub-queue of nothing", path: req, ctype: j, body: `{"queue":"nope/printers"}`, status: 400, code: inv, field: "queue"},
		{name: "request: no queue", path: req, ctype: j, body: `{}`, status: 400, code: inv, field: "queue"},
		{name: "request: empty queue", path: req, ctype: j, body: `{"queue":""}`, status: 400, code: inv, field: "queue"},
		{name: "request: required field missing", path: req, ctype: j, body: `{"queue":"support/printers"}`, status: 400, code: inv, field: "fields.serial_number"},
		{name: "request: required field blank", path: req, ctype: j, body: `{"queue":"support/printers","fields":{"serial_number":"  "}}`, status: 400, code: inv, field: "fields.serial_number"},
		{name: "request: routed, required field missing", path: req, ctype: j, body: `{"queue":"support","fields":{"product":"printer"}}`, status: 400, code: inv, field: "fields.serial_number"},
		{name: "request: 101 fields", path: req, ctype: j, body: manyFields(101), status: 400, code: inv, field: "fields"},
		{name: "request: empty field name", path: req, ctype: j, body: `{"queue":"sales","fields":{"":"x"}}`, status: 400, code: inv, field: "fields"},
		{name: "request: field name of 65 bytes", path: req, ctype: j, body: `{"queue":"sales","fields":{"` + long(65) + `":"x"}}`, status: 400, code: inv, field: "fields"},
		{name: "request: field value over 4096 bytes", path: req, ctype: j, body: `{"queue":"sales","fields":{"account":"` + long(4097) + `"}}`, status: 400, code: inv, field: "fields.account"},
		{name: "request: name over 4096 bytes", path: req, ctype: j, body: `{"queue":"sales","name":"` + long(4097) + `"}`, status: 400, code: inv, field: "name"},
		{name: "request: email over 4096 bytes", path: req, ctype: j, body: `{"queue":"sales","email":"` + long(4097) + `"}`, status: 400, code: inv, field: "email"},
		{name: "request: problem over 4096 bytes", path: req, ctype: j, body: `{"queue":"sales","problem":"` + long(4097) + `"}`, status: 400, code: inv, field: "problem"},
		{name: "request: JSON over 1 MiB", path: req, ctype: j, raw: pad(`{"queue":"sales"}`), status: 413, code: "too_large"},
		{name: "request: junk over 1 MiB", path: req, ctype: j, raw: bytes.Repeat([]byte("{"), MaxBodyBytes+1), status: 413, code: "too_large"},
		{name: "request: form over 1 MiB", path: req, ctype: oaForm, body: "queue=sales&name=" + long(MaxBodyBytes), status: 413, code: "too_large"},
		{name: "request: no content type", path: req, body: `{"queue":"sales"}`, status: 415, code: "unsupported_media_type"},
		{name: "request: text/plain", path: req, ctype: "text/plain", body: `{"queue":"sales"}`, status: 415, code: "unsupported_media_type"},
		{name: "request: application/xml", path: req, ctype: "application/xml", body: `<queue>sales</queue>`, status: 415, code: "unsupported_media_type"},
		{name: "request: multipart", path: req, ctype: "multipart/form-data; boundary=x", body: "--x\r\n\r\nsales\r\n--x--", status: 415, code: "unsupported_media_type"},
		{name: "request: malformed content type", path: req, ctype: "application/", body: `{"queue":"sales"}`, status: 415, code: "unsupported_media_type"},
		{name: "request: JSON patch", path: req, ctype: "application/json-patch+json", body: `[]`, status: 415, code: "unsupported_media_type"},

		// POST /v1/requests, form.
		{name: "form: unknown key", path: req, ctype: oaForm, body: "queue=sales&colour=red", status: 400, code: inv, field: "colour"},
		{name: "form: queue twice", path: req, ctype: oaForm, body: "queue=sales&queue=support", status: 400, code: inv, field: "queue"},
		{name: "form: a field twice", path: req, ctype: oaForm, body: "queue=sales&fields%5Ba%5D=1&fields%5Ba%5D=2", status: 400, code: inv, field: "fields[a]"},
		{name: "form: bad escape", path: req, ctype: oaForm, body: "queue=%zz", status: 400, code: inv},
		{name: "form: semicolon", path: req, ctype: oaForm, body: "queue=sales;name=x", status: 400, code: inv},
		{name: "form: no queue", path: req, ctype: oaForm, body: "name=x", status: 400, code: inv, field: "queue"},
		{name: "form: empty body", path: req, ctype: oaForm, body: "", status: 400, code: inv, field: "queue"},
		{name: "form: empty field name", path: req, ctype: oaForm, body: "queue=sales&fields%5B%5D=x", status: 400, code: inv, field: "fields"},
		{name: "form: unclosed field", path: req, ctype: oaForm, body: "queue=sales&fields%5Ba=x", status: 400, code: inv, field: "fields[a"},
		{name: "form: unknown queue", path: req, ctype: oaForm, body: "queue=nope", status: 400, code: inv, field: "queue"},
		{name: "form: required field missing", path: req, ctype: oaForm, body: "queue=support%2Fprinters", status: 400, code: inv, field: "fields.serial_number"},

		// POST /v1/connection-codes.
		{name: "code: JSON cut short", path: code, ctype: j, body: `{`, status: 400, code: inv},
		{name: "code: empty body", path: code, ctype: j, body: ``, status: 400, code: inv},
		{name: "code: agent_id a number", path: code, ctype: j, body: `{"agent_id":5}`, status: 400, code: inv, field: "agent_id"},
		{name: "code: ttl a string", path: code, ctype: j, body: `{"agent_id":"a-0001","ttl_seconds":"60"}`, status: 400, code: inv, field: "ttl_seconds"},
		{name: "code: ttl a fraction", path: code, ctype: j, body: `{"agent_id":"a-0001","ttl_seconds":1.5}`, status: 400, code: inv, field: "ttl_seconds"},
		{name: "code: ttl huge", path: code, ctype: j, body: `{"agent_id":"a-0001","ttl_seconds":1e40}`, status: 400, code: inv, field: "ttl_seconds"},
		{name: "code: ttl negative", path: code, ctype: j, body: `{"agent_id":"a-0001","ttl_seconds":-1}`, status: 400, code: inv, field: "ttl_seconds"},
		{name: "code: ttl over a day", path: code, ctype: j, body: `{"agent_id":"a-0001","ttl_seconds":86401}`, status: 400, code: inv, field: "ttl_seconds"},
		{name: "code: external_ref over 256 bytes", path: code, ctype: j, body: `{"agent_id":"a-0001","external_ref":"` + long(257) + `"}`, status: 400, code: inv, field: "external_ref"},
		{name: "code: unknown field", path: code, ctype: j, body: `{"agent_id":"a-0001","agent":"a-0001"}`, status: 400, code: inv, field: "agent"},
		{name: "code: trailing data", path: code, ctype: j, body: `{"agent_id":"a-0001"}{}`, status: 400, code: inv},
		{name: "code: no agent", path: code, ctype: j, body: `{}`, status: 400, code: inv, field: "agent_id"},
		{name: "code: unknown agent", path: code, ctype: j, body: `{"agent_id":"a-9999"}`, status: 400, code: inv, field: "agent_id"},
		{name: "code: queue not served", path: code, ctype: j, body: `{"agent_id":"a-0001","queue":"sales"}`, status: 400, code: inv, field: "queue"},
		{name: "code: over 1 MiB", path: code, ctype: j, raw: pad(`{"agent_id":"a-0001"}`), status: 413, code: "too_large"},
		{name: "code: text/plain", path: code, ctype: "text/plain", body: `{"agent_id":"a-0001"}`, status: 415, code: "unsupported_media_type"},
		{name: "code: form", path: code, ctype: oaForm, body: `agent_id=a-0001`, status: 415, code: "unsupported_media_type"},

		// POST /v1/connection-codes/{code}/join: the body is checked before the code.
		{name: "join: name a number", path: join, ctype: j, body: `{"name":5}`, status: 400, code: inv, field: "name"},
		{name: "join: a field a number", path: join, ctype: j, body: `{"fields":{"a":1}}`, status: 400, code: inv, field: "fields"},
		{name: "join: empty field name", path: join, ctype: j, body: `{"fields":{"":"x"}}`, status: 400, code: inv, field: "fields"},
		{name: "join: unknown field", path: join, ctype: j, body: `{"code":"123456789"}`, status: 400, code: inv, field: "code"},
		{name: "join: trailing data", path: join, ctype: j, body: `{} {}`, status: 400, code: inv},
		{name: "join: JSON cut short", path: join, ctype: j, body: `{"name":"x`, status: 400, code: inv},
		{name: "join: JSON array", path: join, ctype: j, body: `[{}]`, status: 400, code: inv},
		{name: "join: over 1 MiB", path: join, ctype: j, raw: pad(`{}`), status: 413, code: "too_large"},
		{name: "join: text/plain", path: join, ctype: "text/plain", body: `{}`, status: 415, code: "unsupported_media_type"},
		{name: "join: no body is fine, the code is unknown", path: join, status: 404, code: "not_found"},

		// POST /v1/admin/faults.
		{name: "faults: error_rate over 1", path: faults, ctype: j, body: `{"error_rate":1.5}`, status: 400, code: inv, field: "error_rate"},
		{name: "faults: error_rate negative", path: faults, ctype: j, body: `{"error_rate":-0.1}`, status: 400, code: inv, field: "error_rate"},
		{name: "faults: malformed_rate over 1", path: faults, ctype: j, body: `{"malformed_rate":2}`, status: 400, code: inv, field: "malformed_rate"},
		{name: "faults: error_body_rate negative", path: faults, ctype: j, body: `{"error_body_rate":-1}`, status: 400, code: inv, field: "error_body_rate"},
		{name: "faults: stream_drop_rate over 1", path: faults, ctype: j, body: `{"stream_drop_rate":1.01}`, status: 400, code: inv, field: "stream_drop_rate"},
		{name: "faults: latency negative", path: faults, ctype: j, body: `{"latency_ms":-1}`, status: 400, code: inv, field: "latency_ms"},
		{name: "faults: latency over a minute", path: faults, ctype: j, body: `{"latency_ms":60001}`, status: 400, code: inv, field: "latency_ms"},
		{name: "faults: latency a string", path: faults, ctype: j, body: `{"latency_ms":"5"}`, status: 400, code: inv, field: "latency_ms"},
		{name: "faults: latency a fraction", path: faults, ctype: j, body: `{"latency_ms":1.5}`, status: 400, code: inv, field: "latency_ms"},
		{name: "faults: rate a string", path: faults, ctype: j, body: `{"error_rate":"0.5"}`, status: 400, code: inv, field: "error_rate"},
		{name: "faults: unknown field", path: faults, ctype: j, body: `{"drop_rate":0.5}`, status: 400, code: inv, field: "drop_rate"},
		{name: "faults: JSON cut short", path: faults, ctype: j, body: `{"error_rate":0.`, status: 400, code: inv},
		{name: "faults: trailing data", path: faults, ctype: j, body: `{}0`, status: 400, code: inv},
		{name: "faults: empty body", path: faults, ctype: j, body: ``, status: 400, code: inv},
		{name: "faults: over 1 MiB", path: faults, ctype: j, raw: pad(`{}`), status: 413, code: "too_large"},
		{name: "faults: text/plain", path: faults, ctype: "text/plain", body: `{}`, status: 415, code: "unsupported_media_type"},

		// GET /v1/sessions.
		{name: "sessions: since a word", method: "GET", path: "/v1/sessions?since=yesterday", status: 400, code: inv, field: "since"},
		{name: "sessions: since a date", method: "GET", path: "/v1/sessions?since=2026-11-01", status: 400, code: inv, field: "since"},
		{name: "sessions: since without a zone", method: "GET", path: "/v1/sessions?since=2026-11-01T00:00:00", status: 400, code: inv, field: "since"},
		{name: "sessions: until a word", method: "GET", path: "/v1/sessions?until=nope", status: 400, code: inv, field: "until"},
		{name: "sessions: until hour 25", method: "GET", path: "/v1/sessions?until=2026-11-01T25:00:00Z", status: 400, code: inv, field: "until"},
		{name: "sessions: limit 0", method: "GET", path: "/v1/sessions?limit=0", status: 400, code: inv, field: "limit"},
		{name: "sessions: limit 1001", method: "GET", path: "/v1/sessions?limit=1001", status: 400, code: inv, field: "limit"},
		{name: "sessions: limit abc", method: "GET", path: "/v1/sessions?limit=abc", status: 400, code: inv, field: "limit"},
		{name: "sessions: limit negative", method: "GET", path: "/v1/sessions?limit=-1", status: 400, code: inv, field: "limit"},
		{name: "sessions: limit a fraction", method: "GET", path: "/v1/sessions?limit=1.5", status: 400, code: inv, field: "limit"},
		{name: "sessions: limit huge", method: "GET", path: "/v1/sessions?limit=99999999999999999999", status: 400, code: inv, field: "limit"},
		{name: "sessions: cursor not base64", method: "GET", path: "/v1/sessions?after=!!!", status: 400, code: inv, field: "after"},
		{name: "sessions: cursor without a dot", method: "GET", path: "/v1/sessions?after=" + biB64("12345"), status: 400, code: inv, field: "after"},
		{name: "sessions: cursor without a session id", method: "GET", path: "/v1/sessions?after=" + biB64("12345.r-1"), status: 400, code: inv, field: "after"},
		{name: "sessions: cursor without a time", method: "GET", path: "/v1/sessions?after=" + biB64("abc.s-1"), status: 400, code: inv, field: "after"},
		{name: "sessions: unknown parameter", method: "GET", path: "/v1/sessions?foo=1", status: 400, code: inv, field: "foo"},
		{name: "sessions: misspelt parameter", method: "GET", path: "/v1/sessions?Since=2026-11-01T00:00:00Z", status: 400, code: inv, field: "Since"},
		{name: "sessions: since older than 90 days", method: "GET", path: "/v1/sessions?since=" + testStart.Add(-91*24*time.Hour).Format(time.RFC3339), status: 400, code: "out_of_range", field: "since"},
		{name: "sessions: since equals until", method: "GET", path: "/v1/sessions?since=2026-11-01T00:00:00Z&until=2026-11-01T00:00:00Z", status: 400, code: inv, field: "until"},
		{name: "sessions: since in the future", method: "GET", path: "/v1/sessions?since=" + testStart.Add(time.Hour).Format(time.RFC3339), status: 400, code: inv, field: "until"},

		// Unknown paths.
		{name: "path: /", method: "GET", path: "/", status: 404, code: "not_found"},
		{name: "path: /v1", method: "GET", path: "/v1", status: 404, code: "not_found"},
		{name: "path: /v1/", method: "GET", path: "/v1/", status: 404, code: "not_found"},
		{name: "path: /v1/nope", method: "GET", path: "/v1/nope", status: 404, code: "not_found"},
		{name: "path: /v2", method: "GET", path: "/v2/monitors/agents", status: 404, code: "not_found"},
		{name: "path: /V1 (case)", method: "GET", path: "/V1/monitors/agents", status: 404, code: "not_found"},
		{name: "path: /v1/monitors", method: "GET", path: "/v1/monitors", status: 404, code: "not_found"},
		{name: "path: under agents", method: "GET", path: "/v1/monitors/agents/a-0001", status: 404, code: "not_found"},
		{name: "path: under a recording", method: "GET", path: "/v1/sessions/s-1/recording/x", status: 404, code: "not_found"},
		{name: "path: under join", method: "POST", path: "/v1/connection-codes/1/join/x", status: 404, code: "not_found"},
		{name: "path: /v1/admin", method: "GET", path: "/v1/admin", status: 404, code: "not_found"},
		{name: "path: under faults", method: "GET", path: "/v1/admin/faults/x", status: 404, code: "not_found"},
		{name: "path: unknown, POST", method: "POST", path: "/v1/nope", ctype: j, body: `{}`, status: 404, code: "not_found"},

		// Wrong methods.
		{name: "method: POST agents", method: "POST", path: "/v1/monitors/agents", status: 405, code: "method_not_allowed", allow: []string{"GET"}},
		{name: "method: PUT queues", method: "PUT", path: "/v1/monitors/queues", status: 405, code: "method_not_allowed", allow: []string{"GET"}},
		{name: "method: POST stream", method: "POST", path: "/v1/monitors/stream", status: 405, code: "method_not_allowed", allow: []string{"GET"}},
		{name: "method: GET requests", method: "GET", path: "/v1/requests", status: 405, code: "method_not_allowed", allow: []string{"POST"}},
		{name: "method: OPTIONS requests", method: "OPTIONS", path: "/v1/requests", status: 405, code: "method_not_allowed", allow: []string{"POST"}},
		{name: "method: DELETE a request", method: "DELETE", path: "/v1/requests/r-1", status: 405, code: "method_not_allowed", allow: []string{"GET"}},
		{name: "method: GET codes", method: "GET", path: "/v1/connection-codes", status: 405, code: "method_not_allowed", allow: []string{"POST"}},
		{name: "method: GET a code", method: "GET", path: "/v1/connection-codes/1", status: 405, code: "method_not_allowed", allow: []string{"DELETE"}},
		{name: "method: GET join", method: "GET", path: "/v1/connection-codes/1/join", status: 405, code: "method_not_allowed", allow: []string{"POST"}},
		{name: "method: POST sessions", method: "POST", path: "/v1/sessions", ctype: j, body: `{}`, status: 405, code: "method_not_allowed", allow: []string{"GET"}},
		{name: "method: PATCH a session", method: "PATCH", path: "/v1/sessions/s-1", status: 405, code: "method_not_allowed", allow: []string{"GET"}},
		{name: "method: POST a recording", method: "POST", path: "/v1/sessions/s-1/recording", status: 405, code: "method_not_allowed", allow: []string{"GET"}},
		{name: "method: DELETE faults", method: "DELETE", path: "/v1/admin/faults", status: 405, code: "method_not_allowed", allow: []string{"GET", "POST"}},

		// Authentication comes first, even on unknown paths.
		{name: "auth: none", method: "GET", path: "/v1/monitors/agents", auth: biNoAuth, status: 401, code: "unauthenticated"},
		{name: "auth: basic", method: "GET", path: "/v1/monitors/agents", auth: "Basic dGVzdC10b2tlbjo=", status: 401, code: "unauthenticated"},
		{name: "auth: bearer without a token", method: "GET", path: "/v1/monitors/agents", auth: "Bearer", status: 401, code: "unauthenticated"},
		{name: "auth: bearer with an empty token", method: "GET", path: "/v1/monitors/agents", auth: "Bearer ", status: 401, code: "unauthenticated"},
		{name: "auth: the token alone", method: "GET", path: "/v1/monitors/agents", auth: testToken, status: 401, code: "unauthenticated"},
		{name: "auth: wrong token", method: "GET", path: "/v1/monitors/agents", auth: "Bearer x" + testToken, status: 401, code: "unauthenticated"},
		{name: "auth: token prefix", method: "GET", path: "/v1/monitors/agents", auth: "Bearer " + testToken[:4], status: 401, code: "unauthenticated"},
		{name: "auth: token in the query", method: "GET", path: "/v1/monitors/agents?token=" + testToken, auth: biNoAuth, status: 401, code: "unauthenticated"},
		{name: "auth: unknown path", method: "GET", path: "/v1/nope", auth: biNoAuth, status: 401, code: "unauthenticated"},
		{name: "auth: wrong method", method: "DELETE", path: "/v1/monitors/agents", auth: biNoAuth, status: 401, code: "unauthenticated"},
		{name: "auth: bad body", path: req, ctype: j, body: `{`, auth: biNoAuth, status: 401, code: "unauthenticated"},
	}
	return rows
}

// TestBadInput sends calls that are wrong in every way the table knows and
// checks each answer: the expected 4xx, in the error shape, with the expected
// code and field; never a 500. Then it checks that none of them changed
// anything.
func TestBadInput(t *testing.T) {
	env := newTestEnv(t, oaScenario(t))
	env.engine.mu.Lock()
	firstNew := fmt.Sprintf("r-%08d", env.engine.reqOrd+1) // after the sessions running at start
	env.engine.mu.Unlock()
	rows := biTable()
	names := map[string]bool{}
	for _, row := range rows {
		if names[row.name] {
			t.Fatalf("two rows named %q", row.name)
		}
		names[row.name] = true
		t.Run(row.name, func(t *testing.T) {
			status, header, body := biSend(t, env, row)
			if status < 400 || status > 499 {
				t.Fatalf("status %d, want a 4xx (%d); body %.300s", status, row.status, body)
			}
			if status != row.status {
				t.Errorf("status %d, want %d; body %.300s", status, row.status, body)
			}
			e := biErrorBody(t, status, header, body)
			if e.Code != row.code || e.Field != row.field {
				t.Errorf("error code %q field %q, want code %q field %q (%s)", e.Code, e.Field, row.code, row.field, e.Message)
			}
			if status == http.StatusMethodNotAllowed {
				allow := strings.Split(header.Get("Allow"), ", ")
				slices.Sort(allow)
				if !slices.Equal(allow, row.allow) {
					t.Errorf("Allow %q, want %q", header.Get("Allow"), strings.Join(row.allow, ", "))
				}
			}
			if status == http.StatusUnauthorized && !strings.HasPrefix(header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", header.Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("nothing changed", func(t *testing.T) {
		var f Faults
		env.getJSON("/v1/admin/faults", &f)
		if f != (Faults{}) {
			t.Errorf("faults are %+v after refused changes, want none", f)
		}
		// No refused call created a request: the first one made now is
		// the first after those running at start.
		status, _, body := env.do("POST", "/v1/requests", oaJSON, []byte(`{"queue":"sales"}`))
		var r RequestJSON
		if status != http.StatusCreated || json.Unmarshal(body, &r) != nil || r.ID != firstNew {
			t.Errorf("a good request after the bad ones: %d %s; want 201 with id %s", status, body, firstNew)
		}
	})
}

// TestBadInputAcceptedVariants checks the table's near misses that must
// work, so that the bad rows fail for the reason they name.
func TestBadInputAcceptedVariants(t *testing.T) {
	env := newTestEnv(t, oaScenario(t))
	for _, c := range []struct {
		name, method, path, ctype, body string
		status                          int
	}{
		{"JSON with charset", "POST", "/v1/requests", "application/json; charset=utf-8", `{"queue":"sales"}`, 201},
		{"JSON with white space around", "POST", "/v1/requests", oaJSON, " \n{\"queue\":\"sales\"}\n ", 201},
		{"form", "POST", "/v1/requests", oaForm, "queue=sales&fields%5Ba%5D=1", 201},
		{"required field given", "POST", "/v1/requests", oaJSON, `{"queue":"support/printers","fields":{"serial_number":"SN-1"}}`, 201},
		{"field value of 4096 bytes", "POST", "/v1/requests", oaJSON, `{"queue":"sales","fields":{"account":"` + strings.Repeat("x", 4096) + `"}}`, 201},
		{"code", "POST", "/v1/connection-codes", oaJSON, `{"agent_id":"a-0001","ttl_seconds":86400}`, 201},
		{"faults at the limits", "POST", "/v1/admin/faults", oaJSON, `{"error_rate":0,"latency_ms":0,"malformed_rate":0,"error_body_rate":0,"stream_drop_rate":1}`, 200},
		{"faults back", "POST", "/v1/admin/faults", oaJSON, `{"stream_drop_rate":0}`, 200},
		{"sessions, limit 1000", "GET", "/v1/sessions?limit=1000", "", "", 200},
		{"sessions, limit 1", "GET", "/v1/sessions?limit=1&since=" + testStart.Add(-89*24*time.Hour).Format(time.RFC3339), "", "", 200},
		{"sessions, empty limit", "GET", "/v1/sessions?limit=", "", "", 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, _, body := env.do(c.method, c.path, c.ctype, []byte(c.body))
			if status != c.status {
				t.Errorf("status %d, want %d; body %.300s", status, c.status, body)
			}
		})
	}
	t.Run("until past 2262 lists what until now lists", func(t *testing.T) {
		since := testStart.Add(-6 * time.Hour).Format(time.RFC3339)
		var far, now SessionsPage
		env.getJSON("/v1/sessions?since="+since+"&until=9999-12-31T23:59:59Z", &far)
		env.getJSON("/v1/sessions?since="+since, &now)
		if len(now.Sessions) == 0 || len(far.Sessions) != len(now.Sessions) || far.Next != now.Next {
			t.Errorf("until 9999 lists %d sessions (next %q), until now %d (next %q)", len(far.Sessions), far.Next, len(now.Sessions), now.Next)
		}
	})
	t.Run("100 fields", func(t *testing.T) {
		fields := map[string]string{}
		for i := range 100 {
			fields[fmt.Sprintf("f%d", i)] = "v"
		}
		b, _ := json.Marshal(NewRequest{Queue: "sales", Fields: fields})
		if status, _, body := env.do("POST", "/v1/requests", oaJSON, b); status != 201 {
			t.Errorf("status %d, want 201; body %.300s", status, body)
		}
	})
}
