// Package plugintest is the conformance kit: checks that any adapter
// executable, in any language, must pass to work with acdbridge. It backs
// `acdbridge plugins check NAME-OR-PATH` and, through Test, a vendor's own Go
// tests.
//
// The checks, in order: the adapter describes itself; it refuses an unknown
// setting and names it; it accepts the settings given; it reports its
// health; with the availability capability it reconciles a whole state,
// applies changes idempotently, ignores stale versions, and after a SIGKILL
// and a restart reconciles again; with the other capabilities it answers
// each call with an outcome.
package plugintest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/plugins/host"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// UnknownSetting is the setting the kit sends to see it refused.
const UnknownSetting = "acdbridge_conformance_unknown_setting"

// Options say what to check and how.
type Options struct {
	Source   host.Source  // how to start the adapter
	Settings []byte       // settings it must accept (a JSON object); empty: {}
	Agents   int          // agents in the availability checks (default 20)
	Logger   hclog.Logger // the adapter's log; nil: discarded
	Timeout  time.Duration
	// FarSide, if set, checks the far side (a fake server's state) against
	// the kit's last desired state while the adapter still runs: once the
	// kit stops it, the adapter's Close may take back what it set.
	FarSide func(ctx context.Context) error
}

// Result is one check's outcome: passed when Err is nil; skipped checks are
// not listed.
type Result struct {
	Name string
	Err  error
}

// Run runs every check that applies and returns their results in order.
func Run(ctx context.Context, o Options) []Result {
	if len(o.Settings) == 0 {
		o.Settings = []byte("{}")
	}
	if o.Agents <= 0 {
		o.Agents = 20
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	k := &kit{o: o}
	defer k.stop()
	var out []Result
	check := func(name string, f func(context.Context) error) bool {
		cctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		err := f(cctx)
		out = append(out, Result{Name: name, Err: err})
		return err == nil
	}
	if !check("starts and completes the handshake", k.start) {
		return out
	}
	check("describes itself", k.describe)
	check("refuses an unknown setting and names it", k.refusesUnknown)
	if !check("accepts the settings given", k.configure) {
		return out
	}
	check("reports its health", k.health)
	if k.has(sdk.CapAvailability) {
		check("reconciles a whole desired state", k.reconcile)
		check("applies changes idempotently", k.idempotent)
		check("ignores stale versions", k.stale)
		check("survives SIGKILL: restarts and reconciles", k.killAndRestart)
		if o.FarSide != nil {
			check("the far side shows the last desired state", o.FarSide)
		}
	}
	if k.has(sdk.CapRequests) {
		check("handles a request", func(ctx context.Context) error {
			r, err := k.p.HandleRequest(ctx, sdk.Request{ID: "r-conformance", Queue: "support", Status: "waiting", CreatedAt: time.Now(), Fields: map[string]string{"serial_number": "SN-1"}})
			return outcome(r, err)
		})
	}
	if k.has(sdk.CapSessions) {
		check("handles a session", func(ctx context.Context) error {
			now := time.Now()
			r, err := k.p.HandleSession(ctx, sdk.Session{ID: "s-conformance", AgentID: "a-0001", Queue: "support", StartedAt: now.Add(-time.Minute), EndedAt: now, DurationSeconds: 60})
			return outcome(r, err)
		})
	}
	if k.has(sdk.CapAlerts) {
		check("handles an alert", func(ctx context.Context) error {
			r, err := k.p.HandleAlert(ctx, sdk.Alert{Rule: "conformance", Status: "firing", Severity: "info", StartsAt: time.Now()})
			return outcome(r, err)
		})
	}
	return out
}

// Test runs the kit as subtests of t.
func Test(t *testing.T, o Options) {
	t.Helper()
	for _, r := range Run(context.Background(), o) {
		t.Run(r.Name, func(t *testing.T) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		})
	}
}

type kit struct {
	o    Options
	p    *host.Plugin
	info sdk.Info
}

func (k *kit) stop() {
	if k.p != nil {
		k.p.Kill()
	}
}

func (k *kit) has(c sdk.Capability) bool { return slices.Contains(k.info.Capabilities, c) }

func (k *kit) start(ctx context.Context) error {
	p, err := host.Launch(ctx, k.o.Source, k.o.Logger)
	if err != nil {
		return err
	}
	k.p = p
	return nil
}

func (k *kit) describe(ctx context.Context) error {
	info, err := k.p.Describe(ctx)
	if err != nil {
		return err
	}
	k.info = info
	switch {
	case info.Name == "":
		return errors.New("Describe gave no name")
	case info.Version == "":
		return errors.New("Describe gave no version")
	}
	for _, s := range info.Settings {
		if s.Name == "" {
			return errors.New("Describe lists a setting without a name")
		}
	}
	return nil
}

func (k *kit) refusesUnknown(ctx context.Context) error {
	var m map[string]any
	if err := json.Unmarshal(k.o.Settings, &m); err != nil {
		return fmt.Errorf("the settings given are not a JSON object: %w", err)
	}
	m[UnknownSetting] = true
	js, _ := json.Marshal(m)
	errs, err := k.p.Configure(ctx, sdk.Settings{Instance: "conformance", JSON: js})
	if err != nil {
		return err
	}
	for _, e := range errs {
		if e.Field == UnknownSetting {
			return nil
		}
	}
	if len(errs) == 0 {
		return fmt.Errorf("the unknown setting %q was accepted; an adapter must refuse settings it does not know (a typo would go unnoticed)", UnknownSetting)
	}
	return fmt.Errorf("refused, but no error names the field %q: %+v", UnknownSetting, errs)
}

func (k *kit) configure(ctx context.Context) error {
	errs, err := k.p.Configure(ctx, sdk.Settings{Instance: "conformance", JSON: k.o.Settings})
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return fmt.Errorf("the settings given were refused: %+v", errs)
	}
	return nil
}

func (k *kit) health(ctx context.Context) error {
	h, err := k.p.Health(ctx)
	if err != nil {
		return err
	}
	if h.Status < sdk.Up || h.Status > sdk.Down {
		return fmt.Errorf("health status %d is none of up, degraded, down", h.Status)
	}
	return nil
}

// state is the desired state at version v for the kit's agents.
func (k *kit) state(v uint64) []sdk.Availability {
	out := make([]sdk.Availability, k.o.Agents)
	for i := range out {
		available := (i+int(v))%2 == 0
		a := sdk.Availability{AgentID: fmt.Sprintf("a-%04d", i+1), AgentName: fmt.Sprintf("Agent %d", i+1), Available: available,
			State: "available", Version: v, Since: time.Now(), Identities: map[string]string{"interface": fmt.Sprintf("PJSIP/%d", 1001+i)}}
		if !available {
			a.State, a.Reason = "in_session", "remote-support"
		}
		out[i] = a
	}
	return out
}

// expect checks one result per item, in order, each with an allowed outcome.
func expect(items []sdk.Availability, rs []sdk.Result, err error, allowed ...sdk.Outcome) error {
	if err != nil {
		return err
	}
	if len(rs) != len(items) {
		return fmt.Errorf("%d results for %d items", len(rs), len(items))
	}
	for i, r := range rs {
		if r.AgentID != items[i].AgentID || r.Version != items[i].Version {
			return fmt.Errorf("result %d is for %s v%d, the item was %s v%d: results must follow the items' order", i, r.AgentID, r.Version, items[i].AgentID, items[i].Version)
		}
		if !slices.Contains(allowed, r.Outcome) {
			return fmt.Errorf("agent %s v%d: outcome %s (%s), want one of %v", r.AgentID, r.Version, r.Outcome, r.Message, allowed)
		}
	}
	return nil
}

func (k *kit) reconcile(ctx context.Context) error {
	items := k.state(1)
	rs, err := k.p.Reconcile(ctx, items)
	return expect(items, rs, err, sdk.Applied, sdk.Ignored)
}

func (k *kit) idempotent(ctx context.Context) error {
	items := k.state(2)
	rs, err := k.p.SetAvailability(ctx, items)
	if err := expect(items, rs, err, sdk.Applied, sdk.Ignored); err != nil {
		return err
	}
	rs, err = k.p.SetAvailability(ctx, items)
	if err := expect(items, rs, err, sdk.Applied, sdk.Ignored); err != nil {
		return fmt.Errorf("the same batch again: %w", err)
	}
	return nil
}

func (k *kit) stale(ctx context.Context) error {
	items := k.state(1)
	rs, err := k.p.SetAvailability(ctx, items)
	if err := expect(items, rs, err, sdk.Ignored); err != nil {
		return fmt.Errorf("version 1 after version 2: %w", err)
	}
	return nil
}

func (k *kit) killAndRestart(ctx context.Context) error {
	pid := k.p.Pid()
	if pid == 0 {
		return errors.New("no process id to kill")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 %d: %w", pid, err)
	}
	for !k.p.Exited() {
		select {
		case <-ctx.Done():
			return errors.New("the process did not exit after SIGKILL")
		case <-time.After(10 * time.Millisecond):
		}
	}
	k.p.Kill()
	k.p = nil
	if err := k.start(ctx); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	if err := k.configure(ctx); err != nil {
		return fmt.Errorf("after restart: %w", err)
	}
	items := k.state(3)
	rs, err := k.p.Reconcile(ctx, items)
	if err := expect(items, rs, err, sdk.Applied, sdk.Ignored); err != nil {
		return fmt.Errorf("reconcile after restart: %w", err)
	}
	return k.health(ctx)
}

func outcome(r sdk.Result, err error) error {
	if err != nil {
		return err
	}
	if r.Outcome < sdk.Applied || r.Outcome > sdk.Permanent {
		return fmt.Errorf("outcome %d is none of applied, ignored, retryable, permanent", r.Outcome)
	}
	return nil
}
