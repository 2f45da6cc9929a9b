package cli

import (
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/bridge/runtime"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with the bridge's configuration",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate FILE",
		Short: "Check a configuration file; errors as file:line:col: message",
		Args:  cobra.ExactArgs(1),
		Long: `Check a configuration file: its syntax, every block and attribute, and each
adapter's settings, which the adapter itself checks (it is started for that).
Errors are printed as file:line:col: message.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), config.Format(err))
				return errors.New(args[0] + " is not valid")
			}
			log := hclog.New(&hclog.LoggerOptions{Name: "acdbridge", Output: cmd.ErrOrStderr(), Level: hclog.Warn})
			if _, err := runtime.CheckAdapters(cmd.Context(), cfg, log); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return errors.New(args[0] + " is not valid")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", args[0])
			return nil
		},
	})
	return cmd
}
