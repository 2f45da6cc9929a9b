package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/acdbridge/acdbridge/simulator"
)

type simulateFlags struct {
	listen, token, scenario, history, start, logFormat, logLevel string
	seed                                                         uint64
	agents, queues, streamBuffer                                 int
	speed                                                        float64
	heartbeat                                                    time.Duration
	faults                                                       simulator.Faults
}

func newSimulateCmd() *cobra.Command {
	var f simulateFlags
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Run the remote-support service simulator",
		Long: `Run the remote-support service simulator: agents, queues, customer requests,
sessions with their records and recordings, and phone-mode connection codes,
served as the Remote Support API v1 (simulator/openapi.yaml).

The same --seed, scenario and --start give byte-identical session records.`,
		Example: `  acdbridge simulate
  acdbridge simulate --agents 500 --queues 40 --speed 10 --history 30d
  acdbridge simulate --scenario configs/simulator/helpdesk.hcl --token "$TOKEN"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimulate(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8089", "address to serve the API on")
	fl.StringVar(&f.token, "token", "", "bearer token required on every call (default: $ACDBRIDGE_SIMULATOR_TOKEN, or a generated one, printed)")
	fl.Uint64Var(&f.seed, "seed", 1, "random seed; the same seed and settings give the same sessions")
	fl.IntVar(&f.agents, "agents", 20, "number of agents (without --scenario)")
	fl.IntVar(&f.queues, "queues", 6, "number of queues, a third of them top-level (without --scenario)")
	fl.Float64Var(&f.speed, "speed", 1, "simulated time runs this many times faster than wall time")
	fl.StringVar(&f.history, "history", "0", "generate this much past session history at start, like 30d (at most the 90-day retention)")
	fl.StringVar(&f.scenario, "scenario", "", "HCL scenario file with queues, agents, rates and shares (see configs/simulator/)")
	fl.StringVar(&f.start, "start", "", "simulated time at start, RFC 3339 (default: now)")
	fl.IntVar(&f.streamBuffer, "stream-buffer", 100000, "stream events kept for clients that resume")
	fl.DurationVar(&f.heartbeat, "heartbeat", 15*time.Second, "stream heartbeat interval")
	fl.Float64Var(&f.faults.ErrorRate, "fault-error-rate", 0, "share of calls answered 503")
	fl.IntVar(&f.faults.LatencyMS, "fault-latency-ms", 0, "milliseconds added to every call")
	fl.Float64Var(&f.faults.MalformedRate, "fault-malformed-rate", 0, "share of calls answered 200 with a truncated JSON body")
	fl.Float64Var(&f.faults.ErrorBodyRate, "fault-error-body-rate", 0, "share of calls answered 200 with an error body")
	fl.Float64Var(&f.faults.StreamDropRate, "fault-stream-drop-rate", 0, "chance per stream event that the stream is cut")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: trace, debug, info, warn or error")
	return cmd
}

// buildScenario turns the flags into a scenario: a file's, or the default one
// sized by --agents and --queues, with the flags that were set on top.
func buildScenario(cmd *cobra.Command, f simulateFlags) (simulator.Scenario, error) {
	fl := cmd.Flags()
	var sc simulator.Scenario
	if f.scenario != "" {
		if fl.Changed("agents") || fl.Changed("queues") {
			return sc, usagef("--agents and --queues size the default scenario; with --scenario, set agents and queues in the file")
		}
		var err error
		if sc, err = simulator.LoadScenario(f.scenario); err != nil {
			return sc, err
		}
	} else {
		if f.agents < 0 || f.agents > 1_000_000 {
			return sc, usagef("--agents: expected 0 to 1000000, got %d", f.agents)
		}
		if f.queues < 1 || f.queues > 100_000 {
			return sc, usagef("--queues: expected 1 to 100000, got %d", f.queues)
		}
		sc = simulator.DefaultScenario(f.agents, f.queues)
	}
	if fl.Changed("seed") || f.scenario == "" {
		sc.Seed = f.seed
	}
	if fl.Changed("speed") || f.scenario == "" {
		if f.speed <= 0 || f.speed > 1e6 {
			return sc, usagef("--speed: expected more than 0 and at most 1000000, got %g", f.speed)
		}
		sc.Speed = f.speed
	}
	if fl.Changed("history") || f.scenario == "" {
		d, err := simulator.ParseDuration(f.history)
		if err != nil {
			return sc, usagef("--history: %v", err)
		}
		sc.History = d
	}
	if sc.History > sc.Retention {
		return sc, usagef("--history %s is longer than the retention of %s", f.history, sc.Retention)
	}
	if f.start != "" {
		t, err := time.Parse(time.RFC3339, f.start)
		if err != nil {
			return sc, usagef("--start: expected an RFC 3339 time like 2026-11-02T08:00:00Z, got %q", f.start)
		}
		sc.Start = t.UTC()
	}
	for _, name := range []string{"fault-error-rate", "fault-latency-ms", "fault-malformed-rate", "fault-error-body-rate", "fault-stream-drop-rate"} {
		if fl.Changed(name) {
			sc.Faults = f.faults
			break
		}
	}
	return sc, nil
}

func newLogger(cmd *cobra.Command, name, format, level string) (hclog.Logger, error) {
	if format != "text" && format != "json" {
		return nil, usagef("--log-format: expected text or json, got %q", format)
	}
	lvl := hclog.LevelFromString(level)
	if lvl == hclog.NoLevel {
		return nil, usagef("--log-level: expected trace, debug, info, warn or error, got %q", level)
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: lvl, Output: cmd.ErrOrStderr(), JSONFormat: format == "json"}), nil
}

func runSimulate(cmd *cobra.Command, f simulateFlags) error {
	log, err := newLogger(cmd, "simulator", f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	sc, err := buildScenario(cmd, f)
	if err != nil {
		return err
	}
	token, generated := f.token, false
	if token == "" {
		token = os.Getenv("ACDBRIDGE_SIMULATOR_TOKEN")
	}
	if token == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("generate a token: %w", err)
		}
		token, generated = hex.EncodeToString(b), true
	}
	start := sc.Start
	if start.IsZero() {
		start = time.Now().UTC()
	}
	eng, err := simulator.NewEngine(sc, simulator.NewScaledClock(start, sc.Speed), f.streamBuffer)
	if err != nil {
		return err
	}
	srv, err := simulator.NewServer(eng, simulator.Options{Token: token, Logger: log, Heartbeat: f.heartbeat})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another simulator running? pick another address with --listen)", f.listen, err)
	}
	base := "http://" + ln.Addr().String()
	out := cmd.OutOrStdout()
	agents := 0
	for _, g := range sc.Agents {
		agents += g.Count
	}
	fmt.Fprintf(out, "acdbridge simulator: %d agents, %d queues, seed %d, speed %gx, history %s\n", agents, len(sc.Queues), sc.Seed, sc.Speed, sc.History)
	fmt.Fprintf(out, "listening on %s\n", base)
	shown := "$TOKEN"
	if generated {
		fmt.Fprintf(out, "token: %s (generated; set one with --token or $ACDBRIDGE_SIMULATOR_TOKEN)\n", token)
		shown = token
	} else {
		fmt.Fprintln(out, "token: the one given with --token or $ACDBRIDGE_SIMULATOR_TOKEN")
	}
	auth := "-H 'Authorization: Bearer " + shown + "'"
	fmt.Fprintln(out, "try:")
	for _, c := range []string{
		"curl -s " + auth + " " + base + "/v1/monitors/agents",
		"curl -s " + auth + " " + base + "/v1/monitors/queues",
		"curl -sN " + auth + " " + base + "/v1/monitors/stream",
		"curl -s " + auth + " -d queue=support -d name=Ada -d 'fields[serial_number]=SN-1' " + base + "/v1/requests",
		"curl -s " + auth + " '" + base + "/v1/sessions?limit=5'",
	} {
		fmt.Fprintln(out, "  "+c)
	}
	fmt.Fprintln(out, "Ctrl-C stops it.")

	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	go eng.Run(ctx)
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	srv.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
