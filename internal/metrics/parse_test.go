package metrics

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tend-dev/tend/internal/api"
)

// What /metrics writes is read by Prometheus's own text parser (the one a
// Prometheus server and promtool use): every family parses, with the type it
// says, and odd label values and app metrics survive the trip.
func TestPrometheusParsesExposition(t *testing.T) {
	code := 137
	ps := []api.Process{
		{Name: "api", PMID: 0, PID: 4242, PM2Env: api.Env{Status: api.StatusOnline, Namespace: "web", RestartTime: 3,
			PMUptime: time.Now().Add(-time.Minute).UnixMilli(), ExitCode: &code,
			AxmMonitor: map[string]any{"req/s": map[string]any{"value": 12.5, "unit": "req/s"}, "ok": true, "text": "n/a", "queue": "7"}}},
		{Name: "we\"ird\\name\nx", PMID: 1, PM2Env: api.Env{Status: api.StatusErrored}},
		{Name: "idle", PMID: 2, PM2Env: api.Env{Status: api.StatusStopped}},
	}
	ps[0].Monit.CPU, ps[0].Monit.Memory = 1.5, 50<<20
	h := Handler(Options{List: func() []api.Process { return ps }, Started: time.Now().Add(-time.Hour), Version: "v1 \"x\""})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("Prometheus's parser refuses /metrics: %v", err)
	}
	types := map[string]string{
		"tend_process_status": "GAUGE", "tend_process_restarts_total": "COUNTER", "tend_process_app_metric": "GAUGE",
		"tend_process_last_exit_code": "GAUGE", "tend_daemon_info": "GAUGE", "go_goroutines": "GAUGE", "process_cpu_seconds_total": "COUNTER",
	}
	for name, typ := range types {
		f := fams[name]
		if f == nil {
			t.Errorf("no family %s", name)
			continue
		}
		if got := f.GetType().String(); got != typ {
			t.Errorf("%s: type %s, want %s", name, got, typ)
		}
	}
	if n := len(fams["tend_process_status"].GetMetric()); n != 3*len(Statuses) {
		t.Errorf("tend_process_status: %d series, want %d", n, 3*len(Statuses))
	}
	names := map[string]bool{}
	for _, m := range fams["tend_process_status"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "name" {
				names[l.GetValue()] = true
			}
		}
	}
	if !names["we\"ird\\name\nx"] {
		t.Errorf("the odd name did not survive the parser: %v", names)
	}
	metrics := map[string]float64{}
	for _, m := range fams["tend_process_app_metric"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "metric" {
				metrics[l.GetValue()] = m.GetGauge().GetValue()
			}
		}
	}
	if metrics["req/s"] != 12.5 || metrics["ok"] != 1 || metrics["queue"] != 7 {
		t.Errorf("app metrics %v", metrics)
	}
	if _, ok := metrics["text"]; ok {
		t.Errorf("a metric that is not a number was written: %v", metrics)
	}
}
