// Command minimal-adapter is an acdbridge adapter that logs availability
// changes: the example in docs/writing-an-adapter.md, word for word.
package main

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

type adapter struct {
	log     hclog.Logger
	applied map[string]uint64 // the newest version applied per agent
}

func (a *adapter) Info() sdk.Info                                    { return sdk.Info{Name: "minimal", Version: "0.1.0"} }
func (a *adapter) Configure(_ context.Context, s sdk.Settings) error { return s.Decode(&struct{}{}) }
func (a *adapter) Health(context.Context) sdk.Health                 { return sdk.Health{Status: sdk.Up} }

func (a *adapter) SetAvailability(_ context.Context, items []sdk.Availability) []sdk.Result {
	out := make([]sdk.Result, len(items))
	for i, it := range items {
		out[i] = sdk.Result{AgentID: it.AgentID, Version: it.Version, Outcome: sdk.Ignored}
		if it.Version > a.applied[it.AgentID] {
			a.applied[it.AgentID] = it.Version
			a.log.Info("availability", "agent", it.AgentID, "available", it.Available, "reason", it.Reason)
			out[i].Outcome = sdk.Applied
		}
	}
	return out
}

func (a *adapter) Reconcile(ctx context.Context, desired []sdk.Availability) []sdk.Result {
	return a.SetAvailability(ctx, desired)
}

func main() { sdk.Serve(&adapter{log: sdk.Logger("minimal"), applied: map[string]uint64{}}) }
