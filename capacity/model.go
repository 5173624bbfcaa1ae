package capacity

import (
	"sort"
)

// Task is one Mesos task on a node (non-terminal).
type Task struct {
	// ID is the Mesos task id.
	ID string `json:"id"`
	// App is the Marathon app id ("/shop/web") when known.
	App string `json:"app,omitempty"`
	// Resources are what the task holds.
	Resources Resources `json:"resources"`
	// Wrapper marks the kubelet wrapper task (it holds the Kubernetes share).
	Wrapper bool `json:"wrapper,omitempty"`
}

// Node is one shared node as both orchestrators see it.
type Node struct {
	// Name is the node's name (its Kubernetes Node name when it has joined,
	// else its Mesos agent hostname).
	Name string `json:"name"`
	// Hostname is the Mesos agent hostname (what Marathon's hostname
	// constraint matches and what $HOST carries).
	Hostname string `json:"hostname"`
	// AgentID is the Mesos agent id, when the node is a Mesos agent.
	AgentID string `json:"agentId,omitempty"`
	// Attributes are the Mesos agent attributes (node groups in plans).
	Attributes map[string]string `json:"attributes,omitempty"`
	// Total is the node's total.
	Total Resources `json:"total"`
	// MesosAllocated is what Mesos tasks other than the wrapper hold
	// (used_resources minus the wrapper).
	MesosAllocated Resources `json:"mesosAllocated"`
	// MesosTasks counts those tasks.
	MesosTasks int `json:"mesosTasks"`
	// Tasks are the node's Mesos tasks (wrapper included); omitted in output.
	Tasks []Task `json:"-"`
	// Joined is true when the node is a Kubernetes node (registered, or a
	// wrapper task runs on it).
	Joined bool `json:"joined"`
	// Wrapper is the wrapper task id, when one runs.
	Wrapper string `json:"wrapperTask,omitempty"`
	// KubernetesShare is what the wrapper task holds (for a statically
	// partitioned node without wrapper: the part Mesos does not offer).
	KubernetesShare Resources `json:"kubernetesShare"`
	// Allocatable is the Kubernetes Node's allocatable (what pods may request).
	Allocatable Resources `json:"kubernetesAllocatable"`
	// PodRequests sums the requests of the node's non-terminal pods.
	PodRequests Resources `json:"podRequests"`
	// Pods counts those pods.
	Pods int `json:"pods"`
	// Cordoned is true when the Kubernetes node is unschedulable.
	Cordoned bool `json:"cordoned,omitempty"`
}

// MesosUsed is all Mesos allocations on the node, the wrapper included.
func (n Node) MesosUsed() Resources { return n.MesosAllocated.Add(n.KubernetesShare) }

// MesosFree is the room Mesos tasks still have: total − allocations − share.
func (n Node) MesosFree() Resources { return n.Total.Sub(n.MesosUsed()) }

// KubernetesFree is the room pods still have: allocatable − requests.
func (n Node) KubernetesFree() Resources { return n.Allocatable.Sub(n.PodRequests) }

// Check verifies the node's invariants: Mesos allocations incl. the wrapper
// ≤ total, pod requests ≤ allocatable. The error names node, side and resource.
func (n Node) Check() error {
	if r, have, want := n.MesosUsed().Exceeds(n.Total); r != "" {
		return &OverCommitError{Node: n.Name, Side: SideMesos, Resource: r, Need: have, Limit: want}
	}
	pr := n.PodRequests
	pr.Ports = 0
	al := n.Allocatable
	al.Ports = 0
	if r, have, want := pr.Exceeds(al); r != "" {
		return &OverCommitError{Node: n.Name, Side: SideKubernetes, Resource: r, Need: have, Limit: want}
	}
	return nil
}

// Cluster is every node, sorted by name.
type Cluster struct {
	// Nodes are the nodes, sorted by name.
	Nodes []Node `json:"nodes"`
}

// Totals sums the nodes.
type Totals struct {
	// Nodes counts nodes, Joined those in Kubernetes.
	Nodes  int `json:"nodes"`
	Joined int `json:"joined"`
	// Total ... PodRequests are sums of the node fields of the same name.
	Total           Resources `json:"total"`
	MesosAllocated  Resources `json:"mesosAllocated"`
	MesosTasks      int       `json:"mesosTasks"`
	KubernetesShare Resources `json:"kubernetesShare"`
	Allocatable     Resources `json:"kubernetesAllocatable"`
	PodRequests     Resources `json:"podRequests"`
	Pods            int       `json:"pods"`
	// MesosFree and KubernetesFree are the free room on each side.
	MesosFree      Resources `json:"mesosFree"`
	KubernetesFree Resources `json:"kubernetesFree"`
}

// Totals sums every node.
func (c Cluster) Totals() Totals {
	var t Totals
	for _, n := range c.Nodes {
		t.Nodes++
		if n.Joined {
			t.Joined++
		}
		t.Total = t.Total.Add(n.Total)
		t.MesosAllocated = t.MesosAllocated.Add(n.MesosAllocated)
		t.MesosTasks += n.MesosTasks
		t.KubernetesShare = t.KubernetesShare.Add(n.KubernetesShare)
		t.Allocatable = t.Allocatable.Add(n.Allocatable)
		t.PodRequests = t.PodRequests.Add(n.PodRequests)
		t.Pods += n.Pods
		t.MesosFree = t.MesosFree.Add(n.MesosFree())
		t.KubernetesFree = t.KubernetesFree.Add(n.KubernetesFree())
	}
	return t
}

// Check verifies every node's invariants and returns the first violation.
func (c Cluster) Check() error {
	for _, n := range c.Nodes {
		if err := n.Check(); err != nil {
			return err
		}
	}
	return nil
}

// Node returns the named node (by name, hostname or agent id).
func (c Cluster) Node(name string) (Node, int, bool) {
	for i, n := range c.Nodes {
		if n.Name == name || n.Hostname == name || (n.AgentID != "" && n.AgentID == name) {
			return n, i, true
		}
	}
	return Node{}, -1, false
}

// Sort orders the nodes by name.
func (c *Cluster) Sort() {
	sort.Slice(c.Nodes, func(i, j int) bool { return c.Nodes[i].Name < c.Nodes[j].Name })
}

// Report is what `switchyard capacity -o json` prints: the nodes and the totals.
type Report struct {
	// Nodes are the per-node rows, each with its free room.
	Nodes []NodeReport `json:"nodes"`
	// Totals sums them.
	Totals Totals `json:"totals"`
}

// NodeReport is a Node with its derived free room.
type NodeReport struct {
	Node
	// MesosFree is total − mesosAllocated − kubernetesShare.
	MesosFree Resources `json:"mesosFree"`
	// KubernetesFree is kubernetesAllocatable − podRequests.
	KubernetesFree Resources `json:"kubernetesFree"`
	// Violation is the node's invariant violation, if any.
	Violation string `json:"violation,omitempty"`
}

// Report builds the printed report.
func (c Cluster) Report() Report {
	r := Report{Nodes: make([]NodeReport, 0, len(c.Nodes)), Totals: c.Totals()}
	for _, n := range c.Nodes {
		nr := NodeReport{Node: n, MesosFree: n.MesosFree(), KubernetesFree: n.KubernetesFree()}
		if err := n.Check(); err != nil {
			nr.Violation = err.Error()
		}
		r.Nodes = append(r.Nodes, nr)
	}
	return r
}
