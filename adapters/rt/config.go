package rt

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/acdbridge/acdbridge/adapters/internal/check"
	"github.com/acdbridge/acdbridge/adapters/internal/httpout"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Config is the rt adapter's settings, as they come in the adapter block.
// Pointers tell an absent setting (its default) from an empty one (an
// error: an env() that came back empty should not pass for "unset").
type Config struct {
	// URL is RT's web address, its web path included, like
	// "https://rt.example.com/rt"; REST2 is under URL + "/REST/2.0/".
	URL string `json:"url"`
	// Token is an RT auth token: "Authorization: token ...".
	Token *string `json:"token"`
	// Username and Password are for basic authentication instead.
	Username *string `json:"username"`
	Password *string `json:"password"`
	// Queue is the RT queue for requests of a queue Queues does not map
	// (default "General").
	Queue *string `json:"queue"`
	// Queues maps a remote-support queue (and its sub-queues) to an RT queue.
	Queues map[string]string `json:"queues"`
	// CustomFields maps a request field to an RT custom field.
	CustomFields map[string]string `json:"custom_fields"`
	// Status maps a session's resolution to the ticket's new status.
	Status map[string]string `json:"status"`
	// TicketRef is a regular expression an external_ref must match to name
	// a ticket of this RT; its first group is the ticket's number.
	TicketRef *string `json:"ticket_ref"`
	// Timeout bounds each request: a Go duration, 1s to 2m, default 15s.
	Timeout *string `json:"timeout"`
}

// Defaults and bounds.
const (
	DefaultQueue     = "General"
	DefaultTicketRef = `^#?([0-9]+)$`
	DefaultTimeout   = 15 * time.Second
	MinTimeout       = time.Second
	MaxTimeout       = 2 * time.Minute
)

// DefaultStatus is the status setting's default: the ticket's new status by
// the session's resolution.
var DefaultStatus = map[string]string{"resolved": "resolved", "unresolved": "open"}

// builtinFields are the names custom_fields may map besides the request's
// own fields.
var builtinFields = []string{"request_id", "queue", "name", "email", "problem"}

var settings = []sdk.Setting{
	{Name: "url", Type: "string", Required: true, Description: `RT's web address with its web path, like "https://rt.example.com/rt"`},
	{Name: "token", Type: "string", Secret: true, Description: "an RT auth token (Authorization: token ...); or username and password"},
	{Name: "username", Type: "string", Description: "for basic authentication, with password"},
	{Name: "password", Type: "string", Secret: true, Description: "for basic authentication, with username"},
	{Name: "queue", Type: "string", Description: `the RT queue for requests of a queue not in queues (default "General")`},
	{Name: "queues", Type: "map", Description: "remote-support queue (and its sub-queues) → RT queue"},
	{Name: "custom_fields", Type: "map", Description: "request field (or request_id, queue, name, email, problem) → RT custom field"},
	{Name: "status", Type: "map", Description: `resolution → ticket status (default resolved = "resolved", unresolved = "open"; "" leaves it)`},
	{Name: "ticket_ref", Type: "string", Description: "regular expression an external_ref matches when it names a ticket of this RT; group 1 is the number (default ^#?([0-9]+)$)"},
	{Name: "timeout", Type: "duration", Description: "per request, 1s to 2m (default 15s)"},
}

// expectedType says, per setting, what a value of the wrong JSON type should
// have been, in the words of the config file.
var expectedType = map[string]string{
	"url":           `expected a URL string, like "https://rt.example.com/rt"`,
	"token":         "expected a string",
	"username":      "expected a string",
	"password":      "expected a string",
	"queue":         `expected an RT queue's name, like "General"`,
	"queues":        `expected a map of remote-support queues to RT queues, like { "support/printers" = "Printers" }`,
	"custom_fields": `expected a map of request fields to RT custom fields, like { serial_number = "Serial number" }`,
	"status":        `expected a map of resolutions to statuses, like { resolved = "resolved", unresolved = "open" }`,
	"ticket_ref":    "expected a regular expression string",
	"timeout":       `expected a duration string, like "15s"`,
}

// settingsOf is a validated configuration.
type settingsOf struct {
	base         *url.URL // REST2's root: URL + /REST/2.0/
	shownURL     string   // RT's URL without userinfo and query: safe to log
	token        string
	username     string
	password     string
	queue        string
	queues       map[string]string
	customFields map[string]string
	status       map[string]string
	ticketRef    *regexp.Regexp
	timeout      time.Duration
}

// parseConfig decodes and validates settings: every bad setting is a
// *sdk.FieldError, joined with errors.Join.
func parseConfig(s sdk.Settings) (settingsOf, error) {
	return check.Parse(s, "url, token, username, password, queue, queues, custom_fields, status, ticket_ref, timeout", expectedType, Config.validate)
}

// Validate checks the settings; every bad one is a *sdk.FieldError.
func (c Config) Validate() error {
	_, err := c.validate()
	return err
}

func (c Config) validate() (settingsOf, error) {
	var e check.Errors
	fail := e.Fail
	out := settingsOf{queue: DefaultQueue, queues: map[string]string{}, customFields: map[string]string{},
		status: map[string]string{}, timeout: DefaultTimeout}

	if u, err := checkURL(c.URL); err != nil {
		fail("url", "%s", err)
	} else {
		out.shownURL = httpout.ShowURL(u)
		b := *u
		b.Path = strings.TrimSuffix(b.Path, "/") + "/REST/2.0/"
		b.RawPath = ""
		out.base = &b
	}

	nonEmpty := func(field string, v *string, what string) string {
		if v == nil {
			return ""
		}
		if *v == "" {
			fail(field, "expected %s; got an empty string (is the environment variable empty?)", what)
		}
		return *v
	}
	out.token = nonEmpty("token", c.Token, "an RT auth token")
	out.username = nonEmpty("username", c.Username, "an RT user name")
	out.password = nonEmpty("password", c.Password, "the RT user's password")
	switch {
	case c.Token != nil && (c.Username != nil || c.Password != nil):
		fail("token", "expected either token or username and password; got both")
	case c.Token == nil && c.Username == nil && c.Password == nil:
		fail("token", "expected token, or username and password: RT's REST2 API needs one of them; got neither")
	case c.Token == nil && c.Username == nil:
		fail("username", "expected a username with the password; got none")
	case c.Token == nil && c.Password == nil:
		fail("password", "expected a password with the username; got none")
	}

	if c.Queue != nil {
		out.queue = *c.Queue
		if strings.TrimSpace(*c.Queue) == "" {
			fail("queue", "expected an RT queue's name, like %q; got an empty string", DefaultQueue)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Queues)) {
		switch {
		case k == "" || strings.HasPrefix(k, "/") || strings.HasSuffix(k, "/"):
			fail("queues", "expected remote-support queue ids like \"support/printers\" as keys; got %q", k)
		case strings.TrimSpace(c.Queues[k]) == "":
			fail("queues."+k, "expected an RT queue's name; got an empty string")
		default:
			out.queues[k] = c.Queues[k]
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.CustomFields)) {
		switch {
		case k == "":
			fail("custom_fields", "expected request field names as keys; got an empty one")
		case strings.TrimSpace(c.CustomFields[k]) == "":
			fail("custom_fields."+k, "expected an RT custom field's name; got an empty string")
		default:
			out.customFields[k] = c.CustomFields[k]
		}
	}
	for r, s := range DefaultStatus {
		out.status[r] = s
	}
	for _, k := range slices.Sorted(maps.Keys(c.Status)) {
		if _, ok := DefaultStatus[k]; !ok {
			fail("status", "expected the resolutions \"resolved\" and \"unresolved\" as keys; got %q", k)
			continue
		}
		out.status[k] = c.Status[k] // "" leaves the status alone
	}

	ref := DefaultTicketRef
	if c.TicketRef != nil {
		ref = *c.TicketRef
	}
	if re, err := regexp.Compile(ref); err != nil {
		fail("ticket_ref", "expected a regular expression; got %q: %v", ref, err)
	} else if re.NumSubexp() < 1 {
		fail("ticket_ref", "expected a regular expression with a group for the ticket's number, like %q; got %q, without one", DefaultTicketRef, ref)
	} else {
		out.ticketRef = re
	}

	if c.Timeout != nil {
		out.timeout = e.Duration("timeout", *c.Timeout, MinTimeout, MaxTimeout, DefaultTimeout)
	}
	if err := e.Err(); err != nil {
		return settingsOf{}, err
	}
	return out, nil
}

// rtQueue is the RT queue for a remote-support queue: the mapping of the
// queue itself, else of its nearest parent (support/printers, then
// support), else the default.
func (s settingsOf) rtQueue(queue string) string {
	for q := queue; q != ""; {
		if v, ok := s.queues[q]; ok {
			return v
		}
		i := strings.LastIndex(q, "/")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	return s.queue
}

// checkURL accepts an absolute http or https URL with a host, without
// userinfo (credentials go in token or username and password), query or
// fragment.
func checkURL(raw string) (*url.URL, error) {
	const want = `expected RT's absolute http or https URL with its web path, like "https://rt.example.com/rt"`
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
	case u.Opaque != "" || u.Hostname() == "":
		return nil, fmt.Errorf("%s; got %q, without a host", want, httpout.ShowURL(u))
	case u.User != nil:
		return nil, fmt.Errorf("%s; got one with user:password@, which is not used: set token, or username and password", want)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%s; got %q with a query or #fragment", want, httpout.ShowURL(u))
	case strings.Contains(u.Path, "/REST/"):
		return nil, fmt.Errorf("%s; got %q, which already names the REST API: give RT's own URL, the adapter adds /REST/2.0", want, httpout.ShowURL(u))
	}
	return u, nil
}
