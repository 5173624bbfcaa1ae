package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/internal/testfs"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/mesos"
	"github.com/switchyard/switchyard/plan"
	"github.com/switchyard/switchyard/plan/inventory"
)

var theLab *labtest.Lab

func TestMain(m *testing.M) {
	os.Exit(labtest.Main(m, labtest.Options{Kubernetes: true, Nodes: 3}, &theLab))
}

// deploy creates a Marathon app of sleeping tasks and waits for it.
func deploy(t *testing.T, ctx context.Context, mc *marathon.Client, def string) *marathon.App {
	t.Helper()
	var a marathon.App
	if err := json.Unmarshal([]byte(def), &a); err != nil {
		t.Fatal(err)
	}
	res, err := mc.CreateApp(ctx, &a)
	if err != nil {
		t.Fatalf("create %s: %v", a.ID, err)
	}
	if err := mc.WaitForDeployment(ctx, res.DeploymentID, 200*time.Millisecond); err != nil {
		t.Fatalf("deploy %s: %v", a.ID, err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if r, err := mc.DeleteApp(c, a.ID, true); err == nil {
			_ = mc.WaitForDeployment(c, r.DeploymentID, 200*time.Millisecond)
		}
	})
	return &a
}

// writeApps writes app.yaml files for db and web (web depends on db) with
// web's per-pod cpu request webCPU ("" = from Marathon).
func writeApps(t *testing.T, webCPU string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"db/app.yaml": `name: db
priority: 1
type: marathon
marathon: {id: /plan/db, cmd: "sleep 3600", instances: 1, cpus: 0.5, mem: 64, portDefinitions: [{port: 0, name: http}]}
route: {path: /db}
`,
		"web/app.yaml": `name: web
priority: 5
type: marathon
dependsOn: [db]
marathon: {id: /plan/web, cmd: "sleep 3600", instances: 2, cpus: 0.5, mem: 64, portDefinitions: [{port: 0, name: http}]}
route: {path: /web}
migration: {steps: [10, 100], pausePerStep: 5s}
`,
	}
	if webCPU != "" {
		files["web/app.yaml"] += "resources: {requests: {cpu: \"" + webCPU + "\", memory: 64Mi}}\n"
	}
	testfs.WriteAll(t, dir, files)
	return dir
}

// TestPlanOnTheLab reads the inventory from the lab's Marathon, Mesos
// master and Kubernetes, and plans: a plan that fits the current shares,
// one that needs a share to grow, and one that nothing fits, refused
// (library and `switchyard plan`, exit code 2) with app, node and resource.
func TestPlanOnTheLab(t *testing.T) {
	l := labtest.Need(t, theLab)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	mc, err := marathon.NewClient(marathon.Config{URL: l.MarathonURL})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kc := kubernetes.NewForConfigOrDie(rc)

	deploy(t, ctx, mc, `{"id": "/plan/db", "cmd": "sleep 3600", "instances": 1, "cpus": 0.5, "mem": 64, "portDefinitions": [{"port": 0, "name": "http"}]}`)
	deploy(t, ctx, mc, `{"id": "/plan/web", "cmd": "sleep 3600", "instances": 2, "cpus": 0.5, "mem": 64, "portDefinitions": [{"port": 0, "name": "http"}]}`)
	tasks, err := mc.AppTasks(ctx, "/plan/web")
	if err != nil || len(tasks) != 2 || len(tasks[0].Ports) != 1 {
		t.Fatalf("web tasks %+v %v", tasks, err)
	}
	// A NodePort equal to a Marathon task's host port: a live conflict. The
	// two tasks run on different nodes; take one whose port lies in the API
	// server's NodePort range (30000-32767: node-3's ports start at 33000).
	clash := 0
	for _, tk := range tasks {
		if p := tk.Ports[0]; p >= 30000 && p <= 32767 {
			clash = p
			break
		}
	}
	if clash == 0 {
		t.Fatalf("no web task has a host port in the NodePort range 30000-32767: %+v", tasks)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "plan-clash", Namespace: "default"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "none"},
		Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: int32(clash)}}}}
	if _, err := kc.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create NodePort service %d: %v", clash, err)
	}
	t.Cleanup(func() {
		_ = kc.CoreV1().Services("default").Delete(context.Background(), "plan-clash", metav1.DeleteOptions{})
	})

	reader := inventory.Reader{Marathon: mc, Mesos: mesos.NewClient(l.MesosURL), Kube: kc}
	build := func(dir string) plan.Inventory {
		t.Helper()
		specs, err := appspec.LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		src, err := reader.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		inv, warns, err := inventory.Build(src, specs, inventory.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range warns {
			t.Log("inventory:", w)
		}
		return inv
	}

	inv := build(writeApps(t, ""))
	t.Run("inventory reflects the lab", func(t *testing.T) {
		if len(inv.Nodes) != 3 {
			t.Fatalf("nodes %+v", inv.Nodes)
		}
		tasksOn := map[string]int{}
		for i, n := range inv.Nodes {
			want := "node-" + string(rune('1'+i))
			if n.Name != want || !n.Joined || n.KubernetesOnly || n.Total.CPUs != 4 || n.Allocatable.CPUs <= 0 || n.Allocatable.CPUs > n.Share.CPUs {
				t.Errorf("node %d: %+v", i, n)
			}
			for _, tk := range n.Tasks {
				tasksOn[tk.App]++
				if len(tk.Ports) != 1 || tk.Resources.CPUs != 0.5 || tk.Resources.Mem != 64 {
					t.Errorf("task %+v", tk)
				}
			}
		}
		if tasksOn["/plan/web"] != 2 || tasksOn["/plan/db"] != 1 {
			t.Errorf("tasks per app %v", tasksOn)
		}
		found := false
		for _, np := range inv.NodePorts {
			found = found || (np.Port == clash && np.Owner == "service default/plan-clash")
		}
		if !found || len(inv.Apps) != 2 {
			t.Errorf("node ports %+v apps %+v", inv.NodePorts, inv.Apps)
		}
	})

	t.Run("fits the current shares", func(t *testing.T) {
		p, err := plan.Make(inv, plan.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !p.OK || len(p.Waves) != 2 || p.Waves[0].Apps[0].Name != "db" || p.Waves[1].Apps[0].Name != "web" {
			t.Fatalf("plan %+v", p)
		}
		for _, w := range p.Waves {
			if len(w.ShareChanges) != 0 {
				t.Errorf("wave %d: share changes %+v", w.Index, w.ShareChanges)
			}
		}
		if len(p.Conflicts) != 1 || p.Conflicts[0].Port != clash || p.Conflicts[0].Kind != "nodeport" {
			t.Errorf("conflicts %+v", p.Conflicts)
		}
	})

	t.Run("a share grows", func(t *testing.T) {
		// 2 pods of 2.5 cpus: no lab node's allocatable (below its 2 cpu
		// share) holds one; a node's Mesos side can give the rest.
		p, err := plan.Make(build(writeApps(t, "2.5")), plan.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !p.OK || len(p.Waves[1].ShareChanges) == 0 {
			t.Fatalf("plan ok=%v blockers %+v, wave 2 changes %+v", p.OK, p.Blockers, p.Waves[1].ShareChanges)
		}
		for _, c := range p.Waves[1].ShareChanges {
			if c.To.CPUs <= c.From.CPUs || c.To.CPUs > 4 || c.Allocatable.CPUs < 2.5 {
				t.Errorf("share change %+v", c)
			}
		}
	})

	t.Run("refused with reasons", func(t *testing.T) {
		dir := writeApps(t, "5") // more than any node's total
		p, err := plan.Make(build(dir), plan.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if p.OK || len(p.Blockers) == 0 {
			t.Fatalf("plan ok: %+v", p)
		}
		b := p.Blockers[0]
		if b.Wave != 2 || b.App != "web" || b.Resource != "cpus" || !strings.HasPrefix(b.Node, "node-") || b.Missing <= 0 || len(b.Unblock) == 0 {
			t.Fatalf("blocker %+v", b)
		}
		cmd := exec.CommandContext(ctx, l.Bin, "plan", dir)
		cmd.Env = l.Env()
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("switchyard plan: %v, want exit code 2\n%s", err, out)
		}
		for _, want := range []string{"UNSATISFIABLE", "BLOCKED: wave 2: app web needs", "cpus more on the Kubernetes side", "to unblock: ", "the plan cannot be carried out", "Host-port conflicts"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		t.Logf("switchyard plan:\n%s", out)
	})
}
