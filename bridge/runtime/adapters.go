package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/bridge/availability"
	"github.com/acdbridge/acdbridge/bridge/bus"
	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/bridge/dispatch"
	"github.com/acdbridge/acdbridge/monitors"
	"github.com/acdbridge/acdbridge/plugins/host"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// launch starts one configured adapter and configures it; a setting it
// refuses is reported at its line in the config file.
func launch(ctx context.Context, cat host.Catalog, a config.Adapter, logger hclog.Logger) (*host.Plugin, error) {
	src, err := cat.Resolve(a.Type)
	if err != nil {
		return nil, fmt.Errorf("adapter %q %q: %w", a.Type, a.Name, err)
	}
	p, err := host.Launch(ctx, src, logger)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	errs, err := p.Configure(cctx, sdk.Settings{Instance: a.Name, JSON: a.Settings})
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("adapter %q %q: configure: %w", a.Type, a.Name, err)
	}
	if len(errs) > 0 {
		p.Kill()
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = a.FieldError(e.Field, e.Message)
		}
		return nil, &ConfigError{Lines: msgs}
	}
	return p, nil
}

// ConfigError is an adapter's refusal of its settings, a line per setting.
type ConfigError struct{ Lines []string }

func (e *ConfigError) Error() string { return strings.Join(e.Lines, "\n") }

// CheckAdapters starts every configured adapter once, has it validate its
// settings and describe itself; `acdbridge config validate` and the start of
// `run` use it. It returns each instance's description, by name.
func CheckAdapters(ctx context.Context, cfg config.Config, logger hclog.Logger) (map[string]sdk.Info, error) {
	cat, err := host.NewCatalog(cfg.PluginsDir)
	if err != nil {
		return nil, err
	}
	infos := map[string]sdk.Info{}
	var errs []error
	for _, a := range cfg.Adapters {
		p, err := launch(ctx, cat, a, logger.Named("adapter").Named(a.Name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		info, err := p.Describe(ctx)
		p.Kill()
		if err != nil {
			errs = append(errs, fmt.Errorf("adapter %q %q: describe: %w", a.Type, a.Name, err))
			continue
		}
		infos[a.Name] = info
	}
	return infos, errors.Join(errs...)
}

// startAdapters starts a dispatch worker per configured adapter.
func (b *Bridge) startAdapters(ctx context.Context, run func(func())) error {
	cfg := b.opts.Config
	if len(cfg.Adapters) == 0 {
		return nil
	}
	cat, err := host.NewCatalog(cfg.PluginsDir)
	if err != nil {
		return err
	}
	infos, err := CheckAdapters(ctx, cfg, b.log)
	if err != nil {
		return err
	}
	dm := dispatch.NewMetrics(b.opts.Registry)
	var starts []func()
	for _, a := range cfg.Adapters {
		logger := b.log.Named("adapter").Named(a.Name)
		caps := infos[a.Name].Capabilities
		var firing func() []monitors.Alert
		if slices.Contains(caps, sdk.CapAlerts) {
			firing = b.firingAlerts // a restarted adapter learns what fires (alerts.go)
		}
		w, err := dispatch.NewWorker(dispatch.Options{
			Name: a.Name, Desired: b.desired, Decorate: b.decorate, Logger: b.log, Metrics: dm,
			EventsOnly: !slices.Contains(caps, sdk.CapAvailability),
			Identities: infos[a.Name].Identities, Firing: firing,
		})
		if err != nil {
			return err
		}
		b.workers = append(b.workers, w)
		if slices.Contains(caps, sdk.CapAvailability) {
			b.dash.appliesAvailability(a.Name) // only these have an applied state per agent
		}
		starts = append(starts, func() {
			w.Run(ctx, func(ctx context.Context) (dispatch.Instance, error) {
				return launch(ctx, cat, a, logger)
			})
		})
		var kinds []string
		for _, c := range caps {
			switch c {
			case sdk.CapRequests:
				kinds = append(kinds, bus.KindRequest)
			case sdk.CapSessions:
				kinds = append(kinds, bus.KindSession)
			case sdk.CapAlerts:
				kinds = append(kinds, bus.KindAlert)
			}
		}
		if len(kinds) > 0 {
			// At least once, through a durable consumer of its own: what
			// arrives while the adapter or the bridge is down waits.
			run(func() {
				for ctx.Err() == nil {
					err := b.bus.ConsumeEvents(ctx, "adapter-"+a.Name, kinds, nil, w.HandleEvent)
					if err != nil {
						b.log.Error("events to the adapter stopped; starting again", "adapter", a.Name, "error", err)
						sleepCtx(ctx, 5*time.Second)
					}
				}
			})
		}
		var takes []string
		for _, c := range caps {
			takes = append(takes, string(c))
		}
		b.say("adapter: %s %q (%s %s) takes %s", a.Type, a.Name, infos[a.Name].Name, infos[a.Name].Version, strings.Join(takes, ", "))
	}
	// Workers follow the availability KV, as any subscriber could: a change
	// reaches them once it is stored. The watch is subscribed before the
	// workers start, whose first Reconcile covers everything stored before
	// it; after a failure it starts again from the current values (the
	// workers drop what they already have).
	workers := slices.Clone(b.workers)
	watching := make(chan struct{})
	run(func() {
		ready, all := sync.OnceFunc(func() { close(watching) }), false
		for ctx.Err() == nil {
			err := b.bus.WatchAvailability(ctx, all, ready, func(d availability.Desired) {
				for _, w := range workers {
					w.Offer(d)
				}
			})
			all = true
			if err != nil {
				b.log.Error("watching the availability bucket failed; starting again", "error", err)
				sleepCtx(ctx, time.Second)
			}
		}
	})
	select {
	case <-watching:
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, start := range starts {
		run(start)
	}
	return nil
}

// desired is the whole desired state, for an adapter's Reconcile.
func (b *Bridge) desired() map[string]availability.Desired {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.avail.All()
}

// decorate adds the agent's name and its identities from the directory.
func (b *Bridge) decorate(a *sdk.Availability) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ag, ok := b.agents.Get(a.AgentID)
	if !ok {
		ag.ID = a.AgentID
	}
	a.AgentName = ag.Name
	// An agent without some identity still goes out, with the ones it has:
	// the worker counts it against the adapters that need the missing one.
	a.Identities, _ = b.dir.Identities(ag)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
