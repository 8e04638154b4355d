package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
	"github.com/tend-dev/tend/internal/config"
	"github.com/tend-dev/tend/internal/daemon"
)

const dumpFile = daemon.DumpFile

// saveCmd is PM2's `save`: the apps' options, as the daemon runs them (env
// included), for `tend resurrect` after a reboot or a `tend kill`.
func (a *app) saveCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "save",
		Aliases: []string{"dump"},
		Short:   "Write every app's options to $TEND_HOME/" + dumpFile + ", for tend resurrect",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			apps, err := client.New(a.home).Apps(ctx)
			empty := errors.Is(err, client.ErrNoDaemon) || (err == nil && len(apps) == 0)
			if empty && a.pf.force {
				apps, err = []config.App{}, nil // PM2's save --force: an empty list replaces the dump
			} else if empty {
				if _, err := readDump(a.home); errors.Is(err, os.ErrNotExist) {
					// as PM2: with no dump yet, an empty one (resurrect then starts nothing)
					if err := writeDump(a.home, []byte("[]\n")); err != nil {
						return err
					}
				}
				fmt.Fprintln(a.stderr, "[tend][WARN] tend is not managing any app: nothing saved (the last dump is kept, or an empty one written if there was none; save --force writes an empty one).")
				return nil
			}
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(apps, "", "  ")
			if err != nil {
				return err
			}
			path := filepath.Join(a.home, dumpFile)
			fmt.Fprintln(a.stderr, "[tend] Saving current process list...")
			if err := writeDump(a.home, append(b, '\n')); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "[tend] Successfully saved in %s\n", path)
			return nil
		},
	}
}

// resurrectCmd is PM2's `resurrect`: start what `tend save` wrote. Apps the
// daemon already knows by name are left as they are.
func (a *app) resurrectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "resurrect",
		Short: "Start the apps tend save wrote to $TEND_HOME/" + dumpFile,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			path := filepath.Join(a.home, dumpFile)
			b, err := readDump(a.home)
			if errors.Is(err, os.ErrNotExist) { // PM2 exits 0 too: a boot script with nothing saved goes on
				fmt.Fprintf(a.stderr, "[tend][WARN] no dump at %s: nothing to resurrect (run `tend save` while your apps run)\n", path)
				return nil
			}
			if err != nil {
				return err
			}
			var apps []config.App
			if err := json.Unmarshal(b, &apps); err != nil {
				return fmt.Errorf("%s: %w (write it again with `tend save`)", path, err)
			}
			c, err := a.connect(ctx)
			if err != nil {
				return err
			}
			known := map[string]bool{}
			ps, err := c.List(ctx)
			if err != nil {
				return err
			}
			for _, p := range ps {
				known[p.Name] = true
			}
			fmt.Fprintln(a.stderr, "[tend] Resurrecting")
			fmt.Fprintf(a.stderr, "[tend] Restoring processes located in %s\n", path)
			var todo []config.App
			for _, app := range apps {
				if known[app.Name] {
					fmt.Fprintf(a.stderr, "[tend] %s is already known: left as it is\n", app.Name)
					continue
				}
				todo = append(todo, app)
			}
			if len(todo) > 0 {
				if _, err := c.Start(ctx, api.StartRequest{Apps: todo}); err != nil {
					return err
				}
			}
			if ps, err = c.List(ctx); err != nil {
				return err
			}
			a.printTable(ps)
			return nil
		},
	}
}

// writeDump replaces TEND_HOME's dump with b.
func writeDump(home string, b []byte) error { return writeHomeFile(home, dumpFile, b) }

// readDump reads TEND_HOME's dump: the apps it names run as the daemon's
// user, so only a file of that user's, in a home only it may write.
func readDump(home string) ([]byte, error) { return readHomeFile(home, dumpFile) }
