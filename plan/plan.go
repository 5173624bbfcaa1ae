package plan

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/capacity"
)

// Make plans the migration of inv's apps. Invalid input (duplicate names,
// unknown dependencies, dependency cycles, bad options) is an error; a plan
// that capacity or host ports make impossible comes back with OK false and
// its Blockers.
func Make(inv Inventory, o Options) (*Plan, error) {
	o, err := o.complete()
	if err != nil {
		return nil, err
	}
	g, err := buildGraph(inv)
	if err != nil {
		return nil, err
	}
	ov := capacity.DefaultOverhead()
	if inv.Overhead != nil {
		ov = *inv.Overhead
	}
	groups, eff := waves(g, o.Order, o.MaxWaveSize)
	s := newSim(inv, ov)
	s.setMin(smallestPod(inv.Apps, o.Headroom))
	p := &Plan{Version: Version, OK: true, Options: o, Conflicts: Conflicts(inv), Waves: make([]Wave, 0, len(groups))}
	for _, c := range p.Conflicts {
		p.Warnings = append(p.Warnings, c.Message())
	}
	for wi, grp := range groups {
		w := s.wave(wi+1, grp, g, eff, o)
		p.Blockers = append(p.Blockers, w.Blockers...)
		p.Waves = append(p.Waves, w)
	}
	p.OK = len(p.Blockers) == 0
	return p, nil
}

// pod is one pod to place.
type pod struct {
	app  int // index in the wave
	req  Resources
	size float64
}

// wave plans one wave on the simulated cluster.
func (s *sim) wave(index int, grp []int, g graph, eff []int, o Options) Wave {
	s.release(index)
	until := index + o.RollbackWindow
	switch {
	case o.NoRollbackRoom:
		until = index
	case o.RollbackWindow < 0:
		until = forever
	}
	sort.Slice(grp, func(a, b int) bool {
		x, y := grp[a], grp[b]
		if eff[x] != eff[y] {
			return eff[x] > eff[y]
		}
		return g.apps[x].Name < g.apps[y].Name
	})
	w := Wave{Index: index, Apps: make([]AppPlan, len(grp))}
	blocked := make([]bool, len(grp))
	var pods []pod
	for k, i := range grp {
		a := g.apps[i]
		req, lim, from, warns := Derive(a, o.Headroom)
		w.Warnings = append(w.Warnings, warns...)
		ap := AppPlan{Name: a.Name, MarathonID: a.MarathonID, Namespace: a.Namespace, Owner: a.Owner,
			Priority: a.Priority, EffectivePriority: eff[i], DependsOn: a.DependsOn, Instances: a.Instances,
			Requests: req, Limits: lim, RequestsFrom: from, HostPorts: a.HostPorts, Route: a.Route, Gates: a.Gates}
		if ap.Route.Name == "" {
			ap.Route.Name = a.Name
		}
		w.Apps[k] = ap
		if a.Instances == 0 {
			w.Warnings = append(w.Warnings, fmt.Sprintf("app %s: 0 instances on Marathon: its release starts with 0 pods and takes no room", a.Name))
		}
		// Rollback room for instances Marathon does not run right now
		// (their tasks' room is not held by live tasks).
		if missing := a.Instances - len(s.tasks[a.MarathonID]); missing > 0 {
			left := s.reserveRollback(a.Name, noPorts(a.Marathon), missing, until)
			if left > 0 {
				blocked[k] = true
				w.Blockers = append(w.Blockers, s.rollbackBlocker(index, a, missing, left))
			}
		}
		if blocked[k] {
			continue
		}
		for j := 0; j < a.Instances; j++ {
			pods = append(pods, pod{app: k, req: req, size: s.size(req)})
		}
	}
	sort.SliceStable(pods, func(x, y int) bool { return pods[x].size > pods[y].size })
	changes := map[int]*ShareChange{}
	placed := make([]map[int]int, len(grp))
	for _, pd := range pods {
		if blocked[pd.app] {
			continue
		}
		a := g.apps[grp[pd.app]]
		ni := s.firstFit(pd.req, &a, placed[pd.app])
		if ni < 0 && !o.NoShareChanges {
			ni = s.grow(pd.req, &a, placed[pd.app], !o.NoJoin, changes)
		}
		if ni < 0 {
			blocked[pd.app] = true
			w.Blockers = append(w.Blockers, s.blocker(index, a, pd.req, placed[pd.app], o))
			continue
		}
		n := &s.nodes[ni]
		n.pods = n.pods.Add(pd.req)
		n.takePorts(a.HostPorts, "pod of "+a.Name)
		s.update(ni)
		if placed[pd.app] == nil {
			placed[pd.app] = map[int]int{}
		}
		placed[pd.app][ni]++
	}
	for k := range grp {
		if pl := placed[k]; pl != nil {
			for ni, c := range pl {
				w.Apps[k].Placement = append(w.Apps[k].Placement, Placement{Node: s.nodes[ni].name, Pods: c})
			}
			sort.Slice(w.Apps[k].Placement, func(x, y int) bool { return w.Apps[k].Placement[x].Node < w.Apps[k].Placement[y].Node })
		}
		a := g.apps[grp[k]]
		u := until
		if blocked[k] {
			u = forever // it stays on Marathon
		}
		s.retire(a.Name, a.MarathonID, u)
	}
	for ni, c := range changes {
		c.To, c.Allocatable = s.nodes[ni].share, s.nodes[ni].alloc
		w.ShareChanges = append(w.ShareChanges, *c)
	}
	sort.Slice(w.ShareChanges, func(x, y int) bool { return w.ShareChanges[x].Node < w.ShareChanges[y].Node })
	return w
}

// firstFit returns the first node (by name) whose free Kubernetes room and
// host ports hold the pod, or -1.
func (s *sim) firstFit(r Resources, a *App, placed map[int]int) int {
	for i := s.firstOpen; i < len(s.nodes); i++ {
		if s.full[i] {
			continue
		}
		n := &s.nodes[i]
		if n.fits(r) && s.eligible(i, a, placed) {
			return i
		}
	}
	return -1
}

// eligible says whether a pod of a may go on node i apart from resources:
// its host ports are free there, the node matches its node selector, and
// (one pod per node) none of its pods is there yet.
func (s *sim) eligible(i int, a *App, placed map[int]int) bool {
	n := &s.nodes[i]
	if (a.OnePerNode || len(a.HostPorts) > 0) && placed[i] > 0 {
		return false
	}
	return (len(a.HostPorts) == 0 || n.portsFree(a.HostPorts, s.nodePorts)) && n.admits(a.NodeSelector)
}

// grow finds the first node whose share can grow to hold the pod without
// squeezing the Mesos side, grows it (recording the change) and returns
// it, or -1.
func (s *sim) grow(r Resources, a *App, placed map[int]int, join bool, changes map[int]*ShareChange) int {
	app := a.Name
	for i := range s.nodes {
		n := &s.nodes[i]
		if !n.canHost(join) || !s.eligible(i, a, placed) {
			continue
		}
		share, alloc, ok := s.growth(n, r)
		if !ok {
			continue
		}
		c := changes[i]
		if c == nil {
			c = &ShareChange{Node: n.name, From: n.share, Joins: !n.joined}
			changes[i] = c
		}
		if len(c.For) == 0 || c.For[len(c.For)-1] != app {
			c.For = append(c.For, app)
		}
		n.share, n.alloc, n.joined = share, alloc, true
		return i
	}
	return -1
}

var resourceNames = []string{"cpus", "mem", "disk"}

func unitOf(r string) string {
	if r == "cpus" {
		return " cpus"
	}
	return " MiB " + r
}

// blocker explains why a pod of a fits nowhere: the node that comes
// closest, the resource most missing there, what the node can give, and
// whose rollback room holds the rest.
func (s *sim) blocker(wave int, a App, r Resources, placed map[int]int, o Options) Blocker {
	b := Blocker{Wave: wave, App: a.Name, Kind: "capacity"}
	best, bestScore, bestRes := -1, math.Inf(1), ""
	portOK := 0
	for i := range s.nodes {
		n := &s.nodes[i]
		if !n.canHost(!o.NoJoin) {
			continue
		}
		if len(a.HostPorts) > 0 && !n.portsFree(a.HostPorts, s.nodePorts) {
			continue
		}
		portOK++
		if !s.eligible(i, &a, placed) {
			continue
		}
		avail := n.kubeFree().NonNegative()
		if !o.NoShareChanges && !n.kubeOnly {
			avail = avail.Add(n.headroom())
		}
		score, worst, wv := 0.0, "", 0.0
		for _, rn := range resourceNames {
			miss := r.Get(rn) - avail.Get(rn)
			if miss <= 1e-9 {
				continue
			}
			norm := miss / math.Max(s.scale.Get(rn), 1e-9)
			score += norm
			if norm > wv {
				worst, wv = rn, norm
			}
		}
		if worst == "" { // fits by resources: the overhead of joining is what is missing
			worst, score = "cpus", 0
		}
		if score < bestScore {
			best, bestScore, bestRes = i, score, worst
		}
	}
	if portOK == 0 && len(a.HostPorts) > 0 {
		b.Kind, b.Resource = "host-port", "port "+joinInts(a.HostPorts)
		b.Message = fmt.Sprintf("wave %d: app %s needs host port(s) %s on a node, but no schedulable node has them free (%s)", wave, a.Name, joinInts(a.HostPorts), s.portHolders(a.HostPorts))
		b.Unblock = []string{"free the port(s) on a node (move the Marathon tasks or pods that hold them)", "drop the fixed host port from " + a.Name + "'s definition (requirePorts/hostPort): pods are reached on their own IP"}
		return b
	}
	if best < 0 {
		b.Kind, b.Resource = "placement", "node"
		switch {
		case portOK > 0 && (a.OnePerNode || len(a.HostPorts) > 0) && len(placed) > 0:
			b.Message = fmt.Sprintf("wave %d: app %s: its %d pods must run on distinct nodes and only %d schedulable node(s) can take one", wave, a.Name, a.Instances, len(placed))
			b.Unblock = []string{"add a node", fmt.Sprintf("scale %s to %d instances", a.MarathonID, len(placed)), "drop the hostname:UNIQUE constraint or the fixed host port"}
		case portOK > 0 && len(a.NodeSelector) > 0:
			b.Message = fmt.Sprintf("wave %d: app %s: no schedulable node matches its node selector %s", wave, a.Name, fmtSelector(a.NodeSelector))
			b.Unblock = []string{"label a node (or give a Mesos agent the attribute) to match", "relax the Marathon constraint the selector comes from"}
		default:
			b.Message = fmt.Sprintf("wave %d: app %s: no node can run pods (every node is cordoned, not Ready or tainted%s)", wave, a.Name, map[bool]string{true: ", or not in Kubernetes", false: ""}[o.NoJoin])
			b.Unblock = []string{"add a node", "uncordon a node"}
		}
		return b
	}
	n := &s.nodes[best]
	rn := bestRes
	free := math.Max(n.kubeFree().Get(rn), 0)
	give := 0.0
	if !o.NoShareChanges && !n.kubeOnly {
		give = n.headroom().Get(rn)
	}
	b.Resource, b.Node = rn, n.name
	b.Missing = round(r.Get(rn) - free)
	b.CanGive = round(give)
	var rb []string
	var rbRoom float64
	for _, gh := range n.ghosts {
		if gh.res.Get(rn) > 0 {
			rbRoom += gh.res.Get(rn)
			if len(rb) == 0 || rb[len(rb)-1] != gh.app {
				rb = append(rb, gh.app)
			}
		}
	}
	rb = uniq(rb)
	b.RollbackFor = rb
	u := unitOf(rn)
	msg := fmt.Sprintf("wave %d: app %s needs %s%s more on the Kubernetes side", wave, a.Name, fmtNum(b.Missing), u)
	switch {
	case o.NoShareChanges:
		msg += fmt.Sprintf(" than %s has free (share changes are off)", n.name)
	case len(rb) > 0:
		msg += fmt.Sprintf("; %s can give %s without breaking the Marathon rollback room for app %s", n.name, fmtNum(b.CanGive), strings.Join(rb, ", "))
	default:
		msg += fmt.Sprintf("; %s can give %s without squeezing its Marathon tasks", n.name, fmtNum(b.CanGive))
	}
	b.Message = msg
	avail := free + give
	b.Unblock = append(b.Unblock, fmt.Sprintf("add a node (or %s%s on %s)", fmtNum(math.Max(r.Get(rn)-avail, 0)), u, n.name))
	if x := s.fitRequest(a, r, rn, placed, o); x > 1e-9 {
		b.Unblock = append(b.Unblock, fmt.Sprintf("lower %s's requests to ≤ %s%s per pod (then its %d pod(s) fit)", a.Name, fmtNum(x), u, a.Instances))
	}
	if len(rb) > 0 {
		b.Unblock = append(b.Unblock, fmt.Sprintf("finalize %s before this wave (frees %s%s of rollback room on %s)", strings.Join(rb, ", "), fmtNum(rbRoom), u, n.name))
	}
	if o.NoShareChanges {
		b.Unblock = append(b.Unblock, "allow share changes")
	}
	return b
}

// fitRequest is the largest request of resource rn (the app's other
// requests unchanged) with which all the app's pods fit in the nodes' free
// Kubernetes room (its pods placed so far in this wave taken back out)
// plus what their Mesos side can give (a joining node gives up the kubelet
// overhead first), one pod per node when it has fixed host ports; 0 when
// none does.
func (s *sim) fitRequest(a App, r Resources, rn string, placed map[int]int, o Options) float64 {
	left := a.Instances
	var rooms []Resources
	over := s.ov.KubeReserved.Add(s.ov.EvictionHard)
	for i := range s.nodes {
		n := &s.nodes[i]
		if !n.canHost(!o.NoJoin) || !n.admits(a.NodeSelector) || (len(a.HostPorts) > 0 && placed[i] == 0 && !n.portsFree(a.HostPorts, s.nodePorts)) {
			continue
		}
		av := n.kubeFree().Add(r.Scale(float64(placed[i]))).NonNegative()
		if !o.NoShareChanges && !n.kubeOnly {
			h := n.headroom()
			if !n.joined || n.alloc.IsZero() {
				h = h.Sub(over).NonNegative()
			}
			av = av.Add(h)
		}
		rooms = append(rooms, av)
	}
	fits := func(x float64) bool {
		q := r
		switch rn {
		case "cpus":
			q.CPUs = x
		case "mem":
			q.Mem = x
		case "disk":
			q.Disk = x
		}
		n := 0
		for _, av := range rooms {
			k := math.Inf(1)
			for _, name := range resourceNames {
				if v := q.Get(name); v > 0 {
					k = math.Min(k, math.Floor(av.Get(name)/v+1e-9))
				}
			}
			if math.IsInf(k, 1) {
				k = float64(left)
			}
			if len(a.HostPorts) > 0 || a.OnePerNode {
				k = math.Min(k, 1)
			}
			n += int(k)
			if n >= left {
				return true
			}
		}
		return false
	}
	lo, hi := 0.0, r.Get(rn)
	if !fits(lo + 1e-9) {
		return 0
	}
	for i := 0; i < 40; i++ {
		mid := (lo + hi) / 2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Floor(lo*1000) / 1000
}

func (s *sim) rollbackBlocker(wave int, a App, missing, left int) Blocker {
	r := noPorts(a.Marathon)
	return Blocker{Wave: wave, App: a.Name, Kind: "rollback-room", Resource: "cpus/mem",
		Message: fmt.Sprintf("wave %d: app %s runs %d of %d instances on Marathon and the Mesos side has no room to run %d of the missing %d again (%s each) if the migration rolls back", wave, a.Name, a.Instances-missing, a.Instances, left, missing, r),
		Unblock: []string{"let Marathon run all instances before migrating (fix what keeps them from starting)", fmt.Sprintf("scale %s down to %d instances", a.MarathonID, a.Instances-missing), "add Mesos room (a node)"}}
}

func (s *sim) portHolders(ports []int) string {
	var parts []string
	for _, p := range ports {
		if o, ok := s.nodePorts[p]; ok {
			parts = append(parts, fmt.Sprintf("%d is the NodePort of %s on every node", p, o))
			continue
		}
		cnt := 0
		var who string
		for i := range s.nodes {
			if o, ok := s.nodes[i].ports[p]; ok {
				cnt++
				if who == "" {
					who = fmt.Sprintf("%s on %s", o, s.nodes[i].name)
				}
			}
		}
		if cnt > 0 {
			parts = append(parts, fmt.Sprintf("%d is held on %d node(s), e.g. by %s", p, cnt, who))
		}
	}
	return strings.Join(parts, "; ")
}

func fmtSelector(sel []Requirement) string {
	parts := make([]string, len(sel))
	for i, r := range sel {
		parts[i] = r.Key + " " + r.Operator
		if len(r.Values) > 0 {
			parts[i] += " (" + strings.Join(r.Values, ",") + ")"
		}
	}
	return strings.Join(parts, ", ")
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

func uniq(v []string) []string {
	seen := map[string]bool{}
	out := v[:0]
	for _, x := range v {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// smallestPod is the least of every app's requests per resource: a node
// with less free room than it takes no pod of the plan.
func smallestPod(apps []App, headroom float64) Resources {
	var m Resources
	for i, a := range apps {
		r, _, _, _ := Derive(a, headroom)
		if i == 0 {
			m = r
			continue
		}
		m = m.Min(r)
	}
	m.Ports = 0
	return m
}
