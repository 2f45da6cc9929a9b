package sip

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// TestServerTargetRefresh: a refresh with a new Contact moves the remote
// target (RFC 6665 4.1.2.3) while NOTIFYs for changes are in flight; the
// NOTIFYs after it go to the new Contact. Run with -race: the worker that
// builds a NOTIFY reads the target the refresh writes.
func TestServerTargetRefresh(t *testing.T) {
	ctx := context.Background()
	a, addr := serving(t, nil)
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)})
	w := NewWatcher(t, "", "")
	if res, err := w.Subscribe(ctx, addr, "UDP", alice, EventPresence, 120); err != nil || res.StatusCode != 200 {
		t.Fatal(res, err)
	}
	w.WaitNotify(t, "the first NOTIFY", 0, func(Notify) bool { return true })
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			state := "available"
			if i%2 == 0 {
				state = "in_session"
			}
			a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, state, uint64(i+2))})
		}()
		w.mu.Lock()
		w.Contact = fmt.Sprintf("<sip:moved%d@127.0.0.1:%d>", i, w.Port)
		w.mu.Unlock()
		if res, err := w.Refresh(ctx, 120); err != nil || res.StatusCode != 200 {
			t.Fatalf("refresh %d: %v %v", i, res, err)
		}
	}
	wg.Wait()
	seen := len(w.Notifies())
	a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "away", 100)})
	n := w.WaitNotify(t, "the NOTIFY after the refreshes", seen, func(n Notify) bool {
		p, ok := presenceIn(t, n)
		return ok && len(p.Activities) == 1 && p.Activities[0] == "away"
	})
	if want := fmt.Sprintf("sip:moved19@127.0.0.1:%d", w.Port); n.RequestTo != want {
		t.Fatalf("NOTIFY to %s, want the last refresh's Contact %s", n.RequestTo, want)
	}
}
