package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// pathCodes is phone mode's call.
const pathCodes = "/v1/connection-codes"

// CodeRequest asks the source for a phone-mode connection code: POST
// /v1/connection-codes.
type CodeRequest struct {
	AgentID     string        // required: the agent who reads the code to the caller
	Queue       string        // optional: a queue the agent serves (the source's default: the agent's first)
	ExternalRef string        // optional: e.g. a ticket id; the session record keeps it
	TTL         time.Duration // optional: how long the code lasts, whole seconds up to 24 h (0: the source's default)
}

// ConnectionCode is a code the source made.
type ConnectionCode struct {
	Code        string
	AgentID     string
	Queue       string
	ExternalRef string
	ExpiresAt   time.Time
}

// CodeError is the source refusing a code, with its error body: the
// status, the code (invalid_argument, conflict, ...), the message and the
// field it names (agent_id for an unknown agent, queue for a queue the
// agent does not serve).
type CodeError struct {
	Status  int
	Code    string
	Message string
	Field   string
}

func (e *CodeError) Error() string {
	switch {
	case e.Status == http.StatusUnauthorized:
		return fmt.Sprintf("POST %s: the source rejected the token (401): check source.token", pathCodes)
	case e.Field != "":
		return fmt.Sprintf("POST %s: the source refused %s (%d %s): %s", pathCodes, e.Field, e.Status, e.Code, e.Message)
	case e.Code != "" || e.Message != "":
		return fmt.Sprintf("POST %s: the source refused the code (%d %s): %s", pathCodes, e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("POST %s: expected 201 Created, got %d %s", pathCodes, e.Status, http.StatusText(e.Status))
}

type wireCode struct {
	errorField
	Code        *string    `json:"code"`
	AgentID     *string    `json:"agent_id"`
	Queue       string     `json:"queue"`
	ExternalRef string     `json:"external_ref"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// CreateConnectionCode asks the source for a phone-mode connection code.
// A refusal is a *CodeError; an answer that is not a code is a
// *PayloadError.
func (c *Client) CreateConnectionCode(ctx context.Context, r CodeRequest) (ConnectionCode, error) {
	if strings.TrimSpace(r.AgentID) == "" {
		return ConnectionCode{}, fmt.Errorf("POST %s: agent_id: expected the id of the agent who reads the code to the caller, got nothing", pathCodes)
	}
	ttl := int64(r.TTL / time.Second)
	if r.TTL < 0 || r.TTL%time.Second != 0 || ttl > 86400 {
		return ConnectionCode{}, fmt.Errorf("POST %s: ttl: expected whole seconds from 0 to 24h, got %s", pathCodes, r.TTL)
	}
	body, err := json.Marshal(struct {
		AgentID     string `json:"agent_id"`
		Queue       string `json:"queue,omitempty"`
		ExternalRef string `json:"external_ref,omitempty"`
		TTLSeconds  int64  `json:"ttl_seconds,omitempty"`
	}{r.AgentID, r.Queue, r.ExternalRef, ttl})
	if err != nil {
		return ConnectionCode{}, fmt.Errorf("POST %s: %w", pathCodes, err)
	}
	if err := c.limiter.Wait(ctx); err != nil {
		return ConnectionCode{}, fmt.Errorf("POST %s: wait for the rate limit: %w", pathCodes, err)
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.baseURL().JoinPath(pathCodes).String(), bytes.NewReader(body))
	if err != nil {
		return ConnectionCode{}, fmt.Errorf("POST %s: %w", pathCodes, err)
	}
	c.setHeaders(req, "application/json")
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		if rctx.Err() != nil && ctx.Err() == nil {
			return ConnectionCode{}, fmt.Errorf("POST %s: the source did not answer within %s (Timeout): %w", pathCodes, c.cfg.Timeout, err)
		}
		return ConnectionCode{}, fmt.Errorf("POST %s: %w", pathCodes, err)
	}
	defer resp.Body.Close()
	data, err := readBody(resp, c.maxPayload)
	if err != nil {
		return ConnectionCode{}, fmt.Errorf("POST %s: read the answer: %w", pathCodes, err)
	}
	if resp.StatusCode != http.StatusCreated {
		ce := &CodeError{Status: resp.StatusCode}
		var eb struct {
			Error wireErrorBody `json:"error"`
		}
		if json.Unmarshal(data, &eb) == nil {
			ce.Code, ce.Message, ce.Field = truncate(eb.Error.Code, 100), truncate(eb.Error.Message, 300), truncate(eb.Error.Field, 100)
		}
		return ConnectionCode{}, ce
	}
	at := "POST " + pathCodes
	if len(data) > c.maxPayload {
		return ConnectionCode{}, c.rejected(&PayloadError{Kind: KindTooLarge, Where: at, Err: fmt.Errorf("expected at most %d bytes, got more", c.maxPayload)})
	}
	if perr := checkContentType(resp.Header.Get("Content-Type"), "application/json", data); perr != nil {
		perr.Where = at
		return ConnectionCode{}, c.rejected(perr)
	}
	code, err := decodeCode(data)
	if err != nil {
		return ConnectionCode{}, c.rejected(where(err, at))
	}
	return code, nil
}

// decodeCode reads a ConnectionCode body.
func decodeCode(data []byte) (ConnectionCode, error) {
	var w wireCode
	if err := unmarshal(data, &w); err != nil {
		return ConnectionCode{}, err
	}
	if err := w.check(); err != nil {
		return ConnectionCode{}, err
	}
	code, err := required(w.Code, "code")
	if err != nil {
		return ConnectionCode{}, err
	}
	agent, err := required(w.AgentID, "agent_id")
	if err != nil {
		return ConnectionCode{}, err
	}
	expires, err := requiredTime(w.ExpiresAt, "expires_at")
	if err != nil {
		return ConnectionCode{}, err
	}
	switch {
	case code == "":
		return ConnectionCode{}, badf(KindBadValue, "code: expected a code, got an empty string")
	case agent == "":
		return ConnectionCode{}, badf(KindMissingID, "agent_id: expected the agent's id, got an empty string")
	}
	return ConnectionCode{Code: code, AgentID: agent, Queue: w.Queue, ExternalRef: w.ExternalRef, ExpiresAt: expires}, nil
}
