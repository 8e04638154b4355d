//go:build !linux || tend_portable

package procstat

import (
	"time"

	"github.com/shirou/gopsutil/v4/process"
	"golang.org/x/sys/unix"
)

// Take asks the system for every process (gopsutil: sysctl and libproc on
// macOS, sysctl on the BSDs). It costs more per process than the Linux walk
// and serves the same figures.
func Take() *Snapshot {
	s := &Snapshot{At: time.Now(), Procs: make(map[int]Proc, 256), children: make(map[int][]int, 256)}
	pids, err := process.Pids()
	if err != nil {
		return s
	}
	for _, pid := range pids {
		p, ok := ReadProc(int(pid))
		if !ok {
			continue
		}
		s.Procs[p.PID] = p
		s.children[p.PPID] = append(s.children[p.PPID], p.PID)
	}
	return s
}

// ReadProc reads a single process.
func ReadProc(pid int) (Proc, bool) {
	h, err := process.NewProcess(int32(pid))
	if err != nil {
		return Proc{}, false
	}
	ppid, err := h.Ppid()
	if err != nil {
		return Proc{}, false
	}
	created, err := h.CreateTime()
	if err != nil {
		return Proc{}, false
	}
	p := Proc{PID: pid, State: 'S', PPID: int(ppid), StartTime: uint64(created)}
	if pgid, err := unix.Getpgid(pid); err == nil {
		p.PGID = pgid
	}
	if st, err := h.Status(); err == nil && len(st) > 0 {
		switch st[0] {
		case process.Zombie:
			p.State = 'Z'
		case process.Running:
			p.State = 'R'
		case process.Stop:
			p.State = 'T'
		}
	}
	if t, err := h.Times(); err == nil {
		p.CPUTicks = uint64((t.User + t.System) * ClockTicks)
	}
	if m, err := h.MemoryInfo(); err == nil && !p.Zombie() {
		p.RSS = int64(m.RSS)
	}
	return p, true
}
