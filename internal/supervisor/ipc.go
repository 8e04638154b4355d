package supervisor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/api"
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

// readIPC reads the app's messages until the channel closes.
func (p *Proc) readIPC(r *run, f *os.File, sigs chan<- runSignal) {
	br := bufio.NewReaderSize(f, 64<<10)
	var long []byte
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(long)+len(line) <= maxIPCLine {
				long = append(long, line...)
			}
			continue
		}
		if err != nil {
			return
		}
		if long != nil {
			line = append(long, line...)
			long = nil
		}
		p.onIPC(r, bytes.TrimSpace(line), sigs)
	}
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
		if cmd, _ := x["cmd"].(string); strings.HasPrefix(cmd, "NODE_") {
			return // Node's own (handles, cluster)
		}
	}
	p.publishMessage(r, string(line))
}

func (p *Proc) publishMessage(r *run, data string) {
	p.mu.Lock()
	name := p.app.Name
	p.mu.Unlock()
	p.sup.Bus.Publish(api.Event{Type: api.EventMessage, Time: p.sup.now().UnixMilli(), PMID: p.id, Name: name, Data: data})
}

// maxSockPath is the longest path a unix socket address holds.
const maxSockPath = 107

// openNotify creates the NOTIFY_SOCKET of one run, in $TEND_HOME/run (an
// abstract socket when that path is too long), and returns it with the
// value for NOTIFY_SOCKET.
func (p *Proc) openNotify(seq int64) (*net.UnixConn, string, error) {
	dir := filepath.Join(p.sup.opts.Home, "run")
	path := filepath.Join(dir, fmt.Sprintf("%d.%d.notify", p.id, seq))
	if len(path) > maxSockPath || p.sup.opts.Home == "" {
		path = fmt.Sprintf("@tend/%d/%d.%d.notify", os.Getpid(), p.id, seq)
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
	return c, path, nil
}

// readNotify reads sd_notify datagrams until the socket closes.
func (p *Proc) readNotify(r *run, c *net.UnixConn, sigs chan<- runSignal) {
	buf := make([]byte, 4096)
	for {
		n, _, err := c.ReadFromUnix(buf)
		if err != nil {
			return
		}
		msg := string(buf[:n])
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
