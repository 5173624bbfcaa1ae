package marathon

import (
	"errors"
	"strings"

	"github.com/switchyard/switchyard/lab/placement"
)

// placed is where a task goes: the agent's index and its host ports.
type placed struct {
	agent int
	ports []int
}

// unplaced says why a task could not be placed, for /v2/queue.
type unplaced struct {
	counts   map[string]int      // reason -> number of agents rejected for it
	perAgent map[string][]string // agent id -> reasons
}

// placementAgents is the cluster as lab/placement sees it: each node with
// what its tasks use (tasks being killed still hold their resources and
// ports until they are gone; constraints count staged and running tasks).
func (s *Server) placementAgents() []placement.Agent {
	out := make([]placement.Agent, len(s.agents))
	idx := map[string]int{}
	for i, ag := range s.agents {
		n, r := ag.Node, ag.Resources
		pa := placement.Agent{
			ID: ag.ID, Hostname: ag.Hostname, Attributes: n.Attributes, Role: "*",
			Total:     placement.Resources{CPUs: r.CPUs, Mem: r.Mem, Disk: r.Disk, GPUs: r.GPUs},
			UsedPorts: map[int]bool{},
		}
		for _, r := range n.Ports {
			pa.PortRanges = append(pa.PortRanges, placement.PortRange{Begin: r.Begin, End: r.End})
		}
		out[i] = pa
		idx[ag.ID] = i
	}
	for _, t := range s.tasks {
		i, ok := idx[t.AgentID]
		if !ok || terminal(t.State) {
			continue
		}
		a := &out[i]
		a.Used = a.Used.Add(placement.Resources{CPUs: t.CPUs, Mem: t.Mem, Disk: t.Disk, GPUs: t.GPUs})
		for _, p := range t.Ports {
			a.UsedPorts[p] = true
		}
		if t.State != taskKilling {
			a.Tasks = append(a.Tasks, placement.Running{AppID: t.AppID})
		}
	}
	return out
}

// constraintsOf converts an app's constraints for lab/placement.
func constraintsOf(sp *appSpec) []placement.Constraint {
	var out []placement.Constraint
	for _, c := range sp.Constraints {
		pc := placement.Constraint{Field: c[0], Operator: strings.ToUpper(c[1])}
		if len(c) > 2 {
			pc.Value = c[2]
		}
		out = append(out, pc)
	}
	return out
}

// placeTask chooses an agent and host ports for one new task of the app.
func (s *Server) placeTask(a *appState) (placed, unplaced, bool) {
	sp := a.spec
	req := placement.Request{
		AppID:       a.ID,
		Resources:   placement.Resources{CPUs: sp.CPUs, Mem: sp.Mem, Disk: sp.Disk, GPUs: sp.GPUs},
		Ports:       sp.hostPortRequests(),
		Constraints: constraintsOf(sp),
	}
	d, err := placement.Place(s.placementAgents(), req)
	if err != nil {
		u := unplaced{counts: map[string]int{}, perAgent: map[string][]string{}}
		var up *placement.Unplaceable
		if errors.As(err, &up) {
			for r, n := range up.Counts() {
				u.counts[string(r)] = n
			}
			for _, rej := range up.Rejections {
				for _, r := range rej.Reasons {
					u.perAgent[rej.AgentID] = append(u.perAgent[rej.AgentID], string(r))
				}
			}
		} else {
			u.counts["InvalidRequest"] = len(s.agents)
		}
		if a.queue != nil && (a.queue.LastError != err.Error()) {
			s.logf("app %s: cannot place a task: %v", a.ID, err)
			a.queue.LastError = err.Error()
		}
		return placed{}, u, false
	}
	for i, ag := range s.agents {
		if ag.ID == d.AgentID {
			return placed{agent: i, ports: d.Ports}, unplaced{}, true
		}
	}
	return placed{}, unplaced{counts: map[string]int{"UnknownAgent": 1}}, false
}
