package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
)

// matches tells whether process p is selected by word: all, its name, its
// pm_id, its namespace, or PM2's "/regexp/" matched against its name.
func matches(p api.Process, word string) bool {
	if word == "all" || p.Name == word || strconv.Itoa(p.PMID) == word || p.PM2Env.Namespace == word {
		return true
	}
	re, ok, err := api.TargetRegexp(word)
	return ok && err == nil && re.MatchString(p.Name)
}

func (a *app) prettylistCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "prettylist",
		Short: "List processes as PM2's prettylist does (Node's util.inspect of the jlist)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			var b []byte
			if _, err := a.call(ctx, func(c *client.Client) (err error) { b, err = c.ListRaw(ctx); return err }); err != nil {
				return err
			}
			s, err := inspect(b)
			if err != nil {
				return fmt.Errorf("prettylist: %w", err)
			}
			fmt.Fprint(a.stdout, s) // no newline, as PM2
			return nil
		},
	}
}

// idCmd is PM2's `id <name>`: the pm_ids of the processes of that name, as
// Node prints an array ("[ 0, 1 ]", "[]").
func (a *app) idCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "id <name>",
		Short: "Print the ids of the processes of an app",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			ps, err := a.list(ctx)
			if err != nil {
				return err
			}
			ids := []int{}
			re, isRe, err := api.TargetRegexp(args[0])
			if err != nil {
				return err
			}
			for _, p := range ps {
				if p.Name == args[0] || (isRe && re.MatchString(p.Name)) {
					ids = append(ids, p.PMID)
				}
			}
			b, _ := json.Marshal(ids)
			s, err := inspect(b)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, s)
			return nil
		},
	}
}

func (a *app) sendSignalCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "sendSignal <signal> <name|id|namespace|all|/regexp/>",
		Short: "Send a signal (SIGUSR2, USR2 or a number) to the main process of apps",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.sendTo(api.ActionRequest{Action: api.ActionSignal, Signal: args[0], Target: api.Target{Names: args[1:]}}, args[0], "signal")
		},
	}
}

// sendTo sends what a request carries (a signal, a line) to its target's
// processes and says so for each; none is what there is nothing to do
// without a daemon.
func (a *app) sendTo(req api.ActionRequest, what, none string) error {
	ctx, cancel := a.ctx()
	defer cancel()
	c := client.New(a.home)
	ps, err := c.Act(ctx, req)
	if errors.Is(err, client.ErrNoDaemon) {
		return fmt.Errorf("no tend daemon is running (TEND_HOME=%s), so there is no process to %s", a.home, none)
	}
	if err != nil {
		return err
	}
	for _, p := range ps {
		fmt.Fprintf(a.stderr, "[tend] Sent %s to %s (id %d, pid %d)\n", what, p.Name, p.PMID, p.PID)
	}
	return a.done(ctx, c, ps)
}

// sendCmd is PM2's send: a line (and a newline) to the standard input of a
// running process, named by its id as in PM2.
func (a *app) sendCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "send <pm_id> <line>",
		Short: "Write a line to the standard input of a running process",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := strconv.Atoi(args[0]); err != nil {
				return exitError{code: 1, msg: fmt.Sprintf("[tend][ERROR] send: %q is not a process id: send takes the pm_id of one process, as PM2 (tend id %s prints it)", args[0], args[0])}
			}
			return a.sendTo(api.ActionRequest{Action: api.ActionStdin, Line: args[1] + "\n", Target: api.Target{Names: args[:1]}}, "a line", "send a line to")
		},
	}
}

// startOrCmd is PM2's startOrRestart / startOrReload / startOrGracefulReload:
// start the apps of an ecosystem file, restart (or reload) those that run.
func (a *app) startOrCmd(use string, reload bool) *cobra.Command {
	return &cobra.Command{
		Use:   use + " <ecosystem file>",
		Short: map[bool]string{false: "Start the apps of an ecosystem file; restart those that run", true: "Start the apps of an ecosystem file; reload those that run"}[reload],
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := a.pf.startFlags
			f.reload = reload
			return a.start(cmd, args, nil, &f)
		},
	}
}

const sampleEcosystem = `// Apps for tend (or PM2): tend start ecosystem.config.js
module.exports = {
  apps: [
    {
      name: 'web',
      script: 'server.js',
      instances: 1,
      env: { NODE_ENV: 'development', PORT: 3000 },
      env_production: { NODE_ENV: 'production' },
      // watch: ['src'],
      // max_memory_restart: '300M',
    },
    {
      name: 'worker',
      script: 'worker.js',
      // cron_restart: '0 3 * * *',
    },
  ],
};
`

const sampleEcosystemSimple = `module.exports = {
  apps: [{ name: 'app', script: './app.js' }],
};
`

// ecosystemCmd is PM2's `ecosystem [simple]` (alias init): writes a sample
// ecosystem.config.js in the current folder, replacing one that is there.
func (a *app) ecosystemCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "ecosystem [simple]",
		Aliases: []string{"init"},
		Short:   "Write a sample ecosystem.config.js in the current folder",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := sampleEcosystem
			if len(args) == 1 && args[0] == "simple" {
				body = sampleEcosystemSimple
			}
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			dst := filepath.Join(wd, "ecosystem.config.js")
			if err := os.WriteFile(dst, []byte(body), 0o644); err != nil {
				return fmt.Errorf("write the sample ecosystem file: %w", err)
			}
			fmt.Fprintf(a.stderr, "[tend] Wrote %s\n", dst)
			return nil
		},
	}
}
