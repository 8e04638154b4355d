package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/client"
)

// updateCmd is PM2's `update`: the daemon is replaced by one of the binary
// this command runs from. PM2 saves, kills and restarts every app; tend's
// daemon detaches and the new one watches the same processes again.
func (a *app) updateCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "update",
		Aliases: []string{"updatePM2"},
		Short:   "Replace the daemon with this binary's; every app keeps running, same pid",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			c := client.New(a.home)
			ping, err := c.Ping(ctx)
			if errors.Is(err, client.ErrNoDaemon) {
				fmt.Fprintln(a.stderr, "[tend] No daemon is running; the next command starts one.")
				return nil
			}
			if err != nil {
				return err
			}
			before, err := c.List(ctx)
			if err != nil {
				return err
			}
			if err := c.Detach(ctx); errors.Is(err, client.ErrUnsupported) {
				return fmt.Errorf("the running daemon (pid %d, tend %s) predates tend update and cannot hand its apps over: "+
					"run `tend kill`, then start your apps again with this tend", ping.PID, ping.Version)
			} else if err != nil {
				return err
			}
			if err := waitDaemonGone(ctx, a.home, ping.PID); err != nil {
				return err
			}
			c, err = a.connect(ctx)
			if err != nil {
				return err
			}
			after, err := c.List(ctx)
			if err != nil {
				return err
			}
			kept := 0
			pids := map[int]int{}
			for _, p := range before {
				pids[p.PMID] = p.PID
			}
			for _, p := range after {
				if p.PID > 0 && pids[p.PMID] == p.PID {
					kept++
				}
			}
			now, err := c.Ping(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "[tend] Daemon replaced (pid %d → %d); %d running apps kept their pid.\n", ping.PID, now.PID, kept)
			a.printTable(after)
			return nil
		},
	}
}
