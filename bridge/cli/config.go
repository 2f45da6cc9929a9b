package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/acdbridge/acdbridge/bridge/config"
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
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := config.Load(args[0]); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), config.Format(err))
				return errors.New(args[0] + " is not valid")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", args[0])
			return nil
		},
	})
	return cmd
}
