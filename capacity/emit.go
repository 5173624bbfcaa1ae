package capacity

import (
	"fmt"
	"math"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/switchyard/switchyard/marathon"
)

// WrapperSpec describes how the wrapper app runs (the part of the app that
// is the same on every node).
type WrapperSpec struct {
	// AppPrefix is the app id prefix (default DefaultWrapperAppPrefix).
	AppPrefix string `json:"appPrefix,omitempty"`
	// Command starts the wrapper, e.g. "switchyard kubelet-wrapper" (split
	// on spaces, no shell quoting); the node flags are appended, then Args.
	// The app runs it through Marathon "args", without a shell, so the
	// wrapper itself receives the kill signal and can drain before exiting
	// (behind "sh -c" the shell dies at once and takes the wrapper with it).
	Command string `json:"command"`
	// Args are extra wrapper arguments (kubelet path, kubelet flags...).
	Args []string `json:"args,omitempty"`
	// DrainSeconds bounds the drain on SIGTERM (default 120); the kill grace
	// period is DrainSeconds + 30 so the drain always finishes first.
	DrainSeconds int `json:"drainSeconds,omitempty"`
}

func (w WrapperSpec) prefix() string {
	if w.AppPrefix == "" {
		return DefaultWrapperAppPrefix
	}
	return w.AppPrefix
}

func (w WrapperSpec) drain() int {
	if w.DrainSeconds <= 0 {
		return 120
	}
	return w.DrainSeconds
}

// WrapperAppID is the wrapper app id of a node.
func (w WrapperSpec) WrapperAppID(node string) string { return w.prefix() + node }

// WrapperApp is node's wrapper Marathon app. One app per node (not one app
// with UNIQUE): Marathon gives every instance of an app the same cpus/mem,
// but shares differ per node, and a share change must restart one node at a
// time, which per-node apps updated in sequence give exactly. The app pins
// its node with hostname:CLUSTER:<hostname>, holds cpus/mem/disk = the share,
// is health-checked over HTTP on its port (the wrapper serves /healthz: 200
// while kubelet runs), upgrades with minimumHealthCapacity 0 and
// maximumOverCapacity 0 (the old wrapper is killed — and drains — before the
// new one starts, so the node never holds two shares), and has a kill grace
// period longer than the drain deadline. It runs as root, as kubelet must.
func (w WrapperSpec) WrapperApp(np NodePlan, o Overhead) marathon.App {
	one := 1
	cpus, mem, disk := np.Share.CPUs, np.Share.Mem, np.Share.Disk
	grace := w.drain() + 30
	args := []string{
		"--node", np.Name,
		"--total", FormatResources(noPorts(np.Total)),
		"--kube-reserved", FormatResources(o.KubeReserved),
		"--eviction-hard", FormatResources(o.EvictionHard),
		"--drain-timeout", fmt.Sprintf("%ds", w.drain()),
	}
	args = append(append(strings.Fields(w.Command), args...), w.Args...)
	proto, path, portIndex := marathon.ProtocolHTTP, "/healthz", 0
	grace0, interval, timeout, fails := 60, 10, 5, 3
	minHealth, maxOver := 0.0, 0.0
	port := 0
	name := "health"
	return marathon.App{
		ID: w.WrapperAppID(np.Name), Args: args, Instances: &one, CPUs: &cpus, Mem: &mem, Disk: &disk,
		Constraints:     []marathon.Constraint{marathon.NewConstraint("hostname", marathon.OpCluster, np.Hostname)},
		PortDefinitions: []marathon.PortDefinition{{Port: &port, Name: &name}},
		HealthChecks: []marathon.HealthCheck{{Protocol: &proto, Path: &path, PortIndex: &portIndex,
			GracePeriodSeconds: &grace0, IntervalSeconds: &interval, TimeoutSeconds: &timeout, MaxConsecutiveFailures: &fails}},
		UpgradeStrategy:            &marathon.UpgradeStrategy{MinimumHealthCapacity: &minHealth, MaximumOverCapacity: &maxOver},
		TaskKillGracePeriodSeconds: &grace,
		Labels:                     marathon.Labels{WrapperLabel: np.Name},
		// kubelet (and the lab's node agent) needs root on the agent.
		User:           ptr("root"),
		BackoffSeconds: &one,
		BackoffFactor:  ptr(1.5),
	}
}

func ptr[T any](v T) *T { return &v }

// FormatResources renders "cpus=1.5,mem=2048,disk=0" (the wrapper's flag form).
func FormatResources(r Resources) string {
	return "cpus=" + Fmt(r.CPUs) + ",mem=" + Fmt(r.Mem) + ",disk=" + Fmt(r.Disk)
}

// ParseResources reads "cpus=1.5,mem=2048,disk=0" (any subset; missing = 0).
func ParseResources(s string) (Resources, error) {
	var r Resources
	if strings.TrimSpace(s) == "" {
		return r, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return Resources{}, fmt.Errorf("%q: want name=value pairs like cpus=1.5,mem=2048,disk=0", s)
		}
		var f float64
		if _, err := fmt.Sscanf(v, "%g", &f); err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return Resources{}, fmt.Errorf("%q: %s=%s is not a number >= 0", s, k, v)
		}
		switch k {
		case "cpus":
			r.CPUs = f
		case "mem":
			r.Mem = f
		case "disk":
			r.Disk = f
		default:
			return Resources{}, fmt.Errorf("%q: unknown resource %q (use cpus, mem, disk)", s, k)
		}
	}
	return r, nil
}

// KubeletConfiguration is the subset of kubelet.config.k8s.io/v1beta1
// KubeletConfiguration that shares a node: the reservations and the
// enforcement of node allocatable on pods.
type KubeletConfiguration struct {
	APIVersion             string            `json:"apiVersion"`
	Kind                   string            `json:"kind"`
	SystemReserved         map[string]string `json:"systemReserved,omitempty"`
	KubeReserved           map[string]string `json:"kubeReserved,omitempty"`
	EvictionHard           map[string]string `json:"evictionHard,omitempty"`
	EnforceNodeAllocatable []string          `json:"enforceNodeAllocatable,omitempty"`
}

// KubeletConfigFor renders a node's reservations as a KubeletConfiguration.
func KubeletConfigFor(r Reservations) KubeletConfiguration {
	return KubeletConfiguration{
		APIVersion: "kubelet.config.k8s.io/v1beta1", Kind: "KubeletConfiguration",
		SystemReserved:         kubeList(r.SystemReserved),
		KubeReserved:           kubeList(r.KubeReserved),
		EvictionHard:           map[string]string{"memory.available": mi(r.EvictionHard.Mem), "nodefs.available": mi(r.EvictionHard.Disk)},
		EnforceNodeAllocatable: []string{"pods"},
	}
}

// KubeletConfigYAML renders a node's KubeletConfiguration as YAML.
func KubeletConfigYAML(r Reservations) ([]byte, error) {
	return yaml.Marshal(KubeletConfigFor(r))
}

func kubeList(r Resources) map[string]string {
	return map[string]string{
		"cpu":               resource.NewMilliQuantity(int64(math.Round(r.CPUs*1000)), resource.DecimalSI).String(),
		"memory":            mi(r.Mem),
		"ephemeral-storage": mi(r.Disk),
	}
}

func mi(v float64) string {
	return resource.NewQuantity(int64(math.Round(v*(1<<20))), resource.BinarySI).String()
}

// ParseKubeletConfig reads a KubeletConfiguration back into reservations
// (systemReserved, kubeReserved: cpu, memory, ephemeral-storage; evictionHard:
// memory.available, nodefs.available as absolute quantities).
func ParseKubeletConfig(data []byte) (Reservations, error) {
	var kc KubeletConfiguration
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return Reservations{}, fmt.Errorf("kubelet config: %w", err)
	}
	if kc.Kind != "KubeletConfiguration" {
		return Reservations{}, fmt.Errorf("kubelet config: kind is %q, want KubeletConfiguration", kc.Kind)
	}
	var r Reservations
	var err error
	if r.SystemReserved, err = fromKubeMap("systemReserved", kc.SystemReserved); err != nil {
		return Reservations{}, err
	}
	if r.KubeReserved, err = fromKubeMap("kubeReserved", kc.KubeReserved); err != nil {
		return Reservations{}, err
	}
	for k, v := range kc.EvictionHard {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return Reservations{}, fmt.Errorf("kubelet config: evictionHard.%s: %q: %w (percentages are not supported here)", k, v, err)
		}
		switch k {
		case "memory.available":
			r.EvictionHard.Mem = mibOf(q)
		case "nodefs.available":
			r.EvictionHard.Disk = mibOf(q)
		}
	}
	return r, nil
}

func fromKubeMap(field string, m map[string]string) (Resources, error) {
	var r Resources
	for k, v := range m {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return Resources{}, fmt.Errorf("kubelet config: %s.%s: %q: %w", field, k, v, err)
		}
		switch k {
		case "cpu":
			r.CPUs = float64(q.MilliValue()) / 1000
		case "memory":
			r.Mem = mibOf(q)
		case "ephemeral-storage":
			r.Disk = mibOf(q)
		}
	}
	return r, nil
}
