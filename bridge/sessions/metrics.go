package sessions

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the syncer's, namespace acdbridge, subsystem sessions.
type metrics struct {
	archived   prometheus.Counter
	failed     *prometheus.CounterVec // what: record, recording, write
	bytes      prometheus.Counter
	checkpoint prometheus.Gauge
}

// The failure kinds of acdbridge_sessions_failed_total.
var failureKinds = []string{"record", "recording", "write"}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "acdbridge", "sessions"
	m := &metrics{
		archived: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "archived_total",
			Help: "Session records archived (each write of a record counts; a session archived again counts again)."}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "failed_total",
			Help: "Sessions that failed every try, by what failed: record (not ready, malformed, source errors), recording (short, wrong sha256, source errors), write (the archive's database)."}, []string{"what"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "recording_bytes_total",
			Help: "Bytes of recordings stored and verified."}),
		checkpoint: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "realtime_checkpoint_timestamp_seconds",
			Help: "The end time before which real-time archiving holds every session."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.archived, m.failed, m.bytes, m.checkpoint} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, fmt.Errorf("sessions: register metrics: %w", err)
				}
			}
		}
	}
	for _, k := range failureKinds {
		m.failed.WithLabelValues(k)
	}
	return m, nil
}
