package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Phone mode for CRMs and ticketing systems:
//
//	POST /api/v1/connection-codes  supervisor
//	  {"agent": "a-0001", "external_ref": "1234", "queue": "support"}   (queue optional)
//	  → 201 {"code": "…", "agent_id": "a-0001", "external_ref": "1234", "queue": "support", "expires_at": "…"}
//
// The agent reads the code to the caller; the session the caller starts
// with it carries external_ref (a ticket's id), which write-back adapters
// use to find the ticket. Errors: {"error": {"code", "message", "field"}}:
// 400 invalid_argument for a missing or unknown agent (field "agent"), a
// queue the agent does not serve ("queue") or a bad external_ref; 409
// conflict when the source refuses for the agent's state; 502 bad_gateway
// when the source cannot be reached or refuses the bridge.

// Codes makes connection codes; the runtime implements it with the source.
type Codes interface {
	// CreateCode asks the source for a code. A refusal the caller can fix
	// is a *CodeError; any other error is the source being unreachable.
	CreateCode(ctx context.Context, r CodeRequest) (Code, error)
}

// CodeRequest is the body of POST /api/v1/connection-codes.
type CodeRequest struct {
	Agent       string `json:"agent"`
	ExternalRef string `json:"external_ref"`
	Queue       string `json:"queue,omitempty"`
}

// Code is a connection code as the API answers it.
type Code struct {
	Code        string    `json:"code"`
	AgentID     string    `json:"agent_id"`
	ExternalRef string    `json:"external_ref"`
	Queue       string    `json:"queue,omitempty"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// CodeError is a code refused: the HTTP status and error body to answer.
type CodeError struct {
	Status  int
	Code    string // invalid_argument, conflict, bad_gateway
	Message string
	Field   string // agent, queue, external_ref; empty when none
}

func (e *CodeError) Error() string { return e.Message }

// maxCodeBody bounds a request's body; maxExternalRef an external_ref (the
// Remote Support API's own bound).
const (
	maxCodeBody    = 16 << 10
	maxExternalRef = 256
)

func routeCodes(mux *http.ServeMux, a auth, codes Codes) {
	if codes == nil {
		return
	}
	mux.Handle("POST /api/v1/connection-codes", a.require("supervisor", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, cerr := decodeCodeRequest(r)
		if cerr != nil {
			writeErrorField(w, cerr.Status, cerr.Code, cerr.Message, cerr.Field)
			return
		}
		code, err := codes.CreateCode(r.Context(), req)
		if err != nil {
			var ce *CodeError
			if !errors.As(err, &ce) {
				ce = &CodeError{Status: http.StatusBadGateway, Code: "bad_gateway", Message: "the remote-support service did not make the code: " + err.Error()}
			}
			writeErrorField(w, ce.Status, ce.Code, ce.Message, ce.Field)
			return
		}
		writeJSON(w, http.StatusCreated, code)
	})))
}

// decodeCodeRequest reads and checks a request's body.
func decodeCodeRequest(r *http.Request) (CodeRequest, *CodeError) {
	bad := func(field, format string, args ...any) *CodeError {
		return &CodeError{Status: http.StatusBadRequest, Code: "invalid_argument", Message: fmt.Sprintf(format, args...), Field: field}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return CodeRequest{}, &CodeError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
				Message: fmt.Sprintf("expected Content-Type: application/json, got %q", ct)}
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCodeBody+1))
	if err != nil {
		return CodeRequest{}, bad("", "could not read the body: %v", err)
	}
	if len(body) > maxCodeBody {
		return CodeRequest{}, &CodeError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf("expected a body of at most %d bytes", maxCodeBody)}
	}
	var req CodeRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return CodeRequest{}, bad(te.Field, "%s: expected a string, got a JSON %s", te.Field, te.Value)
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			name = strings.Trim(name, `"`)
			return CodeRequest{}, bad(name, "unknown field %q: expected agent, external_ref and optionally queue", name)
		}
		return CodeRequest{}, bad("", `expected a JSON object like {"agent": "a-0001", "external_ref": "1234"}: %v`, err)
	}
	if dec.More() {
		return CodeRequest{}, bad("", "expected one JSON object, got more after it")
	}
	req.Agent, req.Queue = strings.TrimSpace(req.Agent), strings.TrimSpace(req.Queue)
	switch {
	case req.Agent == "":
		return CodeRequest{}, bad("agent", "agent: expected the id of the agent who reads the code to the caller, like a-0001; got none")
	case req.ExternalRef == "":
		return CodeRequest{}, bad("external_ref", "external_ref: expected the ticket or CRM record the session belongs to, like 1234; got none")
	case len(req.ExternalRef) > maxExternalRef:
		return CodeRequest{}, bad("external_ref", "external_ref: expected at most %d bytes, got %d", maxExternalRef, len(req.ExternalRef))
	}
	return req, nil
}
