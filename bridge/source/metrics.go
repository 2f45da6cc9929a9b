package source

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Endpoint labels of the request metrics.
const (
	endpointAgents = "agents"
	endpointQueues = "queues"
	endpointStream = "stream"
)

// metrics are the client's Prometheus metrics, namespace acdbridge,
// subsystem source.
type metrics struct {
	requests    *prometheus.CounterVec   // endpoint, code
	duration    *prometheus.HistogramVec // endpoint
	reconnects  prometheus.Counter
	events      *prometheus.CounterVec // event
	bad         *prometheus.CounterVec // kind
	state       prometheus.Gauge
	lastSuccess prometheus.Gauge
}

// newMetrics builds the metrics on reg (nil: not registered anywhere). A
// collector already registered by an earlier Client on the same registry
// (a restart after a config reload) is reused, not an error.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "acdbridge", "source"
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "requests_total",
			Help: "Requests to the Remote Support API by endpoint (agents, queues, stream, sessions, session, recording) and HTTP status code; code \"error\" is a request that got no answer (refused, timed out).",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "request_duration_seconds",
			Help:    "Time to the whole answer of a snapshot call, or to the headers of the stream.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "stream_reconnects_total",
			Help: "Attempts to open the event stream again after it ended or failed.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "stream_events_total",
			Help: "Stream events received, by event name (\"unknown\" for names the contract does not know), good or bad.",
		}, []string{"event"}),
		bad: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "bad_payloads_total",
			Help: "Payloads rejected because they broke the contract, by kind; they never change the bridge's picture.",
		}, []string{"kind"}),
		state: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "state",
			Help: "How the client follows the source: 0 down, 1 polling, 2 streaming.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "last_success_timestamp_seconds",
			Help: "Unix time of the last good snapshot or stream event (heartbeats included).",
		}),
	}
	if reg != nil {
		var err error
		if m.requests, err = register(reg, m.requests); err != nil {
			return nil, err
		}
		if m.duration, err = register(reg, m.duration); err != nil {
			return nil, err
		}
		if m.reconnects, err = register(reg, m.reconnects); err != nil {
			return nil, err
		}
		if m.events, err = register(reg, m.events); err != nil {
			return nil, err
		}
		if m.bad, err = register(reg, m.bad); err != nil {
			return nil, err
		}
		if m.state, err = register(reg, m.state); err != nil {
			return nil, err
		}
		if m.lastSuccess, err = register(reg, m.lastSuccess); err != nil {
			return nil, err
		}
	}
	for _, e := range []string{endpointAgents, endpointQueues, endpointStream, endpointSessions, endpointSession, endpointRecording} {
		m.duration.WithLabelValues(e)
		m.requests.WithLabelValues(e, "200")
		m.requests.WithLabelValues(e, "error")
	}
	for _, e := range eventNames() {
		m.events.WithLabelValues(e)
	}
	for _, k := range badKinds() {
		m.bad.WithLabelValues(k)
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("source: register metrics: %w", err)
}
