package cli

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
)

func (a *app) webCmd() *cobra.Command {
	var req api.WebRequest
	var open bool
	cmd := &cobra.Command{
		Use:   "web",
		Short: "Serve the web dashboard from the daemon and print its URL (with its access token)",
		Long: `Asks the daemon to serve the dashboard on --addr (default: web_addr in $TEND_HOME/tend.json, else ` + api.DefaultWebAddr + `)
and prints its URL, which carries the access token. Running it again prints the same URL while the
dashboard serves; --stop ends it. Only loopback addresses unless --allow-remote.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			var resp api.WebResponse
			if req.Stop {
				// Nothing to stop when no daemon runs: do not start one.
				_, err := client.New(a.home).Web(ctx, req)
				if err != nil && !errors.Is(err, client.ErrNoDaemon) {
					return err
				}
				fmt.Fprintln(a.stderr, "[tend] Dashboard stopped.")
				return nil
			}
			if _, err := a.call(ctx, func(c *client.Client) (err error) { resp, err = c.Web(ctx, req); return err }); err != nil {
				return err
			}
			if resp.Remote {
				fmt.Fprintf(a.stderr, "[tend][WARN] the dashboard listens on %s, which other machines may reach, over plain HTTP: anyone who sees the URL can control your apps. Prefer an SSH tunnel to %s.\n", resp.Addr, api.DefaultWebAddr)
			}
			fmt.Fprintln(a.stdout, resp.URL)
			fmt.Fprintln(a.stderr, "[tend] The URL carries the dashboard's access token: keep it to yourself. `tend web --stop` ends the dashboard.")
			if open {
				if err := openBrowser(resp.URL); err != nil {
					fmt.Fprintf(a.stderr, "[tend] could not open a browser (%v): open the URL above yourself\n", err)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Addr, "addr", "", "host:port to serve on (port 0 picks a free one)")
	cmd.Flags().BoolVar(&req.AllowRemote, "allow-remote", false, "allow an address that is not loopback (other machines can reach it)")
	cmd.Flags().BoolVar(&req.Stop, "stop", false, "stop serving the dashboard")
	cmd.Flags().BoolVar(&open, "open", false, "open the dashboard in the default browser")
	return cmd
}

// openBrowser starts the system's URL opener without waiting for it.
func openBrowser(url string) error {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	c := exec.Command(name, url)
	if err := c.Start(); err != nil {
		return err
	}
	go c.Wait()
	return nil
}
