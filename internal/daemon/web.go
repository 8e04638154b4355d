package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/web"
)

// webState is the dashboard the daemon serves, if any (`tend web`).
type webState struct {
	mu     sync.Mutex
	srv    *http.Server
	site   *web.Server
	asked  string // the address as asked (port 0 stays 0), to answer a repeat
	addr   string // where it listens
	url    string
	remote bool
}

func (d *Daemon) webAddr() string {
	d.web.mu.Lock()
	defer d.web.mu.Unlock()
	return d.web.addr
}

// serveWebAtStart serves the dashboard at web_addr of tend.json, if set.
// Problems are logged; they never stop the daemon.
func (d *Daemon) serveWebAtStart() {
	s := d.obs.settings
	if s.WebAddr == "" || s.WebAddr == "off" {
		return
	}
	if _, err := d.serveWeb(api.WebRequest{Addr: s.WebAddr, AllowRemote: s.WebAllowRemote}); err != nil {
		d.log.Printf("dashboard not served: %v", err)
	}
}

// webHandler serves, moves or stops the dashboard.
func (d *Daemon) webHandler(w http.ResponseWriter, r *http.Request) {
	var req api.WebRequest
	if err := d.decode(r, "web", &req); err != nil {
		writeErr(w, err)
		return
	}
	if req.Stop {
		d.stopWeb()
		writeJSON(w, api.WebResponse{})
		return
	}
	if req.Addr == "" {
		req.Addr = d.obs.settings.WebAddr
		req.AllowRemote = req.AllowRemote || d.obs.settings.WebAllowRemote
	}
	if req.Addr == "" || req.Addr == "off" {
		req.Addr = api.DefaultWebAddr
	}
	resp, err := d.serveWeb(req)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, resp)
}

// serveWeb starts the dashboard on req.Addr; one that already serves there
// is kept (same URL and token), one that serves elsewhere is stopped.
func (d *Daemon) serveWeb(req api.WebRequest) (api.WebResponse, error) {
	host, _, err := net.SplitHostPort(req.Addr)
	if err != nil {
		return api.WebResponse{}, api.BadInputf("dashboard address %q: %v (want host:port, such as %s)", req.Addr, err, api.DefaultWebAddr)
	}
	remote := loopbackOnly("dashboard address", req.Addr) != nil
	if remote && !req.AllowRemote {
		return api.WebResponse{}, api.BadInputf("dashboard address %q is not a loopback address: anyone who can reach it could try the token; pass --allow-remote (or web_allow_remote in tend.json) if you mean it", req.Addr)
	}
	ws := &d.web
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.srv != nil && ws.asked == req.Addr {
		return api.WebResponse{Serving: true, Addr: ws.addr, URL: ws.url, Remote: ws.remote}, nil
	}
	d.stopWebLocked()
	ln, err := net.Listen("tcp", req.Addr)
	if err != nil {
		return api.WebResponse{}, api.BadInputf("dashboard address %q: %v: pick another with tend web --addr host:port (port 0: any free one)", req.Addr, err)
	}
	addr := ln.Addr().String()
	// TEND_SAMPLE_INTERVAL (tests) sets the dashboard's sampling too.
	every, _ := time.ParseDuration(os.Getenv("TEND_SAMPLE_INTERVAL"))
	site, err := web.New(web.Options{API: d.api, Addr: addr, SampleInterval: every, Logf: d.log.Printf})
	if err != nil {
		ln.Close()
		return api.WebResponse{}, fmt.Errorf("dashboard: %w", err)
	}
	srv := &http.Server{Handler: site.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Printf("dashboard: %v", err)
		}
	}()
	urlHost := addr
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		_, port, _ := net.SplitHostPort(addr)
		urlHost = net.JoinHostPort("127.0.0.1", port)
	}
	ws.srv, ws.site, ws.asked, ws.addr, ws.remote = srv, site, req.Addr, addr, remote
	ws.url = "http://" + urlHost + "/?token=" + site.Token()
	if remote {
		d.log.Printf("serving the dashboard on http://%s, reachable from other machines (allow_remote)", addr)
	} else {
		d.log.Printf("serving the dashboard on http://%s", addr)
	}
	return api.WebResponse{Serving: true, Addr: addr, URL: ws.url, Remote: remote}, nil
}

func (d *Daemon) stopWeb() {
	d.web.mu.Lock()
	defer d.web.mu.Unlock()
	d.stopWebLocked()
}

// stopWebLocked closes the dashboard and every page's connection to it.
func (d *Daemon) stopWebLocked() {
	ws := &d.web
	if ws.srv == nil {
		return
	}
	ws.srv.Close() // not Shutdown: an event stream is never idle
	ws.site.Close()
	d.log.Printf("dashboard on http://%s stopped", ws.addr)
	ws.srv, ws.site, ws.asked, ws.addr, ws.url, ws.remote = nil, nil, "", "", "", false
}
