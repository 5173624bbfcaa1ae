// Package capacity owns the shared-node capacity model: for each node and
// for the cluster, its total, what Mesos allocates, the Kubernetes share
// (the kubelet wrapper task's resources), what pods request inside it, and
// the free room on each side; the node-allocatable rule
// (allocatable = total − systemReserved − kubeReserved − evictionHard);
// the invariants every planned change must keep; the planner that grows or
// shrinks shares node by node without ever over-committing a node; and the
// wrapper app and kubelet configuration a plan emits.
//
// The package is pure: it reads nothing and writes nothing. Inventory
// readers live in capacity/inventory, alerts in capacity/monitor.
package capacity

import (
	"fmt"
	"math"
	"strconv"
)

// Resources is an amount of node resources in Mesos units: cpus (cores),
// mem and disk in MiB, ports as a count of host ports.
type Resources struct {
	// CPUs is the number of cores.
	CPUs float64 `json:"cpus"`
	// Mem is memory in MiB.
	Mem float64 `json:"mem"`
	// Disk is disk space in MiB.
	Disk float64 `json:"disk"`
	// Ports is a number of host ports (Mesos side only).
	Ports int `json:"ports,omitempty"`
}

// epsilon absorbs float rounding in comparisons (1e-6 of a core or MiB).
const epsilon = 1e-6

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{CPUs: r.CPUs + o.CPUs, Mem: r.Mem + o.Mem, Disk: r.Disk + o.Disk, Ports: r.Ports + o.Ports}
}

// Sub returns r − o.
func (r Resources) Sub(o Resources) Resources {
	return Resources{CPUs: r.CPUs - o.CPUs, Mem: r.Mem - o.Mem, Disk: r.Disk - o.Disk, Ports: r.Ports - o.Ports}
}

// Scale returns r × f (ports rounded up).
func (r Resources) Scale(f float64) Resources {
	return Resources{CPUs: r.CPUs * f, Mem: r.Mem * f, Disk: r.Disk * f, Ports: int(math.Ceil(float64(r.Ports) * f))}
}

// Max returns the larger of r and o per resource.
func (r Resources) Max(o Resources) Resources {
	return Resources{CPUs: math.Max(r.CPUs, o.CPUs), Mem: math.Max(r.Mem, o.Mem), Disk: math.Max(r.Disk, o.Disk), Ports: max(r.Ports, o.Ports)}
}

// Min returns the smaller of r and o per resource.
func (r Resources) Min(o Resources) Resources {
	return Resources{CPUs: math.Min(r.CPUs, o.CPUs), Mem: math.Min(r.Mem, o.Mem), Disk: math.Min(r.Disk, o.Disk), Ports: min(r.Ports, o.Ports)}
}

// NonNegative clamps every resource at zero.
func (r Resources) NonNegative() Resources { return r.Max(Resources{}) }

// IsZero reports whether every resource is (within rounding) zero.
func (r Resources) IsZero() bool {
	return math.Abs(r.CPUs) < epsilon && math.Abs(r.Mem) < epsilon && math.Abs(r.Disk) < epsilon && r.Ports == 0
}

// Equal reports whether r and o are equal within rounding.
func (r Resources) Equal(o Resources) bool { return r.Sub(o).IsZero() }

// Exceeds returns the first resource in which r is larger than limit (name,
// amount, limit), or "" when r fits in limit.
func (r Resources) Exceeds(limit Resources) (name string, have, want float64) {
	for _, q := range r.quantities(limit) {
		if q.v > q.limit+epsilon*math.Max(1, math.Abs(q.limit)) {
			return q.name, q.v, q.limit
		}
	}
	return "", 0, 0
}

// Fits reports whether r fits in limit in every resource.
func (r Resources) Fits(limit Resources) bool {
	n, _, _ := r.Exceeds(limit)
	return n == ""
}

type quantity struct {
	name     string
	v, limit float64
}

func (r Resources) quantities(limit Resources) []quantity {
	return []quantity{
		{"cpus", r.CPUs, limit.CPUs}, {"mem", r.Mem, limit.Mem},
		{"disk", r.Disk, limit.Disk}, {"ports", float64(r.Ports), float64(limit.Ports)},
	}
}

// Get returns one resource by name (cpus, mem, disk, ports).
func (r Resources) Get(name string) float64 {
	switch name {
	case "cpus":
		return r.CPUs
	case "mem":
		return r.Mem
	case "disk":
		return r.Disk
	case "ports":
		return float64(r.Ports)
	}
	return 0
}

// String renders "cpus=1.5 mem=2048 disk=0 ports=3".
func (r Resources) String() string {
	s := "cpus=" + Fmt(r.CPUs) + " mem=" + Fmt(r.Mem) + " disk=" + Fmt(r.Disk)
	if r.Ports != 0 {
		s += " ports=" + strconv.Itoa(r.Ports)
	}
	return s
}

// Fmt renders a quantity in its shortest form, rounded to 1e-3.
func Fmt(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// unit names the unit of a resource for messages.
func unit(name string) string {
	switch name {
	case "mem", "disk":
		return " MiB"
	case "ports":
		return " ports"
	}
	return ""
}

// OverCommitError says that one resource of one node would be over-committed.
type OverCommitError struct {
	// Node is the node's name.
	Node string
	// Side is "mesos" (Mesos allocations incl. the wrapper vs the node total)
	// or "kubernetes" (pod requests vs the node's allocatable).
	Side string
	// Resource is cpus, mem, disk or ports.
	Resource string
	// Need is the sum that would be allocated, Limit what the node has.
	Need, Limit float64
	// Context says what change was checked (may be empty).
	Context string
}

// Error names the node, the side and the resource.
func (e *OverCommitError) Error() string {
	what := "Mesos allocations (incl. the kubelet wrapper)"
	limit := "node total"
	if e.Side == SideKubernetes {
		what, limit = "pod requests", "node allocatable"
	}
	msg := fmt.Sprintf("node %s: %s: %s %s%s exceed the %s %s%s", e.Node, e.Resource, what, Fmt(e.Need), unit(e.Resource), limit, Fmt(e.Limit), unit(e.Resource))
	if e.Context != "" {
		msg = e.Context + ": " + msg
	}
	return msg
}

// The two sides of a node.
const (
	SideMesos      = "mesos"
	SideKubernetes = "kubernetes"
)
