package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/bridge/availability"
	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/bridge/dispatch"
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

// CheckAdapters starts every configured adapter once and has it validate
// its settings; `acdbridge config validate` and the start of `run` use it.
func CheckAdapters(ctx context.Context, cfg config.Config, logger hclog.Logger) error {
	cat, err := host.NewCatalog(cfg.PluginsDir)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range cfg.Adapters {
		p, err := launch(ctx, cat, a, logger.Named("adapter").Named(a.Name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Kill()
	}
	return errors.Join(errs...)
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
	if err := CheckAdapters(ctx, cfg, b.log); err != nil {
		return err
	}
	dm := dispatch.NewMetrics(b.opts.Registry)
	for _, a := range cfg.Adapters {
		logger := b.log.Named("adapter").Named(a.Name)
		w, err := dispatch.NewWorker(dispatch.Options{
			Name: a.Name, Desired: b.desired, Decorate: b.decorate, Logger: b.log, Metrics: dm,
		})
		if err != nil {
			return err
		}
		b.workers = append(b.workers, w)
		run(func() {
			w.Run(ctx, func(ctx context.Context) (dispatch.Instance, error) {
				return launch(ctx, cat, a, logger)
			})
		})
		b.say("adapter: %s %q delivering availability", a.Type, a.Name)
	}
	return nil
}

// desired is the whole desired state, for an adapter's Reconcile.
func (b *Bridge) desired() map[string]availability.Desired {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.avail.All()
}

// decorate adds the agent's name for the adapter.
func (b *Bridge) decorate(a *sdk.Availability) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ag, ok := b.agents.Get(a.AgentID); ok {
		a.AgentName = ag.Name
	}
}
