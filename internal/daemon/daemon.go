// Package daemon is tend's long-running process: it owns the supervisor and
// serves the local API on a unix socket in TEND_HOME.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/cgroup"
	"github.com/tend-dev/tend/internal/config"
	"github.com/tend-dev/tend/internal/homedir"
	"github.com/tend-dev/tend/internal/peercred"
	"github.com/tend-dev/tend/internal/supervisor"
	"github.com/tend-dev/tend/internal/version"
)

// ErrRunning means another daemon holds TEND_HOME.
var ErrRunning = errors.New("a tend daemon is already running for this TEND_HOME")

// SocketPath is the API socket in home.
func SocketPath(home string) string { return filepath.Join(home, "tend.sock") }

// Options configure Run.
type Options struct {
	Home string
	// Ready, if set, is written "ready\n" and closed once the socket accepts.
	Ready io.WriteCloser
	// Log receives the daemon's own log; nil means stderr.
	Log io.Writer
	// AllowUID is the only peer uid served; -1 means the daemon's own uid.
	AllowUID int
	// MetricsAddr, if set, serves Prometheus metrics there (loopback only);
	// it wins over TEND_METRICS_ADDR and metrics_addr in tend.json.
	MetricsAddr string
	// Resurrect starts, once the earlier daemon's apps are taken over, the
	// apps of `tend save` (DumpFile) that it does not know (`tend startup`).
	Resurrect bool
	// Foreground is `tend run`: the caller owns the process's signals and
	// stops everything by ending ctx, and no earlier daemon's apps are taken
	// over (the caller starts its own through the socket).
	Foreground bool
}

// DumpFile is where `tend save` writes every app's options, in TEND_HOME
// (PM2's ~/.pm2/dump.pm2).
const DumpFile = "dump.json"

// Daemon is a running daemon.
type Daemon struct {
	opts    Options
	home    *homedir.Dir
	sup     *supervisor.Supervisor
	log     *log.Logger
	started time.Time
	quit    chan struct{}
	// quitOnce closes quit: kill and detach requests may come together.
	quitOnce sync.Once
	detach   atomic.Bool  // quit leaves the apps running
	obs      observer     // settings, log rotation, metrics (observe.go)
	limits   Limits       // caps on requests and apps (limits.go)
	api      http.Handler // the routes without the peer check, for the dashboard
	web      webState     // the dashboard (web.go)
	trim     trimmer      // garbage back to the kernel after changes (trim.go)
}

// Run serves until ctx ends, SIGINT/SIGTERM arrives, or a client asks to kill
// the daemon; then it stops every app and returns.
func Run(ctx context.Context, opts Options) error {
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	if opts.AllowUID < 0 {
		opts.AllowUID = os.Getuid()
	}
	if err := checkMetricsFlag(opts.MetricsAddr); err != nil {
		return err
	}
	// The home and every folder used in it must be this user's alone, and
	// nothing in it is reached through a link (package homedir): a daemon
	// running as root would otherwise run or write what another user
	// planted there.
	home, err := homedir.Open(opts.Home)
	if err != nil {
		return err
	}
	defer home.Close()
	lock, err := home.OpenFile("daemon.lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open lock: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return ErrRunning
	}
	lock.Truncate(0)
	lock.WriteString(strconv.Itoa(os.Getpid()) + "\n")

	sock := SocketPath(opts.Home)
	os.Remove(sock) // stale socket of a dead daemon: we hold the lock
	old := unix.Umask(0o177)
	ln, err := net.Listen("unix", sock)
	unix.Umask(old)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", sock, err)
	}
	os.Chmod(sock, 0o600)

	d := &Daemon{opts: opts, log: log.New(opts.Log, "", log.LstdFlags|log.Lmicroseconds), started: time.Now(), quit: make(chan struct{})}
	sample, _ := time.ParseDuration(os.Getenv("TEND_SAMPLE_INTERVAL")) // 0: the default
	cg := cgroup.Open(cgroup.Settings{Home: opts.Home, Mode: os.Getenv("TEND_CGROUP")})
	defer cg.Close()
	if cg.Version() == cgroup.None {
		d.log.Printf("memory measured as %s: no cgroup (%s)", cg.Describe(), cg.Reason())
	} else {
		d.log.Printf("memory measured as %s: each run of an app gets a group in %s", cg.Describe(), cg.Base())
		cg.Sweep()
	}
	d.loadSettings()
	d.loadLimits()
	d.home = home
	d.sup = supervisor.New(supervisor.Options{Home: opts.Home, Logf: d.log.Printf, SampleInterval: sample, HomeDir: home, Cgroup: cg, LogRotation: d.obs.rotation})
	if !opts.Foreground {
		d.restore()
	}
	if opts.Resurrect {
		d.resurrect()
	}
	d.serveMetrics()
	handler := d.routes()
	d.serveWebAtStart()
	srv := &http.Server{
		Handler:     handler,
		ConnContext: withPeer,
	}
	go srv.Serve(ln)
	pm2 := d.servePM2()
	d.log.Printf("tend daemon %s started, pid %d, home %s", version.String(), os.Getpid(), opts.Home)
	if opts.Ready != nil {
		io.WriteString(opts.Ready, "ready\n")
		opts.Ready.Close()
	}

	sigs := make(chan os.Signal, 4)
	if opts.Foreground {
		signal.Notify(sigs, syscall.SIGUSR2, syscall.SIGHUP)
	} else {
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR2, syscall.SIGHUP)
	}
	defer signal.Stop(sigs)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-d.quit:
			done = true
		case s := <-sigs:
			switch s {
			case syscall.SIGUSR2, syscall.SIGHUP:
				d.log.Printf("reopening log files (%v)", s)
				if err := d.sup.Files().Reopen(); err != nil {
					d.log.Printf("reopen logs: %v", err)
				}
			default:
				d.log.Printf("received %v: stopping every app", s)
				done = true
			}
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if pm2 != nil {
		if !d.detach.Load() {
			pm2.Emit("pm2:kill", map[string]string{"status": "killed", "msg": "tend's daemon is stopping"})
		}
		defer pm2.Close()
	}
	bye := "tend daemon stopped"
	if d.detach.Load() {
		ln.Close() // no new request while the apps are handed over
		d.sup.Detach()
		bye = "tend daemon detached: the apps run on, the next daemon watches them again"
	} else {
		d.sup.Shutdown(sctx)
	}
	// Event streams end once they have sent what was published (the last
	// stops); srv.Shutdown would otherwise wait for them.
	d.quitOnce.Do(func() { close(d.quit) })
	d.stopObserving(sctx)
	ln.Close()
	os.Remove(sock)
	srv.Shutdown(sctx)
	d.log.Printf("%s", bye)
	return nil
}

// restore takes over the apps of an earlier daemon of the same TEND_HOME.
func (d *Daemon) restore() {
	res, err := d.sup.Restore()
	if err != nil {
		d.log.Printf("the earlier daemon's state: %v", err)
	}
	if res.Note != "" {
		d.log.Printf("the earlier daemon's state: %s", res.Note)
	}
	if res.Adopted+res.Restarted+res.Kept > 0 {
		d.trim.soon()
		d.log.Printf("carried on from the earlier daemon: %d apps still running watched again, %d gone meanwhile started again, %d stopped or errored kept",
			res.Adopted, res.Restarted, res.Kept)
	}
}

// resurrect starts the saved apps the supervisor does not know, in the
// background (the socket serves meanwhile).
func (d *Daemon) resurrect() {
	path := filepath.Join(d.opts.Home, DumpFile)
	var b []byte
	f, err := d.home.OpenFile(DumpFile, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err == nil {
		b, err = io.ReadAll(f)
		f.Close()
	}
	if err != nil {
		d.log.Printf("resurrect: %v", err)
		return
	}
	var apps []config.App
	if err := json.Unmarshal(b, &apps); err != nil {
		d.log.Printf("resurrect: %s: %v", path, err)
		return
	}
	known := map[string]bool{}
	for _, p := range d.sup.List() {
		known[p.Name] = true
	}
	var todo []config.App
	running, refused := 0, 0
	want := map[string]int{}
	for _, a := range apps {
		if known[a.Name] {
			running++
			continue
		}
		want[a.Name] = max(a.Instances, 1)
		err := d.checkApps([]config.App{a}, false)
		if err == nil {
			err = d.checkTotal(want) // with the apps before it
		}
		if err != nil {
			delete(want, a.Name)
			d.log.Printf("resurrect: app %s not started: %v", a.Name, err)
			refused++
			continue
		}
		todo = append(todo, a)
	}
	d.log.Printf("resurrect: %d apps from %s (%d already running, %d refused)", len(todo), path, running, refused)
	if len(todo) > 0 {
		go func() {
			if _, err := d.sup.Start(context.Background(), todo); err != nil {
				d.log.Printf("resurrect: %v", err)
			}
			d.trim.soon()
		}()
	}
}

type peerKey struct{}

// withPeer records the uid of the process at the other end of the socket.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	uid, _ := peercred.Get(c)
	return context.WithValue(ctx, peerKey{}, uid)
}

// PeerUID returns the uid withPeer recorded, or -1.
func PeerUID(ctx context.Context) int {
	if v, ok := ctx.Value(peerKey{}).(int); ok {
		return v
	}
	return -1
}

func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ping", d.ping)
	mux.HandleFunc("GET /v1/processes", d.list)
	mux.HandleFunc("POST /v1/start", d.trimAfter(d.start))
	mux.HandleFunc("POST /v1/action", d.trimAfter(d.action))
	mux.HandleFunc("POST /v1/scale", d.trimAfter(d.scale))
	mux.HandleFunc("GET /v1/env/{id}", d.env)
	mux.HandleFunc("POST /v1/kill", d.kill)
	mux.HandleFunc("POST /v1/detach", d.detachHandler)
	mux.HandleFunc("GET /v1/apps", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, d.sup.Apps()) })
	mux.HandleFunc("POST /v1/reload-logs", d.reloadLogs)
	mux.HandleFunc("POST /v1/reload-settings", d.reloadSettings)
	mux.HandleFunc("POST /v1/send", d.send)
	mux.HandleFunc("POST /v1/trigger", d.trigger)
	mux.HandleFunc("GET /v1/events", d.events)
	d.api = d.limitBody(mux)
	// The socket serves the dashboard's own switch too; d.api, which the
	// dashboard calls, does not: a page cannot move or stop it.
	outer := http.NewServeMux()
	outer.Handle("/", mux)
	outer.HandleFunc("POST /v1/web", d.webHandler)
	return d.checkPeer(checkVersion(d.limitBody(outer)))
}

// checkVersion says the daemon's versions in every answer and refuses a
// client that speaks another API version (one that says none is older than
// the header and is served as before).
func checkVersion(next http.Handler) http.Handler {
	build := version.String()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(version.HeaderAPI, version.API)
		w.Header().Set(version.HeaderBuild, build)
		if v := r.Header.Get(version.HeaderAPI); v != "" && v != version.API {
			writeErr(w, &api.Error{Code: api.CodeVersion, Message: fmt.Sprintf(
				"this daemon is tend %s (API %s) and the command is tend %s (API %s): run `tend update` with the newer binary to replace the daemon (the apps keep running), or use the binary that started it",
				build, version.API, r.Header.Get(version.HeaderBuild), v)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkPeer refuses any peer whose uid is not the allowed one.
func (d *Daemon) checkPeer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if uid := PeerUID(r.Context()); uid != d.opts.AllowUID {
			d.log.Printf("refused a client with uid %d", uid)
			writeErr(w, &api.Error{Code: api.CodeForbidden, Message: fmt.Sprintf("uid %d may not use this tend daemon (owner uid %d)", uid, d.opts.AllowUID)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// writeProcesses writes the answer of start, action and scale (an
// api.ActionResponse) as writeJSON would, with the processes written by
// api.AppendList: `stop all` of 1,000 apps answers with all of them. With
// ?brief=1 (the CLI) they carry no variables and no options, as the brief
// list.
func writeProcesses(w http.ResponseWriter, r *http.Request, ps []api.Process) {
	if r.URL.Query().Get("brief") == "1" {
		brief(ps)
	}
	if ps == nil {
		writeJSON(w, api.ActionResponse{})
		return
	}
	bp := listBufs.Get().(*[]byte)
	defer listBufs.Put(bp)
	b, err := api.AppendList(append((*bp)[:0], `{"processes":`...), ps)
	if err != nil {
		writeErr(w, err)
		return
	}
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
	*bp = b[:0]
}

func writeErr(w http.ResponseWriter, err error) {
	var ae *api.Error
	if !errors.As(err, &ae) {
		ae = &api.Error{Code: api.CodeInternal, Message: err.Error()}
	}
	status := http.StatusInternalServerError
	switch ae.Code {
	case api.CodeNotFound:
		status = http.StatusNotFound
	case api.CodeBadInput, api.CodeVersion:
		status = http.StatusBadRequest
	case api.CodeForbidden:
		status = http.StatusForbidden
	case api.CodeTooLarge:
		status = http.StatusRequestEntityTooLarge
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(ae)
}

func (d *Daemon) ping(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, api.Ping{PID: os.Getpid(), Version: version.String(), Home: d.opts.Home, UptimeMS: time.Since(d.started).Milliseconds(), MetricsAddr: d.obs.addr, WebAddr: d.webAddr()})
}

func (d *Daemon) list(w http.ResponseWriter, r *http.Request) {
	ps := d.sup.List()
	full := r.URL.Query().Get("brief") != "1"
	if !full {
		brief(ps) // tend monit's refresh: small, every second, no trim
	}
	bp := listBufs.Get().(*[]byte)
	b, err := api.AppendList((*bp)[:0], ps)
	if err != nil {
		writeErr(w, err)
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b))) // the client sizes its buffer from it
	w.Write(b)
	*bp = b[:0]
	listBufs.Put(bp)
	if full {
		d.trim.soon()
	}
}

// listBufs hold the answers of lists (2.5 MB for 1,000 apps).
var listBufs = sync.Pool{New: func() any { return new([]byte) }}

func (d *Daemon) start(w http.ResponseWriter, r *http.Request) {
	var req api.StartRequest
	if err := d.decode(r, "start", &req); err != nil {
		writeErr(w, err)
		return
	}
	if err := d.checkApps(req.Apps, req.Add); err != nil {
		writeErr(w, err)
		return
	}
	ps, err := d.sup.Start(r.Context(), req.Apps, supervisor.StartOptions{Reload: req.Reload, Parallel: req.Parallel, Add: req.Add})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeProcesses(w, r, ps)
}

func (d *Daemon) action(w http.ResponseWriter, r *http.Request) {
	var req api.ActionRequest
	if err := d.decode(r, "action", &req); err != nil {
		writeErr(w, err)
		return
	}
	if req.UpdateEnv {
		if err := d.limits.App.CheckEnv("restart --update-env", req.Env); err != nil {
			writeErr(w, api.BadInputf("%v", err))
			return
		}
	}
	ps, err := d.sup.Act(r.Context(), req)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeProcesses(w, r, ps)
}

func (d *Daemon) env(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeErr(w, api.BadInputf("process id must be a number, not %q", r.PathValue("id")))
		return
	}
	env, err := d.sup.Env(id)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, env)
}

func (d *Daemon) kill(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]bool{"ok": true})
	d.quitOnce.Do(func() { close(d.quit) })
}

// detachHandler ends the daemon without stopping any app, for the next
// daemon to take over (`tend update`).
func (d *Daemon) detachHandler(w http.ResponseWriter, r *http.Request) {
	d.detach.Store(true)
	d.kill(w, r)
}

func (d *Daemon) reloadLogs(w http.ResponseWriter, r *http.Request) {
	if err := d.sup.Files().Reopen(); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, map[string]bool{"ok": true})
}

func (d *Daemon) scale(w http.ResponseWriter, r *http.Request) {
	var req api.ScaleRequest
	if err := d.decode(r, "scale", &req); err != nil {
		writeErr(w, err)
		return
	}
	if err := d.checkScale(req); err != nil {
		writeErr(w, err)
		return
	}
	ps, err := d.sup.Scale(r.Context(), req.Name, req.Count)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeProcesses(w, r, ps)
}
