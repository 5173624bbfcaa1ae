package capacity

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/wanterr"
)

func agent(name string, total, share Resources, tasks ...Resources) Node {
	n := node(name, total, share, tasks...)
	n.AgentID = "agent-" + name
	return n
}

func TestFit(t *testing.T) {
	r := func(c, m float64) Resources { return Resources{CPUs: c, Mem: m} }
	four := r(4, 8192)
	// a: 4c, 1c held by tasks, no share → Mesos free 3c.
	// b: 4c, share 2c (allocatable 1.9c), 1c held by tasks → Mesos free 1c.
	// c: 4c, share 3c (allocatable 2.9c), 0.5c of pods → Kubernetes free 2.4c.
	base := func() Cluster {
		c := Cluster{Nodes: []Node{agent("a", four, Resources{}, r(1, 1024)), agent("b", four, r(2, 2048), r(1, 1024)), agent("c", four, r(3, 4096))}}
		c.Nodes[2].PodRequests = r(0.5, 512)
		return c
	}
	tests := []struct {
		name     string
		side     string
		each     Resources
		count    int
		freed    map[string]Resources
		cordon   string
		wantErr  bool
		node     string
		resource string
		placed   int
		// after: per node the expected MesosAllocated (mesos) or PodRequests (kubernetes) cpus
		after map[string]float64
	}{
		{name: "mesos fits first-fit", side: SideMesos, each: r(1, 128), count: 4,
			after: map[string]float64{"a": 4, "b": 2, "c": 0}},
		{name: "mesos too many cpus names the roomiest node", side: SideMesos, each: r(3.5, 128), count: 1,
			wantErr: true, node: "a", resource: "cpus", placed: 0},
		{name: "mesos partial fit", side: SideMesos, each: r(1.5, 128), count: 3,
			wantErr: true, node: "b", resource: "cpus", placed: 2},
		{name: "mesos memory short", side: SideMesos, each: r(0.1, 7500), count: 1,
			wantErr: true, node: "a", resource: "mem"},
		{name: "mesos update frees the app's tasks", side: SideMesos, each: r(4, 128), count: 1,
			freed: map[string]Resources{"agent-a": r(1, 1024)}, after: map[string]float64{"a": 4}},
		{name: "kubernetes fits on joined nodes only", side: SideKubernetes, each: r(1, 256), count: 3,
			after: map[string]float64{"b": 1, "c": 2.5}},
		{name: "kubernetes over-commit names node and cpus", side: SideKubernetes, each: r(2.5, 256), count: 1,
			wantErr: true, node: "c", resource: "cpus"},
		{name: "kubernetes upgrade frees the release's pods", side: SideKubernetes, each: r(2.9, 256), count: 1,
			freed: map[string]Resources{"c": r(0.5, 512)}, after: map[string]float64{"c": 2.9}},
		{name: "kubernetes cordoned node takes nothing", side: SideKubernetes, each: r(1.5, 256), count: 2, cordon: "c",
			wantErr: true, node: "b", resource: "cpus", placed: 1},
		{name: "zero instances always fit", side: SideMesos, each: r(100, 1), count: 0, after: map[string]float64{"a": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			for i := range c.Nodes {
				if c.Nodes[i].Name == tc.cordon {
					c.Nodes[i].Cordoned = true
				}
			}
			got, err := c.Fit(tc.side, tc.each, tc.count, FitOptions{App: "/big", Freed: tc.freed})
			if tc.wantErr {
				var fe *FitError
				if !errors.As(err, &fe) {
					t.Fatalf("want a *FitError, got %v", err)
				}
				if fe.Node != tc.node || fe.Resource != tc.resource || fe.Placed != tc.placed || fe.App != "/big" {
					t.Errorf("FitError node %q resource %q placed %d, want %q %q %d", fe.Node, fe.Resource, fe.Placed, tc.node, tc.resource, tc.placed)
				}
				wanterr.Check(t, err, "app /big", "node "+tc.node, tc.resource, "to unblock")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := got.Check(); err != nil {
				t.Errorf("the placement over-commits: %v", err)
			}
			for name, want := range tc.after {
				n, _, _ := got.Node(name)
				have := n.MesosAllocated.CPUs
				if tc.side == SideKubernetes {
					have = n.PodRequests.CPUs
				}
				if !(Resources{CPUs: have}).Equal(Resources{CPUs: want}) {
					t.Errorf("node %s: %s cpus after the fit = %v, want %v", name, tc.side, have, want)
				}
			}
			if orig := base(); !orig.Nodes[0].MesosAllocated.Equal(c.Nodes[0].MesosAllocated) {
				t.Errorf("Fit changed its receiver")
			}
		})
	}
}

func TestFitDecreasingAndNoNodes(t *testing.T) {
	// First-fit in the given order would put the small pod on a and strand
	// the large one; decreasing order places both.
	c := Cluster{Nodes: []Node{
		agent("a", Resources{CPUs: 2, Mem: 4096}, Resources{}),
		agent("b", Resources{CPUs: 1, Mem: 4096}, Resources{}),
	}}
	if _, err := c.FitDemands(SideMesos, []Demand{{Name: "small", Each: Resources{CPUs: 1}, Count: 1}, {Name: "large", Each: Resources{CPUs: 2}, Count: 1}}, FitOptions{App: "x"}); err != nil {
		t.Errorf("decreasing order fits both: %v", err)
	}
	_, err := c.Fit(SideKubernetes, Resources{CPUs: 0.1}, 1, FitOptions{App: "x"})
	var fe *FitError
	if !errors.As(err, &fe) || fe.Node != "" || !strings.Contains(err.Error(), "no node") {
		t.Errorf("no joined node: want a FitError without node, got %v", err)
	}
}
