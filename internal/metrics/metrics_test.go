package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tend-dev/tend/internal/api"
)

func TestHandler(t *testing.T) {
	code := 137
	ps := []api.Process{
		{PID: 0, Name: "api", PMID: 0, Monit: api.Monit{Memory: 1 << 20, CPUSeconds: 12.5},
			PM2Env: api.Env{Namespace: "web", Status: api.StatusErrored, RestartTime: 3, UnstableRestarts: 2, ExitCode: &code, PMUptime: 1000,
				AxmMonitor: map[string]any{
					"queue size": map[string]any{"value": 42.0},
					"Heap Size":  map[string]any{"value": "9.48", "unit": "MiB"},
					"label":      map[string]any{"value": "not a number"},
				}}},
	}
	h := Handler(Options{List: func() []api.Process { return ps }, Started: time.Now().Add(-time.Minute), Version: "9.9"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	out := string(b)
	for _, want := range []string{
		`tend_process_status{name="api",namespace="web",pm_id="0",status="errored"} 1`,
		`tend_process_status{name="api",namespace="web",pm_id="0",status="online"} 0`,
		`tend_process_restarts_total{name="api",namespace="web",pm_id="0"} 3`,
		`tend_process_unstable_restarts_total{name="api",namespace="web",pm_id="0"} 2`,
		`tend_process_cpu_seconds_total{name="api",namespace="web",pm_id="0"} 12.5`,
		`tend_process_resident_memory_bytes{name="api",namespace="web",pm_id="0"} 1.048576e+06`,
		`tend_process_uptime_seconds{name="api",namespace="web",pm_id="0"} 0`,
		`tend_process_last_exit_code{name="api",namespace="web",pm_id="0"} 137`,
		`tend_process_start_time_seconds{name="api",namespace="web",pm_id="0"} 1`,
		`tend_daemon_info{version="9.9"} 1`,
		`tend_daemon_processes 1`,
		`tend_process_app_metric{metric="queue size",name="api",namespace="web",pm_id="0",unit=""} 42`,
		`tend_process_app_metric{metric="Heap Size",name="api",namespace="web",pm_id="0",unit="MiB"} 9.48`,
		"# TYPE tend_process_cpu_seconds_total counter",
		"# TYPE go_goroutines gauge",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %q", want)
		}
	}
	if strings.Contains(out, `metric="label"`) {
		t.Error("a metric that is not a number was exported")
	}
	if t.Failed() {
		t.Log(out)
	}
}
