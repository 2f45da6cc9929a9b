package httpout

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestClientDoesNotFollowRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/new" {
			t.Error("the redirect was followed")
		}
		http.Redirect(w, r, "/new", http.StatusFound)
	}))
	defer srv.Close()
	c := Client(3 * time.Second)
	if c.Timeout != 3*time.Second || c.Transport == http.DefaultTransport {
		t.Fatalf("timeout %s, transport shared: %v", c.Timeout, c.Transport == http.DefaultTransport)
	}
	resp, err := c.Post(srv.URL+"/old", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/new" {
		t.Fatalf("%s %q", resp.Status, resp.Header.Get("Location"))
	}
}

func TestRetryable(t *testing.T) {
	for code, want := range map[int]bool{200: false, 204: false, 301: false, 400: false, 401: false, 404: false,
		408: true, 429: true, 500: true, 502: true, 503: true, 599: true} {
		if Retryable(code) != want {
			t.Errorf("%d: %v, want %v", code, !want, want)
		}
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestTransportError(t *testing.T) {
	ended, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("shutting down"))
	refused := &url.Error{Op: "Post", URL: "https://u:p@crm/x", Err: errors.New("connection refused")}
	for _, c := range []struct {
		ctx  context.Context
		err  error
		want string
	}{
		{ended, refused, "POST https://crm/x: the bridge's call ended before an answer came: shutting down"},
		{context.Background(), &url.Error{Op: "Post", URL: "https://u:p@crm/x", Err: timeoutError{}}, "POST https://crm/x: no answer within the timeout of 2s"},
		{context.Background(), refused, "POST https://crm/x: connection refused"},
	} {
		if got := TransportError(c.ctx, "POST https://crm/x", 2*time.Second, c.err); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
}

func TestShowURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://u:p@crm.example.com/x?key=1#f": "https://crm.example.com/x?…",
		"http://rt/rt":                          "http://rt/rt",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := ShowURL(u); got != want {
			t.Errorf("%s: %q, want %q", raw, got, want)
		}
	}
}

func TestSnippet(t *testing.T) {
	long := strings.Repeat("a", SnippetBytes)
	for body, want := range map[string]string{
		"":                 "",
		" one\r\ntwo\x00 ": "one  two",
		"bad \xff utf-8":   "bad � utf-8",
		long:               long,
		long + "b":         long + "…",
	} {
		if got := Snippet([]byte(body)); got != want {
			t.Errorf("%q: %q, want %q", body, got, want)
		}
	}
}
