package cli

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mattn/go-isatty"
	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/config"
	"github.com/tend-dev/tend/internal/lazyre"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd())
}

// colors reports whether to colour output written to w.
func colors(w io.Writer) bool {
	_, noColor := os.LookupEnv("NO_COLOR")
	return !noColor && os.Getenv("TERM") != "dumb" && isTerminal(w)
}

const (
	cReset = "\x1b[0m"
	cBold  = "\x1b[1m"
	cRed   = "\x1b[31m"
	cGreen = "\x1b[32m"
	cYel   = "\x1b[33m"
	cBlue  = "\x1b[34m"
	cCyan  = "\x1b[36m"
	cGrey  = "\x1b[90m"
)

func statusColor(s string) string {
	switch s {
	case api.StatusOnline:
		return cGreen
	case api.StatusStopped, api.StatusErrored:
		return cRed
	default:
		return cYel
	}
}

// printTable prints PM2's process table. On a terminal it draws PM2's box;
// elsewhere it prints plain aligned columns that scripts can split on spaces.
func (a *app) printTable(ps []api.Process) {
	ps = a.sortList(ps)
	if a.pf.miniList {
		a.printMini(ps)
		return
	}
	header := []string{"id", "name", "namespace", "version", "mode", "pid", "uptime", "↺", "status", "cpu", "mem", "user", "watching"}
	// A health column appears when any app has probes.
	withHealth := false
	for _, p := range ps {
		if p.PM2Env.Health != "" {
			withHealth = true
		}
	}
	if withHealth {
		header = append(header, "health")
	}
	// A logs column appears when an app's log files could not take its
	// lines (a full disk): they were dropped, and that must show.
	withDrops := false
	for _, p := range ps {
		if p.PM2Env.LogLinesDropped > 0 {
			withDrops = true
		}
	}
	if withDrops {
		header = append(header, "logs")
	}
	rows := make([][]string, 0, len(ps))
	now := time.Now()
	for _, p := range ps {
		e := p.PM2Env
		uptime := "0"
		if e.Status == api.StatusOnline && e.PMUptime > 0 {
			uptime = fmtDuration(now.Sub(time.UnixMilli(e.PMUptime)))
		}
		mode := "fork"
		if e.ExecMode == "cluster_mode" {
			mode = "cluster"
		}
		watching := "disabled"
		if e.Watch.IsOn() {
			watching = "enabled"
		}
		version := e.Version
		if version == "" {
			version = "N/A"
		}
		user := e.Username
		if user == "" {
			user = "-"
		}
		rows = append(rows, []string{
			strconv.Itoa(p.PMID), p.Name, e.Namespace, version, mode, strconv.Itoa(p.PID), uptime,
			strconv.Itoa(e.RestartTime), e.Status, fmt.Sprintf("%g%%", p.Monit.CPU), fmtBytes(p.Monit.Memory), user, watching,
		})
		if withHealth {
			rows[len(rows)-1] = append(rows[len(rows)-1], dash(e.Health))
		}
		if withDrops {
			rows[len(rows)-1] = append(rows[len(rows)-1], logsCell(e))
		}
	}
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	padTo := func(s string, w int) string { return s + strings.Repeat(" ", w-utf8.RuneCountInString(s)) }
	w := a.stdout
	if !isTerminal(w) {
		hs := make([]string, len(header))
		for i, h := range header {
			hs[i] = padTo(h, widths[i])
		}
		io.WriteString(w, strings.TrimRight(strings.Join(hs, "  "), " ")+"\n")
		for _, r := range rows {
			line := make([]string, len(r))
			for i, c := range r {
				line[i] = padTo(c, widths[i])
			}
			io.WriteString(w, strings.TrimRight(strings.Join(line, "  "), " ")+"\n")
		}
		return
	}
	col := colors(w)
	paint := func(code, s string) string {
		if !col {
			return s
		}
		return code + s + cReset
	}
	border := func(l, m, r string) string {
		parts := make([]string, len(widths))
		for i, wd := range widths {
			parts[i] = strings.Repeat("─", wd+2)
		}
		return l + strings.Join(parts, m) + r + "\n"
	}
	io.WriteString(w, border("┌", "┬", "┐"))
	cells := make([]string, len(header))
	for i, h := range header {
		cells[i] = " " + paint(cBold+cCyan, padTo(h, widths[i])) + " "
	}
	io.WriteString(w, "│"+strings.Join(cells, "│")+"│\n")
	io.WriteString(w, border("├", "┼", "┤"))
	for _, r := range rows {
		for i, c := range r {
			s := padTo(c, widths[i])
			switch i {
			case 1:
				s = paint(cBold+cCyan, s)
			case 8:
				s = paint(cBold+statusColor(c), s)
			case 7:
				if c != "0" {
					s = paint(cYel, s)
				}
			}
			if withDrops && i == len(header)-1 && c != "ok" {
				s = paint(cBold+cRed, s)
			}
			cells[i] = " " + s + " "
		}
		io.WriteString(w, "│"+strings.Join(cells, "│")+"│\n")
	}
	io.WriteString(w, border("└", "┴", "┘"))
}

// printDescribe prints one process in detail.
func (a *app) printDescribe(p api.Process) {
	e := p.PM2Env
	ts := func(ms int64) string {
		if ms == 0 {
			return "-"
		}
		return time.UnixMilli(ms).Format(time.RFC3339)
	}
	uptime := "0"
	if e.Status == api.StatusOnline && e.PMUptime > 0 {
		uptime = fmtDuration(time.Since(time.UnixMilli(e.PMUptime)))
	}
	exit := "-"
	if e.ExitCode != nil {
		exit = strconv.Itoa(*e.ExitCode)
	}
	mem := "-"
	if e.MaxMemoryRestart > 0 {
		mem = fmtBytes(e.MaxMemoryRestart)
	}
	keys := make([]string, 0, len(e.Env))
	for k := range e.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rows := [][2]string{
		{"status", e.Status},
		{"name", e.Name},
		{"namespace", e.Namespace},
		{"version", dash(e.Version)},
		{"restarts", strconv.Itoa(e.RestartTime)},
		{"unstable restarts", strconv.Itoa(e.UnstableRestarts)},
		{"uptime", uptime},
		{"pid", strconv.Itoa(p.PID)},
		{"script path", e.PMExecPath},
		{"script args", strings.Join(e.Args, " ")},
		{"interpreter", e.Interpreter},
		{"interpreter args", strings.Join(e.InterpreterArgs, " ")},
		{"script id", strconv.Itoa(p.PMID)},
		{"exec cwd", e.PMCwd},
		{"exec mode", e.ExecMode},
		{"node.js version", dash(e.NodeVersion)},
		{"node env", dash(e.Env["NODE_ENV"])},
		{"instances", strconv.Itoa(e.Instances)},
		{"out log path", e.PMOutLogPath},
		{"error log path", e.PMErrLogPath},
		{"combined log path", dash(e.PMLogPath)},
		{"pid path", e.PMPidPath},
		{"created at", ts(e.CreatedAt)},
		{"started at", ts(e.PMUptime)},
		{"watch & reload", map[bool]string{true: "✔", false: "✘"}[e.Watch.IsOn()]},
		{"autorestart", strconv.FormatBool(e.Autorestart)},
		{"max restarts", strconv.Itoa(e.MaxRestarts)},
		{"min uptime", fmt.Sprintf("%dms", e.MinUptime)},
		{"restart delay", fmt.Sprintf("%dms", e.RestartDelay)},
		{"kill signal", e.KillSignal},
		{"kill timeout", fmt.Sprintf("%dms", e.KillTimeout)},
		{"memory limit", mem},
		{"cron restart", dash(cronString(e.CronRestart))},
		{"memory measured as", dash(e.MemoryMode)},
		{"watching now", strconv.FormatBool(e.Watching)},
		{"next cron restart", ts(e.CronNext)},
		{"last exit code", exit},
		{"last exit signal", dash(e.ExitSignal)},
		{"last restart reason", dash(e.RestartReason)},
		{"health", dash(e.Health)},
		{"last failed check", dash(e.HealthCheck)},
		{"waiting for", dash(strings.TrimPrefix(e.WaitingFor, "waiting for "))},
		{"last reload", dash(e.LastReload)},
		{"log lines dropped", logDrops(e)},
		{"config file", dash(e.ConfigFile)},
		{"cpu", fmt.Sprintf("%g%%", p.Monit.CPU)},
		{"memory", fmtBytes(p.Monit.Memory)},
		{"env keys", strings.Join(keys, ", ")},
	}
	fmt.Fprintf(a.stdout, "Describing process with id %d - name %s\n", p.PMID, p.Name)
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	for _, r := range rows {
		fmt.Fprintf(a.stdout, "  %-*s  %s\n", width, r[0], r[1])
	}
	a.printAxm(e)
}

// printAxm prints what an app reported with @pm2/io: its metrics (PM2's
// "Code metrics value") and the actions `tend trigger` runs.
func (a *app) printAxm(e api.Env) {
	if len(e.AxmMonitor) > 0 {
		names := make([]string, 0, len(e.AxmMonitor))
		width := 0
		for k := range e.AxmMonitor {
			names = append(names, k)
			width = max(width, len(k))
		}
		sort.Strings(names)
		fmt.Fprintf(a.stdout, "Code metrics (@pm2/io)\n")
		for _, k := range names {
			v := e.AxmMonitor[k]
			if m, ok := v.(map[string]any); ok {
				unit, _ := m["unit"].(string)
				v = strings.TrimSpace(fmt.Sprint(m["value"]) + " " + unit)
			}
			fmt.Fprintf(a.stdout, "  %-*s  %v\n", width, k, v)
		}
	}
	var actions []string
	for _, act := range e.AxmActions {
		m, _ := act.(map[string]any)
		if n, ok := m["action_name"].(string); ok {
			actions = append(actions, n)
		}
	}
	if len(actions) > 0 {
		fmt.Fprintf(a.stdout, "Actions (tend trigger %s <action>)\n  %s\n", e.Name, strings.Join(actions, ", "))
	}
}

// logsCell is the ls column of an app's dropped log lines.
func logsCell(e api.Env) string {
	if e.LogLinesDropped == 0 {
		return "ok"
	}
	return fmt.Sprintf("%d dropped", e.LogLinesDropped)
}

// logDrops says how many of the app's lines its log files could not take,
// the last time and why.
func logDrops(e api.Env) string {
	if e.LogLinesDropped == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (last at %s: %s)", e.LogLinesDropped, time.UnixMilli(e.LogDropAt).Format(time.RFC3339), e.LogDropError)
}

// cronString prints cron_restart, which PM2 files may give as a number.
func cronString(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printApp prints a resolved app (tend config without --json).
func (a *app) printApp(app config.App) {
	fmt.Fprintf(a.stdout, "%s\n", app.Name)
	cmd := app.ScriptPath
	if app.Interpreter != "" && app.Interpreter != "none" {
		cmd = strings.TrimSpace(app.Interpreter + " " + strings.Join(app.InterpreterArgs, " ") + " " + app.ScriptPath)
	}
	fmt.Fprintf(a.stdout, "  command       %s %s\n", cmd, strings.Join(app.Args, " "))
	fmt.Fprintf(a.stdout, "  cwd           %s\n", app.Cwd)
	fmt.Fprintf(a.stdout, "  instances     %d (%s)\n", app.Instances, app.ExecMode)
	fmt.Fprintf(a.stdout, "  namespace     %s\n", app.Namespace)
	fmt.Fprintf(a.stdout, "  restart       autorestart=%t max_restarts=%d min_uptime=%v restart_delay=%v\n", app.Autorestart, app.MaxRestarts, app.MinUptime, app.RestartDelay)
	fmt.Fprintf(a.stdout, "  stop          %s, SIGKILL after %v\n", app.KillSignal, app.KillTimeout)
	if app.MaxMemoryRestart > 0 {
		fmt.Fprintf(a.stdout, "  memory limit  %s\n", fmtBytes(app.MaxMemoryRestart))
	}
	fmt.Fprintf(a.stdout, "  logs          out=%s err=%s\n", app.OutFile, app.ErrorFile)
}

var secretKey = lazyre.New(`(?i)(SECRET|TOKEN|PASSWORD|PASSWD|PASS$|_KEY$|^KEY$|APIKEY|API_KEY|CREDENTIAL|PRIVATE|AUTH)`)
var urlPassword = lazyre.New(`^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@]*:)([^@]*)(@.*)$`)

// maskSecret hides values that look secret: keys named like secrets, and the
// password inside a URL.
func maskSecret(k, v string) string {
	if v == "" {
		return v
	}
	if secretKey().MatchString(k) {
		return "****"
	}
	if m := urlPassword().FindStringSubmatch(v); m != nil {
		return m[1] + "****" + m[3]
	}
	return v
}
