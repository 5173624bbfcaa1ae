package placement

import (
	"fmt"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/mesos"
)

// Place chooses the agent for one task of req.AppID among agents, as
// Marathon matches an offer: the agent's resources must be reserved for an
// accepted role (or unreserved), its free cpus/mem/disk/gpus must cover the
// request, the requested host ports must be free in its port ranges, and every
// constraint must hold. Among the agents that fit, it spreads: fewest of the
// app's tasks in the agent's GROUP_BY groups, then on the agent, then most
// free cpus, then lowest ID. Place does not change agents.
//
// A request or constraint that can never be valid is an ordinary error;
// when no agent fits, the error is an *Unplaceable.
func Place(agents []Agent, req Request) (Decision, error) {
	c, err := NewCluster(agents)
	if err != nil {
		return Decision{}, err
	}
	return c.Place(req)
}

// Cluster is a set of agents that placements are committed to, for placing
// many tasks in a row (a deployment's instances, a benchmark) without
// recounting every agent's tasks each time. It is not safe for concurrent use.
type Cluster struct {
	agents []agentState
	byID   map[string]int
	// byApp counts each app's tasks per agent index.
	byApp map[string][]int32
	// fields interns constraint field values, built on first use.
	fields map[string]*fieldIndex
	// scratch holds reusable per-constraint buffers.
	scratch [][]int
}

type agentState struct {
	Agent
	free      amounts
	ranges    []PortRange // normalized
	freePorts int         // ports in ranges not used
	ownPorts  bool        // UsedPorts is our copy
	rank      int         // position of ID in ID order (tie-break)
}

// NewCluster checks the agents and indexes them. The agents' maps and slices
// are not modified: Commit copies what it changes.
func NewCluster(agents []Agent) (*Cluster, error) {
	c := &Cluster{agents: make([]agentState, len(agents)), byID: make(map[string]int, len(agents)), byApp: map[string][]int32{}}
	for i, a := range agents {
		if a.ID == "" {
			return nil, fmt.Errorf("agent %d (hostname %q): the id is empty", i, a.Hostname)
		}
		if _, dup := c.byID[a.ID]; dup {
			return nil, fmt.Errorf("agent %s: the id appears twice", a.ID)
		}
		c.byID[a.ID] = i
		st := agentState{Agent: a, free: toAmounts(a.Total).sub(toAmounts(a.Used))}
		for j, r := range a.PortRanges {
			if r.Begin < 0 || r.End > 65535 || r.Begin > r.End {
				return nil, fmt.Errorf("agent %s: portRanges[%d] %d-%d is not a range within 0-65535", a.ID, j, r.Begin, r.End)
			}
		}
		st.ranges = normalize(a.PortRanges)
		for _, r := range st.ranges {
			st.freePorts += r.End - r.Begin + 1
		}
		for p, used := range a.UsedPorts {
			if used && inRanges(st.ranges, p) {
				st.freePorts--
			}
		}
		c.agents[i] = st
	}
	order := make([]int, len(c.agents))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(x, y int) bool { return c.agents[order[x]].ID < c.agents[order[y]].ID })
	for r, i := range order {
		c.agents[i].rank = r
	}
	return c, nil
}

// field returns the index of a constraint field's values.
func (c *Cluster) field(name string) *fieldIndex {
	if c.fields == nil {
		c.fields = map[string]*fieldIndex{}
	}
	fi := c.fields[name]
	if fi == nil {
		fi = newFieldIndex(c.agents, name)
		c.fields[name] = fi
	}
	return fi
}

// appCounts returns the app's task count per agent index, counting the
// agents' tasks on first use; nil when the app has no task.
func (c *Cluster) appCounts(app string) []int32 {
	if m, ok := c.byApp[app]; ok {
		return m
	}
	var m []int32
	for i := range c.agents {
		for _, t := range c.agents[i].Tasks {
			if t.AppID == app {
				if m == nil {
					m = make([]int32, len(c.agents))
				}
				m[i]++
			}
		}
	}
	c.byApp[app] = m
	return m
}

// Agents returns the agents with every committed placement applied.
func (c *Cluster) Agents() []Agent {
	out := make([]Agent, len(c.agents))
	for i := range c.agents {
		out[i] = c.agents[i].Agent
	}
	return out
}

// Place chooses an agent for one task (see the package function Place)
// without committing it.
func (c *Cluster) Place(req Request) (Decision, error) {
	if err := req.validate(); err != nil {
		return Decision{}, err
	}
	comp := make([]compiled, len(req.Constraints))
	for i, k := range req.Constraints {
		cc, err := compile(k)
		if err != nil {
			return Decision{}, fmt.Errorf("place app %s: constraints[%d]: %w", req.AppID, i, err)
		}
		comp[i] = cc
	}
	appTasks := c.appCounts(req.AppID) // nil when the app has no task yet
	cons := make([]prepared, len(comp))
	for i, k := range comp {
		if len(c.scratch) <= i {
			c.scratch = append(c.scratch, nil)
		}
		cons[i] = prepare(k, c.field(k.Field), appTasks, &c.scratch[i])
	}
	q := query{need: toAmounts(req.Resources), cons: cons, accepted: acceptedRoles(req.AcceptedRoles)}
	for _, p := range req.Ports {
		if p == 0 {
			q.dynamic++
		} else {
			q.fixed = append(q.fixed, p)
		}
	}
	for _, k := range cons {
		if k.Operator == OpGroupBy {
			q.groupBy = append(q.groupBy, k)
		}
	}

	best := -1
	var bestScore score
	for i := range c.agents {
		a := &c.agents[i]
		if !q.fits(a, i) {
			continue
		}
		s := score{freeCPUs: a.free.cpus, rank: a.rank}
		if appTasks != nil {
			s.appHere = int(appTasks[i])
		}
		for j := range q.groupBy {
			k := &q.groupBy[j]
			s.inGroup += k.counts[k.field.of[i]]
		}
		if best < 0 || s.better(bestScore) {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		u := &Unplaceable{AppID: req.AppID, Total: len(c.agents), Rejections: make([]Rejection, 0, len(c.agents))}
		for i := range c.agents {
			u.Rejections = append(u.Rejections, q.reject(&c.agents[i], i))
		}
		return Decision{}, u
	}
	return Decision{AgentID: c.agents[best].ID, Ports: c.agents[best].choosePorts(req.Ports)}, nil
}

// query is one request prepared for matching against agents.
type query struct {
	need     amounts
	fixed    []int
	dynamic  int
	accepted map[string]bool
	cons     []prepared
	groupBy  []prepared
}

// fits is the fast check: does the agent take the task?
func (q *query) fits(a *agentState, idx int) bool {
	if q.accepted != nil && !q.accepted[normRole(a.Role)] {
		return false
	}
	if q.need.cpus > a.free.cpus || q.need.mem > a.free.mem || q.need.disk > a.free.disk || q.need.gpus > a.free.gpus {
		return false
	}
	if !a.portsFit(q.fixed, q.dynamic) {
		return false
	}
	for i := range q.cons {
		if !q.cons[i].satisfied(idx) {
			return false
		}
	}
	return true
}

// reject lists every reason the agent does not take the task.
func (q *query) reject(a *agentState, idx int) Rejection {
	rej := Rejection{AgentID: a.ID, Hostname: a.Hostname}
	if q.accepted != nil && !q.accepted[normRole(a.Role)] {
		rej.Reasons = append(rej.Reasons, UnfulfilledRole)
		return rej
	}
	if q.need.cpus > a.free.cpus {
		rej.Reasons = append(rej.Reasons, InsufficientCpus)
	}
	if q.need.mem > a.free.mem {
		rej.Reasons = append(rej.Reasons, InsufficientMemory)
	}
	if q.need.disk > a.free.disk {
		rej.Reasons = append(rej.Reasons, InsufficientDisk)
	}
	if q.need.gpus > a.free.gpus {
		rej.Reasons = append(rej.Reasons, InsufficientGpus)
	}
	if !a.portsFit(q.fixed, q.dynamic) {
		rej.Reasons = append(rej.Reasons, InsufficientPorts)
	}
	for i := range q.cons {
		if !q.cons[i].satisfied(idx) {
			rej.Unmet = append(rej.Unmet, q.cons[i].Constraint)
		}
	}
	if len(rej.Unmet) > 0 {
		rej.Reasons = append(rej.Reasons, UnfulfilledConstraint)
	}
	return rej
}

// Commit records a placed task on its agent: resources, ports and the task
// itself (for later constraints). It refuses a decision that does not fit.
func (c *Cluster) Commit(req Request, d Decision) error {
	i, ok := c.byID[d.AgentID]
	if !ok {
		return fmt.Errorf("commit app %s: agent %s is not in the cluster", req.AppID, d.AgentID)
	}
	a := &c.agents[i]
	need := toAmounts(req.Resources)
	if need.cpus > a.free.cpus || need.mem > a.free.mem || need.disk > a.free.disk || need.gpus > a.free.gpus {
		return fmt.Errorf("commit app %s: agent %s has no room for %+v", req.AppID, a.ID, req.Resources)
	}
	for _, p := range d.Ports {
		if a.UsedPorts[p] || !inRanges(a.ranges, p) {
			return fmt.Errorf("commit app %s: port %d is not free on agent %s", req.AppID, p, a.ID)
		}
	}
	if !a.ownPorts {
		m := make(map[int]bool, len(a.UsedPorts)+len(d.Ports))
		for p, u := range a.UsedPorts {
			if u {
				m[p] = true
			}
		}
		a.UsedPorts, a.ownPorts = m, true
		a.Tasks = append([]Running(nil), a.Tasks...)
	}
	for _, p := range d.Ports {
		a.UsedPorts[p] = true
		a.freePorts--
	}
	a.free = a.free.sub(need)
	a.Used = a.Used.Add(req.Resources)
	a.Tasks = append(a.Tasks, Running{AppID: req.AppID})
	if m, ok := c.byApp[req.AppID]; ok {
		if m == nil {
			m = make([]int32, len(c.agents))
			c.byApp[req.AppID] = m
		}
		m[i]++
	}
	return nil
}

type score struct {
	inGroup  int
	appHere  int
	freeCPUs milli
	rank     int // position of the agent's ID in ID order
}

func (s score) better(o score) bool {
	if s.inGroup != o.inGroup {
		return s.inGroup < o.inGroup
	}
	if s.appHere != o.appHere {
		return s.appHere < o.appHere
	}
	if s.freeCPUs != o.freeCPUs {
		return s.freeCPUs > o.freeCPUs
	}
	return s.rank < o.rank
}

func acceptedRoles(roles []string) map[string]bool {
	if len(roles) == 0 {
		return nil
	}
	m := make(map[string]bool, len(roles))
	for _, r := range roles {
		m[normRole(r)] = true
	}
	return m
}

func normRole(r string) string {
	if r == "" {
		return "*"
	}
	return r
}

func (a *agentState) portsFit(fixed []int, dynamic int) bool {
	avail := a.freePorts
	for _, p := range fixed {
		if a.UsedPorts[p] || !inRanges(a.ranges, p) {
			return false
		}
		avail--
	}
	return avail >= dynamic
}

// choosePorts gives each requested port: fixed ones as asked, dynamic ones
// the lowest free ports of the agent's ranges.
func (a *agentState) choosePorts(want []int) []int {
	if len(want) == 0 {
		return nil
	}
	out := make([]int, len(want))
	taken := map[int]bool{}
	for i, p := range want {
		if p != 0 {
			out[i] = p
			taken[p] = true
		}
	}
	ri, next := 0, -1
	for i, p := range want {
		if p != 0 {
			continue
		}
		for ri < len(a.ranges) {
			r := a.ranges[ri]
			if next < r.Begin {
				next = r.Begin
			}
			if next > r.End {
				ri++
				continue
			}
			if !a.UsedPorts[next] && !taken[next] {
				break
			}
			next++
		}
		out[i] = next
		taken[next] = true
		next++
	}
	return out
}

func normalize(rs []PortRange) []PortRange {
	if len(rs) == 0 {
		return nil
	}
	return mesos.Ranges(rs).Normalize()
}

func inRanges(rs []PortRange, p int) bool {
	for _, r := range rs {
		if p >= r.Begin && p <= r.End {
			return true
		}
	}
	return false
}

// Rejection is why one agent cannot take the task.
type Rejection struct {
	// AgentID and Hostname name the agent.
	AgentID, Hostname string
	// Reasons are every reason that applies, in Marathon's order.
	Reasons []Reason
	// Unmet are the constraints the agent fails (with UnfulfilledConstraint).
	Unmet []Constraint
}

// Unplaceable is the error when no agent can take the task.
type Unplaceable struct {
	// AppID is the app whose task could not be placed.
	AppID string
	// Total is the number of agents considered.
	Total int
	// Rejections has one entry per agent, in the agents' order.
	Rejections []Rejection
}

// Counts returns, per reason, how many agents were rejected for it (an agent
// rejected for several reasons counts for each), as /v2/queue reports in
// processedOffersSummary.rejectSummaryLastOffers.
func (u *Unplaceable) Counts() map[Reason]int {
	m := map[Reason]int{}
	for _, r := range u.Rejections {
		for _, why := range r.Reasons {
			m[why]++
		}
	}
	return m
}

// messageOrder puts resource shortfalls before constraints in messages.
var messageOrder = []Reason{UnfulfilledRole, InsufficientCpus, InsufficientMemory, InsufficientDisk, InsufficientGpus, InsufficientPorts, UnfulfilledConstraint}

// ReasonSummary is one entry of Marathon's
// processedOffersSummary.rejectSummaryLastOffers: how many offers (agents)
// reached this stage of the funnel and how many were declined at it.
type ReasonSummary struct {
	Reason    Reason `json:"reason"`
	Declined  int    `json:"declined"`
	Processed int    `json:"processed"`
}

// Summary funnels the rejections as Marathon does: each agent is declined
// for the first of its reasons in Reasons order; Processed is the number of
// agents still in the funnel when the reason is checked.
func (u *Unplaceable) Summary() []ReasonSummary {
	declined := map[Reason]int{}
	for _, r := range u.Rejections {
		for _, why := range Reasons {
			if hasReason(r.Reasons, why) {
				declined[why]++
				break
			}
		}
	}
	out := make([]ReasonSummary, 0, len(Reasons))
	left := u.Total
	for _, why := range Reasons {
		out = append(out, ReasonSummary{Reason: why, Declined: declined[why], Processed: left})
		left -= declined[why]
	}
	return out
}

var reasonPhrase = map[Reason]string{
	UnfulfilledRole:    "no accepted resource role",
	InsufficientCpus:   "insufficient cpus",
	InsufficientMemory: "insufficient mem",
	InsufficientDisk:   "insufficient disk",
	InsufficientGpus:   "insufficient gpus",
	InsufficientPorts:  "insufficient ports",
}

// Error summarises the rejections per reason and constraint, e.g.
// "no agent fits app /web: insufficient cpus on 2 of 3 agents (node-1, node-2),
// constraint hostname:UNIQUE unmet on node-3".
func (u *Unplaceable) Error() string {
	if u.Total == 0 {
		return fmt.Sprintf("no agent fits app %s: there are no agents", u.AppID)
	}
	type part struct {
		phrase string
		names  []string
	}
	var parts []*part
	index := map[string]*part{}
	add := func(phrase, name string) {
		p := index[phrase]
		if p == nil {
			p = &part{phrase: phrase}
			index[phrase] = p
			parts = append(parts, p)
		}
		p.names = append(p.names, name)
	}
	for _, why := range messageOrder {
		for _, r := range u.Rejections {
			name := r.Hostname
			if name == "" {
				name = r.AgentID
			}
			if !hasReason(r.Reasons, why) {
				continue
			}
			if why == UnfulfilledConstraint {
				for _, k := range r.Unmet {
					add("constraint "+k.String()+" unmet", name)
				}
				continue
			}
			add(reasonPhrase[why], name)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "no agent fits app %s: ", u.AppID)
	for i, p := range parts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.phrase)
		if len(p.names) == 1 {
			fmt.Fprintf(&b, " on %s", p.names[0])
			continue
		}
		names := p.names
		more := ""
		if len(names) > 5 {
			more = fmt.Sprintf(", and %d more", len(names)-5)
			names = names[:5]
		}
		fmt.Fprintf(&b, " on %d of %d agents (%s%s)", len(p.names), u.Total, strings.Join(names, ", "), more)
	}
	return b.String()
}

func hasReason(rs []Reason, r Reason) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}
