package simulator

import (
	"runtime"
	"testing"
	"time"
)

// BenchmarkEngine100k runs the engine at 100,000 agents and 5,000 queues, in
// steady state, one simulated second per iteration. It reports simulated
// events (timers handled) per wall second, stream events per wall second,
// how many simulated seconds pass per wall second (at least 1 means it keeps
// up at --speed 1), and the heap the engine holds.
func BenchmarkEngine100k(b *testing.B) {
	sc := DefaultScenario(100_000, 5_000)
	clock := NewManualClock(testStart)
	e, err := NewEngine(sc, clock, 100_000)
	if err != nil {
		b.Fatal(err)
	}
	// Warm up to a steady state: agents busy, queues with customers.
	for range 30 {
		clock.Add(time.Minute)
		e.Agents()
	}
	e.mu.Lock()
	p0, s0 := e.processed, e.stream.sequence()
	e.mu.Unlock()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		clock.Add(time.Second)
		e.mu.Lock()
		e.advance()
		e.mu.Unlock()
	}
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(e.processed-p0)/secs, "events/s")
	b.ReportMetric(float64(e.stream.sequence()-s0)/secs, "stream-events/s")
	b.ReportMetric(float64(b.N)/secs, "sim-s/s")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "MiB-held")
	runtime.KeepAlive(e)
}

// BenchmarkSnapshotAgents100k is GET /v1/monitors/agents' work at 100,000
// agents, without the HTTP and JSON.
func BenchmarkSnapshotAgents100k(b *testing.B) {
	e, err := NewEngine(DefaultScenario(100_000, 5_000), NewManualClock(testStart), 1024)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for range b.N {
		_ = e.Agents()
	}
}
