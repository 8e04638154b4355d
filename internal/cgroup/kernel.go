//go:build linux && !tend_portable

package cgroup

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// openV2 uses the daemon's own v2 group when the memory controller can be
// enabled below it: the namespace's root group, or a group delegated to the
// daemon alone (systemd's Delegate=yes), which the daemon first leaves for
// a leaf of its own since a v2 group with processes cannot give controllers
// to its children.
func openV2(h host, key string) (*Manager, error) {
	fail := func(format string, args ...any) (*Manager, error) {
		return nil, fmt.Errorf("cgroup v2: %w: %s", ErrUnavailable, fmt.Sprintf(format, args...))
	}
	if h.v2Mnt == "" {
		return fail("no cgroup2 file system is mounted")
	}
	self, err := h.dir(h.v2Mnt, h.v2Root, h.v2Own)
	if err != nil {
		return fail("%v", err)
	}
	ctrl, err := os.ReadFile(filepath.Join(self, "cgroup.controllers"))
	if err != nil {
		return fail("%v", err)
	}
	if !hasField(string(ctrl), "memory") {
		return fail("the memory controller is not available in %s (on a hybrid system it is with cgroup v1)", self)
	}
	if err := enableMemory(self); err != nil {
		if !errors.Is(err, unix.EBUSY) {
			return fail("enable memory in %s: %v", self, err)
		}
		// The daemon is in self: move it to a leaf and try again.
		leaf := filepath.Join(self, key+".daemon")
		if err := os.Mkdir(leaf, 0o755); err != nil && !os.IsExist(err) {
			return fail("%v", err)
		}
		if err := writeFile(filepath.Join(leaf, "cgroup.procs"), strconv.Itoa(os.Getpid())); err != nil {
			os.Remove(leaf)
			return fail("move the daemon to %s: %v", leaf, err)
		}
		if err := enableMemory(self); err != nil {
			writeFile(filepath.Join(self, "cgroup.procs"), strconv.Itoa(os.Getpid()))
			os.Remove(leaf)
			return fail("%s holds other processes than the daemon (%v): start the daemon in a group delegated to it alone, e.g. a systemd unit with Delegate=yes", self, err)
		}
	}
	base := filepath.Join(self, key)
	if err := os.Mkdir(base, 0o755); err != nil && !os.IsExist(err) {
		return fail("%v", err)
	}
	if err := enableMemory(base); err != nil {
		return fail("enable memory in %s: %v", base, err)
	}
	m := new(Manager).init(V2, self, base, filepath.Join(h.root, h.v2Mnt))
	if h.root == "/" {
		// clone3 with CLONE_INTO_CGROUP needs Linux 5.7, and a seccomp
		// filter may refuse clone3: try it once rather than fail every start.
		if err := m.probe(); err != nil {
			os.Remove(base)
			return fail("cannot start a process into a cgroup (clone3, Linux 5.7): %v", err)
		}
	}
	return m, nil
}

// probe starts and waits for a trivial process in a group of its own.
func (m *Manager) probe() error {
	prog, err := exec.LookPath("true")
	if err != nil {
		return nil // nothing to try with: the first start will tell
	}
	g, err := m.New("probe")
	if err != nil {
		return err
	}
	defer g.Remove()
	cmd := exec.Command(prog)
	if err := g.Start(cmd); err != nil {
		return err
	}
	return cmd.Wait()
}

func enableMemory(dir string) error {
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control")); err == nil && hasField(string(b), "memory") {
		return nil
	}
	return writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+memory")
}

// openV1 uses the v1 memory hierarchy below the daemon's own memory group.
func openV1(h host, key string) (*Manager, error) {
	fail := func(format string, args ...any) (*Manager, error) {
		return nil, fmt.Errorf("cgroup v1: %w: %s", ErrUnavailable, fmt.Sprintf(format, args...))
	}
	if h.v1Mnt == "" || h.v1Own == "" {
		return fail("no memory controller is mounted")
	}
	self, err := h.dir(h.v1Mnt, h.v1Root, h.v1Own)
	if err != nil {
		return fail("%v", err)
	}
	base := filepath.Join(self, key)
	if err := os.Mkdir(base, 0o755); err != nil && !os.IsExist(err) {
		return fail("%v", err)
	}
	// Each start moves one thread into the app's group and back: check
	// now that it may come back.
	runtime.LockOSThread()
	err = writeFile(filepath.Join(self, "tasks"), strconv.Itoa(unix.Gettid()))
	runtime.UnlockOSThread()
	if err != nil {
		os.Remove(base)
		return fail("%v", err)
	}
	return new(Manager).init(V1, self, base, filepath.Join(h.root, h.v1Mnt)), nil
}

func hasField(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

func writeFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// dance bounds how many threads are inside an app's group at once.
var dance = make(chan struct{}, 2)

// Start starts cmd with its process already in the group, so nothing it
// forks, however early, is outside. An error that wraps ErrUnavailable
// means cmd was not started because the group could not be joined.
func (g *Group) Start(cmd *exec.Cmd) error {
	if g.m.version == V2 {
		// clone3(CLONE_INTO_CGROUP): the child is born in the group.
		fd, err := unix.Open(g.dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("%w: open cgroup: %v", ErrUnavailable, err)
		}
		defer unix.Close(fd)
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
		return cmd.Start()
	}
	// v1 has no such clone flag, but it places threads: the thread that
	// forks moves into the group, the child is born there, and the thread
	// moves back. A thread that cannot move back ends with its goroutine
	// (a locked thread is not reused). The kernel does one move at a time
	// anyway; a few at once keep a thousand simultaneous starts from making
	// the runtime create (and keep) a thousand threads.
	dance <- struct{}{}
	defer func() { <-dance }()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == os.Getpid() {
			// The main thread: v1 charges the daemon's memory to its group.
			runtime.UnlockOSThread()
			done <- fmt.Errorf("%w: join cgroup: on the main thread", ErrUnavailable)
			return
		}
		tid := strconv.Itoa(unix.Gettid())
		if err := writeFile(filepath.Join(g.dir, "tasks"), tid); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("%w: join cgroup: %v", ErrUnavailable, err)
			return
		}
		err := cmd.Start()
		if werr := writeFile(filepath.Join(g.m.self, "tasks"), tid); werr != nil {
			done <- err
			return // still locked: the runtime ends this thread (or, for the main thread, parks it)
		}
		runtime.UnlockOSThread()
		done <- err
	}()
	return <-done
}

// Spare is a group made ready before a start that is expected soon (the
// next start of an app that restarts): on v1 a thread already inside it
// forks the app, so the start does not wait for the kernel. Moving a thread
// into a v1 group waits for an RCU grace period (cgroup_threadgroup_rwsem),
// ~10 ms on an idle machine, which would otherwise sit between a crash and
// the restart. v2 needs no spare: clone3 places the child for free.
type Spare struct {
	g     *Group
	ready chan error // the thread's move into g, once
	req   chan *exec.Cmd
	res   chan error
	quit  chan struct{}
}

// Prepare makes a Spare for a group named as New names one; nil where a
// start has nothing to gain from it (v2, no cgroup) or it failed.
func (m *Manager) Prepare(name string) *Spare {
	if m.Version() != V1 {
		return nil
	}
	g, err := m.New(name)
	if err != nil {
		return nil
	}
	s := &Spare{g: g, ready: make(chan error, 1), req: make(chan *exec.Cmd), res: make(chan error, 1), quit: make(chan struct{})}
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == os.Getpid() { // the main thread: see Group.Start
			runtime.UnlockOSThread()
			s.ready <- errors.New("on the main thread")
			return
		}
		tid := strconv.Itoa(unix.Gettid())
		if err := writeFile(filepath.Join(g.dir, "tasks"), tid); err != nil {
			runtime.UnlockOSThread()
			s.ready <- err
			return
		}
		s.ready <- nil
		select {
		case cmd := <-s.req:
			s.res <- cmd.Start()
		case <-s.quit:
		}
		// Back to the daemon's group, after the start has been answered.
		// A thread that cannot go back stays locked, so the runtime ends it
		// with this goroutine (the main thread cannot end: it could be
		// m0, hence the move).
		if writeFile(filepath.Join(m.self, "tasks"), tid) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return s
}

// Start starts cmd in the spare's group and returns the group. An error
// that wraps ErrUnavailable means the spare could not be made ready and cmd
// was not started: start it some other way. Start or Discard, once.
func (s *Spare) Start(cmd *exec.Cmd) (*Group, error) {
	if err := <-s.ready; err != nil {
		s.g.Remove()
		return nil, fmt.Errorf("%w: join cgroup: %v", ErrUnavailable, err)
	}
	s.req <- cmd
	if err := <-s.res; err != nil {
		s.g.Remove()
		return nil, err
	}
	return s.g, nil
}

// Discard gives the spare up and removes its group.
func (s *Spare) Discard() {
	close(s.quit)
	s.g.Remove()
}

// Kill sends SIGKILL to every process in the group (v2: cgroup.kill, which
// also reaches a process forked meanwhile).
func (g *Group) Kill() {
	if g.m.version == V2 && writeFile(filepath.Join(g.dir, "cgroup.kill"), "1") == nil {
		return
	}
	for _, pid := range g.Pids() {
		unix.Kill(pid, unix.SIGKILL)
	}
}

// Notify calls fn whenever the group's memory use crosses threshold bytes,
// in either direction (v1's cgroup.event_control with an eventfd: no
// polling), until stop is called. Where the kernel has no such threshold
// (v2) it returns errors.ErrUnsupported and the caller samples.
func (g *Group) Notify(threshold int64, fn func()) (stop func(), err error) {
	if g.m.version != V1 {
		return nil, errors.ErrUnsupported
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := os.NewFile(uintptr(efd), "memory-threshold")
	usage, err := os.Open(filepath.Join(g.dir, "memory.usage_in_bytes"))
	if err != nil {
		ev.Close()
		return nil, err
	}
	defer usage.Close() // needed only to register
	if err := writeFile(filepath.Join(g.dir, "cgroup.event_control"), fmt.Sprintf("%d %d %d", efd, usage.Fd(), threshold)); err != nil {
		ev.Close()
		return nil, fmt.Errorf("memory threshold: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var buf [8]byte
		for {
			if _, err := ev.Read(buf[:]); err != nil {
				return
			}
			fn()
		}
	}()
	// Closing the eventfd unregisters the threshold and ends the reader.
	return func() { ev.Close(); <-done }, nil
}
