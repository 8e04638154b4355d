package pm2wire

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/peercred"
	"github.com/tend-dev/tend/internal/spec"
)

// Backend is what the PM2 protocol needs of the daemon: the operations its
// HTTP API serves, nothing of the supervisor's insides.
type Backend interface {
	List() []api.Process
	Start(ctx context.Context, apps []spec.App) ([]api.Process, error)
	Act(ctx context.Context, req api.ActionRequest) ([]api.Process, error)
	Scale(ctx context.Context, name, count string) ([]api.Process, error)
	Send(ctx context.Context, req api.SendRequest) error
	ReloadLogs() error
	// Subscribe returns the daemon's events (log lines too with logs) until
	// cancel is called.
	Subscribe(logs bool) (events <-chan api.Event, cancel func())
	// Kill stops every app and then the daemon (tend kill).
	Kill()
}

// Socket files in the home, PM2's names.
const (
	RPCSocket = "rpc.sock"
	PubSocket = "pub.sock"
)

// Options configure a Server.
type Options struct {
	Home     string
	Version  string // tend's, answered to getVersion when the caller's pm2 is not found
	AllowUID int    // the only peer uid served
	Logf     func(format string, args ...any)
}

// Server serves rpc.sock and pub.sock.
type Server struct {
	opts Options
	b    Backend

	mu       sync.Mutex
	lns      []net.Listener
	conns    map[net.Conn]int // open connections, with the peer's pid
	pubs     map[*pubConn]struct{}
	closed   chan struct{}
	quitPIDs []int // callers of killMe, sent SIGQUIT at Close

	pubMu   sync.Mutex // held while bus connections are accepted (bus.go)
	listMu  sync.Mutex
	listMap map[int]api.Process // busProcs' cache
	listAt  time.Time
	pubRaw  syscall.RawConn // pub.sock's listener
	// wakeR polls readable once Close begins (wakeW closed), so acceptPub
	// waits for a bus client without a timeout and still ends.
	wakeR, wakeW *os.File
}

// Listen creates both sockets in opts.Home (mode 0600; stale files of a
// dead daemon are replaced: the caller holds the daemon lock) and serves
// them until Close.
func Listen(b Backend, opts Options) (*Server, error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &Server{opts: opts, b: b, conns: map[net.Conn]int{}, pubs: map[*pubConn]struct{}{}, closed: make(chan struct{})}
	for _, name := range []string{RPCSocket, PubSocket} {
		path := filepath.Join(opts.Home, name)
		os.Remove(path)
		old := unix.Umask(0o177)
		ln, err := net.Listen("unix", path)
		unix.Umask(old)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("PM2 socket %s: %w", path, err)
		}
		os.Chmod(path, 0o600)
		s.lns = append(s.lns, ln)
	}
	go s.accept(s.lns[0], s.serveRPC)
	raw, err := s.lns[1].(*net.UnixListener).SyscallConn()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("PM2 socket %s: %w", PubSocket, err)
	}
	s.pubRaw = raw
	if s.wakeR, s.wakeW, err = os.Pipe(); err != nil {
		s.Close()
		return nil, fmt.Errorf("PM2 socket %s: %w", PubSocket, err)
	}
	go s.acceptPub()
	return s, nil
}

// Close stops serving, closes every connection and removes the sockets.
// A client that asked for killMe is told first (SIGQUIT, as PM2 does) and
// given a moment to close its own connections, so its sockets do not try to
// reconnect to a daemon that is gone.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		return
	default:
	}
	close(s.closed)
	if s.wakeW != nil {
		s.wakeW.Close() // acceptPub returns and lets go of the listener
	}
	for _, ln := range s.lns {
		ln.Close()
		os.Remove(ln.Addr().String())
	}
	quit := s.quitPIDs
	s.quitPIDs = nil
	s.mu.Unlock()
	for _, pid := range quit {
		sigquit(pid)
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	for len(quit) > 0 && time.Now().Before(deadline) && s.hasConnOf(quit) {
		time.Sleep(5 * time.Millisecond)
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

func (s *Server) hasConnOf(pids []int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pid := range s.conns {
		if slices.Contains(pids, pid) {
			return true
		}
	}
	return false
}

func (s *Server) accept(ln net.Listener, serve func(net.Conn, int)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.opts.Logf("PM2 socket: accept: %v", err)
			continue
		}
		pid, ok := s.admit(c)
		if !ok {
			continue
		}
		go func() {
			defer s.drop(c)
			serve(c, pid)
		}()
	}
}

// admit checks the peer's uid and records the connection; it returns the
// peer's pid, or false when c was refused (and closed).
func (s *Server) admit(c net.Conn) (int, bool) {
	uid, pid := peercred.Get(c)
	if uid != s.opts.AllowUID {
		s.opts.Logf("PM2 socket: refused a client with uid %d (owner uid %d)", uid, s.opts.AllowUID)
		c.Close()
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		c.Close()
		return 0, false
	default:
	}
	s.conns[c] = pid
	return pid, true
}

func (s *Server) drop(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

// maxCalls bounds the calls of one connection served at once; more wait
// (PM2's CLI sends at most CONCURRENT_ACTIONS, 2, at a time).
const maxCalls = 64

// rpcMessage is pm2-axon-rpc's request.
type rpcMessage struct {
	Type   string            `json:"type"`
	Method string            `json:"method"`
	Args   []json.RawMessage `json:"args"`
}

// serveRPC reads axon req frames, [message, id], and answers each with a rep
// frame, [reply, id]. Calls run concurrently, as in PM2's daemon; the id
// pairs a reply with its call.
func (s *Server) serveRPC(c net.Conn, pid int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // a client gone mid-call cancels its calls
	br := bufio.NewReaderSize(c, 64<<10)
	var wmu sync.Mutex
	sem := make(chan struct{}, maxCalls)
	for {
		args, err := ReadFrame(br, MaxFrame)
		if err != nil {
			if err != io.EOF && !errors.Is(err, net.ErrClosed) {
				s.opts.Logf("PM2 rpc.sock: %v: connection closed", err)
			}
			return
		}
		if len(args) == 0 {
			s.opts.Logf("PM2 rpc.sock: a frame without a request id: connection closed")
			return
		}
		id := args[len(args)-1]
		var msg []byte
		if len(args) > 1 {
			msg = args[0]
		}
		// A bus PM2's client connected just before this call hears what
		// the call makes happen (pm2.trigger's axm:reply), as with PM2.
		s.syncPub()
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			call := &rpcCall{ctx: ctx, pid: pid}
			reply := s.call(call, msg)
			r, err := Pack(reply)
			if err != nil {
				r, _ = Pack(map[string]string{"error": "tend could not encode the reply: " + err.Error()})
			}
			if !call.noReply {
				frame := AppendFrame(nil, r, id)
				wmu.Lock()
				c.Write(frame) // a client gone meanwhile: nothing to do
				wmu.Unlock()
			}
			if call.after != nil {
				call.after()
			}
		}()
	}
}

// call decodes one request and runs it; it returns pm2-axon-rpc's reply:
// {args: [result]} or {error: message}.
func (s *Server) call(c *rpcCall, raw []byte) (reply any) {
	defer func() {
		if p := recover(); p != nil {
			s.opts.Logf("PM2 rpc.sock: call panicked: %v", p)
			reply = errReply(fmt.Errorf("tend failed on this call: %v", p))
		}
	}()
	kind, payload := Unpack(raw)
	if kind != KindJSON {
		return errReply(errors.New("tend's rpc.sock expects pm2-axon-rpc's JSON call message"))
	}
	var m rpcMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return errReply(fmt.Errorf("tend's rpc.sock could not decode the call: %v", err))
	}
	if m.Type == "methods" {
		return map[string]any{"methods": methodDescriptions()}
	}
	if m.Method == "" {
		return errReply(errors.New(".method required"))
	}
	fn, ok := methods[m.Method]
	if !ok {
		if why, ok := unserved[m.Method]; ok {
			return errReply(fmt.Errorf("tend does not serve PM2's %s: %s", m.Method, why))
		}
		return errReply(fmt.Errorf("method %q does not exist in tend's PM2 protocol", m.Method))
	}
	if m.Args == nil {
		return errReply(errors.New(".args required"))
	}
	c.args = m.Args
	res, err := fn(s, c)
	if err != nil {
		return errReply(err)
	}
	return map[string]any{"args": []any{res}}
}

func errReply(err error) map[string]any {
	return map[string]any{"error": err.Error()}
}

// quitOnClose asks Close to send SIGQUIT to pid (the caller of killMe).
func (s *Server) quitOnClose(pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quitPIDs = append(s.quitPIDs, pid)
}

// sigquit tells a PM2 client that asked for killMe that the daemon is gone,
// as PM2's daemon does (the client otherwise waits 3 s).
func sigquit(pid int) {
	if pid > 0 {
		syscall.Kill(pid, syscall.SIGQUIT)
	}
}
