package plan

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func res(cpus, mem float64) Resources { return Resources{CPUs: cpus, Mem: mem} }

// node is a joined shared node: total, share, allocatable = share −
// (0.1 cpu, 356 MiB) as the default overhead gives, and Mesos allocations.
func node(name string, total, share, mesos Resources, tasks ...Task) Node {
	al := share.Sub(Resources{CPUs: 0.1, Mem: 356}).NonNegative()
	return Node{Name: name, Hostname: name, Total: total, Share: share, Allocatable: al, MesosAllocated: mesos, Joined: true, Tasks: tasks}
}

func app(name string, prio int, deps ...string) App {
	return App{Name: name, MarathonID: "/" + name, Priority: prio, DependsOn: deps, Instances: 1, Marathon: res(0.1, 32)}
}

func waveNames(p *Plan) [][]string {
	var out [][]string
	for _, w := range p.Waves {
		var names []string
		for _, a := range w.Apps {
			names = append(names, a.Name)
		}
		out = append(out, names)
	}
	return out
}

func bigCluster() []Node {
	return []Node{node("node-1", res(64, 65536), res(32, 32768), Resources{})}
}

func TestOrdering(t *testing.T) {
	cases := []struct {
		name  string
		apps  []App
		opts  Options
		want  [][]string
		cycle string
	}{
		{name: "independent apps by priority then name, one wave",
			apps: []App{app("b", 1), app("a", 1), app("c", 5)},
			want: [][]string{{"c", "a", "b"}}},
		{name: "wave size splits by priority",
			apps: []App{app("b", 1), app("a", 1), app("c", 5)}, opts: Options{MaxWaveSize: 2},
			want: [][]string{{"c", "a"}, {"b"}}},
		{name: "dependencies first (default): backend before frontend",
			apps: []App{app("web", 10, "api"), app("api", 1, "db"), app("db", 0)},
			want: [][]string{{"db"}, {"api"}, {"web"}}},
		{name: "dependents first: frontend before backend",
			apps: []App{app("web", 10, "api"), app("api", 1, "db"), app("db", 0)}, opts: Options{Order: OrderDependentsFirst},
			want: [][]string{{"web"}, {"api"}, {"db"}}},
		{name: "diamond",
			apps: []App{app("top", 0, "l", "r"), app("l", 0, "base"), app("r", 0, "base"), app("base", 0)},
			want: [][]string{{"base"}, {"l", "r"}, {"top"}}},
		{name: "inherited priority: the dependency of a high-priority app goes before a mid-priority app",
			apps: []App{app("mid", 5), app("low", 0), app("high", 9, "low")}, opts: Options{MaxWaveSize: 1},
			want: [][]string{{"low"}, {"high"}, {"mid"}}},
		{name: "settled dependency is satisfied",
			apps: []App{app("web", 0, "already-on-k8s")},
			want: [][]string{{"web"}}},
		{name: "two-app cycle", apps: []App{app("a", 0, "b"), app("b", 0, "a"), app("c", 0)}, cycle: "a → b → a"},
		{name: "three-app cycle and a self loop",
			apps:  []App{app("x", 0, "y"), app("y", 0, "z"), app("z", 0, "x"), app("self", 0, "self")},
			cycle: "self → self; x → y → z → x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inv := Inventory{Nodes: bigCluster(), Apps: c.apps, Settled: []string{"already-on-k8s"}}
			p, err := Make(inv, c.opts)
			if c.cycle != "" {
				var ce *CycleError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v, want a cycle error", err)
				}
				if !strings.Contains(err.Error(), c.cycle) {
					t.Fatalf("err = %v, want it to name %q", err, c.cycle)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := waveNames(p); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("waves = %v, want %v", got, c.want)
			}
			if !p.OK {
				t.Fatalf("blockers: %+v", p.Blockers)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name string
		inv  Inventory
		opts Options
		want string
	}{
		{"unknown dependency", Inventory{Apps: []App{app("web", 0, "ghost")}}, Options{}, `app web: dependsOn "ghost" is no app of the inventory`},
		{"duplicate", Inventory{Apps: []App{app("web", 0), app("web", 0)}}, Options{}, "app web: described twice"},
		{"bad order", Inventory{}, Options{Order: "sideways"}, `order "sideways"`},
		{"bad wave size", Inventory{}, Options{MaxWaveSize: -3}, "max wave size -3"},
		{"bad headroom", Inventory{}, Options{Headroom: 0.5}, "headroom 0.5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Make(c.inv, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func ptr(f float64) *float64 { return &f }

func TestDeriveRequestsAndLimits(t *testing.T) {
	cases := []struct {
		name     string
		app      App
		req, lim Resources
		from     string
		warn     string
	}{
		{name: "marathon definition",
			app: App{Name: "a", Marathon: Resources{CPUs: 0.5, Mem: 256, Disk: 100}},
			req: Resources{CPUs: 0.5, Mem: 256, Disk: 100}, lim: Resources{Mem: 256, Disk: 100}, from: "marathon"},
		{name: "app.yaml wins per resource",
			app: App{Name: "a", Marathon: Resources{CPUs: 0.5, Mem: 256}, Requests: &Partial{CPUs: ptr(0.1)}, Limits: &Partial{CPUs: ptr(1), Mem: ptr(512)}},
			req: Resources{CPUs: 0.1, Mem: 256}, lim: Resources{CPUs: 1, Mem: 512}, from: "app.yaml+marathon"},
		{name: "observed usage with headroom, mem capped at Marathon's mem",
			app: App{Name: "a", Marathon: Resources{CPUs: 1, Mem: 256}, Observed: &Resources{CPUs: 0.2, Mem: 250}},
			req: Resources{CPUs: 0.25, Mem: 256}, lim: Resources{Mem: 256}, from: "observed+marathon"},
		{name: "observed usage floors",
			app: App{Name: "a", Marathon: Resources{CPUs: 1, Mem: 256}, Observed: &Resources{CPUs: 0.001, Mem: 2}},
			req: Resources{CPUs: 0.01, Mem: 16}, lim: Resources{Mem: 256}, from: "observed+marathon"},
		{name: "observed cpu above Marathon's cpus is followed, with a warning",
			app: App{Name: "a", Marathon: Resources{CPUs: 0.5, Mem: 64}, Observed: &Resources{CPUs: 0.8, Mem: 10}},
			req: Resources{CPUs: 1, Mem: 16}, lim: Resources{Mem: 64}, from: "observed+marathon", warn: "above Marathon's cpus"},
		{name: "memory limit below the request is raised",
			app: App{Name: "a", Marathon: Resources{CPUs: 0.5, Mem: 64}, Requests: &Partial{Mem: ptr(128)}, Limits: &Partial{Mem: ptr(100)}},
			req: Resources{CPUs: 0.5, Mem: 128}, lim: Resources{Mem: 128}, from: "marathon+app.yaml", warn: "raised to the request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, lim, from, warns := Derive(c.app, 1.25)
			if req != c.req || lim != c.lim || from != c.from {
				t.Fatalf("got req %+v lim %+v from %q, want %+v %+v %q", req, lim, from, c.req, c.lim, c.from)
			}
			if got := strings.Join(warns, "\n"); (c.warn == "") != (got == "") || !strings.Contains(got, c.warn) {
				t.Fatalf("warnings %q, want %q", got, c.warn)
			}
		})
	}
}

func TestParseQuantities(t *testing.T) {
	p, err := ParseQuantities("resources.requests", map[string]string{"cpu": "250m", "memory": "64Mi", "ephemeral-storage": "1Gi"})
	if err != nil || *p.CPUs != 0.25 || *p.Mem != 64 || *p.Disk != 1024 {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := ParseQuantities("resources.limits", map[string]string{"memory": "lots"}); err == nil || !strings.Contains(err.Error(), "resources.limits.memory") {
		t.Fatalf("err = %v", err)
	}
}

func tasks(app string, n int, r Resources) []Task {
	var out []Task
	for i := 0; i < n; i++ {
		out = append(out, Task{ID: app + "." + string(rune('a'+i)), App: app, Resources: r})
	}
	return out
}

func TestCapacity(t *testing.T) {
	// Nodes of 4 cpus / 8 GiB; share 1.1 cpus / 1380 MiB (allocatable 1 cpu / 1024 MiB).
	total := res(4, 8192)
	small := res(1.1, 1380)
	web := func(inst int, cpus, mem float64) App {
		a := app("web", 0)
		a.Instances, a.Marathon = inst, res(cpus, mem)
		return a
	}
	cordoned := node("node-1", total, res(4, 8192), res(0.1, 32), tasks("/web", 1, res(0.1, 32))...)
	cordoned.Cordoned = true
	joinee := Node{Name: "node-2", Total: total, MesosAllocated: res(1, 1100), Tasks: tasks("/web", 1, res(1, 1100))}
	cases := []struct {
		name    string
		nodes   []Node
		apps    []App
		opts    Options
		changes []ShareChange
		blocker string // substring of the first blocker's message
		unblock string
		place   []Placement
	}{
		{name: "fits in the current shares, first fit by name",
			nodes: []Node{node("node-1", total, small, res(1, 1024), tasks("/web", 2, res(0.5, 256))...), node("node-2", total, small, res(1, 1024), tasks("/web", 1, res(0.5, 256))...)},
			apps:  []App{web(3, 0.5, 256)},
			place: []Placement{{"node-1", 2}, {"node-2", 1}}},
		{name: "does not fit: the share grows on the first node with Mesos room",
			nodes:   []Node{node("node-1", total, small, res(2.9, 6800), tasks("/web", 2, res(1, 256))...), node("node-2", total, small, res(1, 1024), tasks("/web", 1, res(1, 256))...)},
			apps:    []App{web(3, 1, 256)},
			changes: []ShareChange{{Node: "node-2", From: small, To: res(2.1, 1380), Allocatable: res(2, 1024), For: []string{"web"}}},
			place:   []Placement{{"node-1", 1}, {"node-2", 2}}},
		{name: "share changes off: blocked with the node's free room",
			nodes: []Node{node("node-1", total, small, res(2, 1024), tasks("/web", 2, res(1, 256))...)},
			apps:  []App{web(2, 1, 256)}, opts: Options{NoShareChanges: true},
			blocker: "wave 1: app web needs 1 cpus more on the Kubernetes side than node-1 has free", unblock: "allow share changes"},
		{name: "unfit: names app, node, resource, what the node can give, how to unblock",
			nodes:   []Node{node("node-1", total, small, res(2.4, 1024), tasks("/web", 2, res(1, 256))...)},
			apps:    []App{web(2, 1, 256)},
			blocker: "wave 1: app web needs 1 cpus more on the Kubernetes side; node-1 can give 0.5 without squeezing its Marathon tasks",
			unblock: "lower web's requests to ≤ 0.75 cpus per pod (then its 2 pod(s) fit)"},
		{name: "the requests hint counts all the app's pods",
			nodes: []Node{node("node-1", total, small, res(2.9, 1024), tasks("/web", 2, res(0.8, 256))...),
				node("node-2", total, small, res(2.9, 1024), tasks("/web", 1, res(0.8, 256))...)},
			apps:    []App{web(3, 0.8, 256)},
			blocker: "wave 1: app web needs 0.6 cpus more on the Kubernetes side; node-1 can give 0 without squeezing its Marathon tasks",
			unblock: "lower web's requests to ≤ 0.5 cpus per pod (then its 3 pod(s) fit)"},
		{name: "memory is the blocking resource",
			nodes:   []Node{node("node-1", res(4, 2700), small, res(0.2, 1200), tasks("/web", 2, res(0.1, 600))...)},
			apps:    []App{web(2, 0.1, 600)},
			blocker: "app web needs 176 MiB mem more on the Kubernetes side; node-1 can give 120", unblock: "lower web's requests to ≤ 572 MiB mem per pod"},
		{name: "a node not in Kubernetes joins with the overhead",
			nodes:   []Node{node("node-1", total, small, res(3, 7000)), joinee},
			apps:    []App{web(1, 1, 1100)},
			changes: []ShareChange{{Node: "node-2", Joins: true, From: Resources{}, To: res(1.1, 1456), Allocatable: res(1, 1100), For: []string{"web"}}},
			place:   []Placement{{"node-2", 1}}},
		{name: "NoJoin keeps nodes out of Kubernetes",
			nodes: []Node{node("node-1", total, small, res(3, 7000)), joinee},
			apps:  []App{web(1, 1, 1100)}, opts: Options{NoJoin: true},
			blocker: "app web needs 76 MiB mem more on the Kubernetes side; node-1 can give 0 without", unblock: "lower web's requests to ≤ 1024 MiB mem"},
		{name: "cordoned nodes take no pods",
			nodes: []Node{cordoned},
			apps:  []App{web(1, 0.1, 32)}, blocker: "no node can run pods", unblock: "uncordon a node"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Make(Inventory{Nodes: c.nodes, Apps: c.apps}, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if p.OK != (c.blocker == "") {
				t.Fatalf("ok = %v, blockers %+v", p.OK, p.Blockers)
			}
			if c.blocker != "" {
				b := p.Blockers[0]
				if !strings.Contains(b.Message, c.blocker) || !strings.Contains(b.Error(), c.unblock) {
					t.Fatalf("blocker %q, want %q and unblock %q", b.Error(), c.blocker, c.unblock)
				}
				if len(p.Waves[0].Blockers) == 0 {
					t.Fatal("wave carries no blocker")
				}
				if _, err := p.Wave(1); err == nil {
					t.Fatal("Wave(1) of a blocked wave gave no error")
				}
				return
			}
			w := p.Waves[0]
			if !reflect.DeepEqual(w.ShareChanges, c.changes) {
				t.Fatalf("share changes %+v, want %+v", w.ShareChanges, c.changes)
			}
			if !reflect.DeepEqual(w.Apps[0].Placement, c.place) {
				t.Fatalf("placement %+v, want %+v", w.Apps[0].Placement, c.place)
			}
		})
	}
}

// The Marathon side keeps room to roll back: a migrated app's tasks keep
// their room for RollbackWindow waves, so a later wave cannot grow a share
// into it; the blocker names that app.
func TestRollbackRoom(t *testing.T) {
	total := res(6, 8192)
	billing := App{Name: "billing", MarathonID: "/billing", Instances: 1, Marathon: res(1.5, 512)}
	shop := App{Name: "shop-web", MarathonID: "/shop/web", Instances: 1, Marathon: res(2, 256), DependsOn: []string{"billing"}}
	nodes := func() []Node {
		return []Node{node("node-1", total, res(2.1, 1380), res(3.5, 768),
			Task{ID: "billing.1", App: "/billing", Resources: res(1.5, 512)},
			Task{ID: "shop.1", App: "/shop/web", Resources: res(2, 256)})}
	}
	// Wave 1: billing's pod (1.5) fits in allocatable 2. Wave 2: shop-web
	// needs 2 cpus; free 0.5; Mesos headroom 6 - 2.1 - 2 (shop's live
	// task) - 1.5 (billing's rollback room) = 0.4.
	p, err := Make(Inventory{Nodes: nodes(), Apps: []App{billing, shop}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.OK || len(p.Blockers) != 1 {
		t.Fatalf("want one blocker, got %+v", p.Blockers)
	}
	b := p.Blockers[0]
	want := "wave 2: app shop-web needs 1.5 cpus more on the Kubernetes side; node-1 can give 0.4 without breaking the Marathon rollback room for app billing"
	if b.Message != want || b.Node != "node-1" || b.Resource != "cpus" || !reflect.DeepEqual(b.RollbackFor, []string{"billing"}) {
		t.Fatalf("blocker %+v\nwant message %q", b, want)
	}
	if !strings.Contains(b.Error(), "lower shop-web's requests to ≤ 0.9 cpus") || !strings.Contains(b.Error(), "finalize billing before this wave (frees 1.5 cpus") {
		t.Fatalf("unblock: %s", b.Error())
	}
	// Without rollback room (billing finalized right after its wave) the
	// share grows instead.
	p, err = Make(Inventory{Nodes: nodes(), Apps: []App{billing, shop}}, Options{NoRollbackRoom: true})
	if err != nil || !p.OK {
		t.Fatalf("%v %+v", err, p.Blockers)
	}
	if c := p.Waves[1].ShareChanges; len(c) != 1 || c[0].To.CPUs != 3.6 {
		t.Fatalf("share changes %+v", c)
	}
	// A window of 1 wave ends: a third wave may use billing's room.
	filler := App{Name: "filler", MarathonID: "/filler", Instances: 0, Marathon: res(0.1, 1)}
	shop.DependsOn = []string{"filler"}
	filler.DependsOn = []string{"billing"}
	p, err = Make(Inventory{Nodes: nodes(), Apps: []App{billing, shop, filler}}, Options{})
	if err != nil || !p.OK {
		t.Fatalf("%v %+v", err, p.Blockers)
	}
	// ... and a window of the whole plan keeps it.
	p, err = Make(Inventory{Nodes: nodes(), Apps: []App{billing, shop, filler}}, Options{RollbackWindow: -1})
	if err != nil || p.OK || p.Blockers[0].Wave != 3 {
		t.Fatalf("%v %+v", err, p.Blockers)
	}
}

// Instances Marathon does not run now need room to run if the migration
// rolls back: reserved before the wave's shares grow.
func TestRollbackRoomForMissingInstances(t *testing.T) {
	a := App{Name: "api", MarathonID: "/api", Instances: 3, Marathon: res(1, 256)}
	n := node("node-1", res(4, 8192), res(1.1, 1380), res(1, 256), Task{ID: "api.1", App: "/api", Resources: res(1, 256)})
	p, err := Make(Inventory{Nodes: []Node{n}, Apps: []App{a}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Mesos headroom 4 - 1 - 1.1 = 1.9: one more instance fits, not two.
	if p.OK || p.Blockers[0].Kind != "rollback-room" || !strings.Contains(p.Blockers[0].Message, "no room to run 1 of the missing 2") {
		t.Fatalf("%+v", p.Blockers)
	}
	a.Instances = 2 // one missing instance: reserved, then the pods need 2 cpus: 1 fits, the share cannot grow by 1 (headroom 0.9)
	p, err = Make(Inventory{Nodes: []Node{n}, Apps: []App{a}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.OK || p.Blockers[0].Kind != "capacity" || !strings.Contains(p.Blockers[0].Message, "node-1 can give 0.9 without breaking the Marathon rollback room for app api") {
		t.Fatalf("%+v", p.Blockers)
	}
}

func TestHostPorts(t *testing.T) {
	total := res(4, 8192)
	share := res(2.1, 2404)
	task := func(app string, port int) Task {
		return Task{ID: app + ".1", App: app, Resources: res(0.1, 32), Ports: []int{port}}
	}
	t.Run("live conflicts: NodePort on every node, hostPort on its node", func(t *testing.T) {
		n1 := node("node-1", total, share, res(0.2, 64), task("/a", 30080), task("/b", 9000))
		n2 := node("node-2", total, share, res(0.1, 32), task("/c", 9000))
		n1.HostPorts = []PortUse{{Port: 9000, Owner: "pod ns/p-1"}}
		inv := Inventory{Nodes: []Node{n2, n1}, NodePorts: []PortUse{{Port: 30080, Owner: "service ns/svc"}}}
		got := Conflicts(inv)
		want := []PortConflict{
			{Port: 9000, Node: "node-1", Marathon: "app /b (task /b.1)", Kubernetes: "hostPort of pod ns/p-1", Kind: "hostport"},
			{Port: 30080, Node: "node-1", Marathon: "app /a (task /a.1)", Kubernetes: "NodePort of service ns/svc", Kind: "nodeport"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
		p, err := Make(inv, Options{})
		if err != nil || len(p.Conflicts) != 2 || len(p.Warnings) != 2 {
			t.Fatalf("%v %+v", err, p)
		}
	})
	t.Run("a pod's fixed host port avoids nodes where it is in use, its own Marathon tasks included", func(t *testing.T) {
		a := App{Name: "lb", MarathonID: "/lb", Instances: 2, Marathon: res(0.1, 32), HostPorts: []int{8080}}
		nodes := []Node{
			node("node-1", total, share, res(0.1, 32), task("/lb", 8080)),
			node("node-2", total, share, res(0.1, 32), task("/other", 7000)),
			node("node-3", total, share, res(0.1, 32), task("/lb", 8080)),
			node("node-4", total, share, Resources{}),
		}
		p, err := Make(Inventory{Nodes: nodes, Apps: []App{a}}, Options{})
		if err != nil || !p.OK {
			t.Fatalf("%v %+v", err, p.Blockers)
		}
		want := []Placement{{"node-2", 1}, {"node-4", 1}}
		if got := p.Waves[0].Apps[0].Placement; !reflect.DeepEqual(got, want) {
			t.Fatalf("placement %+v, want %+v", got, want)
		}
	})
	t.Run("no node with the port free: host-port blocker", func(t *testing.T) {
		a := App{Name: "lb", MarathonID: "/lb", Instances: 1, Marathon: res(0.1, 32), HostPorts: []int{30080}}
		p, err := Make(Inventory{Nodes: []Node{node("node-1", total, share, Resources{})}, Apps: []App{a},
			NodePorts: []PortUse{{Port: 30080, Owner: "service ns/svc"}}}, Options{})
		if err != nil || p.OK {
			t.Fatalf("%v %+v", err, p)
		}
		b := p.Blockers[0]
		if b.Kind != "host-port" || b.Resource != "port 30080" || !strings.Contains(b.Message, "30080 is the NodePort of service ns/svc on every node") {
			t.Fatalf("%+v", b)
		}
	})
}

func TestPlanJSONRoundTrip(t *testing.T) {
	a := app("web", 3)
	a.Gates = Gates{Steps: []int{5, 50, 100}, PausePerStep: Duration(30e9), MaxErrorRate: 0.01, AutoRollback: true}
	a.Route = Route{Path: "/web", Port: "http"}
	p, err := Make(Inventory{Nodes: bigCluster(), Apps: []App{a, app("api", 0, "web")}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"version":1`, `"ok":true`, `"waves":[{"index":1,"apps":[{"name":"web","marathonId":"/web"`, `"requests":{"cpus":0.1,"mem":32,"disk":0}`, `"pausePerStep":"30s"`, `"route":{"name":"web","path":"/web","port":"http"}`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("JSON lacks %s:\n%s", field, b)
		}
	}
	q, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("round trip differs:\n%+v\n%+v", p, q)
	}
	names, err := q.Wave(2)
	if err != nil || !reflect.DeepEqual(names, []string{"api"}) {
		t.Fatalf("Wave(2) = %v %v", names, err)
	}
	if _, err := q.Wave(3); err == nil {
		t.Fatal("Wave(3) of 2 gave no error")
	}
	if _, err := Decode([]byte(`{"version":7}`)); err == nil || !strings.Contains(err.Error(), "version 7") {
		t.Fatalf("err = %v", err)
	}
}

func TestPlacementConstraints(t *testing.T) {
	total, share := res(4, 8192), res(2.1, 2404)
	labeled := func(name, rack string) Node {
		n := node(name, total, share, Resources{})
		n.Labels = map[string]string{"rack": rack}
		return n
	}
	nodes := []Node{labeled("node-1", "r1"), labeled("node-2", "r2"), labeled("node-3", "r2")}
	cases := []struct {
		name    string
		app     App
		place   []Placement
		blocker string
	}{
		{name: "node selector", app: App{Name: "a", MarathonID: "/a", Instances: 2, Marathon: res(0.1, 32),
			NodeSelector: []Requirement{{Key: "rack", Operator: "In", Values: []string{"r2"}}}},
			place: []Placement{{"node-2", 2}}},
		{name: "NotIn and one pod per node", app: App{Name: "a", MarathonID: "/a", Instances: 2, Marathon: res(0.1, 32), OnePerNode: true,
			NodeSelector: []Requirement{{Key: "rack", Operator: "NotIn", Values: []string{"r9"}}, {Key: "rack", Operator: "Exists"}}},
			place: []Placement{{"node-1", 1}, {"node-2", 1}}},
		{name: "no node matches", app: App{Name: "a", MarathonID: "/a", Instances: 1, Marathon: res(0.1, 32),
			NodeSelector: []Requirement{{Key: "zone", Operator: "In", Values: []string{"z1"}}}},
			blocker: "wave 1: app a: no schedulable node matches its node selector zone In (z1)"},
		{name: "more pods than distinct nodes", app: App{Name: "a", MarathonID: "/a", Instances: 4, Marathon: res(0.1, 32), OnePerNode: true},
			blocker: "wave 1: app a: its 4 pods must run on distinct nodes and only 3 schedulable node(s) can take one"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Make(Inventory{Nodes: nodes, Apps: []App{c.app}}, Options{NoRollbackRoom: true})
			if err != nil {
				t.Fatal(err)
			}
			if c.blocker != "" {
				if p.OK || p.Blockers[0].Message != c.blocker || p.Blockers[0].Kind != "placement" {
					t.Fatalf("blockers %+v, want %q", p.Blockers, c.blocker)
				}
				return
			}
			if !p.OK || !reflect.DeepEqual(p.Waves[0].Apps[0].Placement, c.place) {
				t.Fatalf("ok %v blockers %+v placement %+v, want %+v", p.OK, p.Blockers, p.Waves[0].Apps[0].Placement, c.place)
			}
		})
	}
}
