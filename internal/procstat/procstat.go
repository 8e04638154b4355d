// Package procstat reads process information from /proc in one shared walk:
// the parent/child tree, CPU time and resident memory, so that the figures of
// every app's whole process tree come from a single pass.
package procstat

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Proc is one process as read from /proc/<pid>/stat.
type Proc struct {
	PID       int
	State     byte // R, S, D, Z, ...
	PPID      int
	PGID      int
	StartTime uint64 // clock ticks since boot; with PID identifies a process
	CPUTicks  uint64 // utime + stime
	RSS       int64  // bytes
}

// Snapshot is one walk of /proc.
type Snapshot struct {
	At       time.Time
	Procs    map[int]Proc
	children map[int][]int
}

var pageSize = int64(os.Getpagesize())

// ClockTicks is the kernel's USER_HZ; 100 on every Linux architecture Go supports.
const ClockTicks = 100

// Take walks /proc once.
func Take() *Snapshot {
	s := &Snapshot{At: time.Now(), Procs: make(map[int]Proc, 256), children: make(map[int][]int, 256)}
	d, err := os.Open("/proc")
	if err != nil {
		return s
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	// Each stat file is opened relative to /proc, read with one read(2) into
	// a reused buffer and parsed without allocating: the walk costs three
	// system calls per process and little else.
	dirfd := int(d.Fd())
	buf := make([]byte, 1024)
	path := make([]byte, 0, 32)
	for _, n := range names {
		if n[0] < '0' || n[0] > '9' {
			continue
		}
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		path = append(append(path[:0], n...), "/stat"...)
		p, ok := readStatAt(dirfd, string(path), pid, buf)
		if !ok {
			continue
		}
		s.Procs[pid] = p
		s.children[p.PPID] = append(s.children[p.PPID], pid)
	}
	return s
}

// readStatAt reads <dirfd>/<path> (a /proc/<pid>/stat file).
func readStatAt(dirfd int, path string, pid int, buf []byte) (Proc, bool) {
	fd, err := unix.Openat(dirfd, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Proc{}, false
	}
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	if err != nil || n <= 0 {
		return Proc{}, false
	}
	return parseStat(pid, buf[:n])
}

// ReadProc reads a single process.
func ReadProc(pid int) (Proc, bool) {
	return readStat(pid, make([]byte, 1024))
}

func readStat(pid int, buf []byte) (Proc, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Proc{}, false
	}
	n, _ := f.Read(buf)
	f.Close()
	return parseStat(pid, buf[:n])
}

func parseStat(pid int, b []byte) (Proc, bool) {
	// comm may contain spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return Proc{}, false
	}
	b = b[i+2:]
	// Field k of stat(5) (k >= 3) is the (k-3)th space-separated word here;
	// fields 3..24 are needed.
	var f [22][]byte
	k := 0
	for start := 0; k < len(f); {
		for start < len(b) && b[start] == ' ' {
			start++
		}
		if start >= len(b) {
			break
		}
		end := start
		for end < len(b) && b[end] != ' ' && b[end] != '\n' {
			end++
		}
		f[k] = b[start:end]
		k++
		start = end + 1
	}
	if k < len(f) || len(f[0]) == 0 {
		return Proc{}, false
	}
	u := func(k int) uint64 {
		var v uint64
		for _, c := range f[k-3] {
			if c < '0' || c > '9' {
				return v
			}
			v = v*10 + uint64(c-'0')
		}
		return v
	}
	p := Proc{PID: pid, State: f[0][0]}
	p.PPID = int(u(4))
	p.PGID = int(u(5))
	p.CPUTicks = u(14) + u(15)
	p.StartTime = u(22)
	p.RSS = int64(u(24)) * pageSize
	if p.Zombie() {
		p.RSS = 0
	}
	return p, true
}

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
