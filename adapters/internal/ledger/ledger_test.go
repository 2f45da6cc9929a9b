package ledger

import (
	"errors"
	"fmt"
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

func TestResult(t *testing.T) {
	refused := errors.New("refused")
	permanent := func(err error) bool { return errors.Is(err, refused) }
	cases := []struct {
		name    string
		it      sdk.Availability
		err     error
		want    sdk.Result
		applied bool // then recorded: the same version is no longer taken
	}{
		{"applied", item("a", 2), nil, sdk.Result{AgentID: "a", Version: 2, Outcome: sdk.Applied, Message: "done"}, true},
		{"refused", item("b", 3), fmt.Errorf("set: %w", refused), sdk.Result{AgentID: "b", Version: 3, Outcome: sdk.Permanent, Message: "set: refused"}, false},
		{"lost", item("c", 4), errors.New("connection lost"), sdk.Result{AgentID: "c", Version: 4, Outcome: sdk.Retryable, Message: "connection lost"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := New()
			if got := l.Result(tc.it, "done", tc.err, permanent); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if _, ok := l.Take(tc.it, false); ok == tc.applied {
				t.Fatalf("taken again: %v, want %v", ok, !tc.applied)
			}
		})
	}
}

func TestTakeItem(t *testing.T) {
	noSpaces := func(name string) error {
		if strings.Contains(name, " ") {
			return fmt.Errorf("expected a name without spaces, got %q", name)
		}
		return nil
	}
	with := func(id string, v uint64, name string) sdk.Availability {
		it := item(id, v)
		it.Identities = map[string]string{"agent": name}
		return it
	}
	l := New()
	l.Applied(item("c", 5))
	cases := []struct {
		name  string
		it    sdk.Availability
		valid func(string) error
		want  string     // the name taken, "" when skipped
		skip  sdk.Result // when skipped
	}{
		{"taken", with("a", 1, "1001"), noSpaces, "1001", sdk.Result{}},
		{"no validity check", with("a", 2, "Agent Smith"), nil, "Agent Smith", sdk.Result{}},
		{"no identity", item("b", 1), noSpaces, "", sdk.Result{AgentID: "b", Version: 1, Outcome: sdk.Ignored, Message: `no "agent" identity for this agent: not a test agent`}},
		{"refused name", with("b", 2, "Agent Smith"), noSpaces, "", sdk.Result{AgentID: "b", Version: 2, Outcome: sdk.Permanent, Message: `expected a name without spaces, got "Agent Smith"`}},
		{"applied already", with("c", 5, "1003"), noSpaces, "", sdk.Result{AgentID: "c", Version: 5, Outcome: sdk.Ignored, Message: "version 5 already applied (newest 5)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name, skip := l.TakeItem(tc.it, "agent", "a test agent", tc.valid, false)
			if name != tc.want || (skip == nil) != (tc.want != "") || skip != nil && *skip != tc.skip {
				t.Fatalf("%q %+v, want %q %+v", name, skip, tc.want, tc.skip)
			}
		})
	}
	// Only the taken items are desired: a (version 2).
	if d := l.Desired(); len(d) != 1 || d[0].AgentID != "a" || d[0].Version != 2 {
		t.Fatalf("desired %+v", d)
	}
}
