package export

import (
	"encoding/json"
	"fmt"

	"github.com/tend-dev/tend/internal/config"
)

// An ECS task definition in the shape `aws ecs register-task-definition
// --cli-input-json` reads (the tests decode it strictly into the AWS SDK's
// RegisterTaskDefinitionInput). One task holds every app as a container: in
// awsvpc mode its containers share one network namespace, as apps on one
// machine do, and container dependsOn carries depends_on's conditions.

type ecsTask struct {
	Family               string         `json:"family"`
	NetworkMode          string         `json:"networkMode"`
	ContainerDefinitions []ecsContainer `json:"containerDefinitions"`
	Volumes              []ecsVolume    `json:"volumes,omitempty"`
}

type ecsContainer struct {
	Name              string          `json:"name"`
	Image             string          `json:"image"`
	Essential         bool            `json:"essential"`
	EntryPoint        []string        `json:"entryPoint,omitempty"`
	Command           []string        `json:"command,omitempty"`
	WorkingDirectory  string          `json:"workingDirectory,omitempty"`
	User              string          `json:"user,omitempty"`
	Environment       []ecsKV         `json:"environment,omitempty"`
	Secrets           []ecsSecret     `json:"secrets,omitempty"`
	PortMappings      []ecsPort       `json:"portMappings,omitempty"`
	Memory            *int64          `json:"memory,omitempty"`
	MemoryReservation *int64          `json:"memoryReservation,omitempty"`
	HealthCheck       *ecsHealth      `json:"healthCheck,omitempty"`
	DependsOn         []ecsDependency `json:"dependsOn,omitempty"`
	StopTimeout       *int            `json:"stopTimeout,omitempty"`
	MountPoints       []ecsMount      `json:"mountPoints,omitempty"`
	RestartPolicy     *ecsRestart     `json:"restartPolicy,omitempty"`
}

type ecsKV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type ecsSecret struct {
	Name      string `json:"name"`
	ValueFrom string `json:"valueFrom"`
}

type ecsPort struct {
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
}

type ecsHealth struct {
	Command     []string `json:"command"`
	Interval    int      `json:"interval"`
	Timeout     int      `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod int      `json:"startPeriod,omitempty"`
}

type ecsDependency struct {
	ContainerName string `json:"containerName"`
	Condition     string `json:"condition"`
}

type ecsMount struct {
	SourceVolume  string `json:"sourceVolume"`
	ContainerPath string `json:"containerPath"`
}

type ecsVolume struct {
	Name string `json:"name"`
}

type ecsRestart struct {
	Enabled              bool  `json:"enabled"`
	IgnoredExitCodes     []int `json:"ignoredExitCodes,omitempty"`
	RestartAttemptPeriod int   `json:"restartAttemptPeriod,omitempty"`
}

var ecsCondition = map[string]string{
	config.CondStarted:   "START",
	config.CondHealthy:   "HEALTHY",
	config.CondCompleted: "SUCCESS",
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

func (x *exporter) ecs() error {
	t := ecsTask{Family: x.o.Project, NetworkMode: "awsvpc"}
	secrets := false
	for _, a := range x.apps {
		if len(a.Listen) > 0 && !a.ListenFromPort {
			return x.fail(a, "listen", "tend hands the app listening sockets it opened itself (LISTEN_FDS); a container cannot receive them. Let the app bind its port (ports:) instead")
		}
		x.common(a)
		if a.Instances > 1 {
			x.note(a.Name, "instances", fmt.Sprintf("a task runs one copy of each container: run %d tasks (the ECS service's desiredCount), or split the app into its own task definition", a.Instances))
		}
		c := ecsContainer{Name: a.id, Image: x.o.Image, Essential: !a.oneShot, EntryPoint: a.argv, Command: a.args, WorkingDirectory: a.cwd}
		if a.UID != nil {
			c.User = fmt.Sprintf("%d:%d", *a.UID, *a.GID)
		}
		for _, k := range sortedKeys(a.env) {
			c.Environment = append(c.Environment, ecsKV{k, a.env[k]})
		}
		for _, s := range a.secrets {
			// An SSM parameter name (same region); the task's execution role reads it.
			c.Secrets = append(c.Secrets, ecsSecret{Name: s, ValueFrom: "/" + x.o.Project + "/" + s})
			secrets = true
		}
		if a.envFile != "" {
			x.note(a.Name, "env_file", "not carried over: ECS reads environment files from S3 (environmentFiles); upload it and add it there")
		}
		for _, p := range a.ports {
			c.PortMappings = append(c.PortMappings, ecsPort{ContainerPort: p, Protocol: "tcp"})
		}
		if a.MaxMemoryRestart > 0 {
			m := memMiB(a.MaxMemoryRestart)
			c.Memory = &m
		} else {
			// The EC2 launch type needs memory or memoryReservation per container.
			m := int64(128)
			c.MemoryReservation = &m
		}
		if p := a.Readiness; p != nil || a.Liveness != nil {
			if p == nil {
				p = a.Liveness
			}
			c.HealthCheck = &ecsHealth{
				Command:  []string{"CMD-SHELL", probeCommand(p)},
				Interval: clamp(seconds(p.Interval, 1), 5, 300), Timeout: clamp(seconds(p.Timeout, 1), 2, 60),
				Retries: clamp(p.FailureThreshold, 1, 10), StartPeriod: clamp(seconds(p.StartPeriod, 0), 0, 300),
			}
			if c.HealthCheck.Interval != seconds(p.Interval, 1) || c.HealthCheck.Timeout != seconds(p.Timeout, 1) {
				x.note(a.Name, "readiness", fmt.Sprintf("interval %ds and timeout %ds: ECS allows 5–300 s and 2–60 s", c.HealthCheck.Interval, c.HealthCheck.Timeout))
			}
			if a.Liveness != nil && a.Readiness != nil {
				x.note(a.Name, "liveness", "not carried over: a container has one healthCheck (readiness); an unhealthy essential container stops the task")
			}
		}
		for _, d := range a.DependsOn {
			dep := x.byName[d.Name]
			cond := ecsCondition[d.Condition]
			if cond == "HEALTHY" && dep.Readiness == nil && dep.Liveness == nil {
				cond = "START"
			}
			c.DependsOn = append(c.DependsOn, ecsDependency{ContainerName: dep.id, Condition: cond})
		}
		stop := seconds(a.KillTimeout, 2)
		if stop > 120 {
			x.note(a.Name, "kill_timeout", "ECS waits at most 120 s")
			stop = 120
		}
		c.StopTimeout = &stop
		if a.KillSignal != "SIGTERM" {
			x.note(a.Name, "kill_signal", fmt.Sprintf("ECS stops a container with the image's STOPSIGNAL (SIGTERM by default), not %s", a.KillSignal))
		}
		if !a.oneShot {
			c.RestartPolicy = &ecsRestart{Enabled: true, IgnoredExitCodes: a.StopExitCodes, RestartAttemptPeriod: clamp(seconds(a.MinUptime, 60), 60, 1800)}
			x.note(a.Name, "max_restarts/restart_delay", "not carried over: the container restarts after each crash once it ran restartAttemptPeriod (min_uptime, at least 60 s); a quicker crash stops the task")
		}
		for _, d := range a.data {
			_, shared := x.volumes[d]
			vol := x.volume(a, d)
			if !shared {
				t.Volumes = append(t.Volumes, ecsVolume{Name: vol})
			}
			c.MountPoints = append(c.MountPoints, ecsMount{SourceVolume: vol, ContainerPath: d})
			x.note(a.Name, "data", "a task-scoped volume: use EFS (efsVolumeConfiguration) to keep "+d+" beyond the task, or a managed service")
		}
		t.ContainerDefinitions = append(t.ContainerDefinitions, c)
	}
	if secrets {
		x.note("", "required_env", fmt.Sprintf("read from SSM parameters /%s/<NAME>: create them and give the task an executionRoleArn that may read them", x.o.Project))
	}
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	x.res.Files = []File{{Name: x.o.Project + ".task-definition.json", Data: b}}
	x.res.Stream = b
	return nil
}
