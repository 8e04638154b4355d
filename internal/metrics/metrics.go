// Package metrics exposes tend's apps and daemon as Prometheus metrics. It
// reads only the API's process list (api.Process), so it sees what
// `tend jlist` sees.
package metrics

import (
	"bytes"
	"maps"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/procstat"
)

// Statuses exported by tend_process_status, one series each (a state set).
var Statuses = []string{
	api.StatusOnline, api.StatusLaunching, api.StatusStopping, api.StatusStopped,
	api.StatusErrored, api.StatusWaitingRestart,
}

// Options configure a Handler.
type Options struct {
	// List returns every process (the supervisor's List).
	List func() []api.Process
	// Started is when the daemon started.
	Started time.Time
	// Version is tend's version.
	Version string
}

// family is one metric's samples, written together under its HELP and
// TYPE lines (the text format wants them grouped).
type family struct {
	name, help, typ string
	samples         []sample
}

type sample struct {
	labels [][2]string // name, value; sorted by name when written
	value  float64
}

// families collects the families of one scrape by name.
type families map[string]*family

func (fs families) add(name, typ, help string, v float64, labels ...[2]string) {
	f := fs[name]
	if f == nil {
		f = &family{name: name, help: help, typ: typ}
		fs[name] = f
	}
	f.samples = append(f.samples, sample{labels: labels, value: v})
}

// write writes the families in the Prometheus text format (version 0.0.4),
// families by name and samples by their labels, as the official Go client
// orders them.
func (fs families) write(w *bytes.Buffer) {
	for _, n := range slices.Sorted(maps.Keys(fs)) {
		f := fs[n]
		w.WriteString("# HELP " + f.name + " ")
		helpEscaper.WriteString(w, f.help)
		w.WriteString("\n# TYPE " + f.name + " " + f.typ + "\n")
		lines := make([]string, len(f.samples))
		var lb bytes.Buffer
		for i, s := range f.samples {
			lb.Reset()
			lb.WriteString(f.name)
			slices.SortFunc(s.labels, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
			for j, l := range s.labels {
				lb.WriteByte(",{"[btoi(j == 0)])
				lb.WriteString(l[0] + `="`)
				valueEscaper.WriteString(&lb, l[1])
				lb.WriteByte('"')
			}
			if len(s.labels) > 0 {
				lb.WriteByte('}')
			}
			lb.WriteByte(' ')
			lb.WriteString(formatValue(s.value))
			lines[i] = lb.String()
		}
		slices.Sort(lines)
		for _, l := range lines {
			w.WriteString(l + "\n")
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// formatValue writes a sample's value as the text format does.
func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// collect adds the apps' and the daemon's series.
func collect(fs families, opts Options) {
	now := time.Now()
	fs.add("tend_daemon_uptime_seconds", "gauge", "Seconds since the tend daemon started.", now.Sub(opts.Started).Seconds())
	fs.add("tend_daemon_info", "gauge", "tend daemon build information (always 1).", 1, [2]string{"version", opts.Version})
	ps := opts.List()
	fs.add("tend_daemon_processes", "gauge", "Processes the daemon supervises.", float64(len(ps)))
	cpuSeconds := cpuSecondsOf(ps)
	for _, p := range ps {
		e := p.PM2Env
		lv := func(extra ...[2]string) [][2]string {
			return append([][2]string{{"name", p.Name}, {"pm_id", strconv.Itoa(p.PMID)}, {"namespace", e.Namespace}}, extra...)
		}
		for _, s := range Statuses {
			v := 0.0
			if e.Status == s {
				v = 1
			}
			fs.add("tend_process_status", "gauge", "1 for the app's current status, 0 for the others (PM2's statuses).", v, lv([2]string{"status", s})...)
		}
		fs.add("tend_process_restarts_total", "counter", "Restarts of the app since it was started or reset (PM2's restart_time).", float64(e.RestartTime), lv()...)
		fs.add("tend_process_unstable_restarts_total", "counter", "Restarts after a run shorter than min_uptime.", float64(e.UnstableRestarts), lv()...)
		fs.add("tend_process_cpu_seconds_total", "counter", "CPU time (user and system) used by the app's live process tree.", cpuSeconds[p.PMID], lv()...)
		fs.add("tend_process_cpu_percent", "gauge", "CPU use of the app's process tree over the last sample, in percent of one core (as tend ls shows it).", p.Monit.CPU, lv()...)
		fs.add("tend_process_resident_memory_bytes", "gauge", "Resident memory of the app's whole process tree.", float64(p.Monit.Memory), lv()...)
		up := 0.0
		if e.Status == api.StatusOnline && e.PMUptime > 0 {
			up = now.Sub(time.UnixMilli(e.PMUptime)).Seconds()
		}
		fs.add("tend_process_uptime_seconds", "gauge", "Seconds since the app last started; 0 when it is not online.", up, lv()...)
		if e.PMUptime > 0 {
			fs.add("tend_process_start_time_seconds", "gauge", "Unix time of the app's last start.", float64(e.PMUptime)/1000, lv()...)
		}
		if e.ExitCode != nil {
			fs.add("tend_process_last_exit_code", "gauge", "Exit code of the app's last exit (128+n after signal n); absent before the first exit.", float64(*e.ExitCode), lv()...)
		}
		fs.add("tend_process_pid", "gauge", "PID of the app's main process; 0 when it is not running.", float64(p.PID), lv()...)
		fs.add("tend_log_lines_dropped_total", "counter", "Lines of the app's output that its log files could not take (a full disk, a failing write): dropped, so the app is never blocked.", float64(e.LogLinesDropped), lv()...)
		for name, m := range e.AxmMonitor {
			if v, unit, ok := axmValue(m); ok {
				fs.add("tend_process_app_metric", "gauge", "A numeric metric the app reports with @pm2/io (PM2's axm_monitor), by its name; unit as the app gives it.", v, lv([2]string{"metric", name}, [2]string{"unit", unit})...)
			}
		}
	}
}

// collectSelf adds the daemon's own series under the names the official
// client's Go and process collectors use.
func collectSelf(fs families) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fs.add("go_goroutines", "gauge", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()))
	fs.add("go_info", "gauge", "Information about the Go environment.", 1, [2]string{"version", runtime.Version()})
	mem := func(name, typ, help string, v uint64) { fs.add("go_memstats_"+name, typ, help, float64(v)) }
	mem("alloc_bytes", "gauge", "Number of bytes allocated in heap and currently in use.", ms.Alloc)
	mem("alloc_bytes_total", "counter", "Total number of bytes allocated in heap until now, even if released already.", ms.TotalAlloc)
	mem("sys_bytes", "gauge", "Number of bytes obtained from system.", ms.Sys)
	mem("mallocs_total", "counter", "Total number of heap objects allocated.", ms.Mallocs)
	mem("frees_total", "counter", "Total number of heap objects frees.", ms.Frees)
	mem("heap_alloc_bytes", "gauge", "Number of heap bytes allocated and currently in use.", ms.HeapAlloc)
	mem("heap_sys_bytes", "gauge", "Number of heap bytes obtained from system.", ms.HeapSys)
	mem("heap_idle_bytes", "gauge", "Number of heap bytes waiting to be used.", ms.HeapIdle)
	mem("heap_inuse_bytes", "gauge", "Number of heap bytes that are in use.", ms.HeapInuse)
	mem("heap_released_bytes", "gauge", "Number of heap bytes released to OS.", ms.HeapReleased)
	mem("heap_objects", "gauge", "Number of currently allocated objects.", ms.HeapObjects)
	mem("stack_inuse_bytes", "gauge", "Number of bytes obtained from system for stack allocator in non-CGO environments.", ms.StackInuse)
	mem("stack_sys_bytes", "gauge", "Number of bytes obtained from system for stack allocator.", ms.StackSys)
	mem("next_gc_bytes", "gauge", "Number of heap bytes when next garbage collection will take place.", ms.NextGC)
	fs.add("go_memstats_last_gc_time_seconds", "gauge", "Number of seconds since 1970 of last garbage collection.", float64(ms.LastGC)/1e9)
	fs.add("go_gc_cycles_total", "counter", "Garbage collection cycles completed.", float64(ms.NumGC))
	if p, ok := procstat.ReadProc(os.Getpid()); ok {
		fs.add("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", float64(p.CPUTicks)/procstat.ClockTicks)
		fs.add("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", float64(p.RSS))
		if boot := bootTime(); boot > 0 && runtime.GOOS == "linux" { // elsewhere StartTime is not in ticks since boot
			fs.add("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", float64(boot)+float64(p.StartTime)/procstat.ClockTicks)
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		fs.add("process_open_fds", "gauge", "Number of open file descriptors.", float64(len(fds)))
	}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil {
		fs.add("process_max_fds", "gauge", "Maximum number of open file descriptors.", float64(lim.Cur))
	}
	if th, err := os.ReadDir("/proc/self/task"); err == nil {
		fs.add("go_threads", "gauge", "Number of OS threads created.", float64(len(th)))
	}
}

// bootTime is the btime line of /proc/stat: when the machine booted, in
// Unix seconds (0 if unknown).
func bootTime() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// axmValue reads one @pm2/io metric ({value, unit, …}, or a bare value):
// numbers, and the numeric strings @pm2/io sends for its own gauges.
func axmValue(m any) (float64, string, bool) {
	unit := ""
	if o, ok := m.(map[string]any); ok {
		unit, _ = o["unit"].(string)
		m = o["value"]
	}
	switch v := m.(type) {
	case float64:
		return v, unit, true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, unit, err == nil
	case bool:
		if v {
			return 1, unit, true
		}
		return 0, unit, true
	}
	return 0, "", false
}

// cpuSecondsOf returns the CPU seconds of each process by pm_id: from
// Monit.CPUSeconds when the daemon fills it, else from one walk of /proc.
func cpuSecondsOf(ps []api.Process) map[int]float64 {
	out := make(map[int]float64, len(ps))
	missing := false
	for _, p := range ps {
		out[p.PMID] = p.Monit.CPUSeconds
		if p.PID > 0 && p.Monit.CPUSeconds == 0 {
			missing = true
		}
	}
	if !missing {
		return out
	}
	snap := procstat.Take()
	for _, p := range ps {
		if p.PID > 0 && p.Monit.CPUSeconds == 0 {
			if ticks, _, ok := snap.Tree(p.PID); ok {
				out[p.PMID] = float64(ticks) / procstat.ClockTicks
			}
		}
	}
	return out
}

// Handler returns the /metrics handler: the apps, the daemon's uptime, and
// the daemon's own Go runtime (go_goroutines, go_memstats_...) and process
// (process_resident_memory_bytes, process_cpu_seconds_total, ...) series,
// in the Prometheus text format. It is written here rather than with the
// official client: that client, with protobuf and procfs behind it, ran its
// package init (protobuf hashes the whole binary) in every tend command, and
// only a daemon that serves metrics needs any of it.
func Handler(opts Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs := families{}
		collect(fs, opts)
		collectSelf(fs)
		var b bytes.Buffer
		fs.write(&b)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(b.Bytes())
	})
}
