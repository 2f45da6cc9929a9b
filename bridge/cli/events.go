package cli

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/acdbridge/acdbridge/bridge/bus"
)

func newEventsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Watch what the bridge publishes on the bus",
	}
	var url, creds string
	tail := &cobra.Command{
		Use:   "tail [SUBJECT]",
		Short: "Print what the bridge publishes, as a third-party subscriber sees it",
		Long: `Print every message the bridge publishes on SUBJECT (default acdbridge.>),
one line each: the subject, then the JSON payload. It connects like any other
NATS client would.`,
		Example: `  acdbridge events tail
  acdbridge events tail 'acdbridge.availability.>'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			subject := "acdbridge.>"
			if len(args) == 1 {
				subject = args[0]
			}
			var opts []nats.Option
			if creds != "" {
				opts = append(opts, nats.UserCredentials(creds))
			}
			out := cmd.OutOrStdout()
			return bus.Tail(cmd.Context(), url, opts, subject, func(subj string, data []byte) {
				fmt.Fprintf(out, "%s %s\n", subj, data)
			})
		},
	}
	tail.Flags().StringVar(&url, "url", "nats://127.0.0.1:4222", "NATS server the bridge publishes to")
	tail.Flags().StringVar(&creds, "creds", "", "NATS credentials file")
	cmd.AddCommand(tail)
	return cmd
}
