package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/tui"
)

func (a *app) monitCmd() *cobra.Command {
	var filter string
	cmd := &cobra.Command{
		Use:     "monit [filter]",
		Aliases: []string{"dashboard", "dash"},
		Short:   "Full-screen dashboard: apps, CPU and memory, live logs, actions",
		Long: `Full-screen dashboard of every app: status, restarts, CPU and memory with a
short history, and the live log of the selected app.

Keys: ↑/↓ (k/j) select, PgUp/PgDn, Home/End; r restart, R reload, s stop,
d delete (asks y/n); / filter by name, namespace or status (Enter keeps it,
Esc clears it); c clears the log pane; q or Ctrl-C quits.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				filter = args[0]
			}
			if !isTerminal(os.Stdout) || !isTerminal(os.Stdin) {
				return fmt.Errorf("monit needs a terminal; use `tend ls` or `tend jlist` in scripts")
			}
			ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGHUP)
			defer cancel()
			c, err := a.connect(ctx)
			if err != nil {
				return err
			}
			return tui.Run(ctx, c, tui.Options{Filter: filter})
		},
	}
	return cmd
}
