package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/llmgw/llmgw/app"
)

// processEnv are the LLMGW_* variables read outside the flag definitions (so absent from
// -h): secrets and tokens.
var processEnv = []string{"LLMGW_MASTER_KEY", "LLMGW_ADMIN_TOKEN", "LLMGW_KAFKA_PASSWORD", "LLMGW_GATEWAY_TOKEN"}

// known are the apiVersion/kind pairs the base may use, all in Kubernetes' stable APIs.
var known = map[string]bool{
	"v1/Secret": true, "v1/Service": true, "v1/ConfigMap": true, "apps/v1/Deployment": true, "batch/v1/Job": true,
	"autoscaling/v2/HorizontalPodAutoscaler": true, "policy/v1/PodDisruptionBudget": true,
}

// command is one subcommand's flag and environment names, read from its -h output.
type command struct {
	flags []string
	help  string
}

var flagLine = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)

func commands(t *testing.T) map[string]command {
	t.Helper()
	out := map[string]command{}
	for _, name := range []string{"serve", "migrate", "consume"} {
		var stderr bytes.Buffer
		err := app.Run(context.Background(), []string{name, "-h"}, func(string) string { return "" }, io.Discard, &stderr)
		if err == nil || !strings.Contains(err.Error(), "help requested") {
			t.Fatalf("llmgw %s -h: %v, want the help", name, err)
		}
		c := command{help: stderr.String()}
		for _, m := range flagLine.FindAllStringSubmatch(c.help, -1) {
			c.flags = append(c.flags, m[1])
		}
		if len(c.flags) < 3 {
			t.Fatalf("llmgw %s -h lists %d flags:\n%s", name, len(c.flags), c.help)
		}
		out[name] = c
	}
	return out
}

// checkArgs checks a container's command line: a known subcommand, then only its flags.
func checkArgs(t *testing.T, where string, args []string, cmds map[string]command) string {
	t.Helper()
	if len(args) == 0 {
		t.Errorf("%s: no subcommand in args", where)
		return ""
	}
	c, ok := cmds[args[0]]
	if !ok {
		t.Errorf("%s: subcommand %q is not one of serve, migrate, consume", where, args[0])
		return ""
	}
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "-") {
			continue // a flag's value
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !slices.Contains(c.flags, name) {
			t.Errorf("%s: llmgw %s has no flag %s", where, args[0], a)
		}
	}
	return args[0]
}

var envRef = regexp.MustCompile(`\((LLMGW_[A-Z0-9_]+)\)`)

// checkEnv checks that an LLMGW_* variable is one llmgw reads.
func checkEnv(t *testing.T, where, name string, cmds map[string]command) {
	t.Helper()
	if !strings.HasPrefix(name, "LLMGW_") || slices.Contains(processEnv, name) {
		return
	}
	for _, c := range cmds {
		for _, m := range envRef.FindAllStringSubmatch(c.help, -1) {
			if m[1] == name {
				return
			}
		}
	}
	t.Errorf("%s: llmgw reads no variable %s", where, name)
}

// object is one Kubernetes object, as far as the checks read it.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Selector yaml.Node `yaml:"selector"` // a label map (Service) or {matchLabels} (workloads, PDB)
		Ports    []struct {
			Name       string    `yaml:"name"`
			Port       int       `yaml:"port"`
			TargetPort yaml.Node `yaml:"targetPort"`
		} `yaml:"ports"`
		Template       podTemplate `yaml:"template"`
		ScaleTargetRef struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		MinReplicas  int `yaml:"minReplicas"`
		MaxReplicas  int `yaml:"maxReplicas"`
		MinAvailable any `yaml:"minAvailable"`
	} `yaml:"spec"`
}

type podTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		Containers []container `yaml:"containers"`
		Volumes    []struct {
			Name string `yaml:"name"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name string `yaml:"name"`
	} `yaml:"volumeMounts"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
}

type probe struct {
	HTTPGet *struct {
		Path string    `yaml:"path"`
		Port yaml.Node `yaml:"port"`
	} `yaml:"httpGet"`
}

// labels reads a selector: a plain label map, or its matchLabels.
func labels(t *testing.T, where string, n yaml.Node) map[string]string {
	t.Helper()
	var sel struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	if err := n.Decode(&sel); err == nil && sel.MatchLabels != nil {
		return sel.MatchLabels
	}
	var plain map[string]string
	if err := n.Decode(&plain); err != nil || len(plain) == 0 {
		t.Errorf("%s: no selector labels", where)
	}
	return plain
}

func selects(sel, pod map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if pod[k] != v {
			return false
		}
	}
	return true
}

// hasPort reports whether a port reference (a name or a number) names one of c's ports.
func hasPort(cs []container, ref yaml.Node) bool {
	for _, c := range cs {
		for _, p := range c.Ports {
			if ref.Value == p.Name || ref.Value == strconv.Itoa(p.ContainerPort) {
				return true
			}
		}
	}
	return false
}

// TestKubernetesBase checks the kustomize base under kubernetes/: every resource listed exists
// and every manifest is listed; every object is of a known stable kind with a unique name;
// selectors select their pods (Deployments, Services, the PodDisruptionBudget) and the HPA
// scales an existing Deployment; Service target ports and probe ports are container ports;
// probes are on /readyz and /healthz, the gateway's readiness on /readyz; container args use
// only llmgw's subcommands and their flags; LLMGW_* variables are ones llmgw reads;
// secretKeyRefs name Secrets and keys of the base; volume mounts name the pod's volumes; the
// image is the one the kustomization sets.
func TestKubernetesBase(t *testing.T) {
	cmds := commands(t)
	dir := "kubernetes"
	var kust struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Resources  []string `yaml:"resources"`
		Images     []struct {
			Name string `yaml:"name"`
		} `yaml:"images"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &kust); err != nil {
		t.Fatal(err)
	}
	if kust.APIVersion != "kustomize.config.k8s.io/v1beta1" || kust.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s/%s", kust.APIVersion, kust.Kind)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(kust.Resources, base) {
			t.Errorf("%s is not listed in kustomization.yaml's resources", base)
		}
	}
	var objs []object
	var from []string // the file of each object
	for _, r := range kust.Resources {
		b, err := os.ReadFile(filepath.Join(dir, r))
		if err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", r, err)
			continue
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for i := 0; ; i++ {
			var o object
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s document %d: %v", r, i, err)
			}
			objs, from = append(objs, o), append(from, fmt.Sprintf("%s document %d", r, i))
		}
	}
	secrets := map[string]map[string]string{}
	pods := map[string]podTemplate{} // Deployments by name
	seen := map[string]bool{}
	for i := range objs {
		o := &objs[i]
		id := o.APIVersion + "/" + o.Kind
		if !known[id] {
			t.Errorf("%s: %s %s is not a known stable kind", from[i], id, o.Metadata.Name)
		}
		if o.Metadata.Name == "" || seen[o.Kind+"/"+o.Metadata.Name] {
			t.Errorf("%s: %s %q has no name or a duplicate one", from[i], o.Kind, o.Metadata.Name)
		}
		seen[o.Kind+"/"+o.Metadata.Name] = true
		switch o.Kind {
		case "Secret":
			secrets[o.Metadata.Name] = o.StringData
		case "Deployment":
			pods[o.Metadata.Name] = o.Spec.Template
		}
	}
	images := []string{}
	for _, im := range kust.Images {
		images = append(images, im.Name)
	}
	subcommands := map[string]string{}
	for i := range objs {
		o := &objs[i]
		name := o.Kind + " " + o.Metadata.Name
		switch o.Kind {
		case "Deployment", "Job":
			pod := o.Spec.Template
			if o.Kind == "Deployment" && !selects(labels(t, name, o.Spec.Selector), pod.Metadata.Labels) {
				t.Errorf("%s: selector does not select its pod template's labels %v", name, pod.Metadata.Labels)
			}
			if len(pod.Spec.Containers) == 0 {
				t.Errorf("%s: no containers", name)
			}
			for _, c := range pod.Spec.Containers {
				cw := name + " container " + c.Name
				if !slices.Contains(images, c.Image) {
					t.Errorf("%s: image %q is not one kustomization.yaml sets (%v)", cw, c.Image, images)
				}
				subcommands[o.Metadata.Name] = checkArgs(t, cw, c.Args, cmds)
				for _, e := range c.Env {
					checkEnv(t, cw, e.Name, cmds)
					if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
						continue
					}
					ref := e.ValueFrom.SecretKeyRef
					if keys, ok := secrets[ref.Name]; !ok {
						t.Errorf("%s: %s refers to Secret %s, which the base does not define", cw, e.Name, ref.Name)
					} else if _, ok := keys[ref.Key]; !ok {
						t.Errorf("%s: %s refers to key %s of Secret %s, which it lacks", cw, e.Name, ref.Key, ref.Name)
					}
				}
				for _, m := range c.VolumeMounts {
					if !slices.ContainsFunc(pod.Spec.Volumes, func(v struct {
						Name string `yaml:"name"`
					}) bool {
						return v.Name == m.Name
					}) {
						t.Errorf("%s: mounts volume %s, which the pod does not define", cw, m.Name)
					}
				}
				for kind, p := range map[string]*probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
					if p == nil {
						continue
					}
					if p.HTTPGet == nil || !hasPort([]container{c}, p.HTTPGet.Port) {
						t.Errorf("%s: %s probe is not an httpGet on one of its ports", cw, kind)
						continue
					}
					want := map[string]string{"readiness": "/readyz", "liveness": "/healthz"}[kind]
					if p.HTTPGet.Path != want {
						t.Errorf("%s: %s probe on %s, want %s", cw, kind, p.HTTPGet.Path, want)
					}
				}
				if c.Args != nil && c.Args[0] == "serve" && c.ReadinessProbe == nil {
					t.Errorf("%s: a server without a readiness probe", cw)
				}
			}
		case "Service":
			sel := labels(t, name, o.Spec.Selector)
			var matched []podTemplate
			for _, pod := range pods {
				if selects(sel, pod.Metadata.Labels) {
					matched = append(matched, pod)
				}
			}
			if len(matched) == 0 {
				t.Errorf("%s: selector %v selects no Deployment's pods", name, sel)
			}
			for _, p := range o.Spec.Ports {
				for _, pod := range matched {
					if !hasPort(pod.Spec.Containers, p.TargetPort) {
						t.Errorf("%s: port %s targets %q, which its pods do not expose", name, p.Name, p.TargetPort.Value)
					}
				}
			}
		case "HorizontalPodAutoscaler":
			if _, ok := pods[o.Spec.ScaleTargetRef.Name]; o.Spec.ScaleTargetRef.Kind != "Deployment" || !ok {
				t.Errorf("%s: scales %s %s, not a Deployment of the base", name, o.Spec.ScaleTargetRef.Kind, o.Spec.ScaleTargetRef.Name)
			}
			if o.Spec.MinReplicas < 2 || o.Spec.MaxReplicas < o.Spec.MinReplicas {
				t.Errorf("%s: replicas %d to %d, want at least 2 and max >= min", name, o.Spec.MinReplicas, o.Spec.MaxReplicas)
			}
		case "PodDisruptionBudget":
			sel := labels(t, name, o.Spec.Selector)
			if !slices.ContainsFunc(mapsValues(pods), func(p podTemplate) bool { return selects(sel, p.Metadata.Labels) }) {
				t.Errorf("%s: selector %v selects no Deployment's pods", name, sel)
			}
		}
	}
	// The roles the deployment needs are all there.
	for _, want := range []struct{ deployment, arg string }{{"llmgw-control-plane", "control"}, {"llmgw-gateway", "gateway"}} {
		pod, ok := pods[want.deployment]
		if !ok || !slices.Contains(pod.Spec.Containers[0].Args, want.arg) {
			t.Errorf("Deployment %s with --role %s: missing", want.deployment, want.arg)
		}
	}
	if subcommands["llmgw-consumer"] != "consume" {
		t.Errorf("the consumer Deployment runs %q, want consume", subcommands["llmgw-consumer"])
	}
	for _, kind := range []string{"HorizontalPodAutoscaler/llmgw-gateway", "PodDisruptionBudget/llmgw-gateway", "Service/llmgw-gateway", "Service/llmgw-control-plane"} {
		if !seen[kind] {
			t.Errorf("the base has no %s", kind)
		}
	}
}

func mapsValues(m map[string]podTemplate) []podTemplate {
	var out []podTemplate
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestDockerCompose checks docker-compose.yaml's llmgw services (those built from the
// repository): only llmgw's subcommands and flags, only variables llmgw reads; one control
// plane and two gateways pointed at it, a Postgres migration, and the consumer.
func TestDockerCompose(t *testing.T) {
	cmds := commands(t)
	b, err := os.ReadFile("../docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Build       any               `yaml:"build"` // "." or {context, target}
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			DependsOn   map[string]any    `yaml:"depends_on"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	roles := map[string][]string{}
	for name, s := range compose.Services {
		if s.Build == nil {
			continue
		}
		sub := checkArgs(t, "service "+name, s.Command, cmds)
		for k := range s.Environment {
			checkEnv(t, "service "+name, k, cmds)
		}
		role := sub
		if i := slices.Index(s.Command, "--role"); i > 0 && i+1 < len(s.Command) {
			role = s.Command[i+1]
			if role == "gateway" && !slices.Contains(s.Command, "--control-plane") {
				t.Errorf("service %s: a gateway without --control-plane", name)
			}
			if b, _ := s.Build.(map[string]any); role == "gateway" && (b == nil || b["target"] != "gateway") {
				t.Errorf("service %s: a gateway built from %v, want the Dockerfile's gateway-only stage (target: gateway)", name, s.Build)
			}
		}
		roles[role] = append(roles[role], name)
	}
	for role, n := range map[string]int{"control": 1, "gateway": 2, "consume": 1, "migrate": 2} {
		if len(roles[role]) != n {
			t.Errorf("docker-compose.yaml runs %d llmgw %s services (%v), want %d", len(roles[role]), role, roles[role], n)
		}
	}
}
