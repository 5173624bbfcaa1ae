package placement

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// agent builds a test agent with 4 cpus, 4096 mem, 10000 disk and ports 31000-31009.
func agent(id string, attrs map[string]string, apps ...string) Agent {
	a := Agent{
		ID: id, Hostname: id, Attributes: attrs,
		Total:      Resources{CPUs: 4, Mem: 4096, Disk: 10000},
		PortRanges: []PortRange{{Begin: 31000, End: 31009}},
	}
	for _, app := range apps {
		a.Tasks = append(a.Tasks, Running{AppID: app})
	}
	return a
}

func with(a Agent, f func(*Agent)) Agent { f(&a); return a }

func req(cons ...Constraint) Request {
	return Request{AppID: "/web", Resources: Resources{CPUs: 0.5, Mem: 256}, Constraints: cons}
}

func con(s string) Constraint {
	p := strings.SplitN(s, ":", 3)
	c := Constraint{Field: p[0], Operator: p[1]}
	if len(p) == 3 {
		c.Value = p[2]
	}
	return c
}

var racks = map[string]map[string]string{
	"r1": {"rack": "r1", "zone": "a"},
	"r2": {"rack": "r2", "zone": "b"},
	"r3": {"rack": "r3", "zone": "b"},
}

type placeCase struct {
	name    string
	agents  []Agent
	req     Request
	want    string         // agent id
	ports   []int          // when non-nil, the decision's ports
	reasons map[Reason]int // when non-nil, the placement fails with these counts
	msg     string         // substring of the error message
}

func runPlaceCases(t *testing.T, cases []placeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Place(tc.agents, tc.req)
			if tc.reasons != nil {
				var u *Unplaceable
				if !errors.As(err, &u) {
					t.Fatalf("want *Unplaceable, got decision %+v err %v", d, err)
				}
				if got := u.Counts(); !reflect.DeepEqual(got, tc.reasons) {
					t.Errorf("counts = %v, want %v (%v)", got, tc.reasons, err)
				}
				if !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("message %q lacks %q", err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Place: %v", err)
			}
			if d.AgentID != tc.want {
				t.Errorf("agent = %s, want %s", d.AgentID, tc.want)
			}
			if tc.ports != nil && !reflect.DeepEqual(d.Ports, tc.ports) {
				t.Errorf("ports = %v, want %v", d.Ports, tc.ports)
			}
		})
	}
}

func TestResources(t *testing.T) {
	runPlaceCases(t, []placeCase{
		{name: "exact cpu limit fits", agents: []Agent{with(agent("n1", nil), func(a *Agent) { a.Used.CPUs = 3.5 })}, req: req(), want: "n1"},
		{name: "0.1 left fits 0.1 despite float error", agents: []Agent{with(agent("n1", nil), func(a *Agent) { a.Total.CPUs = 1; a.Used.CPUs = 0.1 + 0.2 + 0.3 + 0.2 + 0.1 })}, req: Request{AppID: "/a", Resources: Resources{CPUs: 0.1}}, want: "n1"},
		{name: "cpus just over", agents: []Agent{with(agent("n1", nil), func(a *Agent) { a.Used.CPUs = 3.501 })}, req: req(),
			reasons: map[Reason]int{InsufficientCpus: 1}, msg: "no agent fits app /web: insufficient cpus on n1"},
		{name: "exact mem limit fits", agents: []Agent{with(agent("n1", nil), func(a *Agent) { a.Used.Mem = 3840 })}, req: req(), want: "n1"},
		{name: "mem over", agents: []Agent{with(agent("n1", nil), func(a *Agent) { a.Used.Mem = 3841 })}, req: req(),
			reasons: map[Reason]int{InsufficientMemory: 1}, msg: "insufficient mem on n1"},
		{name: "disk over", agents: []Agent{agent("n1", nil)}, req: Request{AppID: "/db", Resources: Resources{Disk: 10000.5}},
			reasons: map[Reason]int{InsufficientDisk: 1}, msg: "insufficient disk on n1"},
		{name: "gpus: none on agent", agents: []Agent{agent("n1", nil)}, req: Request{AppID: "/ml", Resources: Resources{GPUs: 1}},
			reasons: map[Reason]int{InsufficientGpus: 1}, msg: "insufficient gpus on n1"},
		{name: "gpus: exact", agents: []Agent{with(agent("n1", nil), func(a *Agent) { a.Total.GPUs = 2; a.Used.GPUs = 1 })}, req: Request{AppID: "/ml", Resources: Resources{GPUs: 1}}, want: "n1"},
		{name: "several reasons on one agent", agents: []Agent{agent("n1", nil)}, req: Request{AppID: "/big", Resources: Resources{CPUs: 5, Mem: 5000}},
			reasons: map[Reason]int{InsufficientCpus: 1, InsufficientMemory: 1}, msg: "insufficient cpus on n1, insufficient mem on n1"},
		{name: "zero request fits a full agent", agents: []Agent{with(agent("n1", nil), func(a *Agent) { a.Used = a.Total })}, req: Request{AppID: "/z"}, want: "n1"},
		{name: "no agents", agents: nil, req: req(), reasons: map[Reason]int{}, msg: "no agent fits app /web: there are no agents"},
	})
}

func TestSpread(t *testing.T) {
	runPlaceCases(t, []placeCase{
		{name: "fewest tasks of the app wins over free cpus",
			agents: []Agent{agent("n1", nil, "/web"), with(agent("n2", nil), func(a *Agent) { a.Used.CPUs = 3 })}, req: req(), want: "n2"},
		{name: "other apps do not count",
			agents: []Agent{agent("n1", nil, "/db", "/db"), with(agent("n2", nil), func(a *Agent) { a.Used.CPUs = 1 })}, req: req(), want: "n1"},
		{name: "then most free cpus",
			agents: []Agent{with(agent("n1", nil), func(a *Agent) { a.Used.CPUs = 2 }), with(agent("n2", nil), func(a *Agent) { a.Used.CPUs = 1 })}, req: req(), want: "n2"},
		{name: "then lowest id", agents: []Agent{agent("n3", nil), agent("n1", nil), agent("n2", nil)}, req: req(), want: "n1"},
		{name: "a fitting agent beats a better-scored one that does not fit",
			agents: []Agent{with(agent("n1", nil), func(a *Agent) { a.Used.Mem = 4000 }), agent("n2", nil, "/web", "/web")}, req: req(), want: "n2"},
	})
}

func TestPorts(t *testing.T) {
	three := func(used ...int) Agent {
		a := agent("n1", nil)
		a.PortRanges = []PortRange{{Begin: 31000, End: 31002}}
		a.UsedPorts = map[int]bool{}
		for _, p := range used {
			a.UsedPorts[p] = true
		}
		return a
	}
	withPorts := func(ports ...int) Request { r := req(); r.Ports = ports; return r }
	runPlaceCases(t, []placeCase{
		{name: "dynamic lowest free", agents: []Agent{three(31000)}, req: withPorts(0, 0), want: "n1", ports: []int{31001, 31002}},
		{name: "dynamic exhausted", agents: []Agent{three(31001)}, req: withPorts(0, 0, 0),
			reasons: map[Reason]int{InsufficientPorts: 1}, msg: "insufficient ports on n1"},
		{name: "fixed free", agents: []Agent{three()}, req: withPorts(31002), want: "n1", ports: []int{31002}},
		{name: "fixed in use", agents: []Agent{three(31002)}, req: withPorts(31002), reasons: map[Reason]int{InsufficientPorts: 1}, msg: "insufficient ports"},
		{name: "fixed outside the ranges", agents: []Agent{three()}, req: withPorts(8080), reasons: map[Reason]int{InsufficientPorts: 1}, msg: "insufficient ports"},
		{name: "fixed then dynamic", agents: []Agent{three()}, req: withPorts(31000, 0), want: "n1", ports: []int{31000, 31001}},
		{name: "dynamic then fixed", agents: []Agent{three()}, req: withPorts(0, 31000), want: "n1", ports: []int{31001, 31000}},
		{name: "fixed takes the last free port dynamic needs", agents: []Agent{three(31000)}, req: withPorts(31001, 0, 0),
			reasons: map[Reason]int{InsufficientPorts: 1}, msg: "insufficient ports"},
		{name: "used ports outside ranges do not reduce room", agents: []Agent{with(three(8080, 9090), func(a *Agent) {})}, req: withPorts(0, 0, 0), want: "n1", ports: []int{31000, 31001, 31002}},
		{name: "dynamic across ranges", agents: []Agent{with(three(), func(a *Agent) {
			a.PortRanges = []PortRange{{Begin: 32000, End: 32001}, {Begin: 31000, End: 31000}}
			a.UsedPorts = map[int]bool{31000: true}
		})}, req: withPorts(0, 0), want: "n1", ports: []int{32000, 32001}},
		{name: "no ranges, ports wanted", agents: []Agent{with(agent("n1", nil), func(a *Agent) { a.PortRanges = nil })}, req: withPorts(0),
			reasons: map[Reason]int{InsufficientPorts: 1}, msg: "insufficient ports"},
		{name: "no ranges, no ports wanted", agents: []Agent{with(agent("n1", nil), func(a *Agent) { a.PortRanges = nil })}, req: req(), want: "n1"},
		{name: "port room decides the agent", agents: []Agent{three(31000, 31001), with(three(), func(a *Agent) { a.ID, a.Hostname = "n2", "n2"; a.Used.CPUs = 3 })},
			req: withPorts(0, 0), want: "n2", ports: []int{31000, 31001}},
	})
}

func TestRoles(t *testing.T) {
	public := with(agent("pub", nil), func(a *Agent) { a.Role = "slave_public" })
	withRoles := func(roles ...string) Request { r := req(); r.AcceptedRoles = roles; return r }
	runPlaceCases(t, []placeCase{
		{name: "unreserved only", agents: []Agent{public}, req: withRoles("*"), reasons: map[Reason]int{UnfulfilledRole: 1}, msg: "no accepted resource role on pub"},
		{name: "public accepted", agents: []Agent{public, agent("n1", nil)}, req: withRoles("slave_public"), want: "pub"},
		{name: "any role when empty", agents: []Agent{public}, req: withRoles(), want: "pub"},
		{name: "star matches an agent without role", agents: []Agent{public, agent("n1", nil)}, req: withRoles("*"), want: "n1"},
	})
}

func TestConstraints(t *testing.T) {
	three := []Agent{agent("node-1", racks["r1"]), agent("node-2", racks["r2"]), agent("node-3", racks["r1"])}
	tasks := func(apps ...string) []Agent { // one task of /web per named agent
		out := append([]Agent(nil), three...)
		for i := range out {
			for _, a := range apps {
				if out[i].ID == a {
					out[i].Tasks = append(out[i].Tasks, Running{AppID: "/web"})
				}
			}
		}
		return out
	}
	noRack := agent("node-9", map[string]string{"zone": "c"})
	runPlaceCases(t, []placeCase{
		{name: "hostname UNIQUE", agents: tasks("node-1", "node-2"), req: req(con("hostname:UNIQUE")), want: "node-3"},
		{name: "hostname UNIQUE full", agents: tasks("node-1", "node-2", "node-3"), req: req(con("hostname:UNIQUE")),
			reasons: map[Reason]int{UnfulfilledConstraint: 3}, msg: "constraint hostname:UNIQUE unmet on 3 of 3 agents (node-1, node-2, node-3)"},
		{name: "lowercase operator", agents: tasks("node-1", "node-2"), req: req(con("hostname:unique")), want: "node-3"},
		{name: "attribute UNIQUE", agents: tasks("node-1"), req: req(con("rack:UNIQUE")), want: "node-2"},
		{name: "attribute UNIQUE: missing attribute rejects", agents: []Agent{noRack}, req: req(con("rack:UNIQUE")),
			reasons: map[Reason]int{UnfulfilledConstraint: 1}, msg: "constraint rack:UNIQUE unmet on node-9"},
		{name: "CLUSTER with value", agents: three, req: req(con("hostname:CLUSTER:node-2")), want: "node-2"},
		{name: "CLUSTER by attribute value", agents: three, req: req(con("rack:CLUSTER:r1")), want: "node-1"},
		{name: "CLUSTER without value follows the first task", agents: tasks("node-2"), req: req(con("rack:CLUSTER")), want: "node-2"},
		{name: "CLUSTER without value, no task yet", agents: three, req: req(con("rack:CLUSTER")), want: "node-1"},
		{name: "CLUSTER unmet", agents: three, req: req(con("rack:CLUSTER:r9")),
			reasons: map[Reason]int{UnfulfilledConstraint: 3}, msg: "constraint rack:CLUSTER:r9 unmet on 3 of 3 agents"},
		{name: "LIKE", agents: tasks("node-1"), req: req(con("hostname:LIKE:node-[13]")), want: "node-3"},
		{name: "LIKE is a full match", agents: three, req: req(con("hostname:LIKE:node")),
			reasons: map[Reason]int{UnfulfilledConstraint: 3}, msg: "constraint hostname:LIKE:node unmet"},
		{name: "LIKE on attribute", agents: three, req: req(con("rack:LIKE:r[2-9]")), want: "node-2"},
		{name: "UNLIKE", agents: three, req: req(con("rack:UNLIKE:r1")), want: "node-2"},
		{name: "UNLIKE is a full match", agents: []Agent{agent("node-1", racks["r1"])}, req: req(con("rack:UNLIKE:r")), want: "node-1"},
		{name: "UNLIKE holds where the attribute is missing", agents: []Agent{agent("node-1", racks["r1"]), noRack}, req: req(con("rack:UNLIKE:r1")), want: "node-9"},
		{name: "MAX_PER by rack", agents: tasks("node-1", "node-3"), req: req(con("rack:MAX_PER:2")), want: "node-2"},
		{name: "MAX_PER by rack allows up to max", agents: tasks("node-1"), req: req(con("rack:MAX_PER:2"), con("hostname:UNIQUE")), want: "node-2"},
		{name: "MAX_PER by hostname", agents: tasks("node-1", "node-1", "node-2", "node-3"), req: req(con("hostname:MAX_PER:1")),
			reasons: map[Reason]int{UnfulfilledConstraint: 3}, msg: "constraint hostname:MAX_PER:1 unmet on 3 of 3 agents"},
		{name: "MAX_PER reached", agents: tasks("node-1", "node-2", "node-3"), req: req(con("rack:MAX_PER:1")),
			reasons: map[Reason]int{UnfulfilledConstraint: 3}, msg: "rack:MAX_PER:1 unmet"},
		{name: "IS", agents: three, req: req(con("rack:IS:r2")), want: "node-2"},
		{name: "IS is exact", agents: three, req: req(con("rack:IS:r")),
			reasons: map[Reason]int{UnfulfilledConstraint: 3}, msg: "rack:IS:r unmet"},
		{name: "IS missing attribute", agents: []Agent{noRack}, req: req(con("rack:IS:r1")),
			reasons: map[Reason]int{UnfulfilledConstraint: 1}, msg: "rack:IS:r1 unmet on node-9"},
		{name: "GROUP_BY picks the emptier group", agents: tasks("node-1"), req: req(con("rack:GROUP_BY")), want: "node-2"},
		{name: "GROUP_BY with value: too few groups blocks a known group", agents: []Agent{agent("node-1", racks["r1"], "/web"), agent("node-3", racks["r1"])}, req: req(con("rack:GROUP_BY:2")),
			reasons: map[Reason]int{UnfulfilledConstraint: 2}, msg: "rack:GROUP_BY:2 unmet"},
		{name: "two constraints, both named", agents: tasks("node-2"), req: req(con("rack:IS:r2"), con("hostname:UNIQUE")),
			reasons: map[Reason]int{UnfulfilledConstraint: 3}, msg: "constraint rack:IS:r2 unmet on 2 of 3 agents (node-1, node-3), constraint hostname:UNIQUE unmet on node-2"},
		{name: "brief's example message", agents: []Agent{
			with(agent("node-1", nil), func(a *Agent) { a.Used.CPUs = 4 }),
			with(agent("node-2", nil), func(a *Agent) { a.Used.CPUs = 3.9 }),
			agent("node-3", nil, "/web"),
		}, req: req(con("hostname:UNIQUE")),
			reasons: map[Reason]int{InsufficientCpus: 2, UnfulfilledConstraint: 1},
			msg:     "no agent fits app /web: insufficient cpus on 2 of 3 agents (node-1, node-2), constraint hostname:UNIQUE unmet on node-3"},
	})
}

// TestGroupBySpreadsAcrossRacks places tasks one after another on six agents
// in three racks of unequal size: GROUP_BY:3 keeps the racks even.
func TestGroupBySpreadsAcrossRacks(t *testing.T) {
	agents := []Agent{
		agent("a1", racks["r1"]), agent("a2", racks["r1"]), agent("a3", racks["r1"]),
		agent("b1", racks["r2"]), agent("b2", racks["r2"]),
		agent("c1", racks["r3"]),
	}
	for _, value := range []string{"3", ""} {
		t.Run("GROUP_BY:"+value, func(t *testing.T) {
			c, err := NewCluster(agents)
			if err != nil {
				t.Fatal(err)
			}
			r := req(Constraint{Field: "rack", Operator: OpGroupBy, Value: value})
			perRack := map[string]int{}
			for i := 1; i <= 9; i++ {
				d, err := c.Place(r)
				if err != nil {
					t.Fatalf("task %d: %v", i, err)
				}
				if err := c.Commit(r, d); err != nil {
					t.Fatal(err)
				}
				perRack[rackOf(agents, d.AgentID)]++
				// After every full round the racks are even.
				if i%3 == 0 {
					for _, rk := range []string{"r1", "r2", "r3"} {
						if perRack[rk] != i/3 {
							t.Fatalf("after %d tasks: per rack %v, want %d each", i, perRack, i/3)
						}
					}
				}
			}
		})
	}
}

func rackOf(agents []Agent, id string) string {
	for _, a := range agents {
		if a.ID == id {
			return a.Attributes["rack"]
		}
	}
	return ""
}

func TestGroupByValueNeedsEnoughGroups(t *testing.T) {
	// Marathon semantics: with GROUP_BY:3 and only two racks, once both racks
	// have a task no further task may go to a rack already in use.
	c, _ := NewCluster([]Agent{agent("a1", racks["r1"]), agent("b1", racks["r2"])})
	r := req(con("rack:GROUP_BY:3"))
	for i := 0; i < 2; i++ {
		d, err := c.Place(r)
		if err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		c.Commit(r, d)
	}
	if _, err := c.Place(r); err == nil || !strings.Contains(err.Error(), "rack:GROUP_BY:3 unmet on 2 of 2 agents") {
		t.Errorf("third task: err = %v", err)
	}
}

func TestBadInput(t *testing.T) {
	good := []Agent{agent("n1", nil)}
	for _, tc := range []struct {
		name   string
		agents []Agent
		req    Request
		want   string
	}{
		{"unknown operator", good, req(con("rack:NEAR:r1")), `constraints[0]: constraint rack:NEAR:r1: operator "NEAR" is not one of`},
		{"empty field", good, req(Constraint{Operator: OpUnique}), "the field is empty"},
		{"LIKE without value", good, req(con("rack:LIKE")), "LIKE needs a regular expression"},
		{"bad regex", good, req(con("rack:UNLIKE:r[")), "not a valid regular expression"},
		{"MAX_PER zero", good, req(con("rack:MAX_PER:0")), "MAX_PER needs a positive whole number"},
		{"MAX_PER text", good, req(con("rack:MAX_PER:two")), "MAX_PER needs a positive whole number"},
		{"GROUP_BY text", good, req(con("rack:GROUP_BY:x")), "GROUP_BY value must be a positive whole number"},
		{"IS without value", good, req(con("rack:IS")), "IS needs a value"},
		{"negative cpus", good, Request{AppID: "/a", Resources: Resources{CPUs: -1}}, "place app /a: cpus -1 is not a non-negative number"},
		{"port out of range", good, Request{AppID: "/a", Ports: []int{70000}}, "ports[0] = 70000 is not within 0-65535"},
		{"port twice", good, Request{AppID: "/a", Ports: []int{31000, 0, 31000}}, "ports[2] = 31000 is requested twice"},
		{"duplicate agent", []Agent{agent("n1", nil), agent("n1", nil)}, req(), "agent n1: the id appears twice"},
		{"empty agent id", []Agent{{Hostname: "x"}}, req(), `agent 0 (hostname "x"): the id is empty`},
		{"bad port range", []Agent{with(agent("n1", nil), func(a *Agent) { a.PortRanges = []PortRange{{Begin: 32000, End: 31000}} })}, req(), "portRanges[0] 32000-31000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Place(tc.agents, tc.req)
			var u *Unplaceable
			if err == nil || errors.As(err, &u) {
				t.Fatalf("want a plain error, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
	if err := ValidateConstraint(con("hostname:UNIQUE")); err != nil {
		t.Errorf("ValidateConstraint(hostname:UNIQUE) = %v", err)
	}
}

func TestClusterCommit(t *testing.T) {
	orig := []Agent{with(agent("n1", nil), func(a *Agent) {
		a.Total.CPUs = 1
		a.PortRanges = []PortRange{{Begin: 31000, End: 31009}}
		a.UsedPorts = map[int]bool{31000: true}
	})}
	c, err := NewCluster(orig)
	if err != nil {
		t.Fatal(err)
	}
	r := Request{AppID: "/a", Resources: Resources{CPUs: 0.1}, Ports: []int{0}}
	var ports []int
	for i := 0; i < 9; i++ {
		d, err := c.Place(r)
		if err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		if err := c.Commit(r, d); err != nil {
			t.Fatal(err)
		}
		ports = append(ports, d.Ports...)
	}
	if want := []int{31001, 31002, 31003, 31004, 31005, 31006, 31007, 31008, 31009}; !reflect.DeepEqual(ports, want) {
		t.Errorf("ports = %v", ports)
	}
	// Ports are gone now, cpus are not (0.9 used of 1).
	if _, err := c.Place(r); err == nil || !strings.Contains(err.Error(), "insufficient ports on n1") {
		t.Errorf("10th task with a port: %v", err)
	}
	noPort := Request{AppID: "/a", Resources: Resources{CPUs: 0.1}}
	d, err := c.Place(noPort)
	if err != nil {
		t.Fatalf("10th 0.1 cpu task must fit exactly: %v", err)
	}
	if err := c.Commit(noPort, d); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Place(noPort); err == nil || !strings.Contains(err.Error(), "insufficient cpus") {
		t.Errorf("11th task: %v", err)
	}
	got := c.Agents()[0]
	if len(got.Tasks) != 10 || len(got.UsedPorts) != 10 || got.Used.CPUs < 0.999 {
		t.Errorf("agent after commits: tasks=%d ports=%d used=%+v", len(got.Tasks), len(got.UsedPorts), got.Used)
	}
	// The caller's agents are untouched.
	if len(orig[0].UsedPorts) != 1 || len(orig[0].Tasks) != 0 || orig[0].Used.CPUs != 0 {
		t.Errorf("NewCluster/Commit changed the input agent: %+v", orig[0])
	}
	// Commit refuses what does not fit.
	if err := c.Commit(noPort, Decision{AgentID: "nope"}); err == nil {
		t.Error("commit to an unknown agent succeeded")
	}
	if err := c.Commit(Request{AppID: "/a"}, Decision{AgentID: "n1", Ports: []int{31001}}); err == nil || !strings.Contains(err.Error(), "port 31001 is not free") {
		t.Errorf("commit of a used port: %v", err)
	}
	if err := c.Commit(noPort, Decision{AgentID: "n1"}); err == nil || !strings.Contains(err.Error(), "no room") {
		t.Errorf("over-commit: %v", err)
	}
}

func TestUnplaceableMessageTruncatesLongLists(t *testing.T) {
	var agents []Agent
	for _, id := range []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7"} {
		agents = append(agents, with(agent(id, nil), func(a *Agent) { a.Used.Mem = 4096 }))
	}
	_, err := Place(agents, req())
	if err == nil || !strings.Contains(err.Error(), "insufficient mem on 7 of 7 agents (n1, n2, n3, n4, n5, and 2 more)") {
		t.Errorf("err = %v", err)
	}
}

func TestUnplaceableSummaryFunnel(t *testing.T) {
	agents := []Agent{
		with(agent("pub", nil), func(a *Agent) { a.Role = "slave_public" }),
		with(agent("n1", nil, "/web"), func(a *Agent) { a.Used.CPUs = 4 }), // constraint and cpus: declined for the constraint
		with(agent("n2", nil), func(a *Agent) { a.Used.CPUs = 4; a.Used.Mem = 4096 }),
		with(agent("n3", nil), func(a *Agent) { a.Used.Mem = 4096 }),
	}
	r := req(con("hostname:UNIQUE"))
	r.AcceptedRoles = []string{"*"}
	_, err := Place(agents, r)
	var u *Unplaceable
	if !errors.As(err, &u) {
		t.Fatalf("err = %v", err)
	}
	want := []ReasonSummary{
		{UnfulfilledRole, 1, 4},
		{UnfulfilledConstraint, 1, 3},
		{NoCorrespondingReservationFound, 0, 2},
		{InsufficientCpus, 1, 2},
		{InsufficientMemory, 1, 1},
		{InsufficientDisk, 0, 0},
		{InsufficientGpus, 0, 0},
		{InsufficientPorts, 0, 0},
	}
	if got := u.Summary(); !reflect.DeepEqual(got, want) {
		t.Errorf("Summary() =\n%v\nwant\n%v", got, want)
	}
	if got := u.Counts(); !reflect.DeepEqual(got, map[Reason]int{UnfulfilledRole: 1, UnfulfilledConstraint: 1, InsufficientCpus: 2, InsufficientMemory: 2}) {
		t.Errorf("Counts() = %v", got)
	}
}
