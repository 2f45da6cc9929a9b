package api

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// countingWriter is a browser that reads everything at once and counts it.
type countingWriter struct {
	h       http.Header
	n       atomic.Int64
	once    sync.Once
	flushed chan struct{} // closed at the first flush: the snapshot is out
}

func (w *countingWriter) Header() http.Header { return w.h }
func (w *countingWriter) WriteHeader(int)     {}
func (w *countingWriter) Flush()              { w.once.Do(func() { close(w.flushed) }) }
func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// BenchmarkDashboardStream is the dashboard stream's bandwidth at 10,000
// agents with 100 agent changes a second: one op is one simulated second
// (four 250 ms windows and one poll of the tables). Each change is an
// agent's status and wanted availability; the adapter confirms it in the
// next window, which sends its applied versions. Of 40
// queues, 10 change each second. B/s is what one browser receives per
// second after the snapshot; ns/op is the bridge's cost of a second.
func BenchmarkDashboardStream(b *testing.B) {
	const agents, changesPerSecond, windows = 10_000, 100, 4
	src := newFakeSource(agents)
	src.tables.Queues = nil
	for i := range 40 {
		src.tables.Queues = append(src.tables.Queues, QueueRow{ID: fmt.Sprintf("support/q%02d", i), Waiting: i % 3, AgentsLoggedIn: 250, AgentsAvailable: 60})
	}
	st := NewStream(src, manual, hclog.NewNullLogger())
	w := &countingWriter{h: http.Header{}, flushed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/stream", nil).WithContext(ctx))
	}()
	<-w.flushed
	rng := rand.New(rand.NewPCG(1, 2))
	statuses := []string{"available", "in_session", "away", "offline"}
	var confirm []string
	st.mu.Lock()
	sent0 := st.sentByte
	st.mu.Unlock()
	snapshot := w.n.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for range windows {
			// The adapter confirms what the previous window changed.
			src.set(func(f *fakeSource) {
				f.applied = map[string]map[string]uint64{}
				for _, id := range confirm {
					a := f.agents[id]
					a.Adapters = map[string]uint64{"pbx1": a.Availability.Version}
					f.agents[id] = a
					f.applied[id] = a.Adapters
				}
			})
			confirm = nil
			src.set(func(f *fakeSource) {
				for range changesPerSecond / windows {
					id := fmt.Sprintf("a-%05d", rng.IntN(agents))
					a := f.agents[id]
					a.Status = statuses[rng.IntN(len(statuses))]
					av := *a.Availability
					av.Available, av.State, av.Version = a.Status == "available", a.Status, av.Version+1
					a.Availability = &av
					f.agents[id] = a
					confirm = append(confirm, id)
				}
			})
			st.Touch(confirm...)
			st.stepAgents()
		}
		src.set(func(f *fakeSource) {
			for range 10 {
				q := &f.tables.Queues[rng.IntN(len(f.tables.Queues))]
				q.Waiting = rng.IntN(20)
				q.LongestWaitSeconds = float64(rng.IntN(300))
			}
		})
		st.stepTables()
	}
	b.StopTimer()
	st.mu.Lock()
	sent := st.sentByte - sent0
	st.mu.Unlock()
	for w.n.Load()-snapshot < sent {
		runtime.Gosched() // the client is still writing what it was offered
	}
	cancel()
	<-done
	b.ReportMetric(float64(w.n.Load()-snapshot)/float64(b.N), "B/s")
	b.ReportMetric(float64(snapshot), "snapshot-B")
	if st.Dropped() != 0 {
		b.Fatal("the client was dropped")
	}
}
