package asterisk

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// BenchmarkQueuePause is QueuePause actions per second against the fake
// over loopback, one in flight at a time as the adapter sends them.
func BenchmarkQueuePause(b *testing.B) {
	f := NewFakeServer(b)
	f.quiet = true
	ctx := context.Background()
	c, _, err := dial(ctx, f.Addr(), "bridge", "s3cret", AuthPlain, 5*time.Second, counter())
	if err != nil {
		b.Fatal(err)
	}
	defer c.close(errors.New("done"))
	paused := []string{"false", "true"}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, _, err := c.do(ctx, Message{{"Action", "QueuePause"}, {"Interface", a1001}, {"Paused", paused[i%2]}, {"Reason", "remote-support"}}, 5*time.Second); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "actions/s")
}

// BenchmarkReconcile5000 is one Reconcile of 5,000 members, each of which
// changes (all paused, then all unpaused, in turn): one QueueStatus and
// 5,000 QueuePause actions.
func BenchmarkReconcile5000(b *testing.B) {
	const n = 5000
	f := NewFakeServer(b)
	f.quiet = true
	for i := range n {
		f.AddMember("support", fmt.Sprintf("agent%d", 10000+i), fmt.Sprintf("PJSIP/%d", 10000+i))
	}
	a := New(nil)
	a.keepalive = time.Hour
	if err := a.Configure(context.Background(), sdk.Settings{JSON: []byte(`{"address":"` + f.Addr() + `","username":"bridge","secret":"s3cret","timeout":"10s"}`)}); err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	acdtest.BenchReconcile(b, a, n, "interface", func(i int) string { return fmt.Sprintf("PJSIP/%d", 10000+i) })
}
