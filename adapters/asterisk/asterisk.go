// Package asterisk is the Asterisk adapter: it keeps an agent's queue
// member paused in Asterisk's app_queue while the agent is busy in a
// remote-support session, and unpauses it afterwards, over the Asterisk
// Manager Interface (AMI, TCP, manager.conf).
//
// It pauses with QueuePause and the bridge's reason text, and before
// unpausing reads the member with QueueStatus: a pause with another reason
// is the agent's own and stays. It logs in with Events: off, keeps the
// connection alive with Ping, reconnects with backoff, and after every
// reconnect converges every agent it knows to its desired state (an
// Asterisk restart forgets all pauses).
package asterisk

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/adapters/internal/ledger"
	"github.com/acdbridge/acdbridge/adapters/internal/link"
	"github.com/acdbridge/acdbridge/adapters/internal/reconnect"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Version is the adapter's version.
const Version = "0.1.0"

// Sample is the adapter's sample configuration (sample.hcl).
//
//go:embed sample.hcl
var Sample string

// defaultReason pauses an unavailable agent whose item has no reason.
const defaultReason = "acdbridge"

// Adapter pauses and unpauses queue members through AMI.
type Adapter struct {
	log hclog.Logger
	ids atomic.Uint64 // ActionIDs: acdbridge-1, acdbridge-2, ...

	// Tuning, changed by tests.
	keepalive   time.Duration // Ping interval
	minBackoff  time.Duration // first wait before reconnecting
	maxBackoff  time.Duration
	authBackoff time.Duration // first wait after a refused login

	link *link.Link[conn, settingsOf] // the AMI connection; its Op is one availability operation at a time

	mu      sync.Mutex
	reasons map[string]bool // every reason the bridge paused with

	versions *ledger.Ledger // applied and desired versions per agent
}

var _ sdk.AvailabilityAdapter = (*Adapter)(nil)

// New makes the adapter; it logs to logger. It connects once configured.
func New(logger hclog.Logger) *Adapter {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Adapter{
		log: logger, keepalive: 20 * time.Second, minBackoff: 500 * time.Millisecond, maxBackoff: 30 * time.Second, authBackoff: 30 * time.Second,
		link:     link.New[conn, settingsOf](func(err error) bool { return errors.As(err, new(*AuthError)) }),
		versions: ledger.New(), reasons: map[string]bool{},
	}
}

// Info names the adapter and its settings.
func (a *Adapter) Info() sdk.Info {
	identity := "interface"
	if cfg := a.link.Settings(); cfg != nil {
		identity = cfg.identity
	}
	return sdk.Info{Name: "asterisk", Version: Version, Settings: settings, Identities: []string{identity}}
}

// Configure checks the settings and (re)starts the connection loop.
func (a *Adapter) Configure(_ context.Context, s sdk.Settings) error {
	cfg, err := parseConfig(s)
	if err != nil {
		return err
	}
	a.link.Close()
	a.log.Info("configured", "instance", s.Instance, "address", cfg.address, "username", cfg.username, "queues", cfg.queues, "interface_identity", cfg.identity, "auth", cfg.auth)
	a.link.Start(cfg, link.Target{Where: "AMI at " + cfg.address, Absent: "logged in to", Timeout: cfg.timeout}, a.loop)
	return nil
}

// Close logs off and stops reconnecting.
func (a *Adapter) Close() error { return a.link.Close() }

// Health is up while logged in, degraded while (re)connecting, down after
// a refused login.
func (a *Adapter) Health(context.Context) sdk.Health { return a.link.Health() }

func (a *Adapter) nextID() string { return "acdbridge-" + strconv.FormatUint(a.ids.Add(1), 10) }

// loop connects, logs in, reconciles, keeps the connection alive, and
// reconnects with backoff until ctx ends. Asterisk may ban an address that
// keeps failing: after a refused login it waits long.
func (a *Adapter) loop(ctx context.Context, cfg settingsOf) {
	var version string // the AMI version of the last login
	a.link.Loop(ctx, a.log, reconnect.Policy{Min: a.minBackoff, Max: a.maxBackoff, RefusedMin: a.authBackoff, RefusedMax: 10 * time.Minute},
		"login refused; retrying later",
		func(ctx context.Context) (*conn, error) {
			c, v, err := dial(ctx, cfg.address, cfg.username, cfg.secret, cfg.auth, cfg.timeout, a.nextID)
			version = v
			return c, err
		},
		func(ctx context.Context, c *conn) error { return a.serve(ctx, c, cfg, version) })
}

// serve converges every member the bridge gave on a fresh login (an
// Asterisk restart forgets pauses), offers the connection to the calls,
// and keeps it alive until it ends; when ctx ends first it logs off.
func (a *Adapter) serve(ctx context.Context, c *conn, cfg settingsOf, version string) error {
	a.log.Info("logged in", "address", cfg.address, "ami_version", version)
	return a.link.Serve(ctx, a.log, c, link.Conn{
		Reconcile: func() []sdk.Result {
			if desired := a.versions.Desired(); len(desired) > 0 {
				return a.converge(ctx, c, cfg, desired)
			}
			return nil
		},
		Up:   fmt.Sprintf("logged in to AMI %s at %s as %s", version, cfg.address, cfg.username),
		Wait: func() error { return a.keepAlive(ctx, c, cfg) },
		Bye: func() {
			_, _, _ = c.do(context.Background(), Message{{"Action", "Logoff"}}, cfg.timeout)
			c.close(errors.New("logged off"))
		},
	})
}

// keepAlive pings until the connection ends or ctx does.
func (a *Adapter) keepAlive(ctx context.Context, c *conn, cfg settingsOf) error {
	t := time.NewTicker(a.keepalive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.Done():
			return c.Closed()
		case <-t.C:
			if _, _, err := c.do(ctx, Message{{"Action", "Ping"}}, cfg.timeout); err != nil {
				c.close(err)
				return err
			}
		}
	}
}

// truncReason cuts r to Asterisk's 79 bytes, on a character boundary.
func truncReason(r string) string {
	if r == "" {
		return defaultReason
	}
	if len(r) <= MaxReason {
		return r
	}
	r = r[:MaxReason]
	for !utf8.ValidString(r) {
		r = r[:len(r)-1]
	}
	return r
}

// permanent says whether err is Asterisk's refusal (anything about the
// connection is worth retrying).
func permanent(err error) bool { return errors.As(err, new(*ActionError)) }

// take checks an item: its interface, or a result saying why it is skipped.
// Reconciles take the version already applied too.
func (a *Adapter) take(cfg settingsOf, it sdk.Availability, reconcile bool) (string, *sdk.Result) {
	iface, skip := a.versions.TakeItem(it, cfg.identity, "a queue member in Asterisk", nil, reconcile)
	if skip != nil {
		return "", skip
	}
	if !it.Available {
		a.mu.Lock()
		a.reasons[truncReason(it.Reason)] = true
		a.mu.Unlock()
	}
	return iface, nil
}

func (a *Adapter) done(it sdk.Availability, msg string, err error) sdk.Result {
	return a.versions.Result(it, msg, err, permanent)
}

func (a *Adapter) ours(reason string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reasons[reason]
}

// SetAvailability pauses unavailable agents and unpauses available ones
// whose pause the bridge set.
func (a *Adapter) SetAvailability(ctx context.Context, items []sdk.Availability) []sdk.Result {
	c, cfg, cerr := a.link.Session(ctx)
	a.link.Op.Lock()
	defer a.link.Op.Unlock()
	if cerr != nil {
		return a.unreachable(cfg, items, cerr, false)
	}
	out := make([]sdk.Result, len(items))
	for i, it := range items {
		iface, skip := a.take(cfg, it, false)
		if skip != nil {
			out[i] = *skip
			continue
		}
		var msg string
		var err error
		if it.Available {
			msg, err = a.unpause(ctx, c, cfg, iface, nil)
		} else {
			msg, err = a.pauseFree(ctx, c, cfg, iface, truncReason(it.Reason), nil)
		}
		out[i] = a.done(it, msg, err)
	}
	return out
}

// pauseFree pauses iface with reason in each configured queue where it is
// not paused yet. A pause already there stays as it is: the agent's own
// break keeps its reason, so the bridge's later unpause leaves it alone.
// Without states it reads them (QueueStatus with the Member filter).
func (a *Adapter) pauseFree(ctx context.Context, c *conn, cfg settingsOf, iface, reason string, states []memberState) (string, error) {
	if states == nil {
		var err error
		if states, err = a.memberStates(ctx, c, cfg, iface); err != nil {
			return "", err
		}
	}
	var todo, kept []string
	for _, s := range states {
		if len(cfg.queues) > 0 && !slices.Contains(cfg.queues, s.queue) {
			continue
		}
		if s.paused {
			if !a.ours(s.reason) {
				kept = append(kept, fmt.Sprintf("%s (reason %q)", s.queue, s.reason))
			}
			continue
		}
		todo = append(todo, s.queue)
	}
	msg := "already paused"
	if len(todo) > 0 {
		var err error
		if msg, err = a.pauseIn(ctx, c, cfg, iface, reason, todo); err != nil {
			return "", err
		}
	}
	if len(kept) > 0 {
		msg += "; the agent's own pause kept in " + strings.Join(kept, ", ")
	}
	return msg, nil
}

// memberStates reads iface's membership in every queue.
func (a *Adapter) memberStates(ctx context.Context, c *conn, cfg settingsOf, iface string) ([]memberState, error) {
	all, err := c.queueStatus(ctx, iface, cfg.timeout)
	if err != nil {
		return nil, err
	}
	var states []memberState
	for _, s := range all {
		if s.iface == iface || s.name == iface {
			states = append(states, s)
		}
	}
	if len(states) == 0 {
		return nil, &ActionError{Action: "QueueStatus", Message: fmt.Sprintf("expected %s to be a member of a queue, got no QueueMember for it", iface)}
	}
	return states, nil
}

// pauseIn pauses iface in each of queues; a queue it is not a member of is
// noted, and an error only when it is a member of none.
func (a *Adapter) pauseIn(ctx context.Context, c *conn, cfg settingsOf, iface, reason string, queues []string) (string, error) {
	var done, absent []string
	for _, q := range queues {
		_, _, err := c.do(ctx, Message{{"Action", "QueuePause"}, {"Queue", q}, {"Interface", iface}, {"Paused", "true"}, {"Reason", reason}}, cfg.timeout)
		var ae *ActionError
		switch {
		case errors.As(err, &ae) && len(queues) > 1:
			absent = append(absent, q)
		case err != nil:
			return "", err
		default:
			done = append(done, q)
		}
	}
	if len(done) == 0 {
		return "", &ActionError{Action: "QueuePause", Message: fmt.Sprintf("%s is a member of none of %s", iface, strings.Join(queues, ", "))}
	}
	msg := fmt.Sprintf("paused in %s with reason %q", strings.Join(done, ", "), reason)
	if len(absent) > 0 {
		msg += "; not a member of " + strings.Join(absent, ", ")
	}
	return msg, nil
}

// unpause reads iface's queues (QueueStatus with the Member filter, unless
// states are given) and unpauses each pause with a reason of the bridge's;
// the others stay.
func (a *Adapter) unpause(ctx context.Context, c *conn, cfg settingsOf, iface string, states []memberState) (string, error) {
	if states == nil {
		var err error
		if states, err = a.memberStates(ctx, c, cfg, iface); err != nil {
			return "", err
		}
	}
	var unpaused, left []string
	for _, s := range states {
		if !s.paused || len(cfg.queues) > 0 && !slices.Contains(cfg.queues, s.queue) {
			continue
		}
		if !a.ours(s.reason) {
			left = append(left, fmt.Sprintf("%s (reason %q)", s.queue, s.reason))
			continue
		}
		if _, _, err := c.do(ctx, Message{{"Action", "QueuePause"}, {"Queue", s.queue}, {"Interface", iface}, {"Paused", "false"}}, cfg.timeout); err != nil {
			return "", err
		}
		unpaused = append(unpaused, s.queue)
	}
	var parts []string
	if len(unpaused) > 0 {
		parts = append(parts, "unpaused in "+strings.Join(unpaused, ", "))
	}
	if len(left) > 0 {
		parts = append(parts, "left the agent's own pause alone in "+strings.Join(left, ", "))
	}
	if len(parts) == 0 {
		return "not paused: nothing to do", nil
	}
	return strings.Join(parts, "; "), nil
}

// Reconcile reads every member (QueueStatus) and converges each item.
func (a *Adapter) Reconcile(ctx context.Context, desired []sdk.Availability) []sdk.Result {
	c, cfg, cerr := a.link.Session(ctx)
	a.link.Op.Lock()
	defer a.link.Op.Unlock()
	if cerr != nil {
		return a.unreachable(cfg, desired, cerr, true)
	}
	return a.converge(ctx, c, cfg, desired)
}

// unreachable answers items while there is no AMI session (cerr says why).
func (a *Adapter) unreachable(cfg settingsOf, items []sdk.Availability, cerr error, reconcile bool) []sdk.Result {
	return link.Unreachable(items, cerr, cfg.timeout != 0, func(it sdk.Availability) *sdk.Result { _, r := a.take(cfg, it, reconcile); return r })
}

// converge brings each item's member to its desired state from one
// QueueStatus of all members. The caller holds a.link.Op.
func (a *Adapter) converge(ctx context.Context, c *conn, cfg settingsOf, desired []sdk.Availability) []sdk.Result {
	out := make([]sdk.Result, len(desired))
	ifaces := make([]string, len(desired))
	for i, it := range desired {
		iface, skip := a.take(cfg, it, true)
		if skip != nil {
			out[i] = *skip
		}
		ifaces[i] = iface
	}
	all, err := c.queueStatus(ctx, "", cfg.timeout)
	byIface := map[string][]memberState{}
	for _, s := range all {
		byIface[s.iface] = append(byIface[s.iface], s)
	}
	for i, it := range desired {
		if ifaces[i] == "" {
			continue
		}
		if err != nil {
			out[i] = a.done(it, "", err)
			continue
		}
		states := byIface[ifaces[i]]
		if len(states) == 0 {
			out[i] = a.done(it, "", &ActionError{Action: "QueueStatus", Message: fmt.Sprintf("expected %s to be a member of a queue, got no QueueMember for it", ifaces[i])})
			continue
		}
		var msg string
		var perr error
		if it.Available {
			msg, perr = a.unpause(ctx, c, cfg, ifaces[i], states)
		} else {
			msg, perr = a.pauseFree(ctx, c, cfg, ifaces[i], truncReason(it.Reason), states)
		}
		out[i] = a.done(it, msg, perr)
	}
	return out
}
