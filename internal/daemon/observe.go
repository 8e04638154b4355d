package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/config"
	"github.com/tend-dev/tend/internal/homedir"
	"github.com/tend-dev/tend/internal/logs"
	"github.com/tend-dev/tend/internal/metrics"
	"github.com/tend-dev/tend/internal/version"
)

// SettingsFile is the daemon's settings file in TEND_HOME.
const SettingsFile = "tend.json"

// DefaultLogRetain is how many rotated files are kept when rotation is on
// and no log_retain is set (pm2-logrotate's default).
const DefaultLogRetain = 30

// Settings are the daemon-wide settings of $TEND_HOME/tend.json. Every key
// is optional:
//
//	{
//	  "metrics_addr": "127.0.0.1:9209",
//	  "web_addr": "127.0.0.1:9615", "web_allow_remote": false,
//	  "log_max_size": "10M", "log_retain": 30, "log_compress": true,
//	  "log_rotate_interval": "0 0 * * *",
//	  "max_instances": 256, "max_processes": 4096,
//	  "max_env_size": "1M", "max_request_size": "32M"
//	}
//
// The log_* keys are the defaults of every app (an app's own options win);
// the max_* keys are the daemon's limits (see Limits).
type Settings struct {
	MetricsAddr string `json:"metrics_addr,omitempty"`
	// WebAddr is where the dashboard is served from the daemon's start and
	// where `tend web` serves it by default; WebAllowRemote allows an
	// address that is not loopback.
	WebAddr           string `json:"web_addr,omitempty"`
	WebAllowRemote    bool   `json:"web_allow_remote,omitempty"`
	LogMaxSize        any    `json:"log_max_size,omitempty"` // "10M" or a number of bytes
	LogRetain         *int   `json:"log_retain,omitempty"`
	LogCompress       bool   `json:"log_compress,omitempty"`
	LogRotateInterval string `json:"log_rotate_interval,omitempty"`

	MaxInstances   *int `json:"max_instances,omitempty"`
	MaxProcesses   *int `json:"max_processes,omitempty"`
	MaxEnvSize     any  `json:"max_env_size,omitempty"`     // "1M" or a number of bytes
	MaxRequestSize any  `json:"max_request_size,omitempty"` // "32M" or a number of bytes
}

// LoadSettings reads $home/tend.json; a missing file gives zero Settings.
func LoadSettings(home string) (Settings, error) {
	var s Settings
	path := filepath.Join(home, SettingsFile)
	b, err := readHomeFile(home, SettingsFile)
	if err != nil || b == nil {
		return s, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("%s: %v", path, err)
	}
	if _, err := s.Rotation(); err != nil {
		return Settings{}, fmt.Errorf("%s: %v", path, err)
	}
	return s, nil
}

// readHomeFile reads a settings file of home: only the user's own file, in a
// home only it may write, through no link (package homedir), since it sets
// limits and where logs rotate to. A missing file gives nil and no error
// (reading settings creates no home).
func readHomeFile(home, name string) ([]byte, error) {
	if _, err := os.Lstat(filepath.Join(home, name)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	h, err := homedir.Open(home)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	f, err := h.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Rotation is the global log rotation the settings describe.
func (s Settings) Rotation() (logs.Rotation, error) {
	r := logs.Rotation{Retain: DefaultLogRetain, Compress: s.LogCompress, Interval: strings.TrimSpace(s.LogRotateInterval)}
	switch v := s.LogMaxSize.(type) {
	case nil:
	case float64:
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return r, fmt.Errorf("log_max_size %v is not a size", v)
		}
		r.MaxSize = int64(v)
	case string:
		n, err := config.ParseBytes(v)
		if err != nil {
			return r, fmt.Errorf("log_max_size: %v", err)
		}
		r.MaxSize = n
	default:
		return r, fmt.Errorf("log_max_size must be a number of bytes or a string such as \"10M\"")
	}
	if s.LogRetain != nil {
		if *s.LogRetain < 0 {
			return r, fmt.Errorf("log_retain must be 0 (keep all) or more")
		}
		r.Retain = *s.LogRetain
	}
	if _, err := logs.ParseInterval(r.Interval); err != nil {
		return r, err
	}
	return r, nil
}

// observer holds the daemon's observability pieces: settings, global log
// rotation and the metrics server.
type observer struct {
	settings Settings
	rotation logs.Rotation
	metrics  *http.Server
	addr     string // where metrics are served, once listening
}

// metricsAddr picks the metrics address: the --metrics-addr flag, else
// TEND_METRICS_ADDR, else metrics_addr in tend.json. "" or "off" is off.
func metricsAddr(flag string, s Settings) string {
	addr := flag
	if addr == "" {
		addr = os.Getenv("TEND_METRICS_ADDR")
	}
	if addr == "" {
		addr = s.MetricsAddr
	}
	if addr == "off" {
		return ""
	}
	return addr
}

// checkMetricsFlag refuses, before the daemon starts, a metrics address
// given on the command line or in TEND_METRICS_ADDR that is not loopback:
// whoever asked for it hears of it (one in tend.json is refused in the log).
func checkMetricsFlag(flag string) error {
	addr, from := flag, "--metrics-addr"
	if addr == "" {
		addr, from = os.Getenv("TEND_METRICS_ADDR"), "TEND_METRICS_ADDR"
	}
	if addr == "" || addr == "off" {
		return nil
	}
	if err := checkLoopback(addr); err != nil {
		return fmt.Errorf("%s: %w: metrics are served without authentication; give a loopback address such as 127.0.0.1:9209 (or off), and put a proxy with authentication in front to reach them from elsewhere", from, err)
	}
	return nil
}

// checkLoopback refuses a metrics address that is not on a loopback
// interface: the metrics name every app and are served without
// authentication.
func checkLoopback(addr string) error { return loopbackOnly("metrics address", addr) }

// loopbackOnly refuses an address (what names it) that is not on a
// loopback interface.
func loopbackOnly(what, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: %v", what, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s %q: only a loopback address (127.0.0.1, [::1], localhost) is allowed", what, addr)
	}
	return nil
}

// loadSettings reads tend.json and the global log rotation it sets, before
// the supervisor exists. Problems are logged; they never stop the daemon.
func (d *Daemon) loadSettings() {
	o := &d.obs
	s, err := LoadSettings(d.opts.Home)
	if err != nil {
		d.log.Printf("settings ignored: %v", err)
	}
	o.settings = s
	o.rotation = d.globalRotation(s)
}

// globalRotation is the rotation of every app's logs: tend.json's, or
// pm2-logrotate's settings in module_conf.json once that module is
// installed (tend install pm2-logrotate), as PM2 with the module would.
func (d *Daemon) globalRotation(s Settings) logs.Rotation {
	rot, _ := s.Rotation()
	from := "tend.json"
	conf, err := LoadModuleConf(d.opts.Home)
	if err != nil {
		d.log.Printf("%s ignored: %v", ModuleConfFile, err)
	} else if LogrotateInstalled(conf) {
		r, notes, err := LogrotateRotation(conf, rot)
		for _, n := range notes {
			d.log.Printf("pm2-logrotate: %s", n)
		}
		if err != nil {
			d.log.Printf("pm2-logrotate's settings ignored: %v", err)
		} else {
			rot, from = r, "pm2-logrotate's settings in "+ModuleConfFile
		}
	}
	if rot.Enabled() {
		d.log.Printf("log rotation for every app: %s (%s)", describeRotation(rot), from)
	}
	return rot
}

// reloadSettings applies tend.json's and pm2-logrotate's log rotation again
// to every app (tend set, tend install pm2-logrotate).
func (d *Daemon) reloadSettings(w http.ResponseWriter, r *http.Request) {
	s, err := LoadSettings(d.opts.Home)
	if err != nil {
		writeErr(w, api.BadInputf("%v", err))
		return
	}
	rot := d.globalRotation(s)
	d.sup.SetLogRotation(rot)
	writeJSON(w, map[string]string{"rotation": describeRotation(rot)})
}

// serveMetrics starts the metrics server if one is configured. Problems
// are logged; they never stop the daemon.
func (d *Daemon) serveMetrics() {
	o := &d.obs
	addr := metricsAddr(d.opts.MetricsAddr, o.settings)
	if addr == "" {
		return
	}
	if err := checkLoopback(addr); err != nil {
		d.log.Printf("metrics not served: %v", err)
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		d.log.Printf("metrics not served: %v", err)
		return
	}
	mux := http.NewServeMux()
	h := metrics.Handler(metrics.Options{List: d.sup.List, Started: d.started, Version: version.String()})
	mux.Handle("GET /metrics", h)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "tend daemon metrics: /metrics")
	})
	o.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	o.addr = ln.Addr().String()
	go o.metrics.Serve(ln)
	d.log.Printf("serving Prometheus metrics on http://%s/metrics", o.addr)
}

func (d *Daemon) stopObserving(ctx context.Context) {
	if d.obs.metrics != nil {
		d.obs.metrics.Shutdown(ctx)
	}
	d.stopWeb()
	d.sup.Files().WaitIdle()
}

func describeRotation(r logs.Rotation) string {
	var parts []string
	if r.MaxSize > 0 {
		parts = append(parts, fmt.Sprintf("max size %d bytes", r.MaxSize))
	}
	if r.Interval != "" {
		parts = append(parts, "interval "+r.Interval)
	}
	parts = append(parts, fmt.Sprintf("retain %d", r.Retain))
	if r.Compress {
		parts = append(parts, "gzip")
	}
	return strings.Join(parts, ", ")
}
