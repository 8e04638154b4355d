// Package metrics exposes tend's apps and daemon as Prometheus metrics. It
// reads only the API's process list (api.Process), so it sees what
// `tend jlist` sees.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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

var labels = []string{"name", "pm_id", "namespace"}

func desc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, append(append([]string{}, labels...), extra...), nil)
}

// descs are the metrics' descriptions. They are built by Handler, not at
// package init: every tend command links this package, and only a daemon
// that serves metrics needs them.
type descs struct {
	status, restarts, unstable, cpu, cpuPct, mem, uptime, start, exit, pid, dropped, up, info, apps, axm *prometheus.Desc
}

func newDescs() *descs {
	return &descs{
		status:   desc("tend_process_status", "1 for the app's current status, 0 for the others (PM2's statuses).", "status"),
		restarts: desc("tend_process_restarts_total", "Restarts of the app since it was started or reset (PM2's restart_time)."),
		unstable: desc("tend_process_unstable_restarts_total", "Restarts after a run shorter than min_uptime."),
		cpu:      desc("tend_process_cpu_seconds_total", "CPU time (user and system) used by the app's live process tree."),
		cpuPct:   desc("tend_process_cpu_percent", "CPU use of the app's process tree over the last sample, in percent of one core (as tend ls shows it)."),
		mem:      desc("tend_process_resident_memory_bytes", "Resident memory of the app's whole process tree."),
		uptime:   desc("tend_process_uptime_seconds", "Seconds since the app last started; 0 when it is not online."),
		start:    desc("tend_process_start_time_seconds", "Unix time of the app's last start."),
		exit:     desc("tend_process_last_exit_code", "Exit code of the app's last exit (128+n after signal n); absent before the first exit."),
		pid:      desc("tend_process_pid", "PID of the app's main process; 0 when it is not running."),
		dropped:  desc("tend_log_lines_dropped_total", "Lines of the app's output that its log files could not take (a full disk, a failing write): dropped, so the app is never blocked."),
		up:       prometheus.NewDesc("tend_daemon_uptime_seconds", "Seconds since the tend daemon started.", nil, nil),
		info:     prometheus.NewDesc("tend_daemon_info", "tend daemon build information (always 1).", []string{"version"}, nil),
		apps:     prometheus.NewDesc("tend_daemon_processes", "Processes the daemon supervises.", nil, nil),
		axm:      desc("tend_process_app_metric", "A numeric metric the app reports with @pm2/io (PM2's axm_monitor), by its name; unit as the app gives it.", "metric", "unit"),
	}
}

type collector struct {
	opts Options
	d    *descs
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	d := c.d
	for _, x := range []*prometheus.Desc{d.status, d.restarts, d.unstable, d.cpu, d.cpuPct, d.mem, d.uptime, d.start, d.exit, d.pid, d.dropped, d.up, d.info, d.apps, d.axm} {
		ch <- x
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	d := c.d
	now := time.Now()
	ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, now.Sub(c.opts.Started).Seconds())
	ch <- prometheus.MustNewConstMetric(d.info, prometheus.GaugeValue, 1, c.opts.Version)
	ps := c.opts.List()
	ch <- prometheus.MustNewConstMetric(d.apps, prometheus.GaugeValue, float64(len(ps)))
	cpuSeconds := cpuSecondsOf(ps)
	for _, p := range ps {
		e := p.PM2Env
		lv := []string{p.Name, strconv.Itoa(p.PMID), e.Namespace}
		gauge := func(x *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(x, prometheus.GaugeValue, v, append(lv, extra...)...)
		}
		counter := func(x *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(x, prometheus.CounterValue, v, lv...)
		}
		for _, s := range Statuses {
			v := 0.0
			if e.Status == s {
				v = 1
			}
			gauge(d.status, v, s)
		}
		counter(d.restarts, float64(e.RestartTime))
		counter(d.unstable, float64(e.UnstableRestarts))
		counter(d.cpu, cpuSeconds[p.PMID])
		gauge(d.cpuPct, p.Monit.CPU)
		gauge(d.mem, float64(p.Monit.Memory))
		up := 0.0
		if e.Status == api.StatusOnline && e.PMUptime > 0 {
			up = now.Sub(time.UnixMilli(e.PMUptime)).Seconds()
		}
		gauge(d.uptime, up)
		if e.PMUptime > 0 {
			gauge(d.start, float64(e.PMUptime)/1000)
		}
		if e.ExitCode != nil {
			gauge(d.exit, float64(*e.ExitCode))
		}
		gauge(d.pid, float64(p.PID))
		counter(d.dropped, float64(e.LogLinesDropped))
		for name, m := range e.AxmMonitor {
			if v, unit, ok := axmValue(m); ok {
				gauge(d.axm, v, name, unit)
			}
		}
	}
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
// the client library's Go runtime (go_goroutines, go_memstats_...) and
// process (process_resident_memory_bytes, process_cpu_seconds_total, ...)
// collectors for the daemon itself.
func Handler(opts Options) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		&collector{opts: opts, d: newDescs()},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: nil})
}
