package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/bridge/runtime"
)

func newRunCmd() *cobra.Command {
	var file, logFormat, logLevel string
	var summary time.Duration
	var memLimit string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the bridge",
		Long: `Run the bridge: read the remote-support service, decide every agent's
availability, and publish it on NATS.

Without --config it runs on embedded defaults: an in-process simulator as the
source, an embedded NATS server with JetStream under ./data, and metrics,
health and readiness on 127.0.0.1:8080. The console shows each availability
change and a periodic summary.

ACDBRIDGE_PPROF=127.0.0.1:6060 (a loopback address only) serves Go's
profiling endpoints under /debug/pprof/ there; it is off unless set.`,
		Example: `  acdbridge run
  acdbridge run --config configs/remote-source.hcl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd, "acdbridge", logFormat, logLevel)
			if err != nil {
				return err
			}
			cfg := config.Defaults()
			if file != "" {
				if cfg, err = config.Load(file); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), config.Format(err))
					return errors.New(file + " is not valid")
				}
			}
			limit, autoLimit, err := applyMemoryLimit(memLimit, cmd.Flags().Changed("memory-limit"))
			if err != nil {
				return err
			}
			log.Debug("Go soft memory limit", "bytes", limit, "auto", autoLimit)
			stopPprof, err := startPprof(log)
			if err != nil {
				return err
			}
			defer stopPprof()
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			b, err := runtime.New(runtime.Options{Config: cfg, Logger: log, Registry: reg, Console: cmd.OutOrStdout(), SummaryEvery: summary})
			if err != nil {
				return err
			}
			if autoLimit {
				ctx, stop := context.WithCancel(cmd.Context())
				defer stop()
				go followAgents(ctx, b.AgentCount, 10*time.Second)
			}
			return b.Run(cmd.Context(), func() {
				fmt.Fprintln(cmd.OutOrStdout(), "acdbridge is running; Ctrl-C stops it.")
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&file, "config", "", "HCL configuration file (default: embedded defaults, see configs/acdbridge.hcl)")
	fl.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&logLevel, "log-level", "info", "log level: trace, debug, info, warn or error")
	fl.DurationVar(&summary, "summary-every", 30*time.Second, "how often the console prints a summary")
	fl.StringVar(&memLimit, "memory-limit", "auto", "soft memory limit for the Go runtime: auto (240MiB, or 2.4KiB for each agent followed when that is more), a size such as 512MiB, or 0 for none; GOMEMLIMIT, when set, wins over the default")
	return cmd
}
