package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
	"github.com/tend-dev/tend/internal/config"
)

// webApp is a shell app that prints the content of a file named "say" in
// its cwd whenever one appears.
func webApp(t *testing.T, name string) config.App {
	dir := t.TempDir()
	return config.App{
		Name: name, Namespace: "default", Script: "/bin/sh", ScriptPath: "/bin/sh",
		Args: []string{"-c", "while :; do if [ -f say ]; then cat say; rm say; fi; sleep 0.05; done"}, Interpreter: "none",
		Cwd: dir, Instances: 1, ExecMode: "fork_mode", Env: map[string]string{"PATH": "/usr/bin:/bin"},
		InstanceVar: "NODE_APP_INSTANCE", Autorestart: true, Autostart: true, MaxRestarts: 16, MinUptime: time.Second,
		KillTimeout: 500 * time.Millisecond, KillSignal: "SIGINT", Treekill: true,
		OutFile: filepath.Join(dir, "out.log"), ErrorFile: filepath.Join(dir, "err.log"),
	}
}

type dashboard struct {
	t     *testing.T
	home  string
	base  string // http://127.0.0.1:port
	token string
	hc    *http.Client
}

// startDashboard runs a daemon with one app and serves its dashboard on a
// free loopback port.
func startDashboard(t *testing.T) (*dashboard, config.App) {
	home := startDaemon(t, -1)
	c := client.New(home)
	ctx := context.Background()
	app := webApp(t, "webunit")
	if _, err := c.Start(ctx, api.StartRequest{Apps: []config.App{app}}); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Web(ctx, api.WebRequest{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(resp.URL)
	if err != nil || !resp.Serving || resp.Remote {
		t.Fatalf("tend web answered %+v (%v)", resp, err)
	}
	again, err := c.Web(ctx, api.WebRequest{Addr: "127.0.0.1:0"})
	if err != nil || again.URL != resp.URL {
		t.Fatalf("a second tend web gave %q (%v), want the same URL %q", again.URL, err, resp.URL)
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &dashboard{t: t, home: home, base: "http://" + u.Host, token: u.Query().Get("token"), hc: &http.Client{CheckRedirect: noRedirect, Timeout: 20 * time.Second}}, app
}

func (d *dashboard) do(method, path, body string, hdr map[string]string) (*http.Response, string) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.base+path, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&sb)
	return resp, sb.String()
}

func (d *dashboard) expect(what, method, path, body string, hdr map[string]string, want int) string {
	d.t.Helper()
	resp, text := d.do(method, path, body, hdr)
	if resp.StatusCode != want {
		d.t.Fatalf("%s: %s %s answered %d %s, want %d", what, method, path, resp.StatusCode, text, want)
	}
	return text
}

// login exchanges the token for a session cookie and reads the page's
// CSRF value.
func (d *dashboard) login() (cookie, csrf string) {
	d.t.Helper()
	resp, _ := d.do("GET", "/?token="+d.token, "", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		d.t.Fatalf("token exchange answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	sc := resp.Header.Get("Set-Cookie")
	_, port, _ := strings.Cut(strings.TrimPrefix(d.base, "http://"), ":")
	for _, attr := range []string{"tend_web_" + port + "=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(sc, attr) {
			d.t.Fatalf("session cookie %q lacks %s", sc, attr)
		}
	}
	cookie, _, _ = strings.Cut(sc, ";")
	page := d.expect("the page with the cookie", "GET", "/", "", map[string]string{"Cookie": cookie}, http.StatusOK)
	_, rest, ok := strings.Cut(page, `<meta name="csrf" content="`)
	csrf, _, _ = strings.Cut(rest, `"`)
	if !ok || len(csrf) < 40 {
		d.t.Fatalf("no CSRF value in the page: %.300s", page)
	}
	return cookie, csrf
}

func TestWebNeedsTheToken(t *testing.T) {
	d, _ := startDashboard(t)
	for _, path := range []string{"/", "/static/app.js", "/api/processes", "/api/events", "/api/history", "/api/deps", "/api/logs/0"} {
		d.expect("no token", "GET", path, "", nil, http.StatusUnauthorized)
	}
	d.expect("no token", "POST", "/api/action", `{"action":"stop","target":"webunit"}`, nil, http.StatusUnauthorized)
	d.expect("wrong token", "GET", "/?token=x"+d.token, "", nil, http.StatusUnauthorized)
	d.expect("wrong bearer", "GET", "/api/processes", "", map[string]string{"Authorization": "Bearer x" + d.token}, http.StatusUnauthorized)
	_, port, _ := strings.Cut(strings.TrimPrefix(d.base, "http://"), ":")
	d.expect("unknown cookie", "GET", "/api/processes", "", map[string]string{"Cookie": "tend_web_" + port + "=" + d.token}, http.StatusUnauthorized)
	d.expect("bearer", "GET", "/api/processes", "", map[string]string{"Authorization": "Bearer " + d.token}, http.StatusOK)

	cookie, csrf := d.login()
	d.expect("cookie", "GET", "/api/processes", "", map[string]string{"Cookie": cookie}, http.StatusOK)
	d.expect("cookie", "GET", "/static/app.js", "", map[string]string{"Cookie": cookie}, http.StatusOK)
	// A cookie alone does not change anything (CSRF): the header must come too.
	d.expect("cookie without CSRF header", "POST", "/api/action", `{"action":"flush","target":"webunit"}`, map[string]string{"Cookie": cookie}, http.StatusForbidden)
	d.expect("cookie with a wrong CSRF header", "POST", "/api/action", `{"action":"flush","target":"webunit"}`, map[string]string{"Cookie": cookie, "X-Tend-CSRF": csrf + "x"}, http.StatusForbidden)
	d.expect("cookie with the CSRF header", "POST", "/api/action", `{"action":"flush","target":"webunit"}`, map[string]string{"Cookie": cookie, "X-Tend-CSRF": csrf}, http.StatusOK)

	// After --stop nothing answers; a new tend web makes a new token.
	c := client.New(d.home)
	if _, err := c.Web(context.Background(), api.WebRequest{Stop: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(d.base + "/"); err == nil {
		t.Fatal("the dashboard still answers after --stop")
	}
	resp, err := c.Web(context.Background(), api.WebRequest{Addr: "127.0.0.1:0"})
	if err != nil || strings.Contains(resp.URL, d.token) {
		t.Fatalf("after --stop, tend web gave %q (%v): want a new token", resp.URL, err)
	}
}

func TestWebHostAndOrigin(t *testing.T) {
	d, _ := startDashboard(t)
	_, port, _ := strings.Cut(strings.TrimPrefix(d.base, "http://"), ":")
	bearer := "Bearer " + d.token
	for _, host := range []string{"attacker.example:" + port, "attacker.example", "127.0.0.1:1", "localhost.attacker.example:" + port} {
		d.expect("Host "+host, "GET", "/api/processes", "", map[string]string{"Authorization": bearer, "Host": host}, http.StatusMisdirectedRequest)
	}
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port} {
		d.expect("Host "+host, "GET", "/api/processes", "", map[string]string{"Authorization": bearer, "Host": host}, http.StatusOK)
	}
	d.expect("foreign Origin", "POST", "/api/action", `{"action":"flush","target":"webunit"}`, map[string]string{"Authorization": bearer, "Origin": "http://attacker.example"}, http.StatusForbidden)
	d.expect("foreign Origin", "GET", "/api/processes", "", map[string]string{"Authorization": bearer, "Origin": "http://localhost:1"}, http.StatusForbidden)
	d.expect("cross-site fetch", "POST", "/api/action", `{"action":"flush","target":"webunit"}`, map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden)
	d.expect("own Origin", "POST", "/api/action", `{"action":"flush","target":"webunit"}`, map[string]string{"Authorization": bearer, "Origin": d.base}, http.StatusOK)
}

func TestWebRemoteNeedsAllowRemote(t *testing.T) {
	home := startDaemon(t, -1)
	c := client.New(home)
	_, err := c.Web(context.Background(), api.WebRequest{Addr: "0.0.0.0:0"})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeBadInput || !strings.Contains(ae.Message, "--allow-remote") {
		t.Fatalf("a non-loopback address without allow_remote: %v", err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = c.Web(context.Background(), api.WebRequest{Addr: busy.Addr().String()})
	if !errors.As(err, &ae) || ae.Code != api.CodeBadInput || !strings.Contains(ae.Message, "tend web --addr") {
		t.Fatalf("an address in use: %v", err)
	}
	resp, err := c.Web(context.Background(), api.WebRequest{Addr: "0.0.0.0:0", AllowRemote: true})
	if err != nil || !resp.Remote || !strings.HasPrefix(resp.URL, "http://127.0.0.1:") {
		t.Fatalf("with allow_remote: %+v %v", resp, err)
	}
}

// Actions go through the daemon's API: the page's verbs only, on one target.
func TestWebActions(t *testing.T) {
	d, app := startDashboard(t)
	bearer := map[string]string{"Authorization": "Bearer " + d.token}
	status := func() []string {
		var ps []api.Process
		if err := json.Unmarshal([]byte(d.expect("list", "GET", "/api/processes", "", bearer, http.StatusOK)), &ps); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range ps {
			out = append(out, p.PM2Env.Status)
		}
		return out
	}
	if text := d.expect("stop", "POST", "/api/action", `{"action":"stop","target":"webunit"}`, bearer, http.StatusOK); strings.Contains(text, "/usr/bin:/bin") {
		t.Fatalf("an action's answer carries the environment: %.300s", text)
	}
	if s := status(); len(s) != 1 || s[0] != api.StatusStopped {
		t.Fatalf("after stop: %v", s)
	}
	d.expect("start", "POST", "/api/action", `{"action":"start","target":"0"}`, bearer, http.StatusOK)
	if s := status(); len(s) != 1 || s[0] != api.StatusOnline {
		t.Fatalf("after start: %v", s)
	}
	d.expect("scale", "POST", "/api/scale", `{"name":"webunit","count":"2"}`, bearer, http.StatusOK)
	if s := status(); len(s) != 2 {
		t.Fatalf("after scale 2: %v", s)
	}
	d.expect("reload", "POST", "/api/action", `{"action":"reload","target":"webunit"}`, bearer, http.StatusOK)
	d.expect("restart", "POST", "/api/action", `{"action":"restart","target":"1"}`, bearer, http.StatusOK)
	if err := os.WriteFile(filepath.Join(app.Cwd, "say"), []byte("flushed-away-6120\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.expect("flush", "POST", "/api/action", `{"action":"flush","target":"webunit"}`, bearer, http.StatusOK)
	for _, bad := range []struct{ body, code string }{
		{`{"action":"delete","target":"webunit"}`, "delete"},
		{`{"action":"signal","target":"webunit"}`, "signal"},
		{`{"action":"stop","target":"all"}`, "one app"},
		{`{"action":"stop"}`, "one app"},
		{`not json`, "action"},
	} {
		text := d.expect("refused action", "POST", "/api/action", bad.body, bearer, http.StatusBadRequest)
		if !strings.Contains(text, bad.code) || !strings.Contains(text, api.CodeBadInput) {
			t.Fatalf("%s: %s", bad.body, text)
		}
	}
	d.expect("unknown app", "POST", "/api/action", `{"action":"stop","target":"nosuchapp"}`, bearer, http.StatusNotFound)
	d.expect("unknown process", "GET", "/api/processes/99", "", bearer, http.StatusNotFound)
	desc := d.expect("describe", "GET", "/api/processes/0", "", bearer, http.StatusOK)
	if !strings.Contains(desc, `"env_names"`) || strings.Contains(desc, "/usr/bin:/bin") {
		t.Fatalf("describe must list the environment's names, not its values: %.400s", desc)
	}
}

// The event stream is server-sent events: process events, log lines of the
// selected ids, and stats samples while someone watches.
func TestWebEventStream(t *testing.T) {
	t.Setenv("TEND_SAMPLE_INTERVAL", "100ms")
	d, app := startDashboard(t)
	req, _ := http.NewRequest("GET", d.base+"/api/events?ids=0", nil)
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	events := make(chan map[string]any, 1024)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				continue
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				t.Errorf("not an SSE data line: %q", line)
				continue
			}
			var ev map[string]any
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Errorf("event %q: %v", data, err)
			}
			events <- ev
		}
		close(events)
	}()
	waitEvent := func(what string, match func(map[string]any) bool) {
		t.Helper()
		deadline := time.After(15 * time.Second)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("stream ended before %s", what)
				}
				if match(ev) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s within 15s", what)
			}
		}
	}
	waitEvent("hello", func(ev map[string]any) bool { return ev["type"] == "hello" })
	waitEvent("a stats sample", func(ev map[string]any) bool {
		ps, _ := ev["processes"].([]any)
		return ev["type"] == "stats" && len(ps) == 1
	})
	if err := os.WriteFile(filepath.Join(app.Cwd, "say"), []byte("sse-line-6121\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitEvent("the app's log line", func(ev map[string]any) bool { return ev["type"] == "log" && ev["data"] == "sse-line-6121" })
	if _, err := client.New(d.home).Act(context.Background(), api.ActionRequest{Action: api.ActionStop, Target: api.Target{Names: []string{"webunit"}}}); err != nil {
		t.Fatal(err)
	}
	waitEvent("the stopped event", func(ev map[string]any) bool { return ev["type"] == "process" && ev["status"] == api.StatusStopped })
	hist := d.expect("history", "GET", "/api/history", "", map[string]string{"Authorization": "Bearer " + d.token}, http.StatusOK)
	if !strings.Contains(hist, `"0":[{"t":`) {
		t.Fatalf("no samples of process 0 in the history: %.300s", hist)
	}
}

// web_addr in tend.json serves the dashboard from the daemon's start, and
// tend web without --addr answers with that one.
func TestWebAddrSetting(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, SettingsFile), []byte(`{"web_addr": "127.0.0.1:0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemonIn(t, home, -1)
	c := client.New(home)
	p, err := c.Ping(context.Background())
	if err != nil || p.WebAddr == "" {
		t.Fatalf("ping: %+v %v: want the dashboard's address", p, err)
	}
	resp, err := c.Web(context.Background(), api.WebRequest{})
	if err != nil || resp.Addr != p.WebAddr {
		t.Fatalf("tend web answered %+v %v, want the dashboard already on %s", resp, err, p.WebAddr)
	}
	r, err := http.Get(strings.Replace(resp.URL, "/?token=", "/api/processes?token=", 1))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized { // the token is exchanged on / only
		t.Fatalf("token outside / answered %d", r.StatusCode)
	}
}
