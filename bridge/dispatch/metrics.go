package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are dispatch's, labelled by adapter instance.
type Metrics struct {
	reg         prometheus.Registerer
	applied     *prometheus.CounterVec
	events      *prometheus.CounterVec
	retries     *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	errors      *prometheus.CounterVec
	restarts    *prometheus.CounterVec
	health      *prometheus.GaugeVec
	lag         *prometheus.HistogramVec
	callSeconds *prometheus.HistogramVec
}

// NewMetrics registers dispatch's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	l := []string{"adapter"}
	return &Metrics{
		reg: reg,
		applied: f.NewCounterVec(prometheus.CounterOpts{Namespace: "acdbridge", Subsystem: "adapter", Name: "applied_total",
			Help: "Availability changes the adapter applied."}, l),
		events: f.NewCounterVec(prometheus.CounterOpts{Namespace: "acdbridge", Subsystem: "adapter", Name: "events_total",
			Help: "Requests, sessions and alerts the adapter handled."}, l),
		retries: f.NewCounterVec(prometheus.CounterOpts{Namespace: "acdbridge", Subsystem: "adapter", Name: "retries_total",
			Help: "Changes the adapter marked retryable, to be sent again."}, l),
		deadLetters: f.NewCounterVec(prometheus.CounterOpts{Namespace: "acdbridge", Subsystem: "adapter", Name: "dead_letters_total",
			Help: "Changes the adapter refused for good; each is logged with its agent."}, l),
		errors: f.NewCounterVec(prometheus.CounterOpts{Namespace: "acdbridge", Subsystem: "adapter", Name: "errors_total",
			Help: "Failed launches, calls and health checks."}, l),
		restarts: f.NewCounterVec(prometheus.CounterOpts{Namespace: "acdbridge", Subsystem: "adapter", Name: "restarts_total",
			Help: "Times the adapter process was started again."}, l),
		health: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: "acdbridge", Subsystem: "adapter", Name: "health",
			Help: "The adapter's health: 1 up, 2 degraded, 3 down."}, l),
		lag: f.NewHistogramVec(prometheus.HistogramOpts{Namespace: "acdbridge", Subsystem: "adapter", Name: "lag_seconds",
			Help:    "From a change's decision to the adapter applying it.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 30, 120}}, l),
		callSeconds: f.NewHistogramVec(prometheus.HistogramOpts{Namespace: "acdbridge", Subsystem: "adapter", Name: "call_seconds",
			Help:    "Duration of SetAvailability and Reconcile calls.",
			Buckets: []float64{.0005, .001, .005, .01, .05, .1, .5, 1, 5, 30}}, l),
	}
}

type workerMetrics struct {
	applied, events, retries, deadLetters, errors, restarts prometheus.Counter
	health                                                  prometheus.Gauge
	lag, callSeconds                                        prometheus.Observer
}

// forAdapter makes every series of one adapter exist at zero, and a gauge
// of its mailbox.
func (m *Metrics) forAdapter(name string, pending, missing func() int) workerMetrics {
	gf := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "acdbridge", Subsystem: "adapter", Name: "pending",
		Help: "Agents whose newest change waits to be sent to the adapter.", ConstLabels: prometheus.Labels{"adapter": name}},
		func() float64 { return float64(pending()) })
	_ = m.reg.Register(gf) // a worker of the same name again (tests) keeps the first gauge
	_ = m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "acdbridge", Subsystem: "adapter", Name: "agents_without_identity",
		Help: "Agents whose availability lacks an identity the adapter needs (listed in /api/v1/adapters).", ConstLabels: prometheus.Labels{"adapter": name}},
		func() float64 { return float64(missing()) }))
	return workerMetrics{
		applied: m.applied.WithLabelValues(name), events: m.events.WithLabelValues(name), retries: m.retries.WithLabelValues(name),
		deadLetters: m.deadLetters.WithLabelValues(name), errors: m.errors.WithLabelValues(name),
		restarts: m.restarts.WithLabelValues(name), health: m.health.WithLabelValues(name),
		lag: m.lag.WithLabelValues(name), callSeconds: m.callSeconds.WithLabelValues(name),
	}
}
