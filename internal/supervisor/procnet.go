package supervisor

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// What an app's processes do with sockets, read from /proc: which TCP
// sockets they listen on, and whether they wait for connections on a socket
// tend passed them. Used by reload to choose how to replace an instance and
// to see when the new one serves.

// fdInodes returns the socket inodes pid holds, by fd number.
func fdInodes(pid int) map[int]uint64 {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := make(map[int]uint64, len(ents))
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink(dir + e.Name())
		if err != nil {
			continue
		}
		if ino, ok := socketInode(link); ok {
			out[fd] = ino
		}
	}
	return out
}

func socketInode(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "socket:[")
	if !ok || !strings.HasSuffix(s, "]") {
		return 0, false
	}
	n, err := strconv.ParseUint(s[:len(s)-1], 10, 64)
	return n, err == nil
}

// tcpListening reads the TCP sockets in LISTEN state of pid's network
// namespace: inode → local address.
func tcpListening(pid int) map[uint64]netip.AddrPort {
	out := map[uint64]netip.AddrPort{}
	for _, f := range []string{"tcp", "tcp6"} {
		fh, err := os.Open("/proc/" + strconv.Itoa(pid) + "/net/" + f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A = TCP_LISTEN
				continue
			}
			ap, ok := parseProcAddr(fields[1])
			ino, err := strconv.ParseUint(fields[9], 10, 64)
			if ok && err == nil && ino != 0 {
				out[ino] = ap
			}
		}
		fh.Close()
	}
	return out
}

// parseProcAddr reads "0100007F:1F90" (IPv4) or 32 hex digits and a port
// (IPv6). The address is written as 32-bit words in host byte order.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(addr, uint16(port)), true
}

// listeningOf returns the TCP addresses the processes listen on, without
// the sockets whose inodes are in skip (those tend passed them).
func listeningOf(pids []int, skip map[uint64]bool) map[netip.AddrPort]bool {
	out := map[netip.AddrPort]bool{}
	if len(pids) == 0 {
		return out
	}
	listen := tcpListening(pids[0])
	for _, pid := range pids {
		for _, ino := range fdInodes(pid) {
			if ap, ok := listen[ino]; ok && !skip[ino] {
				out[ap] = true
			}
		}
	}
	return out
}

// pollsAny reports whether one of the processes waits for events on one of
// the socket inodes with epoll (/proc/<pid>/fdinfo of its epoll instances
// lists the registered fds): an app that accepts on a passed socket with
// Go's netpoller, libuv, asyncio or any event loop does.
func pollsAny(pids []int, inodes map[uint64]bool) bool {
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid)
		ents, err := os.ReadDir(dir + "/fd")
		if err != nil {
			continue
		}
		var socks map[int]uint64
		for _, e := range ents {
			link, err := os.Readlink(dir + "/fd/" + e.Name())
			if err != nil || link != "anon_inode:[eventpoll]" {
				continue
			}
			info, err := os.ReadFile(dir + "/fdinfo/" + e.Name())
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(info), "\n") {
				rest, ok := strings.CutPrefix(line, "tfd:")
				if !ok {
					continue
				}
				f := strings.Fields(rest)
				if len(f) == 0 {
					continue
				}
				tfd, err := strconv.Atoi(f[0])
				if err != nil {
					continue
				}
				if socks == nil {
					socks = fdInodes(pid)
				}
				if inodes[socks[tfd]] {
					return true
				}
			}
		}
	}
	return false
}

// canBindAlongside reports whether a new process could bind ap while the
// current listener holds it: true only when that listener set SO_REUSEPORT
// (and belongs to this user), which tend checks by binding a socket with
// SO_REUSEPORT itself and closing it at once. A bound socket that does not
// listen takes no connections.
func canBindAlongside(ap netip.AddrPort) bool {
	family := unix.AF_INET
	var sa unix.Sockaddr
	if ap.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := socketCloexec(family, unix.SOCK_STREAM)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return false
	}
	return unix.Bind(fd, sa) == nil
}
