// Package freeswitch is the FreeSWITCH adapter: it sets an agent of
// FreeSWITCH's mod_callcenter to a busy status ("On Break") while the agent
// is busy in a remote-support session, and back to "Available" afterwards,
// over the inbound event socket (mod_event_socket, TCP, ESL).
//
// Before changing an agent it reads the agent's status with
// "callcenter_config agent get status", and it gives back only a busy
// status it set itself: a break, or a log-out, the agent chose stays. It
// authenticates with the event socket's password, subscribes to no events,
// reconnects with backoff, and after every reconnect converges every agent
// it knows to its desired state (a FreeSWITCH restart reloads statuses from
// callcenter.conf).
package freeswitch

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/adapters/internal/ledger"
	"github.com/acdbridge/acdbridge/adapters/internal/lines"
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

// Adapter sets mod_callcenter agent statuses through the event socket.
type Adapter struct {
	log hclog.Logger

	// Tuning, changed by tests.
	minBackoff  time.Duration // first wait before reconnecting
	maxBackoff  time.Duration
	authBackoff time.Duration // first wait after a refused password or host

	link *link.Link[conn, settingsOf] // the event socket connection; its Op is one availability operation at a time

	mu sync.Mutex
	// owned: the agents the bridge set to the busy status, as far as
	// known, each with the available status it had then, to give back.
	owned map[string]string
	dirty bool // owned changed since the state file was written

	versions *ledger.Ledger // applied and desired versions per agent
}

var _ sdk.AvailabilityAdapter = (*Adapter)(nil)

// New makes the adapter; it logs to logger. It connects once configured.
func New(logger hclog.Logger) *Adapter {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Adapter{
		log: logger, minBackoff: 500 * time.Millisecond, maxBackoff: 30 * time.Second, authBackoff: 30 * time.Second,
		link:     link.New[conn, settingsOf](func(err error) bool { return errors.As(err, new(*AuthError)) }),
		versions: ledger.New(), owned: map[string]string{},
	}
}

// Info names the adapter and its settings.
func (a *Adapter) Info() sdk.Info {
	identity := DefaultIdentity
	if cfg := a.link.Settings(); cfg != nil {
		identity = cfg.identity
	}
	return sdk.Info{Name: "freeswitch", Version: Version, Settings: settings, Identities: []string{identity}}
}

// Configure checks the settings, reads the state file, and (re)starts the
// connection loop.
func (a *Adapter) Configure(_ context.Context, s sdk.Settings) error {
	cfg, err := parseConfig(s)
	if err != nil {
		return err
	}
	var owned map[string]string
	if cfg.stateFile != "" {
		if owned, err = readState(cfg.stateFile); err != nil {
			return &sdk.FieldError{Field: "state_file", Message: err.Error()}
		}
	}
	a.link.Close()
	if owned != nil {
		a.mu.Lock()
		a.owned = owned
		a.mu.Unlock()
	}
	a.log.Info("configured", "instance", s.Instance, "address", cfg.address, "agent_identity", cfg.identity,
		"available_status", cfg.available, "busy_status", cfg.busy, "state_file", cfg.stateFile, "owned_agents", len(owned))
	a.link.Start(cfg, link.Target{Where: "the FreeSWITCH event socket at " + cfg.address, Absent: "connected to", Timeout: cfg.timeout}, a.loop)
	return nil
}

// Close says goodbye to the event socket and stops reconnecting.
func (a *Adapter) Close() error { return a.link.Close() }

// Health is up while authenticated, degraded while (re)connecting, down
// after a refused password or host.
func (a *Adapter) Health(context.Context) sdk.Health { return a.link.Health() }

// loop connects, authenticates, reconciles, waits for the connection to
// end, and reconnects with backoff until ctx ends. After a refused
// password or host it waits long: a person has to fix them.
func (a *Adapter) loop(ctx context.Context, cfg settingsOf) {
	a.link.Loop(ctx, a.log, reconnect.Policy{Min: a.minBackoff, Max: a.maxBackoff, RefusedMin: a.authBackoff, RefusedMax: 10 * time.Minute},
		"event socket refused us; retrying later",
		func(ctx context.Context) (*conn, error) { return dial(ctx, cfg.address, cfg.password, cfg.timeout) },
		func(ctx context.Context, c *conn) error { return a.serve(ctx, c, cfg) })
}

// serve converges every agent the bridge gave on a fresh connection (a
// FreeSWITCH restart reloads the statuses of callcenter.conf), offers the
// connection to the calls, and waits for it to end; when ctx ends first it
// says goodbye.
func (a *Adapter) serve(ctx context.Context, c *conn, cfg settingsOf) error {
	a.log.Info("authenticated", "address", cfg.address)
	return a.link.Serve(ctx, a.log, c, link.Conn{
		Reconcile: func() []sdk.Result {
			if desired := a.versions.Desired(); len(desired) > 0 {
				return a.process(ctx, c, cfg, desired, true)
			}
			return nil
		},
		Closed: c.Closed,
		Up:     "authenticated to the FreeSWITCH event socket at " + cfg.address,
		Wait: func() error {
			select {
			case <-ctx.Done():
			case <-c.Done():
			}
			return c.Closed()
		},
		Bye: func() { c.exit(cfg.timeout) },
	})
}

// permanent says whether err is FreeSWITCH's refusal (anything about the
// connection is worth retrying).
func permanent(err error) bool { return errors.As(err, new(*APIError)) }

// take checks an item: its agent name, or a result saying why it is
// skipped. Reconciles take the version already applied too.
func (a *Adapter) take(cfg settingsOf, it sdk.Availability, reconcile bool) (string, *sdk.Result) {
	return a.versions.TakeItem(it, cfg.identity, "a mod_callcenter agent", checkAgentName, reconcile)
}

func (a *Adapter) done(it sdk.Availability, msg string, err error) sdk.Result {
	return a.versions.Result(it, msg, err, permanent)
}

// ownedBy is the available status to give the agent back when the bridge
// holds the agent's busy status ("" when it does not).
func (a *Adapter) ownedBy(name string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.owned[name]
}

// setOwned records that the bridge holds the agent's busy status, to give
// back restore (own), or that it does not (!own).
func (a *Adapter) setOwned(name string, own bool, restore string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if own {
		if a.owned[name] == restore {
			return
		}
		a.owned[name] = restore
	} else {
		if _, ok := a.owned[name]; !ok {
			return
		}
		delete(a.owned, name)
	}
	a.dirty = true
}

// plan is what to do with one agent: the status to set ("" for none),
// whether the bridge then holds the agent's busy status and which
// available status it then gives back, and what to say.
type plan struct {
	set     string
	own     bool
	restore string
	msg     string
}

// decide applies the ownership rule to an agent whose status is cur. The
// bridge sets its busy status only over an available one, and gives an
// agent back only from the busy status it set itself; anything else is
// the agent's own choice and stays.
//
// An agent is given back the available status the agent had when the
// bridge set the break ("Available (On Demand)" stays on demand), or
// available_status when that is not known.
func (a *Adapter) decide(cfg settingsOf, name string, available bool, cur string) plan {
	restore := a.ownedBy(name)
	ours := cur == cfg.busy && restore != ""
	free := cur == StatusAvailable || cur == StatusAvailableOnDemand
	if available {
		switch {
		case ours:
			if restore != StatusAvailable && restore != StatusAvailableOnDemand {
				restore = cfg.available
			}
			return plan{set: restore, msg: fmt.Sprintf("set %q (was %q, set by the bridge)", restore, cur)}
		case free:
			return plan{msg: fmt.Sprintf("already %q", cur)}
		default:
			return plan{msg: fmt.Sprintf("left the agent's own status %q alone", cur)}
		}
	}
	switch {
	case free:
		return plan{set: cfg.busy, own: true, restore: cur, msg: fmt.Sprintf("set %q (was %q)", cfg.busy, cur)}
	case ours:
		return plan{own: true, restore: restore, msg: fmt.Sprintf("already %q, set by the bridge", cur)}
	default:
		return plan{msg: fmt.Sprintf("kept the agent's own status %q", cur)}
	}
}

// SetAvailability sets unavailable agents to the busy status and gives
// available ones back, under the ownership rule.
func (a *Adapter) SetAvailability(ctx context.Context, items []sdk.Availability) []sdk.Result {
	return a.apply(ctx, items, false)
}

// Reconcile reads every given agent and converges it to its desired state.
func (a *Adapter) Reconcile(ctx context.Context, desired []sdk.Availability) []sdk.Result {
	return a.apply(ctx, desired, true)
}

func (a *Adapter) apply(ctx context.Context, items []sdk.Availability, reconcile bool) []sdk.Result {
	c, cfg, cerr := a.link.Session(ctx)
	a.link.Op.Lock()
	defer a.link.Op.Unlock()
	if cerr != nil {
		return link.Unreachable(items, cerr, cfg.timeout != 0, func(it sdk.Availability) *sdk.Result { _, r := a.take(cfg, it, reconcile); return r })
	}
	return a.process(ctx, c, cfg, items, reconcile)
}

// process reads the status of every item's agent (pipelined), decides,
// and sets the statuses that change (pipelined). The caller holds a.link.Op.
func (a *Adapter) process(ctx context.Context, c *conn, cfg settingsOf, items []sdk.Availability, reconcile bool) []sdk.Result {
	out := make([]sdk.Result, len(items))
	names := make([]string, len(items))
	// One decision per mod_callcenter agent: of two items naming the same
	// agent, both read before either sets, the later one counts.
	last := map[string]int{}
	for i, it := range items {
		if name := it.Identities[cfg.identity]; name != "" {
			last[name] = i
		}
	}
	var idx []int
	var gets []string
	for i, it := range items {
		if name := it.Identities[cfg.identity]; name != "" && last[name] != i {
			out[i] = sdk.Result{AgentID: it.AgentID, Version: it.Version, Outcome: sdk.Ignored,
				Message: fmt.Sprintf("the mod_callcenter agent %q is given again later in the same call (agent %q, version %d), which counts", name, items[last[name]].AgentID, items[last[name]].Version)}
			continue
		}
		name, skip := a.take(cfg, it, reconcile)
		if skip != nil {
			out[i] = *skip
			continue
		}
		names[i] = name
		idx = append(idx, i)
		gets = append(gets, "callcenter_config agent get status "+name)
	}
	type change struct {
		i int
		p plan
	}
	var changes []change
	var sets []string
	for k, r := range c.apiAll(ctx, gets, cfg.timeout) {
		i := idx[k]
		cur, err := r.body, r.err
		var st string
		if err == nil {
			st, err = ParseStatus(gets[k], cur)
		}
		if err != nil {
			out[i] = a.done(items[i], "", err)
			continue
		}
		p := a.decide(cfg, names[i], items[i].Available, st)
		if p.set == "" {
			a.setOwned(names[i], p.own, p.restore)
			out[i] = a.done(items[i], p.msg, nil)
			continue
		}
		changes = append(changes, change{i, p})
		sets = append(sets, fmt.Sprintf("callcenter_config agent set status %s '%s'", names[i], p.set))
		if p.own {
			// Claimed before it is sent, and written down: a set whose
			// reply is lost (the connection drops, the adapter dies) may
			// well have been carried out, and a break of the bridge's
			// taken for the agent's own would never be given back.
			a.setOwned(names[i], true, p.restore)
		}
	}
	if len(sets) > 0 {
		a.saveState(cfg)
	}
	for k, r := range c.apiAll(ctx, sets, cfg.timeout) {
		ch := changes[k]
		err := r.err
		if err == nil {
			err = ParseOK(sets[k], r.body)
		}
		switch {
		case err == nil:
			a.setOwned(names[ch.i], ch.p.own, ch.p.restore)
		case errors.As(err, new(*APIError)) && ch.p.own:
			// FreeSWITCH refused: the agent's status did not change.
			a.setOwned(names[ch.i], false, "")
		}
		// Any other error leaves the outcome unknown: a claimed break
		// stays claimed, and a break given back stays the bridge's until
		// a read shows the agent available.
		out[ch.i] = a.done(items[ch.i], ch.p.msg, err)
	}
	a.saveState(cfg)
	return out
}

// stateHeader starts the state file.
const stateHeader = "# acdbridge freeswitch adapter: mod_callcenter agents it set to its busy status, and the status each gets back\n"

// readState reads the state file; a missing file is an empty state.
func readState(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("expected a readable state file: %w", err)
	}
	return parseState(path, b)
}

// parseState reads a state file's bytes: the header line, then one line
// per agent, its name, a tab and the available status to give it back,
// each line ended by a newline. Anything else (an empty
// file, one cut short, another file given as state_file) is an error
// saying what was expected: starting with no state instead would take
// every break the bridge holds for the agents' own, and keep them on
// break for good.
func parseState(path string, b []byte) (map[string]string, error) {
	const fix = "check state_file, or delete the file to start without state (the breaks the bridge holds are then left to the agents)"
	if !bytes.HasPrefix(b, []byte(stateHeader)) {
		return nil, fmt.Errorf("%s: expected the adapter's state file, starting with the line %q; got %q: %s", path, strings.TrimSuffix(stateHeader, "\n"), lines.Truncate(string(b), 60), fix)
	}
	owned := map[string]string{}
	rest := b[len(stateHeader):]
	if len(rest) == 0 {
		return owned, nil
	}
	if !bytes.HasSuffix(rest, []byte("\n")) {
		return nil, fmt.Errorf("%s: expected each line to end with a newline; got a file cut short, ending with %q: %s", path, lines.Truncate(string(rest[bytes.LastIndexByte(rest, '\n')+1:]), 60), fix)
	}
	for i, line := range strings.Split(string(rest[:len(rest)-1]), "\n") {
		name, restore, _ := strings.Cut(line, "\t")
		err := checkAgentName(name)
		switch {
		case err != nil:
		case name == "":
			err = errors.New("expected an agent name, got an empty line")
		case restore != StatusAvailable && restore != StatusAvailableOnDemand:
			err = fmt.Errorf("expected the agent name, a tab and %q or %q (the status to give back), got %q", StatusAvailable, StatusAvailableOnDemand, lines.Truncate(line, 60))
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w: %s", path, i+2, err, fix)
		}
		owned[name] = restore
	}
	return owned, nil
}

// saveState writes the owned agents to the state file, when there is one
// and they changed: to a temporary file, then renamed over it.
func (a *Adapter) saveState(cfg settingsOf) {
	a.mu.Lock()
	if cfg.stateFile == "" || !a.dirty {
		a.mu.Unlock()
		return
	}
	names := slices.Sorted(maps.Keys(a.owned))
	var b strings.Builder
	b.WriteString(stateHeader)
	for _, n := range names {
		b.WriteString(n + "\t" + a.owned[n] + "\n")
	}
	a.dirty = false
	a.mu.Unlock()
	// Its directory is made if missing (sample.hcl's ./data, say).
	err := os.MkdirAll(filepath.Dir(cfg.stateFile), 0o750)
	var tmp *os.File
	if err == nil {
		tmp, err = os.CreateTemp(filepath.Dir(cfg.stateFile), filepath.Base(cfg.stateFile)+".*")
	}
	if err == nil {
		_, err = tmp.WriteString(b.String())
		if err == nil {
			err = tmp.Sync() // on disk before it replaces the old file
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), cfg.stateFile)
		}
		if err != nil {
			os.Remove(tmp.Name())
		} else if dir, derr := os.Open(filepath.Dir(cfg.stateFile)); derr == nil {
			_ = dir.Sync() // the rename too (best effort: not every system can)
			dir.Close()
		}
	}
	if err != nil {
		a.mu.Lock()
		a.dirty = true // try again after the next change
		a.mu.Unlock()
		a.log.Error("cannot write the state file: after a restart the adapter will not know which busy statuses it set", "state_file", cfg.stateFile, "error", err)
	}
}
