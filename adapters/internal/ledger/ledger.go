// Package ledger keeps an availability adapter's versions: the newest
// version applied per agent, so that stale and repeated items are ignored,
// and the newest desired availability per agent, which the adapter
// converges after every reconnect. The asterisk and freeswitch adapters
// share it; it imports only plugins/sdk and the standard library.
package ledger

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Ledger is safe for concurrent use. The zero value is not: use New.
type Ledger struct {
	mu      sync.Mutex
	applied map[string]uint64           // newest version applied per agent
	desired map[string]sdk.Availability // newest desired availability per agent
}

// New makes an empty ledger.
func New() *Ledger {
	return &Ledger{applied: map[string]uint64{}, desired: map[string]sdk.Availability{}}
}

// Take records it as the agent's desired availability unless its version
// was applied already: then ok is false and msg says so. A reconcile takes
// the version already applied too (the server may have lost it).
func (l *Ledger) Take(it sdk.Availability, reconcile bool) (msg string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	last, seen := l.applied[it.AgentID]
	if seen && (it.Version < last || it.Version == last && !reconcile) {
		return fmt.Sprintf("version %d already applied (newest %d)", it.Version, last), false
	}
	if d, ok := l.desired[it.AgentID]; !ok || d.Version <= it.Version {
		l.desired[it.AgentID] = it
	}
	return "", true
}

// Applied records that it was applied.
func (l *Ledger) Applied(it sdk.Availability) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if it.Version > l.applied[it.AgentID] {
		l.applied[it.AgentID] = it.Version
	}
}

// Desired is every agent's newest desired availability, by agent id.
func (l *Ledger) Desired() []sdk.Availability {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]sdk.Availability, 0, len(l.desired))
	for _, d := range l.desired {
		out = append(out, d)
	}
	slices.SortFunc(out, func(x, y sdk.Availability) int { return strings.Compare(x.AgentID, y.AgentID) })
	return out
}

// Result is it's result after an attempt that ended with msg and err:
// applied (and recorded so) when err is nil, else Permanent when
// permanent(err) says so, and Retryable otherwise.
func (l *Ledger) Result(it sdk.Availability, msg string, err error, permanent func(error) bool) sdk.Result {
	res := sdk.Result{AgentID: it.AgentID, Version: it.Version, Outcome: sdk.Applied, Message: msg}
	if err != nil {
		res.Outcome, res.Message = sdk.Retryable, err.Error()
		if permanent(err) {
			res.Outcome = sdk.Permanent
		}
		return res
	}
	l.Applied(it)
	return res
}

// TakeItem checks it for an adapter that names its agents by the identity
// key identity: the agent's name there, or a result saying why it is
// skipped: no such identity (ignored: not role, "a queue member in
// Asterisk"), a name valid (when not nil) refuses (permanent), or a
// version already applied (ignored; see Take, which it then does).
func (l *Ledger) TakeItem(it sdk.Availability, identity, role string, valid func(string) error, reconcile bool) (string, *sdk.Result) {
	res := &sdk.Result{AgentID: it.AgentID, Version: it.Version, Outcome: sdk.Ignored}
	name := it.Identities[identity]
	if name == "" {
		res.Message = fmt.Sprintf("no %q identity for this agent: not %s", identity, role)
		return "", res
	}
	if valid != nil {
		if err := valid(name); err != nil {
			res.Outcome, res.Message = sdk.Permanent, err.Error()
			return "", res
		}
	}
	if msg, ok := l.Take(it, reconcile); !ok {
		res.Message = msg
		return "", res
	}
	return name, nil
}
