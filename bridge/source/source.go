package source

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/acdbridge/acdbridge/monitors"
)

// Kind says what an Update carries.
type Kind int

// The kinds of Update.
const (
	Agents       Kind = iota + 1 // a full agent table (a poll, or a stream reset)
	Queues                       // a full queue table
	AgentChanged                 // one agent, from the stream
	QueueChanged                 // one queue, from the stream
	RequestEvent                 // a request event from the stream
	SessionEnded                 // a session_ended event from the stream
	Heartbeat                    // the source is alive (stream heartbeat), nothing changed
)

func (k Kind) String() string {
	switch k {
	case Agents:
		return "agents"
	case Queues:
		return "queues"
	case AgentChanged:
		return "agent_changed"
	case QueueChanged:
		return "queue_changed"
	case RequestEvent:
		return "request"
	case SessionEnded:
		return "session_ended"
	case Heartbeat:
		return "heartbeat"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Update is one thing the client learned, in the order learned.
//
// A stream queue event carries no as_of, yet its longest_wait_seconds is
// the source's figure at the moment of the event. Its Queue.AsOf is
// therefore an estimate of the source's clock when the event arrived: the
// last as_of seen (a table, reset or heartbeat) plus the wall time since.
// It only matters to Queue.LongestWaitAt for a queue without
// OldestRequestAt.
type Update struct {
	Kind     Kind
	Seq      uint64    // the stream event id, or the snapshot's "sequence"
	AsOf     time.Time // the source's as_of (snapshots, resets, heartbeats); zero otherwise
	Received time.Time // when the client received it (wall clock)
	// Authoritative marks a full table that replaces everything regardless
	// of sequence numbers: a stream reset, a poll whose sequence went
	// backwards (the source restarted), and the first tables of each Run
	// (a new Run cannot know what the consumer holds).
	Authoritative bool
	AgentList     []monitors.Agent        // Agents
	QueueList     []monitors.Queue        // Queues
	Agent         monitors.Agent          // AgentChanged
	Queue         monitors.Queue          // QueueChanged; AsOf estimated (below)
	Request       monitors.Request        // RequestEvent
	Session       monitors.SessionSummary // SessionEnded
}

// Mode is how the client follows the source.
type Mode int

// The modes, in the order of the state gauge's values.
const (
	Down      Mode = iota // the last attempt to reach the source failed and no stream is open
	Polling               // polls succeed; no stream (stream off, or down and being retried)
	Streaming             // the event stream is open
)

func (m Mode) String() string {
	switch m {
	case Down:
		return "down"
	case Polling:
		return "polling"
	case Streaming:
		return "streaming"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// State is the client's health, for readiness checks and the dashboard.
type State struct {
	Mode Mode
	// LastError is the most recent failure; it stays after recovery, so
	// compare LastErrorAt with LastSuccess.
	LastError   error
	LastErrorAt time.Time
	// LastSuccess is when the last good snapshot or stream event
	// (heartbeats included) arrived; zero before the first.
	LastSuccess time.Time
}

// Client reads the Remote Support API v1. Make one with New, then call Run.
type Client struct {
	cfg       Config
	agentsURL string
	queuesURL string
	streamURL string
	log       hclog.Logger
	limited   *limitedLogger
	m         *metrics
	limiter   *rate.Limiter
	// maxPayload bounds a snapshot body and a stream event (tests lower it).
	maxPayload int

	running atomic.Bool

	mu    sync.Mutex
	state State
}

// New checks cfg, fills in its defaults and builds a client; it does no
// I/O. Errors name the Config field. logger may be nil (no logs); reg may
// be nil (metrics kept but not registered).
func New(cfg Config, logger hclog.Logger, reg prometheus.Registerer) (*Client, error) {
	cfg, base, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	log := logger.Named("source")
	c := &Client{
		cfg:       cfg,
		agentsURL: base.JoinPath(pathAgents).String(),
		queuesURL: base.JoinPath(pathQueues).String(),
		streamURL: base.JoinPath(pathStream).String(),
		log:       log,
		limited:   newLimitedLogger(log),
		m:         m,
		limiter:   rate.NewLimiter(rate.Limit(cfg.RateLimit), cfg.Burst),

		maxPayload: maxPayloadBytes,
	}
	m.state.Set(float64(Down))
	return c, nil
}

// The calls of the Remote Support API v1 the client makes.
const (
	pathAgents = "/v1/monitors/agents"
	pathQueues = "/v1/monitors/queues"
	pathStream = "/v1/monitors/stream"
)

// State returns the client's health now.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *Client) setMode(m Mode) {
	c.mu.Lock()
	changed := c.state.Mode != m
	c.state.Mode = m
	c.mu.Unlock()
	c.m.state.Set(float64(m))
	if changed {
		// Limited: a stream that is cut again and again flips the mode
		// as often.
		c.limited.Log(hclog.Info, "mode:"+m.String(), "source mode changed", "mode", m.String())
	}
}

func (c *Client) setError(err error) {
	c.mu.Lock()
	c.state.LastError, c.state.LastErrorAt = err, time.Now()
	c.mu.Unlock()
}

func (c *Client) setSuccess(t time.Time) {
	c.mu.Lock()
	c.state.LastSuccess = t
	c.mu.Unlock()
	c.m.lastSuccess.Set(float64(t.UnixNano()) / 1e9)
}

// Run follows the source until ctx ends, sending what it learns to out in
// order. It returns nil when ctx ends; an error only when it cannot run at
// all. Sends block: a consumer that stops reading stalls the client (the
// source then drops the stream, and a reset brings the client back).
func (c *Client) Run(ctx context.Context, out chan<- Update) error {
	if out == nil {
		return errors.New("source: Run needs an output channel, got nil")
	}
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("source: Run is already running on this client; expected one Run at a time")
	}
	defer c.running.Store(false)
	c.log.Info("following the source", "url", redactURL(c.cfg.URL), "stream", c.cfg.Stream,
		"poll_interval", c.cfg.PollInterval, "reconcile_interval", c.cfg.ReconcileInterval)
	r := newRunner(c, out)
	defer r.stop()
	r.run(ctx)
	c.setMode(Down)
	return nil
}

// endpointPath maps an endpoint label to its path, for messages.
func endpointPath(endpoint string) string {
	switch endpoint {
	case endpointAgents:
		return pathAgents
	case endpointQueues:
		return pathQueues
	}
	return pathStream
}
