package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/procstat"
	"github.com/tend-dev/tend/internal/spec"
)

// reloadApp is a shell app for reload tests, run in dir.
func reloadApp(dir, name, script string, mod func(*spec.App)) spec.App {
	a := spec.App{
		Name: name, Namespace: "default", Script: "/bin/sh", ScriptPath: "/bin/sh",
		Args: []string{"-c", script}, Interpreter: "none", Cwd: dir, Instances: 1, ExecMode: "fork_mode",
		Env: map[string]string{"PATH": "/usr/bin:/bin"}, InstanceVar: "NODE_APP_INSTANCE",
		Autorestart: true, Autostart: true, MaxRestarts: 16, MinUptime: time.Second,
		KillTimeout: time.Second, KillSignal: "SIGTERM", Treekill: true,
		OutFile: filepath.Join(dir, name+"-out.log"), ErrorFile: filepath.Join(dir, name+"-err.log"), MergeLogs: true,
		ListenTimeout: 50 * time.Millisecond, ReloadTimeout: 5 * time.Second,
	}
	if mod != nil {
		mod(&a)
	}
	return a
}

func procOf(t *testing.T, s *Supervisor, name string) api.Process {
	t.Helper()
	for _, p := range s.List() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no process %s", name)
	return api.Process{}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func reload(s *Supervisor, name string) error {
	_, err := s.Act(context.Background(), api.ActionRequest{Action: api.ActionReload, Target: api.Target{Names: []string{name}}})
	return err
}

func TestReload(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	var logMu sync.Mutex
	var logged []string
	logf := func(format string, args ...any) {
		logMu.Lock()
		logged = append(logged, fmt.Sprintf(format, args...))
		logMu.Unlock()
	}
	inLog := func(sub string) int {
		logMu.Lock()
		defer logMu.Unlock()
		n := 0
		for _, l := range logged {
			if strings.Contains(l, sub) {
				n++
			}
		}
		return n
	}
	s := New(Options{Home: t.TempDir(), Logf: logf})
	ctx := context.Background()
	// ready over the IPC channel, as process.send('ready') writes it; a
	// second message is an event. With a file "crash" it exits at once, with
	// "mute" it never says ready.
	ipc := reloadApp(dir, "ipc", `test -f crash && exit 1
test -f mute || printf '"ready"\n{"hello":"world"}\n' >&3
exec sleep 9401`, func(a *spec.App) { a.WaitReady = true; a.ReloadTimeout = 300 * time.Millisecond })
	plain := reloadApp(dir, "plain", "exec sleep 9402", nil)
	if _, err := s.Start(ctx, []spec.App{ipc, plain}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ipc healthy", func() bool { return procOf(t, s, "ipc").PM2Env.Health == HealthHealthy })

	sub := s.Bus.Subscribe(64, false)
	defer sub.Close()
	old := procOf(t, s, "ipc").PID
	oldProc, _ := procstat.ReadProc(old)
	if err := reload(s, "ipc"); err != nil {
		t.Fatal(err)
	}
	p := procOf(t, s, "ipc")
	if p.PID == old || p.PID == 0 || p.PM2Env.RestartTime != 1 || p.PM2Env.RestartReason != "reload" {
		t.Fatalf("after reload: pid %d (was %d), restarts %d, reason %q", p.PID, old, p.PM2Env.RestartTime, p.PM2Env.RestartReason)
	}
	if !strings.HasPrefix(p.PM2Env.LastReload, "zero-downtime: new instance first") {
		t.Fatalf("last reload %q", p.PM2Env.LastReload)
	}
	if alive(member{pid: old, start: oldProc.StartTime}) {
		t.Fatalf("old pid %d still runs", old)
	}
	var got []string
	waitFor(t, "the message event", func() bool {
		for {
			select {
			case ev := <-sub.C:
				if ev.Type == api.EventMessage {
					got = append(got, ev.Data)
				}
				continue
			default:
			}
			return len(got) > 0
		}
	})
	if got[0] != `{"hello":"world"}` {
		t.Fatalf("message %q", got[0])
	}

	// a new instance that exits, or never says ready: the old one stays
	for _, c := range []struct{ file, want string }{
		{"crash", "exited with code 1"},
		{"mute", "was not ready within reload_timeout 300ms"},
	} {
		os.WriteFile(filepath.Join(dir, c.file), nil, 0o644)
		old := procOf(t, s, "ipc")
		err := reload(s, "ipc")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "still serves") {
			t.Fatalf("%s: reload error %v, want %q", c.file, err, c.want)
		}
		now := procOf(t, s, "ipc")
		if now.PID != old.PID || now.PM2Env.Status != "online" || now.PM2Env.RestartTime != old.PM2Env.RestartTime {
			t.Fatalf("%s: the old instance was touched: %+v", c.file, now)
		}
		if !strings.HasPrefix(now.PM2Env.LastReload, "failed: ") {
			t.Fatalf("last reload %q", now.PM2Env.LastReload)
		}
		os.Remove(filepath.Join(dir, c.file))
	}

	// a stop during a reload gives the reload up and stops
	os.WriteFile(filepath.Join(dir, "mute"), nil, 0o644)
	var wg sync.WaitGroup
	var rerr error
	started := inLog("app ipc (id 0): reload (")
	wg.Add(1)
	go func() { defer wg.Done(); rerr = reload(s, "ipc") }()
	waitFor(t, "the reload to start", func() bool { return inLog("app ipc (id 0): reload (") > started })
	if _, err := s.Act(ctx, api.ActionRequest{Action: api.ActionStop, Target: api.Target{Names: []string{"ipc"}}}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if rerr == nil || !strings.Contains(rerr.Error(), "interrupted by stop") {
		t.Fatalf("reload during stop: %v", rerr)
	}
	if st := procOf(t, s, "ipc").PM2Env.Status; st != "stopped" {
		t.Fatalf("status %s", st)
	}
	// a reload of a stopped app starts it
	os.Remove(filepath.Join(dir, "mute"))
	if err := reload(s, "ipc"); err != nil {
		t.Fatal(err)
	}
	if p := procOf(t, s, "ipc"); p.PM2Env.Status != "online" || !strings.HasPrefix(p.PM2Env.LastReload, "started") {
		t.Fatalf("after reload of a stopped app: %s, %q", p.PM2Env.Status, p.PM2Env.LastReload)
	}

	// listen_timeout: an app with no signal is ready when it has run that long
	old = procOf(t, s, "plain").PID
	if err := reload(s, "plain"); err != nil {
		t.Fatal(err)
	}
	if p := procOf(t, s, "plain"); p.PID == old {
		t.Fatal("plain was not replaced")
	}

	s.Shutdown(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines leaked:\n%s", buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:0050":                         "0.0.0.0:80",
		"00000000000000000000000000000000:1F90": "[::]:8080",
		"00000000000000000000000001000000:1F91": "[::1]:8081",
	} {
		ap, ok := parseProcAddr(in)
		if !ok || ap.String() != want {
			t.Errorf("parseProcAddr(%q) = %v, %v; want %s", in, ap, ok, want)
		}
	}
	if _, ok := parseProcAddr("zz:1"); ok {
		t.Error("bad hex accepted")
	}
}

// logRecorder collects the supervisor's log lines.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// index returns the position of the n-th (from 0) line containing sub, or -1.
func (l *logRecorder) index(sub string, n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, line := range l.lines {
		if strings.Contains(line, sub) {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return -1
}

func TestReloadParallelAndWaitReadyStart(t *testing.T) {
	dir := t.TempDir()
	var log logRecorder
	s := New(Options{Home: t.TempDir(), Logf: log.logf})
	defer s.Shutdown(context.Background())
	ctx := context.Background()
	w := reloadApp(dir, "w", "exec sleep 9403", func(a *spec.App) { a.Instances = 3; a.ListenTimeout = 200 * time.Millisecond })
	// wait_ready without a signal: ready after listen_timeout at a start (PM2)
	quiet := reloadApp(dir, "quiet", "exec sleep 9404", func(a *spec.App) { a.WaitReady = true; a.ListenTimeout = 2 * time.Second })
	if _, err := s.Start(ctx, []spec.App{w, quiet}); err != nil {
		t.Fatal(err)
	}
	if h := procOf(t, s, "quiet").PM2Env.Health; h != HealthStarting {
		t.Fatalf("quiet health %q at start", h)
	}
	waitFor(t, "quiet healthy", func() bool { return procOf(t, s, "quiet").PM2Env.Health == HealthHealthy })

	_, err := s.Act(ctx, api.ActionRequest{Action: api.ActionReload, Target: api.Target{Names: []string{"w"}}, Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	// ids 0 and 1 start together; id 2 only once they are done
	second := log.index("): reload (", 1)
	firstReady := log.index("): reload: pid", 0)
	third := log.index("): reload (", 2)
	if second < 0 || firstReady < 0 || third < 0 || !(second < firstReady && firstReady < third) {
		t.Fatalf("order: second start %d, first ready %d, third start %d:\n%s", second, firstReady, third, strings.Join(log.lines, "\n"))
	}
}
