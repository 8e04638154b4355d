package supervisor

import "testing"

func TestWatchIgnoreRules(t *testing.T) {
	w := &watcher{cwd: "/app", own: map[string]bool{"/app/out.log": true}}
	cases := []struct {
		ignore []string
		path   string
		want   bool
	}{
		{nil, "/app/src/index.js", false},
		{nil, "/app/.git/HEAD", true},           // PM2's default: dotfiles
		{nil, "/app/node_modules/x/y.js", true}, // and node_modules
		{nil, "/app/out.log", true},             // the app's own log file
		{[]string{"logs"}, "/app/logs/a.log", true},
		{[]string{"logs"}, "/app/.env", false}, // a list replaces the default
		{[]string{"*.log"}, "/app/deep/x.log", true},
		{[]string{"dist/**"}, "/app/dist/a/b.js", true},
		{[]string{"./public"}, "/app/public/i.png", true},
		{[]string{`^src/gen`}, "/app/src/gen/a.go", true},
		{[]string{`^src/gen`}, "/app/src/main.go", false},
	}
	for _, c := range cases {
		w.ignore = parseIgnore(c.ignore)
		if got := w.ignored(c.path); got != c.want {
			t.Errorf("ignore %q, %s: got %v, want %v", c.ignore, c.path, got, c.want)
		}
	}
}

// TestWatchIgnoresHome: the daemon's home is never watched, even inside
// the app's folder with an ignore_watch that replaces the dotfile rule (a
// state record written there restarted the app: TestConformance/opt_ext).
func TestWatchIgnoresHome(t *testing.T) {
	w := &watcher{cwd: "/app", home: "/app/.tend", ignore: parseIgnore([]string{"node_modules"}), own: map[string]bool{}}
	for path, want := range map[string]bool{
		"/app/.tend":             true,
		"/app/.tend/state/0.a":   true,
		"/app/.tend/logs/x.log":  true,
		"/app/.tendrc":           false,
		"/app/src/a.js":          false,
		"/app/node_modules/x.js": true,
	} {
		if got := w.ignored(path); got != want {
			t.Errorf("ignored(%s) = %v, want %v", path, got, want)
		}
	}
}
