// Package procstat reads process information in one shared walk: the
// parent/child tree, CPU time and resident memory, so that the figures of
// every app's whole process tree come from a single pass. On Linux the walk
// reads /proc itself (procstat_linux.go); elsewhere it asks gopsutil
// (procstat_portable.go, also built on Linux with -tags tend_portable so
// its tests run here).
package procstat

import (
	"sync"
	"time"
)

// Proc is one process as read from /proc/<pid>/stat (or the system's
// equivalent).
type Proc struct {
	PID       int
	State     byte // R, S, D, Z, ...
	PPID      int
	PGID      int
	StartTime uint64 // Linux: clock ticks since boot; elsewhere ms since the epoch; with PID identifies a process
	CPUTicks  uint64 // utime + stime
	RSS       int64  // bytes
}

// Snapshot is one walk of every process.
type Snapshot struct {
	At       time.Time
	Procs    map[int]Proc
	children map[int][]int
}

// ClockTicks is the kernel's USER_HZ; 100 on every Linux architecture Go supports.
const ClockTicks = 100

// Descendants returns pid's descendants (not pid itself), depth first.
func (s *Snapshot) Descendants(pid int) []Proc {
	var out []Proc
	var walk func(int)
	seen := map[int]bool{pid: true}
	walk = func(p int) {
		for _, c := range s.children[p] {
			if seen[c] {
				continue
			}
			seen[c] = true
			out = append(out, s.Procs[c])
			walk(c)
		}
	}
	walk(pid)
	return out
}

// Tree sums CPU ticks and RSS over pid and its descendants.
func (s *Snapshot) Tree(pid int) (cpuTicks uint64, rss int64, ok bool) {
	p, ok := s.Procs[pid]
	if !ok {
		return 0, 0, false
	}
	cpuTicks, rss = p.CPUTicks, p.RSS
	for _, d := range s.Descendants(pid) {
		cpuTicks += d.CPUTicks
		rss += d.RSS
	}
	return cpuTicks, rss, true
}

// Usage is the figure for one process tree.
type Usage struct {
	CPUPercent float64 // of one core, as PM2 reports it
	Memory     int64   // bytes
	CPUTicks   uint64
}

// Sampler keeps the previous snapshot so CPU percentages can be computed from
// deltas. All apps are measured from one walk; a walk is reused for MinAge.
type Sampler struct {
	MinAge time.Duration

	mu   sync.Mutex
	cur  *Snapshot
	prev map[int]sample // by root pid: last ticks
}

type sample struct {
	at    time.Time
	ticks uint64
	start uint64
	pct   float64
}

// Usage returns the usage of each root pid's tree.
func (sm *Sampler) Usage(pids []int) map[int]Usage {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.cur == nil || time.Since(sm.cur.At) >= sm.MinAge {
		sm.cur = Take()
	}
	if sm.prev == nil {
		sm.prev = map[int]sample{}
	}
	out := make(map[int]Usage, len(pids))
	next := make(map[int]sample, len(pids))
	for _, pid := range pids {
		ticks, rss, ok := sm.cur.Tree(pid)
		if !ok {
			continue
		}
		u := Usage{Memory: rss, CPUTicks: ticks}
		st := sm.cur.Procs[pid].StartTime
		p, seen := sm.prev[pid]
		switch {
		case seen && p.start == st && !sm.cur.At.After(p.at):
			// The same walk answers again: keep its figure and its base.
			u.CPUPercent = p.pct
			next[pid] = p
		case seen && p.start == st:
			if dt := sm.cur.At.Sub(p.at).Seconds(); dt > 0 && ticks >= p.ticks {
				u.CPUPercent = float64(ticks-p.ticks) / ClockTicks / dt * 100
			}
			next[pid] = sample{at: sm.cur.At, ticks: ticks, start: st, pct: u.CPUPercent}
		default:
			next[pid] = sample{at: sm.cur.At, ticks: ticks, start: st}
		}
		out[pid] = u
	}
	sm.prev = next
	return out
}

// Zombie reports whether the process has exited and waits to be reaped.
func (p Proc) Zombie() bool { return p.State == 'Z' || p.State == 'X' }
