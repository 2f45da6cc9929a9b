package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/acdbridge/acdbridge/bridge/api"
	"github.com/acdbridge/acdbridge/bridge/source"
)

// sourceCodes makes the API's connection codes (POST
// /api/v1/connection-codes) with the source's POST /v1/connection-codes.
type sourceCodes struct{ src *source.Client }

var _ api.Codes = sourceCodes{}

// CreateCode asks the source for a code and turns its refusals into the
// API's errors, named by the API's fields.
func (c sourceCodes) CreateCode(ctx context.Context, r api.CodeRequest) (api.Code, error) {
	code, err := c.src.CreateConnectionCode(ctx, source.CodeRequest{AgentID: r.Agent, Queue: r.Queue, ExternalRef: r.ExternalRef})
	if err != nil {
		return api.Code{}, CodeError(r, err)
	}
	return api.Code{Code: code.Code, AgentID: code.AgentID, ExternalRef: code.ExternalRef, Queue: code.Queue, ExpiresAt: code.ExpiresAt}, nil
}

// CodeError is the API's error for the source's refusal of a code
// request: 400 with the field for what the caller sent wrong (an unknown
// agent, a queue the agent does not serve), 409 for the agent's state, 502
// when the source refused the bridge itself. Other errors pass unchanged
// (the API answers 502).
func CodeError(r api.CodeRequest, err error) error {
	var ce *source.CodeError
	if !errors.As(err, &ce) {
		return err
	}
	fields := map[string]string{"agent_id": "agent", "queue": "queue", "external_ref": "external_ref"}
	switch field := fields[ce.Field]; {
	case ce.Status == http.StatusBadRequest && field == "agent":
		return &api.CodeError{Status: http.StatusBadRequest, Code: "invalid_argument", Field: field,
			Message: fmt.Sprintf("agent: the remote-support service knows no agent %q (%s)", r.Agent, ce.Message)}
	case ce.Status == http.StatusBadRequest && field != "":
		return &api.CodeError{Status: http.StatusBadRequest, Code: "invalid_argument", Field: field,
			Message: fmt.Sprintf("%s: the remote-support service refused it: %s", field, ce.Message)}
	case ce.Status == http.StatusConflict:
		return &api.CodeError{Status: http.StatusConflict, Code: "conflict", Message: "the remote-support service refused the code: " + ce.Message}
	}
	return &api.CodeError{Status: http.StatusBadGateway, Code: "bad_gateway", Message: "the remote-support service did not make the code: " + ce.Error()}
}
