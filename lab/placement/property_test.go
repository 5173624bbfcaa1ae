package placement

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"pgregory.net/rapid"
)

var (
	propApps   = []string{"/a", "/b", "/c"}
	propFields = []string{HostnameField, "rack", "zone"}
	fieldVals  = map[string][]string{HostnameField: {"h0", "h1", "h2", "h3"}, "rack": {"r1", "r2", "r3"}, "zone": {"a", "b"}}
	regexVals  = []string{"r1", "r[12]", "h[0-2]", "a", "h.*", "z"}
)

const portLo, portHi = 31000, 31012

func genMilli(t *rapid.T, max int, label string) float64 {
	return float64(rapid.IntRange(0, max).Draw(t, label)) / 1000
}

func genAgents(t *rapid.T) []Agent {
	n := rapid.IntRange(1, 6).Draw(t, "agents")
	out := make([]Agent, n)
	for i := range out {
		a := Agent{ID: fmt.Sprintf("a%d", i), Hostname: fmt.Sprintf("h%d", i), Attributes: map[string]string{}}
		for _, f := range []string{"rack", "zone"} {
			if rapid.IntRange(0, 4).Draw(t, "has-"+f) > 0 {
				a.Attributes[f] = rapid.SampledFrom(fieldVals[f]).Draw(t, f)
			}
		}
		a.Role = rapid.SampledFrom([]string{"", "*", "pub"}).Draw(t, "role")
		a.Total = Resources{CPUs: genMilli(t, 4000, "cpus"), Mem: genMilli(t, 4096000, "mem"), Disk: genMilli(t, 1000000, "disk"), GPUs: float64(rapid.IntRange(0, 2).Draw(t, "gpus"))}
		a.Used = Resources{
			CPUs: float64(rapid.IntRange(0, int(a.Total.CPUs*1000)).Draw(t, "used-cpus")) / 1000,
			Mem:  float64(rapid.IntRange(0, int(a.Total.Mem*1000)).Draw(t, "used-mem")) / 1000,
			Disk: float64(rapid.IntRange(0, int(a.Total.Disk*1000)).Draw(t, "used-disk")) / 1000,
			GPUs: float64(rapid.IntRange(0, int(a.Total.GPUs)).Draw(t, "used-gpus")),
		}
		for r := rapid.IntRange(0, 2).Draw(t, "ranges"); r > 0; r-- {
			b := rapid.IntRange(portLo, portHi).Draw(t, "begin")
			e := rapid.IntRange(b, portHi).Draw(t, "end")
			a.PortRanges = append(a.PortRanges, PortRange{Begin: b, End: e})
		}
		a.UsedPorts = map[int]bool{}
		for p := rapid.IntRange(0, 4).Draw(t, "used-ports"); p > 0; p-- {
			a.UsedPorts[rapid.IntRange(portLo, portHi).Draw(t, "used-port")] = true
		}
		for k := rapid.IntRange(0, 4).Draw(t, "tasks"); k > 0; k-- {
			a.Tasks = append(a.Tasks, Running{AppID: rapid.SampledFrom(propApps).Draw(t, "task-app")})
		}
		out[i] = a
	}
	return out
}

func genRequest(t *rapid.T) Request {
	r := Request{AppID: rapid.SampledFrom(propApps).Draw(t, "app")}
	r.Resources = Resources{CPUs: genMilli(t, 1500, "req-cpus"), Mem: genMilli(t, 1024000, "req-mem"), Disk: genMilli(t, 100000, "req-disk"), GPUs: float64(rapid.IntRange(0, 1).Draw(t, "req-gpus"))}
	seen := map[int]bool{}
	for k := rapid.IntRange(0, 3).Draw(t, "ports"); k > 0; k-- {
		p := 0
		if rapid.Bool().Draw(t, "fixed") {
			p = rapid.IntRange(portLo-1, portHi+1).Draw(t, "port")
			if seen[p] {
				continue
			}
			seen[p] = true
		}
		r.Ports = append(r.Ports, p)
	}
	for k := rapid.IntRange(0, 2).Draw(t, "constraints"); k > 0; k-- {
		f := rapid.SampledFrom(propFields).Draw(t, "field")
		c := Constraint{Field: f, Operator: rapid.SampledFrom([]string{OpUnique, OpCluster, OpGroupBy, OpLike, OpUnlike, OpMaxPer, OpIs}).Draw(t, "op")}
		switch c.Operator {
		case OpCluster:
			if rapid.Bool().Draw(t, "cluster-value") {
				c.Value = rapid.SampledFrom(fieldVals[f]).Draw(t, "value")
			}
		case OpIs:
			c.Value = rapid.SampledFrom(fieldVals[f]).Draw(t, "value")
		case OpGroupBy:
			if n := rapid.IntRange(0, 3).Draw(t, "groups"); n > 0 {
				c.Value = strconv.Itoa(n)
			}
		case OpMaxPer:
			c.Value = strconv.Itoa(rapid.IntRange(1, 3).Draw(t, "max"))
		case OpLike, OpUnlike:
			c.Value = rapid.SampledFrom(regexVals).Draw(t, "regex")
		}
		r.Constraints = append(r.Constraints, c)
	}
	r.AcceptedRoles = rapid.SampledFrom([][]string{nil, {"*"}, {"pub"}, {"*", "pub"}}).Draw(t, "roles")
	return r
}

// Reference model, written plainly from Marathon's documented semantics and
// from the agents' task lists (not from the package's indexes).

const eps = 1e-6

func refResourcesFit(a Agent, r Request) bool {
	return a.Used.CPUs+r.Resources.CPUs <= a.Total.CPUs+eps &&
		a.Used.Mem+r.Resources.Mem <= a.Total.Mem+eps &&
		a.Used.Disk+r.Resources.Disk <= a.Total.Disk+eps &&
		a.Used.GPUs+r.Resources.GPUs <= a.Total.GPUs+eps
}

func refFreePorts(a Agent) map[int]bool {
	free := map[int]bool{}
	for _, pr := range a.PortRanges {
		for p := pr.Begin; p <= pr.End; p++ {
			if !a.UsedPorts[p] {
				free[p] = true
			}
		}
	}
	return free
}

func refPortsFit(a Agent, r Request) bool {
	free := refFreePorts(a)
	dynamic := 0
	for _, p := range r.Ports {
		if p == 0 {
			dynamic++
			continue
		}
		if !free[p] {
			return false
		}
		delete(free, p)
	}
	return len(free) >= dynamic
}

func refRoleFits(a Agent, r Request) bool {
	if len(r.AcceptedRoles) == 0 {
		return true
	}
	role := a.Role
	if role == "" {
		role = "*"
	}
	for _, x := range r.AcceptedRoles {
		if x == role {
			return true
		}
	}
	return false
}

func refValue(a Agent, field string) (string, bool) {
	if field == HostnameField {
		return a.Hostname, true
	}
	v, ok := a.Attributes[field]
	return v, ok
}

// refPlaced lists, for every task of app, the field value of its agent
// ("" plus false when the agent lacks the attribute).
type placedValue struct {
	v   string
	has bool
}

func refPlaced(agents []Agent, app, field string) []placedValue {
	var out []placedValue
	for _, a := range agents {
		for _, t := range a.Tasks {
			if t.AppID == app {
				v, ok := refValue(a, field)
				out = append(out, placedValue{v, ok})
			}
		}
	}
	return out
}

func refConstraintHolds(agents []Agent, a Agent, app string, c Constraint) bool {
	v, has := refValue(a, c.Field)
	if !has {
		return c.Operator == OpUnlike
	}
	placed := refPlaced(agents, app, c.Field)
	same := 0
	for _, p := range placed {
		if p.has && p.v == v {
			same++
		}
	}
	switch c.Operator {
	case OpUnique:
		return same == 0
	case OpCluster:
		if c.Value != "" {
			return v == c.Value
		}
		for _, p := range placed {
			if !p.has || p.v != v {
				return false
			}
		}
		return true
	case OpIs:
		return v == c.Value
	case OpLike:
		return regexp.MustCompile("^(?:" + c.Value + ")$").MatchString(v)
	case OpUnlike:
		return !regexp.MustCompile("^(?:" + c.Value + ")$").MatchString(v)
	case OpMaxPer:
		n, _ := strconv.Atoi(c.Value)
		return same < n
	case OpGroupBy:
		if same == 0 {
			return true
		}
		sizes := map[placedValue]int{}
		for _, p := range placed {
			if !p.has {
				p.v = ""
			}
			sizes[p]++
		}
		minimum, _ := strconv.Atoi(c.Value)
		for _, n := range sizes {
			if n < same {
				return false
			}
		}
		return len(sizes) >= minimum
	}
	panic("operator " + c.Operator)
}

func refFits(agents []Agent, a Agent, r Request) bool {
	if !refRoleFits(a, r) {
		return false
	}
	if !refResourcesFit(a, r) || !refPortsFit(a, r) {
		return false
	}
	for _, c := range r.Constraints {
		if !refConstraintHolds(agents, a, r.AppID, c) {
			return false
		}
	}
	return true
}

func appCount(a Agent, app string) int {
	n := 0
	for _, t := range a.Tasks {
		if t.AppID == app {
			n++
		}
	}
	return n
}

// checkDecision verifies one placement against the reference model.
func checkDecision(t *rapid.T, agents []Agent, r Request, d Decision, err error) {
	var u *Unplaceable
	if errors.As(err, &u) {
		for _, a := range agents {
			if refFits(agents, a, r) {
				t.Fatalf("Unplaceable (%v), but agent %s fits %+v", err, a.ID, r)
			}
		}
		if len(u.Rejections) != len(agents) {
			t.Fatalf("%d rejections for %d agents", len(u.Rejections), len(agents))
		}
		return
	}
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	var chosen *Agent
	for i := range agents {
		if agents[i].ID == d.AgentID {
			chosen = &agents[i]
		}
	}
	if chosen == nil {
		t.Fatalf("decision names unknown agent %s", d.AgentID)
	}
	if !refFits(agents, *chosen, r) {
		t.Fatalf("agent %s chosen for %+v but the reference says it does not fit: %+v", chosen.ID, r, *chosen)
	}
	if len(d.Ports) != len(r.Ports) {
		t.Fatalf("ports %v for request %v", d.Ports, r.Ports)
	}
	free := refFreePorts(*chosen)
	seen := map[int]bool{}
	for i, p := range d.Ports {
		if r.Ports[i] != 0 && p != r.Ports[i] {
			t.Fatalf("fixed port %d given as %d", r.Ports[i], p)
		}
		if !free[p] || seen[p] {
			t.Fatalf("port %d is not free on %s or given twice (%v)", p, chosen.ID, d.Ports)
		}
		seen[p] = true
	}
	// Spread: without GROUP_BY, no fitting agent runs fewer of the app's tasks.
	for _, c := range r.Constraints {
		if c.Operator == OpGroupBy {
			return
		}
	}
	for _, a := range agents {
		if refFits(agents, a, r) && appCount(a, r.AppID) < appCount(*chosen, r.AppID) {
			t.Fatalf("chose %s with %d tasks of %s, but %s fits with %d", chosen.ID, appCount(*chosen, r.AppID), r.AppID, a.ID, appCount(a, r.AppID))
		}
	}
}

// TestPlaceProperties: for random agents and requests, a placement fits the
// chosen agent (resources, ports, role, constraints) and Unplaceable is only
// returned when no agent fits.
func TestPlaceProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		agents := genAgents(t)
		r := genRequest(t)
		d, err := Place(agents, r)
		checkDecision(t, agents, r, d, err)
	})
}

// TestClusterNeverOvercommits places a random sequence of tasks, committing
// each, and checks after every step that no agent is over-committed, no host
// port is given twice, and every placement was valid when it was made.
func TestClusterNeverOvercommits(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		agents := genAgents(t)
		c, err := NewCluster(agents)
		if err != nil {
			t.Fatal(err)
		}
		given := map[string]map[int]bool{}
		for _, a := range agents {
			given[a.ID] = map[int]bool{}
			for p, u := range a.UsedPorts {
				if u {
					given[a.ID][p] = true
				}
			}
		}
		steps := rapid.IntRange(1, 25).Draw(t, "steps")
		for s := 0; s < steps; s++ {
			r := genRequest(t)
			before := c.Agents()
			d, err := c.Place(r)
			checkDecision(t, before, r, d, err)
			if err != nil {
				continue
			}
			if err := c.Commit(r, d); err != nil {
				t.Fatalf("commit of a valid decision: %v", err)
			}
			for _, p := range d.Ports {
				if given[d.AgentID][p] {
					t.Fatalf("port %d on %s given twice", p, d.AgentID)
				}
				given[d.AgentID][p] = true
			}
			for _, a := range c.Agents() {
				orig := agents[indexOf(agents, a.ID)]
				if a.Used.CPUs > a.Total.CPUs+eps || a.Used.Mem > a.Total.Mem+eps || a.Used.Disk > a.Total.Disk+eps || a.Used.GPUs > a.Total.GPUs+eps {
					if !overcommittedFromStart(orig) {
						t.Fatalf("agent %s over-committed: used %+v of %+v", a.ID, a.Used, a.Total)
					}
				}
			}
		}
	})
}

func overcommittedFromStart(a Agent) bool { return !refResourcesFit(a, Request{}) }

func indexOf(agents []Agent, id string) int {
	for i, a := range agents {
		if a.ID == id {
			return i
		}
	}
	return -1
}
