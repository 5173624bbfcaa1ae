package capacity

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/switchyard/switchyard/internal/wanterr"
)

// replay applies a plan's steps to a copy of the cluster independently of
// the planner and fails the test when any step over-commits a node; it
// returns the final shares by node.
func replay(t interface {
	Helper()
	Fatalf(string, ...any)
}, c Cluster, p Resize) map[string]Resources {
	t.Helper()
	type st struct {
		total, share Resources
		tasks        map[string]Resources
	}
	nodes := map[string]*st{}
	for _, n := range c.Nodes {
		s := &st{total: n.Total, share: n.KubernetesShare, tasks: map[string]Resources{}}
		for _, tk := range n.Tasks {
			if !tk.Wrapper {
				s.tasks[tk.ID] = tk.Resources
			}
		}
		nodes[n.Name] = s
	}
	check := func(i int) {
		for name, s := range nodes {
			sum := s.share
			for _, r := range s.tasks {
				sum = sum.Add(r)
			}
			if r, have, lim := sum.Exceeds(s.total); r != "" {
				t.Fatalf("after step %d (%s): node %s over-committed in %s: %v > %v", i, p.Steps[i].Description, name, r, have, lim)
			}
		}
	}
	for i, step := range p.Steps {
		s := nodes[step.Node]
		switch step.Kind {
		case StepStopTasks:
			for _, tk := range step.Tasks {
				if _, ok := s.tasks[tk.ID]; !ok {
					t.Fatalf("step %d stops task %s not on %s", i, tk.ID, step.Node)
				}
				delete(s.tasks, tk.ID)
			}
		case StepMoveTasks:
			for _, tk := range step.Tasks {
				r, ok := s.tasks[tk.ID]
				if !ok || tk.To == step.Node || nodes[tk.To] == nil {
					t.Fatalf("step %d moves task %s badly (%v)", i, tk.ID, tk)
				}
				delete(s.tasks, tk.ID)
				nodes[tk.To].tasks[tk.ID] = r
				check(i) // the destination must have room at once
			}
		case StepSetShare:
			if !step.From.Equal(s.share) {
				t.Fatalf("step %d: share from %v but node %s holds %v", i, *step.From, step.Node, s.share)
			}
			s.share = *step.To
		default:
			t.Fatalf("step %d: unknown kind %q", i, step.Kind)
		}
		check(i)
	}
	out := map[string]Resources{}
	for name, s := range nodes {
		out[name] = s.share
	}
	return out
}

func node(name string, total Resources, share Resources, tasks ...Resources) Node {
	n := Node{Name: name, Hostname: name, Total: total, KubernetesShare: share}
	for i, r := range tasks {
		n.Tasks = append(n.Tasks, Task{ID: fmt.Sprintf("%s-t%d", name, i), App: "/app" + fmt.Sprint(i%3), Resources: r})
		n.MesosAllocated = n.MesosAllocated.Add(r)
		n.MesosTasks++
	}
	if !share.IsZero() {
		n.Joined = true
		n.Wrapper = name + "-wrapper"
		n.Tasks = append(n.Tasks, Task{ID: n.Wrapper, Resources: share, Wrapper: true})
		n.Allocatable, _ = ShareAllocatable(name, total, share, DefaultOverhead())
	}
	return n
}

func TestPlanResize(t *testing.T) {
	big := Resources{CPUs: 4, Mem: 8192, Disk: 1000}
	c := Cluster{Nodes: []Node{
		node("a", big, Resources{}, Resources{CPUs: 1, Mem: 1024}, Resources{CPUs: 2, Mem: 1024}),
		node("b", big, Resources{CPUs: 2, Mem: 4096}),
		node("c", big, Resources{}),
	}}
	for _, tc := range []struct {
		name      string
		target    Target
		wantKinds string
		wantErr   string
	}{
		{"grow a with room: one step", Target{Shares: []ShareTarget{{Node: "a", Share: Resources{CPUs: 1, Mem: 1024}}}}, "set-share:a", ""},
		{"grow a beyond its room: move tasks first", Target{Shares: []ShareTarget{{Node: "a", Share: Resources{CPUs: 2, Mem: 2048}}}}, "move-tasks:a set-share:a", ""},
		{"shrink b before growing a", Target{Shares: []ShareTarget{{Node: "a", Share: Resources{CPUs: 1}}, {Node: "b", Share: Resources{CPUs: 1, Mem: 1024}}}}, "set-share:b set-share:a", ""},
		{"zero share joins c", Target{Shares: []ShareTarget{{Node: "c"}}}, "set-share:c", ""},
		{"migrate app1: stop its tasks, then grow", Target{Apps: []AppTarget{{ID: "/app1"}}}, "stop-tasks:a set-share:a", ""},
		{"share over total", Target{Shares: []ShareTarget{{Node: "c", Share: Resources{CPUs: 5}}}}, "", "node c: cpus: the share 5 is larger than the node total 4"},
		{"no room anywhere", Target{Shares: []ShareTarget{{All: true, Share: Resources{CPUs: 3.5}}}}, "", "cpus: the share needs 2.5 more than Mesos tasks leave free"},
		{"unknown node", Target{Shares: []ShareTarget{{Node: "zz"}}}, "", "matches no node"},
		{"unknown app", Target{Apps: []AppTarget{{ID: "/nope"}}}, "", "/nope has no running Mesos task"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PlanResize(c, tc.target)
			if wanterr.Check(t, err, tc.wantErr) {
				return
			}
			var kinds []string
			for _, s := range p.Steps {
				kinds = append(kinds, s.Kind+":"+s.Node)
			}
			if got := strings.Join(kinds, " "); got != tc.wantKinds {
				t.Fatalf("steps = %s, want %s", got, tc.wantKinds)
			}
			replay(t, c, p)
		})
	}
}

func TestPlanResizeRefusesShrinkBelowPods(t *testing.T) {
	n := node("b", Resources{CPUs: 4, Mem: 8192}, Resources{CPUs: 2, Mem: 4096})
	n.PodRequests = Resources{CPUs: 1.5, Mem: 1000}
	_, err := PlanResize(Cluster{Nodes: []Node{n}}, Target{Shares: []ShareTarget{{Node: "b", Share: Resources{CPUs: 1, Mem: 4096}}}})
	var be *BlockedError
	if !errors.As(err, &be) || be.Node != "b" || be.Resource != "cpus" {
		t.Fatalf("err = %v", err)
	}
}

func TestWrapperAppAndSelector(t *testing.T) {
	c := Cluster{Nodes: []Node{node("a", Resources{CPUs: 4, Mem: 8192, Disk: 100}, Resources{}), node("b", Resources{CPUs: 4, Mem: 8192, Disk: 100}, Resources{})}}
	c.Nodes[1].Attributes = map[string]string{"rack": "r2"}
	p, err := PlanResize(c, Target{Shares: []ShareTarget{{Selector: map[string]string{"rack": "r2"}, Share: Resources{CPUs: 1, Mem: 1024}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Nodes) != 1 || p.Nodes[0].Name != "b" || !p.Nodes[0].Joins || !p.Nodes[0].Allocatable.Equal(Resources{CPUs: 0.9, Mem: 668}) {
		t.Fatalf("nodes = %+v", p.Nodes)
	}
	app := WrapperSpec{Command: "switchyard kubelet-wrapper", DrainSeconds: 60}.WrapperApp(p.Nodes[0], p.Overhead)
	if app.ID != "/switchyard/kubelet-b" || *app.CPUs != 1 || *app.Mem != 1024 || *app.TaskKillGracePeriodSeconds != 90 ||
		app.Constraints[0].Parts[2] != "b" || app.Labels[WrapperLabel] != "b" || *app.UpgradeStrategy.MaximumOverCapacity != 0 ||
		app.Cmd != nil || !strings.Contains(strings.Join(app.Args, " "), "switchyard kubelet-wrapper --node b --total cpus=4,mem=8192,disk=100") {
		t.Fatalf("app = %+v args %q", app, app.Args)
	}
}

// TestPlanNeverOverCommits is the property: for random clusters and
// targets, either the planner says which node and resource block the
// target, or replaying its steps never over-commits any node and ends with
// the target shares. Targets that fit in each node's free room always plan.
func TestPlanNeverOverCommits(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		nn := rapid.IntRange(1, 8).Draw(rt, "nodes")
		var c Cluster
		for i := range nn {
			total := Resources{CPUs: float64(rapid.IntRange(1, 16).Draw(rt, "cpus")), Mem: float64(rapid.IntRange(1, 64).Draw(rt, "memGi") * 1024), Disk: 1000}
			var share Resources
			if rapid.Bool().Draw(rt, "joined") {
				share = Resources{CPUs: float64(rapid.IntRange(0, int(total.CPUs)).Draw(rt, "shareCPU")) / 2, Mem: total.Mem / 4}
			}
			room := total.Sub(share)
			var tasks []Resources
			for range rapid.IntRange(0, 6).Draw(rt, "tasks") {
				r := Resources{CPUs: float64(rapid.IntRange(1, 8).Draw(rt, "tcpu")) / 4, Mem: float64(rapid.IntRange(1, 16).Draw(rt, "tmem") * 128)}
				if r.Fits(room) {
					tasks = append(tasks, r)
					room = room.Sub(r)
				}
			}
			nd := node(fmt.Sprintf("n%02d", i), total, share, tasks...)
			if nd.Joined {
				// Pods use a random part of the allocatable.
				f := float64(rapid.IntRange(0, 4).Draw(rt, "podFill")) / 4
				nd.PodRequests = Resources{CPUs: nd.Allocatable.CPUs * f, Mem: nd.Allocatable.Mem * f}
			}
			c.Nodes = append(c.Nodes, nd)
		}
		var tg Target
		fitsFree := true
		for range rapid.IntRange(1, 4).Draw(rt, "targets") {
			j := rapid.IntRange(0, nn-1).Draw(rt, "target node")
			n := c.Nodes[j]
			s := Resources{CPUs: float64(rapid.IntRange(0, int(n.Total.CPUs)*2).Draw(rt, "want cpu")) / 2, Mem: float64(rapid.IntRange(0, int(n.Total.Mem)/512).Draw(rt, "want mem") * 512)}
			tg.Shares = append(tg.Shares, ShareTarget{Node: n.Name, Share: s})
		}
		want := map[string]Resources{}
		for _, s := range tg.Shares {
			want[s.Node] = s.Share
		}
		for name, s := range want {
			n, _, _ := c.Node(name)
			if !WrapperShare(s).Fits(noPorts(n.Total.Sub(n.MesosAllocated))) {
				fitsFree = false
			}
			if a, err := ShareAllocatable(name, n.Total, WrapperShare(s), DefaultOverhead()); err != nil || !n.PodRequests.Fits(a) {
				fitsFree = false // a shrink below the pods is refused, rightly
			}
		}
		p, err := PlanResize(c, tg)
		if err != nil {
			var be *BlockedError
			if !errors.As(err, &be) || be.Node == "" || be.Resource == "" {
				rt.Fatalf("error does not name node and resource: %v", err)
			}
			if fitsFree {
				rt.Fatalf("a target within every node's free room was refused: %v", err)
			}
			return
		}
		final := replay(rt, c, p)
		for name, s := range want {
			if !final[name].Equal(WrapperShare(s)) {
				rt.Fatalf("node %s ends with share %v, want %v", name, final[name], s)
			}
		}
		// The Kubernetes side holds too: every node's pods fit its final allocatable.
		for _, n := range c.Nodes {
			a, err := ShareAllocatable(n.Name, n.Total, final[n.Name], DefaultOverhead())
			if err != nil {
				rt.Fatal(err)
			}
			if _, ok := want[n.Name]; !ok && n.Joined {
				a = n.Allocatable
			}
			if !n.PodRequests.Fits(a) {
				rt.Fatalf("node %s: pods %v exceed the final allocatable %v", n.Name, n.PodRequests, a)
			}
		}
	})
}

// benchCluster builds n nodes with tasks spread over them.
func benchCluster(nodes, tasks int) Cluster {
	c := Cluster{Nodes: make([]Node, nodes)}
	per := tasks / nodes
	for i := range c.Nodes {
		rs := make([]Resources, per)
		for k := range rs {
			rs[k] = Resources{CPUs: 0.5 + float64(k%4)*0.25, Mem: 512 + float64(k%3)*256, Ports: 1}
		}
		c.Nodes[i] = node(fmt.Sprintf("node-%05d", i), Resources{CPUs: 16, Mem: 65536, Disk: 100000, Ports: 1000}, Resources{}, rs...)
		c.Nodes[i].Attributes = map[string]string{"rack": fmt.Sprintf("r%d", i%50)}
	}
	return c
}

// BenchmarkPlan5000Nodes plans capacity for 5,000 nodes and 50,000 tasks:
// every node joins; half the racks get a share that needs Mesos tasks moved
// off them (to the other half), the rest a share that fits.
func BenchmarkPlan5000Nodes(b *testing.B) {
	c := benchCluster(5000, 50000)
	tg := Target{Shares: []ShareTarget{{All: true, Share: Resources{CPUs: 2, Mem: 4096}}}}
	for r := 0; r < 25; r++ {
		tg.Shares = append(tg.Shares, ShareTarget{Selector: map[string]string{"rack": fmt.Sprintf("r%d", r)}, Share: Resources{CPUs: 10, Mem: 60000}})
	}
	b.ReportAllocs()
	b.ResetTimer()
	var steps, moves int
	for b.Loop() {
		p, err := PlanResize(c, tg)
		if err != nil {
			b.Fatal(err)
		}
		steps, moves = len(p.Steps), 0
		for _, s := range p.Steps {
			if s.Kind == StepMoveTasks {
				moves += len(s.Tasks)
			}
		}
	}
	b.ReportMetric(float64(steps), "steps")
	b.ReportMetric(float64(moves), "moved-tasks")
	b.ReportMetric(5000, "nodes")
	b.ReportMetric(50000, "tasks")
}

func TestParseTarget(t *testing.T) {
	tg, err := ParseTarget([]byte("shares:\n  - selector: {rack: r1}\n    share: {cpus: 1, mem: 512}\napps:\n  - id: /web\n"))
	if err != nil || len(tg.Shares) != 1 || tg.Shares[0].Share.Mem != 512 || tg.Apps[0].ID != "/web" {
		t.Fatalf("%+v %v", tg, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"shares:\n  - nodes: a\n", `unknown field "nodes"`},
		{"shares:\n  - node: a\n    all: true\n", "shares[0]: set exactly one of node, selector or all"},
		{"shares:\n  - node: a\n    share: {cpus: -1}\n", "shares[0].share: amounts must be >= 0"},
		{"apps:\n  - requests: {cpus: 1}\n", "apps[0].id: required"},
		{"{}", "nothing to plan"},
	} {
		if _, err := ParseTarget([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.in, err, tc.want)
		}
	}
}
