package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/config"
	"github.com/tend-dev/tend/internal/deploy"
)

const deployUsage = `tend deploy [ecosystem file] <environment> [command]

Commands (on every host of deploy.<environment>):
  setup           create <path>/source, shared and current; clone the repository; hooks
  update          fetch and check out the ref of the environment (the default command)
  ref <ref>       fetch and check out <ref>
  revert [n]      check out the commit deployed n deploys ago (1)
  curr[ent]       print the commit checked out
  prev[ious]      print the commit deployed before it
  list            print the deployed commits, newest first
  exec|run <cmd>  run <cmd> in <path>/current
`

// deployCmd is PM2's deploy, with the system's ssh and git.
func (a *app) deployCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "deploy [ecosystem file] <environment> [setup|update|ref|revert|curr|prev|list|exec] [args]",
		Short: "Deploy an ecosystem file's app to its hosts over ssh (PM2's deploy section)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || args[0] == "help" {
				fmt.Fprint(a.stdout, deployUsage)
				return nil
			}
			file := ""
			if isConfigFile(args[0]) {
				file, args = args[0], args[1:]
			} else {
				for _, n := range []string{"ecosystem.config.js", "ecosystem.config.cjs", "ecosystem.config.mjs", "ecosystem.json", "ecosystem.yaml", "ecosystem.yml", "package.json"} {
					if isFile(n) {
						file = n
						break
					}
				}
				if file == "" {
					return fmt.Errorf("deploy: no ecosystem file here (ecosystem.config.js, .json, .yaml or package.json); name one: tend deploy ecosystem.config.js production")
				}
			}
			if len(args) == 0 {
				fmt.Fprint(a.stdout, deployUsage)
				return nil
			}
			env, verb, rest := args[0], "update", []string(nil)
			if len(args) > 1 {
				verb, rest = args[1], args[2:]
			}
			abs, err := filepath.Abs(file)
			if err != nil {
				return err
			}
			eco, err := config.Load(abs, config.LoadOptions{})
			if err != nil {
				return err
			}
			t, err := deploy.Parse(eco.Deploy, env)
			if err != nil {
				return fmt.Errorf("deploy: %s: %w", file, err)
			}
			if t.Hooks[deploy.PostDeploy] == "" {
				t.Hooks[deploy.PostDeploy] = "tend startOrRestart " + file + " --env " + env // PM2's default, with tend
			}
			return a.deployTo(t, verb, rest)
		},
	}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func (a *app) deployTo(t deploy.Target, verb string, rest []string) error {
	update := func(h *deploy.Host, ref string) error {
		if cmd := t.Hooks[deploy.PreDeployLocal]; cmd != "" {
			fmt.Fprintf(a.stderr, "[tend] deploy %s: pre-deploy-local: %s\n", t.Env, cmd)
			c := exec.Command("bash", "-c", cmd)
			c.Stdout, c.Stderr = a.stdout, a.stderr
			if err := c.Run(); err != nil {
				return fmt.Errorf("pre-deploy-local hook failed: %w", err)
			}
		}
		return h.Update(ref)
	}
	var step func(h *deploy.Host) error
	switch verb {
	case "setup":
		step = (*deploy.Host).Setup
	case "update", "ref":
		ref := t.Ref
		if verb == "ref" {
			if len(rest) == 0 {
				return fmt.Errorf("deploy %s ref: which ref? (tend deploy %s ref v1.2.0)", t.Env, t.Env)
			}
			ref = rest[0]
		}
		if !a.pf.force {
			if err := deploy.LocalChanges(); err != nil {
				return exitError{code: 1, msg: "[tend][ERROR] deploy: " + err.Error()}
			}
		}
		step = func(h *deploy.Host) error { return update(h, ref) }
	case "revert":
		n := 1
		if len(rest) > 0 {
			var err error
			if n, err = strconv.Atoi(rest[0]); err != nil || n < 1 {
				return fmt.Errorf("deploy %s revert %q: give how many deploys back (1, 2…)", t.Env, rest[0])
			}
		}
		step = func(h *deploy.Host) error { return h.Revert(n) }
	case "curr", "current":
		step = func(h *deploy.Host) error {
			c, err := h.Current()
			if err == nil {
				fmt.Fprintln(a.stdout, c)
			}
			return err
		}
	case "prev", "previous":
		step = func(h *deploy.Host) error {
			list, err := h.Deployed()
			if err != nil {
				return err
			}
			if len(list) < 2 {
				return fmt.Errorf("%s: no deploy before the current one", h.Name)
			}
			fmt.Fprintln(a.stdout, list[1])
			return nil
		}
	case "list":
		step = func(h *deploy.Host) error {
			list, err := h.Deployed()
			for i, c := range list {
				fmt.Fprintf(a.stdout, "%d\t%s\n", i, c)
			}
			return err
		}
	case "exec", "run":
		if len(rest) == 0 {
			return fmt.Errorf("deploy %s exec: which command? (tend deploy %s exec \"tend reload all\")", t.Env, t.Env)
		}
		step = func(h *deploy.Host) error { return h.Exec(strings.Join(rest, " ")) }
	default:
		return fmt.Errorf("deploy: unknown command %q\n%s", verb, deployUsage)
	}
	for _, host := range t.Hosts {
		fmt.Fprintf(a.stderr, "[tend] deploy %s: %s on %s\n", t.Env, verb, host)
		h := &deploy.Host{T: t, Name: host, Out: a.stdout, Err: a.stderr}
		if err := step(h); err != nil {
			return exitError{code: 1, msg: fmt.Sprintf("[tend][ERROR] deploy %s on %s: %v", t.Env, host, err)}
		}
	}
	fmt.Fprintf(a.stderr, "[tend] deploy %s: %s done\n", t.Env, verb)
	return nil
}
