package supervisor

import (
	"fmt"
	"strings"

	"github.com/tend-dev/tend/internal/spec"
)

// changed returns a channel that is closed at the next state change of any
// process (status or health), for loops that wait on dependencies.
func (s *Supervisor) changed() <-chan struct{} {
	s.chMu.Lock()
	defer s.chMu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *Supervisor) notify() {
	s.chMu.Lock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
	s.chMu.Unlock()
}

// depState is what a dependency check found.
type depState struct {
	met     bool
	waiting []string // "redis (healthy)"
	failed  []string // "postgres is errored"
	stopped []string // names of dependencies that are stopped and could be started
}

// depsOf evaluates app's depends_on against the current processes.
func (s *Supervisor) depsOf(app spec.App) depState {
	st := depState{met: true}
	all := s.sorted()
	for _, d := range app.DependsOn {
		var mine []*Proc
		for _, p := range all {
			if p.snapshotName() == d.Name {
				mine = append(mine, p)
			}
		}
		if len(mine) == 0 {
			st.met = false
			st.waiting = append(st.waiting, fmt.Sprintf("%s (%s; not known to tend yet)", d.Name, d.Condition))
			continue
		}
		ok := true
		for _, p := range mine {
			p.mu.Lock()
			status, ready, code := p.status, p.ready, p.exitCode
			p.mu.Unlock()
			switch {
			case status == Errored:
				st.failed = append(st.failed, fmt.Sprintf("%s is errored", d.Name))
				ok = false
			case d.Condition == spec.CondCompleted:
				if status == Stopped && code != nil {
					if *code != 0 {
						st.failed = append(st.failed, fmt.Sprintf("%s exited with code %d", d.Name, *code))
					}
					ok = ok && *code == 0
					continue
				}
				ok = false
				if status == Stopped {
					st.stopped = append(st.stopped, d.Name)
				}
			case status != Online:
				ok = false
				if status == Stopped {
					st.stopped = append(st.stopped, d.Name)
				}
			case d.Condition == spec.CondHealthy && !ready:
				ok = false
			}
		}
		if !ok {
			st.met = false
			st.waiting = append(st.waiting, fmt.Sprintf("%s (%s)", d.Name, d.Condition))
		}
	}
	st.stopped = unique(st.stopped)
	return st
}

func unique(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (d depState) reason() string {
	if len(d.failed) > 0 {
		return "dependency failed: " + strings.Join(d.failed, ", ")
	}
	return "waiting for " + strings.Join(d.waiting, ", ")
}

// layers orders procs for stopping: every app comes before the apps it
// depends on (dependents stop first). Apps in one layer stop together.
func layers(procs []*Proc) [][]*Proc {
	byName := map[string][]*Proc{}
	deps := map[string][]string{}
	for _, p := range procs {
		p.mu.Lock()
		n := p.app.Name
		if _, ok := deps[n]; !ok {
			for _, d := range p.app.DependsOn {
				deps[n] = append(deps[n], d.Name)
			}
			if deps[n] == nil {
				deps[n] = []string{}
			}
		}
		p.mu.Unlock()
		byName[n] = append(byName[n], p)
	}
	// depth: 0 for an app nothing (among procs) depends on
	depth := map[string]int{}
	var walk func(n string, d int, seen map[string]bool)
	walk = func(n string, d int, seen map[string]bool) {
		if seen[n] {
			return // a cycle; CheckDependencies refuses them at load
		}
		if d > depth[n] {
			depth[n] = d
		}
		seen[n] = true
		for _, dep := range deps[n] {
			if _, ok := byName[dep]; ok {
				walk(dep, d+1, seen)
			}
		}
		delete(seen, n)
	}
	for n := range byName {
		walk(n, 0, map[string]bool{})
	}
	maxd := 0
	for _, d := range depth {
		maxd = max(maxd, d)
	}
	out := make([][]*Proc, maxd+1)
	for n, ps := range byName {
		out[depth[n]] = append(out[depth[n]], ps...)
	}
	return out
}
