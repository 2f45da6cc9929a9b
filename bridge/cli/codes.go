package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/acdbridge/acdbridge/bridge/api"
	"github.com/acdbridge/acdbridge/bridge/config"
	"github.com/acdbridge/acdbridge/bridge/runtime"
	"github.com/acdbridge/acdbridge/bridge/source"
)

func newCodesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "codes",
		Short: "Phone-mode connection codes",
	}
	var file, agent, ref, queue string
	var ttl time.Duration
	var asJSON bool
	create := &cobra.Command{
		Use:   "create --agent A --external-ref REF [--queue Q] [--ttl DUR] [--json] --config FILE",
		Short: "Make a connection code tied to a ticket: the agent reads it to the caller",
		Long: `Make a phone-mode connection code: the agent reads it to the caller on the
phone, the caller enters it, and the session that starts carries
--external-ref (a ticket or CRM record), which write-back adapters such as rt
use to find the ticket.

It asks the remote-support service named by the config's source block
directly (POST /v1/connection-codes, with the source's token), so it works
whether or not the bridge is running and needs no API token of the bridge.
A config without a source block runs the bridge's own in-process simulator,
which nothing outside the running bridge can reach: there, make codes
through the running bridge's API instead, with a supervisor token:

  curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
    -d '{"agent": "a-0001", "external_ref": "1234"}' http://127.0.0.1:8080/api/v1/connection-codes

Prints the code, its agent, queue, external_ref and expiry (--json: the API's
JSON).`,
		Example: `  acdbridge codes create --agent a-0001 --external-ref 1234 --config acdbridge.hcl
  acdbridge codes create --agent a-0001 --external-ref 1234 --queue support/printers --ttl 30m --json --config acdbridge.hcl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case strings.TrimSpace(agent) == "":
				return usagef("codes create: --agent: expected the id of the agent who reads the code to the caller, like a-0001")
			case ref == "":
				return usagef("codes create: --external-ref: expected the ticket or CRM record the session belongs to, like 1234")
			case file == "":
				return usagef("codes create: --config: expected the bridge's config file, whose source block names the remote-support service")
			}
			cfg, err := config.Load(file)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), config.Format(err))
				return errors.New(file + " is not valid")
			}
			if cfg.Source == nil {
				return fmt.Errorf("codes create: %s has no source block: the bridge runs its own in-process simulator, which only the running bridge reaches; make the code through its API (POST /api/v1/connection-codes, see acdbridge codes create --help)", file)
			}
			src, err := source.New(runtime.SourceConfig(cfg.Source), nil, nil)
			if err != nil {
				return fmt.Errorf("codes create: %w", err)
			}
			req := api.CodeRequest{Agent: strings.TrimSpace(agent), ExternalRef: ref, Queue: strings.TrimSpace(queue)}
			code, err := src.CreateConnectionCode(cmd.Context(), source.CodeRequest{AgentID: req.Agent, Queue: req.Queue, ExternalRef: req.ExternalRef, TTL: ttl})
			if err != nil {
				return fmt.Errorf("codes create: %w", runtime.CodeError(req, err))
			}
			out := api.Code{Code: code.Code, AgentID: code.AgentID, ExternalRef: code.ExternalRef, Queue: code.Queue, ExpiresAt: code.ExpiresAt}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				return enc.Encode(out)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "code:         %s\n", out.Code)
			fmt.Fprintf(w, "agent:        %s\n", out.AgentID)
			fmt.Fprintf(w, "queue:        %s\n", out.Queue)
			fmt.Fprintf(w, "external_ref: %s\n", out.ExternalRef)
			fmt.Fprintf(w, "expires_at:   %s\n", out.ExpiresAt.UTC().Format(time.RFC3339))
			return nil
		},
	}
	fl := create.Flags()
	fl.StringVar(&agent, "agent", "", "the agent who reads the code to the caller (required), like a-0001")
	fl.StringVar(&ref, "external-ref", "", "the ticket or CRM record the session belongs to (required), like 1234")
	fl.StringVar(&queue, "queue", "", "a queue the agent serves (default: the service's choice, the agent's first queue)")
	fl.DurationVar(&ttl, "ttl", 0, "how long the code lasts, whole seconds up to 24h (default: the service's)")
	fl.BoolVar(&asJSON, "json", false, "print the code as the API's JSON")
	fl.StringVar(&file, "config", "", "the bridge's HCL config file (required): its source block names the remote-support service")
	cmd.AddCommand(create)
	return cmd
}
