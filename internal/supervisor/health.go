package supervisor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tend-dev/tend/internal/spec"
)

// Health values shown in list, describe and jlist.
const (
	HealthNone      = ""
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

type probeKind int

const (
	readinessProbe probeKind = iota
	livenessProbe
)

func (k probeKind) String() string {
	if k == livenessProbe {
		return "liveness"
	}
	return "readiness"
}

type probeResult struct {
	r    *run
	kind probeKind
	ok   bool
	msg  string
}

// probeHTTPClient is shared by every HTTP probe; each check sets its own
// timeout through its context.
var probeHTTPClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// startProbes runs the app's probes for one run until ctx ends, sending each
// result to out.
func startProbes(ctx context.Context, r *run, app spec.App, env []string, out chan<- probeResult) {
	for kind, pr := range map[probeKind]*spec.Probe{readinessProbe: app.Readiness, livenessProbe: app.Liveness} {
		if pr == nil {
			continue
		}
		go func() {
			if pr.StartPeriod > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(pr.StartPeriod):
				}
			}
			t := time.NewTicker(pr.Interval)
			defer t.Stop()
			for {
				ok, msg := check(ctx, pr, app.Cwd, env)
				select {
				case out <- probeResult{r: r, kind: kind, ok: ok, msg: msg}:
				case <-ctx.Done():
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
}

// check runs a probe once.
func check(ctx context.Context, pr *spec.Probe, cwd string, env []string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, pr.Timeout)
	defer cancel()
	switch {
	case pr.HTTP != "":
		req, err := http.NewRequestWithContext(ctx, "GET", pr.HTTP, nil)
		if err != nil {
			return false, err.Error()
		}
		resp, err := probeHTTPClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		if !statusIn(resp.StatusCode, pr.Status) {
			return false, fmt.Sprintf("GET %s answered %d, want %s", pr.HTTP, resp.StatusCode, pr.Status)
		}
		return true, ""
	case pr.TCP != "":
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", pr.TCP)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	default:
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", pr.Exec)
		cmd.Dir, cmd.Env = cwd, env
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			if ctx.Err() != nil {
				return false, fmt.Sprintf("%q timed out after %v", pr.Exec, pr.Timeout)
			}
			return false, fmt.Sprintf("%q: %v: %s", pr.Exec, err, strings.TrimSpace(lastLine(string(out))))
		}
		return true, ""
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// statusIn reports whether code is in a range such as "200-399" or a list
// "200,204".
func statusIn(code int, spec string) bool {
	if spec == "" {
		spec = "200-399"
	}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		l, err1 := strconv.Atoi(strings.TrimSpace(lo))
		h := l
		var err2 error
		if isRange {
			h, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 == nil && err2 == nil && code >= l && code <= h {
			return true
		}
	}
	return false
}
