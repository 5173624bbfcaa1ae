package plan

import (
	"math"
	"sort"

	"github.com/switchyard/switchyard/capacity"
)

// forever marks rollback room kept until the end of the plan.
const forever = math.MaxInt

// ghost is a migrated app's rollback room on a node: the resources (and
// host ports) its Marathon tasks held, kept free until wave until.
type ghost struct {
	app   string
	res   Resources
	ports []int
	owner string // the ports' holder in simNode.ports
	until int
}

// simNode is a node while planning.
type simNode struct {
	name     string
	total    Resources // ports dropped
	reserved Resources // Mesos side: live non-wrapper tasks + rollback room
	share    Resources
	alloc    Resources
	pods     Resources
	joined   bool
	cordoned bool
	kubeOnly bool
	labels   map[string]string
	// ports in use on the node (Marathon tasks, pod hostPorts, planned pods).
	ports  map[int]string
	ghosts []ghost
}

func (n *simNode) kubeFree() Resources { return n.alloc.Sub(n.pods) }

// headroom is what the Mesos side can still give to the share.
func (n *simNode) headroom() Resources {
	return n.total.Sub(n.reserved).Sub(n.share).NonNegative()
}

func (n *simNode) portsFree(ps []int, nodePorts map[int]string) bool {
	for _, p := range ps {
		if _, ok := nodePorts[p]; ok {
			return false
		}
		if _, ok := n.ports[p]; ok {
			return false
		}
	}
	return true
}

func (n *simNode) takePorts(ps []int, owner string) {
	if len(ps) == 0 {
		return
	}
	if n.ports == nil {
		n.ports = map[int]string{}
	}
	for _, p := range ps {
		n.ports[p] = owner
	}
}

// taskRef is a Marathon task of a plan app.
type taskRef struct {
	node int
	res  Resources
	ptr  []int
	id   string
}

// sim is the cluster while planning.
type sim struct {
	nodes     []simNode
	nodePorts map[int]string
	ov        capacity.Overhead
	tasks     map[string][]taskRef // Marathon app id -> its tasks
	scale     Resources            // largest node total per resource (sizes)
	// full marks nodes that cannot take even the smallest pod (min);
	// firstOpen is the first node not full. Placements only fill nodes;
	// a share growth reopens one.
	full      []bool
	firstOpen int
	min       Resources
}

// setMin sets the smallest pod of the plan and marks the full nodes.
func (s *sim) setMin(min Resources) {
	s.min = min
	s.full = make([]bool, len(s.nodes))
	s.firstOpen = len(s.nodes)
	for i := range s.nodes {
		s.full[i] = !s.nodes[i].open(min)
		if !s.full[i] && i < s.firstOpen {
			s.firstOpen = i
		}
	}
}

// update re-marks node i after its room changed.
func (s *sim) update(i int) {
	s.full[i] = !s.nodes[i].open(s.min)
	switch {
	case !s.full[i] && i < s.firstOpen:
		s.firstOpen = i
	case s.full[i] && i == s.firstOpen:
		for s.firstOpen < len(s.nodes) && s.full[s.firstOpen] {
			s.firstOpen++
		}
	}
}

func noPorts(r Resources) Resources { r.Ports = 0; return r }

func newSim(inv Inventory, ov capacity.Overhead) *sim {
	s := &sim{nodes: make([]simNode, len(inv.Nodes)), ov: ov, tasks: map[string][]taskRef{},
		nodePorts: make(map[int]string, len(inv.NodePorts))}
	for _, np := range inv.NodePorts {
		s.nodePorts[np.Port] = np.Owner
	}
	order := make([]int, len(inv.Nodes))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return inv.Nodes[order[a]].Name < inv.Nodes[order[b]].Name })
	for k, i := range order {
		n := &inv.Nodes[i]
		sn := simNode{name: n.Name, total: noPorts(n.Total), reserved: noPorts(n.MesosAllocated),
			share: noPorts(n.Share), alloc: noPorts(n.Allocatable), pods: noPorts(n.PodRequests),
			joined: n.Joined, cordoned: n.Cordoned, kubeOnly: n.KubernetesOnly, labels: n.Labels}
		for _, t := range n.Tasks {
			for _, p := range t.Ports {
				if p != 0 {
					sn.takePorts([]int{p}, marathonOwner(t.App))
				}
			}
			s.tasks[t.App] = append(s.tasks[t.App], taskRef{node: k, res: noPorts(t.Resources), ptr: t.Ports, id: t.ID})
		}
		for _, hp := range n.HostPorts {
			sn.takePorts([]int{hp.Port}, hp.Owner)
		}
		s.nodes[k] = sn
		s.scale = s.scale.Max(sn.total)
	}
	return s
}

// release frees the rollback room whose window ended before wave w.
func (s *sim) release(w int) {
	for i := range s.nodes {
		n := &s.nodes[i]
		if len(n.ghosts) == 0 {
			continue
		}
		keep := n.ghosts[:0]
		for _, g := range n.ghosts {
			if g.until < w {
				n.reserved = n.reserved.Sub(g.res).NonNegative()
				for _, p := range g.ports {
					if n.ports[p] == g.owner {
						delete(n.ports, p)
					}
				}
				continue
			}
			keep = append(keep, g)
		}
		n.ghosts = keep
	}
}

// size orders pods for first-fit-decreasing: the sum of their shares of
// the largest node per resource.
func (s *sim) size(r Resources) float64 {
	v := 0.0
	if s.scale.CPUs > 0 {
		v += r.CPUs / s.scale.CPUs
	}
	if s.scale.Mem > 0 {
		v += r.Mem / s.scale.Mem
	}
	if s.scale.Disk > 0 {
		v += r.Disk / s.scale.Disk
	}
	return v
}

// canHost says whether n may run a pod at all (ports aside).
func (n *simNode) canHost(join bool) bool {
	return !n.cordoned && (n.joined || join)
}

// eps absorbs float rounding in fit checks (as the capacity model does).
const eps = 1e-6

// fits says whether r fits in n's Kubernetes free room now (the hot path
// of the simulation: plain comparisons, no allocation).
func (n *simNode) fits(r Resources) bool {
	return n.joined && !n.cordoned &&
		r.CPUs <= n.alloc.CPUs-n.pods.CPUs+eps &&
		r.Mem <= n.alloc.Mem-n.pods.Mem+eps &&
		r.Disk <= n.alloc.Disk-n.pods.Disk+eps
}

// open says whether n may still take the smallest pod of the plan.
func (n *simNode) open(min Resources) bool { return n.fits(min) }

// growth is the share and allocatable n needs so that its allocatable
// holds its pods plus r; ok is false when the Mesos side has no room.
func (s *sim) growth(n *simNode, r Resources) (share, alloc Resources, ok bool) {
	if n.kubeOnly || n.cordoned {
		return Resources{}, Resources{}, false
	}
	need := n.pods.Add(r)
	if !n.joined || n.alloc.IsZero() {
		share = capacity.WrapperShare(capacity.ShareFor(need, s.ov)).Max(n.share)
		share.Ports = 0
		a, err := capacity.ShareAllocatable(n.name, n.total, share, s.ov)
		if err != nil {
			return Resources{}, Resources{}, false
		}
		alloc = a
	} else {
		d := need.Sub(n.alloc).NonNegative()
		d.Ports = 0
		share, alloc = n.share.Add(d), n.alloc.Add(d)
	}
	if !need.Fits(alloc) || !share.Fits(n.total.Sub(n.reserved)) {
		return Resources{}, Resources{}, false
	}
	return share, alloc, true
}

// reserveRollback puts rollback room for k more Marathon instances of app
// (each res) on the first nodes whose Mesos side has room; it returns how
// many it could not place.
func (s *sim) reserveRollback(app string, res Resources, k, until int) int {
	for i := range s.nodes {
		n := &s.nodes[i]
		if n.kubeOnly {
			continue
		}
		for k > 0 && res.Fits(n.headroom()) {
			n.reserved = n.reserved.Add(res)
			n.ghosts = append(n.ghosts, ghost{app: app, res: res, until: until})
			k--
		}
		if k == 0 {
			return 0
		}
	}
	return k
}

// retire turns app's live tasks into rollback room kept until wave until.
func (s *sim) retire(app, marathonID string, until int) {
	for _, t := range s.tasks[marathonID] {
		n := &s.nodes[t.node]
		n.ghosts = append(n.ghosts, ghost{app: app, res: t.res, ports: t.ptr, owner: marathonOwner(marathonID), until: until})
	}
}

func marathonOwner(id string) string { return "Marathon app " + id }

// admits says whether n's labels satisfy every requirement of sel.
func (n *simNode) admits(sel []Requirement) bool {
	for _, r := range sel {
		if !r.Matches(n.labels) {
			return false
		}
	}
	return true
}
