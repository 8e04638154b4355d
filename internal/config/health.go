package config

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tend-dev/tend/internal/config/js"
)

var conditionAliases = map[string]string{
	CondStarted: CondStarted, "service_started": CondStarted, "online": CondStarted,
	CondHealthy: CondHealthy, "service_healthy": CondHealthy, "ready": CondHealthy,
	CondCompleted: CondCompleted, "service_completed_successfully": CondCompleted, "completed_successfully": CondCompleted,
}

// parseDependsOn reads depends_on: a name, a list of names (condition
// started), a map of name to condition, or compose's map of name to
// {condition: service_healthy}.
func parseDependsOn(v any, app string) ([]Dependency, error) {
	var out []Dependency
	add := func(name string, cond any) error {
		c := CondStarted
		switch x := cond.(type) {
		case nil:
		case string:
			c = x
		case map[string]any:
			if s, ok := x["condition"].(string); ok {
				c = s
			}
		default:
			return fmt.Errorf("app %q: depends_on.%s: the condition must be started, healthy or completed", app, name)
		}
		norm, ok := conditionAliases[strings.ToLower(c)]
		if !ok {
			return fmt.Errorf("app %q: depends_on.%s: unknown condition %q (use started, healthy or completed)", app, name, c)
		}
		out = append(out, Dependency{Name: name, Condition: norm})
		return nil
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		for _, n := range strings.Split(x, ",") {
			if n = strings.TrimSpace(n); n != "" {
				add(n, nil)
			}
		}
	case []any:
		for _, e := range x {
			switch y := e.(type) {
			case string:
				add(y, nil)
			case map[string]any:
				n, _ := y["name"].(string)
				if n == "" {
					return nil, fmt.Errorf("app %q: depends_on: an entry has no name", app)
				}
				if err := add(n, y["condition"]); err != nil {
					return nil, err
				}
			default:
				return nil, fmt.Errorf("app %q: depends_on: entries must be app names", app)
			}
		}
	case map[string]any:
		names := make([]string, 0, len(x))
		for n := range x {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if err := add(n, x[n]); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("app %q: depends_on must be a list of app names or a map of name to condition", app)
	}
	return out, nil
}

// parseProbe reads a readiness or liveness block.
func parseProbe(v any, app, key string) (*Probe, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, nil
	}
	p := &Probe{Interval: DefaultProbeInterval, Timeout: DefaultProbeTimeout, FailureThreshold: DefaultProbeFailures, SuccessThreshold: 1, Status: "200-399"}
	str := func(keys ...string) string {
		for _, k := range keys {
			switch x := m[k].(type) {
			case string:
				return x
			case map[string]any: // http: {url: ...}, tcp: {host, port}
				if u, ok := x["url"].(string); ok {
					return u
				}
				if port, ok := js.NumberValue(x["port"]); ok {
					h, _ := x["host"].(string)
					if h == "" {
						h = "127.0.0.1"
					}
					return h + ":" + strconv.Itoa(int(port))
				}
			case []any: // exec: ["redis-cli", "ping"]
				var parts []string
				for _, e := range x {
					parts = append(parts, ShellQuote(fmt.Sprint(e)))
				}
				return strings.Join(parts, " ")
			case float64:
				if k == "tcp" || k == "tcp_socket" {
					return "127.0.0.1:" + strconv.Itoa(int(x))
				}
			}
		}
		return ""
	}
	p.HTTP = str("http", "http_get", "httpGet")
	p.TCP = str("tcp", "tcp_socket", "tcpSocket")
	p.Exec = str("exec", "command", "test")
	n := 0
	for _, s := range []string{p.HTTP, p.TCP, p.Exec} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("app %q: %s needs exactly one of http (a URL), tcp (host:port) or exec (a command)", app, key)
	}
	if p.TCP != "" && !strings.Contains(p.TCP, ":") {
		p.TCP = "127.0.0.1:" + p.TCP
	}
	dur := func(def time.Duration, keys ...string) (time.Duration, error) {
		for _, k := range keys {
			if x, ok := m[k]; ok {
				switch y := x.(type) {
				case float64: // milliseconds, like PM2's other durations
					return time.Duration(y * float64(time.Millisecond)), nil
				case string:
					if d, err := time.ParseDuration(y); err == nil {
						return d, nil
					}
					if d, err := ParseDuration(y); err == nil {
						return d, nil
					}
					return 0, fmt.Errorf("app %q: %s.%s: %q is not a duration (use 2s, 500ms or milliseconds)", app, key, k, y)
				}
			}
		}
		return def, nil
	}
	var err error
	if p.Interval, err = dur(p.Interval, "interval", "period"); err != nil {
		return nil, err
	}
	if p.Timeout, err = dur(p.Timeout, "timeout"); err != nil {
		return nil, err
	}
	if p.StartPeriod, err = dur(0, "start_period", "initial_delay"); err != nil {
		return nil, err
	}
	num := func(def int, keys ...string) int {
		for _, k := range keys {
			if f, ok := js.NumberValue(m[k]); ok && !math.IsNaN(f) && f >= 1 {
				return int(f)
			}
		}
		return def
	}
	p.FailureThreshold = num(p.FailureThreshold, "failure_threshold", "retries")
	p.SuccessThreshold = num(p.SuccessThreshold, "success_threshold")
	if s, ok := m["status"].(string); ok && s != "" {
		p.Status = s
	}
	if p.Interval <= 0 {
		p.Interval = DefaultProbeInterval
	}
	if p.Timeout <= 0 {
		p.Timeout = DefaultProbeTimeout
	}
	return p, nil
}

// ShellQuote quotes s for a POSIX shell when it needs quoting.
func ShellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`;&|<>*?()[]{}!#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// resolveHealth fills the health, dependency and preflight fields of a.
func resolveHealth(m map[string]any, a *App) error {
	var err error
	if a.DependsOn, err = parseDependsOn(m["depends_on"], a.Name); err != nil {
		return err
	}
	if a.Readiness, err = parseProbe(m["readiness"], a.Name, "readiness"); err != nil {
		return err
	}
	if a.Liveness, err = parseProbe(m["liveness"], a.Name, "liveness"); err != nil {
		return err
	}
	switch x := m["required_env"].(type) {
	case string:
		for _, n := range strings.Split(x, ",") {
			if n = strings.TrimSpace(n); n != "" {
				a.RequiredEnv = append(a.RequiredEnv, n)
			}
		}
	case []any:
		for _, e := range x {
			a.RequiredEnv = append(a.RequiredEnv, fmt.Sprint(e))
		}
	}
	switch x := m["ports"].(type) {
	case float64:
		a.Ports = []int{int(x)}
	case []any:
		for _, e := range x {
			if f, ok := js.NumberValue(e); ok && f > 0 && f < 65536 {
				a.Ports = append(a.Ports, int(f))
			} else {
				return fmt.Errorf("app %q: ports: %v is not a port number", a.Name, e)
			}
		}
	}
	var data []string
	switch x := m["data"].(type) {
	case string:
		data = []string{x}
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok || s == "" {
				return fmt.Errorf("app %q: data: %v is not a folder path (write a path relative to cwd, or absolute)", a.Name, e)
			}
			data = append(data, s)
		}
	}
	for _, d := range data {
		a.Data = append(a.Data, js.NodeResolve(a.Cwd, d))
	}
	return nil
}

// DependencyClosure is names and, transitively, every app they depend on:
// what `--only a,b` keeps.
func DependencyClosure(apps []App, names []string) map[string]bool {
	byName := map[string]*App{}
	for i := range apps {
		byName[apps[i].Name] = &apps[i]
	}
	keep := map[string]bool{}
	var add func(n string)
	add = func(n string) {
		if keep[n] {
			return
		}
		keep[n] = true
		if a := byName[n]; a != nil {
			for _, d := range a.DependsOn {
				add(d.Name)
			}
		}
	}
	for _, n := range names {
		add(n)
	}
	return keep
}

// DependencyError is a depends_on that names an unknown app or forms a cycle.
type DependencyError struct {
	Apps    []string
	Message string
}

func (e *DependencyError) Error() string { return e.Message }

// CheckDependencies verifies that every depends_on names an app of apps or
// one known reports as existing, and that there is no cycle.
func CheckDependencies(apps []App, known func(name string) bool) error {
	byName := map[string]*App{}
	for i := range apps {
		byName[apps[i].Name] = &apps[i]
	}
	for _, a := range apps {
		for _, d := range a.DependsOn {
			if byName[d.Name] == nil && (known == nil || !known(d.Name)) {
				return &DependencyError{Apps: []string{a.Name, d.Name},
					Message: fmt.Sprintf("app %q depends on %q, which is neither in this file nor running under tend; fix the name in depends_on or add the app", a.Name, d.Name)}
			}
		}
	}
	// cycles: depth-first search with colours
	const (
		white = iota
		grey
		black
	)
	colour := map[string]int{}
	var stack []string
	var visit func(n string) error
	visit = func(n string) error {
		colour[n] = grey
		stack = append(stack, n)
		if a := byName[n]; a != nil {
			for _, d := range a.DependsOn {
				switch colour[d.Name] {
				case grey:
					i := len(stack) - 1
					for stack[i] != d.Name {
						i--
					}
					cyc := append(append([]string(nil), stack[i:]...), d.Name)
					return &DependencyError{Apps: cyc, Message: "depends_on forms a cycle: " + strings.Join(cyc, " → ")}
				case white:
					if err := visit(d.Name); err != nil {
						return err
					}
				}
			}
		}
		stack = stack[:len(stack)-1]
		colour[n] = black
		return nil
	}
	for _, a := range apps {
		if colour[a.Name] == white {
			if err := visit(a.Name); err != nil {
				return err
			}
		}
	}
	return nil
}
