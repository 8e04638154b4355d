package supervisor

import (
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/procstat"
)

// member identifies a process across pid reuse.
type member struct {
	pid   int
	start uint64
}

// treeOf lists, from one walk of /proc, the processes of group pgid and every
// descendant of root or of a group member, including those that left the
// group (setsid, setpgid) but not those already reparented away.
func treeOf(snap *procstat.Snapshot, pgid, root int) []member {
	seen := map[int]bool{}
	var out []member
	add := func(p procstat.Proc) {
		if !seen[p.PID] {
			seen[p.PID] = true
			out = append(out, member{p.PID, p.StartTime})
		}
	}
	if p, ok := snap.Procs[root]; ok {
		add(p)
	}
	for _, p := range snap.Procs {
		if p.PGID == pgid && pgid > 1 {
			add(p)
		}
	}
	for _, m := range append([]member(nil), out...) {
		for _, d := range snap.Descendants(m.pid) {
			add(d)
		}
	}
	return out
}

// tree lists the run's processes: its group and their descendants from the
// walk, and with a cgroup every process in it, however far it went.
func (r *run) tree(snap *procstat.Snapshot) []member {
	ms := treeOf(snap, r.pgid, r.pid)
	if r.cg == nil {
		return ms
	}
	var more []member
	for _, pid := range r.cg.Pids() {
		p, ok := snap.Procs[pid]
		if !ok {
			p, ok = procstat.ReadProc(pid) // born after the walk
		}
		if ok {
			more = append(more, member{pid, p.StartTime})
		}
	}
	return mergeMembers(ms, more)
}

// alive reports whether a listed member, or anything in the run's cgroup,
// still runs.
func (r *run) alive(ms []member) bool {
	return anyAlive(ms) || (r.cg != nil && !r.cg.Empty())
}

// kill sends SIGKILL to the group, the listed members and the cgroup.
func (r *run) kill(ms []member) {
	signalTree(r.pgid, ms, syscall.SIGKILL)
	if r.cg != nil {
		r.cg.Kill()
	}
}

// mergeMembers adds to a the members of b it does not list.
func mergeMembers(a, b []member) []member {
	seen := map[member]bool{}
	for _, m := range a {
		seen[m] = true
	}
	for _, m := range b {
		if !seen[m] {
			a = append(a, m)
		}
	}
	return a
}

// alive reports whether m still runs (a zombie does not).
func alive(m member) bool {
	p, ok := procstat.ReadProc(m.pid)
	return ok && p.StartTime == m.start && !p.Zombie()
}

// signalTree sends sig to the group and to every listed member still alive.
func signalTree(pgid int, ms []member, sig syscall.Signal) {
	if pgid > 1 {
		_ = unix.Kill(-pgid, sig)
	}
	for _, m := range ms {
		if alive(m) {
			_ = unix.Kill(m.pid, sig)
		}
	}
}

func anyAlive(ms []member) bool {
	for _, m := range ms {
		if alive(m) {
			return true
		}
	}
	return false
}

// ParseSignal turns "SIGINT", "INT" or "2" into a signal.
func ParseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return syscall.SIGINT, nil
	}
	u := strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(u, "SIG") {
		var n int
		if _, err := fmt.Sscanf(u, "%d", &n); err == nil && n > 0 && n < 65 {
			return syscall.Signal(n), nil
		}
		u = "SIG" + u
	}
	if sig := unix.SignalNum(u); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// signalName names a signal as PM2 shows it ("SIGKILL").
func signalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return fmt.Sprintf("SIG%d", int(sig))
}
