package inventory

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/mesos"
	"github.com/switchyard/switchyard/plan"
)

func spec(t *testing.T, doc string) *appspec.Spec {
	t.Helper()
	s, err := appspec.Parse("app.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func strp(s string) *string  { return &s }
func f64(v float64) *float64 { return &v }
func intp(v int) *int        { return &v }

// sources: two Mesos agents (node-1 joined as a Kubernetes Node with a
// static share, node-2 Mesos only), Marathon apps /shop/web (2 tasks, one
// per node, host ports) and a wrapper app, a pod with a hostPort, a
// NodePort service.
func sources() Sources {
	agent := func(id, host string, cpus, mem float64) mesos.Slave {
		return mesos.Slave{SlaveInfo: mesos.SlaveInfo{ID: id, Hostname: host}, Resources: mesos.Resources{CPUs: cpus, Mem: mem, Disk: 1000},
			UsedResources: mesos.Resources{CPUs: 0.5, Mem: 128}}
	}
	kn := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Status: corev1.NodeStatus{
		Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.1.1"}},
		Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("6"), corev1.ResourceMemory: resource.MustParse("8Gi")},
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1900m"), corev1.ResourceMemory: resource.MustParse("3Gi")}}}
	pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "agent-x"}, Spec: corev1.PodSpec{NodeName: "node-1",
		Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{ContainerPort: 9100, HostPort: 9100}},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	svc := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "front"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
		Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}}}
	web := &marathon.App{ID: "/shop/web", Instances: intp(2), CPUs: f64(0.25), Mem: f64(64),
		Dependencies: []string{"/shop/db"},
		Tasks: []marathon.AppTask{
			{ID: "shop_web.1", Host: strp("127.0.1.1"), SlaveID: strp("agent-1"), State: strp(marathon.TaskRunning), Ports: []int{31001}},
			{ID: "shop_web.2", Host: strp("127.0.1.2"), SlaveID: strp("agent-2"), State: strp(marathon.TaskRunning), Ports: []int{30080}},
			{ID: "shop_web.3", Host: strp("127.0.1.2"), SlaveID: strp("agent-2"), State: strp(marathon.TaskKilled), Ports: []int{31999}},
		}}
	db := &marathon.App{ID: "/shop/db", Instances: intp(1), Tasks: []marathon.AppTask{
		{ID: "shop_db.1", Host: strp("127.0.1.2"), State: strp(marathon.TaskRunning), Ports: []int{9100}}}}
	wrapper := &marathon.App{ID: "/switchyard/kubelet-node-2", CPUs: f64(1), Tasks: []marathon.AppTask{{ID: "w.1", Host: strp("127.0.1.2")}}}
	return Sources{
		Capacity: capacity.Sources{Mesos: mesos.State{Slaves: []mesos.Slave{agent("agent-1", "127.0.1.1", 4, 4096), agent("agent-2", "127.0.1.2", 4, 4096)}},
			Nodes: []corev1.Node{kn}, Pods: []corev1.Pod{pod}},
		Services: []corev1.Service{svc},
		Marathon: []*marathon.App{web, db, wrapper},
	}
}

func TestBuild(t *testing.T) {
	web := spec(t, `name: web
owner: shop
priority: 7
type: helm
dependsOn: [legacy]
marathon:
  id: /shop/web
  cmd: ./web
  cpus: 0.5
  mem: 64
  portDefinitions: [{port: 0, name: http}]
helm: {namespace: shop}
route: {path: /shop, port: http}
resources:
  requests: {cpu: 100m, memory: 48Mi}
migration:
  steps: [10, 100]
  pausePerStep: 20s
  maxErrorRate: 0.02
`)
	db := spec(t, `name: db
type: marathon
marathon:
  id: /shop/db
  cmd: ./db
  requirePorts: true
  portDefinitions: [{port: 9100, name: metrics}]
`)
	legacy := spec(t, `name: legacy
type: marathon
marathon: {id: /legacy, cmd: ./legacy}
`)
	helmOnly := spec(t, `name: charts
type: helm
helm: {path: chart}
`)
	inv, warns, err := Build(sources(), []*appspec.Spec{web, db, legacy, helmOnly}, Options{Usage: map[string]plan.Resources{"/shop/db": {CPUs: 0.05, Mem: 20}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Nodes) != 2 || inv.Nodes[0].Name != "agent-2" || inv.Nodes[1].Name != "node-1" {
		t.Fatalf("nodes %+v", inv.Nodes)
	}
	n1, n2 := inv.Nodes[1], inv.Nodes[0]
	if !n1.Joined || n1.Allocatable.CPUs != 1.9 || n1.Allocatable.Mem != 3072 || n1.Share.CPUs != 2 || n1.PodRequests.CPUs != 0.25 {
		t.Fatalf("node-1 %+v", n1)
	}
	if n2.Joined || n2.KubernetesOnly {
		t.Fatalf("agent-2 %+v", n2)
	}
	wantT1 := []plan.Task{{ID: "shop_web.1", App: "/shop/web", Resources: plan.Resources{CPUs: 0.25, Mem: 64}, Ports: []int{31001}}}
	if !reflect.DeepEqual(n1.Tasks, wantT1) {
		t.Fatalf("node-1 tasks %+v", n1.Tasks)
	}
	if len(n2.Tasks) != 2 || n2.Tasks[0].ID != "shop_web.2" || n2.Tasks[1].Resources != (plan.Resources{CPUs: 1, Mem: 128}) {
		t.Fatalf("agent-2 tasks (killed task and wrapper left out, Marathon defaults) %+v", n2.Tasks)
	}
	if !reflect.DeepEqual(n1.HostPorts, []plan.PortUse{{Port: 9100, Owner: "pod ops/agent-x"}}) {
		t.Fatalf("host ports %+v", n1.HostPorts)
	}
	if !reflect.DeepEqual(inv.NodePorts, []plan.PortUse{{Port: 30080, Owner: "service shop/front"}}) {
		t.Fatalf("node ports %+v", inv.NodePorts)
	}
	if !reflect.DeepEqual(inv.Settled, []string{"legacy", "charts"}) || !strings.Contains(strings.Join(warns, "\n"), "legacy (app.yaml): Marathon app /legacy is not on Marathon") {
		t.Fatalf("settled %v warnings %v", inv.Settled, warns)
	}
	if len(inv.Apps) != 2 {
		t.Fatalf("apps %+v", inv.Apps)
	}
	w, d := inv.Apps[0], inv.Apps[1]
	if w.Name != "web" || w.MarathonID != "/shop/web" || w.Instances != 2 || w.Priority != 7 || w.Owner != "shop" || w.Namespace != "shop" ||
		w.Marathon != (plan.Resources{CPUs: 0.25, Mem: 64}) || *w.Requests.CPUs != 0.1 || *w.Requests.Mem != 48 || w.Requests.Disk != nil ||
		!reflect.DeepEqual(w.DependsOn, []string{"legacy", "db"}) || len(w.HostPorts) != 0 {
		t.Fatalf("web %+v", w)
	}
	if w.Route != (plan.Route{Name: "web", Path: "/shop", Port: "http"}) || !reflect.DeepEqual(w.Gates.Steps, []int{10, 100}) ||
		w.Gates.PausePerStep != plan.Duration(20e9) || w.Gates.MaxErrorRate != 0.02 || !w.Gates.AutoRollback || w.Gates.Soak != plan.Duration(30e9) {
		t.Fatalf("web route/gates %+v %+v", w.Route, w.Gates)
	}
	if d.Name != "db" || d.Namespace != "default" || !reflect.DeepEqual(d.HostPorts, []int{9100}) || d.Observed == nil || d.Observed.Mem != 20 {
		t.Fatalf("db %+v", d)
	}
	// And the plan: db before web; db's fixed host port 9100 is free on no
	// joined node (the pod on node-1 holds it), agent-2 holds it through
	// db's own task: blocked on host ports; the live NodePort clash of
	// web's task on agent-2 is reported.
	p, err := plan.Make(inv, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Conflicts) != 1 || p.Conflicts[0].Port != 30080 || p.Conflicts[0].Node != "agent-2" {
		t.Fatalf("conflicts %+v", p.Conflicts)
	}
	if p.OK || p.Blockers[0].App != "db" || p.Blockers[0].Kind != "host-port" {
		t.Fatalf("blockers %+v", p.Blockers)
	}
	if names, _ := (&plan.Plan{Waves: p.Waves[1:]}).Wave(1); !reflect.DeepEqual(names, []string{"web"}) {
		t.Fatalf("wave 2 = %v", names)
	}
}

func TestBuildBadQuantity(t *testing.T) {
	s := spec(t, `name: web
type: marathon
marathon: {id: /shop/web, cmd: ./web}
`)
	s.Resources = &appspec.Resources{Requests: map[string]string{"memory": "a lot"}}
	_, _, err := Build(sources(), []*appspec.Spec{s}, Options{})
	if err == nil || !strings.Contains(err.Error(), "web (app.yaml): resources.requests.memory") {
		t.Fatalf("err = %v", err)
	}
}

// Constraints: hostname:UNIQUE becomes one pod per node, an attribute
// CLUSTER constraint a node selector; a node not yet in Kubernetes gets
// its Mesos attributes as labels; a tainted Node takes no pods.
func TestBuildPlacement(t *testing.T) {
	src := sources()
	src.Capacity.Mesos.Slaves[1].Attributes = mesos.Attributes{"rack": mesos.Text("r2")}
	src.Capacity.Nodes[0].Labels = map[string]string{"rack": "r1", corev1.LabelHostname: "node-1"}
	src.Capacity.Nodes[0].Spec.Taints = []corev1.Taint{{Key: "maintenance", Value: "yes", Effect: corev1.TaintEffectNoSchedule}}
	s := spec(t, `name: web
type: marathon
marathon:
  id: /shop/web
  cmd: ./web
  constraints: [[hostname, UNIQUE], [rack, CLUSTER, r2]]
`)
	inv, warns, err := Build(src, []*appspec.Spec{s}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n1, n2 := inv.Nodes[1], inv.Nodes[0]
	if !n1.Cordoned || !strings.Contains(strings.Join(warns, "\n"), "node node-1 takes no pods in the plan: tainted maintenance=yes:NoSchedule") {
		t.Fatalf("node-1 %+v warnings %v", n1, warns)
	}
	if !reflect.DeepEqual(n2.Labels, map[string]string{"rack": "r2", corev1.LabelHostname: "agent-2"}) {
		t.Fatalf("agent-2 labels %v", n2.Labels)
	}
	a := inv.Apps[0]
	if !a.OnePerNode || !reflect.DeepEqual(a.NodeSelector, []plan.Requirement{{Key: "rack", Operator: "In", Values: []string{"r2"}}}) {
		t.Fatalf("app %+v", a)
	}
	p, err := plan.Make(inv, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Two pods, one node with rack r2 (agent-2 joins for the first).
	if p.OK || p.Blockers[0].Kind != "placement" || !strings.Contains(p.Blockers[0].Message, "its 2 pods must run on distinct nodes and only 1 schedulable node(s)") {
		t.Fatalf("blockers %+v", p.Blockers)
	}
}
