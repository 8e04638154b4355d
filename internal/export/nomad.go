package export

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tend-dev/tend/internal/config"
)

// A Nomad job in the JSON shape of the HTTP API (`nomad job run -json` reads
// it; the tests decode it strictly into github.com/hashicorp/nomad/api.Job):
// a group per app, with count, network ports, services with checks, a
// restart block and a docker task.

type nomadFile struct {
	Job nomadJob `json:"Job"`
}

type nomadJob struct {
	ID          string       `json:"ID"`
	Name        string       `json:"Name"`
	Type        string       `json:"Type"`
	Datacenters []string     `json:"Datacenters"`
	TaskGroups  []nomadGroup `json:"TaskGroups"`
}

type nomadGroup struct {
	Name          string         `json:"Name"`
	Count         int            `json:"Count"`
	Networks      []nomadNetwork `json:"Networks,omitempty"`
	Services      []nomadService `json:"Services,omitempty"`
	RestartPolicy *nomadRestart  `json:"RestartPolicy,omitempty"`
	Tasks         []nomadTask    `json:"Tasks"`
}

type nomadNetwork struct {
	Mode         string      `json:"Mode"`
	DynamicPorts []nomadPort `json:"DynamicPorts,omitempty"`
}

type nomadPort struct {
	Label string `json:"Label"`
	To    int    `json:"To"`
}

type nomadService struct {
	Name      string       `json:"Name"`
	PortLabel string       `json:"PortLabel,omitempty"`
	Provider  string       `json:"Provider"`
	Checks    []nomadCheck `json:"Checks,omitempty"`
}

type nomadCheck struct {
	Name      string        `json:"Name"`
	Type      string        `json:"Type"`
	Path      string        `json:"Path,omitempty"`
	Protocol  string        `json:"Protocol,omitempty"`
	PortLabel string        `json:"PortLabel,omitempty"`
	Interval  time.Duration `json:"Interval"`
	Timeout   time.Duration `json:"Timeout"`
}

type nomadRestart struct {
	Attempts int           `json:"Attempts"`
	Interval time.Duration `json:"Interval"`
	Delay    time.Duration `json:"Delay"`
	Mode     string        `json:"Mode"`
}

type nomadTask struct {
	Name        string            `json:"Name"`
	Driver      string            `json:"Driver"`
	User        string            `json:"User,omitempty"`
	Lifecycle   *nomadLifecycle   `json:"Lifecycle,omitempty"`
	Config      map[string]any    `json:"Config"`
	Env         map[string]string `json:"Env,omitempty"`
	Templates   []nomadTemplate   `json:"Templates,omitempty"`
	Resources   *nomadResources   `json:"Resources,omitempty"`
	KillTimeout *time.Duration    `json:"KillTimeout,omitempty"`
	KillSignal  string            `json:"KillSignal,omitempty"`
}

type nomadLifecycle struct {
	Hook    string `json:"Hook"`
	Sidecar bool   `json:"Sidecar"`
}

type nomadTemplate struct {
	EmbeddedTmpl string `json:"EmbeddedTmpl"`
	DestPath     string `json:"DestPath"`
	Envvars      bool   `json:"Envvars"`
}

type nomadResources struct {
	MemoryMB int64 `json:"MemoryMB"`
}

func (x *exporter) nomad() error {
	job := nomadJob{ID: x.o.Project, Name: x.o.Project, Type: "service", Datacenters: []string{"*"}}
	for _, a := range x.apps {
		if len(a.Listen) > 0 && !a.ListenFromPort {
			return x.fail(a, "listen", "tend hands the app listening sockets it opened itself (LISTEN_FDS); a Nomad task cannot receive them. Let the app bind its port (ports:) instead")
		}
		x.common(a)
		if a.folded {
			x.note(a.Name, "autorestart", "a one-shot task: runs as a prestart task of "+names(x.dependents(a)))
			continue
		}
		g := nomadGroup{Name: a.id, Count: a.Instances}
		if len(a.ports) > 0 {
			n := nomadNetwork{Mode: "bridge"}
			for _, p := range a.ports {
				n.DynamicPorts = append(n.DynamicPorts, nomadPort{Label: "p" + strconv.Itoa(p), To: p})
			}
			g.Networks = []nomadNetwork{n}
			svc := nomadService{Name: a.id, PortLabel: "p" + strconv.Itoa(a.ports[0]), Provider: "nomad"}
			for _, pr := range []struct {
				key string
				p   *config.Probe
			}{{"readiness", a.Readiness}, {"liveness", a.Liveness}} {
				if pr.p == nil {
					continue
				}
				c := nomadCheck{Name: a.id + "-" + pr.key, Interval: max(pr.p.Interval, time.Second), Timeout: max(pr.p.Timeout, time.Second)}
				switch pr.p.Kind() {
				case "http":
					c.Type, c.Path, c.PortLabel = "http", urlPath(pr.p.HTTP), svc.PortLabel
					if strings.HasPrefix(pr.p.HTTP, "https:") {
						c.Protocol = "https"
					}
				case "tcp":
					_, port := splitHostPort(pr.p.TCP)
					c.Type, c.PortLabel = "tcp", "p"+port
				default:
					x.note(a.Name, pr.key, "not carried over: Nomad's own service checks are http and tcp (a script check needs Consul)")
					continue
				}
				svc.Checks = append(svc.Checks, c)
			}
			g.Services = []nomadService{svc}
		} else if a.Readiness != nil || a.Liveness != nil {
			x.note(a.Name, "readiness/liveness", "not carried over: a Nomad service check needs a port (ports:)")
		}
		if a.oneShot {
			g.RestartPolicy = &nomadRestart{Attempts: 0, Interval: 24 * time.Hour, Delay: 15 * time.Second, Mode: "fail"}
			x.note(a.Name, "autorestart", "a one-shot app in a service job: the scheduler places it again when it ends; make it a batch job of its own")
		} else {
			minUp := max(a.MinUptime, time.Second)
			g.RestartPolicy = &nomadRestart{
				Attempts: a.MaxRestarts, Delay: a.RestartDelay, Mode: "fail",
				Interval: time.Duration(max(a.MaxRestarts, 1)) * (minUp + a.RestartDelay),
			}
			g.RestartPolicy.Interval = max(g.RestartPolicy.Interval, 5*time.Second)
			if len(a.StopExitCodes) > 0 {
				x.note(a.Name, "stop_exit_codes", "not carried over: Nomad restarts a service task whatever its exit code")
			}
		}
		for _, d := range a.DependsOn {
			dep := x.byName[d.Name]
			if d.Condition == config.CondCompleted {
				t := x.nomadTask(dep)
				t.Lifecycle = &nomadLifecycle{Hook: "prestart"}
				t.KillTimeout, t.KillSignal = nil, ""
				g.Tasks = append(g.Tasks, t)
				continue
			}
			x.note(a.Name, "depends_on."+d.Name, "not carried over: Nomad orders no start between groups; the app must retry until "+d.Name+" answers")
		}
		g.Tasks = append(g.Tasks, x.nomadTask(a))
		for _, d := range a.data {
			x.note(a.Name, "data", "not carried over: declare a host or CSI volume for "+d+" (the task's disk is lost with the allocation)")
		}
		if a.KillTimeout > 30*time.Second {
			x.note(a.Name, "kill_timeout", "Nomad clients cap it at their max_kill_timeout (30 s by default)")
		}
		job.TaskGroups = append(job.TaskGroups, g)
	}
	b, err := json.MarshalIndent(nomadFile{Job: job}, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	x.res.Files = []File{{Name: x.o.Project + ".nomad.json", Data: b}}
	x.res.Stream = b
	return nil
}

func (x *exporter) nomadTask(a *app) nomadTask {
	t := nomadTask{Name: a.id, Driver: "docker", KillSignal: a.KillSignal}
	cfg := map[string]any{"image": x.o.Image, "entrypoint": a.argv, "work_dir": a.cwd}
	if len(a.args) > 0 {
		cfg["args"] = a.args
	}
	var labels []string
	for _, p := range a.ports {
		labels = append(labels, "p"+strconv.Itoa(p))
	}
	if len(labels) > 0 {
		cfg["ports"] = labels
	}
	t.Config = cfg
	if a.UID != nil {
		t.User = fmt.Sprintf("%d:%d", *a.UID, *a.GID)
	}
	if len(a.env) > 0 {
		t.Env = a.env
	}
	if len(a.secrets) > 0 {
		// Nomad Variables at nomad/jobs/<job>: the template reads them at run
		// time into the task's environment; the job holds no value.
		var b strings.Builder
		fmt.Fprintf(&b, "{{ with nomadVar \"nomad/jobs/%s\" }}", x.o.Project)
		for _, s := range a.secrets {
			fmt.Fprintf(&b, "\n%s={{ .%s }}", s, s)
		}
		b.WriteString("\n{{ end }}\n")
		t.Templates = []nomadTemplate{{EmbeddedTmpl: b.String(), DestPath: "secrets/env", Envvars: true}}
		x.note(a.Name, "required_env", fmt.Sprintf("read from the Nomad Variable nomad/jobs/%s (not exported): nomad var put nomad/jobs/%s %s", x.o.Project, x.o.Project, strings.Join(keysEq(a.secrets), " ")))
	}
	if a.envFile != "" {
		x.note(a.Name, "env_file", "not carried over: put its variables in a Nomad Variable and read them with a template")
	}
	if a.MaxMemoryRestart > 0 {
		t.Resources = &nomadResources{MemoryMB: memMiB(a.MaxMemoryRestart)}
	}
	kt := a.KillTimeout
	t.KillTimeout = &kt
	return t
}

func keysEq(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=..."
	}
	return out
}

// urlPath is the path and query of an http probe's URL.
func urlPath(u string) string {
	rest := u
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if i := strings.Index(rest, "/"); i >= 0 {
		return rest[i:]
	}
	return "/"
}
