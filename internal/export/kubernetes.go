package export

import (
	"bytes"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tend-dev/tend/internal/config"
)

// Kubernetes objects, only the fields the export writes; names are the API's
// (the tests decode the output strictly with k8s.io/api).

type kMeta struct {
	Name   string            `yaml:"name,omitempty"`
	Labels map[string]string `yaml:"labels,omitempty"`
}

type kObject struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   kMeta             `yaml:"metadata"`
	Data       map[string]string `yaml:"data,omitempty"`
	Spec       any               `yaml:"spec,omitempty"`
}

type kSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type kWorkloadSpec struct {
	Replicas             *int           `yaml:"replicas,omitempty"`
	ServiceName          string         `yaml:"serviceName,omitempty"`
	BackoffLimit         *int           `yaml:"backoffLimit,omitempty"`
	Selector             *kSelector     `yaml:"selector,omitempty"`
	Template             kPodTemplate   `yaml:"template"`
	VolumeClaimTemplates []kVolumeClaim `yaml:"volumeClaimTemplates,omitempty"`
}

type kPodTemplate struct {
	Metadata kMeta    `yaml:"metadata"`
	Spec     kPodSpec `yaml:"spec"`
}

type kPodSpec struct {
	RestartPolicy                 string       `yaml:"restartPolicy,omitempty"`
	TerminationGracePeriodSeconds *int         `yaml:"terminationGracePeriodSeconds,omitempty"`
	SecurityContext               *kSecurity   `yaml:"securityContext,omitempty"`
	InitContainers                []kContainer `yaml:"initContainers,omitempty"`
	Containers                    []kContainer `yaml:"containers"`
	Volumes                       []kVolume    `yaml:"volumes,omitempty"`
}

type kSecurity struct {
	RunAsUser  *int `yaml:"runAsUser,omitempty"`
	RunAsGroup *int `yaml:"runAsGroup,omitempty"`
}

type kVolume struct {
	Name                  string            `yaml:"name"`
	PersistentVolumeClaim map[string]string `yaml:"persistentVolumeClaim,omitempty"`
}

type kContainer struct {
	Name           string      `yaml:"name"`
	Image          string      `yaml:"image"`
	Command        []string    `yaml:"command,omitempty"`
	Args           []string    `yaml:"args,omitempty"`
	WorkingDir     string      `yaml:"workingDir,omitempty"`
	Ports          []kPort     `yaml:"ports,omitempty"`
	EnvFrom        []kEnvFrom  `yaml:"envFrom,omitempty"`
	Env            []kEnv      `yaml:"env,omitempty"`
	Resources      *kResources `yaml:"resources,omitempty"`
	VolumeMounts   []kMount    `yaml:"volumeMounts,omitempty"`
	ReadinessProbe *kProbe     `yaml:"readinessProbe,omitempty"`
	LivenessProbe  *kProbe     `yaml:"livenessProbe,omitempty"`
	Lifecycle      *kLifecycle `yaml:"lifecycle,omitempty"`
}

type kPort struct {
	Name          string `yaml:"name,omitempty"`
	ContainerPort int    `yaml:"containerPort"`
}

type kRef struct {
	Name     string `yaml:"name"`
	Optional *bool  `yaml:"optional,omitempty"`
}

type kEnvFrom struct {
	ConfigMapRef *kRef `yaml:"configMapRef,omitempty"`
	SecretRef    *kRef `yaml:"secretRef,omitempty"`
}

type kEnv struct {
	Name      string     `yaml:"name"`
	ValueFrom *kEnvValue `yaml:"valueFrom,omitempty"`
}

type kEnvValue struct {
	SecretKeyRef struct {
		Name string `yaml:"name"`
		Key  string `yaml:"key"`
	} `yaml:"secretKeyRef"`
}

type kResources struct {
	Limits   map[string]string `yaml:"limits,omitempty"`
	Requests map[string]string `yaml:"requests,omitempty"`
}

type kMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
}

type kExec struct {
	Command []string `yaml:"command"`
}

type kHTTPGet struct {
	Path   string `yaml:"path,omitempty"`
	Port   int    `yaml:"port"`
	Host   string `yaml:"host,omitempty"`
	Scheme string `yaml:"scheme,omitempty"`
}

type kTCP struct {
	Port int    `yaml:"port"`
	Host string `yaml:"host,omitempty"`
}

type kProbe struct {
	Exec                *kExec    `yaml:"exec,omitempty"`
	HTTPGet             *kHTTPGet `yaml:"httpGet,omitempty"`
	TCPSocket           *kTCP     `yaml:"tcpSocket,omitempty"`
	InitialDelaySeconds int       `yaml:"initialDelaySeconds,omitempty"`
	PeriodSeconds       int       `yaml:"periodSeconds"`
	TimeoutSeconds      int       `yaml:"timeoutSeconds"`
	FailureThreshold    int       `yaml:"failureThreshold"`
	SuccessThreshold    int       `yaml:"successThreshold"`
}

type kLifecycle struct {
	PreStop struct {
		Exec kExec `yaml:"exec"`
	} `yaml:"preStop"`
}

type kVolumeClaim struct {
	Metadata kMeta `yaml:"metadata"`
	Spec     struct {
		AccessModes []string   `yaml:"accessModes"`
		Resources   kResources `yaml:"resources"`
	} `yaml:"spec"`
}

type kServiceSpec struct {
	ClusterIP string            `yaml:"clusterIP,omitempty"`
	Selector  map[string]string `yaml:"selector"`
	Ports     []kServicePort    `yaml:"ports"`
}

type kServicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort int    `yaml:"targetPort"`
}

// waitImage runs the init containers that wait for a dependency's Service.
const waitImage = "busybox:1.36"

func (x *exporter) labels(a *app) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":    a.id,
		"app.kubernetes.io/part-of": x.o.Project,
		"tend-namespace":            dnsLabel(a.Namespace),
	}
}

func (x *exporter) secretName() string { return x.o.Project + "-secrets" }

func (x *exporter) kubernetes() error {
	var objs []kObject
	secretKeys := map[string]bool{}
	for _, a := range x.apps {
		x.networked(a, func(o *app) string { return o.id })
	}
	for _, a := range x.apps {
		if len(a.Listen) > 0 && !a.ListenFromPort {
			return x.fail(a, "listen", "tend hands the app listening sockets it opened itself (LISTEN_FDS); a pod cannot receive them. Let the app bind its port (ports:) instead")
		}
		x.common(a)
		if a.folded {
			x.note(a.Name, "autorestart", "a one-shot task: runs as an init container of "+names(x.dependents(a)))
		}
		for _, s := range a.secrets {
			secretKeys[s] = true
		}
		if len(a.env) > 0 {
			objs = append(objs, kObject{APIVersion: "v1", Kind: "ConfigMap", Metadata: kMeta{Name: a.id + "-env", Labels: x.labels(a)}, Data: a.env})
		}
		if a.folded {
			continue
		}
		c, err := x.kContainer(a, a.id)
		if err != nil {
			return err
		}
		pod := kPodSpec{Containers: []kContainer{c}}
		grace := seconds(a.KillTimeout, 1)
		pod.TerminationGracePeriodSeconds = &grace
		if a.UID != nil {
			pod.SecurityContext = &kSecurity{RunAsUser: a.UID, RunAsGroup: a.GID}
		}
		for _, d := range a.DependsOn {
			dep := x.byName[d.Name]
			if d.Condition == config.CondCompleted {
				ic, err := x.kContainer(dep, dep.id)
				if err != nil {
					return err
				}
				ic.ReadinessProbe, ic.LivenessProbe, ic.Lifecycle, ic.Ports = nil, nil, nil, nil
				// The step shares the dependent's volumes where it names the same folders.
				ic.VolumeMounts = nil
				for i, p := range a.data {
					if containsStr(dep.data, p) {
						ic.VolumeMounts = append(ic.VolumeMounts, kMount{Name: fmt.Sprintf("data-%d", i), MountPath: p})
					}
				}
				pod.InitContainers = append(pod.InitContainers, ic)
				if !dep.folded {
					x.note(a.Name, "depends_on."+d.Name, "completed: runs "+d.Name+" again as an init container of this pod (it also runs as its own Job)")
				}
				continue
			}
			if len(dep.ports) == 0 {
				x.note(a.Name, "depends_on."+d.Name, d.Name+" listens on no port (ports:), so there is no Service to wait for: the start order is not kept")
				continue
			}
			p := dep.ports[0]
			pod.InitContainers = append(pod.InitContainers, kContainer{
				Name: "wait-" + dep.id, Image: waitImage,
				Command: []string{"sh", "-c", fmt.Sprintf("until nc -z -w 2 %s %d; do echo waiting for %s; sleep 2; done", dep.id, p, dep.id)},
			})
		}
		tmpl := kPodTemplate{Metadata: kMeta{Name: a.id, Labels: x.labels(a)}, Spec: pod}
		tmpl.Metadata.Name = ""
		sel := &kSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": a.id}}
		replicas := a.Instances
		switch {
		case a.oneShot:
			backoff := 0
			tmpl.Spec.RestartPolicy = "Never"
			objs = append(objs, kObject{APIVersion: "batch/v1", Kind: "Job", Metadata: kMeta{Name: a.id, Labels: x.labels(a)},
				Spec: kWorkloadSpec{BackoffLimit: &backoff, Template: tmpl}})
		case len(a.data) > 0:
			spec := kWorkloadSpec{Replicas: &replicas, ServiceName: a.id, Selector: sel, Template: tmpl}
			for i := range a.data {
				var pvc kVolumeClaim
				pvc.Metadata.Name = fmt.Sprintf("data-%d", i)
				pvc.Spec.AccessModes = []string{"ReadWriteOnce"}
				pvc.Spec.Resources.Requests = map[string]string{"storage": "1Gi"}
				spec.VolumeClaimTemplates = append(spec.VolumeClaimTemplates, pvc)
			}
			x.note(a.Name, "data", "a StatefulSet with a 1Gi volume claim per data folder: size it, or point the apps at a managed service instead")
			objs = append(objs, kObject{APIVersion: "apps/v1", Kind: "StatefulSet", Metadata: kMeta{Name: a.id, Labels: x.labels(a)}, Spec: spec})
		default:
			objs = append(objs, kObject{APIVersion: "apps/v1", Kind: "Deployment", Metadata: kMeta{Name: a.id, Labels: x.labels(a)},
				Spec: kWorkloadSpec{Replicas: &replicas, Selector: sel, Template: tmpl}})
		}
		if len(a.ports) > 0 || len(a.data) > 0 {
			svc := kServiceSpec{Selector: map[string]string{"app.kubernetes.io/name": a.id}}
			if len(a.data) > 0 {
				svc.ClusterIP = "None" // the StatefulSet's governing Service
			}
			for _, p := range a.ports {
				svc.Ports = append(svc.Ports, kServicePort{Name: "p" + strconv.Itoa(p), Port: p, TargetPort: p})
			}
			if len(svc.Ports) == 0 {
				svc.Ports = []kServicePort{}
			}
			objs = append(objs, kObject{APIVersion: "v1", Kind: "Service", Metadata: kMeta{Name: a.id, Labels: x.labels(a)}, Spec: svc})
		}
		if a.CronRestart != "" {
			x.note(a.Name, "cron_restart", fmt.Sprintf("not carried over: Kubernetes restarts no pod on a schedule; a CronJob that runs `kubectl rollout restart deployment/%s` on %q does", a.id, a.CronRestart))
		}
		if a.oneShot {
			continue
		}
		if len(a.StopExitCodes) > 0 {
			x.note(a.Name, "stop_exit_codes", "not carried over: a Deployment restarts its pods whatever the exit code")
		}
		x.note(a.Name, "max_restarts/min_uptime/restart_delay", "not carried over: the kubelet restarts a crashed container with its own back-off (10 s doubling to 5 min)")
	}
	if len(secretKeys) > 0 {
		keys := sortedKeys(secretKeys)
		var lit []string
		for _, k := range keys {
			lit = append(lit, "--from-literal="+k+"=...")
		}
		x.note("", "required_env", fmt.Sprintf("referenced from the Secret %s, which is not exported (values stay out of manifests): kubectl create secret generic %s %s", x.secretName(), x.secretName(), strings.Join(lit, " ")))
	}
	var stream bytes.Buffer
	for _, o := range objs {
		b, err := kYAML(o)
		if err != nil {
			return err
		}
		name := strings.ToLower(o.Kind) + "-" + o.Metadata.Name + ".yaml"
		x.res.Files = append(x.res.Files, File{Name: name, Data: b})
		stream.WriteString("---\n")
		stream.Write(b)
	}
	x.res.Stream = stream.Bytes()
	return nil
}

func kYAML(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

func (x *exporter) kContainer(a *app, name string) (kContainer, error) {
	c := kContainer{Name: name, Image: x.o.Image, Command: a.argv, Args: a.args, WorkingDir: a.cwd}
	for _, p := range a.ports {
		c.Ports = append(c.Ports, kPort{Name: "p" + strconv.Itoa(p), ContainerPort: p})
	}
	if len(a.env) > 0 {
		c.EnvFrom = append(c.EnvFrom, kEnvFrom{ConfigMapRef: &kRef{Name: a.id + "-env"}})
	}
	if a.envFile != "" {
		c.EnvFrom = append(c.EnvFrom, kEnvFrom{SecretRef: &kRef{Name: a.id + "-env-file"}})
		x.note(a.Name, "env_file", fmt.Sprintf("read from the Secret %s-env-file (not exported): kubectl create secret generic %s-env-file --from-env-file=%s", a.id, a.id, a.EnvFile))
	}
	for _, s := range a.secrets {
		e := kEnv{Name: s, ValueFrom: &kEnvValue{}}
		e.ValueFrom.SecretKeyRef.Name = x.secretName()
		e.ValueFrom.SecretKeyRef.Key = s
		c.Env = append(c.Env, e)
	}
	if a.MaxMemoryRestart > 0 {
		c.Resources = &kResources{Limits: map[string]string{"memory": quantity(a.MaxMemoryRestart)}}
	}
	for i := range a.data {
		c.VolumeMounts = append(c.VolumeMounts, kMount{Name: fmt.Sprintf("data-%d", i), MountPath: a.data[i]})
	}
	var err error
	if c.ReadinessProbe, err = x.kProbe(a, a.Readiness, "readiness"); err != nil {
		return c, err
	}
	if c.LivenessProbe, err = x.kProbe(a, a.Liveness, "liveness"); err != nil {
		return c, err
	}
	if c.LivenessProbe != nil {
		c.LivenessProbe.SuccessThreshold = 1 // the API's rule for liveness
	}
	if a.KillSignal != "SIGTERM" && a.KillSignal != "15" && !a.oneShot {
		// The kubelet always sends SIGTERM; the hook sends the app's own stop
		// signal first and waits for it to end (within the grace period).
		sig := strings.TrimPrefix(a.KillSignal, "SIG")
		c.Lifecycle = &kLifecycle{}
		c.Lifecycle.PreStop.Exec.Command = []string{"sh", "-c", fmt.Sprintf("kill -%s 1; while kill -0 1 2>/dev/null; do sleep 1; done", sig)}
	}
	return c, nil
}

func (x *exporter) kProbe(a *app, p *config.Probe, key string) (*kProbe, error) {
	if p == nil {
		return nil, nil
	}
	k := &kProbe{
		InitialDelaySeconds: seconds(p.StartPeriod, 0), PeriodSeconds: seconds(p.Interval, 1),
		TimeoutSeconds: seconds(p.Timeout, 1), FailureThreshold: p.FailureThreshold, SuccessThreshold: p.SuccessThreshold,
	}
	if k.SuccessThreshold < 1 {
		k.SuccessThreshold = 1
	}
	switch p.Kind() {
	case "http":
		u, err := url.Parse(p.HTTP)
		if err != nil || u.Port() == "" && u.Scheme == "" {
			return nil, x.fail(a, key+".http", fmt.Sprintf("%q is not a URL with a port", p.HTTP))
		}
		port, _ := strconv.Atoi(u.Port())
		if port == 0 {
			port = 80
			if u.Scheme == "https" {
				port = 443
			}
		}
		path := u.EscapedPath()
		if u.RawQuery != "" {
			path += "?" + u.RawQuery
		}
		if path == "" {
			path = "/"
		}
		k.HTTPGet = &kHTTPGet{Path: path, Port: port}
		if u.Scheme == "https" {
			k.HTTPGet.Scheme = "HTTPS"
		}
		if h := u.Hostname(); !isLoopback(h) {
			k.HTTPGet.Host = h
		}
	case "tcp":
		h, ps := splitHostPort(p.TCP)
		port, _ := strconv.Atoi(ps)
		k.TCPSocket = &kTCP{Port: port}
		if !isLoopback(h) {
			k.TCPSocket.Host = h
		}
	default:
		k.Exec = &kExec{Command: []string{"sh", "-c", p.Exec}}
	}
	return k, nil
}

// isLoopback: a probe of the app itself (the kubelet probes the pod's address).
func isLoopback(h string) bool {
	switch h {
	case "", "localhost", "127.0.0.1", "::1", "0.0.0.0", "::":
		return true
	}
	return false
}

// quantity writes bytes as a Kubernetes quantity.
func quantity(b int64) string {
	switch {
	case b%(1<<30) == 0:
		return strconv.FormatInt(b>>30, 10) + "Gi"
	case b%(1<<20) == 0:
		return strconv.FormatInt(b>>20, 10) + "Mi"
	case b%(1<<10) == 0:
		return strconv.FormatInt(b>>10, 10) + "Ki"
	}
	return strconv.FormatInt(b, 10)
}

func names(apps []*app) string {
	var n []string
	for _, a := range apps {
		n = append(n, a.Name)
	}
	return strings.Join(n, ", ")
}

func containsStr(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}
