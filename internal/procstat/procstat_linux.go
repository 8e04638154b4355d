//go:build linux && !tend_portable

package procstat

import (
	"bytes"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

var pageSize = int64(os.Getpagesize())

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
