package runtime

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/acdbridge/acdbridge/bridge/bus"
	"github.com/acdbridge/acdbridge/monitors"
	"github.com/acdbridge/acdbridge/simulator"
)

// BenchmarkPropagation10k measures, at 10,000 agents and 1,000 changes a
// second, the time from a change in the simulator (a request taken by an
// agent) to the availability update a NATS subscriber receives on
// acdbridge.availability.<agent>: through the SSE stream, the source client,
// the monitors, the rules and the KV bucket's republish. Each iteration is
// one second of load; p50, p99 and max are over all iterations.
func BenchmarkPropagation10k(b *testing.B) {
	r := newRig(b, 10_000, 200, 1<<17)
	r.converge(fresh(r))

	b.StopTimer()
	r.bridge.mu.Lock()
	url := r.bridge.bus.ClientURL()
	r.bridge.mu.Unlock()
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	var mu sync.Mutex
	seen := map[string]time.Time{}
	sub, err := nc.Subscribe("acdbridge.availability.>", func(m *nats.Msg) {
		at := time.Now()
		d, err := bus.DecodeAvailability(m.Data)
		if err != nil || d.State != monitors.InSession {
			return
		}
		mu.Lock()
		if _, ok := seen[d.AgentID]; !ok {
			seen[d.AgentID] = at
		}
		mu.Unlock()
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	nc.Flush()

	queues := r.engine.Queues().Queues
	started := map[string]time.Time{}
	var latencies []time.Duration
	b.StartTimer()
	for range b.N {
		tick := time.NewTicker(time.Millisecond)
		for i := 0; i < 1000; i++ {
			<-tick.C
			q := queues[(i*7)%len(queues)].ID
			req, err := r.engine.CreateRequest(simulator.NewRequest{Queue: q, Name: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			if req.AgentID != "" {
				started[req.AgentID] = time.Now()
			}
		}
		tick.Stop()
	}
	b.StopTimer()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		done := 0
		for id := range started {
			if _, ok := seen[id]; ok {
				done++
			}
		}
		mu.Unlock()
		if done == len(started) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	missing := 0
	for id, s := range started {
		if at, ok := seen[id]; ok {
			latencies = append(latencies, at.Sub(s))
		} else {
			missing++
		}
	}
	mu.Unlock()
	if missing > 0 || len(latencies) == 0 {
		b.Fatalf("%d of %d agent changes never reached the subscriber", missing, len(started))
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(float64(len(latencies))/float64(b.N), "changes/s")
}
