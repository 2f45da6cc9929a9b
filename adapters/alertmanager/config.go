package alertmanager

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Config is the adapter's settings, as they come in the adapter block.
// Pointers tell an absent setting (its default) from an empty one.
type Config struct {
	// URLs are the Alertmanagers: every alert goes to each. Absolute http or
	// https URLs; /api/v2/alerts is added to each.
	URLs []string `json:"urls"`
	// GeneratorURL is the link in every alert: the bridge's dashboard.
	GeneratorURL *string `json:"generator_url"`
	// ResendInterval is how often firing alerts are sent again: 1s to 1h,
	// default 1m. Keep it below Alertmanager's resolve_timeout (5m).
	ResendInterval *string `json:"resend_interval"`
	// Timeout bounds each request: 100ms to 2m, default 10s.
	Timeout *string `json:"timeout"`
	// Labels are added to every alert; the alert's own labels win.
	Labels map[string]string `json:"labels"`
	// Username and Password: HTTP basic auth. BearerToken: Authorization:
	// Bearer. At most one of the two.
	Username    *string `json:"username"`
	Password    *string `json:"password"`
	BearerToken *string `json:"bearer_token"`
}

// Defaults and bounds.
const (
	DefaultGeneratorURL   = "http://127.0.0.1:8080/"
	DefaultResendInterval = time.Minute
	MinResendInterval     = time.Second
	MaxResendInterval     = time.Hour
	DefaultTimeout        = 10 * time.Second
	MinTimeout            = 100 * time.Millisecond
	MaxTimeout            = 2 * time.Minute
)

var settings = []sdk.Setting{
	{Name: "urls", Type: "list", Required: true, Description: "the Alertmanagers (every member of an HA cluster): absolute http or https URLs"},
	{Name: "generator_url", Type: "string", Description: "the link in every alert, the bridge's dashboard (default " + DefaultGeneratorURL + ")"},
	{Name: "resend_interval", Type: "duration", Description: "how often firing alerts are sent again, 1s to 1h (default 1m)"},
	{Name: "timeout", Type: "duration", Description: "per request, 100ms to 2m (default 10s)"},
	{Name: "labels", Type: "map", Description: "labels added to every alert"},
	{Name: "username", Type: "string", Description: "HTTP basic auth user"},
	{Name: "password", Type: "string", Secret: true, Description: "HTTP basic auth password"},
	{Name: "bearer_token", Type: "string", Secret: true, Description: "sent as Authorization: Bearer"},
}

var expectedType = map[string]string{
	"urls":            `expected a list of URLs, like ["http://127.0.0.1:9093"]`,
	"generator_url":   `expected a URL string, like "http://127.0.0.1:8080/"`,
	"resend_interval": `expected a duration string, like "1m"`,
	"timeout":         `expected a duration string, like "10s"`,
	"labels":          `expected a map of label names to strings, like { source = "acdbridge" }`,
	"username":        "expected a string",
	"password":        "expected a string",
	"bearer_token":    "expected a string",
}

// labelName is Prometheus's label name syntax.
var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// settingsOf is a validated configuration.
type settingsOf struct {
	urls      []*url.URL // each with /api/v2/alerts
	shown     []string   // the same, without userinfo and query: safe to log
	generator string
	resend    time.Duration
	timeout   time.Duration
	labels    map[string]string
	user      string
	password  string
	bearer    string
}

func parseConfig(s sdk.Settings) (settingsOf, error) {
	var c Config
	if err := s.Decode(&c); err != nil {
		var fe *sdk.FieldError
		if errors.As(err, &fe) {
			if strings.HasPrefix(fe.Message, "unknown setting") {
				fe.Message = fmt.Sprintf("expected one of urls, generator_url, resend_interval, timeout, labels, username, password, bearer_token; got the unknown setting %q", fe.Field)
			}
			if want, ok := expectedType[fe.Field]; ok && strings.HasPrefix(fe.Message, "expected ") {
				if _, got, ok := strings.Cut(fe.Message, ", got "); ok {
					fe.Message = want + "; got " + got
				}
			}
		}
		return settingsOf{}, err
	}
	return c.validate()
}

// Validate checks the settings; every bad one is a *sdk.FieldError.
func (c Config) Validate() error {
	_, err := c.validate()
	return err
}

func (c Config) validate() (settingsOf, error) {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, &sdk.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	out := settingsOf{generator: DefaultGeneratorURL, resend: DefaultResendInterval, timeout: DefaultTimeout, labels: map[string]string{}}
	if len(c.URLs) == 0 {
		fail("urls", `expected at least one Alertmanager URL, like ["http://127.0.0.1:9093"]; got none (urls is required)`)
	}
	seen := map[string]bool{}
	for i, raw := range c.URLs {
		u, err := checkURL(raw, false)
		if err != nil {
			fail(fmt.Sprintf("urls[%d]", i), "%s", err)
			continue
		}
		u = u.JoinPath("api", "v2", "alerts")
		if seen[u.String()] {
			fail(fmt.Sprintf("urls[%d]", i), "expected each Alertmanager once; got %s again", showURL(u))
			continue
		}
		seen[u.String()] = true
		out.urls = append(out.urls, u)
		out.shown = append(out.shown, showURL(u))
	}
	if c.GeneratorURL != nil {
		if _, err := checkURL(*c.GeneratorURL, true); err != nil { // a dashboard link may name a view (#alerts)
			fail("generator_url", "%s", err)
		} else {
			out.generator = *c.GeneratorURL
		}
	}
	duration := func(field string, s *string, lo, hi time.Duration, dst *time.Duration) {
		if s == nil {
			return
		}
		d, err := time.ParseDuration(*s)
		switch {
		case err != nil:
			fail(field, `expected a duration such as "10s" or "1m30s"; got %q`, *s)
		case d < lo || d > hi:
			fail(field, "expected a duration from %s to %s; got %s", lo, hi, *s)
		default:
			*dst = d
		}
	}
	duration("resend_interval", c.ResendInterval, MinResendInterval, MaxResendInterval, &out.resend)
	duration("timeout", c.Timeout, MinTimeout, MaxTimeout, &out.timeout)
	names := make([]string, 0, len(c.Labels))
	for k := range c.Labels {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		switch {
		case !labelName.MatchString(k) || strings.HasPrefix(k, "__"):
			fail("labels."+k, "expected a Prometheus label name (letters, digits and _, not starting with a digit or __); got %q", k)
		case k == "alertname":
			fail("labels.alertname", "expected a label the adapter does not set itself; alertname is the rule's name")
		case c.Labels[k] == "":
			fail("labels."+k, "expected a value; got an empty string (Alertmanager drops empty labels)")
		default:
			out.labels[k] = c.Labels[k]
		}
	}
	set := func(field string, p *string, dst *string) {
		if p == nil {
			return
		}
		if *p == "" {
			fail(field, "expected a non-empty value, or no %s setting; got an empty string (is the environment variable empty?)", field)
			return
		}
		*dst = *p
	}
	set("username", c.Username, &out.user)
	set("password", c.Password, &out.password)
	set("bearer_token", c.BearerToken, &out.bearer)
	switch {
	case (c.Username != nil) != (c.Password != nil):
		fail("password", "expected username and password together for basic auth; got only one of them")
	case out.bearer != "" && out.user != "":
		fail("bearer_token", "expected either basic auth (username, password) or bearer_token, not both")
	}
	if err := errors.Join(errs...); err != nil {
		return settingsOf{}, err
	}
	return out, nil
}

// checkURL accepts an absolute http or https URL with a host, and a
// #fragment only when fragment is true; its errors do not show userinfo.
func checkURL(raw string, fragment bool) (*url.URL, error) {
	const want = `expected an absolute http or https URL, like "http://127.0.0.1:9093"`
	if raw == "" {
		return nil, errors.New(want + "; got an empty string")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s; got one that does not parse: %v", want, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%s; got the scheme %q", want, u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%s; got %q, without a host", want, showURL(u))
	case u.Fragment != "" && !fragment:
		return nil, fmt.Errorf("%s; got %q with a #fragment", want, showURL(u))
	}
	return u, nil
}

// showURL is u without userinfo and query, which may hold credentials.
func showURL(u *url.URL) string {
	v := *u
	v.User = nil
	if v.RawQuery != "" {
		v.RawQuery = "…"
	}
	return v.String()
}
