package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/config"
	"github.com/tend-dev/tend/internal/supervisor"
)

// Limits are the daemon's caps on what a client may ask: per app (instances,
// environment), in all (processes), and per request (body size). Each is set
// in tend.json or, winning over it, in the daemon's environment.
type Limits struct {
	App config.Limits
	// MaxProcesses is the most processes (instances of every app) the daemon
	// keeps.
	MaxProcesses int
	// MaxRequestSize is the largest request body the API reads, in bytes.
	MaxRequestSize int64
}

// Defaults of the limits the config package does not define. 4,096
// processes is four times the largest benchmark (1,000 apps, ~160 MiB of
// daemon memory); 32 MiB of request is a start of 1,000 apps with 30 KiB of
// options and environment each.
const (
	DefaultMaxProcesses   = 4096
	DefaultMaxRequestSize = 32 << 20
)

// defaultLimits are the limits without settings.
func defaultLimits() Limits {
	return Limits{App: config.Limits{}.WithDefaults(), MaxProcesses: DefaultMaxProcesses, MaxRequestSize: DefaultMaxRequestSize}
}

// limitSettings are the settings that raise the limits, in tend.json and in
// the environment.
var limitSettings = struct{ processes, request [2]string }{
	processes: [2]string{"max_processes", "TEND_MAX_PROCESSES"},
	request:   [2]string{"max_request_size", "TEND_MAX_REQUEST_SIZE"},
}

// Limits returns the limits the settings and the environment set: a
// variable (TEND_MAX_INSTANCES, TEND_MAX_PROCESSES, TEND_MAX_ENV_SIZE,
// TEND_MAX_REQUEST_SIZE) wins over its key in tend.json.
func (s Settings) Limits() (Limits, error) {
	l := defaultLimits()
	count := func(key, env string, file *int, dst *int) error {
		if v := os.Getenv(env); v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 {
				return fmt.Errorf("%s=%q: must be a whole number, 1 or more", env, v)
			}
			*dst = n
			return nil
		}
		if file != nil {
			if *file < 1 {
				return fmt.Errorf("%s must be 1 or more", key)
			}
			*dst = *file
		}
		return nil
	}
	size := func(key, env string, file any, dst *int64) error {
		if v := os.Getenv(env); v != "" {
			n, err := config.ParseBytes(v)
			if err != nil || n < 1 {
				return fmt.Errorf("%s=%q: must be a size such as 64M", env, v)
			}
			*dst = n
			return nil
		}
		switch v := file.(type) {
		case nil:
		case float64:
			if v < 1 || v > math.MaxInt64/2 || math.IsNaN(v) {
				return fmt.Errorf("%s %v is not a size", key, v)
			}
			*dst = int64(v)
		case string:
			n, err := config.ParseBytes(v)
			if err != nil || n < 1 {
				return fmt.Errorf("%s %q is not a size such as 64M", key, v)
			}
			*dst = n
		default:
			return fmt.Errorf("%s must be a number of bytes or a string such as \"64M\"", key)
		}
		return nil
	}
	inst := config.LimitSetting["instances"]
	env := config.LimitSetting["env"]
	return l, errors.Join(
		count(inst[0], inst[1], s.MaxInstances, &l.App.MaxInstances),
		count(limitSettings.processes[0], limitSettings.processes[1], s.MaxProcesses, &l.MaxProcesses),
		size(env[0], env[1], s.MaxEnvSize, &l.App.MaxEnvSize),
		size(limitSettings.request[0], limitSettings.request[1], s.MaxRequestSize, &l.MaxRequestSize),
	)
}

// LoadLimits returns the limits of the daemon of home as tend.json and the
// environment set them (the CLI checks an ecosystem file against them before
// it sends anything). On an error the defaults come with it.
func LoadLimits(home string) (Limits, error) {
	s, err := LoadSettings(home)
	if err != nil {
		return defaultLimits(), err
	}
	l, err := s.Limits()
	if err != nil {
		return defaultLimits(), err
	}
	return l, nil
}

// loadLimits sets d.limits; a bad setting is logged and the defaults apply.
func (d *Daemon) loadLimits() {
	l, err := LoadLimits(d.opts.Home)
	if err != nil {
		d.log.Printf("limits: %v: the defaults apply", err)
	}
	d.limits = l
}

// limitBody caps the size of every request body.
func (d *Daemon) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, d.limits.MaxRequestSize)
		}
		next.ServeHTTP(w, r)
	})
}

// decode reads the JSON body of a request into v. A body over the limit is
// an api.CodeTooLarge error (HTTP 413) that says how to raise it.
func (d *Daemon) decode(r *http.Request, what string, v any) error {
	err := json.NewDecoder(r.Body).Decode(v)
	if err == nil {
		return nil
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &api.Error{Code: api.CodeTooLarge, Message: fmt.Sprintf(
			"the %s request is larger than the daemon's limit of %s: send fewer apps at once or a smaller environment, or raise %q in %s/%s (or %s in the daemon's environment) and restart the daemon with tend update",
			what, config.FormatBytes(mbe.Limit), limitSettings.request[0], d.opts.Home, SettingsFile, limitSettings.request[1])}
	}
	if errors.Is(err, io.EOF) {
		return api.BadInputf("%s request: the body is empty (a JSON object was expected)", what)
	}
	return api.BadInputf("decode %s request: %v", what, err)
}

// checkApps refuses, before anything starts, apps that break a limit or
// cannot run (bad name, missing cwd, script or interpreter), and a start
// that would take the daemon over its process limit. Every problem is told
// at once. With add, the apps start next to those of the same name.
func (d *Daemon) checkApps(apps []config.App, add bool) error {
	var errs []error
	want := map[string]int{}
	for i := range apps {
		a := &apps[i]
		if err := d.limits.App.Check(a); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := config.CheckRunnable(a); err != nil {
			errs = append(errs, err)
		}
		want[a.Name] = max(a.Instances, 1)
		if add { // next to the instances it has
			want[a.Name] += d.sup.Counts()[a.Name]
			if n := want[a.Name]; n > d.limits.App.MaxInstances {
				errs = append(errs, &config.LimitError{App: a.Name, Option: "instances", Value: int64(n), Limit: int64(d.limits.App.MaxInstances)})
			}
		}
	}
	if len(errs) > 0 {
		return api.BadInputf("%v", errors.Join(errs...))
	}
	return d.checkTotal(want)
}

// checkTotal refuses a change that would take the daemon over its process
// limit; want is the number of instances each named app will have.
func (d *Daemon) checkTotal(want map[string]int) error {
	have := d.sup.Counts()
	total := 0
	for _, n := range have {
		total += n
	}
	for name, n := range want {
		total += n - have[name]
	}
	if total > d.limits.MaxProcesses {
		return api.BadInputf(
			"this would make %d processes, more than the daemon's limit of %d: delete apps you no longer need, lower instances, or raise %q in %s/%s (or %s in the daemon's environment) and restart the daemon with tend update",
			total, d.limits.MaxProcesses, limitSettings.processes[0], d.opts.Home, SettingsFile, limitSettings.processes[1])
	}
	return nil
}

// checkScale refuses a scale over the instance or process limits.
func (d *Daemon) checkScale(req api.ScaleRequest) error {
	have := d.sup.Counts()[req.Name]
	if have == 0 {
		return nil // the supervisor says it is not found
	}
	want, err := supervisor.ScaleTarget(req.Name, have, req.Count)
	if err != nil {
		return err
	}
	if want > d.limits.App.MaxInstances {
		return api.BadInputf("%v", &config.LimitError{App: req.Name, Option: "instances", Value: int64(want), Limit: int64(d.limits.App.MaxInstances)})
	}
	return d.checkTotal(map[string]int{req.Name: want})
}
