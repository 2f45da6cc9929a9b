// Package cli holds acdbridge's cobra commands. Main runs them and maps the
// outcome to the exit status: 0 on success, 1 on failure, 2 on wrong usage.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// usageError is wrong usage: exit status 2.
type usageError struct{ error }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// Main runs acdbridge with args and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	fmt.Fprintln(stderr, "acdbridge: "+msg)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintln(stderr, "Run 'acdbridge --help' for usage.")
		return 2
	}
	return 1
}

// isCobraUsage recognises cobra's own usage errors (unknown command or flag,
// wrong number of arguments), which it does not type.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires at most", "required flag"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "acdbridge",
		Short:         "Bridge a remote-support service and a contact center",
		Long:          "acdbridge keeps ACDs, SIP presence, ticketing and CRMs in step with what agents do in a remote-support service.",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newVersionCmd(), newRunCmd(), newSimulateCmd(), newConfigCmd(), newEventsCmd(), newPluginsCmd(), newPluginServeCmd())
	root.AddCommand(newSessionsCmd())
	root.AddCommand(newReportCmd())
	root.AddCommand(newReviewCmd())
	root.AddCommand(newCodesCmd())
	return root
}
