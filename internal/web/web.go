// Package web is tend's dashboard: one page, embedded in the binary, that
// the daemon serves on a TCP address when `tend web` asks for it. It talks
// to the supervisor only through the daemon's own HTTP API handler (the one
// the unix socket serves), so every check and limit of the API applies to
// it too; what it adds is access control for a browser (a token exchanged
// for a cookie, a CSRF header, Host and Origin checks), the conversion of
// the API's event stream to server-sent events, and a small history of
// CPU and memory samples for the charts, taken only while a page watches.
package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/logs"
	"github.com/tend-dev/tend/internal/spec"
)

//go:embed assets
var assets embed.FS

// Defaults of Options.
const (
	DefaultSampleInterval = 2 * time.Second
	DefaultHistory        = 180 // samples per process: 6 minutes at 2 s
	maxSessions           = 64
	// CSRFHeader carries the session's CSRF value on every state-changing
	// request from the page.
	CSRFHeader = "X-Tend-CSRF"
)

// Options configure a Server.
type Options struct {
	// API is the daemon's /v1 API handler (without its unix-socket peer
	// check: the web server does its own).
	API http.Handler
	// Addr is the address the server listens on (host:port, port not 0):
	// requests must name it, or a loopback name with its port, in Host.
	Addr string
	// Token is the access token; "" makes one.
	Token string
	// SampleInterval is how often CPU and memory are sampled while a page
	// watches; 0 means DefaultSampleInterval.
	SampleInterval time.Duration
	// History is how many samples are kept per process; 0 means DefaultHistory.
	History int
	// Logf writes to the daemon's log; nil discards.
	Logf func(format string, args ...any)
}

// Server serves the dashboard.
type Server struct {
	opts  Options
	port  string
	hosts map[string]bool // host names allowed in Host besides IP literals

	mu       sync.Mutex
	sessions map[string]string // cookie value → CSRF value
	order    []string          // sessions, oldest first

	hist history

	wmu      sync.Mutex
	watchers map[chan []byte]struct{}
	stop     chan struct{} // closed when the last watcher leaves
	sampling sync.WaitGroup
}

// NewToken returns a fresh random token (256 bits, URL-safe).
func NewToken() string { return randString(32) }

func randString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// New returns a server for opts.
func New(opts Options) (*Server, error) {
	if opts.API == nil {
		return nil, fmt.Errorf("web: no API handler")
	}
	host, port, err := net.SplitHostPort(opts.Addr)
	if err != nil || port == "0" || port == "" {
		return nil, fmt.Errorf("web address %q: want host:port with a port", opts.Addr)
	}
	if opts.Token == "" {
		opts.Token = NewToken()
	}
	if opts.SampleInterval <= 0 {
		opts.SampleInterval = DefaultSampleInterval
	}
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &Server{opts: opts, port: port, hosts: map[string]bool{"localhost": true}, sessions: map[string]string{}, watchers: map[chan []byte]struct{}{}}
	s.hist.max = opts.History
	if host != "" && net.ParseIP(host) == nil {
		s.hosts[strings.ToLower(host)] = true
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && !ip.IsLoopback()) {
		// Reachable from other machines: they may name it by its host name.
		if h, err := os.Hostname(); err == nil {
			s.hosts[strings.ToLower(h)] = true
		}
	}
	return s, nil
}

// Token is the access token.
func (s *Server) Token() string { return s.opts.Token }

// Sampling reports whether the sampler runs (a page watches).
func (s *Server) Sampling() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.stop != nil
}

// Close ends the sampler; the caller has shut the HTTP server down.
func (s *Server) Close() {
	s.wmu.Lock()
	if s.stop != nil {
		close(s.stop)
		s.stop = nil
	}
	s.wmu.Unlock()
	s.sampling.Wait()
}

// Handler is the whole site: every request passes the Host/Origin checks
// and needs the token (or the session cookie it was exchanged for).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	static, _ := fs.Sub(assets, "assets")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /api/processes", s.processes)
	mux.HandleFunc("GET /api/processes/{id}", s.describe)
	mux.HandleFunc("GET /api/deps", s.deps)
	mux.HandleFunc("GET /api/history", s.history)
	mux.HandleFunc("GET /api/logs/{id}", s.logTail)
	mux.HandleFunc("GET /api/events", s.events)
	mux.HandleFunc("POST /api/action", s.action)
	mux.HandleFunc("POST /api/scale", s.scale)
	return s.guard(mux)
}

// cookieName is per port: browsers do not scope cookies by port, and two
// daemons (two TEND_HOMEs) may serve dashboards on one host.
func (s *Server) cookieName() string { return "tend_web_" + s.port }

// guard checks Host and Origin, exchanges ?token= for a session cookie, and
// refuses anything without a token or session (401), and any state-changing
// request of a session without its CSRF header (403).
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		if !s.hostAllowed(r.Host) {
			deny(w, r, http.StatusMisdirectedRequest, api.CodeForbidden, fmt.Sprintf("host %q is not this dashboard's address (DNS rebinding?): open the URL tend web printed", r.Host))
			return
		}
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
			deny(w, r, http.StatusForbidden, api.CodeForbidden, fmt.Sprintf("origin %q may not use this dashboard", o))
			return
		}
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" && r.Method != http.MethodGet {
			deny(w, r, http.StatusForbidden, api.CodeForbidden, "cross-site request refused")
			return
		}
		if t := r.URL.Query().Get("token"); t != "" && r.Method == http.MethodGet && r.URL.Path == "/" {
			if !s.tokenOK(t) {
				deny(w, r, http.StatusUnauthorized, api.CodeUnauthorized, "wrong token: run tend web again for a fresh URL")
				return
			}
			sid := s.newSession()
			http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			http.Redirect(w, r, "/", http.StatusSeeOther) // the token leaves the address bar
			return
		}
		bearer := false
		if a := r.Header.Get("Authorization"); a != "" {
			t, ok := strings.CutPrefix(a, "Bearer ")
			if !ok || !s.tokenOK(t) {
				deny(w, r, http.StatusUnauthorized, api.CodeUnauthorized, "wrong token")
				return
			}
			bearer = true
		}
		var csrf string
		if !bearer {
			c, err := r.Cookie(s.cookieName())
			var ok bool
			if err == nil {
				csrf, ok = s.session(c.Value)
			}
			if !ok {
				deny(w, r, http.StatusUnauthorized, api.CodeUnauthorized, "no access token: open the URL tend web printed (it carries the token)")
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !bearer {
			// A cookie alone is not enough to change anything: the page
			// sends the session's CSRF value, which no other site can read.
			if got := r.Header.Get(CSRFHeader); subtle.ConstantTimeCompare([]byte(got), []byte(csrf)) != 1 {
				deny(w, r, http.StatusForbidden, api.CodeForbidden, "missing or wrong "+CSRFHeader+" header")
				return
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), csrfKey{}, csrf))
		next.ServeHTTP(w, r)
	})
}

type csrfKey struct{}

func (s *Server) tokenOK(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(s.opts.Token)) == 1
}

func (s *Server) newSession() string {
	sid, csrf := randString(32), randString(32)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) >= maxSessions {
		delete(s.sessions, s.order[0])
		s.order = s.order[1:]
	}
	s.sessions[sid] = csrf
	s.order = append(s.order, sid)
	return sid
}

func (s *Server) session(sid string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	csrf, ok := s.sessions[sid]
	return csrf, ok
}

// hostAllowed accepts, on the server's port, an IP literal (a rebinding
// attack needs a name it controls), localhost, and the names the server was
// started under.
func (s *Server) hostAllowed(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, "80"
	}
	if port != s.port {
		return false
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if net.ParseIP(strings.Trim(host, "[]")) != nil {
		return true
	}
	return s.hosts[host]
}

func deny(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeError(w, status, &api.Error{Code: code, Message: msg})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "tend dashboard: %s\n", msg)
}

func writeError(w http.ResponseWriter, status int, e *api.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(e)
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	csrf, _ := r.Context().Value(csrfKey{}).(string)
	b = bytes.Replace(b, []byte("{{CSRF}}"), []byte(csrf), 1)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

// call runs one request through the API handler in this process.
func (s *Server) call(ctx context.Context, method, path string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, api.Prefix+path, rd)
	rec := &recorder{h: http.Header{}, status: http.StatusOK}
	s.opts.API.ServeHTTP(rec, req)
	return rec.status, rec.buf.Bytes()
}

// recorder is the ResponseWriter of an in-process API call.
type recorder struct {
	h      http.Header
	status int
	buf    bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) WriteHeader(code int)        { r.status = code }
func (r *recorder) Write(p []byte) (int, error) { return r.buf.Write(p) }

// forward answers r with what the API answers to method path body.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, method, path string, body any) {
	status, b := s.call(r.Context(), method, path, body)
	relay(w, status, b)
}

// forwardBrief posts body to the API and answers with the processes it
// touched, without their environment and raw options (as /api/processes).
func (s *Server) forwardBrief(w http.ResponseWriter, r *http.Request, path string, body any) {
	status, b := s.call(r.Context(), "POST", path, body)
	var resp api.ActionResponse
	if status == http.StatusOK && json.Unmarshal(b, &resp) == nil {
		for i := range resp.Processes {
			resp.Processes[i].PM2Env.Env, resp.Processes[i].PM2Env.Options = nil, nil
		}
		b, _ = json.Marshal(resp)
	}
	relay(w, status, b)
}

// relay answers with what the API answered.
func relay(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Server) list(ctx context.Context, brief bool) ([]api.Process, error) {
	path := "/processes"
	if brief {
		path += "?brief=1"
	}
	status, body := s.call(ctx, "GET", path, nil)
	if status != http.StatusOK {
		return nil, fmt.Errorf("process list: %s", body)
	}
	var ps []api.Process
	err := json.Unmarshal(body, &ps)
	return ps, err
}

func (s *Server) processes(w http.ResponseWriter, r *http.Request) {
	s.forward(w, r, "GET", "/processes?brief=1", nil)
}

func (s *Server) find(w http.ResponseWriter, r *http.Request, brief bool) (api.Process, bool) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, api.BadInputf("process id must be a number, not %q", r.PathValue("id")))
		return api.Process{}, false
	}
	ps, err := s.list(r.Context(), brief)
	if err != nil {
		writeError(w, http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: err.Error()})
		return api.Process{}, false
	}
	for _, p := range ps {
		if p.PMID == id {
			return p, true
		}
	}
	writeError(w, http.StatusNotFound, api.NotFoundf("process %d not found", id))
	return api.Process{}, false
}

// describe is one process with its options, as `tend describe` shows it.
// Environment values stay out of the page (they often hold secrets): only
// their names are listed; `tend env <id>` prints them.
func (s *Server) describe(w http.ResponseWriter, r *http.Request) {
	p, ok := s.find(w, r, false)
	if !ok {
		return
	}
	names := make([]string, 0, len(p.PM2Env.Env))
	for k := range p.PM2Env.Env {
		names = append(names, k)
	}
	p.PM2Env.Env = nil
	for k := range p.PM2Env.Options {
		if k == "env" || strings.HasPrefix(k, "env_") {
			delete(p.PM2Env.Options, k)
		}
	}
	b, _ := json.Marshal(struct {
		api.Process
		EnvNames []string `json:"env_names"`
	}{p, names})
	relay(w, http.StatusOK, b)
}

// Dep is one edge of the dependency graph.
type Dep struct {
	Name      string `json:"name"`
	Condition string `json:"condition"`
}

// deps maps each app to what it depends on.
func (s *Server) deps(w http.ResponseWriter, r *http.Request) {
	status, body := s.call(r.Context(), "GET", "/apps", nil)
	if status != http.StatusOK {
		relay(w, status, body)
		return
	}
	var apps []spec.App
	if err := json.Unmarshal(body, &apps); err != nil {
		writeError(w, http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: err.Error()})
		return
	}
	out := map[string][]Dep{}
	for _, a := range apps {
		ds := []Dep{}
		for _, d := range a.DependsOn {
			ds = append(ds, Dep{d.Name, d.Condition})
		}
		out[a.Name] = ds
	}
	b, _ := json.Marshal(out)
	relay(w, http.StatusOK, b)
}

// logTail is the last lines of a process's log files: {"out":[…],"err":[…]}.
func (s *Server) logTail(w http.ResponseWriter, r *http.Request) {
	p, ok := s.find(w, r, true)
	if !ok {
		return
	}
	n, _ := strconv.Atoi(r.URL.Query().Get("lines"))
	if n <= 0 || n > 1000 {
		n = 100
	}
	out := map[string][]string{"out": logs.Tail(p.PM2Env.PMOutLogPath, n), "err": nil}
	if p.PM2Env.PMErrLogPath != p.PM2Env.PMOutLogPath {
		out["err"] = logs.Tail(p.PM2Env.PMErrLogPath, n)
	}
	b, _ := json.Marshal(out)
	relay(w, http.StatusOK, b)
}

// ActionRequest is what the page posts to /api/action.
type ActionRequest struct {
	Action string `json:"action"`
	Target string `json:"target"` // a name or pm_id
}

// pageActions are the actions the page may ask for; "start" starts a
// stopped process again, as `tend start <name>` does.
var pageActions = map[string]api.Action{
	"start": api.ActionRestart, "restart": api.ActionRestart, "reload": api.ActionReload,
	"stop": api.ActionStop, "flush": api.ActionFlush,
}

func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	var req ActionRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, api.BadInputf("action: %v", err))
		return
	}
	act, ok := pageActions[req.Action]
	if !ok {
		writeError(w, http.StatusBadRequest, api.BadInputf("action %q: the dashboard does start, restart, reload, stop and flush", req.Action))
		return
	}
	if req.Target == "" || req.Target == "all" {
		writeError(w, http.StatusBadRequest, api.BadInputf("action %s: name one app or process id as target", req.Action))
		return
	}
	s.forwardBrief(w, r, "/action", api.ActionRequest{Action: act, Target: api.Target{Names: []string{req.Target}}})
}

func (s *Server) scale(w http.ResponseWriter, r *http.Request) {
	var req api.ScaleRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, api.BadInputf("scale: %v", err))
		return
	}
	s.forwardBrief(w, r, "/scale", req)
}
