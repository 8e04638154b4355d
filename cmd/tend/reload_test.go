//go:build linux

package main

// Helpers for the reload scripts: an HTTP app in Go that serves on the
// sockets tend passes, and a client loop that counts failed requests.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// httpApp is an HTTP server for reload tests: tend-http ADDR. It answers
// every request with its pid (after $DELAY_MS, so requests are in flight
// when it stops), and shuts down gracefully on SIGINT/SIGTERM.
//
//   - It serves on the socket tend passes (LISTEN_FDS, LISTEN_PID), else it
//     binds ADDR itself, with SO_REUSEPORT when $REUSEPORT is set.
//   - Once it serves it sends READY=1 to $NOTIFY_SOCKET, unless a file named
//     "broken" exists in its cwd (then it serves but never says ready), or
//     $NO_NOTIFY is set.
//   - With a file named "crash" in its cwd it exits with status 1 at once.
func httpApp() {
	if _, err := os.Stat("crash"); err == nil {
		fmt.Fprintln(os.Stderr, "crash file present: exiting")
		os.Exit(1)
	}
	var l net.Listener
	var err error
	switch {
	case os.Getenv("LISTEN_FDS") != "":
		if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
			fmt.Fprintln(os.Stderr, "LISTEN_PID is", os.Getenv("LISTEN_PID"), "not", os.Getpid())
			os.Exit(2)
		}
		l, err = net.FileListener(os.NewFile(3, "listen"))
	case os.Getenv("REUSEPORT") != "":
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
			return serr
		}}
		l, err = lc.Listen(context.Background(), "tcp", os.Args[1])
	default:
		l, err = net.Listen("tcp", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	delay, _ := strconv.Atoi(os.Getenv("DELAY_MS"))
	pid := strconv.Itoa(os.Getpid())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if delay > 0 {
			time.Sleep(time.Duration(delay) * time.Millisecond)
		}
		io.WriteString(w, pid)
	})}
	d := newDrainer(srv)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	if _, err := os.Stat("broken"); err != nil && os.Getenv("NO_NOTIFY") == "" {
		if ns := os.Getenv("NOTIFY_SOCKET"); ns != "" {
			if c, err := net.Dial("unixgram", ns); err == nil {
				c.Write([]byte("STATUS=serving\nREADY=1"))
				c.Close()
			}
		}
	}
	fmt.Println("serving", pid)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sigs:
	case err := <-served:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	d.drain(l, served)
}

// drainer stops an http.Server without dropping a request, as
// docs/reload.md shows. Server.Shutdown is not enough: it drops a request
// that arrives on a connection it accepted but had not read from yet, and
// it closes keep-alive connections on which a request may be on its way.
type drainer struct {
	mu       sync.Mutex
	conns    map[net.Conn]*connState
	draining bool
	done     chan struct{}
}

type connState struct {
	st    http.ConnState
	since time.Time
}

func newDrainer(srv *http.Server) *drainer {
	d := &drainer{conns: map[net.Conn]*connState{}, done: make(chan struct{})}
	h := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		if d.draining {
			w.Header().Set("Connection", "close")
		}
		d.mu.Unlock()
		h.ServeHTTP(w, r)
	})
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if st == http.StateClosed || st == http.StateHijacked {
			delete(d.conns, c)
			if d.draining && len(d.conns) == 0 {
				close(d.done)
			}
			return
		}
		d.conns[c] = &connState{st, time.Now()}
	}
	return d
}

// drain stops accepting (tend keeps the socket open for the other
// instances), answers the next request of each connection with
// "Connection: close", and closes connections silent for 100 ms.
func (d *drainer) drain(ln net.Listener, served <-chan error) {
	ln.Close()
	<-served // Serve has returned: every accepted connection is tracked
	d.mu.Lock()
	d.draining = true
	for _, s := range d.conns {
		s.since = time.Now()
	}
	if len(d.conns) == 0 {
		close(d.done)
	}
	d.mu.Unlock()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-d.done:
			return
		case <-t.C:
		}
		d.mu.Lock()
		for c, s := range d.conns {
			if s.st != http.StateActive && time.Since(s.since) >= 100*time.Millisecond {
				c.Close()
			}
		}
		d.mu.Unlock()
	}
}

// loader is a client loop started by load-start.
type loader struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	ok     atomic.Int64
	failed atomic.Int64
	mu     sync.Mutex
	bodies map[string]int
	errs   []string
}

var (
	loadersMu sync.Mutex
	loaders   = map[string]*loader{}
)

func loaderKey(ts *testscript.TestScript, name string) string {
	return ts.Getenv("WORK") + "\x00" + name
}

// load-start [-keepalive] <name> <url> [workers] [max duration]: send GET
// requests to url from workers goroutines (default 2), each on a new
// connection (with -keepalive: reusing connections, as browsers and proxies
// do), until load-stop (or max duration, default 60 s), counting failures.
func cmdLoadStart(ts *testscript.TestScript, neg bool, args []string) {
	keepAlive := len(args) > 0 && args[0] == "-keepalive"
	if keepAlive {
		args = args[1:]
	}
	if len(args) < 2 {
		ts.Fatalf("usage: load-start name url [workers] [max duration]")
	}
	workers := 2
	if len(args) > 2 {
		workers, _ = strconv.Atoi(args[2])
	}
	maxDur := 60 * time.Second
	if len(args) > 3 {
		d, err := time.ParseDuration(args[3])
		ts.Check(err)
		maxDur = d
	}
	l := &loader{stop: make(chan struct{}), bodies: map[string]int{}}
	loadersMu.Lock()
	loaders[loaderKey(ts, args[0])] = l
	loadersMu.Unlock()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: !keepAlive}}
	deadline := time.After(maxDur)
	end := make(chan struct{})
	go func() {
		select {
		case <-deadline:
		case <-l.stop:
		}
		close(end)
	}()
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			t := time.NewTicker(2 * time.Millisecond) // at most 500 requests/s per worker
			defer t.Stop()
			for {
				select {
				case <-end:
					return
				case <-t.C:
				}
				resp, err := client.Get(args[1])
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.errs) < 10 {
						l.errs = append(l.errs, time.Now().Format("15:04:05.000000")+" "+err.Error())
					}
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
				l.mu.Lock()
				l.bodies[strings.TrimSpace(string(body))]++
				l.mu.Unlock()
			}
		}()
	}
}

// load-stop <name> [bodies file]: stop the loop; fail if a request failed
// (with !: if none failed) or none was sent. The distinct answers (pids) go
// to the file, one a line.
func cmdLoadStop(ts *testscript.TestScript, neg bool, args []string) {
	loadersMu.Lock()
	l := loaders[loaderKey(ts, args[0])]
	delete(loaders, loaderKey(ts, args[0]))
	loadersMu.Unlock()
	if l == nil {
		ts.Fatalf("no load-start %s", args[0])
	}
	close(l.stop)
	l.wg.Wait()
	var bodies []string
	for b, n := range l.bodies {
		bodies = append(bodies, fmt.Sprintf("%s (%d)", b, n))
	}
	sort.Strings(bodies)
	ts.Logf("load %s: %d requests ok, %d failed; answers: %s", args[0], l.ok.Load(), l.failed.Load(), strings.Join(bodies, ", "))
	for _, e := range l.errs {
		ts.Logf("  %s", e)
	}
	if l.ok.Load() == 0 {
		ts.Fatalf("load %s: no request succeeded", args[0])
	}
	if len(args) > 1 {
		var lines []string
		for b := range l.bodies {
			lines = append(lines, b)
		}
		sort.Strings(lines)
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	}
	if failed := l.failed.Load(); (failed > 0) != neg {
		if neg {
			ts.Fatalf("load %s: no request failed", args[0])
		}
		ts.Fatalf("load %s: %d of %d requests failed", args[0], failed, failed+l.ok.Load())
	}
}

// load-wait <name> <n> [timeout]: wait until n more requests of the loop
// have succeeded (so a reload happens while it runs, not before it starts).
func cmdLoadWait(ts *testscript.TestScript, neg bool, args []string) {
	loadersMu.Lock()
	l := loaders[loaderKey(ts, args[0])]
	loadersMu.Unlock()
	if l == nil {
		ts.Fatalf("no load-start %s", args[0])
	}
	n, _ := strconv.ParseInt(args[1], 10, 64)
	want := l.ok.Load() + n
	waitFor(ts, fmt.Sprintf("%d more requests of %s", n, args[0]), timeoutArg(ts, args, 2), func() (bool, string) {
		return l.ok.Load() >= want, fmt.Sprintf("%d ok, %d failed", l.ok.Load(), l.failed.Load())
	})
}

// wait-healthy <name> [timeout]: every instance of the app is healthy.
func cmdWaitHealthy(ts *testscript.TestScript, neg bool, args []string) {
	waitFor(ts, args[0]+" healthy", timeoutArg(ts, args, 1), func() (bool, string) {
		var seen []string
		ok := 0
		for _, p := range list(ts) {
			if p.Name == args[0] {
				seen = append(seen, p.PM2Env.Health)
				if p.PM2Env.Health == "healthy" {
					ok++
				}
			}
		}
		return len(seen) > 0 && ok == len(seen), fmt.Sprint(seen)
	})
}

// port-closed <port>: nothing accepts on 127.0.0.1:port.
func cmdPortClosed(ts *testscript.TestScript, neg bool, args []string) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+args[0], time.Second)
	if err == nil {
		c.Close()
		ts.Fatalf("port %s still accepts connections", args[0])
	}
}

// pids-changed <name> <file>: every instance saved by save-pids still
// exists and now runs with another pid.
func cmdPidsChanged(ts *testscript.TestScript, neg bool, args []string) {
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	now := map[string]string{}
	for k := range pidsOf(ts, args[0]) {
		id, pid, _ := strings.Cut(k, ":")
		now[id] = pid
	}
	saved := strings.Fields(string(b))
	if len(saved) == 0 {
		ts.Fatalf("no pids saved in %s", args[1])
	}
	for _, k := range saved {
		id, pid, _ := strings.Cut(k, ":")
		if now[id] == "" {
			ts.Fatalf("instance %s is not running; now: %v", id, now)
		}
		if now[id] == pid {
			ts.Fatalf("instance %s still runs with pid %s", id, pid)
		}
	}
}
