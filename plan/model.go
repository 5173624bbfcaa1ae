package plan

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/capacity"
)

// Resources are node or pod resources in Mesos units (cpus in cores, mem
// and disk in MiB), as the capacity model counts them.
type Resources = capacity.Resources

// Inventory is everything the planner reads: both platforms' live state on
// the shared nodes and the apps to migrate. Build it with plan/inventory.
type Inventory struct {
	// Nodes are the shared nodes (and Kubernetes-only nodes), any order.
	Nodes []Node `json:"nodes"`
	// Apps are the apps to migrate (Marathon apps described by an app.yaml).
	Apps []App `json:"apps"`
	// Settled names apps that need no migration (already on Kubernetes, or
	// not running on Marathon): a dependency on them is satisfied.
	Settled []string `json:"settled,omitempty"`
	// NodePorts are Kubernetes Service NodePorts, reserved on every node.
	NodePorts []PortUse `json:"nodePorts,omitempty"`
	// Overhead is the kubelet overhead a share gives up (default
	// capacity.DefaultOverhead).
	Overhead *capacity.Overhead `json:"overhead,omitempty"`
}

// Node is one node as both platforms see it.
type Node struct {
	// Name is the Kubernetes Node name (or the name it will join with).
	Name string `json:"name"`
	// Hostname is the Mesos agent hostname ($HOST of Marathon tasks).
	Hostname string `json:"hostname,omitempty"`
	// Total is the node's total.
	Total Resources `json:"total"`
	// MesosAllocated is what Mesos tasks other than the kubelet wrapper hold.
	MesosAllocated Resources `json:"mesosAllocated"`
	// Share is the Kubernetes share (the wrapper task's resources).
	Share Resources `json:"share"`
	// Allocatable is the Kubernetes Node's allocatable.
	Allocatable Resources `json:"allocatable"`
	// PodRequests sums the requests of the node's pods.
	PodRequests Resources `json:"podRequests"`
	// Joined is true when the node is a Kubernetes node.
	Joined bool `json:"joined"`
	// Cordoned is true when pods may not be scheduled on it (unschedulable,
	// not Ready, or tainted NoSchedule/NoExecute).
	Cordoned bool `json:"cordoned,omitempty"`
	// Labels are the Node's labels (for a node not yet in Kubernetes: its
	// Mesos attributes and kubernetes.io/hostname), matched by apps'
	// NodeSelector.
	Labels map[string]string `json:"labels,omitempty"`
	// KubernetesOnly is true for a node that is no Mesos agent (its share
	// cannot grow).
	KubernetesOnly bool `json:"kubernetesOnly,omitempty"`
	// Tasks are the Marathon tasks on the node (wrapper excluded).
	Tasks []Task `json:"tasks,omitempty"`
	// HostPorts are the host ports pods use on the node.
	HostPorts []PortUse `json:"hostPorts,omitempty"`
}

// Task is one Marathon task on a node.
type Task struct {
	// ID is the task id; App its Marathon app id.
	ID  string `json:"id"`
	App string `json:"app"`
	// Resources are what the task holds on the Mesos side.
	Resources Resources `json:"resources"`
	// Ports are its host ports.
	Ports []int `json:"ports,omitempty"`
}

// PortUse is a host port held by a Kubernetes object.
type PortUse struct {
	// Port is the port number.
	Port int `json:"port"`
	// Owner names the holder ("service shop/web", "pod shop/web-1").
	Owner string `json:"owner"`
}

// App is one app to migrate.
type App struct {
	// Name is the app.yaml name; MarathonID the Marathon app id.
	Name       string `json:"name"`
	MarathonID string `json:"marathonId"`
	// Owner and Priority come from app.yaml.
	Owner    string `json:"owner,omitempty"`
	Priority int    `json:"priority,omitempty"`
	// DependsOn names the apps it depends on (app.yaml dependsOn, plus
	// Marathon dependencies that are apps of the inventory).
	DependsOn []string `json:"dependsOn,omitempty"`
	// Instances is the Marathon instance count (pods to run on Kubernetes).
	Instances int `json:"instances"`
	// Marathon is the per-instance cpus/mem/disk of the Marathon definition.
	Marathon Resources `json:"marathon"`
	// Requests and Limits are what app.yaml sets (nil: not given), per
	// resource (quantities already in Mesos units).
	Requests *Partial `json:"requests,omitempty"`
	Limits   *Partial `json:"limits,omitempty"`
	// Observed is the observed peak usage per instance, when known.
	Observed *Resources `json:"observed,omitempty"`
	// HostPorts are the fixed host ports each pod takes on its node.
	HostPorts []int `json:"hostPorts,omitempty"`
	// OnePerNode keeps its pods on distinct nodes (required pod
	// anti-affinity on the hostname, as Marathon's hostname:UNIQUE converts).
	OnePerNode bool `json:"onePerNode,omitempty"`
	// NodeSelector is the pods' required node affinity: every requirement
	// must match the node's labels.
	NodeSelector []Requirement `json:"nodeSelector,omitempty"`
	// Route is the app's public route; Gates its migration gates.
	Route Route `json:"route"`
	Gates Gates `json:"gates"`
	// Namespace is the Kubernetes namespace of its release.
	Namespace string `json:"namespace,omitempty"`
}

// Requirement is one node selector requirement (Kubernetes semantics:
// In, NotIn, Exists, DoesNotExist).
type Requirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// Matches reports whether labels satisfy the requirement.
func (r Requirement) Matches(labels map[string]string) bool {
	v, ok := labels[r.Key]
	switch r.Operator {
	case "Exists":
		return ok
	case "DoesNotExist":
		return !ok
	case "In":
		return ok && containsString(r.Values, v)
	case "NotIn":
		return !ok || !containsString(r.Values, v)
	}
	return false
}

func containsString(v []string, s string) bool {
	for _, x := range v {
		if x == s {
			return true
		}
	}
	return false
}

// Partial is a set of resources of which only some are given.
type Partial struct {
	CPUs *float64 `json:"cpus,omitempty"`
	Mem  *float64 `json:"mem,omitempty"`
	Disk *float64 `json:"disk,omitempty"`
}

// Route is where the app answers at the shared load balancer.
type Route struct {
	// Name is the route's name at nginx (the app name).
	Name string `json:"name"`
	// Host and Path match requests; Port selects the backend port.
	Host string `json:"host,omitempty"`
	Path string `json:"path"`
	Port string `json:"port,omitempty"`
}

// Gates are what a migration step must pass.
type Gates struct {
	// Steps are the percentages of traffic sent to Kubernetes.
	Steps []int `json:"steps"`
	// PausePerStep is how long each step is watched; Soak how long the app
	// runs at 100% before Marathon is scaled down.
	PausePerStep Duration `json:"pausePerStep"`
	Soak         Duration `json:"soak"`
	// MaxErrorRate (0..1) and MaxP99Latency are the gates (0: none).
	MaxErrorRate  float64  `json:"maxErrorRate"`
	MaxP99Latency Duration `json:"maxP99Latency,omitempty"`
	// MinRequests is how many requests a step must see before it is judged.
	MinRequests int `json:"minRequests,omitempty"`
	// AutoRollback moves traffic back to Marathon when a gate fails.
	AutoRollback bool `json:"autoRollback"`
}

// Duration is a time.Duration written in JSON as a Go duration string ("30s").
type Duration time.Duration

// MarshalJSON writes "30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "30s" (or a number of nanoseconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration: want a string such as \"30s\": %w", err)
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Order says which end of a dependency migrates first.
type Order string

// Orders.
const (
	// OrderDependenciesFirst migrates an app after the apps it depends on.
	OrderDependenciesFirst Order = "dependencies-first"
	// OrderDependentsFirst migrates an app after the apps that depend on it.
	OrderDependentsFirst Order = "dependents-first"
)

// Options tune Make. The zero value gives the defaults.
type Options struct {
	// Order is OrderDependenciesFirst (default) or OrderDependentsFirst.
	Order Order `json:"order"`
	// MaxWaveSize bounds the apps of a wave (default 10).
	MaxWaveSize int `json:"maxWaveSize"`
	// RollbackWindow is for how many later waves a migrated app keeps its
	// rollback room on the Mesos side (0 means the default 1: while the
	// next wave runs; -1: until the end of the plan).
	RollbackWindow int `json:"rollbackWindow"`
	// NoRollbackRoom turns the rollback-room reservation off (apps are
	// finalized right after their wave).
	NoRollbackRoom bool `json:"noRollbackRoom,omitempty"`
	// Headroom multiplies observed usage into requests (default 1.25).
	Headroom float64 `json:"headroom"`
	// NoShareChanges checks the current shares only (never proposes growth).
	NoShareChanges bool `json:"noShareChanges,omitempty"`
	// NoJoin keeps nodes that are not in Kubernetes out of the plan.
	NoJoin bool `json:"noJoin,omitempty"`
}

// DefaultMaxWaveSize is the wave size when none is given.
const DefaultMaxWaveSize = 10

func (o Options) complete() (Options, error) {
	switch o.Order {
	case "":
		o.Order = OrderDependenciesFirst
	case OrderDependenciesFirst, OrderDependentsFirst:
	default:
		return o, fmt.Errorf("order %q: use %s or %s", o.Order, OrderDependenciesFirst, OrderDependentsFirst)
	}
	if o.MaxWaveSize == 0 {
		o.MaxWaveSize = DefaultMaxWaveSize
	}
	if o.MaxWaveSize < 0 {
		return o, fmt.Errorf("max wave size %d: must be at least 1", o.MaxWaveSize)
	}
	if o.RollbackWindow == 0 {
		o.RollbackWindow = 1
	}
	if o.RollbackWindow < -1 {
		return o, fmt.Errorf("rollback window %d: use a number of waves (>= 1) or -1 for the whole plan", o.RollbackWindow)
	}
	if o.Headroom == 0 {
		o.Headroom = 1.25
	}
	if o.Headroom < 1 {
		return o, fmt.Errorf("headroom %g: must be at least 1", o.Headroom)
	}
	return o, nil
}
