package supervisor

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/spec"
)

// How an app tells tend it is ready, from any language:
//
//   - Node's IPC channel, as PM2 gives it: a unix socketpair whose far end is
//     passed as NODE_CHANNEL_FD, newline-delimited JSON
//     (NODE_CHANNEL_SERIALIZATION_MODE=json). Node sets up process.send on
//     it by itself, so `process.send('ready')` works unchanged. Other
//     messages become events of type "message".
//   - systemd's notify protocol: a datagram socket named by NOTIFY_SOCKET to
//     which the app sends "READY=1".
//   - tend's Node preload, over the IPC channel: {"tend":"listening"} when a
//     server listens on a socket tend passed.

type signalKind int

const (
	sigReady     signalKind = iota // process.send('ready') or READY=1
	sigListening                   // the preload: a server listens on a passed socket
)

type runSignal struct {
	r    *run
	kind signalKind
	how  string
}

// maxIPCLine bounds one IPC message; longer lines are skipped.
const maxIPCLine = 1 << 20

// openIPC returns the two ends of a Node IPC channel: the daemon's
// (non-blocking, so closing it ends a pending read) and the app's.
func openIPC() (mine, theirs *os.File, err error) {
	fds, err := socketpairCloexec()
	if err != nil {
		return nil, nil, fmt.Errorf("IPC channel: %w", err)
	}
	unix.SetNonblock(fds[0], true)
	return os.NewFile(uintptr(fds[0]), "ipc"), os.NewFile(uintptr(fds[1]), "ipc-child"), nil
}

// sendSignal hands a readiness signal to the loop (dropped once it has
// exited).
func (p *Proc) sendSignal(sigs chan<- runSignal, s runSignal) {
	select {
	case sigs <- s:
	case <-p.done:
	}
}

// ipcReader takes the app's messages from its IPC channel, a line each.
// An app that is not speaking costs it no buffer and no goroutine: read is
// called when the channel has something (onReadable) and borrows a buffer
// from readBufs while it reads.
type ipcReader struct {
	p    *Proc
	r    *run
	f    *os.File
	sigs chan<- runSignal
	long []byte // the start of a line whose end has not arrived
	skip bool   // that line is longer than maxIPCLine: dropped up to its end
}

var readBufs = sync.Pool{New: func() any { b := make([]byte, 4<<10); return &b }}

// read takes what the channel holds now, without blocking; false once the
// channel is closed or at its end.
func (x *ipcReader) read() bool {
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	for {
		n, err := readNow(x.f, *bp)
		if err == unix.EAGAIN {
			return true
		}
		if err != nil || n == 0 {
			return false
		}
		x.feed((*bp)[:n])
	}
}

// readNow reads what c holds now (a datagram, for a datagram socket):
// unix.EAGAIN when it holds nothing, n == 0 at its end, an error once c is
// closed.
func readNow(c syscall.Conn, buf []byte) (n int, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	cerr := rc.Read(func(fd uintptr) bool {
		for {
			n, err = unix.Read(int(fd), buf)
			if err != unix.EINTR {
				return true
			}
		}
	})
	if cerr != nil {
		return 0, cerr
	}
	return max(n, 0), err
}

func (x *ipcReader) feed(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			x.hold(b)
			return
		}
		line := b[:i+1]
		b = b[i+1:]
		if x.long != nil || x.skip {
			x.hold(line)
			if line = x.long; x.skip {
				line = nil
			}
			x.long, x.skip = nil, false
		}
		if line != nil {
			x.p.onIPC(x.r, bytes.TrimSpace(line), x.sigs)
		}
	}
}

// hold keeps the start of a line until its end arrives.
func (x *ipcReader) hold(b []byte) {
	if x.skip {
		return
	}
	if len(x.long)+len(b) > maxIPCLine+1 {
		x.long, x.skip = nil, true
		return
	}
	x.long = append(x.long, b...)
}

// waitReadable returns once c has something to read, is at its end or is
// closed (an error), without holding a buffer or a thread meanwhile.
func waitReadable(c syscall.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		return err != nil || n > 0
	})
}

func (p *Proc) onIPC(r *run, line []byte, sigs chan<- runSignal) {
	if len(line) == 0 || len(line) > maxIPCLine {
		return
	}
	var v any
	if json.Unmarshal(line, &v) != nil {
		return
	}
	switch x := v.(type) {
	case string:
		if x == "ready" {
			p.sendSignal(sigs, runSignal{r: r, kind: sigReady, how: "process.send('ready')"})
			return
		}
	case map[string]any:
		if t, ok := x["tend"].(string); ok {
			if t == "listening" {
				addr, _ := x["addr"].(string)
				p.sendSignal(sigs, runSignal{r: r, kind: sigListening, how: "listening on " + addr})
			}
			return
		}
		if cmd, _ := x["cmd"].(string); cmd == shareCmd {
			p.shareSocket(r, x)
			return
		}
		if cmd, _ := x["cmd"].(string); strings.HasPrefix(cmd, "NODE_") {
			return // Node's own (handles, cluster)
		}
		if p.onAxm(x) {
			return
		}
	}
	p.publishMessage(r, string(line))
}

// shareCmd is the preload's request for a listening socket, and tend's
// answer: an internal message of Node's IPC (NODE_ prefix), so the app's own
// process.on('message') never sees it.
const shareCmd = "NODE_TEND_SOCKET"

// clusterShares tells whether the app's instances share the sockets they
// listen on (a Node app in cluster mode, as Node's cluster module does).
func clusterShares(app spec.App) bool {
	return app.ExecMode == "cluster_mode" && spec.IsNode(app.Interpreter)
}

// shareSocket answers the preload of a cluster-mode instance that calls
// server.listen on addr: the app's socket for addr (opened on first use) is
// sent over the IPC channel as Node sends a handle (NODE_HANDLE, SCM_RIGHTS);
// an error is sent as {"cmd":NODE_TEND_SOCKET,"error":…}, and the app then
// binds as it would have without tend.
func (p *Proc) shareSocket(r *run, req map[string]any) {
	reply := map[string]any{"cmd": shareCmd, "id": req["id"]}
	p.mu.Lock()
	app := p.app
	p.mu.Unlock()
	s, err := p.shareable(*app, req["addr"])
	if err == nil {
		reply["addr"] = s.addr
		err = sendIPC(r.ipc, map[string]any{"cmd": "NODE_HANDLE", "type": "net.Native", "msg": reply}, int(s.f.Fd()))
		if err == nil {
			return
		}
	}
	reply["error"] = err.Error()
	if err := sendIPC(r.ipc, reply, -1); err != nil {
		p.sup.logf("app %s (id %d): answer the preload: %v", app.Name, p.id, err)
	}
}

func (p *Proc) shareable(app spec.App, v any) (*listenSocket, error) {
	if !clusterShares(app) {
		return nil, fmt.Errorf("%s is not a Node app in cluster mode", app.Name)
	}
	raw, _ := v.(string)
	addr, err := shareAddr(raw)
	if err != nil {
		return nil, err
	}
	// A daemon that may bind ports an app's own user may not (root, and the
	// app runs as another user) does not bind privileged ports for it.
	if _, ps, err := net.SplitHostPort(addr); err == nil && app.UID != nil && *app.UID != os.Getuid() {
		if n, _ := strconv.Atoi(ps); n < 1024 {
			return nil, fmt.Errorf("port %d: privileged, and the app runs as uid %d", n, *app.UID)
		}
	}
	return p.sup.socks.share(app.Name, addr)
}

// shareAddr checks an address the preload asks for and writes it as the
// listen option's canonical form: "host:port" (":port" for every
// interface, IPv6 in brackets) or "unix:/absolute/path".
func shareAddr(raw string) (string, error) {
	if p, ok := strings.CutPrefix(raw, "unix:"); ok {
		if !filepath.IsAbs(p) {
			return "", fmt.Errorf("%q: the socket path must be absolute", raw)
		}
		return "unix:" + filepath.Clean(p), nil
	}
	host, port, err := net.SplitHostPort(raw)
	if err != nil {
		return "", fmt.Errorf("%q: %v", raw, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q: the port must be a number from 1 to 65535", raw)
	}
	if host != "" && net.ParseIP(host) == nil {
		return "", fmt.Errorf("%q: the host must be an IP address", raw)
	}
	return net.JoinHostPort(host, port), nil
}

// sendIPC writes one message on a Node IPC channel, with fd attached
// (SCM_RIGHTS) when fd >= 0.
func sendIPC(f *os.File, msg any, fd int) error {
	if f == nil {
		return errors.New("no IPC channel")
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Write(func(s uintptr) bool {
		var n int
		n, serr = unix.SendmsgN(int(s), b, oob, nil, 0)
		if serr == unix.EAGAIN {
			return false
		}
		if serr == nil && n < len(b) {
			b, oob = b[n:], nil // the fd went with the first bytes
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	return serr
}

func (p *Proc) publishMessage(r *run, data string) {
	p.mu.Lock()
	name := p.app.Name
	p.mu.Unlock()
	p.sup.Bus.Publish(api.Event{Type: api.EventMessage, Time: p.sup.now().UnixMilli(), PMID: p.id, Name: name, Data: data})
}

// maxSockPath is the longest path a unix socket address holds.
const maxSockPath = 107

// openNotify creates the NOTIFY_SOCKET of one run, an abstract socket on
// Linux (notifyAbstract), elsewhere in $TEND_HOME/run (an abstract socket
// when that path is too long), and returns it with the value for
// NOTIFY_SOCKET.
func (p *Proc) openNotify(seq int64) (*net.UnixConn, string, error) {
	dir := filepath.Join(p.sup.opts.Home, "run")
	path := filepath.Join(dir, fmt.Sprintf("%d.%d.notify", p.id, seq))
	if notifyAbstract || len(path) > maxSockPath || p.sup.opts.Home == "" {
		// Abstract names are one namespace for the whole network namespace
		// (every user, every container of a pod, every daemon and test in
		// one process): a random part makes the name nobody else's and
		// unguessable, so it can be neither taken first nor collided with.
		var rnd [8]byte
		rand.Read(rnd[:])
		path = fmt.Sprintf("@tend/%d.%d.%x.notify", p.id, seq, rnd)
	} else {
		h, err := p.sup.home()
		if err == nil {
			err = h.MkdirAll("run", 0o700) // checked: no link, nobody else's
		}
		if err != nil {
			return nil, "", err
		}
		os.Remove(path)
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, "", fmt.Errorf("NOTIFY_SOCKET: %w", err)
	}
	if strings.HasPrefix(path, "@") {
		// Any user can send to an abstract socket: the sender is checked.
		if err := passCred(c); err != nil {
			c.Close()
			return nil, "", fmt.Errorf("NOTIFY_SOCKET: %w", err)
		}
	}
	return c, path, nil
}

// notifySender tells whether a datagram from uid may speak for run r: the
// daemon's user, root, or the user r runs as; any sender when the kernel
// did not say (uid -1: a socket file in the private run folder).
func notifySender(r *run, uid int) bool {
	return uid < 0 || uid == 0 || uid == os.Getuid() || (r.app.UID != nil && uid == *r.app.UID)
}

// readNotify reads the sd_notify datagrams the socket holds now, without
// blocking; false once it is closed.
func (p *Proc) readNotify(r *run, c *net.UnixConn, sigs chan<- runSignal) bool {
	bp := readBufs.Get().(*[]byte) // a message is rare: no buffer while waiting
	defer readBufs.Put(bp)
	for {
		n, uid, err := readNotifyNow(c, *bp)
		if err == unix.EAGAIN {
			return true
		}
		if err != nil {
			return false
		}
		if !notifySender(r, uid) {
			continue // another user's datagram
		}
		msg := string((*bp)[:n])
		ready := false
		for _, l := range strings.Split(msg, "\n") {
			if strings.TrimSpace(l) == "READY=1" {
				ready = true
			}
		}
		if ready {
			p.sendSignal(sigs, runSignal{r: r, kind: sigReady, how: "READY=1 on NOTIFY_SOCKET"})
			continue
		}
		p.publishMessage(r, strings.TrimSpace(msg))
	}
}

// closeNotify closes a run's notify socket and removes its file.
func closeNotify(c *net.UnixConn, path string) {
	if c == nil {
		return
	}
	c.Close()
	if !strings.HasPrefix(path, "@") {
		os.Remove(path)
	}
}
