package capacity

import "fmt"

// Reservations are the kubelet's node-allocatable inputs, in Mesos units.
// EvictionHard uses mem (memory.available) and disk (nodefs.available) only.
type Reservations struct {
	// SystemReserved is what the kubelet hides for the system: on a shared
	// node, the Mesos share (total − the Kubernetes share).
	SystemReserved Resources `json:"systemReserved"`
	// KubeReserved is the kubelet's own overhead, carved from the share.
	KubeReserved Resources `json:"kubeReserved"`
	// EvictionHard is the hard eviction threshold, carved from the share.
	EvictionHard Resources `json:"evictionHard"`
}

// Allocatable is the kubelet's node-allocatable rule, the one place it is
// computed: allocatable = total − systemReserved − kubeReserved − evictionHard.
// Ports do not take part. A negative result is an error naming the resource.
func Allocatable(node string, total Resources, r Reservations) (Resources, error) {
	a := total.Sub(r.SystemReserved).Sub(r.KubeReserved).Sub(r.EvictionHard)
	a.Ports = 0
	for _, q := range a.quantities(Resources{}) {
		if q.v < -epsilon {
			return Resources{}, fmt.Errorf("node %s: %s: systemReserved + kubeReserved + evictionHard exceed the node total by %s%s", node, q.name, Fmt(-q.v), unit(q.name))
		}
	}
	return a.NonNegative(), nil
}

// Overhead is the policy for what a share gives up to the kubelet itself:
// kubeReserved and the hard eviction threshold, both carved out of the
// share (the wrapper task holds them on the Mesos side, so Mesos never
// counts on them).
type Overhead struct {
	// KubeReserved is the kubelet's reservation (cpus, mem, disk).
	KubeReserved Resources `json:"kubeReserved"`
	// EvictionHard is the eviction threshold (mem, disk; cpus ignored).
	EvictionHard Resources `json:"evictionHard"`
}

// DefaultOverhead is 0.1 cpu and 256 MiB for the kubelet, and evictions
// below 100 MiB of free memory or 1024 MiB of free disk.
func DefaultOverhead() Overhead {
	return Overhead{
		KubeReserved: Resources{CPUs: 0.1, Mem: 256},
		EvictionHard: Resources{Mem: 100, Disk: 1024},
	}
}

// ReservationsFor computes a node's reservations for a Kubernetes share:
// systemReserved = total − share (the Mesos share), and kubeReserved and
// evictionHard from the overhead, clamped so they never exceed the share
// (a zero share gets zero of each, hence zero allocatable). Allocatable of
// the result is share − kubeReserved − evictionHard.
func ReservationsFor(node string, total, share Resources, o Overhead) (Reservations, error) {
	share.Ports = 0
	total.Ports = 0
	if n, have, want := share.Exceeds(total); n != "" {
		return Reservations{}, &OverCommitError{Node: node, Side: SideMesos, Resource: n, Need: have, Limit: want, Context: "kubernetes share larger than the node"}
	}
	kr := o.KubeReserved.NonNegative().Min(share)
	kr.Ports = 0
	ev := o.EvictionHard.NonNegative()
	ev.CPUs, ev.Ports = 0, 0
	ev = ev.Min(share.Sub(kr).NonNegative())
	return Reservations{SystemReserved: total.Sub(share).NonNegative(), KubeReserved: kr, EvictionHard: ev}, nil
}

// ShareAllocatable is the allocatable a share gives on a node (through Allocatable).
func ShareAllocatable(node string, total, share Resources, o Overhead) (Resources, error) {
	r, err := ReservationsFor(node, total, share, o)
	if err != nil {
		return Resources{}, err
	}
	return Allocatable(node, Resources{CPUs: total.CPUs, Mem: total.Mem, Disk: total.Disk}, r)
}

// ShareFor is the inverse: the smallest share whose allocatable covers
// want: want plus the overhead, for each resource want asks for (a share
// with no disk gets no disk eviction threshold).
func ShareFor(want Resources, o Overhead) Resources {
	ev := o.EvictionHard.NonNegative()
	ev.CPUs = 0
	over := o.KubeReserved.NonNegative().Add(ev)
	s := Resources{}
	if want.CPUs > 0 {
		s.CPUs = want.CPUs + over.CPUs
	}
	if want.Mem > 0 {
		s.Mem = want.Mem + over.Mem
	}
	if want.Disk > 0 {
		s.Disk = want.Disk + over.Disk
	}
	return s
}

// MinWrapperCPUs is the least cpus a Marathon app may ask for (Marathon
// refuses less than 0.001): a "zero" share is a wrapper holding this much,
// which kubeReserved absorbs, so the node still has zero allocatable.
const MinWrapperCPUs = 0.001

// WrapperShare normalizes a share to what a wrapper task can hold (cpus at
// least MinWrapperCPUs, no ports).
func WrapperShare(r Resources) Resources {
	r.Ports = 0
	if r.CPUs < MinWrapperCPUs {
		r.CPUs = MinWrapperCPUs
	}
	return r
}
