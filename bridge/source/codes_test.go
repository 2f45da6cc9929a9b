package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/simulator"
)

// TestCreateConnectionCodeAgainstTheSimulator: a code made through the
// client is the simulator's, and the caller who joins with it gets a
// session with the agent, carrying the external_ref; every refusal says
// what the source said, with its field.
func TestCreateConnectionCodeAgainstTheSimulator(t *testing.T) {
	env := newSim(t, simOptions{})
	env.step(time.Minute)
	c, err := New(fastConfig(env.url), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	agent := env.engine.Agents().Agents[0]
	code, err := c.CreateConnectionCode(ctx, CodeRequest{AgentID: agent.ID, ExternalRef: "1234", TTL: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(code.Code) != 9 || code.AgentID != agent.ID || code.Queue != agent.Queues[0] || code.ExternalRef != "1234" ||
		!code.ExpiresAt.Equal(testStart.Add(time.Minute+90*time.Second)) || code.ExpiresAt.Location() != time.UTC {
		t.Fatalf("code %+v for agent %+v", code, agent)
	}
	// The code is real: the caller joins with it.
	join, err := env.engine.JoinCode(code.Code, simulator.JoinRequest{Name: "Grace"})
	if err != nil {
		t.Fatalf("join with %s: %v", code.Code, err)
	}
	if join.AgentID != agent.ID || join.ExternalRef != "1234" {
		t.Fatalf("joined %+v", join)
	}

	last := agent.Queues[len(agent.Queues)-1]
	if code, err := c.CreateConnectionCode(ctx, CodeRequest{AgentID: agent.ID, Queue: last}); err != nil || code.Queue != last || code.ExternalRef != "" {
		t.Fatalf("a code in queue %s: %+v %v", last, code, err)
	}

	for _, tc := range []struct {
		name string
		req  CodeRequest
		want string // the whole message
		ce   *CodeError
	}{
		{"no agent", CodeRequest{}, "POST /v1/connection-codes: agent_id: expected the id of the agent who reads the code to the caller, got nothing", nil},
		{"ttl", CodeRequest{AgentID: agent.ID, TTL: 1500 * time.Millisecond}, "POST /v1/connection-codes: ttl: expected whole seconds from 0 to 24h, got 1.5s", nil},
		{"ttl long", CodeRequest{AgentID: agent.ID, TTL: 25 * time.Hour}, "POST /v1/connection-codes: ttl: expected whole seconds from 0 to 24h, got 25h0m0s", nil},
		{"unknown agent", CodeRequest{AgentID: "a-9999"}, `POST /v1/connection-codes: the source refused agent_id (400 invalid_argument): no agent "a-9999"`,
			&CodeError{Status: 400, Code: "invalid_argument", Message: `no agent "a-9999"`, Field: "agent_id"}},
		{"queue not served", CodeRequest{AgentID: agent.ID, Queue: "nowhere"}, "POST /v1/connection-codes: the source refused queue (400 invalid_argument): agent " + agent.ID + ` does not serve queue "nowhere"`, nil},
		{"external_ref too long", CodeRequest{AgentID: agent.ID, ExternalRef: strings.Repeat("x", 300)}, "POST /v1/connection-codes: the source refused external_ref (400 invalid_argument): expected at most 256 bytes, got 300", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateConnectionCode(ctx, tc.req)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
			if tc.ce != nil {
				var ce *CodeError
				if !errors.As(err, &ce) || *ce != *tc.ce {
					t.Fatalf("error %#v, want %#v", err, tc.ce)
				}
			}
		})
	}

	bad, err := New(Config{URL: env.url, Token: "wrong"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.CreateConnectionCode(ctx, CodeRequest{AgentID: agent.ID}); err == nil || err.Error() != "POST /v1/connection-codes: the source rejected the token (401): check source.token" {
		t.Fatalf("a wrong token: %v", err)
	}
}

// TestCreateConnectionCodeRefusesBadAnswers: an answer that is not a code
// is an error saying what was expected.
func TestCreateConnectionCodeRefusesBadAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		want              string
	}{
		{"not JSON", "application/json", "{", 201, "expected a JSON object"},
		{"no code", "application/json", `{"agent_id":"a","expires_at":"2026-03-02T09:00:00Z"}`, 201, "code: expected a value, got none"},
		{"empty code", "application/json", `{"code":"","agent_id":"a","expires_at":"2026-03-02T09:00:00Z"}`, 201, "code: expected a code, got an empty string"},
		{"no agent", "application/json", `{"code":"1","expires_at":"2026-03-02T09:00:00Z"}`, 201, "agent_id: expected a value, got none"},
		{"no expiry", "application/json", `{"code":"1","agent_id":"a"}`, 201, "expires_at: expected a value, got none"},
		{"error body", "application/json", `{"error":{"code":"internal","message":"boom"}}`, 201, "expected data, got an error body"},
		{"html", "text/html", "<html>", 201, "expected Content-Type application/json, got text/html"},
		{"200", "application/json", `{}`, 200, "expected 201 Created, got 200 OK"},
		{"503 without a body", "text/plain", "", 503, "expected 201 Created, got 503 Service Unavailable"},
		{"409", "application/json", `{"error":{"code":"conflict","message":"agent a-1 is offline"}}`, 409, "the source refused the code (409 conflict): agent a-1 is offline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/v1/connection-codes" || r.Header.Get("Content-Type") != "application/json" {
					w.WriteHeader(http.StatusTeapot)
					return
				}
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			c, err := New(Config{URL: srv.URL, Token: "t"}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.CreateConnectionCode(context.Background(), CodeRequest{AgentID: "a"})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "/v1/connection-codes") {
				t.Fatalf("got %v\nwant ...%s...", err, tc.want)
			}
		})
	}
}

// FuzzDecodeCode: for any body, decodeCode never panics, a failure is a
// *PayloadError of a known kind, and an accepted code has its code, agent
// and a UTC expiry, and survives a round trip through the wire shape.
// Seeds: f.Add below and testdata/fuzz/FuzzDecodeCode/.
func FuzzDecodeCode(f *testing.F) {
	f.Add([]byte(`{"code":"042117311","agent_id":"a-0001","queue":"support","external_ref":"1234","expires_at":"2026-03-02T09:10:00Z"}`))
	f.Add([]byte(`{"code":"1","agent_id":"a","expires_at":"2026-03-02T10:10:00+01:00"}`))
	f.Add([]byte(`{"error":{"code":"invalid_argument","message":"no agent","field":"agent_id"}}`))
	f.Add([]byte(`{"code":"","agent_id":"a","expires_at":"2026-03-02T09:10:00Z"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := decodeCode(body)
		if err != nil {
			checkPayloadError(t, err)
			return
		}
		if c.Code == "" || c.AgentID == "" || c.ExpiresAt.IsZero() || c.ExpiresAt.Location() != time.UTC {
			t.Fatalf("accepted %q as %+v", body, c)
		}
		again, err := decodeCode(mustJSON(t, map[string]any{"code": c.Code, "agent_id": c.AgentID, "queue": c.Queue, "external_ref": c.ExternalRef, "expires_at": c.ExpiresAt}))
		if err != nil || again != c {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, c)
		}
	})
}
