package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
)

// triggerCmd runs an action an app declared with @pm2/io (PM2's trigger).
func (a *app) triggerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "trigger <name|id|namespace|all> <action> [param]",
		Short: "Run an action an app declared with @pm2/io and print its answer",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			req := api.TriggerRequest{Target: api.Target{Names: []string{args[0]}}, Action: args[1]}
			if len(args) == 3 {
				req.Param = args[2]
			}
			var out []api.TriggerReply
			if _, err := a.call(ctx, func(c *client.Client) (err error) { out, err = c.Trigger(ctx, req); return err }); err != nil {
				return err
			}
			for _, r := range out {
				b, _ := json.Marshal(r.Return)
				fmt.Fprintf(a.stdout, "[%s:%d]=%s\n", r.Name, r.PMID, b)
			}
			return nil
		},
	}
}
