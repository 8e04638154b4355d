//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ---- /proc -----------------------------------------------------------------

// schedCPU sums /proc/<pid>/task/*/schedstat over pid's live threads: the
// nanoseconds they have run and the times they were scheduled in (a count of
// wake-ups). Unlike utime+stime it is exact to the nanosecond; the time of a
// thread that exits between two readings is lost (the daemons measured here
// keep their threads).
func schedCPU(pid int) (ns uint64, slices uint64, err error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 3 {
			continue
		}
		v, _ := strconv.ParseUint(f[0], 10, 64)
		n, _ := strconv.ParseUint(f[2], 10, 64)
		ns += v
		slices += n
	}
	return ns, slices, nil
}

// rssMiB is VmRSS of pid in MiB.
func rssMiB(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

// pidsOfExe lists the live processes whose executable is exe.
func pidsOfExe(exe string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && (l == exe || l == exe+" (deleted)") {
			out = append(out, pid)
		}
	}
	return out
}

// killExe SIGKILLs every process running exe and returns how many there were.
func killExe(exe string) int {
	ps := pidsOfExe(exe)
	for _, p := range ps {
		syscall.Kill(p, syscall.SIGKILL)
	}
	return len(ps)
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// ---- exits, with pidfds ----------------------------------------------------

const sysPidfdOpen = 434

// exitWatch learns, without polling, when each of a set of processes exits:
// a pidfd becomes readable when its process terminates.
type exitWatch struct {
	ep   int
	fds  map[int]int // fd -> pid
	left int
}

func watchExits(pids []int) (*exitWatch, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	w := &exitWatch{ep: ep, fds: map[int]int{}}
	for _, pid := range pids {
		fd, _, e := syscall.Syscall(sysPidfdOpen, uintptr(pid), 0, 0)
		if e != 0 {
			continue // already gone
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
			syscall.Close(int(fd))
			continue
		}
		w.fds[int(fd)] = pid
		w.left++
	}
	return w, nil
}

// wait returns when every watched process has exited (the time the last exit
// was seen), or at the deadline with an error.
func (w *exitWatch) wait(deadline time.Time) (time.Time, error) {
	last := time.Now()
	evs := make([]syscall.EpollEvent, 64)
	for w.left > 0 {
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms <= 0 {
			return last, fmt.Errorf("%d processes still running", w.left)
		}
		n, err := syscall.EpollWait(w.ep, evs, ms)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return last, err
		}
		if n > 0 {
			last = time.Now()
		}
		for _, ev := range evs[:n] {
			fd := int(ev.Fd)
			if _, ok := w.fds[fd]; ok {
				syscall.EpollCtl(w.ep, syscall.EPOLL_CTL_DEL, fd, nil)
				syscall.Close(fd)
				delete(w.fds, fd)
				w.left--
			}
		}
	}
	return last, nil
}

func (w *exitWatch) close() {
	for fd := range w.fds {
		syscall.Close(fd)
	}
	syscall.Close(w.ep)
}

// ---- notifications from the apps ------------------------------------------

// msg is one datagram from an app: "up|exit|mem|done <pid> <unix ns>".
type msg struct {
	kind string
	pid  int
	ns   int64     // the app's clock
	at   time.Time // when the harness received it
}

type notifier struct {
	path string
	conn *net.UnixConn
	ch   chan msg
}

func newNotifier(dir string) (*notifier, error) {
	path := filepath.Join(dir, "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	c.SetReadBuffer(4 << 20)
	n := &notifier{path: path, conn: c, ch: make(chan msg, 1<<16)}
	go func() {
		buf := make([]byte, 256)
		for {
			k, err := c.Read(buf)
			if err != nil {
				close(n.ch)
				return
			}
			f := strings.Fields(string(buf[:k]))
			if len(f) != 3 {
				continue
			}
			pid, _ := strconv.Atoi(f[1])
			ns, _ := strconv.ParseInt(f[2], 10, 64)
			n.ch <- msg{kind: f[0], pid: pid, ns: ns, at: time.Now()}
		}
	}()
	return n, nil
}

// drain drops every message received so far.
func (n *notifier) drain() {
	for {
		select {
		case <-n.ch:
		default:
			return
		}
	}
}

// next returns the next message of one of kinds, or an error at the deadline.
func (n *notifier) next(deadline time.Time, kinds ...string) (msg, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		select {
		case m := <-n.ch:
			for _, k := range kinds {
				if m.kind == k {
					return m, nil
				}
			}
		case <-t.C:
			return msg{}, fmt.Errorf("timed out waiting for %s", strings.Join(kinds, "/"))
		}
	}
}

// ups waits for count distinct "up" pids; it returns them and when the last arrived.
func (n *notifier) ups(count int, deadline time.Time) ([]int, time.Time, error) {
	seen := map[int]bool{}
	var pids []int
	var last time.Time
	for len(pids) < count {
		m, err := n.next(deadline, "up")
		if err != nil {
			return pids, last, fmt.Errorf("%d of %d apps up: %w", len(pids), count, err)
		}
		if !seen[m.pid] {
			seen[m.pid] = true
			pids = append(pids, m.pid)
			last = m.at
		}
	}
	return pids, last, nil
}

// ---- statistics --------------------------------------------------------------

type stats struct {
	Median, Min, Max float64
	N                int
}

func summarize(xs []float64) stats {
	if len(xs) == 0 {
		return stats{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stats{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
