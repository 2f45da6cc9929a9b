package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/acdbridge/acdbridge/plugins/host"
	"github.com/acdbridge/acdbridge/plugins/plugintest"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// newPluginServeCmd is the hidden command built-in adapters run as:
// `acdbridge plugin serve NAME`.
func newPluginServeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "plugin", Hidden: true}
	cmd.AddCommand(&cobra.Command{
		Use:    "serve NAME",
		Short:  "Serve a built-in adapter as a plugin (run by the bridge, not by hand)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return host.ServeBuiltin(args[0])
		},
	})
	return cmd
}

func newPluginsCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "Adapters: built-in and found in the plugins folder",
	}
	cmd.PersistentFlags().StringVar(&dir, "plugins-dir", "./plugins", "folder of external adapter executables")
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the adapters with their versions and capabilities",
		Long: `List every adapter: the built-in ones and the executables in the plugins
folder (an external adapter overrides a built-in of the same type). Each is
started, asked to describe itself, and stopped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := host.NewCatalog(dir)
			if err != nil {
				return err
			}
			srcs, err := cat.List()
			if err != nil {
				return err
			}
			log := hclog.New(&hclog.LoggerOptions{Name: "plugins", Output: cmd.ErrOrStderr(), Level: hclog.Warn})
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TYPE\tORIGIN\tVERSION\tCAPABILITIES\tPATH")
			failed := 0
			for _, s := range srcs {
				info, err := describe(cmd.Context(), s, log)
				if err != nil {
					failed++
					fmt.Fprintf(w, "%s\t%s\t-\terror: %v\t%s\n", s.Type, s.Origin, err, s.Path)
					continue
				}
				var caps []string
				for _, c := range info.Capabilities {
					caps = append(caps, string(c))
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.Type, s.Origin, info.Version, strings.Join(caps, ","), s.Path)
			}
			w.Flush()
			if failed > 0 {
				return fmt.Errorf("%d adapter(s) could not be started; see the error column", failed)
			}
			return nil
		},
	})
	var settings string
	check := &cobra.Command{
		Use:   "check NAME-OR-PATH",
		Short: "Run the conformance kit on an adapter; a pass/fail line per check",
		Long: `Run the conformance kit (plugins/plugintest) on an adapter: a built-in or
plugins-folder adapter by type, or any executable by path. It starts the
adapter, checks the protocol's rules one by one (see docs/writing-an-adapter.md),
kills it with SIGKILL and checks it again after a restart. Exit status 1 when
any check fails.`,
		Example: `  acdbridge plugins check log
  acdbridge plugins check ./plugins/my-adapter --settings my-adapter.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var src host.Source
			if strings.ContainsRune(args[0], os.PathSeparator) {
				abs, err := filepath.Abs(args[0])
				if err != nil {
					return err
				}
				src = host.Source{Type: filepath.Base(abs), Origin: host.External, Path: abs}
			} else {
				cat, err := host.NewCatalog(dir)
				if err != nil {
					return err
				}
				if src, err = cat.Resolve(args[0]); err != nil {
					return err
				}
			}
			var js []byte
			if settings != "" {
				b, err := os.ReadFile(settings)
				if err != nil {
					return fmt.Errorf("--settings: %w", err)
				}
				js = b
			}
			log := hclog.New(&hclog.LoggerOptions{Name: "adapter", Output: cmd.ErrOrStderr(), Level: hclog.Warn})
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "conformance of %s (%s)\n", src.Type, src.Path)
			failed := 0
			for _, r := range plugintest.Run(cmd.Context(), plugintest.Options{Source: src, Settings: js, Logger: log}) {
				if r.Err != nil {
					failed++
					fmt.Fprintf(out, "FAIL  %s: %v\n", r.Name, r.Err)
				} else {
					fmt.Fprintf(out, "PASS  %s\n", r.Name)
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d check(s) failed", failed)
			}
			return nil
		},
	}
	check.Flags().StringVar(&settings, "settings", "", "a JSON file with settings the adapter must accept (default {})")
	cmd.AddCommand(check)
	return cmd
}

// describe starts an adapter, asks it to describe itself, and stops it.
func describe(ctx context.Context, s host.Source, log hclog.Logger) (sdk.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := host.Launch(ctx, s, log.Named(s.Type))
	if err != nil {
		return sdk.Info{}, err
	}
	defer p.Kill()
	return p.Describe(ctx)
}
