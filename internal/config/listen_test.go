package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestParseListen(t *testing.T) {
	for in, want := range map[any]string{
		8080.0:               ":8080",
		"8080":               ":8080",
		":8080":              ":8080",
		"127.0.0.1:8080":     "127.0.0.1:8080",
		"localhost:8080":     "127.0.0.1:8080",
		"0.0.0.0:80":         "0.0.0.0:80",
		"[::1]:8080":         "[::1]:8080",
		"tcp://10.0.0.1:9":   "10.0.0.1:9",
		"unix:run/app.sock":  "unix:/srv/app/run/app.sock",
		"unix:/tmp/a.sock":   "unix:/tmp/a.sock",
		"*:7000":             ":7000",
		" 127.0.0.1:8080   ": "127.0.0.1:8080",
	} {
		got, err := ParseListen(in, "/srv/app")
		if err != nil || got != want {
			t.Errorf("ParseListen(%v) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []any{0.0, 70000.0, "http", "example.com:80", "unix:", 1.5, true} {
		if got, err := ParseListen(bad, "/"); err == nil {
			t.Errorf("ParseListen(%v) = %q, want an error", bad, got)
		}
	}
}

func TestResolveListen(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "app.js"), []byte("//"), 0o644)
	res := func(m map[string]any) *App {
		t.Helper()
		norm, _, err := Normalize([]map[string]any{m}, "")
		if err != nil {
			t.Fatal(err)
		}
		a, err := Resolve(norm[0], ResolveOptions{BaseDir: dir, Home: dir})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := res(map[string]any{"script": "app.js", "listen": []any{"127.0.0.1:8080", 9090.0}, "reload_timeout": "10s"})
	if !reflect.DeepEqual(a.Listen, []string{"127.0.0.1:8080", ":9090"}) || a.ListenFromPort || a.ReloadTimeout != 10*time.Second {
		t.Fatalf("listen %v from port %v timeout %v", a.Listen, a.ListenFromPort, a.ReloadTimeout)
	}
	// cluster mode, Node: PM2's port becomes a shared socket
	a = res(map[string]any{"script": "app.js", "exec_mode": "cluster", "instances": 2.0, "port": 3000.0})
	if !reflect.DeepEqual(a.Listen, []string{":3000"}) || !a.ListenFromPort {
		t.Fatalf("cluster listen %v %v", a.Listen, a.ListenFromPort)
	}
	a = res(map[string]any{"script": "app.js", "exec_mode": "cluster", "env": map[string]any{"PORT": "4000", "HOST": "localhost"}})
	if !reflect.DeepEqual(a.Listen, []string{"127.0.0.1:4000"}) {
		t.Fatalf("cluster listen with HOST %v", a.Listen)
	}
	// fork mode: port is only an environment variable, as in PM2
	a = res(map[string]any{"script": "app.js", "port": 3000.0})
	if len(a.Listen) != 0 || a.ReloadTimeout != 0 {
		t.Fatalf("fork listen %v timeout %v", a.Listen, a.ReloadTimeout)
	}
	norm, _, _ := Normalize([]map[string]any{{"script": "app.js", "listen": "nope"}}, "")
	if _, err := Resolve(norm[0], ResolveOptions{BaseDir: dir, Home: dir}); err == nil {
		t.Fatal("listen: nope accepted")
	}
}
