package source

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults for the settings left at zero.
const (
	DefaultPollInterval      = 10 * time.Second
	DefaultReconcileInterval = 60 * time.Second
	DefaultTimeout           = 10 * time.Second
	DefaultStreamIdleTimeout = 45 * time.Second // 3 × the source's default 15 s heartbeat
	DefaultRateLimit         = 10.0
	DefaultBurst             = 5
	DefaultBackoffMin        = 500 * time.Millisecond
	DefaultBackoffMax        = 30 * time.Second
)

// maxPayloadBytes bounds a snapshot body and a single stream event. A reset
// carries the whole state, about 250 bytes per agent: 256 MiB leaves room
// for the 100,000 agents the design plans for, many times over.
const maxPayloadBytes = 256 << 20

// Config is the client's settings. The zero value of a duration, rate or
// burst means its default.
type Config struct {
	URL               string        // base URL, e.g. http://127.0.0.1:8089; a path prefix is kept
	Token             string        // bearer token; never logged
	Stream            bool          // use SSE; false: poll only
	PollInterval      time.Duration // polling period when not streaming (default 10s)
	ReconcileInterval time.Duration // full poll even while streaming (default 60s)
	Timeout           time.Duration // per request, body included (default 10s); not applied to the stream
	// StreamIdleTimeout closes a stream that sent nothing (not even a
	// heartbeat) this long; default 45s, 3× the source's heartbeat.
	StreamIdleTimeout time.Duration
	RateLimit         float64       // requests per second toward the source (default 10)
	Burst             int           // default 5
	BackoffMin        time.Duration // exponential backoff with full jitter (default 500ms)
	BackoffMax        time.Duration // default 30s
	// HTTPClient is optional. The client uses a copy with Timeout cleared:
	// a client-wide timeout would cut the long-lived stream; Timeout and
	// StreamIdleTimeout apply instead.
	HTTPClient *http.Client
}

// ConfigError is one setting that is wrong. Field is the Config field's
// name, so that a config loader can point at the attribute in its file.
type ConfigError struct {
	Field   string
	Message string // what was expected and what came
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("source: %s: %s", e.Field, e.Message)
}

// withDefaults checks cfg and fills in the defaults. The error joins one
// *ConfigError per wrong field.
func (cfg Config) withDefaults() (Config, *url.URL, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	var base *url.URL
	switch u, err := url.Parse(strings.TrimSpace(cfg.URL)); {
	case strings.TrimSpace(cfg.URL) == "":
		bad("URL", "expected the source's base URL, e.g. http://127.0.0.1:8089, got nothing")
	case err != nil:
		bad("URL", "expected a URL such as http://127.0.0.1:8089, got one that does not parse: %v", errors.Unwrap(err))
	case u.Scheme != "http" && u.Scheme != "https":
		bad("URL", "expected an http:// or https:// URL, got %q", redactURL(cfg.URL))
	case u.Host == "":
		bad("URL", "expected a host in the URL, e.g. http://127.0.0.1:8089, got %q", redactURL(cfg.URL))
	case u.RawQuery != "" || u.Fragment != "":
		bad("URL", "expected a base URL without query or fragment, got %q", redactURL(cfg.URL))
	default:
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawPath = ""
		base = u
	}

	switch {
	case cfg.Token == "":
		bad("Token", "expected the source's bearer token, got nothing (the source answers 401 without one)")
	case strings.TrimSpace(cfg.Token) != cfg.Token || strings.ContainsFunc(cfg.Token, func(r rune) bool { return r < 0x21 || r == 0x7f }):
		// The token itself is never printed.
		bad("Token", "expected a token without spaces or control characters (a stray newline from a file?), got one with them")
	}

	duration := func(field string, d *time.Duration, def time.Duration) {
		switch {
		case *d == 0:
			*d = def
		case *d < 0:
			bad(field, "expected a positive duration (or 0 for the default %s), got %s", def, *d)
		}
	}
	duration("PollInterval", &cfg.PollInterval, DefaultPollInterval)
	duration("ReconcileInterval", &cfg.ReconcileInterval, DefaultReconcileInterval)
	duration("Timeout", &cfg.Timeout, DefaultTimeout)
	duration("StreamIdleTimeout", &cfg.StreamIdleTimeout, DefaultStreamIdleTimeout)
	duration("BackoffMin", &cfg.BackoffMin, DefaultBackoffMin)
	duration("BackoffMax", &cfg.BackoffMax, DefaultBackoffMax)
	if cfg.BackoffMin > 0 && cfg.BackoffMax > 0 && cfg.BackoffMin > cfg.BackoffMax {
		bad("BackoffMax", "expected at least BackoffMin (%s), got %s", cfg.BackoffMin, cfg.BackoffMax)
	}

	switch {
	case cfg.RateLimit == 0:
		cfg.RateLimit = DefaultRateLimit
	case math.IsNaN(cfg.RateLimit) || math.IsInf(cfg.RateLimit, 0) || cfg.RateLimit < 0:
		bad("RateLimit", "expected requests per second above 0 (or 0 for the default %g), got %g", DefaultRateLimit, cfg.RateLimit)
	}
	switch {
	case cfg.Burst == 0:
		cfg.Burst = DefaultBurst
	case cfg.Burst < 0:
		bad("Burst", "expected 1 or more requests (or 0 for the default %d), got %d", DefaultBurst, cfg.Burst)
	}

	if cfg.HTTPClient == nil {
		// One host, many calls at once (session downloads run 8 to 64
		// at a time): keep that many connections open rather than the
		// default transport's 2, which closed the rest after each call
		// and left thousands of sockets in TIME_WAIT during a backfill.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns, t.MaxIdleConnsPerHost = idleConns, idleConns
		cfg.HTTPClient = &http.Client{Transport: t}
	} else {
		hc := *cfg.HTTPClient
		hc.Timeout = 0
		cfg.HTTPClient = &hc
	}
	return cfg, base, errors.Join(errs...)
}

// idleConns is how many connections to the source the default HTTP
// client keeps open between calls.
const idleConns = 128

// redactURL hides a password in a URL before it is printed.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
