package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenSocket is one listening socket tend opened for an app (its listen
// option). The daemon keeps it open from the app's first start until its last
// instance is deleted, and every instance inherits it, so a reload never
// closes it: connections that arrive while no instance accepts wait in its
// queue.
type listenSocket struct {
	addr  string // canonical: "host:port", ":port" or "unix:/path"
	f     *os.File
	inode uint64
	port  int // 0 for unix sockets
}

// socketTable holds the sockets of every app, by app name.
type socketTable struct {
	mu   sync.Mutex
	apps map[string][]*listenSocket
	// learned are the addresses instances of a cluster-mode app asked for
	// while they ran (share), by app name: every later instance gets them.
	learned map[string][]string
}

// forApp returns the sockets of app, in the order of app.Listen then the
// learned addresses, opening the ones not open yet. Sockets of addresses the
// app no longer lists are closed (instances that run keep their inherited
// copies).
func (t *socketTable) forApp(name string, addrs []string) ([]*listenSocket, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.apps == nil {
		t.apps = map[string][]*listenSocket{}
	}
	for _, a := range t.learned[name] {
		if !slices.Contains(addrs, a) {
			addrs = append(addrs[:len(addrs):len(addrs)], a)
		}
	}
	have := map[string]*listenSocket{}
	for _, s := range t.apps[name] {
		have[s.addr] = s
	}
	out := make([]*listenSocket, 0, len(addrs))
	var opened []*listenSocket
	for _, a := range addrs {
		if s := have[a]; s != nil {
			out = append(out, s)
			delete(have, a)
			continue
		}
		s, err := openListen(a)
		if err != nil {
			for _, s := range opened {
				s.close()
			}
			return nil, fmt.Errorf("listen %s: %w", a, err)
		}
		opened = append(opened, s)
		out = append(out, s)
	}
	for _, s := range have {
		s.close()
	}
	if len(out) == 0 {
		delete(t.apps, name)
	} else {
		t.apps[name] = out
	}
	return out, nil
}

// share returns the socket of addr for a cluster-mode app, opening it on
// first use (an instance called server.listen on it); every instance that
// asks, and every instance started after, gets the same socket, so the
// kernel spreads connections over them.
func (t *socketTable) share(name, addr string) (*listenSocket, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.apps[name] {
		if s.addr == addr {
			return s, nil
		}
	}
	s, err := openListen(addr)
	if err != nil {
		return nil, err
	}
	if t.apps == nil {
		t.apps = map[string][]*listenSocket{}
	}
	if t.learned == nil {
		t.learned = map[string][]string{}
	}
	t.apps[name] = append(t.apps[name], s)
	t.learned[name] = append(t.learned[name], addr)
	return s, nil
}

// shared returns the addresses of a cluster-mode app that its instances
// asked for so far.
func (t *socketTable) shared(name string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.learned[name])
}

// release closes the sockets of an app (its last instance was deleted).
func (t *socketTable) release(name string) {
	t.mu.Lock()
	socks := t.apps[name]
	delete(t.apps, name)
	delete(t.learned, name)
	t.mu.Unlock()
	for _, s := range socks {
		s.close()
	}
}

// closeAll closes every socket (daemon shutdown).
func (t *socketTable) closeAll() {
	t.mu.Lock()
	apps := t.apps
	t.apps = nil
	t.mu.Unlock()
	for _, socks := range apps {
		for _, s := range socks {
			s.close()
		}
	}
}

func (s *listenSocket) close() {
	s.f.Close()
	if p, ok := strings.CutPrefix(s.addr, "unix:"); ok {
		os.Remove(p)
	}
}

// openListen binds and listens on a canonical address and returns the
// socket as a file to pass to children (blocking mode, as systemd passes
// them; apps set the mode they want).
func openListen(addr string) (*listenSocket, error) {
	var l net.Listener
	var err error
	var lc net.ListenConfig
	port := 0
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		removeStaleUnix(p)
		l, err = lc.Listen(context.Background(), "unix", p)
		if err == nil {
			l.(*net.UnixListener).SetUnlinkOnClose(false)
		}
	} else {
		_, ps, _ := net.SplitHostPort(addr)
		port, _ = strconv.Atoi(ps)
		network := "tcp"
		if h, _, _ := net.SplitHostPort(addr); h == "0.0.0.0" {
			network = "tcp4"
		}
		l, err = lc.Listen(context.Background(), network, addr)
	}
	if err != nil {
		return nil, err
	}
	var sc syscall.RawConn
	switch x := l.(type) {
	case *net.TCPListener:
		sc, err = x.SyscallConn()
	case *net.UnixListener:
		sc, err = x.SyscallConn()
	}
	fd := -1
	if err == nil {
		cerr := sc.Control(func(s uintptr) { fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) })
		if err == nil {
			err = cerr
		}
	}
	l.Close() // fd is a duplicate: the socket stays open and listening
	if err != nil {
		return nil, err
	}
	// The passed socket is one open file description shared by the daemon
	// and every instance, and O_NONBLOCK belongs to it. It starts blocking,
	// as systemd passes sockets, and the daemon must never flip it again: an
	// *os.File that the runtime had made non-blocking is set back to
	// blocking by os/exec at each start, and a Go app that serves on the
	// socket would then block in accept(2) where its runtime expects
	// EAGAIN, and take one more connection after it began to shut down.
	// A blocking fd given to os.NewFile is not pollable, and Fd() leaves it.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), addr)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, err
	}
	return &listenSocket{addr: addr, f: f, inode: st.Ino, port: port}, nil
}

// removeStaleUnix removes a unix socket file nobody listens on any more.
func removeStaleUnix(path string) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return
	}
	c, err := net.Dial("unix", path)
	if err == nil {
		c.Close()
		return
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		os.Remove(path)
	}
}
