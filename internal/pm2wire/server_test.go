package pm2wire

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
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
