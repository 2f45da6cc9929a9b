package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StatusError is an answer other than 200 from the source.
type StatusError struct {
	Path       string // the call, e.g. /v1/monitors/agents
	Status     int
	Code       string        // the error body's code, when there is one
	Message    string        // the error body's message, when there is one
	RetryAfter time.Duration // from Retry-After; 0 when absent
}

func (e *StatusError) Error() string {
	var detail string
	if e.Code != "" || e.Message != "" {
		detail = fmt.Sprintf(" (%s: %s)", e.Code, e.Message)
	}
	switch e.Status {
	case http.StatusUnauthorized:
		return fmt.Sprintf("GET %s: the source rejected the token (401): check source.token", e.Path)
	case http.StatusForbidden:
		return fmt.Sprintf("GET %s: the source refused the token (403)%s: check that source.token may read the monitors", e.Path, detail)
	case http.StatusNotFound:
		return fmt.Sprintf("GET %s: the source answered 404 Not Found%s: check that source.url is the Remote Support API's base URL", e.Path, detail)
	case http.StatusTooManyRequests:
		if e.RetryAfter > 0 {
			return fmt.Sprintf("GET %s: the source is rate limiting the bridge (429)%s; waiting %s as its Retry-After asks", e.Path, detail, e.RetryAfter)
		}
		return fmt.Sprintf("GET %s: the source is rate limiting the bridge (429)%s; backing off", e.Path, detail)
	}
	return fmt.Sprintf("GET %s: expected 200 OK, got %d %s%s", e.Path, e.Status, http.StatusText(e.Status), detail)
}

// unauthorized says whether err is the source refusing the token.
func unauthorized(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden)
}

// retryAfterOf is the wait the source asked for with err, if any.
func retryAfterOf(err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// statusError reads the error body of a non-200 answer.
func statusError(path string, resp *http.Response, body []byte) *StatusError {
	se := &StatusError{Path: path, Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header, time.Now())}
	var eb struct {
		Error wireErrorBody `json:"error"`
	}
	if json.Unmarshal(body, &eb) == nil {
		se.Code, se.Message = truncate(eb.Error.Code, 100), truncate(eb.Error.Message, 300)
	}
	return se
}

// setHeaders sets what every call carries. The token goes only here.
func (c *Client) setHeaders(req *http.Request, accept string) {
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "acdbridge-source/1")
}

// get fetches one snapshot body: rate limited, with the per-request
// timeout, checked for status and content type. Errors are *StatusError,
// *PayloadError, or a transport failure.
func (c *Client) get(ctx context.Context, endpoint, target string) ([]byte, time.Time, error) {
	return c.getAt(ctx, endpoint, endpointPath(endpoint), target)
}

// getAt is get for a call whose path, for messages, is given (a session's
// path carries its id).
func (c *Client) getAt(ctx context.Context, endpoint, path, target string) ([]byte, time.Time, error) {
	var body []byte
	received, err := c.getWith(ctx, endpoint, path, target, func(r io.Reader) error {
		var err error
		body, err = io.ReadAll(r)
		return err
	})
	if err != nil {
		return nil, received, err
	}
	return body, received, nil
}

// getWith fetches one snapshot as get does, but hands a 200's body to
// decode as it arrives instead of reading it whole first. decode sees at
// most the payload limit; a failure of its reader (the connection cut, the
// per-request timeout) is returned as a transport failure, whatever decode
// made of it. A body over the limit is KindTooLarge whatever decode says.
func (c *Client) getWith(ctx context.Context, endpoint, path, target string, decode func(io.Reader) error) (time.Time, error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return time.Time{}, fmt.Errorf("GET %s: wait for the rate limit: %w", path, err)
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, target, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("GET %s: %w", path, err)
	}
	c.setHeaders(req, "application/json")
	start := time.Now()
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		c.m.duration.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
		c.m.requests.WithLabelValues(endpoint, "error").Inc()
		if rctx.Err() != nil && ctx.Err() == nil {
			return time.Time{}, fmt.Errorf("GET %s: the source did not answer within %s (Timeout): %w", path, c.cfg.Timeout, err)
		}
		return time.Time{}, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	at := "GET " + path
	readFailed := func(err error) error {
		if rctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("GET %s: the source did not send the whole answer within %s (Timeout): %w", path, c.cfg.Timeout, err)
		}
		return fmt.Errorf("GET %s: read the answer: %w", path, err)
	}
	var ctErr *PayloadError
	if resp.StatusCode == http.StatusOK {
		ctErr = checkContentType(resp.Header.Get("Content-Type"), "application/json", nil)
	}
	if resp.StatusCode != http.StatusOK || ctErr != nil {
		// An error status, or a 200 of the wrong type that may carry an
		// error body: read it whole, as small as it should be.
		body, err := readBody(resp, c.maxPayload)
		received := time.Now()
		c.m.duration.WithLabelValues(endpoint).Observe(received.Sub(start).Seconds())
		c.m.requests.WithLabelValues(endpoint, strconv.Itoa(resp.StatusCode)).Inc()
		if err != nil {
			return time.Time{}, readFailed(err)
		}
		if resp.StatusCode != http.StatusOK {
			return time.Time{}, statusError(path, resp, body)
		}
		if len(body) > c.maxPayload {
			return time.Time{}, &PayloadError{Kind: KindTooLarge, Where: at, Err: fmt.Errorf("expected at most %d bytes, got more", c.maxPayload)}
		}
		pe := checkContentType(resp.Header.Get("Content-Type"), "application/json", body)
		pe.Where = at
		return time.Time{}, pe
	}
	body := &countingReader{r: &readErr{r: io.LimitReader(resp.Body, int64(c.maxPayload)+1)}}
	derr := decode(body)
	if derr != nil {
		// Read what decode left (within the limit) to tell a body over
		// the limit from one that is merely bad.
		_, _ = io.Copy(io.Discard, body)
	}
	received := time.Now()
	c.m.duration.WithLabelValues(endpoint).Observe(received.Sub(start).Seconds())
	c.m.requests.WithLabelValues(endpoint, "200").Inc()
	if rerr := body.r.(*readErr).err; rerr != nil {
		return time.Time{}, readFailed(rerr)
	}
	if body.n > int64(c.maxPayload) {
		return time.Time{}, &PayloadError{Kind: KindTooLarge, Where: at, Err: fmt.Errorf("expected at most %d bytes, got more", c.maxPayload)}
	}
	if derr != nil {
		return time.Time{}, where(derr, at)
	}
	return received, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// checkContentType checks a 200's content type. A JSON error body sent with
// the wrong type is reported as the error body it is.
func checkContentType(got, want string, body []byte) *PayloadError {
	mt, _, err := mime.ParseMediaType(got)
	if err == nil && (mt == want || (want == "application/json" && strings.HasSuffix(mt, "+json"))) {
		return nil
	}
	var eb errorField
	if json.Unmarshal(bytes.TrimSpace(body), &eb) == nil {
		if err := eb.check(); err != nil {
			var pe *PayloadError
			if errors.As(err, &pe) {
				return pe
			}
		}
	}
	if got == "" {
		got = "none"
	}
	return &PayloadError{Kind: KindContentType, Err: fmt.Errorf("expected Content-Type %s, got %s", want, truncate(got, 100))}
}

// fetchAgents polls GET /v1/monitors/agents; rows is the size of the
// last table, 0 when there was none.
// The table is decoded as it arrives (decodeAgentsFrom), never held whole.
func (c *Client) fetchAgents(ctx context.Context, rows int) (agentsSnapshot, time.Time, error) {
	var s agentsSnapshot
	received, err := c.getWith(ctx, endpointAgents, pathAgents, c.agentsURL, func(r io.Reader) error {
		var err error
		// Room for the last table and a little more.
		s, err = decodeAgentsSized(r, rows+rows/8)
		return err
	})
	if err != nil {
		return agentsSnapshot{}, received, err
	}
	return s, received, nil
}

// fetchQueues polls GET /v1/monitors/queues.
func (c *Client) fetchQueues(ctx context.Context) (queuesSnapshot, time.Time, error) {
	body, received, err := c.get(ctx, endpointQueues, c.queuesURL)
	if err != nil {
		return queuesSnapshot{}, received, err
	}
	s, err := decodeQueues(body)
	return s, received, where(err, "GET "+pathQueues)
}

// where sets the place of a PayloadError.
func where(err error, w string) error {
	var pe *PayloadError
	if errors.As(err, &pe) && pe.Where == "" {
		pe.Where = w
	}
	return err
}

// readBody reads at most limit+1 bytes of the answer. With a
// Content-Length it reads into one buffer of that size: a 100,000-agent
// table is about 20 MB, and io.ReadAll's doubling would make about twice
// that in garbage on every poll.
func readBody(resp *http.Response, limit int) ([]byte, error) {
	r := io.LimitReader(resp.Body, int64(limit)+1)
	if n := resp.ContentLength; n > 0 && n <= int64(limit) {
		buf := make([]byte, n)
		k, err := io.ReadFull(r, buf)
		return buf[:k], err
	}
	return io.ReadAll(r)
}
