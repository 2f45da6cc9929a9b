package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acdbridge/acdbridge/bridge/config"
)

// fakeCodes answers as the runtime does: a code for a-0001, the source's
// refusals for the others.
type fakeCodes struct {
	mu  sync.Mutex
	got []CodeRequest
}

func (f *fakeCodes) CreateCode(_ context.Context, r CodeRequest) (Code, error) {
	f.mu.Lock()
	f.got = append(f.got, r)
	f.mu.Unlock()
	switch r.Agent {
	case "a-0001":
		q := r.Queue
		if q == "" {
			q = "support"
		}
		return Code{Code: "042117311", AgentID: r.Agent, ExternalRef: r.ExternalRef, Queue: q, ExpiresAt: time.Date(2026, 3, 2, 9, 24, 5, 0, time.UTC)}, nil
	case "a-offline":
		return Code{}, &CodeError{Status: http.StatusConflict, Code: "conflict", Message: "agent a-offline is offline"}
	case "a-down":
		return Code{}, errors.New("POST /v1/connection-codes: dial tcp 127.0.0.1:8089: connection refused")
	}
	return Code{}, &CodeError{Status: http.StatusBadRequest, Code: "invalid_argument", Message: `agent: the remote-support service has no agent "` + r.Agent + `"`, Field: "agent"}
}

func TestConnectionCodes(t *testing.T) {
	tokens := []config.Token{
		{Name: "wallboard", Role: "viewer", SHA256: hash("view-token")},
		{Name: "crm", Role: "supervisor", SHA256: hash("lead-token")},
		{Name: "root", Role: "admin", SHA256: hash("admin-token")},
	}
	codes := &fakeCodes{}
	srv, err := New("127.0.0.1:0", prometheus.NewRegistry(), nil, Views{Codes: codes}, tokens, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	go srv.hs.Serve(srv.ln)
	defer srv.hs.Close()
	url := "http://" + srv.Addr() + "/api/v1/connection-codes"
	const made = `{"code":"042117311","agent_id":"a-0001","external_ref":"1234","queue":"support","expires_at":"2026-03-02T09:24:05Z"}`
	tests := []struct {
		name, token, ctype, body string
		status                   int
		want                     string // the whole answer when it starts with {, else a part
	}{
		{"made", "lead-token", "application/json", `{"agent": "a-0001", "external_ref": "1234"}`, 201, made},
		{"admin", "admin-token", "", `{"agent": "a-0001", "external_ref": "1234"}`, 201, made},
		{"queue", "lead-token", "application/json; charset=utf-8", `{"agent": "a-0001", "external_ref": "1234", "queue": "support/printers"}`, 201,
			`{"code":"042117311","agent_id":"a-0001","external_ref":"1234","queue":"support/printers","expires_at":"2026-03-02T09:24:05Z"}`},
		{"no token", "", "application/json", `{"agent": "a-0001", "external_ref": "1234"}`, 401, ""},
		{"viewer", "view-token", "application/json", `{"agent": "a-0001", "external_ref": "1234"}`, 403, ""},
		{"missing agent", "lead-token", "application/json", `{"external_ref": "1234"}`, 400,
			`{"error":{"code":"invalid_argument","field":"agent","message":"agent: expected the id of the agent who reads the code to the caller, like a-0001; got none"}}`},
		{"blank agent", "lead-token", "application/json", `{"agent": "  ", "external_ref": "1234"}`, 400, `"field":"agent"`},
		{"missing external_ref", "lead-token", "application/json", `{"agent": "a-0001"}`, 400,
			`{"error":{"code":"invalid_argument","field":"external_ref","message":"external_ref: expected the ticket or CRM record the session belongs to, like 1234; got none"}}`},
		{"long external_ref", "lead-token", "application/json", `{"agent": "a-0001", "external_ref": "` + strings.Repeat("x", 257) + `"}`, 400,
			`{"error":{"code":"invalid_argument","field":"external_ref","message":"external_ref: expected at most 256 bytes, got 257"}}`},
		{"unknown agent", "lead-token", "application/json", `{"agent": "a-9999", "external_ref": "1234"}`, 400,
			`{"error":{"code":"invalid_argument","field":"agent","message":"agent: the remote-support service has no agent \"a-9999\""}}`},
		{"agent offline", "lead-token", "application/json", `{"agent": "a-offline", "external_ref": "1234"}`, 409,
			`{"error":{"code":"conflict","field":"","message":"agent a-offline is offline"}}`},
		{"source down", "lead-token", "application/json", `{"agent": "a-down", "external_ref": "1234"}`, 502,
			`{"error":{"code":"bad_gateway","field":"","message":"the remote-support service did not make the code: POST /v1/connection-codes: dial tcp 127.0.0.1:8089: connection refused"}}`},
		{"agent a number", "lead-token", "application/json", `{"agent": 1, "external_ref": "1234"}`, 400,
			`{"error":{"code":"invalid_argument","field":"agent","message":"agent: expected a string, got a JSON number"}}`},
		{"unknown field", "lead-token", "application/json", `{"agent": "a-0001", "external_ref": "1", "ttl": 5}`, 400,
			`{"error":{"code":"invalid_argument","field":"ttl","message":"unknown field \"ttl\": expected agent, external_ref and optionally queue"}}`},
		{"not JSON", "lead-token", "application/json", `agent=a-0001`, 400, `"message":"expected a JSON object like {\"agent\": \"a-0001\", \"external_ref\": \"1234\"}: invalid character`},
		{"two objects", "lead-token", "application/json", `{"agent": "a-0001", "external_ref": "1"} {}`, 400, `expected one JSON object, got more after it`},
		{"form", "lead-token", "application/x-www-form-urlencoded", `agent=a-0001`, 415, `"code":"unsupported_media_type"`},
		{"too large", "lead-token", "application/json", `{"agent": "a-0001", "external_ref": "` + strings.Repeat("x", 20000) + `"}`, 413, `"code":"too_large"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := strings.TrimSpace(string(b))
			exact := strings.HasPrefix(tc.want, "{") // a whole answer; otherwise a part of it
			if resp.StatusCode != tc.status || exact && got != tc.want || !strings.Contains(got, tc.want) {
				t.Fatalf("%d %s\nwant %d %s", resp.StatusCode, got, tc.status, tc.want)
			}
		})
	}
	// Only the valid ones reached the source.
	codes.mu.Lock()
	defer codes.mu.Unlock()
	if len(codes.got) != 6 {
		t.Fatalf("the source was asked %d times, want 6: %+v", len(codes.got), codes.got)
	}
	// GET is not a way to make a code.
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer lead-token")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %v %v", resp.Status, err)
	}
}

// FuzzDecodeCodeRequest: for any body, the request's decoder never panics;
// a refusal is a 4xx with a code and a message; what it accepts has an
// agent and an external_ref within bounds. Seeds: f.Add below and
// testdata/fuzz/FuzzDecodeCodeRequest/.
func FuzzDecodeCodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"agent": "a-0001", "external_ref": "1234"}`,
		`{"agent": "a-0001", "external_ref": "1234", "queue": "support/printers"}`,
		`{"agent": "", "external_ref": "1"}`,
		`{"agent": 1}`,
		`{"agent": "a", "external_ref": "1", "x": 1}`,
		`{"agent": "a", "external_ref": "1"} {}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/connection-codes", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		req, cerr := decodeCodeRequest(r)
		if cerr != nil {
			if cerr.Status < 400 || cerr.Status > 499 || cerr.Code == "" || cerr.Message == "" {
				t.Fatalf("refusal %+v", cerr)
			}
			return
		}
		if req.Agent == "" || strings.TrimSpace(req.Agent) != req.Agent || req.ExternalRef == "" || len(req.ExternalRef) > maxExternalRef {
			t.Fatalf("accepted %q as %+v", body, req)
		}
	})
}
