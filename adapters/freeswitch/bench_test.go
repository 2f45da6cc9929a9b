package freeswitch

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// BenchmarkSetStatus is "callcenter_config agent set status" commands per
// second against the fake over loopback, one in flight at a time.
func BenchmarkSetStatus(b *testing.B) {
	f := NewFakeServer(b)
	f.Set(func(f *FakeServer) { f.quiet = true })
	ctx := context.Background()
	c, err := dial(ctx, f.Addr(), f.Password, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer c.close(errors.New("done"))
	statuses := []string{StatusOnBreak, StatusAvailable}
	for i := 0; b.Loop(); i++ {
		cmd := "callcenter_config agent set status 1001@default '" + statuses[i%2] + "'"
		body, err := c.api(ctx, cmd, 5*time.Second)
		if err == nil {
			err = ParseOK(cmd, body)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sets/s")
}

// BenchmarkReconcile5000 is one Reconcile of 5,000 agents, each of which
// changes (all busy, then all available, in turn): 5,000 get status and
// 5,000 set status commands, pipelined.
func BenchmarkReconcile5000(b *testing.B) {
	const n = 5000
	f := NewFakeServer(b)
	f.Set(func(f *FakeServer) { f.quiet = true })
	for i := range n {
		f.AddAgent(fmt.Sprintf("%d@default", 10000+i), StatusAvailable)
	}
	a := New(nil)
	if err := a.Configure(context.Background(), sdk.Settings{JSON: []byte(`{"address":"` + f.Addr() + `","password":"ClueCon","timeout":"10s"}`)}); err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	acdtest.BenchReconcile(b, a, n, "callcenter_agent", func(i int) string { return fmt.Sprintf("%d@default", 10000+i) })
}

// BenchmarkSetAvailabilityStateFile is one SetAvailability of one agent
// (busy, then available, in turn) through the adapter with a state_file:
// a read, a set, and the state file written (with fsync) before each break
// is sent and after each is given back.
func BenchmarkSetAvailabilityStateFile(b *testing.B) {
	f := NewFakeServer(b)
	f.Set(func(f *FakeServer) { f.quiet = true })
	state := filepath.Join(b.TempDir(), "fs.state")
	a := New(nil)
	if err := a.Configure(context.Background(), sdk.Settings{JSON: []byte(`{"address":"` + f.Addr() + `","password":"ClueCon","state_file":"` + state + `"}`)}); err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	for v := uint64(1); b.Loop(); v++ {
		r := a.SetAvailability(context.Background(), []sdk.Availability{agent("a-1", a1001, v%2 == 0, v)})
		if r[0].Outcome != sdk.Applied || !strings.HasPrefix(r[0].Message, "set ") {
			b.Fatalf("%+v", r)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
}
