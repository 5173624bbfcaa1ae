package plan

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// genInventory draws a random cluster and a random acyclic set of apps
// whose Marathon tasks already run on it.
func genInventory(t *rapid.T) Inventory {
	nn := rapid.IntRange(1, 6).Draw(t, "nodes")
	inv := Inventory{}
	for i := 0; i < nn; i++ {
		total := Resources{CPUs: float64(rapid.IntRange(2, 16).Draw(t, "cpus")), Mem: float64(rapid.IntRange(2, 32).Draw(t, "gib")) * 1024}
		joined := rapid.IntRange(0, 4).Draw(t, "joined") > 0
		n := Node{Name: fmt.Sprintf("node-%d", i+1), Total: total, Joined: joined,
			Labels: map[string]string{"rack": rapid.SampledFrom([]string{"r1", "r2"}).Draw(t, "rack")}}
		if joined {
			n.Share = Resources{CPUs: total.CPUs * float64(rapid.IntRange(1, 5).Draw(t, "sharecpu")) / 10, Mem: total.Mem * float64(rapid.IntRange(1, 5).Draw(t, "sharemem")) / 10}
			n.Allocatable = n.Share.Sub(Resources{CPUs: 0.1, Mem: 356}).NonNegative()
			n.PodRequests = n.Allocatable.Scale(float64(rapid.IntRange(0, 5).Draw(t, "podfill")) / 10)
			n.Cordoned = rapid.IntRange(0, 9).Draw(t, "cordon") == 0
		}
		inv.Nodes = append(inv.Nodes, n)
	}
	na := rapid.IntRange(1, 12).Draw(t, "apps")
	for i := 0; i < na; i++ {
		a := App{Name: fmt.Sprintf("app-%02d", i), MarathonID: fmt.Sprintf("/app-%02d", i),
			Priority:  rapid.IntRange(0, 3).Draw(t, "prio"),
			Instances: rapid.IntRange(0, 3).Draw(t, "inst"),
			Marathon:  Resources{CPUs: float64(rapid.IntRange(1, 20).Draw(t, "acpu")) / 10, Mem: float64(rapid.IntRange(16, 1024).Draw(t, "amem"))}}
		for j := 0; j < i; j++ {
			if rapid.IntRange(0, 4).Draw(t, "dep") == 0 {
				a.DependsOn = append(a.DependsOn, fmt.Sprintf("app-%02d", j))
			}
		}
		a.OnePerNode = rapid.IntRange(0, 3).Draw(t, "unique") == 0
		if rapid.IntRange(0, 3).Draw(t, "selector") == 0 {
			a.NodeSelector = []Requirement{{Key: "rack", Operator: "In", Values: []string{"r1"}}}
		}
		if rapid.Bool().Draw(t, "hostport") {
			a.HostPorts = []int{9000 + rapid.IntRange(0, 2).Draw(t, "port")}
		}
		// Its running tasks, where the Mesos side has room.
		running := rapid.IntRange(0, a.Instances).Draw(t, "running")
		for k := 0; k < running; k++ {
			ni := rapid.IntRange(0, nn-1).Draw(t, "tasknode")
			n := &inv.Nodes[ni]
			if !n.MesosAllocated.Add(n.Share).Add(a.Marathon).Fits(n.Total) {
				continue
			}
			if len(a.HostPorts) > 0 && portHeld(n, a.HostPorts[0]) {
				continue // Mesos gives a port to one task of a node
			}
			n.MesosAllocated = n.MesosAllocated.Add(a.Marathon)
			tk := Task{ID: fmt.Sprintf("%s.%d", a.Name, k), App: a.MarathonID, Resources: a.Marathon}
			if len(a.HostPorts) > 0 {
				tk.Ports = a.HostPorts
			}
			n.Tasks = append(n.Tasks, tk)
		}
		inv.Apps = append(inv.Apps, a)
	}
	return inv
}

// TestPlanProperties: waves respect dependencies and the wave size, every
// app is planned once, and a replay of the plan (share changes, then the
// wave's pods) never over-commits a node on either side, the rollback
// room of the window's apps included.
func TestPlanProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		inv := genInventory(t)
		o := Options{MaxWaveSize: rapid.IntRange(1, 5).Draw(t, "wavesize"), RollbackWindow: rapid.SampledFrom([]int{1, 2, -1}).Draw(t, "window")}
		if rapid.Bool().Draw(t, "dependents") {
			o.Order = OrderDependentsFirst
		}
		p, err := Make(inv, o)
		if err != nil {
			t.Fatal(err)
		}
		waveOf := map[string]int{}
		for wi, w := range p.Waves {
			if w.Index != wi+1 || len(w.Apps) == 0 || len(w.Apps) > o.MaxWaveSize {
				t.Fatalf("wave %d: index %d, %d apps (max %d)", wi+1, w.Index, len(w.Apps), o.MaxWaveSize)
			}
			for _, a := range w.Apps {
				if _, dup := waveOf[a.Name]; dup {
					t.Fatalf("app %s planned twice", a.Name)
				}
				waveOf[a.Name] = w.Index
			}
		}
		if len(waveOf) != len(inv.Apps) {
			t.Fatalf("%d apps planned of %d", len(waveOf), len(inv.Apps))
		}
		for _, a := range inv.Apps {
			for _, d := range a.DependsOn {
				first, then := d, a.Name
				if o.Order == OrderDependentsFirst {
					first, then = a.Name, d
				}
				if waveOf[first] >= waveOf[then] {
					t.Fatalf("%s (wave %d) must come before %s (wave %d)", first, waveOf[first], then, waveOf[then])
				}
			}
		}
		replay(t, inv, p)
	})
}

// replay applies the plan to the inventory independently of the planner
// and checks both sides of every node after each wave.
func replay(t *rapid.T, inv Inventory, p *Plan) {
	type st struct {
		total, share, alloc, pods Resources
		cordoned, joined          bool
	}
	nodes := map[string]*st{}
	for _, n := range inv.Nodes {
		nodes[n.Name] = &st{total: n.Total, share: n.Share, alloc: n.Allocatable, pods: n.PodRequests, cordoned: n.Cordoned, joined: n.Joined}
	}
	appByName := map[string]App{}
	for _, a := range inv.Apps {
		appByName[a.Name] = a
	}
	labels := map[string]map[string]string{}
	for _, n := range inv.Nodes {
		labels[n.Name] = n.Labels
	}
	blocked := map[string]bool{}
	for _, b := range p.Blockers {
		blocked[b.App] = true
	}
	doneAt := map[string]int{} // Marathon id -> wave its app migrated in
	podPorts := map[string]bool{}
	window := p.Options.RollbackWindow
	for _, w := range p.Waves {
		for _, c := range w.ShareChanges {
			n := nodes[c.Node]
			if !c.From.Equal(n.share) {
				t.Fatalf("wave %d: %s share change from %v, but the share is %v", w.Index, c.Node, c.From, n.share)
			}
			n.share, n.alloc, n.joined = c.To, c.Allocatable, true
		}
		for _, a := range w.Apps {
			sum := 0
			ia := appByName[a.Name]
			for _, pl := range a.Placement {
				n := nodes[pl.Node]
				if n.cordoned || !n.joined {
					t.Fatalf("wave %d: %s placed on cordoned or unjoined %s", w.Index, a.Name, pl.Node)
				}
				if (ia.OnePerNode && pl.Pods > 1) || (len(ia.NodeSelector) > 0 && labels[pl.Node]["rack"] != "r1") {
					t.Fatalf("wave %d: %s: %d pod(s) on %s break its placement constraints", w.Index, a.Name, pl.Pods, pl.Node)
				}
				n.pods = n.pods.Add(a.Requests.Scale(float64(pl.Pods)))
				sum += pl.Pods
			}
			if !blocked[a.Name] && sum != a.Instances {
				t.Fatalf("wave %d: %s placed %d of %d pods without a blocker", w.Index, a.Name, sum, a.Instances)
			}
		}
		// Mesos side: live tasks (apps not migrated before this wave) and
		// rollback room (apps migrated within the window) plus the share.
		for _, in := range inv.Nodes {
			n := nodes[in.Name]
			used := in.MesosAllocated
			for _, tk := range in.Tasks {
				if d, ok := doneAt[tk.App]; ok && window >= 0 && w.Index > d+window {
					used = used.Sub(tk.Resources)
				}
			}
			if r, have, lim := used.Add(n.share).Exceeds(n.total); r != "" && !n.share.Equal(in.Share) {
				t.Fatalf("wave %d: %s Mesos side over-committed in %s: %g > %g (share %v)", w.Index, in.Name, r, have, lim, n.share)
			}
			grown := n.pods.Sub(in.PodRequests)
			if r, have, lim := n.pods.Exceeds(n.alloc); r != "" && !grown.IsZero() {
				t.Fatalf("wave %d: %s Kubernetes side over-committed in %s: %g > %g", w.Index, in.Name, r, have, lim)
			}
		}
		// Host ports: a planned pod's fixed host port is held by no other
		// pod and by no Marathon task still live or within its rollback window.
		held := map[string]bool{}
		for _, in := range inv.Nodes {
			for _, tk := range in.Tasks {
				if d, ok := doneAt[tk.App]; ok && window >= 0 && w.Index > d+window {
					continue
				}
				for _, port := range tk.Ports {
					held[fmt.Sprintf("%s:%d", in.Name, port)] = true
				}
			}
		}
		for k := range podPorts {
			held[k] = true
		}
		for _, a := range w.Apps {
			for _, pl := range a.Placement {
				for _, port := range a.HostPorts {
					k := fmt.Sprintf("%s:%d", pl.Node, port)
					if held[k] || pl.Pods > 1 {
						t.Fatalf("wave %d: %s: host port %d taken twice on %s", w.Index, a.Name, port, pl.Node)
					}
					held[k], podPorts[k] = true, true
				}
			}
		}
		for _, a := range w.Apps {
			if !blocked[a.Name] {
				doneAt[a.MarathonID] = w.Index
			}
		}
	}

}

func portHeld(n *Node, port int) bool {
	for _, tk := range n.Tasks {
		for _, p := range tk.Ports {
			if p == port {
				return true
			}
		}
	}
	return false
}
