package webhook

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/acdbridge/acdbridge/adapters/internal/check"
	"github.com/acdbridge/acdbridge/adapters/internal/httpout"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Config is the webhook adapter's settings, as they come in the adapter
// block. Pointers tell an absent setting (its default) from an empty one (an
// error: an env() that came back empty should not pass for "unset").
type Config struct {
	// URL is where every payload is POSTed: an absolute http or https URL.
	URL string `json:"url"`
	// Secret, when set, signs every request (X-Acdbridge-Signature).
	Secret *string `json:"secret"`
	// Headers are extra request headers, such as an API key.
	Headers map[string]string `json:"headers"`
	// Timeout bounds each request: a Go duration, 100ms to 2m, default 10s.
	Timeout *string `json:"timeout"`
	// Send lists the kinds of payload to send; default all.
	Send []string `json:"send"`
}

// Timeout bounds and default.
const (
	DefaultTimeout = 10 * time.Second
	MinTimeout     = 100 * time.Millisecond
	MaxTimeout     = 2 * time.Minute
)

// kinds are the values of the send setting: the adapter's capabilities.
var kinds = []sdk.Capability{sdk.CapAvailability, sdk.CapRequests, sdk.CapSessions, sdk.CapAlerts}

// Header names the adapter sets itself.
const (
	headerEvent     = "X-Acdbridge-Event"
	headerDelivery  = "X-Acdbridge-Delivery"
	headerTimestamp = "X-Acdbridge-Timestamp"
	headerSignature = "X-Acdbridge-Signature"
	reservedPrefix  = "X-Acdbridge-"
)

// refusedHeaders are headers the headers setting may not set: the HTTP
// client or the adapter owns them. Every X-Acdbridge-* header is refused too.
var refusedHeaders = map[string]string{
	"Host":              "the URL decides it",
	"Content-Length":    "the HTTP client sets it from the body",
	"Content-Type":      "the adapter sets it to application/json",
	"Transfer-Encoding": "the HTTP client sets it",
	"Connection":        "the HTTP client manages connections",
	"User-Agent":        "the adapter sets it to " + userAgent,
}

var settings = []sdk.Setting{
	{Name: "url", Type: "string", Required: true, Description: "where to POST: an absolute http or https URL"},
	{Name: "secret", Type: "string", Secret: true, Description: "shared secret; when set every request is signed with HMAC-SHA256 (X-Acdbridge-Signature)"},
	{Name: "headers", Type: "map", Secret: true, Description: "extra request headers, such as an API key; values are never logged"},
	{Name: "timeout", Type: "duration", Description: "per request, 100ms to 2m (default 10s)"},
	{Name: "send", Type: "list", Description: `kinds to send: any of "availability", "requests", "sessions", "alerts" (default all)`},
}

// expectedType says, per setting, what a value of the wrong JSON type should
// have been, in the words of the config file rather than Go's.
var expectedType = map[string]string{
	"url":     `expected a URL string, like "https://crm.example.com/hooks/acdbridge"`,
	"secret":  "expected a string",
	"headers": `expected a map of header names to strings, like { "X-Api-Key" = env("CRM_API_KEY") }`,
	"timeout": `expected a duration string, like "10s"`,
	"send":    `expected a list of strings, like ["availability", "alerts"]`,
}

// settingsOf is a validated configuration, ready to deliver with.
type settingsOf struct {
	url      *url.URL
	shownURL string // without userinfo and query: safe to log and show
	secret   []byte // nil: requests are not signed
	headers  http.Header
	timeout  time.Duration
	send     map[sdk.Capability]bool
}

// parseConfig decodes and validates settings: every bad setting is a
// *sdk.FieldError, joined with errors.Join.
func parseConfig(s sdk.Settings) (settingsOf, error) {
	return check.Parse(s, "url, secret, headers, timeout, send", expectedType, Config.validate)
}

// Validate checks the settings; every bad one is a *sdk.FieldError.
func (c Config) Validate() error {
	_, err := c.validate()
	return err
}

func (c Config) validate() (settingsOf, error) {
	var e check.Errors
	fail := e.Fail
	out := settingsOf{timeout: DefaultTimeout, send: map[sdk.Capability]bool{}, headers: http.Header{}}

	u, err := checkURL(c.URL)
	if err != nil {
		fail("url", "%s", err)
	} else {
		out.url, out.shownURL = u, httpout.ShowURL(u)
	}

	if c.Secret != nil {
		if *c.Secret == "" {
			fail("secret", "expected a non-empty shared secret, or no secret setting to send unsigned requests; got an empty string (is the environment variable empty?)")
		} else {
			out.secret = []byte(*c.Secret)
		}
	}

	for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
		field := "headers." + name
		canon := http.CanonicalHeaderKey(name)
		switch {
		case !validHeaderName(name):
			fail(field, "expected a header name of letters, digits and !#$%%&'*+-.^_`|~; got %q", name)
		case refusedHeaders[canon] != "":
			fail(field, "expected a header the adapter does not set itself; got %s, which is refused: %s", canon, refusedHeaders[canon])
		case strings.HasPrefix(canon, reservedPrefix):
			fail(field, "expected a header the adapter does not set itself; got %s, and every %s* header is reserved for the adapter (event, delivery id, timestamp, signature)", canon, reservedPrefix)
		case out.headers.Get(canon) != "":
			fail(field, "expected each header once; got %s again, spelled differently", canon)
		case c.Headers[name] == "":
			fail(field, "expected a value; got an empty string (is the environment variable empty?)")
		case !validHeaderValue(c.Headers[name]):
			// The value is not shown: it may be a secret.
			fail(field, "expected a value without control characters such as line breaks; got one with them (the value is not shown: it may be a secret)")
		default:
			out.headers.Set(canon, c.Headers[name])
		}
	}

	if c.Timeout != nil {
		out.timeout = e.Duration("timeout", *c.Timeout, MinTimeout, MaxTimeout, DefaultTimeout)
	}

	switch {
	case c.Send == nil:
		for _, k := range kinds {
			out.send[k] = true
		}
	case len(c.Send) == 0:
		fail("send", "expected at least one of %s; got an empty list (to send nothing, remove the adapter block)", kindList())
	}
	for _, k := range c.Send {
		kind := sdk.Capability(k)
		switch {
		case !slices.Contains(kinds, kind):
			fail("send", "expected each of %s; got %q", kindList(), k)
		case out.send[kind]:
			fail("send", "expected each kind once; got %q twice", k)
		default:
			out.send[kind] = true
		}
	}
	if err := e.Err(); err != nil {
		return settingsOf{}, err
	}
	return out, nil
}

func kindList() string {
	q := make([]string, len(kinds))
	for i, k := range kinds {
		q[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(q, ", ")
}

// checkURL accepts an absolute http or https URL with a host. Its errors
// show the URL without userinfo, which may hold a password.
func checkURL(raw string) (*url.URL, error) {
	const want = `expected an absolute http or https URL, like "https://crm.example.com/hooks/acdbridge"`
	if raw == "" {
		return nil, errors.New(want + "; got nothing (url is required)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s; got one that does not parse: %v", want, httpout.WithoutURL(err))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		if u.Scheme == "" {
			return nil, fmt.Errorf("%s; got %q, without a scheme", want, httpout.ShowURL(u))
		}
		return nil, fmt.Errorf("%s; got the scheme %q", want, u.Scheme)
	case u.Opaque != "" || u.Host == "":
		return nil, fmt.Errorf("%s; got %q, without a host", want, httpout.ShowURL(u))
	case u.Hostname() == "":
		return nil, fmt.Errorf("%s; got %q, without a host name", want, httpout.ShowURL(u))
	case u.Fragment != "":
		return nil, fmt.Errorf("%s; got %q with a #fragment, which is never sent", want, httpout.ShowURL(u))
	}
	return u, nil
}

// validHeaderName is RFC 9110's token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters (tab aside), which would
// split or corrupt the request.
func validHeaderValue(s string) bool {
	for _, r := range s {
		if r < ' ' && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}
