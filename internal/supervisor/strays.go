package supervisor

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/procstat"
)

// runMarker is the variable the daemon puts in the environment of every
// process it starts, before it starts it: TEND_RUN=<pm_id>-<random>, one
// value per run. The record of the run keeps it once the run is recorded,
// but the process carries it from its first instruction, and its children
// inherit it: so a daemon killed between a start and its record (a start of
// 200 apps, the new instance of a reload) leaves no process that the next
// daemon cannot find. /proc/<pid>/environ shows the environment a process
// was started with, whatever it does to its own afterwards.
const runMarker = "TEND_RUN"

// newMarker is a fresh TEND_RUN value for a run of pm_id id.
func newMarker(id int) string {
	return strconv.Itoa(id) + "-" + strconv.FormatUint(rand.Uint64(), 36)
}

// killStrays kills every process that carries the run marker of a daemon of
// this home and whose run is not in keep (the runs taken over): processes an
// earlier daemon started and never recorded, or was stopping when it died.
// Their apps start again from their records, so a stray would be a second
// copy that nobody manages. It returns what it killed.
func (s *Supervisor) killStrays(keep map[string]bool) []string {
	if !provable {
		return nil
	}
	var killed []string
	named := map[member]bool{} // a stray killed in one pass may still run in the next
	home := []byte("\x00TEND_HOME=" + s.opts.Home + "\x00")
	mark := []byte("\x00" + runMarker + "=")
	self := os.Getpid()
	// Again until none is found: a stray may fork while the first pass runs.
	for pass := 0; pass < 5; pass++ {
		var found []member
		names, _ := readDirNames("/proc")
		for _, name := range names {
			pid, err := strconv.Atoi(name)
			if err != nil || pid == self {
				continue
			}
			b, err := os.ReadFile("/proc/" + name + "/environ")
			if err != nil || !bytes.Contains(b, mark[1:]) {
				continue
			}
			b = append(append([]byte{0}, b...), 0) // every variable between NULs
			if !bytes.Contains(b, mark) || !bytes.Contains(b, home) {
				continue
			}
			i := bytes.Index(b, mark) + len(mark)
			val := string(b[i : i+bytes.IndexByte(b[i:], 0)])
			if keep[val] {
				continue
			}
			if pr, ok := procstat.ReadProc(pid); ok && !pr.Zombie() {
				found = append(found, member{pid, pr.StartTime})
				if pr.PGID == pid {
					found = append(found, member{-pid, pr.StartTime}) // its group too
				}
				if m := (member{pid, pr.StartTime}); !named[m] {
					named[m] = true
					killed = append(killed, fmt.Sprintf("%d (%s=%s)", pid, runMarker, val))
				}
			}
		}
		if len(found) == 0 {
			break
		}
		for _, m := range found {
			if m.pid < 0 {
				if alive(member{-m.pid, m.start}) {
					unix.Kill(m.pid, unix.SIGKILL)
				}
			} else if alive(m) {
				unix.Kill(m.pid, unix.SIGKILL)
			}
		}
	}
	sort.Strings(killed)
	return killed
}

// readDirNames lists a folder without sorting or stat.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// summary shortens a list for a log line.
func summary(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, ", ")
	}
	return strings.Join(list[:n], ", ") + fmt.Sprintf(" and %d more", len(list)-n)
}
