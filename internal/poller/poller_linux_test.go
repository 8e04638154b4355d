//go:build linux

package poller

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func pipe(t *testing.T) (r, w int) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func wait(t *testing.T, c <-chan string) string {
	t.Helper()
	select {
	case s := <-c:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("fn did not run")
		return ""
	}
}

// A watch runs its function once per readiness, only after Arm again, and
// never after Remove.
func TestWatchOneShot(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	r, w := pipe(t)
	got := make(chan string, 10)
	wt, err := p.Add(r, func(*Watch) {
		b := make([]byte, 16)
		n, _ := unix.Read(r, b)
		got <- string(b[:max(n, 0)])
	})
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(w, []byte("a"))
	if s := wait(t, got); s != "a" {
		t.Fatalf("read %q, want a", s)
	}
	unix.Write(w, []byte("b"))
	select {
	case s := <-got:
		t.Fatalf("fn ran again (%q) before Arm", s)
	case <-time.After(100 * time.Millisecond):
	}
	if err := wt.Arm(); err != nil {
		t.Fatal(err)
	}
	if s := wait(t, got); s != "b" {
		t.Fatalf("read %q, want b", s)
	}
	wt.Remove()
	if err := wt.Arm(); err != ErrRemoved {
		t.Fatalf("Arm after Remove: %v, want ErrRemoved", err)
	}
	unix.Write(w, []byte("c"))
	select {
	case s := <-got:
		t.Fatalf("fn ran after Remove (%q)", s)
	case <-time.After(100 * time.Millisecond):
	}
	if p.Len() != 0 {
		t.Fatalf("%d watches left after Remove", p.Len())
	}
}

// The end of a pipe (every writer closed) is reported too.
func TestWatchEnd(t *testing.T) {
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	got := make(chan string, 1)
	wt, err := p.Add(fds[0], func(*Watch) {
		n, err := unix.Read(fds[0], make([]byte, 1))
		if n == 0 && err == nil {
			got <- "eof"
		} else {
			got <- "other"
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer wt.Remove()
	unix.Close(fds[1])
	if s := wait(t, got); s != "eof" {
		t.Fatalf("got %s, want eof", s)
	}
}
