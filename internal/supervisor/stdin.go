package supervisor

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/tend-dev/tend/internal/api"
)

// stdinPipe is an app's standard input: a pipe the app holds both ends of,
// so that it never reads an end of file (as under PM2, whose daemon keeps
// the writing end), and that nothing in the daemon has to keep open:
// SendLine writes to it through /proc/<pid>/fd/0, which works the same for
// a process a later daemon took over. Where /proc cannot reopen the pipe,
// the app reads /dev/null.
func stdinPipe() *os.File {
	r, w, err := os.Pipe()
	if err == nil {
		fd, err := syscall.Open("/proc/self/fd/"+strconv.Itoa(int(r.Fd())), syscall.O_RDWR|syscall.O_CLOEXEC, 0)
		r.Close()
		w.Close()
		if err == nil {
			return os.NewFile(uintptr(fd), "stdin")
		}
	}
	f, _ := os.Open(os.DevNull)
	return f
}

// SendLine writes line, as it is, to the standard input of each process
// (PM2's send <pm_id> <line> and sendLineToStdin). A process that is not running, or whose
// standard input is not tend's pipe (one started by a tend before it had
// them), is an error; so is a pipe the app has left full.
func (s *Supervisor) SendLine(procs []*Proc, line string) ([]api.Process, error) {
	for _, p := range procs {
		p.mu.Lock()
		pid, name, status := p.pid, p.app.Name, p.status
		p.mu.Unlock()
		if pid <= 0 || (status != Online && status != Launching) {
			return nil, api.BadInputf("%s (id %d) is %s: there is no process to send a line to (tend start %d)", name, p.id, status, p.id)
		}
		if err := writeStdin(pid, line); err != nil {
			return nil, fmt.Errorf("send a line to %s (id %d, pid %d): %w", name, p.id, pid, err)
		}
	}
	return s.processes(procs), nil
}
