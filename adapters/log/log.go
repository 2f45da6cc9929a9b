// Package log is the log adapter: it prints every call it gets, through the
// adapter's logger, which the bridge relays under the instance's name. It is
// the default adapter of `acdbridge run` without a config, and the simplest
// complete adapter to read.
package log

import (
	"context"
	_ "embed"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// Version is the adapter's version.
const Version = "1.0.0"

// Sample is the adapter's sample configuration (sample.hcl).
//
//go:embed sample.hcl
var Sample string

// Adapter logs each call.
type Adapter struct {
	log hclog.Logger

	mu      sync.Mutex
	cfg     Config
	applied map[string]uint64 // newest version logged per agent
}

var (
	_ sdk.AvailabilityAdapter = (*Adapter)(nil)
	_ sdk.RequestAdapter      = (*Adapter)(nil)
	_ sdk.SessionAdapter      = (*Adapter)(nil)
	_ sdk.AlertAdapter        = (*Adapter)(nil)
)

// New makes the adapter; it logs to logger.
func New(logger hclog.Logger) *Adapter {
	return &Adapter{log: logger, cfg: defaultConfig(), applied: map[string]uint64{}}
}

// Info names the adapter and its settings.
func (a *Adapter) Info() sdk.Info {
	return sdk.Info{Name: "log", Version: Version, Settings: settings}
}

// Configure takes the settings.
func (a *Adapter) Configure(_ context.Context, s sdk.Settings) error {
	cfg, err := parseConfig(s)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.cfg = cfg
	a.mu.Unlock()
	a.log.Info("configured", "instance", s.Instance, "level", cfg.Level)
	return nil
}

func (a *Adapter) emit(msg string, args ...any) {
	a.mu.Lock()
	lvl := a.cfg.level
	a.mu.Unlock()
	a.log.Log(lvl, msg, args...)
}

// SetAvailability logs each change newer than the last one logged for its
// agent, and ignores the others.
func (a *Adapter) SetAvailability(_ context.Context, items []sdk.Availability) []sdk.Result {
	out := make([]sdk.Result, len(items))
	for i, it := range items {
		out[i] = a.apply("availability", it, false)
	}
	return out
}

// Reconcile logs the whole desired state.
func (a *Adapter) Reconcile(_ context.Context, desired []sdk.Availability) []sdk.Result {
	a.emit("reconcile", "agents", len(desired))
	out := make([]sdk.Result, len(desired))
	for i, it := range desired {
		out[i] = a.apply("reconciled", it, true)
	}
	return out
}

func (a *Adapter) apply(msg string, it sdk.Availability, reconcile bool) sdk.Result {
	res := sdk.Result{AgentID: it.AgentID, Version: it.Version, Outcome: sdk.Applied}
	a.mu.Lock()
	last, seen := a.applied[it.AgentID]
	if seen && (it.Version < last || it.Version == last && !reconcile) {
		a.mu.Unlock()
		res.Outcome = sdk.Ignored
		res.Message = "version already applied"
		return res
	}
	a.applied[it.AgentID] = it.Version
	a.mu.Unlock()
	a.emit(msg, "agent", it.AgentID, "name", it.AgentName, "available", it.Available, "state", it.State, "reason", it.Reason, "version", it.Version)
	return res
}

// HandleRequest logs a customer request.
func (a *Adapter) HandleRequest(_ context.Context, r sdk.Request) sdk.Result {
	a.emit("request", "id", r.ID, "queue", r.Queue, "status", r.Status, "fields", len(r.Fields))
	return sdk.Result{Outcome: sdk.Applied}
}

// HandleSession logs an ended session.
func (a *Adapter) HandleSession(_ context.Context, s sdk.Session) sdk.Result {
	a.emit("session", "id", s.ID, "agent", s.AgentID, "queue", s.Queue, "duration_seconds", s.DurationSeconds, "external_ref", s.ExternalRef)
	return sdk.Result{Outcome: sdk.Applied}
}

// HandleAlert logs an alert.
func (a *Adapter) HandleAlert(_ context.Context, al sdk.Alert) sdk.Result {
	a.emit("alert", "rule", al.Rule, "status", al.Status, "severity", al.Severity)
	return sdk.Result{Outcome: sdk.Applied}
}

// Health is always up: logging cannot fail in a way the bridge can mend.
func (a *Adapter) Health(context.Context) sdk.Health {
	return sdk.Health{Status: sdk.Up, Message: "logging"}
}

// Applied is the newest version logged for each agent (for tests and the
// conformance kit).
func (a *Adapter) Applied() map[string]uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]uint64, len(a.applied))
	for k, v := range a.applied {
		out[k] = v
	}
	return out
}
