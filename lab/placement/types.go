// Package placement decides where one task of a Marathon app runs among the
// lab's agents, as Marathon does when it matches a Mesos offer: resources
// (cpus, mem, disk, gpus), host ports from the agent's port ranges, accepted
// resource roles and the app's constraints (UNIQUE, CLUSTER, GROUP_BY, LIKE,
// UNLIKE, MAX_PER, IS). It is pure: no I/O, no clock, no randomness; the same
// input always gives the same decision.
//
// When no agent fits, the error is an *Unplaceable that says, per reason and
// agent, why — the material of Marathon's /v2/queue processedOffersSummary.
package placement

import (
	"fmt"
	"math"

	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/mesos"
)

// Resources is an amount of agent resources in Mesos units (cpus, MiB). Its
// fields match labconfig.Resources, so one converts to the other directly.
type Resources struct {
	// CPUs is the number of CPU shares.
	CPUs float64 `json:"cpus"`
	// Mem is the memory in MiB.
	Mem float64 `json:"mem"`
	// Disk is the disk space in MiB.
	Disk float64 `json:"disk,omitempty"`
	// GPUs is the number of GPUs.
	GPUs float64 `json:"gpus,omitempty"`
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{CPUs: r.CPUs + o.CPUs, Mem: r.Mem + o.Mem, Disk: r.Disk + o.Disk, GPUs: r.GPUs + o.GPUs}
}

// PortRange is an inclusive range of host ports an agent offers: a Mesos
// range (its fields match labconfig.PortRange).
type PortRange = mesos.Range

// Running is a running or staged task on an agent, as constraints see it.
type Running struct {
	// AppID is the Marathon app id of the task ("/web").
	AppID string
}

// Agent is one lab agent (Mesos agent / lab node) with its current use.
type Agent struct {
	// ID is the agent id; ties between equally good agents go to the lowest.
	ID string
	// Hostname is the value of the "hostname" constraint field.
	Hostname string
	// Attributes are the agent's attributes (constraint fields), as text.
	Attributes map[string]string
	// Role is the role the agent's resources are reserved for; "" or "*"
	// when unreserved.
	Role string
	// Total is the agent's capacity.
	Total Resources
	// Used is what running and staged tasks hold.
	Used Resources
	// PortRanges are the host ports the agent offers.
	PortRanges []PortRange
	// UsedPorts are host ports already taken on the agent.
	UsedPorts map[int]bool
	// Tasks are the running and staged tasks on the agent (all apps).
	Tasks []Running
}

// Request is one task to place.
type Request struct {
	// AppID is the app the task belongs to.
	AppID string
	// Resources is what the task needs.
	Resources Resources
	// Ports are the host ports wanted: 0 for any free port from the agent's
	// ranges, a number for that exact port (requirePorts, a fixed hostPort).
	Ports []int
	// Constraints are the app's constraints, all of which must hold.
	Constraints []Constraint
	// AcceptedRoles are the roles whose resources the task may use
	// (acceptedResourceRoles); empty accepts any role.
	AcceptedRoles []string
}

// Decision is where the task goes.
type Decision struct {
	// AgentID is the chosen agent.
	AgentID string
	// Ports are the host ports given to the task, one per requested port in
	// order (dynamic ones chosen lowest-first from the agent's free ports).
	Ports []int
}

// The constraint operators Marathon supports (Constraint.Operator): the
// Marathon client's.
const (
	OpUnique  = marathon.OpUnique
	OpCluster = marathon.OpCluster
	OpGroupBy = marathon.OpGroupBy
	OpLike    = marathon.OpLike
	OpUnlike  = marathon.OpUnlike
	OpMaxPer  = marathon.OpMaxPer
	OpIs      = marathon.OpIs
)

// HostnameField is the constraint field that means the agent's hostname;
// every other field names an agent attribute.
const HostnameField = "hostname"

// Constraint is one app constraint, already split into its parts
// (["rack","GROUP_BY","3"] or "rack:GROUP_BY:3").
type Constraint struct {
	// Field is "hostname" or an agent attribute name.
	Field string
	// Operator is one of the Op* constants (case-insensitive).
	Operator string
	// Value is the operator's argument, empty when it takes none.
	Value string
}

// String renders the constraint in Marathon's legacy form, "field:OP[:value]".
func (c Constraint) String() string {
	if c.Value == "" {
		return c.Field + ":" + c.Operator
	}
	return c.Field + ":" + c.Operator + ":" + c.Value
}

// Reason is why an agent cannot take a task, named as Marathon names it in
// /v2/queue's processedOffersSummary.
type Reason string

// Rejection reasons.
const (
	UnfulfilledRole       Reason = "UnfulfilledRole"
	UnfulfilledConstraint Reason = "UnfulfilledConstraint"
	// NoCorrespondingReservationFound is part of Marathon's funnel; the lab
	// has no resident tasks, so Place never reports it.
	NoCorrespondingReservationFound Reason = "NoCorrespondingReservationFound"
	InsufficientCpus                Reason = "InsufficientCpus"
	InsufficientMemory              Reason = "InsufficientMemory"
	InsufficientDisk                Reason = "InsufficientDisk"
	InsufficientGpus                Reason = "InsufficientGpus"
	InsufficientPorts               Reason = "InsufficientPorts"
)

// Reasons lists every Reason in the order of Marathon's reason funnel
// (NoOfferMatchReason.reasonFunnel): an offer declined for several reasons
// counts for the first of them.
var Reasons = []Reason{UnfulfilledRole, UnfulfilledConstraint, NoCorrespondingReservationFound, InsufficientCpus, InsufficientMemory, InsufficientDisk, InsufficientGpus, InsufficientPorts}

// milli is a resource amount in thousandths, the fixed-point precision Mesos
// uses for scalars, so that ten 0.1-cpu tasks fit exactly on one cpu.
type milli int64

func toMilli(f float64) milli { return milli(math.Round(f * 1000)) }

type amounts struct{ cpus, mem, disk, gpus milli }

func toAmounts(r Resources) amounts {
	return amounts{toMilli(r.CPUs), toMilli(r.Mem), toMilli(r.Disk), toMilli(r.GPUs)}
}

func (a amounts) sub(b amounts) amounts {
	return amounts{a.cpus - b.cpus, a.mem - b.mem, a.disk - b.disk, a.gpus - b.gpus}
}

func (a amounts) add(b amounts) amounts {
	return amounts{a.cpus + b.cpus, a.mem + b.mem, a.disk + b.disk, a.gpus + b.gpus}
}

func (r Request) validate() error {
	res := r.Resources
	for _, v := range []struct {
		name string
		f    float64
	}{{"cpus", res.CPUs}, {"mem", res.Mem}, {"disk", res.Disk}, {"gpus", res.GPUs}} {
		if v.f < 0 || math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return fmt.Errorf("place app %s: %s %v is not a non-negative number", r.AppID, v.name, v.f)
		}
	}
	seen := map[int]bool{}
	for i, p := range r.Ports {
		if p < 0 || p > 65535 {
			return fmt.Errorf("place app %s: ports[%d] = %d is not within 0-65535 (0 means any free port)", r.AppID, i, p)
		}
		if p != 0 && seen[p] {
			return fmt.Errorf("place app %s: ports[%d] = %d is requested twice", r.AppID, i, p)
		}
		seen[p] = true
	}
	return nil
}
