package export

// Each engine's output is decoded strictly with the engine's own Go types, so
// an unknown or misplaced field fails. These imports are test-only: the tend
// binary does not carry them.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/compose-spec/compose-go/v2/loader"
	composetypes "github.com/compose-spec/compose-go/v2/types"
	nomad "github.com/hashicorp/nomad/api"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func validate(t *testing.T, engine string, r *Result) {
	t.Helper()
	if len(r.Files) == 0 {
		t.Fatalf("%s: no file", engine)
	}
	switch engine {
	case "kubernetes":
		validateKubernetes(t, r)
	case "compose":
		validateCompose(t, r)
	case "ecs":
		validateECS(t, r)
	case "nomad":
		validateNomad(t, r)
	case "systemd":
		validateSystemd(t, r)
	default:
		t.Fatalf("no validator for %s", engine)
	}
}

func validateKubernetes(t *testing.T, r *Result) {
	t.Helper()
	docs := 0
	for _, f := range r.Files {
		var head struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(f.Data, &head); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		var obj any
		switch head.Kind {
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "Service":
			obj = &corev1.Service{}
		case "Deployment":
			obj = &appsv1.Deployment{}
		case "StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "Job":
			obj = &batchv1.Job{}
		default:
			t.Fatalf("%s: unexpected kind %q", f.Name, head.Kind)
		}
		if err := yaml.UnmarshalStrict(f.Data, obj); err != nil {
			t.Fatalf("%s: not a valid %s: %v\n%s", f.Name, head.Kind, err, f.Data)
		}
		checkPods(t, f.Name, obj)
		docs++
	}
	// The stream holds the same documents.
	if n := bytes.Count(r.Stream, []byte("---\n")); n != docs {
		t.Errorf("stream has %d documents, want %d", n, docs)
	}
}

// checkPods checks what strict decoding cannot: every container has a name
// and an image, a liveness probe's successThreshold is 1, selectors match.
func checkPods(t *testing.T, name string, obj any) {
	t.Helper()
	var spec *corev1.PodSpec
	var labels, sel map[string]string
	switch o := obj.(type) {
	case *appsv1.Deployment:
		spec, labels = &o.Spec.Template.Spec, o.Spec.Template.Labels
		sel = o.Spec.Selector.MatchLabels
	case *appsv1.StatefulSet:
		spec, labels = &o.Spec.Template.Spec, o.Spec.Template.Labels
		sel = o.Spec.Selector.MatchLabels
		if o.Spec.ServiceName == "" {
			t.Errorf("%s: a StatefulSet without serviceName", name)
		}
	case *batchv1.Job:
		spec = &o.Spec.Template.Spec
		if spec.RestartPolicy != corev1.RestartPolicyNever && spec.RestartPolicy != corev1.RestartPolicyOnFailure {
			t.Errorf("%s: a Job's pods need restartPolicy Never or OnFailure", name)
		}
	default:
		return
	}
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("%s: selector %s=%s does not match the pod template's labels", name, k, v)
		}
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if c.Name == "" || c.Image == "" {
			t.Errorf("%s: container without name or image: %+v", name, c)
		}
		if c.LivenessProbe != nil && c.LivenessProbe.SuccessThreshold != 1 {
			t.Errorf("%s: %s: liveness successThreshold must be 1", name, c.Name)
		}
	}
}

func validateCompose(t *testing.T, r *Result) {
	t.Helper()
	dir := t.TempDir()
	p, err := loader.LoadWithContext(context.Background(), composetypes.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []composetypes.ConfigFile{{Filename: filepath.Join(dir, "compose.yaml"), Content: r.Files[0].Data}},
		Environment: map[string]string{},
	}, func(o *loader.Options) {
		o.SkipResolveEnvironment = true // env_file need not exist here
		o.ResolvePaths = false
	})
	if err != nil {
		t.Fatalf("compose-go refuses the file: %v\n%s", err, r.Files[0].Data)
	}
	if len(p.Services) == 0 {
		t.Fatal("compose: no service")
	}
	for name, s := range p.Services {
		if s.Image == "" {
			t.Errorf("compose: service %s has no image", name)
		}
		for dep := range s.DependsOn {
			if _, ok := p.Services[dep]; !ok {
				t.Errorf("compose: service %s depends on unknown %s", name, dep)
			}
		}
	}
}

func strictJSON(t *testing.T, name string, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, data)
	}
}

func validateECS(t *testing.T, r *Result) {
	t.Helper()
	var in ecs.RegisterTaskDefinitionInput
	strictJSON(t, r.Files[0].Name, r.Files[0].Data, &in)
	if in.Family == nil || *in.Family == "" || len(in.ContainerDefinitions) == 0 {
		t.Fatalf("ecs: family and containerDefinitions are required: %s", r.Files[0].Data)
	}
	names := map[string]bool{}
	for _, c := range in.ContainerDefinitions {
		if c.Name == nil || c.Image == nil {
			t.Fatalf("ecs: a container needs name and image")
		}
		names[*c.Name] = true
		if c.Memory == nil && c.MemoryReservation == nil {
			t.Errorf("ecs: container %s has neither memory nor memoryReservation", *c.Name)
		}
	}
	for _, c := range in.ContainerDefinitions {
		for _, d := range c.DependsOn {
			if !names[*d.ContainerName] {
				t.Errorf("ecs: %s depends on unknown container %s", *c.Name, *d.ContainerName)
			}
			if d.Condition != "START" && d.Condition != "HEALTHY" && d.Condition != "SUCCESS" && d.Condition != "COMPLETE" {
				t.Errorf("ecs: %s: condition %q", *c.Name, d.Condition)
			}
		}
		if h := c.HealthCheck; h != nil {
			if *h.Interval < 5 || *h.Interval > 300 || *h.Timeout < 2 || *h.Timeout > 60 || *h.Retries < 1 || *h.Retries > 10 {
				t.Errorf("ecs: %s: healthCheck out of ECS's ranges: %+v", *c.Name, h)
			}
		}
	}
}

func validateNomad(t *testing.T, r *Result) {
	t.Helper()
	var f struct{ Job *nomad.Job }
	strictJSON(t, r.Files[0].Name, r.Files[0].Data, &f)
	if f.Job == nil || f.Job.ID == nil || len(f.Job.TaskGroups) == 0 {
		t.Fatalf("nomad: a job with an ID and groups is required")
	}
	for _, g := range f.Job.TaskGroups {
		labels := map[string]bool{}
		for _, n := range g.Networks {
			for _, p := range n.DynamicPorts {
				labels[p.Label] = true
			}
		}
		for _, s := range g.Services {
			if s.PortLabel != "" && !labels[s.PortLabel] {
				t.Errorf("nomad: group %s: service port %s is not declared", *g.Name, s.PortLabel)
			}
			for _, c := range s.Checks {
				if c.PortLabel != "" && !labels[c.PortLabel] {
					t.Errorf("nomad: group %s: check port %s is not declared", *g.Name, c.PortLabel)
				}
				if c.Type != "http" && c.Type != "tcp" {
					t.Errorf("nomad: group %s: a %s check needs Consul", *g.Name, c.Type)
				}
			}
		}
		main := 0
		for _, task := range g.Tasks {
			if task.Driver != "docker" || task.Config["image"] == nil {
				t.Errorf("nomad: task %s: no docker image", task.Name)
			}
			if task.Lifecycle == nil {
				main++
			}
		}
		if main != 1 {
			t.Errorf("nomad: group %s has %d main tasks", *g.Name, main)
		}
	}
}

// validateSystemd runs systemd-analyze verify on the units: any warning
// fails (verify exits 0 on unknown keys and bad syntax, it only prints them).
func validateSystemd(t *testing.T, r *Result) {
	t.Helper()
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not found (Debian package systemd; .ci/run installs it): skipping the verify step only")
		return
	}
	dir := t.TempDir()
	var units []string
	for _, f := range r.Files {
		p := filepath.Join(dir, f.Name)
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(f.Name, "@.") { // a template is checked through the target's instances
			units = append(units, p)
		}
	}
	cmd := exec.Command(bin, append([]string{"verify", "--man=no"}, units...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
