package ledger

import (
	"strings"
	"testing"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

func item(id string, v uint64) sdk.Availability { return sdk.Availability{AgentID: id, Version: v} }

func TestTake(t *testing.T) {
	l := New()
	steps := []struct {
		it        sdk.Availability
		reconcile bool
		applied   bool // then recorded as applied
		ok        bool
	}{
		{item("a", 1), false, true, true},
		{item("a", 1), false, false, false}, // repeated
		{item("a", 1), true, false, true},   // a reconcile re-applies
		{item("a", 0), true, false, false},  // stale, even in a reconcile
		{item("a", 3), false, false, true},  // not applied (failed)
		{item("a", 2), false, false, true},  // older than the desired, newer than the applied
		{item("b", 5), true, true, true},
		{item("b", 4), false, false, false},
	}
	for i, s := range steps {
		msg, ok := l.Take(s.it, s.reconcile)
		if ok != s.ok || ok != (msg == "") || !ok && !strings.Contains(msg, "already applied") {
			t.Fatalf("step %d: %q %v, want ok=%v", i, msg, ok, s.ok)
		}
		if s.applied {
			l.Applied(s.it)
		}
	}
	// The desired state keeps the newest version given, not the last.
	got := l.Desired()
	if len(got) != 2 || got[0].AgentID != "a" || got[0].Version != 3 || got[1].AgentID != "b" || got[1].Version != 5 {
		t.Fatalf("desired %+v", got)
	}
	// Applied never goes back.
	l.Applied(item("b", 2))
	if _, ok := l.Take(item("b", 4), false); ok {
		t.Fatal("version 4 taken after 5 was applied")
	}
}
