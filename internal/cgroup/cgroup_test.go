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
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary doubles as an app that allocates: TEND_TEST_ALLOC_MB=N.
func TestMain(m *testing.M) {
	runtime.LockOSThread() // as tend's main does: no test runs on the main thread
	if mb, _ := strconv.Atoi(os.Getenv("TEND_TEST_ALLOC_MB")); mb > 0 {
		buf := make([]byte, mb<<20)
		for i := 0; i < len(buf); i += 4096 {
			buf[i] = 1
		}
		fmt.Println("allocated")
		for {
			time.Sleep(time.Hour)
			buf[0]++
		}
	}
	os.Exit(m.Run())
}

// lay writes files under root.
func lay(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, s := range files {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A pure v2 machine where the daemon runs in a group delegated to it: the
// apps' groups go below it, with the memory controller enabled on the way.
func TestOpenV2Delegated(t *testing.T) {
	root := t.TempDir()
	svc := "sys/fs/cgroup/system.slice/tend.service"
	lay(t, root, map[string]string{
		"proc/self/mountinfo": "24 30 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n" +
			"25 30 0:5 / /proc rw - proc proc rw\n",
		"proc/self/cgroup":              "0::/system.slice/tend.service\n",
		svc + "/cgroup.controllers":     "cpuset cpu io memory pids\n",
		svc + "/cgroup.subtree_control": "",
		svc + "/cgroup.procs":           "",
	})
	m := Open(Settings{Home: "/home/u/.tend", Root: root})
	if m.Version() != V2 {
		t.Fatalf("version %v, reason %q", m.Version(), m.Reason())
	}
	if !strings.HasPrefix(m.Base(), filepath.Join(root, svc, "tend-")) {
		t.Fatalf("base %s", m.Base())
	}
	if b, _ := os.ReadFile(filepath.Join(root, svc, "cgroup.subtree_control")); string(b) != "+memory" {
		t.Fatalf("memory not enabled for the daemon's children: %q", b)
	}
	if got := m.Describe(); !strings.HasPrefix(got, "cgroup v2") {
		t.Fatalf("describe %q", got)
	}
	// The same home always gets the same folder; another home another.
	if m2 := Open(Settings{Home: "/home/u/.tend", Root: root}); m2.Base() != m.Base() {
		t.Fatalf("base moved: %s, %s", m.Base(), m2.Base())
	}
	if m3 := Open(Settings{Home: "/tmp/other", Root: root}); m3.Base() == m.Base() {
		t.Fatalf("two homes share %s", m.Base())
	}

	g, err := m.New("api-0")
	if err != nil {
		t.Fatal(err)
	}
	// The working set leaves out the cache the kernel can drop at once.
	lay(t, "/", map[string]string{
		filepath.Join(g.Dir(), "memory.current"): "104857600\n",
		filepath.Join(g.Dir(), "memory.stat"):    "anon 52428800\nfile 52428800\nactive_file 10485760\ninactive_file 41943040\n",
	})
	if got, err := g.Memory(); err != nil || got != 104857600-41943040 {
		t.Fatalf("memory %d, %v", got, err)
	}
	if _, err := g.Notify(1<<20, func() {}); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("v2 notify: %v", err)
	}
}

// On a hybrid machine (this project's CI) v2 has no memory controller: Open
// says so and takes v1; forced to v2 it falls back to /proc with the reason.
func TestOpenHybrid(t *testing.T) {
	root := t.TempDir()
	own := "sys/fs/cgroup/memory/user/1000"
	lay(t, root, map[string]string{
		"proc/self/mountinfo": "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n" +
			"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
		"proc/self/cgroup":                         "4:memory:/user/1000\n0::/\n",
		"sys/fs/cgroup/unified/cgroup.controllers": "\n",
		own + "/tasks":                             "",
	})
	m := Open(Settings{Home: "h", Root: root})
	if m.Version() != V1 || !strings.HasPrefix(m.Base(), filepath.Join(root, own, "tend-")) {
		t.Fatalf("version %v base %s reason %q", m.Version(), m.Base(), m.Reason())
	}
	m = Open(Settings{Home: "h", Mode: "v2", Root: root})
	if m.Version() != None || !strings.Contains(m.Reason(), "memory controller is not available") {
		t.Fatalf("forced v2: version %v reason %q", m.Version(), m.Reason())
	}
	if m.Describe() != "process tree RSS from /proc" {
		t.Fatalf("describe %q", m.Describe())
	}
	m = Open(Settings{Home: "h", Mode: "off", Root: root})
	if m.Version() != None || !strings.Contains(m.Reason(), "turned off") {
		t.Fatalf("off: %v %q", m.Version(), m.Reason())
	}
	m = Open(Settings{Home: "h", Mode: "fast", Root: root})
	if m.Version() != None || !strings.Contains(m.Reason(), "use auto, v2, v1 or off") {
		t.Fatalf("bad mode: %v %q", m.Version(), m.Reason())
	}
}

func TestUnescape(t *testing.T) {
	if got := unescape(`/mnt/with\040space`); got != "/mnt/with space" {
		t.Fatalf("%q", got)
	}
	if got := unescape(`/a\b`); got != `/a\b` {
		t.Fatalf("%q", got)
	}
}

// escapee is a shell line that leaves a sleep running outside its process
// group and reparented away from it (the /proc walk cannot find it), then
// sleeps itself.
const escapee = `setsid sh -c 'sleep 1000 & echo $! > escaped; exit'; exec sleep 1000`

func startEscapee(t *testing.T, g *Group) (*exec.Cmd, int) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", escapee)
	cmd.Dir = dir
	if err := g.Start(cmd); err != nil {
		t.Fatal(err)
	}
	var pid int
	waitFor(t, "the escaped sleep", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "escaped"))
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0 && len(g.Pids()) == 2
	})
	return cmd, pid
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err != nil || strings.Contains(string(b), ") Z ")
}

func checkKill(t *testing.T, g *Group, cmd *exec.Cmd, escaped int) {
	t.Helper()
	if !slicesContain(g.Pids(), cmd.Process.Pid) || !slicesContain(g.Pids(), escaped) {
		t.Fatalf("group has %v, want %d and %d", g.Pids(), cmd.Process.Pid, escaped)
	}
	g.Kill()
	cmd.Wait()
	waitFor(t, "the escaped sleep to die", func() bool { return gone(escaped) })
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.Dir()); !os.IsNotExist(err) {
		t.Fatalf("group still there: %v", err)
	}
}

func fieldsInts(s string) []int {
	var out []int
	for _, f := range strings.Fields(s) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

func slicesContain(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// The v1 memory controller of this machine: placement at fork, the
// escaped grandchild counted and killed, memory read, a threshold crossed
// wakes the caller.
func TestV1Real(t *testing.T) {
	m := Open(Settings{Home: t.TempDir(), Mode: "v1"})
	if m.Version() != V1 {
		t.Skipf("no writable cgroup v1 memory controller here: %s", m.Reason())
	}
	defer m.Close()
	g, err := m.New("escapee")
	if err != nil {
		t.Fatal(err)
	}
	cmd, escaped := startEscapee(t, g)
	// The daemon's thread went back: no thread of the test process is in
	// the group (Pids leaves the daemon out, so read the kernel's list).
	b, err := os.ReadFile(filepath.Join(g.Dir(), "cgroup.procs"))
	if err != nil || slicesContain(fieldsInts(string(b)), os.Getpid()) {
		t.Fatalf("the starting process stayed in the app's group: %q, %v", b, err)
	}
	checkKill(t, g, cmd, escaped)

	g, err = m.New("alloc")
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan struct{}, 1)
	stop, err := g.Notify(32<<20, func() {
		select {
		case events <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	hog := exec.Command(os.Args[0])
	hog.Env = append(os.Environ(), "TEND_TEST_ALLOC_MB=64")
	if err := g.Start(hog); err != nil {
		t.Fatal(err)
	}
	select {
	case <-events:
	case <-time.After(10 * time.Second):
		t.Fatal("no event when the group crossed 32 MiB")
	}
	waitFor(t, "64 MiB in the group", func() bool {
		n, err := g.Memory()
		return err == nil && n >= 64<<20
	})
	g.Kill()
	hog.Wait()
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
}

// The unified hierarchy of this machine has no memory controller, but the
// rest of v2 is real: a child born in its group by clone3, and cgroup.kill.
func TestV2PlacementAndKill(t *testing.T) {
	h, err := readHost("")
	if err != nil || h.v2Mnt == "" {
		t.Skipf("no cgroup2 mount: %v", err)
	}
	self, err := h.dir(h.v2Mnt, h.v2Root, h.v2Own)
	if err != nil {
		t.Skip(err)
	}
	base := filepath.Join(self, "tend-test-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(base, 0o755); err != nil {
		t.Skipf("cannot create a v2 group here: %v", err)
	}
	defer os.Remove(base)
	m := new(Manager).init(V2, self, base, h.v2Mnt)
	g, err := m.New("escapee")
	if err != nil {
		t.Fatal(err)
	}
	cmd, escaped := startEscapee(t, g)
	checkKill(t, g, cmd, escaped)
	if err := unix.Rmdir(base); err != nil {
		t.Fatal(err)
	}
}

// A spare group has a thread inside before the start: the child is born
// there, the thread goes away with its goroutine, and a spare given up
// leaves no group behind.
func TestV1Spare(t *testing.T) {
	m := Open(Settings{Home: t.TempDir(), Mode: "v1"})
	if m.Version() != V1 {
		t.Skipf("no writable cgroup v1 memory controller here: %s", m.Reason())
	}
	defer m.Close()
	s := m.Prepare("crashy-0")
	if s == nil {
		t.Fatal("no spare")
	}
	g, err := s.Start(exec.Command("sleep", "1000"))
	if err != nil {
		t.Fatal(err)
	}
	pids := g.Pids()
	if len(pids) != 1 {
		t.Fatalf("group has %v, want the sleep alone", pids)
	}
	// The spare's thread goes back to the daemon's group: only the sleep
	// stays in "tasks".
	waitFor(t, "the spare thread to leave", func() bool {
		b, _ := os.ReadFile(filepath.Join(g.Dir(), "tasks"))
		return strings.TrimSpace(string(b)) == strconv.Itoa(pids[0])
	})
	g.Kill()
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}

	s = m.Prepare("unused-0")
	dir := s.g.Dir()
	s.Discard()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("discarded spare's group still there: %v", err)
	}
	if m.New("x"); m.Sweep() != 0 {
		t.Fatal("groups left busy")
	}
	if (*Manager)(nil).Prepare("x") != nil || new(Manager).Prepare("x") != nil {
		t.Fatal("a spare without v1")
	}
}
