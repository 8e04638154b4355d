package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tend-dev/tend/internal/homedir"
	"github.com/tend-dev/tend/internal/procstat"
	"github.com/tend-dev/tend/internal/spec"
)

// Restore takes, for each pm_id, the newest record that decodes: a write
// cut short damages only the slot it was writing.
func TestRestoreNewestWholeRecord(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, StateDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	rec := func(seq uint64, boot string, id, restarts int) []byte {
		app, _ := json.Marshal(spec.App{Name: "web", Script: "web.sh"})
		b, err := json.Marshal(savedProc{Seq: seq, BootID: boot, ID: id, App: app, Status: Stopped, Restarts: restarts})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	newer := rec(8, bootIDOnce(), 0, 9)
	write("0.a", newer[:len(newer)/2])                             // torn by a SIGKILL
	write("0.b", append(rec(7, bootIDOnce(), 0, 3), "garbage"...)) // longer than the next record was
	write("1.a", rec(1, "another-boot", 1, 0))
	write("2.a", []byte("{"))

	s := New(Options{Home: home})
	res, err := s.Restore()
	if err == nil || !strings.Contains(err.Error(), "pm_id 2") || strings.Contains(err.Error(), "pm_id 0") {
		t.Fatalf("error %v: want one naming pm_id 2 only", err)
	}
	if res.Kept != 1 || !strings.Contains(res.Note, "1 records from before the machine last booted") {
		t.Fatalf("restored %+v", res)
	}
	ps := s.List()
	if len(ps) != 1 || ps[0].PMID != 0 || ps[0].PM2Env.RestartTime != 3 || ps[0].PM2Env.Status != string(Stopped) {
		t.Fatalf("list %+v", ps)
	}
	// The next record of pm_id 0 goes over the torn one, newer than the
	// whole one.
	s.sorted()[0].save()
	sp, err := s.readRecord("0.a")
	if err != nil || sp.Seq != 8 || sp.Restarts != 3 {
		t.Fatalf("next record: seq %d restarts %d, %v", sp.Seq, sp.Restarts, err)
	}
	s.Shutdown(t.Context())
	if _, err := os.Stat(filepath.Join(dir, "0.a")); !os.IsNotExist(err) {
		t.Fatalf("records left after every process was deleted: %v", err)
	}
}

// A record names what the daemon runs, signals and kills: fields no daemon
// writes are refused before use.
func TestCheckRecord(t *testing.T) {
	s := New(Options{Home: t.TempDir()})
	defer s.Shutdown(t.Context())
	good := spec.App{Name: "web", ScriptPath: "/srv/web.sh", Cwd: "/srv"}
	run := &savedRun{PID: 4242, Start: 7}
	for _, c := range []struct {
		name string
		sp   savedProc
		app  func(a *spec.App)
		want string
	}{
		{"good", savedProc{Run: run}, nil, ""},
		{"bare command", savedProc{}, func(a *spec.App) { a.ScriptPath = "sleep" }, ""},
		{"no run", savedProc{}, nil, ""},
		{"relative script", savedProc{}, func(a *spec.App) { a.ScriptPath = "../evil.sh" }, `script_path "../evil.sh" is a relative path`},
		{"NUL in script", savedProc{}, func(a *spec.App) { a.ScriptPath = "/bin/sh\x00-c" }, "holds a NUL"},
		{"relative cwd", savedProc{}, func(a *spec.App) { a.Cwd = "tmp" }, `cwd "tmp" is not an absolute path`},
		{"newline in name", savedProc{}, func(a *spec.App) { a.Name = "a\nb" }, "holds a NUL or a newline"},
		{"empty name", savedProc{}, func(a *spec.App) { a.Name = "" }, "is empty"},
		{"pid 1", savedProc{Run: &savedRun{PID: 1, Start: 1}}, nil, "pid 1 is not one tend can have started"},
		{"no start time", savedProc{Run: &savedRun{PID: 4242}}, nil, "pid 4242 has no start time"},
		{"cgroup not clean", savedProc{Run: &savedRun{PID: 4242, Start: 7, Cgroup: "/sys/fs/cgroup/a/../b"}}, nil, "is not a clean absolute path"},
		{"negative restarts", savedProc{Restarts: -1}, nil, "negative"},
	} {
		app := good
		if c.app != nil {
			c.app(&app)
		}
		err := s.checkRecord(c.sp, app)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.want)
		}
	}
}

// Only the daemon's own regular files of mode 0600 are read as records.
func TestReadRecordTrust(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, StateDir)
	os.MkdirAll(dir, 0o700)
	s := New(Options{Home: home})
	defer s.Shutdown(t.Context())
	b, _ := json.Marshal(savedProc{Seq: 1, BootID: bootIDOnce(), ID: 0})
	os.WriteFile(filepath.Join(dir, "0.a"), b, 0o600)
	if _, err := s.readRecord("0.a"); err != nil {
		t.Fatalf("a record of mode 0600: %v", err)
	}
	os.Chmod(filepath.Join(dir, "0.a"), 0o640)
	if _, err := s.readRecord("0.a"); !errors.Is(err, errUntrusted) || !strings.Contains(err.Error(), "has mode 0640, not 0600") {
		t.Fatalf("a record of mode 0640: %v", err)
	}
	os.Symlink(filepath.Join(dir, "0.a"), filepath.Join(dir, "1.a"))
	if _, err := s.readRecord("1.a"); !errors.Is(err, homedir.ErrUnsafe) {
		t.Fatalf("a link: %v", err)
	}
	if os.Geteuid() == 0 {
		os.Chmod(filepath.Join(dir, "0.a"), 0o600)
		os.Chown(filepath.Join(dir, "0.a"), 65534, 65534)
		if _, err := s.readRecord("0.a"); !errors.Is(err, homedir.ErrUnsafe) || !strings.Contains(err.Error(), "belongs to uid 65534") {
			t.Fatalf("a record of uid 65534: %v", err)
		}
	}
}

// A live pid with the recorded start time is adopted only when its
// environment carries the run's marker (or, for records without one, this
// home and the pm_id).
func TestNotOurs(t *testing.T) {
	s, home := procSupervisor(t)
	start := func(env ...string) savedProc {
		cmd := startSleep(t, "7396", env...)
		pr, _ := procstat.ReadProc(cmd.Process.Pid)
		return savedProc{ID: 5, Run: &savedRun{PID: cmd.Process.Pid, Start: pr.StartTime}}
	}
	app := spec.App{Name: "web"}
	marked := start(runMarker+"=5-abc", "TEND_HOME="+home)
	marked.Run.Marker = "5-abc"
	if why := s.notOurs(marked, app); why != "" {
		t.Errorf("a process with the run's marker: %s", why)
	}
	marked.Run.Marker = "5-other"
	if why := s.notOurs(marked, app); !strings.Contains(why, "neither its environment") {
		t.Errorf("a process with another run's marker: %q", why)
	}
	legacy := start("TEND_HOME="+home, "pm_id=5")
	if why := s.notOurs(legacy, app); why != "" {
		t.Errorf("a record without a marker, a process of this home and pm_id: %s", why)
	}
	stranger := start("TEND_HOME=" + home) // no pm_id: anyone's
	if why := s.notOurs(stranger, app); why == "" {
		t.Error("a process without a marker nor pm_id was taken for tend's")
	}
	if os.Geteuid() == 0 {
		other := savedProc{ID: 5, Run: &savedRun{Marker: "5-abc"}}
		cmd := exec.Command("sleep", "7396")
		cmd.Env = []string{runMarker + "=5-abc"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		other.Run.PID = cmd.Process.Pid
		if why := s.notOurs(other, app); !strings.Contains(why, "runs as uid 65534") {
			t.Errorf("a process of uid 65534 with the marker: %q", why)
		}
	}
}

// killStrays kills the processes of this home's runs that no record holds,
// and only those.
func TestKillStrays(t *testing.T) {
	s, home := procSupervisor(t)
	start := func(env ...string) *exec.Cmd { return startSleep(t, "7397", env...) }
	stray := start(runMarker+"=1-stray", "TEND_HOME="+home)
	kept := start(runMarker+"=2-kept", "TEND_HOME="+home)
	elsewhere := start(runMarker+"=1-stray", "TEND_HOME="+home+"x")
	killed := s.killStrays(map[string]bool{"2-kept": true})
	if len(killed) != 1 || !strings.HasPrefix(killed[0], strconv.Itoa(stray.Process.Pid)+" ") {
		t.Fatalf("killed %v, want pid %d only", killed, stray.Process.Pid)
	}
	if st, _ := stray.Process.Wait(); st == nil || st.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the stray: %v", st)
	}
	for _, c := range []*exec.Cmd{kept, elsewhere} {
		if err := c.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("pid %d was killed: %v", c.Process.Pid, err)
		}
	}
}

// The walk a daemon makes at start to find the processes of runs no record
// holds: one read of /proc/<pid>/environ per process on the machine.
func BenchmarkKillStrays(b *testing.B) {
	s := New(Options{Home: b.TempDir()})
	defer s.Shutdown(b.Context())
	for b.Loop() {
		if killed := s.killStrays(nil); len(killed) > 0 {
			b.Fatalf("killed %v", killed)
		}
	}
}

// startSleep starts `sleep secs` with env alone, killed at the test's end.
func startSleep(t *testing.T, secs string, env ...string) *exec.Cmd {
	cmd := exec.Command("sleep", secs)
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// procSupervisor is a supervisor of a new home, where another process's
// environment can be read (/proc); the test is skipped elsewhere.
func procSupervisor(t *testing.T) (*Supervisor, string) {
	if !provable {
		t.Skip("no /proc to read another process's environment from")
	}
	home := t.TempDir()
	s := New(Options{Home: home})
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s, home
}

// A process's two record slots share one file (<pm_id>.a, the second slot
// at recordSlot): one inode per app instead of two. A slot cut short leaves
// the other; a record too long for its slot goes to <pm_id>.b.
func TestRecordSlotsInOneFile(t *testing.T) {
	home := t.TempDir()
	s := New(Options{Home: home})
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	app := testApp(t, "slots", "exec sleep 9345", func(a *spec.App) { a.Autostart = false })
	if _, err := s.Start(t.Context(), []spec.App{app}); err != nil {
		t.Fatal(err)
	}
	p := s.sorted()[0]
	p.save() // seq 2: the first slot; seq 1 is in the second
	dir := filepath.Join(home, StateDir)
	names := func() []string {
		ents, _ := os.ReadDir(dir)
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	if got := names(); len(got) != 1 || got[0] != "0.a" {
		t.Fatalf("record files %v, want [0.a]", got)
	}
	seqs := func() []uint64 {
		sps, err := s.readRecords("0.a")
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, sp := range sps {
			out = append(out, sp.Seq)
		}
		return out
	}
	if got := seqs(); len(got) != 2 || got[0] != 2 || got[1] != 1 {
		t.Fatalf("slots hold seqs %v, want [2 1]", got)
	}
	p.save() // seq 3, second slot
	if sp, err := s.readRecord("0.a"); err != nil || sp.Seq != 3 {
		t.Fatalf("newest record: seq %d, %v; want 3", sp.Seq, err)
	}
	// A SIGKILL in the middle of the next write of the second slot.
	f, err := os.OpenFile(filepath.Join(dir, "0.a"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte(`{"seq":5,"id":0,"ap`), recordSlot)
	f.Truncate(recordSlot + 19)
	f.Close()
	if sp, err := s.readRecord("0.a"); err != nil || sp.Seq != 2 {
		t.Fatalf("after a torn second slot: seq %d, %v; want the first slot's 2", sp.Seq, err)
	}
	// A record longer than a slot: a file of its own.
	p.mu.Lock()
	// In place: no run shares the spec (not started), and the loop reads
	// p.app without the lock.
	p.app.Env = map[string]string{"BIG": strings.Repeat("x", recordSlot)}
	p.appJSON = nil
	p.saveSeq = 4
	p.mu.Unlock()
	p.save() // seq 5
	if got := names(); len(got) != 2 || got[1] != "0.b" {
		t.Fatalf("record files %v, want [0.a 0.b]", got)
	}
	if sp, err := s.readRecord("0.b"); err != nil || sp.Seq != 5 {
		t.Fatalf("the long record: seq %d, %v; want 5", sp.Seq, err)
	}
	// A long record of an even seq goes to 0.b too: written at the start
	// of 0.a it would run over the second slot, and a write cut short
	// would then leave no whole record in 0.a.
	p.mu.Lock()
	p.app.Env = nil
	p.appJSON = nil
	p.mu.Unlock()
	p.save() // seq 6, short: the first slot of 0.a
	p.save() // seq 7, short: the second slot
	p.mu.Lock()
	p.app.Env = map[string]string{"BIG": strings.Repeat("y", recordSlot)}
	p.appJSON = nil
	p.mu.Unlock()
	p.save() // seq 8, long
	if got := seqs(); len(got) != 2 || got[0] != 6 || got[1] != 7 {
		t.Fatalf("after a long record of an even seq, 0.a's slots hold %v, want [6 7]", got)
	}
	if sp, err := s.readRecord("0.b"); err != nil || sp.Seq != 8 {
		t.Fatalf("the long record: seq %d, %v; want 8", sp.Seq, err)
	}
}

// encodeRecord writes what encoding/json writes, byte for byte.
func TestEncodeRecordSameAsEncoder(t *testing.T) {
	app, _ := json.Marshal(spec.App{Name: "web", Script: "web.sh", Env: map[string]string{"A": `"app":null`}})
	code := 3
	for _, sp := range []savedProc{
		{Seq: 1, BootID: "b", ID: 2, App: app, Status: Online, Run: &savedRun{PID: 9, Marker: "m"}, ExitCode: &code},
		{Seq: 2, ID: 3, App: nil, Status: Stopped, Reason: `"app":null`},
	} {
		var want, got bytes.Buffer
		if err := json.NewEncoder(&want).Encode(sp); err != nil {
			t.Fatal(err)
		}
		if err := encodeRecord(&got, sp); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("encodeRecord:\n got %s\nwant %s", got.Bytes(), want.Bytes())
		}
	}
}

// An app a new daemon takes over is listed with its package.json version
// from the first answer, as its pid is, not only once its loop has
// re-attached it (a jlist right after `tend update` lacked it).
func TestRestoredAppListedWithVersion(t *testing.T) {
	home := t.TempDir()
	a := New(Options{Home: home})
	app := testApp(t, "versioned", "", func(a *spec.App) {
		a.Script = filepath.Join(a.Cwd, "run.sh")
		a.ScriptPath, a.Args = a.Script, nil
	})
	for name, body := range map[string]string{"package.json": `{"version":"4.5.6"}`, "run.sh": "#!/bin/sh\nexec sleep 9346\n"} {
		if err := os.WriteFile(filepath.Join(app.Cwd, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Start(t.Context(), []spec.App{app}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { ps := a.List(); return len(ps) == 1 && ps[0].PM2Env.Status == string(Online) })
	a.Detach()
	b := New(Options{Home: home})
	defer b.Shutdown(t.Context())
	if _, err := b.Restore(); err != nil {
		t.Fatal(err)
	}
	ps := b.List()
	if len(ps) != 1 || ps[0].PID == 0 || ps[0].PM2Env.Version != "4.5.6" {
		t.Fatalf("right after Restore: %d processes, pid %d, version %q; want one running, version 4.5.6", len(ps), ps[0].PID, ps[0].PM2Env.Version)
	}
}
