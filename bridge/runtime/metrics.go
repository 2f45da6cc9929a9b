package runtime

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/acdbridge/acdbridge/monitors"
)

// Metrics are the runtime's own; bridge/source has the source's.
type Metrics struct {
	agents         *prometheus.GaugeVec
	stale          prometheus.Gauge
	lastFresh      prometheus.Gauge
	changes        *prometheus.CounterVec
	held           prometheus.Counter
	errors         *prometheus.CounterVec
	propagation    prometheus.Histogram
	alerts         *prometheus.CounterVec
	queueWaiting   *prometheus.Desc
	queueLongest   *prometheus.Desc
	queueLoggedIn  *prometheus.Desc
	queueAvailable *prometheus.Desc
}

// Error kinds counted by acdbridge_errors_total.
var errorKinds = []string{"bus_publish", "session_record"}

// NewMetrics registers the runtime's metrics on reg, every labelled series
// created up front so it exists at zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		agents: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: "acdbridge", Name: "agents",
			Help: "Agents by status, as the agent monitor holds them."}, []string{"status"}),
		stale: f.NewGauge(prometheus.GaugeOpts{Namespace: "acdbridge", Name: "source_stale",
			Help: "1 while no fresh data has arrived from the source for longer than stale_after; availability is held."}),
		lastFresh: f.NewGauge(prometheus.GaugeOpts{Namespace: "acdbridge", Name: "source_last_fresh_timestamp_seconds",
			Help: "When fresh data last arrived from the source."}),
		changes: f.NewCounterVec(prometheus.CounterOpts{Namespace: "acdbridge", Name: "availability_changes_total",
			Help: "Desired availability changes published, by the new value."}, []string{"available"}),
		held: f.NewCounter(prometheus.CounterOpts{Namespace: "acdbridge", Name: "availability_held_total",
			Help: "Agent changes whose availability was held because the source was stale."}),
		errors: f.NewCounterVec(prometheus.CounterOpts{Namespace: "acdbridge", Name: "errors_total",
			Help: "Errors by kind."}, []string{"kind"}),
		propagation: f.NewHistogram(prometheus.HistogramOpts{Namespace: "acdbridge", Name: "propagation_seconds",
			Help:    "From receiving a source update to its availability stored on the bus.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5}}),
		alerts: f.NewCounterVec(prometheus.CounterOpts{Namespace: "acdbridge", Name: "alerts_total",
			Help: "Alert transitions of the threshold rules published on the bus, by status (firing, resolved)."}, []string{"status"}),
		queueWaiting: prometheus.NewDesc("acdbridge_queue_waiting", "Customers waiting in the queue.", []string{"queue"}, nil),
		queueLongest: prometheus.NewDesc("acdbridge_queue_longest_wait_seconds", "How long the oldest waiting customer has waited.", []string{"queue"}, nil),
		queueLoggedIn: prometheus.NewDesc("acdbridge_queue_agents_logged_in",
			"Agents serving the queue who are logged in, from the agent monitor.", []string{"queue"}, nil),
		queueAvailable: prometheus.NewDesc("acdbridge_queue_agents_available",
			"Agents serving the queue who are available, from the agent monitor.", []string{"queue"}, nil),
	}
	for _, s := range monitors.Statuses {
		m.agents.WithLabelValues(string(s))
	}
	for _, v := range []string{"true", "false"} {
		m.changes.WithLabelValues(v)
	}
	for _, s := range []string{"firing", "resolved"} {
		m.alerts.WithLabelValues(s)
	}
	for _, k := range errorKinds {
		m.errors.WithLabelValues(k)
	}
	return m
}

// queueCollector reports the queues' figures at scrape time, from the
// monitors, under the bridge's lock.
type queueCollector struct{ b *Bridge }

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	m := c.b.metrics
	ch <- m.queueWaiting
	ch <- m.queueLongest
	ch <- m.queueLoggedIn
	ch <- m.queueAvailable
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.b.metrics
	for _, f := range c.b.QueueFigures() {
		ch <- prometheus.MustNewConstMetric(m.queueWaiting, prometheus.GaugeValue, float64(f.Waiting), f.Queue)
		ch <- prometheus.MustNewConstMetric(m.queueLongest, prometheus.GaugeValue, f.LongestWait.Seconds(), f.Queue)
		ch <- prometheus.MustNewConstMetric(m.queueLoggedIn, prometheus.GaugeValue, float64(f.AgentsLoggedIn), f.Queue)
		ch <- prometheus.MustNewConstMetric(m.queueAvailable, prometheus.GaugeValue, float64(f.AgentsAvailable), f.Queue)
	}
}
