package bus

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPutAvailability measures one PutAvailability, which waits for
// the server to store it (ns/op is the latency), over 10,000 agents, and
// the throughput of many goroutines putting at once.
func BenchmarkPutAvailability(b *testing.B) {
	setups := []struct {
		name string
		cfg  func(b *testing.B) Config
	}{
		{"embedded", func(b *testing.B) Config { return Config{DataDir: b.TempDir(), Listen: NoListener} }},
		{"external-tcp", func(b *testing.B) Config { return Config{URL: runServer(b, true).ClientURL()} }},
	}
	for _, s := range setups {
		bus := open(b, s.cfg(b))
		ctx := context.Background()
		d := sampleAvailability()
		b.Run(s.name+"/serial", func(b *testing.B) {
			i := 0
			for b.Loop() {
				d.AgentID = fmt.Sprintf("a-%05d", i%10000)
				d.Version++
				i++
				if err := bus.PutAvailability(ctx, d); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
		})
		b.Run(s.name+"/parallel", func(b *testing.B) {
			var n atomic.Uint64
			b.SetParallelism(16)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				d := sampleAvailability()
				for pb.Next() {
					i := n.Add(1)
					d.AgentID = fmt.Sprintf("a-%05d", i%10000)
					d.Version = i
					if err := bus.PutAvailability(ctx, d); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "puts/s")
		})
	}
}
