package procstat

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestTakeSeesATree runs on either walk (the Linux one, and with
// -tags tend_portable the one macOS and the BSDs use): a child in its own
// process group, and its own child, are in the snapshot with the right
// parent, group and a start time that names them across reads.
func TestTakeSeesATree(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}()
	pid := cmd.Process.Pid
	deadline := time.Now().Add(10 * time.Second)
	var s *Snapshot
	for {
		s = Take()
		if len(s.Descendants(pid)) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shell's child never showed: %v", s.Descendants(pid))
		}
		time.Sleep(10 * time.Millisecond)
	}
	p, ok := s.Procs[pid]
	if !ok {
		t.Fatal("the child is not in the snapshot")
	}
	if p.PPID != os.Getpid() || p.PGID != pid || p.StartTime == 0 || p.Zombie() {
		t.Errorf("child: %+v (want parent %d, group %d)", p, os.Getpid(), pid)
	}
	kid := s.Descendants(pid)[0]
	if kid.PPID != pid || kid.PGID != pid {
		t.Errorf("grandchild: %+v", kid)
	}
	again, ok := ReadProc(pid)
	if !ok || again.StartTime != p.StartTime || again.PPID != p.PPID {
		t.Errorf("read again: %+v, first %+v", again, p)
	}
	if _, rss, ok := s.Tree(pid); !ok || rss <= 0 {
		t.Errorf("tree memory %d %v", rss, ok)
	}
	if _, ok := ReadProc(1 << 30); ok {
		t.Error("a pid that cannot exist was read")
	}
}
