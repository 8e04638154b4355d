//go:build linux && !tend_portable

package supervisor

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-dev/tend/internal/api"
)

// A run's NOTIFY_SOCKET is an abstract socket: no file (an inode, the
// dearest part of a start on a busy ext4) is made for it. Any user may send
// to an abstract socket, so a datagram from another user is dropped.
func TestNotifySocketAbstractAndOwned(t *testing.T) {
	home := t.TempDir()
	s := New(Options{Home: home})
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	startOnline(t, s, 1, "notify", "exec sleep 9344")
	p := s.sorted()[0]
	p.mu.Lock()
	var addr string
	for _, kv := range p.runEnv {
		if v, ok := strings.CutPrefix(kv, "NOTIFY_SOCKET="); ok {
			addr = v
		}
	}
	p.mu.Unlock()
	if !strings.HasPrefix(addr, "@") {
		t.Fatalf("NOTIFY_SOCKET=%q, want an abstract socket (@…)", addr)
	}
	if ents, _ := os.ReadDir(filepath.Join(home, "run")); len(ents) > 0 {
		t.Errorf("%d files in $TEND_HOME/run for the notify socket", len(ents))
	}
	sub := s.Bus.Subscribe(64, false)
	defer sub.Close()
	if os.Getuid() == 0 {
		// A python3 the other user may run (not one under root's home).
		if py, err := exec.LookPath("/usr/bin/python3"); err == nil {
			cmd := exec.Command(py, "-c", `import socket,sys
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)
s.sendto(b"STATUS=from another user","\0"+sys.argv[1][1:])`, addr)
			cmd.Dir = "/"
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("send as uid 65534: %v: %s", err, out)
			}
		} else {
			t.Log("no /usr/bin/python3: the other user's datagram is not tried")
		}
	}
	c, err := net.Dial("unixgram", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("STATUS=from the daemon's user"))
	c.Close()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			if ev.Type != api.EventMessage {
				continue
			}
			got := ev.Data
			if strings.Contains(got, "another user") {
				t.Fatalf("a datagram from another user was taken: %v", ev.Data)
			}
			if strings.Contains(got, "daemon's user") {
				return
			}
			t.Logf("message %v", ev.Data)
		case <-deadline:
			t.Fatal("the daemon's user's datagram never arrived")
		}
	}
}

// Abstract socket names are shared by the whole network namespace: two
// daemons in it (two tests in one process, two containers of a pod that
// are each PID 1) each get a NOTIFY_SOCKET for their pm_id 0, and a name
// someone bound first cannot be the one a run asks for.
func TestNotifySocketNamesDoNotCollide(t *testing.T) {
	var addrs []string
	for i := range 2 {
		s := New(Options{Home: t.TempDir()})
		t.Cleanup(func() { s.Shutdown(context.Background()) })
		startOnline(t, s, 1, "collide", "exec sleep 934"+strconv.Itoa(8+i))
		p := s.sorted()[0]
		p.mu.Lock()
		for _, kv := range p.runEnv {
			if v, ok := strings.CutPrefix(kv, "NOTIFY_SOCKET="); ok {
				addrs = append(addrs, v)
			}
		}
		p.mu.Unlock()
	}
	if len(addrs) != 2 || addrs[0] == addrs[1] {
		t.Fatalf("NOTIFY_SOCKETs %q: want two different ones", addrs)
	}
}
