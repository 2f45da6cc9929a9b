// Package httpout holds what the HTTP-calling adapters (rt, webhook) share
// about a call and its answer: which statuses are worth another try, why no
// answer came, the start of a body on one line, and a URL in the form safe
// to log. It imports only plugins/sdk and the standard library.
package httpout

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// SnippetBytes bounds how much of a body a message quotes.
const SnippetBytes = 200

// Client is a client of its own (connections are not shared with another
// instance) with timeout for each request, that does not follow
// redirects: a redirect is the answer, for the caller to word (a followed
// POST becomes a GET, and headers would go to another host).
func Client(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Retryable says whether an answer with this status may succeed when sent
// again: 408, 429 and 5xx. 2xx is done, and 3xx and other 4xx are the
// caller's to word.
func Retryable(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// TransportError says why no answer came to the call shown ("POST
// https://crm.example.com/hooks"): the bridge's context ended, the timeout
// passed, or the error, without the URL it quotes (which may hold a
// password).
func TransportError(ctx context.Context, shown string, timeout time.Duration, err error) string {
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		return fmt.Sprintf("%s: the bridge's call ended before an answer came: %v", shown, context.Cause(ctx))
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("%s: no answer within the timeout of %s", shown, timeout)
	}
	return fmt.Sprintf("%s: %v", shown, WithoutURL(err))
}

// WithoutURL is a *url.Error's reason, without the URL it quotes.
func WithoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// ShowURL is u without userinfo, fragment and query (shown as "…"), which
// may hold credentials: the form that goes into logs, health and messages.
func ShowURL(u *url.URL) string {
	v := *u
	v.User = nil
	v.Fragment, v.RawFragment = "", ""
	if v.RawQuery != "" {
		v.RawQuery = "…"
	}
	return v.String()
}

// Snippet is the start of body, up to SnippetBytes, on one line; "…" marks
// that more came.
func Snippet(body []byte) string {
	s := Clean(string(body[:min(len(body), SnippetBytes)]))
	if len(body) > SnippetBytes {
		s += "…"
	}
	return s
}

// Clean makes text fit on one line of a message: valid UTF-8, control
// characters as spaces, no surrounding space.
func Clean(s string) string {
	s = strings.ToValidUTF8(s, "�")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}
