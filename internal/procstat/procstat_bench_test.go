//go:build linux && !tend_portable

package procstat

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// spawnApps starts n real processes shaped like apps: each a shell (the
// "npm start") with a sleep child (the "node"), and returns the shells'
// pids once every child exists.
func spawnApps(b *testing.B, n int) []int {
	b.Helper()
	pids := make([]int, 0, n)
	var cmds []*exec.Cmd
	b.Cleanup(func() {
		for _, c := range cmds {
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL) // the shell and its sleep
			c.Wait()
		}
	})
	for i := 0; i < n; i++ {
		// The trailing "; :" keeps sh from exec'ing sleep: two processes per app.
		c := exec.Command("sh", "-c", "sleep 600; :")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.Start(); err != nil {
			b.Skipf("cannot start %d processes: %v", n, err)
		}
		cmds = append(cmds, c)
		pids = append(pids, c.Process.Pid)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := Take()
		ready := 0
		for _, pid := range pids {
			if len(s.Descendants(pid)) > 0 {
				ready++
			}
		}
		if ready == n {
			return pids
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d apps have their child after 30s", ready, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkSample is one sampling pass as the supervisor does it every
// second: one walk of /proc (Take), then the tree of every app (Tree).
// ns/op is the cost of a pass; ns/app shows whether it stays flat per app.
func BenchmarkSample(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("apps=%d", n), func(b *testing.B) {
			pids := spawnApps(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			walked := 0
			for b.Loop() {
				s := Take()
				walked += len(s.Procs)
				for _, pid := range pids {
					if _, _, ok := s.Tree(pid); !ok {
						b.Fatalf("app %d not found", pid)
					}
				}
			}
			reportPerProc(b, n, walked)
		})
	}
}

// reportPerProc adds ns/app and ns/proc (per process on the machine: the
// walk reads every one, apps or not) and how many processes were walked.
func reportPerProc(b *testing.B, apps, walked int) {
	ns := float64(b.Elapsed().Nanoseconds())
	b.ReportMetric(ns/float64(b.N)/float64(apps), "ns/app")
	if walked > 0 {
		b.ReportMetric(ns/float64(walked), "ns/proc")
		b.ReportMetric(float64(walked)/float64(b.N), "procs")
	}
}

// BenchmarkTake is the walk alone, and BenchmarkTree the per-app part alone.
func BenchmarkTake(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("apps=%d", n), func(b *testing.B) {
			spawnApps(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			walked := 0
			for b.Loop() {
				walked += len(Take().Procs)
			}
			reportPerProc(b, n, walked)
		})
	}
}

func BenchmarkTree(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("apps=%d", n), func(b *testing.B) {
			pids := spawnApps(b, n)
			s := Take()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for _, pid := range pids {
					s.Tree(pid)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/app")
		})
	}
}

// TestTreeCountsChildren: an app's figures include its children.
func TestTreeCountsChildren(t *testing.T) {
	c := exec.Command("sh", "-c", "sleep 600; :")
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { syscall.Kill(-c.Process.Pid, syscall.SIGKILL); c.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := Take()
		if d := s.Descendants(c.Process.Pid); len(d) == 1 {
			_, rss, ok := s.Tree(c.Process.Pid)
			if !ok || rss <= s.Procs[c.Process.Pid].RSS {
				t.Fatalf("tree rss %d, shell alone %d", rss, s.Procs[c.Process.Pid].RSS)
			}
			if s.Procs[os.Getpid()].PID != os.Getpid() {
				t.Fatal("own process missing from the walk")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell's child never appeared")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestParseStat(t *testing.T) {
	line := []byte("4242 (we ird) (name)) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 75 3 4 20 0 1 0 987654 10000000 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n")
	p, ok := parseStat(4242, line)
	if !ok {
		t.Fatal("not parsed")
	}
	want := Proc{PID: 4242, State: 'S', PPID: 17, PGID: 4242, StartTime: 987654, CPUTicks: 325, RSS: 321 * pageSize}
	if p != want {
		t.Fatalf("got %+v, want %+v", p, want)
	}
	if _, ok := parseStat(1, []byte("1 (short) S 0 1")); ok {
		t.Fatal("a truncated line parsed")
	}
	// The fast walk agrees with a plain read of this process.
	self, _ := ReadProc(os.Getpid())
	got := Take().Procs[os.Getpid()]
	if got.PID != self.PID || got.PPID != self.PPID || got.StartTime != self.StartTime || got.PGID != self.PGID {
		t.Fatalf("walk %+v, read %+v", got, self)
	}
}
