package supervisor

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/tend-dev/tend/internal/spec"
)

// watcher restarts a process when files change under its watched paths.
// It restarts once per burst of changes: the restart waits watch_delay after
// the first change (PM2's meaning) and then until changes have been quiet
// for burstQuiet.
type watcher struct {
	p      *Proc
	name   string
	fw     *fsnotify.Watcher
	cwd    string
	roots  []string
	ignore []ignoreRule
	own    map[string]bool // the app's own log and pid files
	home   string          // the daemon's home: its state, logs and sockets are never the app's
	ownDir map[string]bool // folders tend creates for them
	delay  time.Duration
	key    string
	done   chan struct{}
	wg     sync.WaitGroup

	mu   sync.Mutex
	last string // last changed path

	// loop detection, used only by the proc loop
	quick int
}

const burstQuiet = 100 * time.Millisecond

// loopRestarts watch restarts in a row, each asked for within loopWindow of
// the start it interrupts, mean the app changes its own watched files.
const loopRestarts = 3

type ignoreRule struct {
	re   *regexp.Regexp
	glob string
}

func watchKey(a spec.App) string {
	return fmt.Sprint(a.Cwd, a.Watch, a.IgnoreWatch, a.WatchDelay)
}

func (w *watcher) same(a spec.App) bool { return w != nil && w.key == watchKey(a) }

// defaultIgnore is PM2's: dotfiles and node_modules anywhere.
var defaultIgnore = []ignoreRule{{re: regexp.MustCompile(`(^|/)\.|node_modules`)}}

func parseIgnore(list []string) []ignoreRule {
	if len(list) == 0 {
		return defaultIgnore
	}
	var out []ignoreRule
	for _, s := range list {
		if s == "" {
			continue
		}
		if strings.HasPrefix(s, "^") || strings.HasSuffix(s, "$") || strings.Contains(s, `\`) || strings.Contains(s, "(") {
			if re, err := regexp.Compile(s); err == nil {
				out = append(out, ignoreRule{re: re})
				continue
			}
		}
		out = append(out, ignoreRule{glob: strings.TrimSuffix(strings.TrimPrefix(s, "./"), "/")})
	}
	return out
}

// ignored tells whether rel (slash-separated, relative to cwd) is ignored.
func (w *watcher) ignored(abs string) bool {
	if w.own[abs] || (w.home != "" && (abs == w.home || strings.HasPrefix(abs, w.home+"/"))) {
		return true
	}
	rel, err := filepath.Rel(w.cwd, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = abs
	}
	rel = filepath.ToSlash(rel)
	parts := strings.Split(rel, "/")
	for _, r := range w.ignore {
		if r.re != nil {
			if r.re.MatchString(rel) || r.re.MatchString(abs) {
				return true
			}
			continue
		}
		g := strings.TrimPrefix(r.glob, "**/")
		g = strings.TrimSuffix(g, "/**")
		if ok, _ := path.Match(g, rel); ok {
			return true
		}
		// a pattern without a slash matches any path component ("logs", "*.log")
		if !strings.Contains(g, "/") {
			for _, p := range parts {
				if ok, _ := path.Match(g, p); ok {
					return true
				}
			}
		} else if strings.HasPrefix(rel, g+"/") {
			return true
		}
	}
	return false
}

func newWatcher(p *Proc, a spec.App) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watcher{p: p, name: a.Name, fw: fw, cwd: a.Cwd, ignore: parseIgnore(a.IgnoreWatch), delay: a.WatchDelay,
		key: watchKey(a), done: make(chan struct{}), own: map[string]bool{}, ownDir: map[string]bool{}, home: p.sup.opts.Home}
	roots := a.Watch
	if len(roots) == 0 {
		roots = []string{a.Cwd}
	}
	for _, r := range roots {
		if !filepath.IsAbs(r) {
			r = filepath.Join(a.Cwd, r)
		}
		w.roots = append(w.roots, filepath.Clean(r))
	}
	// Files the app writes through tend must never trigger its restart.
	p.mu.Lock()
	own := append(p.logPaths[:], p.pidPath)
	p.mu.Unlock()
	for _, f := range own {
		if f == "" || f == "/dev/null" {
			continue
		}
		for _, r := range w.roots {
			if strings.HasPrefix(f, r+"/") && !w.ignored(f) {
				p.sup.logf("app %s: watch: its own log file %s is inside the watched folder %s; tend ignores it (add it to ignore_watch to silence this)", a.Name, f, r)
			}
		}
		w.own[f] = true
		// The watcher starts before the app, so it sees tend create the
		// folders of these files (logs/): not a change of the app's.
		for d := filepath.Dir(f); d != filepath.Dir(d); d = filepath.Dir(d) {
			w.ownDir[d] = true
		}
	}
	for _, r := range w.roots {
		w.addTree(r)
	}
	w.wg.Add(1)
	go w.run()
	return w, nil
}

// addTree watches dir and every folder below it that is not ignored.
func (w *watcher) addTree(root string) {
	fi, err := os.Stat(root)
	if err != nil {
		w.p.sup.logf("app %s: watch: %v", w.name, err)
		return
	}
	if !fi.IsDir() {
		w.fw.Add(root)
		return
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if p != root && w.ignored(p) {
			return filepath.SkipDir
		}
		w.fw.Add(p)
		return nil
	})
}

func (w *watcher) run() {
	defer w.wg.Done()
	var timer *time.Timer
	var timerC <-chan time.Time
	var first time.Time
	pending := make(chan struct{}, 1) // a restart is under way
	restarted := make(chan struct{}, 1)
	var late time.Time // the last change seen while a restart ran
	var lateName string
	// arm starts or extends the burst timer for a change at now.
	arm := func(now time.Time) {
		if timer == nil {
			first = now
			timer = time.NewTimer(max(w.delay, burstQuiet))
			timerC = timer.C
			return
		}
		timer.Reset(max(first.Add(w.delay).Sub(now), burstQuiet))
	}
	for {
		select {
		case <-w.done:
			if timer != nil {
				timer.Stop()
			}
			return
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			w.p.sup.logf("app %s: watch: %v", w.name, err)
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod || w.ignored(ev.Name) {
				continue
			}
			if ev.Op&fsnotify.Create != 0 {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					w.addTree(ev.Name)
					if w.ownDir[ev.Name] {
						continue
					}
				}
			}
			if len(pending) > 0 {
				// PM2 ignores changes while the restart runs; tend keeps
				// the last one, in case it came after the new process
				// started (an app writing into its own watched folder).
				late, lateName = time.Now(), ev.Name
				continue
			}
			w.mu.Lock()
			w.last = ev.Name
			w.mu.Unlock()
			arm(time.Now())
		case <-restarted:
			<-pending
			w.p.mu.Lock()
			started := w.p.startedAt
			w.p.mu.Unlock()
			if !late.IsZero() && !late.Before(started) {
				w.mu.Lock()
				w.last = lateName
				w.mu.Unlock()
				arm(late)
			}
			late, lateName = time.Time{}, ""
		case <-timerC:
			timer, timerC = nil, nil
			pending <- struct{}{}
			w.mu.Lock()
			last := w.last
			w.mu.Unlock()
			w.p.sup.logf("app %s (id %d): change detected on %s: restarting", w.name, w.p.id, last)
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				w.p.do(command{op: opRestart, reason: "watch"})
				select {
				case restarted <- struct{}{}:
				case <-w.done:
				}
			}()
		}
	}
}

// looping is called by the proc loop for each watch restart: it reports
// true when the app keeps changing its own watched files
// right after it starts.
func (w *watcher) looping(cur *run) bool {
	window := 2*w.delay + 2*time.Second
	if cur == nil || time.Since(cur.started) > window {
		w.quick = 0
		return false
	}
	w.quick++
	return w.quick >= loopRestarts
}

// sayStopped says why looping stopped the watch, once it is off (whoever
// reads the line then sees it off in describe).
func (w *watcher) sayStopped() {
	window := 2*w.delay + 2*time.Second
	w.mu.Lock()
	last := w.last
	w.mu.Unlock()
	w.p.sup.logf("app %s (id %d): watch stopped: %d restarts in a row were caused by changes within %v of a start (last: %s). The app probably writes into a watched folder; add that path to ignore_watch, then `tend restart %s --watch`.",
		w.name, w.p.id, loopRestarts, window, last, w.name)
	w.p.writeErrLog(w.p.logPaths, fmt.Sprintf("watch stopped: the app keeps changing %s right after it starts; add it to ignore_watch", last))
}

func (w *watcher) close() {
	if w == nil {
		return
	}
	select {
	case <-w.done:
		return
	default:
	}
	close(w.done)
	w.fw.Close()
	// The restart goroutine may be waiting on the proc loop that calls close;
	// it ends by itself once the loop answers it, so don't wait for it here.
}
