package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
)

func (a *app) scaleCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "scale <app> <N|+N|-N>",
		Short: "Set the number of instances of an app; the others keep running",
		// "-1" is a count, not a flag.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
				return cmd.Help()
			}
			if len(args) != 2 {
				return fmt.Errorf("usage: tend scale <app> <N|+N|-N>, e.g. tend scale api 3")
			}
			ctx, cancel := a.ctx()
			defer cancel()
			var ps []api.Process
			c, err := a.call(ctx, func(c *client.Client) (err error) {
				ps, err = c.Scale(ctx, api.ScaleRequest{Name: args[0], Count: args[1]})
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "[tend] %s now runs %d instance%s\n", args[0], len(ps), plural(len(ps)))
			return a.done(ctx, c, ps)
		},
	}
}
