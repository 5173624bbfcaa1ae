package capacity

import (
	"fmt"
	"sort"
	"strings"
)

// Step kinds.
const (
	// StepStopTasks stops the tasks of migrating apps on a node (their pods
	// replace them inside the grown share).
	StepStopTasks = "stop-tasks"
	// StepMoveTasks moves Mesos tasks off a node to make room for its share
	// (Marathon kills them and relaunches them on the named nodes).
	StepMoveTasks = "move-tasks"
	// StepSetShare restarts the node's wrapper with a new share (the old
	// wrapper task is killed before the new one starts).
	StepSetShare = "set-share"
)

// TaskMove is one task a step stops or moves.
type TaskMove struct {
	// ID is the Mesos task id, App its Marathon app.
	ID  string `json:"id"`
	App string `json:"app,omitempty"`
	// Resources are what the task holds.
	Resources Resources `json:"resources"`
	// To is the node it moves to (empty for a stopped task).
	To string `json:"to,omitempty"`
}

// Step is one change of the plan; each touches one node.
type Step struct {
	// Kind is StepStopTasks, StepMoveTasks or StepSetShare.
	Kind string `json:"kind"`
	// Node is the node the step changes.
	Node string `json:"node"`
	// Tasks are the tasks stopped or moved.
	Tasks []TaskMove `json:"tasks,omitempty"`
	// From and To are the share before and after (set-share).
	From *Resources `json:"from,omitempty"`
	To   *Resources `json:"to,omitempty"`
	// Allocatable is the allocatable the node registers with after the step.
	Allocatable *Resources `json:"allocatable,omitempty"`
	// Description says what happens, for people.
	Description string `json:"description"`
	// Warning notes a risk the step does not refuse (pods waiting for room).
	Warning string `json:"warning,omitempty"`
}

// NodePlan is a node's end state in a plan.
type NodePlan struct {
	// Name and Hostname identify the node (Hostname for Marathon constraints).
	Name     string `json:"name"`
	Hostname string `json:"hostname"`
	// Total is the node total.
	Total Resources `json:"total"`
	// Share is the wrapper's resources (the Kubernetes share).
	Share Resources `json:"share"`
	// Reservations are the kubelet's systemReserved, kubeReserved, evictionHard.
	Reservations Reservations `json:"reservations"`
	// Allocatable is what the node registers with.
	Allocatable Resources `json:"allocatable"`
	// Joins is true when the node was not in Kubernetes before the plan.
	Joins bool `json:"joins,omitempty"`
	// Changed is true when the plan changes the node's share.
	Changed bool `json:"changed"`
}

// Resize is how the nodes' Kubernetes shares change to meet a target: the
// steps, in order, and each node's end state.
type Resize struct {
	// Steps are in order; apply one at a time, each after the previous is done.
	Steps []Step `json:"steps"`
	// Nodes are the Kubernetes nodes of the end state, by name.
	Nodes []NodePlan `json:"nodes"`
	// Overhead is the kubelet overhead policy used.
	Overhead Overhead `json:"overhead"`
}

// BlockedError says which node and resource make a target unsatisfiable.
type BlockedError struct {
	// Node and Resource block the target.
	Node, Resource string
	// Reason explains.
	Reason string
}

// Error names the node and the resource.
func (e *BlockedError) Error() string {
	return fmt.Sprintf("target cannot be met: node %s: %s: %s", e.Node, e.Resource, e.Reason)
}

// simNode is a node's state while planning.
type simNode struct {
	n     *Node
	alloc Resources // Mesos allocations other than the wrapper
	share Resources
	pods  Resources
	tasks []Task // non-wrapper tasks currently on the node
	// desired end state
	want      Resources
	wantPods  Resources
	migrating map[int]Resources // index in tasks -> pod requests replacing it
	touched   bool
}

func (s *simNode) free() Resources { return s.n.Total.Sub(s.alloc).Sub(s.share) }

// PlanResize computes the steps from the cluster to the target. It never emits
// a step after which any node's Mesos allocations plus its share exceed its
// total, or its pod requests exceed its allocatable; shrinking shares comes
// before growing, and on a growing node stopping or moving Mesos tasks
// comes before the share grows. Unsatisfiable targets return a *BlockedError.
func PlanResize(c Cluster, t Target) (Resize, error) {
	if err := t.Validate(); err != nil {
		return Resize{}, err
	}
	ov := DefaultOverhead()
	if t.Overhead != nil {
		ov = *t.Overhead
	}
	sims := make([]simNode, len(c.Nodes))
	byName := make(map[string]int, len(c.Nodes))
	for i := range c.Nodes {
		n := &c.Nodes[i]
		s := simNode{n: n, alloc: n.MesosAllocated, share: n.KubernetesShare, pods: n.PodRequests, want: n.KubernetesShare, wantPods: n.PodRequests}
		s.tasks = make([]Task, 0, len(n.Tasks))
		for _, tk := range n.Tasks {
			if !tk.Wrapper {
				s.tasks = append(s.tasks, tk)
			}
		}
		sims[i] = s
		byName[n.Name] = i
	}
	for i, st := range t.Shares {
		hit := false
		for j := range sims {
			if st.matches(*sims[j].n) {
				hit = true
				sims[j].want = WrapperShare(st.Share)
				sims[j].touched = true
			}
		}
		if !hit {
			return Resize{}, fmt.Errorf("target: shares[%d] matches no node (node %q, selector %v)", i, st.Node, st.Selector)
		}
	}
	apps := map[string]*Resources{}
	for _, a := range t.Apps {
		apps[strings.TrimSuffix(a.ID, "/")] = a.Requests
	}
	if len(apps) > 0 {
		found := map[string]bool{}
		for j := range sims {
			s := &sims[j]
			var add Resources
			for k, tk := range s.tasks {
				req, ok := apps[tk.App]
				if !ok {
					continue
				}
				found[tk.App] = true
				r := tk.Resources
				if req != nil {
					r = *req
				}
				r.Ports = 0
				if s.migrating == nil {
					s.migrating = map[int]Resources{}
				}
				s.migrating[k] = r
				add = add.Add(r)
			}
			if s.migrating != nil {
				s.wantPods = s.wantPods.Add(add)
				s.want = WrapperShare(s.want.Max(ShareFor(s.wantPods, ov)))
				s.touched = true
			}
		}
		for _, a := range t.Apps {
			if !found[strings.TrimSuffix(a.ID, "/")] {
				return Resize{}, fmt.Errorf("target: apps: %s has no running Mesos task (check the app id)", a.ID)
			}
		}
	}
	// Validate end states.
	for j := range sims {
		s := &sims[j]
		if !s.touched {
			continue
		}
		if r, have, lim := s.want.Exceeds(noPorts(s.n.Total)); r != "" {
			return Resize{}, &BlockedError{Node: s.n.Name, Resource: r, Reason: fmt.Sprintf("the share %s%s is larger than the node total %s%s", Fmt(have), unit(r), Fmt(lim), unit(r))}
		}
		al, err := ShareAllocatable(s.n.Name, s.n.Total, s.want, ov)
		if err != nil {
			return Resize{}, err
		}
		if r, have, lim := s.wantPods.Exceeds(al); r != "" {
			return Resize{}, &BlockedError{Node: s.n.Name, Resource: r, Reason: fmt.Sprintf("pods would request %s%s but the share gives allocatable %s%s; move pods off the node or give it a larger share", Fmt(have), unit(r), Fmt(lim), unit(r))}
		}
	}
	// Order: shrinking nodes (any resource smaller) first, then growing, by name.
	var shrink, grow []int
	for j := range sims {
		s := &sims[j]
		if !s.touched || (s.want.Equal(s.share) && s.migrating == nil && (s.n.Joined || s.n.Wrapper != "")) {
			continue
		}
		if !s.want.Fits(s.share) || s.migrating != nil {
			grow = append(grow, j)
		} else {
			shrink = append(shrink, j)
		}
	}
	byNodeName := func(ix []int) {
		sort.Slice(ix, func(a, b int) bool { return sims[ix[a]].n.Name < sims[ix[b]].n.Name })
	}
	byNodeName(shrink)
	byNodeName(grow)
	later := make([]bool, len(sims))
	for _, j := range grow {
		later[j] = true
	}
	p := Resize{Overhead: ov, Steps: make([]Step, 0, 2*(len(shrink)+len(grow)))}
	for _, j := range shrink {
		st, err := setShare(&sims[j], ov, c.Nodes, byName, sims)
		if err != nil {
			return Resize{}, err
		}
		p.Steps = append(p.Steps, st)
	}
	var cursor int
	for _, j := range grow {
		later[j] = false
		s := &sims[j]
		if len(s.migrating) > 0 {
			st := Step{Kind: StepStopTasks, Node: s.n.Name}
			keep := s.tasks[:0:0]
			for k, tk := range s.tasks {
				if _, ok := s.migrating[k]; ok {
					st.Tasks = append(st.Tasks, TaskMove{ID: tk.ID, App: tk.App, Resources: tk.Resources})
					s.alloc = s.alloc.Sub(tk.Resources)
				} else {
					keep = append(keep, tk)
				}
			}
			s.tasks = keep
			s.migrating = nil
			st.Description = fmt.Sprintf("stop %d task(s) of migrating apps on %s; their pods start in the grown share", len(st.Tasks), s.n.Name)
			p.Steps = append(p.Steps, st)
		}
		// Room for the share on the Mesos side.
		deficit := s.alloc.Add(s.want).Sub(noPorts(s.n.Total))
		deficit.Ports = 0
		if !deficit.Fits(Resources{}) {
			st, err := moveTasks(s, deficit, sims, later, &cursor)
			if err != nil {
				return Resize{}, err
			}
			p.Steps = append(p.Steps, st)
		}
		st, err := setShare(s, ov, c.Nodes, byName, sims)
		if err != nil {
			return Resize{}, err
		}
		p.Steps = append(p.Steps, st)
	}
	for j := range sims {
		s := &sims[j]
		if !s.touched && !s.n.Joined {
			continue
		}
		res, err := ReservationsFor(s.n.Name, noPorts(s.n.Total), s.share, ov)
		if err != nil {
			return Resize{}, err
		}
		al, _ := Allocatable(s.n.Name, noPorts(s.n.Total), res)
		if !s.touched && s.n.Wrapper == "" {
			al = s.n.Allocatable
		}
		p.Nodes = append(p.Nodes, NodePlan{Name: s.n.Name, Hostname: s.n.Hostname, Total: s.n.Total, Share: s.share,
			Reservations: res, Allocatable: al, Joins: !s.n.Joined && s.touched, Changed: s.touched})
	}
	sort.Slice(p.Nodes, func(a, b int) bool { return p.Nodes[a].Name < p.Nodes[b].Name })
	return p, nil
}

func noPorts(r Resources) Resources { r.Ports = 0; return r }

// setShare emits the set-share step and applies it to s, checking both sides.
func setShare(s *simNode, ov Overhead, _ []Node, _ map[string]int, sims []simNode) (Step, error) {
	from, to := s.share, s.want
	al, err := ShareAllocatable(s.n.Name, s.n.Total, to, ov)
	if err != nil {
		return Step{}, err
	}
	used := s.alloc.Add(to)
	if r, have, lim := used.Exceeds(s.n.Total); r != "" {
		return Step{}, &BlockedError{Node: s.n.Name, Resource: r, Reason: fmt.Sprintf("Mesos allocations plus the share would be %s%s of a total %s%s", Fmt(have), unit(r), Fmt(lim), unit(r))}
	}
	s.share = to
	s.pods = s.wantPods
	verb := "grow"
	switch {
	case !s.n.Joined && s.n.Wrapper == "":
		verb = "join Kubernetes with"
	case to.Fits(from):
		verb = "shrink"
	}
	st := Step{Kind: StepSetShare, Node: s.n.Name, From: &from, To: &to, Allocatable: &al,
		Description: fmt.Sprintf("%s %s share %s → %s (restart its wrapper: old task killed after draining, new one started; allocatable %s)", s.n.Name, verb, from, to, al)}
	if s.pods.CPUs > 0 || s.pods.Mem > 0 {
		var room Resources
		for k := range sims {
			if sims[k].n != s.n && sims[k].share.CPUs > 0 {
				a, err := ShareAllocatable(sims[k].n.Name, sims[k].n.Total, sims[k].share, ov)
				if err == nil {
					room = room.Add(a.Sub(sims[k].pods).NonNegative())
				}
			}
		}
		if !noPorts(s.pods).Fits(noPorts(room)) {
			st.Warning = fmt.Sprintf("draining %s's pods (requests %s) needs room on other nodes (free %s): some pods wait Pending until the node is back", s.n.Name, s.pods, room)
		}
	}
	return st, nil
}

// moveTasks picks tasks of s to move until deficit is covered and places
// each on another node with room (not a node still to grow, if possible).
func moveTasks(s *simNode, deficit Resources, sims []simNode, later []bool, cursor *int) (Step, error) {
	// Largest tasks first (by their share of the deficit resources).
	idx := make([]int, len(s.tasks))
	for i := range idx {
		idx[i] = i
	}
	weight := func(r Resources) float64 {
		w := 0.0
		if deficit.CPUs > 0 {
			w += r.CPUs / deficit.CPUs
		}
		if deficit.Mem > 0 {
			w += r.Mem / deficit.Mem
		}
		if deficit.Disk > 0 {
			w += r.Disk / deficit.Disk
		}
		return w
	}
	sort.SliceStable(idx, func(a, b int) bool { return weight(s.tasks[idx[a]].Resources) > weight(s.tasks[idx[b]].Resources) })
	st := Step{Kind: StepMoveTasks, Node: s.n.Name}
	moved := map[int]bool{}
	need := deficit
	for _, k := range idx {
		if need.Fits(Resources{}) {
			break
		}
		tk := s.tasks[k]
		if weight(tk.Resources) == 0 {
			continue
		}
		dst := findRoom(s, tk.Resources, sims, later, cursor)
		if dst < 0 {
			continue
		}
		d := &sims[dst]
		d.alloc = d.alloc.Add(tk.Resources)
		d.tasks = append(d.tasks, tk)
		s.alloc = s.alloc.Sub(tk.Resources)
		need = need.Sub(tk.Resources)
		moved[k] = true
		st.Tasks = append(st.Tasks, TaskMove{ID: tk.ID, App: tk.App, Resources: tk.Resources, To: d.n.Name})
	}
	if r, have, _ := need.Exceeds(Resources{}); r != "" {
		return Step{}, &BlockedError{Node: s.n.Name, Resource: r, Reason: fmt.Sprintf("the share needs %s%s more than Mesos tasks leave free, and no other node has room for enough of its tasks", Fmt(have), unit(r))}
	}
	keep := s.tasks[:0:0]
	for k, tk := range s.tasks {
		if !moved[k] {
			keep = append(keep, tk)
		}
	}
	s.tasks = keep
	st.Description = fmt.Sprintf("move %d Mesos task(s) off %s to make room for its share (Marathon kills and relaunches them elsewhere)", len(st.Tasks), s.n.Name)
	return st, nil
}

// findRoom returns a node other than s where r fits in the Mesos free room,
// preferring nodes that will not grow later; -1 when none.
func findRoom(s *simNode, r Resources, sims []simNode, later []bool, cursor *int) int {
	fallback := -1
	n := len(sims)
	for i := 0; i < n; i++ {
		j := (*cursor + i) % n
		d := &sims[j]
		if d == s || !r.Fits(d.free()) {
			continue
		}
		if later[j] {
			if fallback < 0 {
				fallback = j
			}
			continue
		}
		*cursor = j
		return j
	}
	return fallback
}
