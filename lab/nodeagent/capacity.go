package nodeagent

import (
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/switchyard/switchyard/lab/labconfig"
)

// MaxPods is the pods capacity every lab node reports (the kubelet default).
const MaxPods = 110

// Resources is a node's view for Kubernetes: capacity is what the machine
// has, allocatable what pods may request, reserved the difference (the Mesos
// side, which a kubelet hides with --system-reserved).
type Resources struct {
	Capacity    corev1.ResourceList
	Allocatable corev1.ResourceList
	// SystemReserved is capacity minus allocatable for cpu, memory and
	// ephemeral-storage: the value a kubelet would get as --system-reserved.
	SystemReserved corev1.ResourceList
}

// NodeResources computes a lab node's Kubernetes resources from its total
// (capacity) and its kubernetesShare (allocatable). cpus become cpu
// (millicores), mem MiB becomes memory, disk MiB becomes ephemeral-storage.
// A nil or all-zero share gives zero allocatable, pods included, so nothing
// is scheduled to a node that joined with no share.
func NodeResources(n labconfig.Node) Resources {
	share := labconfig.Resources{}
	if n.KubernetesShare != nil {
		share = *n.KubernetesShare
	}
	pods := int64(MaxPods)
	if share.CPUs == 0 && share.Mem == 0 {
		pods = 0
	}
	r := Resources{
		Capacity:       list(n.Resources, MaxPods),
		Allocatable:    list(share, pods),
		SystemReserved: corev1.ResourceList{},
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		q := r.Capacity[name].DeepCopy()
		q.Sub(r.Allocatable[name])
		r.SystemReserved[name] = q
	}
	return r
}

func list(r labconfig.Resources, pods int64) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewMilliQuantity(int64(math.Round(r.CPUs*1000)), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(mib(r.Mem), resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(mib(r.Disk), resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(pods, resource.DecimalSI),
	}
}

func mib(v float64) int64 { return int64(math.Round(v * 1024 * 1024)) }

// NodeIndex returns the position of the named node in the config (its pod
// /24 and kubelet port derive from it).
func NodeIndex(cfg labconfig.Config, name string) (int, error) {
	for i, n := range cfg.Nodes {
		if n.Name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("node %q is not in the lab config (nodes[].name)", name)
}

// NodePodCIDR returns the i-th /24 of cfg.Kubernetes.PodCIDR: node i's pod range.
func NodePodCIDR(cfg labconfig.Config, i int) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cfg.Kubernetes.PodCIDR)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("kubernetes.podCIDR: %w", err)
	}
	p = p.Masked()
	if !p.Addr().Is4() || p.Bits() > 24 {
		return netip.Prefix{}, fmt.Errorf("kubernetes.podCIDR: %s must be an IPv4 range of /24 or larger", p)
	}
	if i < 0 || i >= 1<<(24-p.Bits()) {
		return netip.Prefix{}, fmt.Errorf("kubernetes.podCIDR: %s has no /24 for node #%d (make it larger)", p, i)
	}
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 + uint32(i)<<8
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24), nil
}

// NodeObject builds the Node a lab node registers: labels from its
// attributes (values that are not valid label values are skipped) plus the
// well-known hostname/os/arch labels, its loopback address as InternalIP, its
// pod /24, capacity/allocatable from NodeResources and a Ready condition.
func NodeObject(cfg labconfig.Config, name string) (*corev1.Node, error) {
	return NodeObjectFor(cfg, name, nil)
}

// NodeObjectFor is NodeObject with allocatable computed from a kubelet
// reservation (AllocatableFor) instead of the node's kubernetesShare when r
// is not nil.
func NodeObjectFor(cfg labconfig.Config, name string, r *Reservation) (*corev1.Node, error) {
	idx, err := NodeIndex(cfg, name)
	if err != nil {
		return nil, err
	}
	n := cfg.Nodes[idx]
	cidr, err := NodePodCIDR(cfg, idx)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{}
	for k, v := range n.Attributes {
		if len(validation.IsQualifiedName(k)) == 0 && len(validation.IsValidLabelValue(v)) == 0 {
			labels[k] = v
		}
	}
	labels[corev1.LabelHostname] = n.Name
	labels[corev1.LabelOSStable] = "linux"
	labels[corev1.LabelArchStable] = runtime.GOARCH
	labels["beta.kubernetes.io/os"] = "linux"
	labels["beta.kubernetes.io/arch"] = runtime.GOARCH
	labels["node.switchyard.io/lab"] = "true"
	res := NodeResources(n)
	if r != nil {
		res.Allocatable = AllocatableFor(res.Capacity, *r)
		for k, c := range res.Capacity {
			if k == corev1.ResourcePods {
				continue
			}
			q := c.DeepCopy()
			q.Sub(res.Allocatable[k])
			res.SystemReserved[k] = q
		}
	}
	now := metav1.Now()
	port := cfg.Kubernetes.NodeAgentBasePort + idx
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   n.Name,
			Labels: labels,
			// What the node holds back from pods (the Mesos side, plus kube
			// reservations and eviction thresholds when a reservation is given).
			Annotations: map[string]string{"node.switchyard.io/system-reserved": reservedString(res.SystemReserved)},
		},
		Spec: corev1.NodeSpec{PodCIDR: cidr.String(), PodCIDRs: []string{cidr.String()}},
		Status: corev1.NodeStatus{
			Capacity:    res.Capacity,
			Allocatable: res.Allocatable,
			Phase:       corev1.NodeRunning,
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: n.Address},
				{Type: corev1.NodeHostName, Address: n.Name},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion:          cfg.Kubernetes.Version,
				OperatingSystem:         "linux",
				Architecture:            runtime.GOARCH,
				ContainerRuntimeVersion: "switchyard-lab://1",
				OSImage:                 "switchyard lab node",
			},
			Conditions: []corev1.NodeCondition{
				cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "switchyard lab node agent is posting ready status", now),
				cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "lab node has sufficient memory available", now),
				cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "lab node has no disk pressure", now),
				cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "lab node has sufficient PID available", now),
				cond(corev1.NodeNetworkUnavailable, corev1.ConditionFalse, "RouteCreated", "lab pod bridge is set up", now),
			},
		},
	}
	return node, nil
}

func cond(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string, now metav1.Time) corev1.NodeCondition {
	return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
}

func reservedString(l corev1.ResourceList) string {
	cpu, mem, disk := l[corev1.ResourceCPU], l[corev1.ResourceMemory], l[corev1.ResourceEphemeralStorage]
	return "cpu=" + cpu.String() + ",memory=" + mem.String() + ",ephemeral-storage=" + disk.String()
}

// kubeletPort returns the port the node's kubelet endpoint advertises.
func kubeletPort(cfg labconfig.Config, idx int) string {
	return strconv.Itoa(cfg.Kubernetes.NodeAgentBasePort + idx)
}

// FormatResources renders a resource list as "cpu=2 memory=4Gi ...", in a
// fixed order.
func FormatResources(l corev1.ResourceList) string {
	var parts []string
	for _, k := range sortedKeys(l) {
		q := l[corev1.ResourceName(k)]
		parts = append(parts, k+"="+q.String())
	}
	return strings.Join(parts, " ")
}
