package runtime

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/bridge/api"
	"github.com/acdbridge/acdbridge/bridge/source"
	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/simulator"
)

// TestSourceCodes: the API's codes come from the source, and the source's
// refusals become the API's errors, with the API's field names.
func TestSourceCodes(t *testing.T) {
	eng, err := simulator.NewEngine(simulator.DefaultScenario(10, 3), simulator.NewManualClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), 1024)
	if err != nil {
		t.Fatal(err)
	}
	hs := testutil.ServeSimulator(t, eng, simulator.Options{Token: "sim-token"}, nil)
	client := func(token string) sourceCodes {
		src, err := source.New(source.Config{URL: hs.URL, Token: token}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sourceCodes{src}
	}
	codes := client("sim-token")
	agent := eng.Agents().Agents[0]
	ctx := context.Background()

	code, err := codes.CreateCode(ctx, api.CodeRequest{Agent: agent.ID, ExternalRef: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	if code.Code == "" || code.AgentID != agent.ID || code.ExternalRef != "1234" || code.Queue != agent.Queues[0] || code.ExpiresAt.IsZero() {
		t.Fatalf("code %+v", code)
	}
	if join, err := eng.JoinCode(code.Code, simulator.JoinRequest{}); err != nil || join.ExternalRef != "1234" || join.AgentID != agent.ID {
		t.Fatalf("the caller joins with the code: %+v %v", join, err)
	}

	for _, tc := range []struct {
		name  string
		codes sourceCodes
		req   api.CodeRequest
		want  api.CodeError
	}{
		{"unknown agent", codes, api.CodeRequest{Agent: "a-9999", ExternalRef: "1"},
			api.CodeError{Status: 400, Code: "invalid_argument", Field: "agent", Message: `agent: the remote-support service knows no agent "a-9999" (no agent "a-9999")`}},
		{"queue not served", codes, api.CodeRequest{Agent: agent.ID, ExternalRef: "1", Queue: "nowhere"},
			api.CodeError{Status: 400, Code: "invalid_argument", Field: "queue", Message: "queue: the remote-support service refused it: agent " + agent.ID + ` does not serve queue "nowhere"; they serve ` + strings.Join(agent.Queues, ", ")}},
		{"the bridge's token refused", client("wrong"), api.CodeRequest{Agent: agent.ID, ExternalRef: "1"},
			api.CodeError{Status: 502, Code: "bad_gateway", Message: "the remote-support service did not make the code: POST /v1/connection-codes: the source rejected the token (401): check source.token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.codes.CreateCode(ctx, tc.req)
			var ce *api.CodeError
			if !errors.As(err, &ce) || *ce != tc.want {
				t.Fatalf("got %#v\nwant %#v", err, tc.want)
			}
		})
	}
	// The conflict of an agent's state, as the source says it.
	conflict := CodeError(api.CodeRequest{Agent: "a-1"}, &source.CodeError{Status: http.StatusConflict, Code: "conflict", Message: "agent a-1 is offline"})
	if ce, ok := conflict.(*api.CodeError); !ok || *ce != (api.CodeError{Status: 409, Code: "conflict", Message: "the remote-support service refused the code: agent a-1 is offline"}) {
		t.Fatalf("conflict: %#v", conflict)
	}
	// An error that is not the source's answer passes unchanged.
	plain := errors.New("connection refused")
	if got := CodeError(api.CodeRequest{}, plain); got != plain {
		t.Fatalf("a transport error became %#v", got)
	}
}
