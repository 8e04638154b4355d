package supervisor

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tend-dev/tend/internal/spec"
)

// everyOption sets every field of spec.App (and of the types it holds)
// to a value that is not its zero, so a field that is not carried over
// shows as a difference.
func everyOption(dir string) spec.App {
	uid, gid, retain, compress := os.Getuid(), os.Getgid(), 7, true
	probe := func(port string) *spec.Probe {
		return &spec.Probe{HTTP: "http://127.0.0.1:" + port + "/health", TCP: "127.0.0.1:" + port, Exec: "true", Status: "200-299",
			Interval: 3 * time.Second, Timeout: 2 * time.Second, StartPeriod: 5 * time.Second, FailureThreshold: 4, SuccessThreshold: 2}
	}
	return spec.App{
		Name: "every", Namespace: "ns", Script: "app.sh", ScriptPath: filepath.Join(dir, "app.sh"),
		Args: []string{"--port", "9"}, Interpreter: "bash", InterpreterArgs: []string{"-e"}, Cwd: dir,
		Instances: 1, ExecMode: "fork_mode",
		Env: map[string]string{"A": "1", "SPACE": "a b"}, EnvFile: filepath.Join(dir, ".env"),
		InstanceVar: "INSTANCE_ID", IncrementVar: "PORT",
		Autorestart: true, Autostart: true, MaxRestarts: 5, MinUptime: 2 * time.Second, RestartDelay: 300 * time.Millisecond,
		ExpBackoffRestartDelay: 100 * time.Millisecond, KillTimeout: 3 * time.Second, KillSignal: "SIGTERM",
		StopExitCodes: []int{0, 3}, Treekill: true, UID: &uid, GID: &gid, MaxMemoryRestart: 100 << 20,
		OutFile: filepath.Join(dir, "out.log"), ErrorFile: filepath.Join(dir, "err.log"), LogFile: filepath.Join(dir, "all.log"),
		PidFile: filepath.Join(dir, "every.pid"), MergeLogs: true, LogDateFormat: "YYYY-MM-DD HH:mm",
		Watch: []string{"src"}, WatchEnabled: true, IgnoreWatch: []string{"tmp"}, WatchDelay: 200 * time.Millisecond,
		CronRestart: "0 3 * * *", ListenTimeout: 4 * time.Second, WaitReady: true,
		DependsOn: []spec.Dependency{{Name: "db", Condition: "healthy"}},
		Readiness: probe("9101"), Liveness: probe("9102"),
		RequiredEnv: []string{"A"}, Ports: []int{9103}, Data: []string{"/tmp/survive-data"}, Listen: []string{"127.0.0.1:9104"}, ListenFromPort: true,
		ReloadTimeout: 6 * time.Second, ConfigFile: filepath.Join(dir, "ecosystem.config.js"), EnvName: "production",
		PM2:        map[string]any{"name": "every", "log_max_size": "2M"},
		LogMaxSize: 2 << 20, LogRetain: &retain, LogCompress: &compress, LogRotateInterval: "0 0 * * *",
	}
}

// How each option survives a daemon's death or replacement, beyond being in
// the process's record (which TestRestoreKeepsEveryOption checks for all):
// "record" means the option is read from the app's options whenever it is
// used, so the record is all it needs; a script name means the option also
// acts through something the daemon sets up at run time, and that script
// proves it still acts after a SIGKILL and a tend update.
var survival = map[string]string{
	"Name": "record", "Namespace": "record", "Script": "record", "ScriptPath": "record", "Args": "record",
	"Interpreter": "record", "InterpreterArgs": "record", "Cwd": "record", "ExecMode": "record",
	"Env": "record", "EnvFile": "record", "InstanceVar": "record", "IncrementVar": "record",
	"Autorestart": "record", "MaxRestarts": "record", "MinUptime": "record", "RestartDelay": "record",
	"ExpBackoffRestartDelay": "record", "KillTimeout": "record", "KillSignal": "record", "StopExitCodes": "record",
	"Treekill": "record", "UID": "record", "GID": "record", "OutFile": "record", "ErrorFile": "record",
	"LogFile": "record", "PidFile": "record", "MergeLogs": "record", "LogDateFormat": "record",
	"ListenTimeout": "record", "WaitReady": "record", "DependsOn": "record", "Readiness": "record",
	"Liveness": "record", "RequiredEnv": "record", "Ports": "record", "Data": "record", "ReloadTimeout": "record",
	"ConfigFile": "record", "EnvName": "record", "PM2": "record",
	// the number of records of the app, and whether they run (the tend save
	// that survive_options.txtar compares holds both)
	"Instances": "record", "Autostart": "record",
	// the listening sockets are not carried over: a reload of a re-attached
	// process falls back to a restart, which opens them again (docs/architecture.md)
	"Listen": "record", "ListenFromPort": "record",
	// set up at run time: a watcher, a cron timer, the memory sampler, the log rotation
	"Watch": "survive_options.txtar", "WatchEnabled": "survive_options.txtar:watch", "IgnoreWatch": "record", "WatchDelay": "survive_options.txtar",
	"CronRestart": "survive_options.txtar", "MaxMemoryRestart": "survive_options.txtar",
	"LogMaxSize": "survive_options.txtar", "LogRetain": "survive_options.txtar", "LogCompress": "survive_options.txtar",
	"LogRotateInterval": "survive_options.txtar",
}

// A new field of spec.App must be added to everyOption and survival:
// this test fails until it is, and then fails if the field is lost across
// a daemon's SIGKILL or its replacement (tend update).
func TestRestoreKeepsEveryOption(t *testing.T) {
	dir := t.TempDir()
	app := everyOption(dir)
	for _, f := range nonZeroFields(reflect.ValueOf(app), "") {
		t.Errorf("everyOption leaves %s at its zero value: give it a value", f)
	}
	typ := reflect.TypeOf(app)
	for i := 0; i < typ.NumField(); i++ {
		name := typ.Field(i).Name
		proof, ok := survival[name]
		switch {
		case !ok:
			t.Errorf("spec.App.%s: say in survival how it survives a daemon restart, and prove it", name)
		case proof != "record":
			// "script[:option]": the option defaults to the field's JSON name
			script, key, _ := strings.Cut(proof, ":")
			if key == "" {
				key, _, _ = strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			}
			b, err := os.ReadFile(filepath.Join("..", "..", "cmd", "tend", "testdata", "script", script))
			if err != nil || !strings.Contains(string(b), key+":") {
				t.Errorf("spec.App.%s (%s): %s should prove it survives a daemon restart (%v)", name, key, proof, err)
			}
		}
	}
	for name := range survival {
		if _, ok := typ.FieldByName(name); !ok {
			t.Errorf("survival names %s, which spec.App no longer has", name)
		}
	}
	if t.Failed() {
		return
	}

	home := t.TempDir()
	a := New(Options{Home: home})
	start := app
	start.Autostart = false // listed, not run: its dependency, ports and user are made up
	if _, err := a.Start(t.Context(), []spec.App{start}); err != nil {
		t.Fatal(err)
	}
	before := a.Apps()
	if len(before) != 1 {
		t.Fatalf("apps %+v", before)
	}
	// What a SIGKILL leaves: the records as they are now.
	killed := t.TempDir()
	copyDir(t, filepath.Join(home, StateDir), filepath.Join(killed, StateDir))

	a.Detach() // tend update
	for _, c := range []struct{ how, home string }{{"tend update", home}, {"SIGKILL", killed}} {
		s := New(Options{Home: c.home})
		if _, err := s.Restore(); err != nil {
			t.Fatalf("%s: %v", c.how, err)
		}
		after := s.Apps()
		if !reflect.DeepEqual(after, before) {
			t.Errorf("after %s, the app's options differ:\n%s", c.how, diffFields(before[0], after[0]))
		}
		s.Detach()
	}
}

// nonZeroFields lists the fields of v (a struct), and of the structs it
// holds, that are zero.
func nonZeroFields(v reflect.Value, prefix string) []string {
	var zero []string
	for i := 0; i < v.NumField(); i++ {
		f, name := v.Field(i), prefix+v.Type().Field(i).Name
		if f.IsZero() {
			zero = append(zero, name)
			continue
		}
		switch {
		case f.Kind() == reflect.Struct && f.Type() != reflect.TypeOf(time.Time{}):
			zero = append(zero, nonZeroFields(f, name+".")...)
		case f.Kind() == reflect.Pointer && f.Elem().Kind() == reflect.Struct:
			zero = append(zero, nonZeroFields(f.Elem(), name+".")...)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
			zero = append(zero, nonZeroFields(f.Index(0), name+"[0].")...)
		}
	}
	return zero
}

func diffFields(a, b spec.App) string {
	var out []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := 0; i < va.NumField(); i++ {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, va.Type().Field(i).Name)
		}
	}
	return strings.Join(out, ", ")
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
