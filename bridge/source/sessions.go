package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/monitors"
)

// The session calls' paths and metric labels.
const (
	pathSessions      = "/v1/sessions"
	endpointSessions  = "sessions"  // GET /v1/sessions
	endpointSession   = "session"   // GET /v1/sessions/{id}
	endpointRecording = "recording" // GET /v1/sessions/{id}/recording
)

// SessionQuery is a GET /v1/sessions call: the sessions that ended in
// [Since, Until), a page at a time. Zero values leave the source's
// defaults (until: now; since: a day before until; limit: 100).
type SessionQuery struct {
	Since, Until time.Time
	After        string // the previous page's Next
	Limit        int    // 1 to 1000
}

// SessionsPage is one page of ended sessions, oldest first.
type SessionsPage struct {
	Sessions []monitors.SessionSummary
	Next     string // empty on the last page
}

type wireSessionsPage struct {
	errorField
	Sessions *[]wireSession `json:"sessions"`
	Next     string         `json:"next"`
}

// ListSessions reads one page of ended sessions.
func (c *Client) ListSessions(ctx context.Context, q SessionQuery) (SessionsPage, error) {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if q.After != "" {
		v.Set("after", q.After)
	}
	if q.Limit != 0 {
		if q.Limit < 1 || q.Limit > 1000 {
			return SessionsPage{}, fmt.Errorf("GET %s: limit: expected 1 to 1000, got %d", pathSessions, q.Limit)
		}
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	u := c.baseURL().JoinPath(pathSessions)
	u.RawQuery = v.Encode()
	body, _, err := c.getAt(ctx, endpointSessions, pathSessions, u.String())
	if err != nil {
		return SessionsPage{}, c.rejected(err)
	}
	page, err := decodeSessionsPage(body, q.After)
	if err != nil {
		return SessionsPage{}, c.rejected(where(err, "GET "+pathSessions))
	}
	return page, nil
}

// decodeSessionsPage reads and checks a page of the sessions list asked
// for after the cursor after. A next cursor equal to after would list the
// same page forever: it is refused.
func decodeSessionsPage(body []byte, after string) (SessionsPage, error) {
	var w wireSessionsPage
	if err := unmarshal(body, &w); err != nil {
		return SessionsPage{}, err
	}
	if err := w.check(); err != nil {
		return SessionsPage{}, err
	}
	if w.Sessions == nil {
		return SessionsPage{}, badf(KindBadValue, "sessions: expected a list, got none")
	}
	if w.Next != "" && w.Next == after {
		return SessionsPage{}, badf(KindBadValue, "next: expected a cursor past this page's, got the one the page was asked for (%q)", truncate(w.Next, 80))
	}
	page := SessionsPage{Next: w.Next, Sessions: make([]monitors.SessionSummary, 0, len(*w.Sessions))}
	for i, ws := range *w.Sessions {
		s, err := convertSession(ws)
		if err != nil {
			return SessionsPage{}, prefix(err, "sessions[%d]", i)
		}
		page.Sessions = append(page.Sessions, s)
	}
	return page, nil
}

// The record's wire shape (SessionRecord in simulator/openapi.yaml).
type wireRecord struct {
	errorField
	wireSession
	Customer *struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"customer"`
	Fields     map[string]string `json:"fields"`
	Events     *[]wireEvent      `json:"events"`
	Resolution string            `json:"resolution"`
	Survey     *struct {
		Rating  int    `json:"rating"`
		Comment string `json:"comment"`
	} `json:"survey"`
	Recording *struct {
		Size   *int64 `json:"size"`
		SHA256 string `json:"sha256"`
		URL    string `json:"url"`
	} `json:"recording"`
	ReplayURL string `json:"replay_url"`
}

type wireEvent struct {
	At   time.Time `json:"at"`
	Type string    `json:"type"`
	From string    `json:"from"`
	To   string    `json:"to"`
	Text string    `json:"text"`
	File *struct {
		Name      string `json:"name"`
		Size      int64  `json:"size"`
		Direction string `json:"direction"`
	} `json:"file"`
	Diagnostics *struct {
		OS       string             `json:"os"`
		Hostname string             `json:"hostname"`
		MemoryMB int                `json:"memory_mb"`
		Software []archive.Software `json:"software"`
	} `json:"diagnostics"`
}

// Session reads an ended session's whole record. Raw keeps the body as
// sent. A record that breaks the contract (no id, an end before the start,
// an unknown resolution or event type, a rating outside 1 to 5, a bad
// sha256) is a *PayloadError; a session the source does not have ready is
// a *StatusError with 404 or 409 (NotReady says so).
func (c *Client) Session(ctx context.Context, id string) (archive.Session, error) {
	if id == "" {
		return archive.Session{}, errors.New("source: Session needs a session id, got none")
	}
	path := pathSessions + "/" + id
	body, _, err := c.getAt(ctx, endpointSession, path, c.baseURL().JoinPath(pathSessions, id).String())
	if err != nil {
		return archive.Session{}, c.rejected(err)
	}
	s, err := decodeRecord(body)
	if err != nil {
		return archive.Session{}, c.rejected(where(err, "GET "+path))
	}
	if s.ID != id {
		return archive.Session{}, c.rejected(&PayloadError{Kind: KindBadValue, Where: "GET " + path, Err: fmt.Errorf("id: expected %q, the session asked for, got %q", id, truncate(s.ID, 80))})
	}
	return s, nil
}

// decodeRecord reads and checks a session record.
func decodeRecord(body []byte) (archive.Session, error) {
	var w wireRecord
	if err := unmarshal(body, &w); err != nil {
		return archive.Session{}, err
	}
	if err := w.check(); err != nil {
		return archive.Session{}, err
	}
	sum, err := convertSession(w.wireSession)
	if err != nil {
		return archive.Session{}, err
	}
	id := sum.ID
	bad := func(kind, format string, args ...any) (archive.Session, error) {
		return archive.Session{}, badf(kind, "session %q: "+format, append([]any{id}, args...)...)
	}
	if w.StartedAt.IsZero() || w.EndedAt.IsZero() {
		return bad(KindBadValue, "expected started_at and ended_at, got %q and %q", w.StartedAt.Format(time.RFC3339), w.EndedAt.Format(time.RFC3339))
	}
	if sum.EndedAt.Before(sum.StartedAt) {
		return bad(KindBadValue, "ended_at %s is before started_at %s", sum.EndedAt.Format(time.RFC3339Nano), sum.StartedAt.Format(time.RFC3339Nano))
	}
	if w.Resolution != "resolved" && w.Resolution != "unresolved" {
		return bad(KindUnknownStatus, "resolution: expected resolved or unresolved, got %q", truncate(w.Resolution, 80))
	}
	if w.Events == nil {
		return bad(KindBadValue, "events: expected a list, got none")
	}
	if w.Recording == nil || w.Recording.Size == nil {
		return bad(KindBadValue, "recording: expected size, sha256 and url, got none")
	}
	if *w.Recording.Size < 0 {
		return bad(KindBadValue, "recording.size: expected 0 or more bytes, got %d", *w.Recording.Size)
	}
	if !isLowerHex64(w.Recording.SHA256) {
		return bad(KindBadValue, "recording.sha256: expected 64 lower-case hex digits, got %q", truncate(w.Recording.SHA256, 80))
	}
	s := archive.Session{
		ID: id, RequestID: sum.RequestID, AgentID: sum.AgentID, Queue: sum.Queue, ExternalRef: sum.ExternalRef,
		StartedAt: sum.StartedAt, EndedAt: sum.EndedAt, DurationSeconds: sum.DurationSeconds,
		Fields: w.Fields, Resolution: w.Resolution, ReplayURL: w.ReplayURL,
		Recording: archive.Recording{Size: *w.Recording.Size, SHA256: w.Recording.SHA256, URL: w.Recording.URL},
		Raw:       append([]byte(nil), body...),
	}
	if s.Fields == nil {
		s.Fields = map[string]string{}
	}
	if w.Customer != nil {
		s.CustomerName, s.CustomerEmail = w.Customer.Name, w.Customer.Email
	}
	if v := w.Survey; v != nil {
		if v.Rating < 1 || v.Rating > 5 {
			return bad(KindBadValue, "survey.rating: expected 1 to 5, got %d", v.Rating)
		}
		s.Survey = &archive.Survey{Rating: v.Rating, Comment: v.Comment}
	}
	s.Events = make([]archive.Event, 0, len(*w.Events))
	for i, we := range *w.Events {
		at, err := utc(fmt.Sprintf("events[%d].at", i), we.At)
		if err != nil {
			return archive.Session{}, prefix(err, "session %q", id)
		}
		if we.At.IsZero() {
			return bad(KindBadValue, "events[%d].at: expected a time, got none", i)
		}
		e := archive.Event{At: at, Type: we.Type, From: we.From, To: we.To, Text: we.Text}
		switch we.Type {
		case archive.EventChat, archive.EventReboot, archive.EventTransfer:
		case archive.EventFileTransfer:
			if we.File == nil {
				return bad(KindBadValue, "events[%d].file: expected the file of a file_transfer, got none", i)
			}
			if d := we.File.Direction; d != "to_customer" && d != "from_customer" {
				return bad(KindUnknownStatus, "events[%d].file.direction: expected to_customer or from_customer, got %q", i, truncate(d, 80))
			}
			if we.File.Size < 0 {
				return bad(KindBadValue, "events[%d].file.size: expected 0 or more bytes, got %d", i, we.File.Size)
			}
			e.File = &archive.File{Name: we.File.Name, Size: we.File.Size, Direction: we.File.Direction}
		case archive.EventDiagnostics:
			if we.Diagnostics == nil {
				return bad(KindBadValue, "events[%d].diagnostics: expected the diagnostics, got none", i)
			}
			g := we.Diagnostics
			if g.MemoryMB < 0 {
				return bad(KindBadValue, "events[%d].diagnostics.memory_mb: expected 0 or more, got %d", i, g.MemoryMB)
			}
			e.Diagnostics = &archive.Diagnostics{OS: g.OS, Hostname: g.Hostname, MemoryMB: g.MemoryMB, Software: g.Software}
		default:
			return bad(KindUnknownStatus, "events[%d].type: expected chat, file_transfer, diagnostics, reboot or transfer, got %q", i, truncate(we.Type, 80))
		}
		s.Events = append(s.Events, e)
	}
	// What no archive dialect keeps (a NUL, a key over 191 characters) is
	// refused here, alone, rather than failing a whole batch at Put.
	if err := s.Validate(); err != nil {
		return archive.Session{}, badf(KindBadValue, "%v", err)
	}
	return s, nil
}

func isLowerHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Recording opens the recording of a session from byte offset on (a Range
// request when offset > 0). resumed says whether the body starts at offset
// (206); false means the source sent the whole file from byte 0. The
// caller reads and closes the body; the call's Timeout does not apply to
// the body, which may be large, but ctx does.
func (c *Client) Recording(ctx context.Context, id string, offset int64) (body io.ReadCloser, resumed bool, err error) {
	if id == "" {
		return nil, false, errors.New("source: Recording needs a session id, got none")
	}
	path := pathSessions + "/" + id + "/recording"
	if err := c.limiter.Wait(ctx); err != nil {
		return nil, false, fmt.Errorf("GET %s: wait for the rate limit: %w", path, err)
	}
	// The headers within Timeout; the body as long as ctx allows.
	rctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(c.cfg.Timeout, cancel)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, c.baseURL().JoinPath(pathSessions, id, "recording").String(), nil)
	if err != nil {
		cancel()
		return nil, false, fmt.Errorf("GET %s: %w", path, err)
	}
	c.setHeaders(req, "application/octet-stream")
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	start := time.Now()
	resp, err := c.cfg.HTTPClient.Do(req)
	inTime := timer.Stop()
	c.m.duration.WithLabelValues(endpointRecording).Observe(time.Since(start).Seconds())
	if err != nil {
		cancel()
		c.m.requests.WithLabelValues(endpointRecording, "error").Inc()
		if !inTime && ctx.Err() == nil {
			return nil, false, fmt.Errorf("GET %s: the source did not answer within %s (Timeout): %w", path, c.cfg.Timeout, err)
		}
		return nil, false, fmt.Errorf("GET %s: %w", path, err)
	}
	body = cancelBody{resp.Body, cancel}
	c.m.requests.WithLabelValues(endpointRecording, strconv.Itoa(resp.StatusCode)).Inc()
	switch resp.StatusCode {
	case http.StatusOK:
		return body, false, nil
	case http.StatusPartialContent:
		if offset > 0 && strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(offset, 10)+"-") {
			return body, true, nil
		}
		body.Close()
		return nil, false, &PayloadError{Kind: KindBadValue, Where: "GET " + path, Err: fmt.Errorf("expected Content-Range bytes %d-…, got %q", offset, truncate(resp.Header.Get("Content-Range"), 80))}
	}
	defer body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return nil, false, statusError(path, resp, b)
}

// cancelBody ends the request's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// rejected counts a payload that broke the contract and passes err on.
func (c *Client) rejected(err error) error {
	var pe *PayloadError
	if errors.As(err, &pe) {
		c.m.bad.WithLabelValues(pe.Kind).Inc()
	}
	return err
}

// baseURL is the source's base URL, checked by New.
func (c *Client) baseURL() *url.URL {
	u, _ := url.Parse(strings.TrimSuffix(c.agentsURL, pathAgents))
	return u
}

// NotReady says whether err is the source not having a session's record
// or recording (yet): 404 (not known yet, or gone) or 409 (still running).
func NotReady(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.Status == http.StatusNotFound || se.Status == http.StatusConflict)
}

// Permanent says whether retrying err cannot help until the configuration
// changes: the source refused the token.
func Permanent(err error) bool { return unauthorized(err) }

// RetryWait is how long to wait before attempt n+1 (n ≥ 1 failures so
// far): what the source asked for with err (Retry-After), else exponential
// backoff with full jitter between lo and hi, as the client's own.
func RetryWait(err error, n int, lo, hi time.Duration) time.Duration {
	if d := retryAfterOf(err); d > 0 {
		return min(d, maxRetryAfter)
	}
	b := backoff{min: lo, max: hi, failures: n - 1}
	return b.next()
}
