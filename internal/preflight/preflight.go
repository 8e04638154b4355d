// Package preflight checks, before anything starts, that an environment can
// start: scripts and build artifacts exist, required variables are set,
// ports are free, interpreters and working directories exist. It reports
// every problem at once, each with the step that fixes it.
package preflight

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/tend-dev/tend/internal/config"
)

// Problem is one failed check.
type Problem struct {
	App   string
	Check string // script, env, port, interpreter, cwd, config
	Msg   string // what is wrong and how to fix it
}

func (p Problem) String() string { return p.Msg }

// Report is the outcome of a preflight.
type Report struct {
	Problems []Problem
	Checked  int // apps checked
}

// OK reports whether nothing failed.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Error lists every problem, one per line.
func (r *Report) Error() string {
	lines := make([]string, len(r.Problems))
	for i, p := range r.Problems {
		lines[i] = "  ✘ " + p.Msg
	}
	return fmt.Sprintf("preflight failed: %d problem%s, nothing was started:\n%s",
		len(r.Problems), map[bool]string{true: "", false: "s"}[len(r.Problems) == 1], strings.Join(lines, "\n"))
}

// Options are what the checks need to know about the running environment.
type Options struct {
	// Running names apps that already run under tend: their ports may be
	// busy (held by themselves).
	Running map[string]bool
	// PortFree checks a port; nil uses a real bind on 127.0.0.1 and 0.0.0.0.
	PortFree func(port int) bool
}

// Check runs every check over apps (resolved) and over errs, the errors met
// while resolving apps that could not be resolved (a missing script).
func Check(apps []config.App, resolveErrs []error, o Options) *Report {
	r := &Report{Checked: len(apps) + len(resolveErrs)}
	for _, err := range resolveErrs {
		r.Problems = append(r.Problems, fromResolveError(err))
	}
	portFree := o.PortFree
	if portFree == nil {
		portFree = bindable
	}
	ports := map[int]string{}
	for _, a := range apps {
		if err := config.CheckRunnable(&a); err != nil {
			for _, e := range unjoin(err) {
				var ae *config.AppError
				if errors.As(e, &ae) {
					r.Problems = append(r.Problems, Problem{a.Name, ae.Option, ae.Msg})
				}
			}
		}
		var missing []string
		for _, k := range a.RequiredEnv {
			if strings.TrimSpace(a.Env[k]) == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			r.Problems = append(r.Problems, Problem{a.Name, "env", fmt.Sprintf("required environment variable%s not set (app %s): %s — export %s in your shell, or add %s to a .env file named by env_file",
				plural(len(missing)), a.Name, strings.Join(missing, ", "), them(len(missing)), them(len(missing)))})
		}
		for _, port := range a.Ports {
			if other, ok := ports[port]; ok && other != a.Name {
				r.Problems = append(r.Problems, Problem{a.Name, "port", fmt.Sprintf("port %d is declared by both %s and %s: give one of them another port", port, other, a.Name)})
				continue
			}
			ports[port] = a.Name
			if o.Running[a.Name] {
				continue // held by this same app under tend
			}
			if !portFree(port) {
				r.Problems = append(r.Problems, Problem{a.Name, "port", fmt.Sprintf("port %d is already in use (app %s needs it): stop what listens there (`ss -ltnp 'sport = :%d'` shows it) or change the port", port, a.Name, port)})
			}
		}
	}
	sort.SliceStable(r.Problems, func(i, j int) bool { return r.Problems[i].App < r.Problems[j].App })
	return r
}

func plural(n int) string {
	if n == 1 {
		return " is"
	}
	return "s are"
}

func them(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// buildDirs mark a missing script as a build artifact.
var buildDirs = []string{"/dist/", "/build/", "/out/", "/target/", "/lib/"}

func fromResolveError(err error) Problem {
	var snf *config.ScriptNotFoundError
	if errors.As(err, &snf) {
		path := snf.Path
		for _, d := range buildDirs {
			if strings.Contains(path, d) {
				rel := path
				if wd, err := os.Getwd(); err == nil {
					if r, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(r, "..") {
						rel = r
					}
				}
				return Problem{snf.App, "script", fmt.Sprintf("Missing build artifacts: %s (app %s) — run your build, e.g. `pnpm build`", rel, snf.App)}
			}
		}
		return Problem{snf.App, "script", fmt.Sprintf("Script not found: %s (app %s) — fix script in the ecosystem file or create it", path, snf.App)}
	}
	return Problem{"", "config", err.Error()}
}

// bindable reports whether a TCP port can be listened on.
func bindable(port int) bool {
	for _, host := range []string{"127.0.0.1", "0.0.0.0"} {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return false
			}
			continue
		}
		l.Close()
	}
	return true
}

// unjoin lists the errors errors.Join put together.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
