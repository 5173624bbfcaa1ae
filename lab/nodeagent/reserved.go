package nodeagent

import (
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// Reservation is what a kubelet subtracts from capacity to get allocatable:
// --system-reserved, --kube-reserved and --eviction-hard (or the same
// fields of a KubeletConfiguration file). In the lab, the kubelet wrapper of
// a shared node passes the Mesos side as system-reserved.
type Reservation struct {
	SystemReserved corev1.ResourceList
	KubeReserved   corev1.ResourceList
	// EvictionHard maps a signal (memory.available, nodefs.available) to a
	// quantity ("100Mi") or a percentage of capacity ("10%").
	EvictionHard map[string]string
}

// IsZero reports whether nothing is reserved.
func (r Reservation) IsZero() bool {
	return len(r.SystemReserved) == 0 && len(r.KubeReserved) == 0 && len(r.EvictionHard) == 0
}

// ParseResourceList parses the kubelet flag syntax "cpu=500m,memory=1Gi,ephemeral-storage=1Gi".
func ParseResourceList(s string) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want NAME=QUANTITY, e.g. cpu=500m,memory=1Gi", kv)
		}
		name := corev1.ResourceName(strings.TrimSpace(k))
		switch name {
		case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, "pid":
		default:
			return nil, fmt.Errorf("%q: resource %q is not one of cpu, memory, ephemeral-storage, pid", kv, name)
		}
		q, err := resource.ParseQuantity(strings.TrimSpace(v))
		if err != nil || q.Sign() < 0 {
			return nil, fmt.Errorf("%q: %q is not a non-negative quantity", kv, v)
		}
		out[name] = q
	}
	return out, nil
}

// ParseEvictionHard parses the kubelet flag syntax
// "memory.available<100Mi,nodefs.available<10%".
func ParseEvictionHard(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "<")
		if !ok {
			return nil, fmt.Errorf("%q: want SIGNAL<QUANTITY, e.g. memory.available<100Mi", kv)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, validateEviction(out)
}

// evictionResource maps eviction signals to the resource they reserve.
var evictionResource = map[string]corev1.ResourceName{
	"memory.available": corev1.ResourceMemory,
	"nodefs.available": corev1.ResourceEphemeralStorage,
}

func validateEviction(m map[string]string) error {
	for k, v := range m {
		if _, ok := evictionResource[k]; !ok && k != "imagefs.available" && k != "nodefs.inodesFree" && k != "imagefs.inodesFree" && k != "pid.available" {
			return fmt.Errorf("eviction signal %q is unknown (memory.available, nodefs.available, imagefs.available, nodefs.inodesFree, pid.available)", k)
		}
		if p, ok := strings.CutSuffix(v, "%"); ok {
			var f float64
			if _, err := fmt.Sscanf(p, "%g", &f); err != nil || f < 0 || f > 100 {
				return fmt.Errorf("eviction %s: %q is not a percentage between 0%% and 100%%", k, v)
			}
			continue
		}
		if q, err := resource.ParseQuantity(v); err != nil || q.Sign() < 0 {
			return fmt.Errorf("eviction %s: %q is not a non-negative quantity or a percentage", k, v)
		}
	}
	return nil
}

// kubeletConfigFile is the part of a KubeletConfiguration the agent reads.
type kubeletConfigFile struct {
	Kind           string            `json:"kind"`
	SystemReserved map[string]string `json:"systemReserved"`
	KubeReserved   map[string]string `json:"kubeReserved"`
	EvictionHard   map[string]string `json:"evictionHard"`
}

// LoadKubeletConfig reads systemReserved, kubeReserved and evictionHard
// from a KubeletConfiguration file (kubelet.config.k8s.io/v1beta1).
func LoadKubeletConfig(path string) (Reservation, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Reservation{}, fmt.Errorf("kubelet config: %w", err)
	}
	var kc kubeletConfigFile
	if err := yaml.Unmarshal(b, &kc); err != nil {
		return Reservation{}, fmt.Errorf("kubelet config %s: %w", path, err)
	}
	if kc.Kind != "" && kc.Kind != "KubeletConfiguration" {
		return Reservation{}, fmt.Errorf("kubelet config %s: kind is %q, want KubeletConfiguration", path, kc.Kind)
	}
	join := func(m map[string]string) string {
		var parts []string
		for _, k := range sortedKeys(m) {
			parts = append(parts, k+"="+m[k])
		}
		return strings.Join(parts, ",")
	}
	var r Reservation
	if r.SystemReserved, err = ParseResourceList(join(kc.SystemReserved)); err != nil {
		return Reservation{}, fmt.Errorf("kubelet config %s: systemReserved: %w", path, err)
	}
	if r.KubeReserved, err = ParseResourceList(join(kc.KubeReserved)); err != nil {
		return Reservation{}, fmt.Errorf("kubelet config %s: kubeReserved: %w", path, err)
	}
	r.EvictionHard = kc.EvictionHard
	if err := validateEviction(r.EvictionHard); err != nil {
		return Reservation{}, fmt.Errorf("kubelet config %s: evictionHard: %w", path, err)
	}
	return r, nil
}

// AllocatableFor computes allocatable = capacity − system-reserved −
// kube-reserved − hard eviction threshold, per resource, never below zero,
// as the kubelet does. Pods stay at capacity unless cpu and memory are both
// zero (a node that joined with nothing to offer).
func AllocatableFor(capacity corev1.ResourceList, r Reservation) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, c := range capacity {
		q := c.DeepCopy()
		if v, ok := r.SystemReserved[name]; ok {
			q.Sub(v)
		}
		if v, ok := r.KubeReserved[name]; ok {
			q.Sub(v)
		}
		for sig, val := range r.EvictionHard {
			if evictionResource[sig] != name {
				continue
			}
			if p, ok := strings.CutSuffix(val, "%"); ok {
				var f float64
				fmt.Sscanf(p, "%g", &f)
				q.Sub(*resource.NewQuantity(int64(float64(c.Value())*f/100), c.Format))
			} else if t, err := resource.ParseQuantity(val); err == nil {
				q.Sub(t)
			}
		}
		if q.Sign() < 0 {
			q = *resource.NewQuantity(0, c.Format)
		}
		out[name] = q
	}
	cpu, mem := out[corev1.ResourceCPU], out[corev1.ResourceMemory]
	if cpu.IsZero() && mem.IsZero() {
		out[corev1.ResourcePods] = *resource.NewQuantity(0, resource.DecimalSI)
	}
	return out
}
