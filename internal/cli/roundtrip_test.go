package cli

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tend-dev/tend/internal/api"
)

// fakeDaemon serves canned answers on home's socket and records the requests.
type fakeDaemon struct {
	mu   sync.Mutex
	reqs []string
}

func (f *fakeDaemon) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func startFakeDaemon(t *testing.T, home string) *fakeDaemon {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(home, "tend.sock"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDaemon{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Method+" "+r.URL.RequestURI())
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case api.Prefix + "/ping":
			w.Write([]byte(`{"pid":1,"version":"test"}`))
		case api.Prefix + "/processes":
			w.Write([]byte(`[]`))
		case api.Prefix + "/detach": // a daemon older than tend update
			http.NotFound(w, r)
		default:
			w.Write([]byte(`{}`))
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f
}

func run(t *testing.T, home string, args ...string) (string, error) {
	t.Helper()
	t.Setenv("TEND_HOME", home)
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: &out}
	root := a.root()
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// A running daemon gets the command's request first: no ping before it.
func TestOneRoundTripWhenTheDaemonRuns(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"jlist"}, []string{"GET " + api.Prefix + "/processes"}},
		{[]string{"ls"}, []string{"GET " + api.Prefix + "/processes?brief=1"}},
		{[]string{"ping"}, []string{"GET " + api.Prefix + "/ping"}},
		{[]string{"pid"}, []string{"GET " + api.Prefix + "/processes"}},
		{[]string{"env", "3"}, []string{"GET " + api.Prefix + "/env/3"}},
		{[]string{"reloadLogs"}, []string{"POST " + api.Prefix + "/reload-logs"}},
		{[]string{"web"}, []string{"POST " + api.Prefix + "/web"}},
		{[]string{"stop", "all"}, []string{"POST " + api.Prefix + "/action?brief=1", "GET " + api.Prefix + "/processes?brief=1"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			home, err := os.MkdirTemp("", "tend-rt") // short: a unix socket path has a length limit
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(home) })
			f := startFakeDaemon(t, home)
			out, err := run(t, home, tc.args...)
			if err != nil {
				t.Fatalf("%v: %v\n%s", tc.args, err, out)
			}
			if got := f.requests(); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("requests %q, want %q", got, tc.want)
			}
			if strings.Contains(out, "Spawning") {
				t.Errorf("a daemon was started although one answered:\n%s", out)
			}
		})
	}
}

// With no daemon, commands that act on apps report it (and start none).
func TestNoDaemonForActions(t *testing.T) {
	home := t.TempDir()
	_, err := run(t, home, "stop", "all")
	if err == nil || !strings.Contains(err.Error(), "no tend daemon is running") {
		t.Fatalf("stop all without a daemon: %v", err)
	}
	if _, statErr := os.Stat(filepath.Join(home, "tend.log")); statErr == nil {
		t.Error("stop started a daemon")
	}
}

// tend update against a daemon that predates it says what to do instead.
func TestUpdateOlderDaemon(t *testing.T) {
	home, err := os.MkdirTemp("", "tend-rt")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(home)
	startFakeDaemon(t, home)
	out, err := run(t, home, "update")
	if err == nil || !strings.Contains(err.Error(), "predates tend update") || !strings.Contains(err.Error(), "tend kill") {
		t.Fatalf("update: %v\n%s", err, out)
	}
}

// TestOptionalFlagValues: PM2's optional and variadic values become pflag's
// "--flag=value" for the start verbs only; nothing after "--" changes.
func TestOptionalFlagValues(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"start app.js --watch src", "start app.js --watch=src"},
		{"start app.js --watch", "start app.js --watch"},
		{"start app.js --stop-exit-codes 0 3 --name x", "start app.js --stop-exit-codes=0,3 --name x"},
		{"start app.js --stop-exit-codes=0 3", "start app.js --stop-exit-codes=0,3"},
		{"start --stop-exit-codes 2 app.js", "start --stop-exit-codes=2 app.js"},
		{"start app.js -- --stop-exit-codes 0 3", "start app.js -- --stop-exit-codes 0 3"},
		{"restart app --watch", "restart app --watch"},
	} {
		if got := strings.Join(optionalFlagValues(strings.Fields(c.in)), " "); got != c.want {
			t.Errorf("%s: %s, want %s", c.in, got, c.want)
		}
	}
}
