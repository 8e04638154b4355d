//go:build linux

package supervisor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// send writes only into the pipe tend gave the app: an app that made a
// named FIFO or a file its fd 0 gets nothing written into it with the
// daemon's rights (a root daemon would otherwise write into files and
// FIFOs of other users that the app can only read).
func TestSendOnlyIntoTendsPipe(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "control.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "readonly.txt")
	if err := os.WriteFile(file, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func(stdin string) int {
		cmd := exec.Command("/bin/sh", "-c", stdin+"; exec sleep 9347")
		cmd.Env = []string{"F=" + fifo, "R=" + file}
		if stdin == "" {
			cmd = exec.Command("sleep", "9347")
			cmd.Stdin = stdinPipe()
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		want := map[string]string{`exec 0<>"$F"`: fifo, `exec 0<"$R"`: file}[stdin]
		waitUntil(t, func() bool {
			l, _ := os.Readlink("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/fd/0")
			return want == "" && strings.HasPrefix(l, "pipe:") || want != "" && l == want
		})
		return cmd.Process.Pid
	}
	if err := writeStdin(start(""), "hello\n"); err != nil {
		t.Fatalf("into tend's pipe: %v", err)
	}
	for _, c := range []struct{ stdin, what string }{{`exec 0<>"$F"`, "a named FIFO"}, {`exec 0<"$R"`, "a file opened to read"}} {
		err := writeStdin(start(c.stdin), "injected\n")
		if err == nil || !strings.Contains(err.Error(), "not a pipe of tend's") {
			t.Errorf("into %s: %v, want a refusal", c.what, err)
		}
	}
	if b, _ := os.ReadFile(file); string(b) != "keep\n" {
		t.Errorf("the file now holds %q", b)
	}
	// What the FIFO holds: a reader of our own, without blocking.
	fd, err := syscall.Open(fifo, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	buf := make([]byte, 64)
	if n, _ := syscall.Read(fd, buf); n > 0 {
		t.Errorf("the FIFO received %q", buf[:n])
	}
}
