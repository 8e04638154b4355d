package pm2wire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/spec"
)

// fakeBackend records calls and hands out one event channel per subscriber.
type fakeBackend struct {
	mu     sync.Mutex
	subs   []chan api.Event
	procs  []api.Process
	acts   []api.ActionRequest
	sent   []api.SendRequest
	killed chan struct{}
	block  chan struct{} // Act waits on it when set
	gone   chan error    // Act sends why it stopped waiting
}

func (f *fakeBackend) List() []api.Process {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Process(nil), f.procs...)
}
func (f *fakeBackend) Start(ctx context.Context, apps []spec.App) ([]api.Process, error) {
	return nil, nil
}
func (f *fakeBackend) Act(ctx context.Context, req api.ActionRequest) ([]api.Process, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			f.gone <- ctx.Err()
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	f.acts = append(f.acts, req)
	f.mu.Unlock()
	return f.List(), nil
}
func (f *fakeBackend) Scale(ctx context.Context, name, count string) ([]api.Process, error) {
	return nil, nil
}
func (f *fakeBackend) Send(ctx context.Context, req api.SendRequest) error {
	f.mu.Lock()
	f.sent = append(f.sent, req)
	f.mu.Unlock()
	return nil
}
func (f *fakeBackend) ReloadLogs() error { return nil }
func (f *fakeBackend) Subscribe(logs bool) (<-chan api.Event, func()) {
	c := make(chan api.Event, 16)
	f.mu.Lock()
	f.subs = append(f.subs, c)
	f.mu.Unlock()
	return c, func() {}
}
func (f *fakeBackend) publish(ev api.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.subs {
		c <- ev
	}
}
func (f *fakeBackend) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}
func (f *fakeBackend) Kill() { close(f.killed) }

func startServer(t *testing.T) (*Server, *fakeBackend, string) {
	t.Helper()
	home, err := os.MkdirTemp("", "pm2wire-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	b := &fakeBackend{killed: make(chan struct{}), procs: []api.Process{{Name: "web", PMID: 0, PID: 42, PM2Env: api.Env{Name: "web", Status: api.StatusOnline, Namespace: "default"}}}}
	s, err := Listen(b, Options{Home: home, Version: "test", AllowUID: os.Getuid(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, b, home
}

func dial(t *testing.T, home, name string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", filepath.Join(home, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rpc sends one pm2-axon-rpc call and returns the reply's decoded message.
func rpc(t *testing.T, c net.Conn, br *bufio.Reader, id string, msg any) map[string]any {
	t.Helper()
	frame, err := Encode(msg, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	args, err := ReadFrame(br, MaxFrame)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	if len(args) != 2 || string(args[1]) != "s:"+id {
		t.Fatalf("reply frame %q, want [reply, s:%s]", args, id)
	}
	kind, payload := Unpack(args[0])
	if kind != KindJSON {
		t.Fatalf("reply %q is not JSON", args[0])
	}
	var out map[string]any
	if err := json.Unmarshal(payload, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPubDeliversEvents(t *testing.T) {
	_, b, home := startServer(t)
	c := dial(t, home, PubSocket)
	deadline := time.Now().Add(5 * time.Second)
	for b.subscribers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the bus connection was never subscribed")
		}
		time.Sleep(time.Millisecond)
	}
	b.publish(api.Event{Type: api.EventLog, PMID: 0, Name: "web", Stream: "out", Data: "hello", Time: 7})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	args, err := ReadFrame(bufio.NewReader(c), MaxFrame)
	if err != nil {
		t.Fatal(err)
	}
	if len(args) != 2 || string(args[0]) != "s:log:out" {
		t.Fatalf("frame %q", args)
	}
}

func TestRPCCallsAndErrors(t *testing.T) {
	_, b, home := startServer(t)
	c := dial(t, home, RPCSocket)
	br := bufio.NewReader(c)

	r := rpc(t, c, br, "a:0", map[string]any{"type": "call", "method": "getMonitorData", "args": []any{map[string]any{}}})
	list, _ := r["args"].([]any)
	if len(list) != 1 {
		t.Fatalf("getMonitorData reply %v", r)
	}
	if ps, _ := list[0].([]any); len(ps) != 1 {
		t.Fatalf("getMonitorData: %v", list[0])
	}
	r = rpc(t, c, br, "a:1", map[string]any{"type": "call", "method": "stopProcessId", "args": []any{0}})
	b.mu.Lock()
	acts := b.acts
	b.mu.Unlock()
	if _, ok := r["args"]; !ok || len(acts) != 1 || acts[0].Action != api.ActionStop || acts[0].Target.Names[0] != "0" {
		t.Fatalf("stopProcessId: %v, acts %v", r, acts)
	}
	for _, tc := range []struct {
		msg  any
		want string
	}{
		{map[string]any{"type": "call", "method": "noSuchMethod", "args": []any{}}, `method "noSuchMethod" does not exist`},
		{map[string]any{"type": "call", "method": "getSystemData", "args": []any{}}, "tend does not serve PM2's getSystemData"},
		{map[string]any{"type": "call", "args": []any{}}, ".method required"},
		{map[string]any{"type": "call", "method": "ping"}, ".args required"},
		{map[string]any{"type": "call", "method": "stopProcessId", "args": []any{"web"}}, "a process id is needed"},
		{"not a call", "expects pm2-axon-rpc's JSON call message"},
		{map[string]any{"type": "call", "method": "sendDataToProcessId", "args": []any{map[string]any{"id": 0}}}, "ID, DATA or TOPIC field is missing"},
	} {
		r := rpc(t, c, br, "e", tc.msg)
		if msg, _ := r["error"].(string); !bytes.Contains([]byte(msg), []byte(tc.want)) {
			t.Errorf("%v: reply %v, want an error with %q", tc.msg, r, tc.want)
		}
	}
	r = rpc(t, c, br, "m", map[string]any{"type": "methods"})
	if ms, _ := r["methods"].(map[string]any); ms["getMonitorData"] == nil || ms["prepare"] == nil {
		t.Fatalf("methods: %v", r)
	}
}

// Garbage and huge frames close the connection; the server goes on serving
// other clients.
func TestRPCBadFramesCloseTheConnection(t *testing.T) {
	_, _, home := startServer(t)
	huge := []byte{0x12}
	huge = binary.BigEndian.AppendUint32(huge, MaxFrame+1)
	for name, junk := range map[string][]byte{
		"http":          []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"huge":          huge,
		"no id":         {0x10},
		"wrong version": {0x52, 0, 0, 0, 1, 'x'},
	} {
		c := dial(t, home, RPCSocket)
		c.Write(junk)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 64)); err == nil {
			t.Errorf("%s: the server answered %d bytes instead of closing", name, n)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s: the connection stayed open", name)
		}
	}
	c := dial(t, home, RPCSocket)
	if r := rpc(t, c, bufio.NewReader(c), "ok", map[string]any{"type": "call", "method": "ping", "args": []any{map[string]any{}}}); r["args"] == nil {
		t.Fatalf("ping after bad clients: %v", r)
	}
}

// A client that goes away in the middle of a call cancels it; the server
// stays up.
func TestRPCClientGoneMidCall(t *testing.T) {
	_, b, home := startServer(t)
	b.block = make(chan struct{}) // Act waits until the call's context ends
	b.gone = make(chan error, 1)
	c := dial(t, home, RPCSocket)
	frame, _ := Encode(map[string]any{"type": "call", "method": "restartProcessId", "args": []any{map[string]any{"id": 0}}}, "x:0")
	c.Write(frame)
	c.Close()
	select {
	case err := <-b.gone:
		if err != context.Canceled {
			t.Fatalf("the call ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the call went on after its client left")
	}
	c2 := dial(t, home, RPCSocket)
	if r := rpc(t, c2, bufio.NewReader(c2), "ok", map[string]any{"type": "call", "method": "ping", "args": []any{map[string]any{}}}); r["args"] == nil {
		t.Fatalf("ping: %v", r)
	}
}

// A peer of another uid is refused on both sockets.
func TestOtherUIDIsRefused(t *testing.T) {
	home, _ := os.MkdirTemp("", "pm2wire-")
	defer os.RemoveAll(home)
	s, err := Listen(&fakeBackend{}, Options{Home: home, AllowUID: os.Getuid() + 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, name := range []string{RPCSocket, PubSocket} {
		fi, err := os.Stat(filepath.Join(home, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v, want mode 0600", name, fi.Mode(), err)
		}
		c := dial(t, home, name)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("%s: another uid was served", name)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%s: another uid's connection stayed open", name)
		}
	}
}

// Events of pub.sock in PM2's shapes.
func TestBusTranslation(t *testing.T) {
	s, _, _ := startServer(t)
	topic, data := s.translate(api.Event{Type: api.EventProcess, PMID: 0, Name: "web", Status: api.StatusOnline, Time: 5})
	d, _ := data.(map[string]any)
	if topic != "process:event" || d["event"] != "online" || d["process"].(map[string]any)["name"] != "web" {
		t.Fatalf("process event: %s %v", topic, data)
	}
	if _, hasEnv := d["process"].(map[string]any)["env"]; hasEnv {
		t.Fatalf("process:event carries the env: %v", d)
	}
	topic, data = s.translate(api.Event{Type: api.EventMessage, PMID: 0, Name: "web", Data: `{"type":"process:msg","data":{"a":1}}`})
	if d, _ := data.(map[string]any); topic != "process:msg" || d["data"].(map[string]any)["a"] != float64(1) {
		t.Fatalf("typed message: %s %v", topic, data)
	}
	topic, data = s.translate(api.Event{Type: api.EventMessage, PMID: 0, Name: "web", Data: `"hello"`})
	if d, _ := data.(map[string]any); topic != "process:msg" || d["raw"] != "hello" {
		t.Fatalf("raw message: %s %v", topic, data)
	}
	if topic, _ := s.translate(api.Event{Type: api.EventMessage, Data: `{"type":"axm:monitor","data":{}}`}); topic != "" {
		t.Fatalf("axm:monitor published as %s", topic)
	}
	topic, data = s.translate(api.Event{Type: api.EventLog, PMID: 0, Name: "web", Stream: "err", Data: "boom"})
	if d, _ := data.(map[string]any); topic != "log:err" || d["data"] != "boom\n" {
		t.Fatalf("log: %s %v", topic, data)
	}
}

// getVersion answers the version of the pm2 package the caller runs (found
// from its command line), else tend's.
func TestCallerPM2Version(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "node_modules", "pm2", "bin")
	os.MkdirAll(bin, 0o755)
	os.WriteFile(filepath.Join(dir, "node_modules", "pm2", "package.json"), []byte(`{"name":"pm2","version":"9.8.7"}`), 0o644)
	os.WriteFile(filepath.Join(bin, "pm2"), []byte("#!/bin/sh\nsleep 30\n"), 0o755)
	cmd := exec.Command("/bin/sh", filepath.Join(bin, "pm2"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for callerPM2Version(cmd.Process.Pid) != "9.8.7" {
		if time.Now().After(deadline) {
			t.Fatalf("version of a pm2 caller: %q", callerPM2Version(cmd.Process.Pid))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v := callerPM2Version(os.Getpid()); v != "" {
		t.Fatalf("a caller that is not pm2: %q", v)
	}
}
