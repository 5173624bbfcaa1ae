package capacity

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/switchyard/switchyard/mesos"
)

// DefaultWrapperAppPrefix is the Marathon app id prefix of the kubelet
// wrapper apps (one app per node: /switchyard/kubelet-<node>).
const DefaultWrapperAppPrefix = "/switchyard/kubelet-"

// WrapperLabel is the Marathon (and Mesos task) label that marks a kubelet
// wrapper; its value is the Kubernetes node name.
const WrapperLabel = "switchyard.io/kubelet-wrapper"

// Sources are the raw inventories the model is built from.
type Sources struct {
	// Mesos is the master's /master/state.
	Mesos mesos.State
	// Nodes are the Kubernetes Nodes.
	Nodes []corev1.Node
	// Pods are the Kubernetes Pods (all namespaces).
	Pods []corev1.Pod
}

// BuildOptions tune Build.
type BuildOptions struct {
	// WrapperAppPrefix identifies wrapper tasks by Marathon app id
	// (default DefaultWrapperAppPrefix); tasks labelled WrapperLabel are
	// wrappers too.
	WrapperAppPrefix string
	// NodeNameFrom names a node that has not joined Kubernetes yet (the name
	// its wrapper will register): NodeNameHostname, NodeNameAgentID, or
	// NodeNameAuto (default): the hostname, unless it is an IP address (as
	// in the lab, whose agents are loopback addresses), then the agent id.
	NodeNameFrom string
}

// Ways to name a node that has not joined Kubernetes.
const (
	NodeNameAuto     = "auto"
	NodeNameHostname = "hostname"
	NodeNameAgentID  = "agent-id"
)

func nodeName(s mesos.Slave, from string) string {
	switch from {
	case NodeNameAgentID:
		return s.ID
	case NodeNameHostname:
		return s.Hostname
	}
	if _, err := netip.ParseAddr(s.Hostname); err == nil && s.ID != "" {
		return s.ID
	}
	return s.Hostname
}

// AppIDOfTask recovers a Marathon app id from a Mesos task name
// ("shop.web" → "/shop/web"), as Marathon names tasks.
func AppIDOfTask(name string) string {
	if name == "" {
		return ""
	}
	return "/" + strings.ReplaceAll(name, ".", "/")
}

// IsWrapperTask says whether a Mesos task is a kubelet wrapper: its app id
// starts with prefix, or it carries the WrapperLabel label.
func IsWrapperTask(t mesos.Task, prefix string) bool {
	if prefix == "" {
		prefix = DefaultWrapperAppPrefix
	}
	for _, l := range t.Labels {
		if l.Key == WrapperLabel {
			return true
		}
	}
	return strings.HasPrefix(AppIDOfTask(t.Name), prefix)
}

// FromMesos converts summary resources (ports counted).
func FromMesos(r mesos.Resources) Resources {
	return Resources{CPUs: r.CPUs, Mem: r.Mem, Disk: r.Disk, Ports: r.Ports.Count()}
}

// FromKube converts a Kubernetes resource list (cpu, memory,
// ephemeral-storage) to Mesos units.
func FromKube(l corev1.ResourceList) Resources {
	var r Resources
	if q, ok := l[corev1.ResourceCPU]; ok {
		r.CPUs = float64(q.MilliValue()) / 1000
	}
	if q, ok := l[corev1.ResourceMemory]; ok {
		r.Mem = mibOf(q)
	}
	if q, ok := l[corev1.ResourceEphemeralStorage]; ok {
		r.Disk = mibOf(q)
	}
	return r
}

func mibOf(q resource.Quantity) float64 { return q.AsApproximateFloat64() / (1 << 20) }

// PodRequests is a pod's effective request as the scheduler counts it: the
// sum of its containers, or its largest init container when larger, plus
// its overhead.
func PodRequests(p *corev1.Pod) Resources {
	var sum Resources
	for _, c := range p.Spec.Containers {
		sum = sum.Add(FromKube(c.Resources.Requests))
	}
	for _, c := range p.Spec.InitContainers {
		sum = sum.Max(FromKube(c.Resources.Requests))
	}
	return sum.Add(FromKube(p.Spec.Overhead))
}

// Build assembles the model: one node per Mesos agent, matched to the
// Kubernetes Node of the same name, of a name equal to its agent id, or
// with an address equal to its hostname; Kubernetes Nodes with no agent are
// nodes of their own. A node's total is the larger of the agent's total and
// the Node's capacity; the Kubernetes share is the wrapper task's resources,
// or, for a statically partitioned node (no wrapper, registered, agent total
// below capacity), capacity minus the agent total.
func Build(src Sources, o BuildOptions) Cluster {
	prefix := o.WrapperAppPrefix
	if prefix == "" {
		prefix = DefaultWrapperAppPrefix
	}
	byName := make(map[string]int, len(src.Nodes))
	byAddr := make(map[string]int, len(src.Nodes))
	for i := range src.Nodes {
		byName[src.Nodes[i].Name] = i
		for _, a := range src.Nodes[i].Status.Addresses {
			byAddr[a.Address] = i
		}
	}
	tasksBy := map[string][]mesos.Task{}
	for _, f := range src.Mesos.Frameworks {
		for _, t := range f.Tasks {
			if !t.State.Terminal() {
				tasksBy[t.SlaveID] = append(tasksBy[t.SlaveID], t)
			}
		}
	}
	used := make([]bool, len(src.Nodes))
	c := Cluster{Nodes: make([]Node, 0, len(src.Mesos.Slaves)+len(src.Nodes))}
	nodeIdx := map[string]int{}
	for _, s := range src.Mesos.Slaves {
		n := Node{Name: nodeName(s, o.NodeNameFrom), Hostname: s.Hostname, AgentID: s.ID, Total: FromMesos(s.Resources), Attributes: s.Attributes.Strings()}
		if len(n.Attributes) == 0 {
			n.Attributes = nil
		}
		k, ok := byName[s.Hostname]
		if !ok {
			k, ok = byName[s.ID]
		}
		if !ok {
			k, ok = byAddr[s.Hostname]
		}
		var wrapper Resources
		for _, t := range tasksBy[s.ID] {
			ct := Task{ID: t.ID, App: AppIDOfTask(t.Name), Resources: FromMesos(t.Resources), Wrapper: IsWrapperTask(t, prefix)}
			n.Tasks = append(n.Tasks, ct)
			if ct.Wrapper {
				wrapper = wrapper.Add(ct.Resources)
				n.Wrapper = t.ID
				n.Joined = true
			} else {
				n.MesosTasks++
			}
		}
		// used_resources is authoritative for the allocation; the wrapper's part is the share.
		n.MesosAllocated = FromMesos(s.UsedResources).Sub(wrapper).NonNegative()
		n.KubernetesShare = wrapper
		if ok && !used[k] {
			used[k] = true
			kn := &src.Nodes[k]
			n.Name = kn.Name
			n.Joined = true
			n.Cordoned = kn.Spec.Unschedulable
			capa := FromKube(kn.Status.Capacity)
			capa.Ports = n.Total.Ports
			if n.Wrapper == "" && capa.Sub(n.Total).NonNegative() != (Resources{}) {
				n.KubernetesShare = capa.Sub(n.Total).NonNegative()
			}
			n.Total = n.Total.Max(capa)
			n.Allocatable = FromKube(kn.Status.Allocatable)
		}
		nodeIdx[n.Name] = len(c.Nodes)
		c.Nodes = append(c.Nodes, n)
	}
	for i := range src.Nodes {
		if used[i] {
			continue
		}
		kn := &src.Nodes[i]
		a := FromKube(kn.Status.Allocatable)
		capa := FromKube(kn.Status.Capacity)
		n := Node{Name: kn.Name, Hostname: kn.Name, Joined: true, Cordoned: kn.Spec.Unschedulable,
			Total: capa, KubernetesShare: capa, Allocatable: a}
		nodeIdx[n.Name] = len(c.Nodes)
		c.Nodes = append(c.Nodes, n)
	}
	for i := range src.Pods {
		p := &src.Pods[i]
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		j, ok := nodeIdx[p.Spec.NodeName]
		if !ok {
			continue
		}
		c.Nodes[j].PodRequests = c.Nodes[j].PodRequests.Add(PodRequests(p))
		c.Nodes[j].Pods++
	}
	c.Sort()
	return c
}
