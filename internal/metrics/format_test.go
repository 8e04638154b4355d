package metrics

import (
	"io"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tend-dev/tend/internal/api"
)

// The exposition is the text format: each family's HELP and TYPE once,
// before its samples; label values escaped; the daemon's own series.
func TestTextFormat(t *testing.T) {
	ps := []api.Process{
		{Name: "a\"b\\c\nd", PMID: 1, PM2Env: api.Env{Status: api.StatusOnline}},
		{Name: "z", PMID: 2, PM2Env: api.Env{Status: api.StatusStopped}},
	}
	h := Handler(Options{List: func() []api.Process { return ps }, Started: time.Now(), Version: "1"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	b, _ := io.ReadAll(rec.Body)
	out := string(b)
	if !strings.Contains(out, `tend_process_pid{name="a\"b\\c\nd",namespace="",pm_id="1"} 0`+"\n") {
		t.Errorf("label value not escaped:\n%s", out)
	}
	seen := map[string]bool{}
	current := ""
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if name, ok := strings.CutPrefix(l, "# HELP "); ok {
			name, _, _ = strings.Cut(name, " ")
			if seen[name] {
				t.Errorf("family %s written twice", name)
			}
			seen[name], current = true, name
			continue
		}
		if strings.HasPrefix(l, "# TYPE ") {
			continue
		}
		name, _, _ := strings.Cut(l, "{")
		name, _, _ = strings.Cut(name, " ")
		if name != current {
			t.Errorf("sample %q outside its family (%s)", l, current)
		}
	}
	for _, want := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "tend_process_status"} {
		if !seen[want] {
			t.Errorf("no %s", want)
		}
	}
}

// tend's binary links no Prometheus client nor protobuf: their package init
// (protobuf reads the binary to hash it) ran in every CLI command.
func TestBinaryLinksNoPrometheusClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/tend-dev/tend/cmd/tend").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/prometheus/") || strings.HasPrefix(pkg, "google.golang.org/protobuf/") {
			t.Errorf("tend links %s", pkg)
		}
	}
}
