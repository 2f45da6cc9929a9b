package source

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestNewValidatesConfig(t *testing.T) {
	good := func() Config { return Config{URL: "http://127.0.0.1:8089", Token: "t0k"} }
	for _, tc := range []struct {
		name   string
		change func(*Config)
		fields []string // the fields the errors must name; none: valid
		never  string   // a text no error may contain
	}{
		{name: "minimal", change: func(*Config) {}},
		{name: "https with a path prefix", change: func(c *Config) { c.URL = "https://rs.example.com/api/" }},
		{name: "every setting", change: func(c *Config) {
			*c = Config{URL: "http://h:1", Token: "x", Stream: true, PollInterval: time.Second, ReconcileInterval: time.Minute,
				Timeout: time.Second, StreamIdleTimeout: time.Minute, RateLimit: 0.5, Burst: 1, BackoffMin: time.Second, BackoffMax: time.Second}
		}},
		{name: "no URL", change: func(c *Config) { c.URL = "  " }, fields: []string{"URL"}},
		{name: "no scheme", change: func(c *Config) { c.URL = "127.0.0.1:8089" }, fields: []string{"URL"}},
		{name: "ftp", change: func(c *Config) { c.URL = "ftp://h/" }, fields: []string{"URL"}},
		{name: "no host", change: func(c *Config) { c.URL = "http:///v1" }, fields: []string{"URL"}},
		{name: "a query", change: func(c *Config) { c.URL = "http://h/?x=1" }, fields: []string{"URL"}},
		{name: "unparsable URL", change: func(c *Config) { c.URL = "http://h:port\x7f" }, fields: []string{"URL"}},
		{name: "password in the URL is not printed", change: func(c *Config) { c.URL = "ftp://user:hunter2@h/" }, fields: []string{"URL"}, never: "hunter2"},
		{name: "no token", change: func(c *Config) { c.Token = "" }, fields: []string{"Token"}},
		{name: "token with a newline is not printed", change: func(c *Config) { c.Token = "abc123\n" }, fields: []string{"Token"}, never: "abc123"},
		{name: "negative poll interval", change: func(c *Config) { c.PollInterval = -time.Second }, fields: []string{"PollInterval"}},
		{name: "negative reconcile interval", change: func(c *Config) { c.ReconcileInterval = -1 }, fields: []string{"ReconcileInterval"}},
		{name: "negative timeout", change: func(c *Config) { c.Timeout = -1 }, fields: []string{"Timeout"}},
		{name: "negative idle timeout", change: func(c *Config) { c.StreamIdleTimeout = -1 }, fields: []string{"StreamIdleTimeout"}},
		{name: "negative rate", change: func(c *Config) { c.RateLimit = -1 }, fields: []string{"RateLimit"}},
		{name: "NaN rate", change: func(c *Config) { c.RateLimit = math.NaN() }, fields: []string{"RateLimit"}},
		{name: "infinite rate", change: func(c *Config) { c.RateLimit = math.Inf(1) }, fields: []string{"RateLimit"}},
		{name: "negative burst", change: func(c *Config) { c.Burst = -5 }, fields: []string{"Burst"}},
		{name: "negative backoff", change: func(c *Config) { c.BackoffMin = -1 }, fields: []string{"BackoffMin"}},
		{name: "backoff min above max", change: func(c *Config) { c.BackoffMin, c.BackoffMax = time.Minute, time.Second }, fields: []string{"BackoffMax"}},
		{name: "min above the default max", change: func(c *Config) { c.BackoffMin = time.Hour }, fields: []string{"BackoffMax"}},
		{name: "several at once", change: func(c *Config) { c.URL, c.Token, c.Burst = "", "", -1 }, fields: []string{"URL", "Token", "Burst"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.change(&cfg)
			c, err := New(cfg, nil, nil)
			if len(tc.fields) == 0 {
				if err != nil || c == nil {
					t.Fatalf("New: %v, want a client", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New accepted a bad config")
			}
			for _, f := range tc.fields {
				if !strings.Contains(err.Error(), "source: "+f+": ") {
					t.Errorf("error %q does not name %s", err, f)
				}
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Message == "" {
				t.Errorf("error %v is not a *ConfigError with a message", err)
			}
			if !strings.Contains(err.Error(), "expected") {
				t.Errorf("error %q does not say what was expected", err)
			}
			if tc.never != "" && strings.Contains(err.Error(), tc.never) {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	hc := &http.Client{Timeout: time.Second}
	c, err := New(Config{URL: "http://h:1/base/", Token: "t", HTTPClient: hc}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := c.cfg
	want := Config{URL: got.URL, Token: "t", PollInterval: DefaultPollInterval, ReconcileInterval: DefaultReconcileInterval,
		Timeout: DefaultTimeout, StreamIdleTimeout: DefaultStreamIdleTimeout, RateLimit: DefaultRateLimit, Burst: DefaultBurst,
		BackoffMin: DefaultBackoffMin, BackoffMax: DefaultBackoffMax, HTTPClient: got.HTTPClient}
	if got != want {
		t.Errorf("config with defaults\n%+v\nwant\n%+v", got, want)
	}
	if got.HTTPClient == hc || got.HTTPClient.Timeout != 0 || hc.Timeout != time.Second {
		t.Errorf("the HTTP client's Timeout must be cleared on a copy, leaving the caller's alone")
	}
	if c.agentsURL != "http://h:1/base/v1/monitors/agents" || c.streamURL != "http://h:1/base/v1/monitors/stream" {
		t.Errorf("URLs %s, %s: the base path is lost", c.agentsURL, c.streamURL)
	}
	if s := c.State(); s.Mode != Down || s.LastError != nil || !s.LastSuccess.IsZero() {
		t.Errorf("state before Run %+v, want down and empty", s)
	}
}

func TestMetricsExistAtZeroAndSurviveASecondClient(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := Config{URL: "http://h:1", Token: "t"}
	c1, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range badKinds() {
		if v, ok := metricValue(reg, "bad_payloads_total", "kind", k); !ok || v != 0 {
			t.Errorf("bad_payloads_total{kind=%q}: %v, present %v; want 0 and present", k, v, ok)
		}
	}
	for _, e := range eventNames() {
		if _, ok := metricValue(reg, "stream_events_total", "event", e); !ok {
			t.Errorf("stream_events_total{event=%q} missing", e)
		}
	}
	for _, name := range []string{"stream_reconnects_total", "state", "last_success_timestamp_seconds"} {
		if _, ok := metricValue(reg, name); !ok {
			t.Errorf("%s missing", name)
		}
	}
	for _, e := range []string{"agents", "queues", "stream"} {
		if _, ok := metricValue(reg, "request_duration_seconds", "endpoint", e); !ok {
			t.Errorf("request_duration_seconds{endpoint=%q} missing", e)
		}
		if _, ok := metricValue(reg, "requests_total", "endpoint", e, "code", "200"); !ok {
			t.Errorf("requests_total{endpoint=%q,code=200} missing", e)
		}
	}
	// A second client on the same registry (a config reload) shares them.
	c2, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatalf("second New on the same registry: %v", err)
	}
	c2.m.bad.WithLabelValues(KindBadValue).Inc()
	if v := testutil.ToFloat64(c1.m.bad.WithLabelValues(KindBadValue)); v != 1 {
		t.Errorf("the clients do not share the registered counter: %v", v)
	}
	// A different collector under the same name is an error, not a panic.
	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "acdbridge_source_requests_total", Help: "x"}))
	if _, err := New(cfg, nil, clash); err == nil {
		t.Errorf("New on a registry with a clashing metric: no error")
	}
}

func TestRunRefusesMisuse(t *testing.T) {
	c, err := New(Config{URL: "http://127.0.0.1:1", Token: "t", BackoffMin: time.Hour, BackoffMax: time.Hour}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background(), nil); err == nil {
		t.Errorf("Run with a nil channel: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out := make(chan Update)
	go func() { done <- c.Run(ctx, out) }()
	waitFor(t, "the first attempt to fail", func() bool { return c.State().LastError != nil })
	if err := c.Run(ctx, out); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("a second Run at the same time: %v, want an error", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v on cancel, want nil", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Run did not return on cancel")
	}
}

func TestKindAndModeNames(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{Agents.String(), "agents"}, {Queues.String(), "queues"}, {AgentChanged.String(), "agent_changed"},
		{QueueChanged.String(), "queue_changed"}, {RequestEvent.String(), "request"}, {SessionEnded.String(), "session_ended"},
		{Heartbeat.String(), "heartbeat"}, {Kind(0).String(), "Kind(0)"},
		{Down.String(), "down"}, {Polling.String(), "polling"}, {Streaming.String(), "streaming"}, {Mode(9).String(), "Mode(9)"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
}

// TestDefaultClientKeepsConnections: the default HTTP client keeps as many
// idle connections to the source as concurrent downloads use.
func TestDefaultClientKeepsConnections(t *testing.T) {
	c, _, err := Config{URL: "http://127.0.0.1:8089", Token: "t"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := c.HTTPClient.Transport.(*http.Transport)
	if !ok || tr.MaxIdleConnsPerHost < 64 || tr.MaxIdleConns < tr.MaxIdleConnsPerHost || tr.Proxy == nil {
		t.Fatalf("default transport %+v: want at least 64 idle connections per host, the default transport's proxy settings kept", tr)
	}
}
