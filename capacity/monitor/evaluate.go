// Package monitor watches both sides of the shared nodes and raises
// congestion alerts: a pure evaluation with hysteresis (Evaluate), the
// readings taken from the capacity model (Readings), and a Monitor that
// polls an inventory, logs alerts with log/slog, exports Prometheus metrics
// (switchyard_node_* and switchyard_cluster_*) and optionally POSTs each
// alert as JSON to a webhook.
package monitor

import (
	"fmt"
	"math"
	"sort"

	"github.com/switchyard/switchyard/capacity"
)

// Thresholds are utilization fractions: an alert is raised at or above
// Raise and cleared only below Clear, so a value between the two keeps the
// current state (no flapping around one threshold).
type Thresholds struct {
	Raise float64 `json:"raise"`
	Clear float64 `json:"clear"`
}

// DefaultThresholds raise at 85% and clear below 75%.
func DefaultThresholds() Thresholds { return Thresholds{Raise: 0.85, Clear: 0.75} }

// Validate checks 0 < Clear <= Raise.
func (t Thresholds) Validate() error {
	if !(t.Clear > 0 && t.Clear <= t.Raise) || math.IsNaN(t.Raise) {
		return fmt.Errorf("thresholds: want 0 < clear (%g) <= raise (%g), e.g. raise 0.85 clear 0.75", t.Clear, t.Raise)
	}
	return nil
}

// Scopes of a reading.
const (
	ScopeNode    = "node"
	ScopeCluster = "cluster"
)

// Key names one watched quantity.
type Key struct {
	// Scope is ScopeNode or ScopeCluster.
	Scope string `json:"scope"`
	// Node is the node name ("" for the cluster).
	Node string `json:"node,omitempty"`
	// Side is capacity.SideMesos or capacity.SideKubernetes.
	Side string `json:"side"`
	// Resource is cpus, mem or disk.
	Resource string `json:"resource"`
}

// String renders "node node-1 mesos cpus" / "cluster kubernetes mem".
func (k Key) String() string {
	if k.Scope == ScopeCluster {
		return "cluster " + k.Side + " " + k.Resource
	}
	return "node " + k.Node + " " + k.Side + " " + k.Resource
}

// Reading is one utilization sample: used / capacity of a key.
type Reading struct {
	Key
	// Used and Capacity are in the resource's unit (cores, MiB).
	Used     float64 `json:"used"`
	Capacity float64 `json:"capacity"`
}

// Ratio is Used/Capacity (+Inf when something is used of nothing, 0 when
// nothing of nothing).
func (r Reading) Ratio() float64 {
	if r.Capacity <= 0 {
		if r.Used > 1e-9 {
			return math.Inf(1)
		}
		return 0
	}
	return r.Used / r.Capacity
}

// State is the set of active alerts.
type State map[Key]bool

// Event kinds.
const (
	Raised  = "raised"
	Cleared = "cleared"
)

// Event is an alert raised or cleared.
type Event struct {
	Reading
	// Kind is Raised or Cleared.
	Kind string `json:"kind"`
	// Utilization is the ratio that triggered the event.
	Utilization float64 `json:"utilization"`
	// Threshold is the threshold crossed.
	Threshold float64 `json:"threshold"`
}

// Message is the alert's one-line text, naming the node, side and resource.
func (e Event) Message() string {
	u := "∞"
	if !math.IsInf(e.Utilization, 1) {
		u = fmt.Sprintf("%.0f%%", e.Utilization*100)
	}
	if e.Kind == Raised {
		return fmt.Sprintf("congestion: %s at %s (%s of %s; raise threshold %.0f%%)", e.Key, u, capacity.Fmt(e.Used), capacity.Fmt(e.Capacity), e.Threshold*100)
	}
	return fmt.Sprintf("congestion cleared: %s at %s (clear threshold %.0f%%)", e.Key, u, e.Threshold*100)
}

// Evaluate is the pure alert rule: given the active alerts and new
// readings, it returns the new active set and the events, in key order.
// An inactive key raises at ratio >= Raise; an active one clears at ratio
// < Clear (or when its reading disappears, e.g. a node left); otherwise it
// holds.
func Evaluate(prev State, readings []Reading, th Thresholds) (State, []Event) {
	next := make(State, len(prev))
	var events []Event
	seen := make(map[Key]bool, len(readings))
	for _, r := range readings {
		seen[r.Key] = true
		ratio := r.Ratio()
		active := prev[r.Key]
		switch {
		case !active && ratio >= th.Raise:
			next[r.Key] = true
			events = append(events, Event{Reading: r, Kind: Raised, Utilization: ratio, Threshold: th.Raise})
		case active && ratio < th.Clear:
			events = append(events, Event{Reading: r, Kind: Cleared, Utilization: ratio, Threshold: th.Clear})
		case active:
			next[r.Key] = true
		}
	}
	for k, active := range prev {
		if active && !seen[k] {
			events = append(events, Event{Reading: Reading{Key: k}, Kind: Cleared, Threshold: th.Clear})
		}
	}
	sort.Slice(events, func(i, j int) bool { return less(events[i].Key, events[j].Key) })
	return next, events
}

func less(a, b Key) bool {
	if a.Scope != b.Scope {
		return a.Scope == ScopeCluster
	}
	if a.Node != b.Node {
		return a.Node < b.Node
	}
	if a.Side != b.Side {
		return a.Side < b.Side
	}
	return a.Resource < b.Resource
}

var resources = []string{"cpus", "mem", "disk"}

// Readings takes the samples of a cluster: per node and for the cluster,
// the Mesos side (allocations incl. the wrapper / total) and the Kubernetes
// side (pod requests / allocatable) of cpus, mem and disk. The Kubernetes
// side is read only for joined nodes; resources of zero capacity and zero
// use are skipped.
func Readings(c capacity.Cluster) []Reading {
	out := make([]Reading, 0, len(c.Nodes)*6+6)
	var mu, mt, ku, kt capacity.Resources
	for _, n := range c.Nodes {
		used := n.MesosUsed()
		mu, mt = mu.Add(used), mt.Add(n.Total)
		for _, r := range resources {
			if n.Total.Get(r) > 0 || used.Get(r) > 0 {
				out = append(out, Reading{Key: Key{ScopeNode, n.Name, capacity.SideMesos, r}, Used: used.Get(r), Capacity: n.Total.Get(r)})
			}
		}
		if !n.Joined {
			continue
		}
		ku, kt = ku.Add(n.PodRequests), kt.Add(n.Allocatable)
		for _, r := range resources {
			if n.Allocatable.Get(r) > 0 || n.PodRequests.Get(r) > 0 {
				out = append(out, Reading{Key: Key{ScopeNode, n.Name, capacity.SideKubernetes, r}, Used: n.PodRequests.Get(r), Capacity: n.Allocatable.Get(r)})
			}
		}
	}
	for _, r := range resources {
		if mt.Get(r) > 0 || mu.Get(r) > 0 {
			out = append(out, Reading{Key: Key{Scope: ScopeCluster, Side: capacity.SideMesos, Resource: r}, Used: mu.Get(r), Capacity: mt.Get(r)})
		}
		if kt.Get(r) > 0 || ku.Get(r) > 0 {
			out = append(out, Reading{Key: Key{Scope: ScopeCluster, Side: capacity.SideKubernetes, Resource: r}, Used: ku.Get(r), Capacity: kt.Get(r)})
		}
	}
	return out
}
