package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acdbridge/acdbridge/bridge/availability"
)

// TestConsumeEventsAtLeastOnce: handled messages are acknowledged once,
// failed ones come again, permanent ones never, in order, and a consumer
// started again goes on where it stopped.
func TestConsumeEventsAtLeastOnce(t *testing.T) {
	cfg := embedded(t)
	b := open(t, cfg)
	ctx := ctxT(t)

	var mu sync.Mutex
	var seen []string
	fails := map[string]int{"r-flaky": 2}
	handler := func(_ context.Context, ev Event) error {
		mu.Lock()
		defer mu.Unlock()
		id := ev.Request.ID
		if ev.Kind == KindSession {
			id = ev.Session.ID
		}
		seen = append(seen, fmt.Sprintf("%s#%d", id, ev.Delivered))
		switch {
		case id == "r-bad":
			return fmt.Errorf("%w: the ticketing system refused it", ErrPermanent)
		case fails[id] > 0:
			fails[id]--
			return errors.New("ticketing system down")
		}
		return nil
	}
	run := func(cctx context.Context) chan error {
		done := make(chan error, 1)
		ready := make(chan struct{})
		go func() {
			done <- b.ConsumeEvents(cctx, "adapter-tickets", []string{KindRequest, KindSession}, func() { close(ready) }, handler)
		}()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("the consumer stopped at start: %v", err)
		}
		return done
	}
	cctx, cancel := context.WithCancel(ctx)
	done := run(cctx)
	for _, id := range []string{"r-1", "r-flaky", "r-bad", "r-2"} {
		r := sampleRequest()
		r.ID = id
		if err := b.PublishRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	s := sampleSession()
	if err := b.PublishSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	want := []string{"r-1#1", "r-flaky#1", "r-flaky#2", "r-flaky#3", "r-bad#1", "r-2#1", s.ID + "#1"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("saw %v, want %v", seen, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("deliveries %v, want %v", seen, want)
	}
	seen = nil
	mu.Unlock()

	// Started again, the durable consumer has nothing old to deliver, and
	// gets what was published while it was stopped.
	r := sampleRequest()
	r.ID = "r-while-down"
	if err := b.PublishRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	cctx, cancel = context.WithCancel(ctx)
	done = run(cctx)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message published while the consumer was stopped never came")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != "[r-while-down#1]" {
		t.Fatalf("after a restart: %v, want only r-while-down#1", seen)
	}
}

func TestWatchAvailability(t *testing.T) {
	b := open(t, embedded(t))
	ctx := ctxT(t)
	d := sampleAvailability()
	d.Version = 1
	if err := b.PutAvailability(ctx, d); err != nil {
		t.Fatal(err)
	}
	got := make(chan uint64, 16)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.WatchAvailability(cctx, true, nil, func(x availability.Desired) { got <- x.Version })
	}()
	select { // the value stored before the watch comes first
	case v := <-got:
		if v != 1 {
			t.Fatalf("first version %d, want 1", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the current value never came")
	}
	for v := uint64(2); v <= 4; v++ {
		d.Version = v
		if err := b.PutAvailability(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	// The bucket keeps one value per agent, so a watch may skip versions
	// that were replaced before it read them; what it gives only grows and
	// ends with the newest, which is what dispatch needs.
	last := uint64(1)
	for last < 4 {
		select {
		case v := <-got:
			if v <= last {
				t.Fatalf("version %d after %d", v, last)
			}
			last = v
		case <-time.After(10 * time.Second):
			t.Fatalf("stuck at version %d, want 4", last)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWatchUpdatesOnly is the mode dispatch uses: nothing stored before the
// watch, every change after it is ready.
func TestWatchUpdatesOnly(t *testing.T) {
	b := open(t, embedded(t))
	ctx := ctxT(t)
	d := sampleAvailability()
	d.Version = 1
	if err := b.PutAvailability(ctx, d); err != nil {
		t.Fatal(err)
	}
	got := make(chan uint64, 16)
	ready := make(chan struct{})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go b.WatchAvailability(cctx, false, func() { close(ready) }, func(x availability.Desired) { got <- x.Version })
	<-ready
	d.Version = 2
	if err := b.PutAvailability(ctx, d); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v != 2 {
			t.Fatalf("first value %d, want 2: the value stored before the watch is not sent", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the change after the watch never came")
	}
}

func TestReady(t *testing.T) {
	b, err := Open(ctxT(t), embedded(t), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Ready(); err != nil {
		t.Fatalf("open bus: %v", err)
	}
	b.Close()
	if err := b.Ready(); err == nil || !strings.Contains(err.Error(), "NATS connection is") {
		t.Fatalf("closed bus: %v", err)
	}
}
