package rt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/acdbridge/acdbridge/adapters/internal/httpout"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// The REST2 calls the adapter makes (RT 5's RT::REST2):
//
//	POST /REST/2.0/ticket                 create: 201 {"id": "42", "type": "ticket", "_url": ...}
//	GET  /REST/2.0/tickets?query=TicketSQL search: 200 {"items": [{"id": "42", "Subject": ...}], ...}
//	GET  /REST/2.0/ticket/42/history      the newest transactions: is the session's comment there already?
//	POST /REST/2.0/ticket/42/comment      comment: 201 ["Comments added"]
//	PUT  /REST/2.0/ticket/42              update: 200 ["Ticket 42: Status changed from 'new' to 'resolved'"]
//	GET  /REST/2.0/ticket/42              the ticket, when an update's answer says nothing known
//
// Errors come as {"message": "..."} with a 4xx status; an update that RT
// refuses (an invalid status) comes as a 200 whose messages say so.

// maxBody bounds what is read of a response.
const maxBody = 1 << 20

// callError is a failed call, with whether trying again may help.
type callError struct {
	outcome sdk.Outcome
	msg     string
}

func (e *callError) Error() string { return e.msg }

func outcomeOf(err error) sdk.Outcome {
	var ce *callError
	if errors.As(err, &ce) {
		return ce.outcome
	}
	return sdk.Retryable
}

// do sends one request with a JSON body (nil: none) and decodes a 2xx
// answer's JSON into out (nil: not read). Other answers become a
// *callError.
func (a *Adapter) do(ctx context.Context, in *instance, method, path string, query url.Values, body, out any) error {
	u := *in.cfg.base
	u.Path += path
	if query != nil {
		u.RawQuery = query.Encode()
	}
	shown := method + " " + in.cfg.shownURL + "/REST/2.0/" + path
	var rd io.Reader
	if body != nil {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // "<grace@example.com>" as it is
		if err := enc.Encode(body); err != nil {
			return &callError{outcome: sdk.Permanent, msg: fmt.Sprintf("%s: encode the body: %v", shown, err)}
		}
		rd = &b
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return &callError{outcome: sdk.Permanent, msg: fmt.Sprintf("%s: %v", shown, err)}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if in.cfg.token != "" {
		req.Header.Set("Authorization", "token "+in.cfg.token)
	} else {
		req.SetBasicAuth(in.cfg.username, in.cfg.password)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return &callError{outcome: sdk.Retryable, msg: httpout.TransportError(ctx, shown, in.cfg.timeout, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return &callError{outcome: sdk.Retryable, msg: fmt.Sprintf("%s: reading the answer: %v", shown, err)}
	}
	if len(data) > maxBody {
		return &callError{outcome: sdk.Permanent, msg: fmt.Sprintf("%s: an answer over %d bytes: expected RT's JSON", shown, maxBody)}
	}
	code := resp.StatusCode
	status := fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	switch {
	case code >= 200 && code <= 299:
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return &callError{outcome: sdk.Permanent, msg: fmt.Sprintf("%s: %s with a body that is not the JSON RT answers (%v): %s; is url RT's address?", shown, status, err, httpout.Snippet(data))}
		}
		return nil
	case code >= 300 && code <= 399:
		msg := fmt.Sprintf("%s: %s, redirected", shown, status)
		if loc, err := resp.Location(); err == nil {
			msg += " to " + httpout.ShowURL(loc)
		}
		return &callError{outcome: sdk.Permanent, msg: msg + ": RT sends to its login page a request REST2 does not take; check that url is RT's address with its web path"}
	case httpout.Retryable(code):
		return &callError{outcome: sdk.Retryable, msg: fmt.Sprintf("%s: %s: %s", shown, status, rtMessage(data))}
	case code == http.StatusUnauthorized:
		return &callError{outcome: sdk.Permanent, msg: fmt.Sprintf("%s: %s: RT refused the credentials (%s); check token, or username and password", shown, status, rtMessage(data))}
	default:
		return &callError{outcome: sdk.Permanent, msg: fmt.Sprintf("%s: %s: %s", shown, status, rtMessage(data))}
	}
}

// rtMessage is the message of RT's error body {"message": "..."}, or the
// start of any other body.
func rtMessage(data []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		return httpout.Clean(e.Message)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return "no message"
	}
	return httpout.Snippet(data)
}

// rtID is a REST2 id: RT writes it as a string, sometimes as a number.
type rtID string

func (r *rtID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*r = rtID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("expected an id, a string or a number; got %s", b)
	}
	*r = rtID(n.String())
	return nil
}

func (r rtID) number() (int, error) {
	n, err := strconv.Atoi(string(r))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("expected a ticket number; got %q", string(r))
	}
	return n, nil
}

// createTicket creates t's ticket and returns its number.
func (a *Adapter) createTicket(ctx context.Context, in *instance, t newTicket) (int, error) {
	body := map[string]any{
		"Queue":       in.cfg.rtQueue(t.queue),
		"Subject":     t.subject,
		"Content":     t.body,
		"ContentType": "text/plain",
	}
	if t.requestor != "" {
		body["Requestor"] = t.requestor
	}
	if cf := t.customFields(in.cfg.customFields); len(cf) > 0 {
		body["CustomFields"] = cf
	}
	var created struct {
		ID rtID `json:"id"`
	}
	if err := a.do(ctx, in, http.MethodPost, "ticket", nil, body, &created); err != nil {
		return 0, err
	}
	n, err := created.ID.number()
	if err != nil {
		return 0, &callError{outcome: sdk.Permanent, msg: fmt.Sprintf("POST %s/REST/2.0/ticket: the answer's id: %v", in.cfg.shownURL, err)}
	}
	return n, nil
}

// findTicket is the oldest ticket whose subject carries tag, or 0.
func (a *Adapter) findTicket(ctx context.Context, in *instance, tag string) (int, error) {
	q := url.Values{
		"query":    {"Subject LIKE " + ticketSQLString(tag)},
		"fields":   {"Subject"},
		"orderby":  {"id"},
		"order":    {"ASC"},
		"per_page": {"100"},
	}
	var found struct {
		Items []struct {
			ID      rtID   `json:"id"`
			Subject string `json:"Subject"`
		} `json:"items"`
	}
	if err := a.do(ctx, in, http.MethodGet, "tickets", q, nil, &found); err != nil {
		return 0, err
	}
	// LIKE matches case-insensitively, and _ and % are wildcards in some
	// databases: the tag must be there exactly.
	for _, it := range found.Items {
		if strings.Contains(it.Subject, tag) {
			n, err := it.ID.number()
			if err != nil {
				return 0, &callError{outcome: sdk.Permanent, msg: fmt.Sprintf("GET %s/REST/2.0/tickets: %v", in.cfg.shownURL, err)}
			}
			return n, nil
		}
	}
	return 0, nil
}

// ticketSQLString quotes s for TicketSQL.
func ticketSQLString(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

// commented says whether ticket id has a comment titled subject already:
// a session delivered again (the bus delivers at least once), or a retry
// after a comment whose answer never came, must not comment twice. It reads
// the newest 100 transactions (REST2's largest page); an older comment is
// not looked for.
func (a *Adapter) commented(ctx context.Context, in *instance, id int, subject string) (bool, error) {
	q := url.Values{"fields": {"Type,Data"}, "orderby": {"id"}, "order": {"DESC"}, "per_page": {"100"}}
	var hist struct {
		Items []struct {
			Kind string `json:"type"` // "transaction"; declared, or it would fill Type
			Type string `json:"Type"`
			Data string `json:"Data"`
		} `json:"items"`
	}
	if err := a.do(ctx, in, http.MethodGet, fmt.Sprintf("ticket/%d/history", id), q, nil, &hist); err != nil {
		return false, err
	}
	for _, h := range hist.Items {
		if h.Type == "Comment" && strings.TrimSpace(h.Data) == subject {
			return true, nil
		}
	}
	return false, nil
}

// comment adds a plain-text comment to ticket id.
func (a *Adapter) comment(ctx context.Context, in *instance, id int, subject, text string) error {
	body := map[string]string{"Subject": subject, "Content": text, "ContentType": "text/plain"}
	return a.do(ctx, in, http.MethodPost, fmt.Sprintf("ticket/%d/comment", id), nil, body, nil)
}

// setStatus sets ticket id's status. RT answers an update with 200 and a
// list of messages, a refusal included; one that says nothing known (none:
// the status was already so; "Status changed from") is checked by reading
// the ticket back.
func (a *Adapter) setStatus(ctx context.Context, in *instance, id int, status string) error {
	path := fmt.Sprintf("ticket/%d", id)
	var msgs []string
	if err := a.do(ctx, in, http.MethodPut, path, nil, map[string]string{"Status": status}, &msgs); err != nil {
		return err
	}
	if len(msgs) == 0 || len(msgs) == 1 && strings.Contains(msgs[0], "Status changed from") {
		return nil
	}
	var t struct {
		Status string `json:"Status"`
	}
	if err := a.do(ctx, in, http.MethodGet, path, nil, nil, &t); err != nil {
		return err
	}
	if t.Status != status {
		return &callError{outcome: sdk.Permanent, msg: fmt.Sprintf("PUT %s/REST/2.0/%s: status %q refused: %s", in.cfg.shownURL, path, status, httpout.Clean(strings.Join(msgs, "; ")))}
	}
	return nil
}
