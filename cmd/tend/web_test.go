//go:build linux

package main

// The dashboard in a real browser: Debian's chromium, headless, driven with
// chromedp (web.txtar). Waits are in the page: a promise that a
// MutationObserver settles when the condition holds, or rejects at its
// deadline.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/rogpeppe/go-internal/testscript"
)

// chromiumPath is Debian's chromium, or "" (the browser tests are skipped).
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

type browser struct {
	ctx  context.Context
	base string // http://host:port
	pids map[string]string
}

var (
	browsersMu sync.Mutex
	browsers   = map[*testscript.TestScript]*browser{}
)

func browserOf(ts *testscript.TestScript) *browser {
	browsersMu.Lock()
	defer browsersMu.Unlock()
	b := browsers[ts]
	if b == nil {
		ts.Fatalf("no browser: browser-open first")
	}
	return b
}

// dashboardURL is the URL the last `exec tend web` printed.
func dashboardURL(ts *testscript.TestScript) *url.URL {
	out := strings.TrimSpace(ts.ReadFile("stdout"))
	u, err := url.Parse(out)
	if err != nil || u.Query().Get("token") == "" {
		ts.Fatalf("stdout is not a dashboard URL with a token: %q", out)
	}
	return u
}

// browser-open: starts a headless chromium with a fresh profile and opens
// the URL `tend web` printed (the stdout of the last exec).
func cmdBrowserOpen(ts *testscript.TestScript, neg bool, args []string) {
	u := dashboardURL(ts)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // the tests run as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true), // the screenshot is as wide as the window
		chromedp.UserDataDir(ts.MkAbs("chromium-profile")),
		chromedp.WindowSize(1280, 1100),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ts.Defer(func() {
		cancelCtx()
		cancelAlloc()
		browsersMu.Lock()
		delete(browsers, ts)
		browsersMu.Unlock()
	})
	// The first call starts the browser, which lives as long as its context:
	// no timeout on it.
	if err := chromedp.Do(ctx); err != nil {
		ts.Fatalf("start %s: %v", chromiumPath(), err)
	}
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate(u.String()), chromedp.WaitVisible(chromedp.CSS("#procs"))); err != nil {
		ts.Fatalf("open %s: %v", u.Redacted(), err)
	}
	loc, err := chromedp.Run(tctx, chromedp.Location())
	ts.Check(err)
	if strings.Contains(loc, "token=") {
		ts.Fatalf("the token stayed in the address bar: %s", loc)
	}
	browsersMu.Lock()
	browsers[ts] = &browser{ctx: ctx, base: u.Scheme + "://" + u.Host, pids: map[string]string{}}
	browsersMu.Unlock()
}

// waitJS waits until the JavaScript expression cond is true in the page,
// checked at once and at every change of the page, for at most d.
func (b *browser) waitJS(ts *testscript.TestScript, what, cond string, d time.Duration) {
	js := fmt.Sprintf(`new Promise((resolve, reject) => {
  const check = () => { try { return !!(%s); } catch (e) { return false; } };
  if (check()) { resolve(true); return; }
  const obs = new MutationObserver(() => { if (check()) { obs.disconnect(); clearTimeout(timer); resolve(true); } });
  obs.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  const timer = setTimeout(() => { obs.disconnect(); reject(new Error('deadline')); }, %d);
})`, cond, d.Milliseconds())
	ctx, cancel := context.WithTimeout(b.ctx, d+10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise)); err != nil {
		ts.Fatalf("%s: not within %v (%v); the table reads:\n%s", what, d, err, b.text(ts, "#procs"))
	}
}

func (b *browser) text(ts *testscript.TestScript, sel string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ''`, sel)))
	return s
}

// eval evaluates js in the page (awaiting a promise) and returns its value.
func eval[T any](ts *testscript.TestScript, b *browser, js string) T {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	ts.Check(err)
	return v
}

// rowsJS is the rows of the app named name.
func rowsJS(name string) string {
	q, _ := json.Marshal(`#procs tbody tr[data-name="` + name + `"]`)
	return fmt.Sprintf(`[...document.querySelectorAll(%s)]`, q)
}

// browser-wait-row name column value [timeout]: every row of the app shows
// value in that column (status, health, pid...).
func cmdBrowserWaitRow(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: browser-wait-row name column value [timeout]")
	}
	b := browserOf(ts)
	v, _ := json.Marshal(args[2])
	cond := fmt.Sprintf(`(r => r.length > 0 && r.every(tr => tr.querySelector('td.%s').textContent.trim() === %s))(%s)`, args[1], v, rowsJS(args[0]))
	b.waitJS(ts, fmt.Sprintf("%s %s %s on the page", args[0], args[1], args[2]), cond, timeoutArg(ts, args, 3))
}

// browser-pid name: remembers the pid the page shows for the app.
func cmdBrowserPid(ts *testscript.TestScript, neg bool, args []string) {
	b := browserOf(ts)
	pid := eval[string](ts, b, rowsJS(args[0])+`[0].querySelector('td.pid').textContent`)
	if _, err := strconv.Atoi(pid); err != nil {
		ts.Fatalf("%s has no pid on the page: %q", args[0], pid)
	}
	b.pids[args[0]] = pid
}

// browser-click name action: clicks the action's button on the app's row.
func cmdBrowserClick(ts *testscript.TestScript, neg bool, args []string) {
	b := browserOf(ts)
	if !eval[bool](ts, b, fmt.Sprintf(`(btn => btn ? (btn.click(), true) : false)(%s[0].querySelector('button[data-action=%q]'))`, rowsJS(args[0]), args[1])) {
		ts.Fatalf("no %s button on the row of %s", args[1], args[0])
	}
}

// browser-confirm: answers the confirmation dialog with Confirm.
func cmdBrowserConfirm(ts *testscript.TestScript, neg bool, args []string) {
	b := browserOf(ts)
	b.waitJS(ts, "the confirmation dialog", `document.getElementById('confirm').open`, 5*time.Second)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	ts.Check(chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#confirm-ok"))))
}

// browser-wait-pid-changed name [timeout]: the page shows a new pid for the
// app, and it is the one the daemon reports.
func cmdBrowserWaitPidChanged(ts *testscript.TestScript, neg bool, args []string) {
	b := browserOf(ts)
	old, _ := json.Marshal(b.pids[args[0]])
	cond := fmt.Sprintf(`(r => r.length > 0 && /^[0-9]+$/.test(r[0].querySelector('td.pid').textContent) && r[0].querySelector('td.pid').textContent !== %s)(%s)`, old, rowsJS(args[0]))
	b.waitJS(ts, "a new pid of "+args[0]+" on the page", cond, timeoutArg(ts, args, 1))
	pid := eval[string](ts, b, rowsJS(args[0])+`[0].querySelector('td.pid').textContent`)
	for _, p := range list(ts) {
		if p.Name == args[0] && strconv.Itoa(p.PID) != pid {
			ts.Fatalf("the page shows pid %s for %s, the daemon %d", pid, args[0], p.PID)
		}
	}
}

// browser-select name: clicks the app's row (its logs, charts and details).
func cmdBrowserSelect(ts *testscript.TestScript, neg bool, args []string) {
	b := browserOf(ts)
	eval[chromedp.Void](ts, b, rowsJS(args[0])+`[0].querySelector('td.name').click()`)
	b.waitJS(ts, "details of "+args[0], fmt.Sprintf(`document.getElementById('desc-who').textContent.startsWith(%q)`, args[0]), 10*time.Second)
}

// browser-wait-log text [timeout]: the log pane shows a line with text.
func cmdBrowserWaitLog(ts *testscript.TestScript, neg bool, args []string) {
	b := browserOf(ts)
	b.waitJS(ts, "log line "+args[0], fmt.Sprintf(`document.getElementById('log').textContent.includes(%q)`, args[0]), timeoutArg(ts, args, 1))
}

// browser-wait-text selector text [timeout]: the element shows text.
func cmdBrowserWaitText(ts *testscript.TestScript, neg bool, args []string) {
	b := browserOf(ts)
	b.waitJS(ts, args[0]+" shows "+args[1], fmt.Sprintf(`(document.querySelector(%q) || {textContent: ''}).textContent.includes(%q)`, args[0], args[1]), timeoutArg(ts, args, 2))
}

// browser-wait-samples n [timeout]: the memory chart has a line of at least
// n samples (the sampler runs while the page is open).
func cmdBrowserWaitSamples(ts *testscript.TestScript, neg bool, args []string) {
	b := browserOf(ts)
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	cond := fmt.Sprintf(`[...document.querySelectorAll('#mem-chart polyline')].some(l => l.getAttribute('points').split(' ').length >= %d)`, n)
	b.waitJS(ts, fmt.Sprintf("%d samples in the memory chart", n), cond, timeoutArg(ts, args, 1))
}

// browser-phone: on a phone's screen (390×844 CSS pixels, touch) the page
// is one column and nothing but the process table scrolls sideways; the
// screenshot goes to $WORK/dashboard-phone.png. The desktop size comes back
// after.
func cmdBrowserPhone(ts *testscript.TestScript, neg bool, args []string) {
	b := browserOf(ts)
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	ts.Check(chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)))
	b.waitJS(ts, "one column on a phone", `getComputedStyle(document.querySelector('main')).gridTemplateColumns.split(' ').length === 1`, 5*time.Second)
	if w := eval[int](ts, b, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		ts.Fatalf("on a phone the page is %d px wider than the screen", w)
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs("dashboard-phone.png"), buf, 0o644))
	ts.Check(chromedp.Do(ctx, chromedp.EmulateReset()))
}

// browser-scheme dark|light: the page follows the system's colour scheme.
func cmdBrowserScheme(ts *testscript.TestScript, neg bool, args []string) {
	b := browserOf(ts)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	scheme := args[0]
	ts.Check(chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})))
	// The background's brightness: dark below a quarter, light above three.
	js := `(c => (c[0] * 299 + c[1] * 587 + c[2] * 114) / 1000)(getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number))`
	want := map[string]string{"dark": "< 64", "light": "> 192"}[scheme]
	if want == "" {
		ts.Fatalf("usage: browser-scheme dark|light")
	}
	b.waitJS(ts, "a "+scheme+" page", js+want, 5*time.Second)
}

// browser-stale-stats name: a stats sample taken before the app's last
// process event does not bring back the status that event ended (the two
// come over one stream but from two sources). It feeds the page's event
// handler directly: a status event now, then a sample from a second ago.
func cmdBrowserStaleStats(ts *testscript.TestScript, neg bool, args []string) {
	b := browserOf(ts)
	js := fmt.Sprintf(`(() => {
  const tr = %s[0];
  const id = Number(tr.dataset.id), now = Date.now();
  handle({type: 'process', pm_id: id, status: 'stopping', time: now});
  handle({type: 'stats', time: now - 1000, processes: [{pm_id: id, pid: 4242, status: 'online', cpu: 0, mem: 0, restarts: 0, pm_uptime: now - 5000}]});
  return %s[0].querySelector('td.status').textContent;
})()`, rowsJS(args[0]), rowsJS(args[0]))
	if got := eval[string](ts, b, js); got != "stopping" {
		ts.Fatalf("an older sample set %s's status back to %q", args[0], got)
	}
}

// browser-js script: runs script in the page (a click, typing: what a
// user does that no other command does).
func cmdBrowserJS(ts *testscript.TestScript, neg bool, args []string) {
	eval[chromedp.Void](ts, browserOf(ts), args[0])
}

// browser-wait-js what condition [timeout]: waits until the JavaScript
// condition holds in the page.
func cmdBrowserWaitJS(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: browser-wait-js what condition [timeout]")
	}
	browserOf(ts).waitJS(ts, args[0], args[1], timeoutArg(ts, args, 2))
}

// browser-csrf-refused: from the page itself, a state-changing request
// with the session cookie but without the CSRF header is refused (403).
func cmdBrowserCSRFRefused(ts *testscript.TestScript, neg bool, args []string) {
	b := browserOf(ts)
	js := `fetch('/api/action', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json'}, body: '{"action":"stop","target":"0"}'}).then(r => r.status)`
	if status := eval[int](ts, b, js); status != http.StatusForbidden {
		ts.Fatalf("a POST without the CSRF header got %d, want 403", status)
	}
}

// web-refused: requests to the dashboard without the token, with a wrong
// one, or under a host name it does not serve (DNS rebinding) are refused.
func cmdWebRefused(ts *testscript.TestScript, neg bool, args []string) {
	u := dashboardURL(ts)
	base := u.Scheme + "://" + u.Host
	check := func(what, method, path string, hdr map[string]string, want int) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(`{"action":"stop","target":"0"}`))
		ts.Check(err)
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
		resp, err := c.Do(req)
		ts.Check(err)
		resp.Body.Close()
		if resp.StatusCode != want {
			ts.Fatalf("%s: %s %s answered %d, want %d", what, method, path, resp.StatusCode, want)
		}
	}
	check("no token", "GET", "/", nil, http.StatusUnauthorized)
	check("no token", "GET", "/api/processes", nil, http.StatusUnauthorized)
	check("no token", "GET", "/api/events", nil, http.StatusUnauthorized)
	check("no token", "POST", "/api/action", nil, http.StatusUnauthorized)
	check("wrong token", "GET", "/?token=x"+u.Query().Get("token"), nil, http.StatusUnauthorized)
	check("wrong token", "GET", "/api/processes", map[string]string{"Authorization": "Bearer nope"}, http.StatusUnauthorized)
	_, port, _ := strings.Cut(u.Host, ":")
	check("rebound host", "GET", "/?"+u.RawQuery, map[string]string{"Host": "attacker.example:" + port}, http.StatusMisdirectedRequest)
	check("foreign origin", "POST", "/api/action", map[string]string{"Authorization": "Bearer " + u.Query().Get("token"), "Origin": "http://attacker.example"}, http.StatusForbidden)
	check("the token", "GET", "/?"+u.RawQuery, nil, http.StatusSeeOther)
}

// browser-screenshot: takes a screenshot of the page into $WORK/dashboard.png
// (and docs/dashboard.png when TEND_UPDATE_SCREENSHOT=1).
func cmdBrowserScreenshot(ts *testscript.TestScript, neg bool, args []string) {
	b := browserOf(ts)
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	ts.Check(err)
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		ts.Fatalf("screenshot is not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 800 || r.Dy() < 400 {
		ts.Fatalf("screenshot is only %v", r)
	}
	ts.Check(os.WriteFile(ts.MkAbs("dashboard.png"), buf, 0o644))
	if os.Getenv("TEND_UPDATE_SCREENSHOT") == "1" {
		wd, _ := os.Getwd()
		ts.Check(os.WriteFile(filepath.Join(wd, "..", "..", "docs", "dashboard.png"), buf, 0o644))
	}
}
