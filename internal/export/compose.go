package export

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tend-dev/tend/internal/config"
)

// A Compose file, only what the export writes (field names are the Compose
// specification's; the tests load the output with compose-go).

type composeFile struct {
	Name     string                     `yaml:"name"`
	Services map[string]*composeService `yaml:"services"`
	Volumes  map[string]struct{}        `yaml:"volumes,omitempty"`
}

type composeService struct {
	Image           string                       `yaml:"image"`
	WorkingDir      string                       `yaml:"working_dir,omitempty"`
	Entrypoint      []string                     `yaml:"entrypoint,omitempty"`
	Command         []string                     `yaml:"command,omitempty"`
	User            string                       `yaml:"user,omitempty"`
	EnvFile         []string                     `yaml:"env_file,omitempty"`
	Environment     map[string]*string           `yaml:"environment,omitempty"`
	Ports           []string                     `yaml:"ports,omitempty"`
	Expose          []string                     `yaml:"expose,omitempty"`
	Volumes         []string                     `yaml:"volumes,omitempty"`
	Healthcheck     *composeHealth               `yaml:"healthcheck,omitempty"`
	DependsOn       map[string]composeDependency `yaml:"depends_on,omitempty"`
	Restart         string                       `yaml:"restart,omitempty"`
	StopSignal      string                       `yaml:"stop_signal,omitempty"`
	StopGracePeriod string                       `yaml:"stop_grace_period,omitempty"`
	Deploy          *composeDeploy               `yaml:"deploy,omitempty"`
}

type composeHealth struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval,omitempty"`
	Timeout     string   `yaml:"timeout,omitempty"`
	Retries     int      `yaml:"retries,omitempty"`
	StartPeriod string   `yaml:"start_period,omitempty"`
}

type composeDependency struct {
	Condition string `yaml:"condition"`
}

type composeDeploy struct {
	Replicas  *int `yaml:"replicas,omitempty"`
	Resources *struct {
		Limits struct {
			Memory string `yaml:"memory"`
		} `yaml:"limits"`
	} `yaml:"resources,omitempty"`
}

// composeCondition maps depends_on conditions to Compose's.
var composeCondition = map[string]string{
	config.CondStarted:   "service_started",
	config.CondHealthy:   "service_healthy",
	config.CondCompleted: "service_completed_successfully",
}

func (x *exporter) compose() error {
	f := composeFile{Name: x.o.Project, Services: map[string]*composeService{}}
	for _, a := range x.apps {
		x.networked(a, func(o *app) string { return o.id })
	}
	for _, a := range x.apps {
		if len(a.Listen) > 0 && !a.ListenFromPort {
			return x.fail(a, "listen", "tend hands the app listening sockets it opened itself (LISTEN_FDS); a container cannot receive them. Let the app bind its port (ports:) instead")
		}
		x.common(a)
		s := &composeService{Image: x.o.Image, WorkingDir: a.cwd, Entrypoint: a.argv, Command: a.args}
		if a.UID != nil {
			s.User = strconv.Itoa(*a.UID) + ":" + strconv.Itoa(*a.GID)
		}
		if a.envFile != "" {
			rel, err := filepath.Rel(x.base, a.EnvFile)
			if err != nil || strings.HasPrefix(rel, "..") {
				rel = a.EnvFile
			}
			s.EnvFile = []string{rel}
			x.note(a.Name, "env_file", fmt.Sprintf("read by Compose from %s, relative to the compose file: keep the file at the project's root", rel))
		}
		if len(a.env)+len(a.secrets) > 0 {
			s.Environment = map[string]*string{}
			for k, v := range a.env {
				s.Environment[k] = &v
			}
			// A variable without a value is taken from the environment of
			// `docker compose up`: a reference, never the secret itself.
			for _, k := range a.secrets {
				s.Environment[k] = nil
			}
		}
		for _, p := range a.ports {
			if a.Instances == 1 {
				s.Ports = append(s.Ports, fmt.Sprintf("%d:%d", p, p))
			} else {
				s.Expose = append(s.Expose, strconv.Itoa(p))
			}
		}
		for _, d := range a.data {
			vol := x.volume(a, d)
			if f.Volumes == nil {
				f.Volumes = map[string]struct{}{}
			}
			f.Volumes[vol] = struct{}{}
			s.Volumes = append(s.Volumes, vol+":"+d)
		}
		// Compose has one healthcheck: it is what service_healthy waits for,
		// so readiness wins; Compose restarts no unhealthy container.
		probe := a.Readiness
		if probe == nil {
			probe = a.Liveness
		}
		if probe != nil {
			s.Healthcheck = &composeHealth{
				Test:     []string{"CMD-SHELL", probeCommand(probe)},
				Interval: composeDuration(probe.Interval), Timeout: composeDuration(probe.Timeout),
				Retries: probe.FailureThreshold,
			}
			if probe.StartPeriod > 0 {
				s.Healthcheck.StartPeriod = composeDuration(probe.StartPeriod)
			}
			if probe.Kind() != "exec" {
				x.note(a.Name, "readiness", "the healthcheck runs "+strings.Fields(probeCommand(probe))[0]+" inside the container: the image needs it")
			}
		}
		if a.Liveness != nil && a.Readiness != nil {
			x.note(a.Name, "liveness", "not carried over: Compose has one healthcheck (readiness) and restarts no unhealthy container")
		}
		for _, d := range a.DependsOn {
			if s.DependsOn == nil {
				s.DependsOn = map[string]composeDependency{}
			}
			dep := x.byName[d.Name]
			cond := composeCondition[d.Condition]
			if d.Condition == config.CondHealthy && dep.Readiness == nil && dep.Liveness == nil {
				cond = "service_started" // healthy means online for an app without probes
			}
			s.DependsOn[dep.id] = composeDependency{Condition: cond}
		}
		switch {
		case a.oneShot:
			s.Restart = "no"
		case len(a.StopExitCodes) == 1 && a.StopExitCodes[0] == 0:
			s.Restart = "on-failure"
		default:
			s.Restart = "always"
			if len(a.StopExitCodes) > 0 {
				x.note(a.Name, "stop_exit_codes", "not carried over: Compose's restart is always or on-failure (non-zero)")
			}
		}
		if !a.oneShot {
			x.note(a.Name, "max_restarts/min_uptime/restart_delay", "not carried over: Docker restarts the container with its own back-off, without a limit")
		}
		s.StopSignal = a.KillSignal
		s.StopGracePeriod = composeDuration(a.KillTimeout)
		if a.Instances > 1 || a.MaxMemoryRestart > 0 {
			s.Deploy = &composeDeploy{}
			if a.Instances > 1 {
				n := a.Instances
				s.Deploy.Replicas = &n
			}
			if a.MaxMemoryRestart > 0 {
				s.Deploy.Resources = &struct {
					Limits struct {
						Memory string `yaml:"memory"`
					} `yaml:"limits"`
				}{}
				s.Deploy.Resources.Limits.Memory = composeBytes(a.MaxMemoryRestart)
			}
		}
		f.Services[a.id] = s
	}
	b, err := kYAML(f)
	if err != nil {
		return err
	}
	x.res.Files = []File{{Name: "compose.yaml", Data: b}}
	x.res.Stream = b
	return nil
}

// composeDuration writes d as Compose reads durations (1m30s, 1.5s).
func composeDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return d.String()
}

func composeBytes(b int64) string {
	switch {
	case b%(1<<30) == 0:
		return strconv.FormatInt(b>>30, 10) + "g"
	case b%(1<<20) == 0:
		return strconv.FormatInt(b>>20, 10) + "m"
	case b%(1<<10) == 0:
		return strconv.FormatInt(b>>10, 10) + "k"
	}
	return strconv.FormatInt(b, 10) + "b"
}
