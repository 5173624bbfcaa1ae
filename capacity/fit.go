package capacity

import (
	"fmt"
	"math"
	"sort"
)

// Demand is Count instances of one size on one side: a Marathon app's
// instances (Mesos side) or a workload's pods (Kubernetes side).
type Demand struct {
	// Name names the workload in messages ("" for the app itself).
	Name string
	// Each is what one instance asks for (ports are not counted).
	Each Resources
	// Count is the number of instances.
	Count int
}

// FitOptions tune Fit.
type FitOptions struct {
	// App names the app in the refusal.
	App string
	// Freed is, per node (name, hostname or agent id), what the change
	// frees there before it places anything: an updated app's current
	// tasks, an upgraded release's current pods.
	Freed map[string]Resources
}

// FitError says that a change cannot be placed without over-committing a
// node: it names the app, the node with the most room, the short resource
// and what would unblock it.
type FitError struct {
	// App and Workload name what was being placed.
	App, Workload string
	// Side is SideMesos or SideKubernetes.
	Side string
	// Each is one instance's size; Placed of Count instances fit.
	Each          Resources
	Placed, Count int
	// Node is the candidate node with the most room ("" when the side has
	// no node at all); Resource is what it is short of.
	Node, Resource string
	// Need is one instance's amount of Resource, Free what Node has free.
	Need, Free float64
}

// Error names the app, the node, the resource and what would unblock it.
func (e *FitError) Error() string {
	what := "app " + e.App
	if e.Workload != "" {
		what += " (" + e.Workload + ")"
	}
	side := "Mesos"
	if e.Side == SideKubernetes {
		side = "Kubernetes"
	}
	if e.Node == "" {
		return fmt.Sprintf("%s: refused: no node takes %s on the %s side (no node has joined it or every node is cordoned)", what, kindOf(e.Side), side)
	}
	msg := fmt.Sprintf("%s: refused, it would over-commit a node: only %d of %d instances of %s fit on the %s side; node %s has the most room but %s %s%s free of the %s%s one instance needs",
		what, e.Placed, e.Count, e.Each.String(), side, e.Node, e.Resource, Fmt(e.Free), unit(e.Resource), Fmt(e.Need), unit(e.Resource))
	short := Fmt(e.Need-math.Max(e.Free, 0)) + unit(e.Resource) + " " + e.Resource
	if e.Side == SideKubernetes {
		return msg + fmt.Sprintf("; to unblock: free %s of pod requests on node %s, grow its Kubernetes share (switchyard capacity plan), or lower the requests or replicas", short, e.Node)
	}
	return msg + fmt.Sprintf("; to unblock: free %s on node %s (scale down or move its Mesos tasks, or shrink its Kubernetes share), or lower the app's %s or instances", short, e.Node, e.Resource)
}

func kindOf(side string) string {
	if side == SideKubernetes {
		return "pods"
	}
	return "tasks"
}

// Fit places count instances of each on the nodes' free room of one side
// (see FitDemands).
func (c Cluster) Fit(side string, each Resources, count int, o FitOptions) (Cluster, error) {
	return c.FitDemands(side, []Demand{{Each: each, Count: count}}, o)
}

// FitDemands places the demands first-fit-decreasing on the free room of
// one side of the nodes: on SideMesos, the Mesos agents' total − Mesos
// allocations − the Kubernetes share (MesosFree); on SideKubernetes, the
// schedulable joined nodes' allocatable − pod requests (KubernetesFree).
// What o.Freed frees is added to a node's room first. It returns the
// cluster with the instances added (so a set of apps is checked one after
// the other), or a *FitError when one instance fits nowhere. Ports and
// placement constraints are not considered.
func (c Cluster) FitDemands(side string, demands []Demand, o FitOptions) (Cluster, error) {
	type item struct {
		d    int
		each Resources
	}
	var items []item
	total := 0
	for i, d := range demands {
		for k := 0; k < d.Count; k++ {
			items = append(items, item{i, noPorts(d.Each).NonNegative()})
		}
		total += max(d.Count, 0)
	}
	sort.SliceStable(items, func(i, j int) bool { return larger(items[i].each, items[j].each) })

	out := Cluster{Nodes: append([]Node(nil), c.Nodes...)}
	type cand struct {
		i    int
		free Resources
	}
	var cands []cand
	for i, n := range out.Nodes {
		freed := Resources{}
		for _, k := range []string{n.Name, n.Hostname, n.AgentID} {
			if f, ok := o.Freed[k]; ok && k != "" {
				freed = noPorts(f)
				break
			}
		}
		switch side {
		case SideKubernetes:
			if !n.Joined || n.Cordoned {
				continue
			}
			out.Nodes[i].PodRequests = n.PodRequests.Sub(freed).NonNegative()
			cands = append(cands, cand{i, noPorts(out.Nodes[i].KubernetesFree())})
		default:
			if n.AgentID == "" {
				continue
			}
			out.Nodes[i].MesosAllocated = n.MesosAllocated.Sub(freed).NonNegative()
			cands = append(cands, cand{i, noPorts(out.Nodes[i].MesosFree())})
		}
	}
	placed := 0
	for _, it := range items {
		at := -1
		for j := range cands {
			if it.each.Fits(cands[j].free) {
				at = j
				break
			}
		}
		if at < 0 {
			d := demands[it.d]
			e := &FitError{App: o.App, Workload: d.Name, Side: side, Each: it.each, Placed: placed, Count: total}
			best := -1.0
			for _, cd := range cands {
				ratio, res := room(it.each, cd.free)
				if ratio > best {
					best = ratio
					e.Node, e.Resource = out.Nodes[cd.i].Name, res
					e.Need, e.Free = it.each.Get(res), cd.free.Get(res)
				}
			}
			return c, e
		}
		cands[at].free = cands[at].free.Sub(it.each)
		n := &out.Nodes[cands[at].i]
		if side == SideKubernetes {
			n.PodRequests = n.PodRequests.Add(it.each)
			n.Pods++
		} else {
			n.MesosAllocated = n.MesosAllocated.Add(it.each)
			n.MesosTasks++
		}
		placed++
	}
	return out, nil
}

// larger orders instances for first-fit-decreasing: by cpus, then mem, then disk.
func larger(a, b Resources) bool {
	if a.CPUs != b.CPUs {
		return a.CPUs > b.CPUs
	}
	if a.Mem != b.Mem {
		return a.Mem > b.Mem
	}
	return a.Disk > b.Disk
}

// room is how much of one instance free covers (the smallest free/need
// ratio over the resources it asks for) and the resource of that ratio.
func room(each, free Resources) (float64, string) {
	ratio, res := math.Inf(1), ""
	for _, q := range each.quantities(free) {
		if q.name == "ports" || q.v <= epsilon {
			continue
		}
		r := math.Max(q.limit, 0) / q.v
		if r < ratio {
			ratio, res = r, q.name
		}
	}
	if res == "" { // asks for nothing, yet does not fit: a negative free amount
		for _, q := range each.quantities(free) {
			if q.name != "ports" && q.v > q.limit+epsilon {
				return 0, q.name
			}
		}
		return 0, "cpus"
	}
	return ratio, res
}
