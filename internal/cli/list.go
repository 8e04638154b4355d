package cli

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/api"
)

// sortList orders the process list as PM2's `ls` does: by name unless
// --sort <field>[:asc|desc] names one of name, namespace, id, pid, cpu,
// memory, uptime, status (an unknown field sorts by name); equal entries keep
// their pm_id order.
func (a *app) sortList(ps []api.Process) []api.Process {
	field, order, _ := strings.Cut(strings.ToLower(a.pf.sort), ":")
	less := map[string]func(x, y api.Process) int{
		"name":      func(x, y api.Process) int { return strings.Compare(x.Name, y.Name) },
		"namespace": func(x, y api.Process) int { return strings.Compare(x.PM2Env.Namespace, y.PM2Env.Namespace) },
		"id":        func(x, y api.Process) int { return x.PMID - y.PMID },
		"pid":       func(x, y api.Process) int { return x.PID - y.PID },
		"cpu":       func(x, y api.Process) int { return cmp(x.Monit.CPU, y.Monit.CPU) },
		"memory":    func(x, y api.Process) int { return cmp(x.Monit.Memory, y.Monit.Memory) },
		"uptime":    func(x, y api.Process) int { return cmp(x.PM2Env.PMUptime, y.PM2Env.PMUptime) },
		"status":    func(x, y api.Process) int { return strings.Compare(x.PM2Env.Status, y.PM2Env.Status) },
	}
	by, ok := less[field]
	if !ok {
		by, order = less["name"], "asc"
	}
	out := append([]api.Process(nil), ps...)
	sort.SliceStable(out, func(i, j int) bool {
		if order == "desc" {
			return by(out[i], out[j]) > 0
		}
		return by(out[i], out[j]) < 0
	})
	return out
}

func cmp[T int64 | float64](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// printMini is PM2's `ls -m`: one block of "key : value" lines per process.
func (a *app) printMini(ps []api.Process) {
	for _, p := range ps {
		e := p.PM2Env
		name := e.Name
		if name == "" {
			name = filepath.Base(e.PMExecPath)
		}
		uptime := "0"
		if e.Status == api.StatusOnline && e.PMUptime > 0 {
			uptime = fmtDuration(time.Since(time.UnixMilli(e.PMUptime)))
		}
		watching := "no"
		if e.Watch.IsOn() {
			watching = "yes"
		}
		fmt.Fprintf(a.stdout, "+--- %s\nnamespace : %s\nversion : %s\npid : %d\npm2 id : %d\nstatus : %s\nmode : %s\nrestarted : %d\nuptime : %s\nmemory usage : %s\nerror log : %s\nwatching : %s\nPID file : %s\n\n",
			name, e.Namespace, dash(e.Version), p.PID, p.PMID, e.Status, strings.TrimSuffix(e.ExecMode, "_mode"),
			e.RestartTime, uptime, fmtBytes(p.Monit.Memory), e.PMErrLogPath, watching, e.PMPidPath)
	}
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print tend's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(a.stdout, version())
			return nil
		},
	}
}
