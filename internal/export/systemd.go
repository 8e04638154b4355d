package export

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tend-dev/tend/internal/config"
)

// systemd: a service unit per app (a template unit for several instances),
// a socket unit for apps that receive listening sockets (listen), and a
// target that starts and stops them all. Quoting follows systemd.syntax(7)
// and the command line rules of systemd.service(5).

func (x *exporter) unitName(a *app) string { return x.o.Project + "-" + a.id }

// unitRefs names the units of a's instances.
func (x *exporter) unitRefs(a *app) []string {
	if a.Instances <= 1 {
		return []string{x.unitName(a) + ".service"}
	}
	var out []string
	for i := 0; i < a.Instances; i++ {
		out = append(out, fmt.Sprintf("%s@%d.service", x.unitName(a), i))
	}
	return out
}

func (x *exporter) systemd() error {
	target := x.o.Project + ".target"
	var wants []string
	var files []File
	for _, a := range x.apps {
		x.common(a)
		var u strings.Builder
		w := func(format string, args ...any) { fmt.Fprintf(&u, format+"\n", args...) }
		name := x.unitName(a) + ".service"
		if a.Instances > 1 {
			name = x.unitName(a) + "@.service"
		}
		var socket []byte
		if len(a.Listen) > 0 && !a.ListenFromPort {
			if a.Instances > 1 {
				return x.fail(a, "listen", "systemd hands a socket unit's sockets to one service; with several instances use one socket unit per instance or let the app bind its port")
			}
			var s strings.Builder
			fmt.Fprintf(&s, "[Unit]\nDescription=%s: listening sockets of %s (tend's listen)\nPartOf=%s\n\n[Socket]\n", x.o.Project, escapeUnit(a.Name), target)
			for _, l := range a.Listen {
				addr := l
				if p, ok := strings.CutPrefix(l, "unix:"); ok {
					addr = x.path(p)
				} else if strings.HasPrefix(l, ":") {
					addr = l[1:]
				}
				fmt.Fprintf(&s, "ListenStream=%s\n", escapeUnit(addr))
			}
			fmt.Fprintf(&s, "Service=%s\n\n[Install]\nWantedBy=sockets.target\n", name)
			socket = []byte(s.String())
		}
		w("[Unit]")
		w("Description=%s: %s", x.o.Project, escapeUnit(a.Name))
		w("PartOf=%s", target)
		var after, requires []string
		var pre []string
		for _, d := range a.DependsOn {
			dep := x.byName[d.Name]
			refs := x.unitRefs(dep)
			after = append(after, refs...)
			requires = append(requires, refs...)
			if d.Condition == config.CondHealthy && dep.Readiness != nil {
				// systemd knows when a unit started, not when it answers: wait for
				// the dependency's own readiness check before starting.
				pre = append(pre, "/bin/sh -c "+unitQuote(fmt.Sprintf("until %s; do sleep %d; done", probeCommand(dep.Readiness), seconds(dep.Readiness.Interval, 1))))
				if dep.Readiness.Kind() != "exec" {
					x.note(a.Name, "depends_on."+d.Name, "waits with "+strings.Fields(probeCommand(dep.Readiness))[0]+" (ExecStartPre): the machine needs it")
				}
			}
		}
		if socket != nil {
			after = append(after, x.unitName(a)+".socket")
			requires = append(requires, x.unitName(a)+".socket")
		}
		if len(after) > 0 {
			w("After=%s", strings.Join(after, " "))
			w("Requires=%s", strings.Join(requires, " "))
		}
		if !a.oneShot {
			// max_restarts crashes that each ran less than min_uptime (plus the
			// restart delay) end in the failed state, as errored does.
			interval := time.Duration(max(a.MaxRestarts, 1)) * (a.MinUptime + a.RestartDelay)
			w("StartLimitIntervalSec=%s", span(max(interval, time.Second)))
			w("StartLimitBurst=%d", max(a.MaxRestarts, 1))
		}
		w("")
		w("[Service]")
		if a.oneShot {
			w("Type=oneshot")
			w("RemainAfterExit=yes")
		} else {
			w("Type=exec")
		}
		w("WorkingDirectory=%s", escapeUnit(a.cwd))
		if a.UID != nil {
			w("User=%d", *a.UID)
			w("Group=%d", *a.GID)
		}
		if a.envFile != "" {
			w("EnvironmentFile=-%s", escapeUnit(a.envFile))
		}
		for _, k := range sortedKeys(a.env) {
			w("Environment=%s", unitQuote(k+"="+a.env[k]))
		}
		if a.Instances > 1 {
			q := unitQuote(a.InstanceVar + "=")
			w("Environment=%s%%i\"", q[:len(q)-1]) // %i: the instance's number
		}
		if len(a.secrets) > 0 {
			w("# required_env, set them in a drop-in (systemctl edit %s): %s", name, strings.Join(a.secrets, " "))
			x.note(a.Name, "required_env", fmt.Sprintf("not in the unit (values stay out of it): set %s in a drop-in, systemctl edit %s, or an EnvironmentFile only root reads", strings.Join(a.secrets, ", "), name))
		}
		for _, p := range pre {
			w("ExecStartPre=%s", p)
		}
		w("ExecStart=%s", execLine(append(append([]string{}, a.argv...), a.args...)))
		if a.oneShot {
			w("Restart=no")
		} else {
			w("Restart=always")
			w("RestartSec=%s", span(a.RestartDelay))
			if len(a.StopExitCodes) > 0 {
				var codes []string
				for _, c := range a.StopExitCodes {
					codes = append(codes, strconv.Itoa(c))
				}
				w("RestartPreventExitStatus=%s", strings.Join(codes, " "))
			}
		}
		if a.MaxMemoryRestart > 0 {
			w("MemoryMax=%d", a.MaxMemoryRestart)
			x.note(a.Name, "max_memory_restart", "MemoryMax= makes the kernel kill the unit at the limit, and Restart= starts it again")
		}
		w("KillSignal=%s", a.KillSignal)
		w("TimeoutStopSec=%s", span(a.KillTimeout))
		w("SyslogIdentifier=%s", escapeUnit(a.Name))
		if a.Liveness != nil {
			x.note(a.Name, "liveness", "not carried over: systemd restarts an app that exits, it runs no liveness check (a watchdog needs sd_notify)")
		}
		if a.Readiness != nil && len(x.dependents(a)) == 0 {
			x.note(a.Name, "readiness", "not carried over: no app waits for it under systemd")
		}
		for _, d := range a.data {
			x.note(a.Name, "data", "stays on the machine at "+d+" (the unit keeps no state of its own)")
		}
		w("")
		w("[Install]")
		w("WantedBy=%s", target)
		files = append(files, File{Name: name, Data: []byte(u.String())})
		if socket != nil {
			files = append(files, File{Name: x.unitName(a) + ".socket", Data: socket})
			wants = append(wants, x.unitName(a)+".socket")
		}
		wants = append(wants, x.unitRefs(a)...)
		if a.CronRestart != "" {
			x.note(a.Name, "cron_restart", "a timer unit running `systemctl restart "+name+"` can do it; not written")
		}
	}
	var t strings.Builder
	fmt.Fprintf(&t, "[Unit]\nDescription=%s: every app (tend export)\nWants=%s\nAfter=%s\n\n[Install]\nWantedBy=multi-user.target\n",
		x.o.Project, strings.Join(wants, " "), strings.Join(wants, " "))
	files = append(files, File{Name: target, Data: []byte(t.String())})
	x.res.Files = files
	x.res.Stream = joinStream(files, func(f File) string { return "# ---- " + f.Name + "\n" })
	return nil
}

// span writes a duration as a systemd time span.
func span(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// escapeUnit escapes specifiers (%) in a setting that takes them.
func escapeUnit(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// unitQuote double-quotes one word as systemd.syntax reads it: C escapes for
// backslash, quote and control characters; % doubled for specifiers.
func unitQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '%':
			b.WriteString("%%")
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// execLine writes a command line for ExecStart=: words quoted when they need
// it, $ doubled so systemd substitutes no variable.
func execLine(argv []string) string {
	var words []string
	for i, w := range argv {
		q := w
		if w == "" || strings.ContainsAny(w, " \t\n\"'\\%;") || (i == 0 && strings.ContainsAny(w[:1], "-@:+!")) {
			q = unitQuote(w)
		}
		words = append(words, strings.ReplaceAll(q, "$", "$$"))
	}
	return strings.Join(words, " ")
}
