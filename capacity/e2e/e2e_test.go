package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/capacity/inventory"
	"github.com/switchyard/switchyard/capacity/monitor"
	"github.com/switchyard/switchyard/capacity/rollout"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/labtest"
	labnodeagent "github.com/switchyard/switchyard/lab/nodeagent"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/mesos"
)

// TestSharedNodesOnTheLab runs the whole shared-node story on one lab whose
// nodes have no preset kubernetesShare (Mesos offers each whole node):
// plan -> wrapper apps on Marathon -> nodes register with the planned
// allocatable (zero share included) -> `switchyard capacity` shows it ->
// killing a wrapper drains its pods to another node -> a congestion alert
// fires and clears -> an over-committing change is refused.
func TestSharedNodesOnTheLab(t *testing.T) {
	l := labtest.StartT(t, labtest.Options{Nodes: 3, Kubernetes: true, Configure: func(c *labconfig.Config) {
		for i := range c.Nodes {
			c.Nodes[i].KubernetesShare = nil // the wrapper provides it
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	rc, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kc := kubernetes.NewForConfigOrDie(rc)
	mc, err := marathon.NewClient(marathon.Config{URL: l.MarathonURL})
	if err != nil {
		t.Fatal(err)
	}
	inv := inventory.Reader{Mesos: mesos.NewClient(l.MesosURL), Kube: kc}
	read := func(ctx context.Context) (capacity.Cluster, error) { return inv.Cluster(ctx, capacity.BuildOptions{}) }
	t.Cleanup(func() { teardown(t, l, mc) })

	c, err := read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Nodes) != 3 || c.Nodes[0].Name != "node-1" || c.Nodes[0].Joined {
		t.Fatalf("inventory before the plan: %+v", c.Nodes)
	}

	// Plan: node-1 and node-2 get shares, node-3 joins with zero.
	tg := capacity.Target{Shares: []capacity.ShareTarget{
		{Node: "node-1", Share: capacity.Resources{CPUs: 2, Mem: 4096, Disk: 10240}},
		{Node: "node-2", Share: capacity.Resources{CPUs: 1, Mem: 2048, Disk: 4096}},
		{Node: "node-3"},
	}}
	plan, err := capacity.PlanResize(c, tg)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Steps) != 3 {
		t.Fatalf("steps = %+v", plan.Steps)
	}
	spec := lab.WrapperSpec(l.Config, l.Bin, 40)
	if err := rollout.Apply(ctx, mc, plan, rollout.Options{Spec: spec, Inventory: read,
		Progress: func(i int, s capacity.Step) { t.Logf("step %d: %s", i+1, s.Description) }}); err != nil {
		t.Fatal(err)
	}

	// Each node registers with exactly the planned allocatable.
	for _, np := range plan.Nodes {
		waitFor(t, ctx, 90*time.Second, "node "+np.Name+" registered with the planned allocatable", func() error {
			n, err := kc.CoreV1().Nodes().Get(ctx, np.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			return sameAllocatable(n.Status.Allocatable, np.Allocatable)
		})
	}
	n3, _ := kc.CoreV1().Nodes().Get(ctx, "node-3", metav1.GetOptions{})
	if p := n3.Status.Allocatable[corev1.ResourcePods]; !p.IsZero() {
		t.Errorf("node-3 (zero share) allocatable pods = %s, want 0", p.String())
	}

	t.Run("capacity command shows the shares", func(t *testing.T) {
		out, err := run(l, "capacity", "-o", "json")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var rep capacity.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, np := range plan.Nodes {
			var got *capacity.NodeReport
			for i := range rep.Nodes {
				if rep.Nodes[i].Name == np.Name {
					got = &rep.Nodes[i]
				}
			}
			if got == nil || !got.Joined || got.Wrapper == "" || !noPorts(got.KubernetesShare).Equal(np.Share) || !got.Allocatable.Equal(np.Allocatable) || got.Violation != "" {
				t.Errorf("%s in `capacity -o json`: %+v, want share %v allocatable %v", np.Name, got, np.Share, np.Allocatable)
			}
		}
		table, err := run(l, "capacity")
		if err != nil || !strings.Contains(table, "TOTAL (3)") || !strings.Contains(table, "node-1") {
			t.Errorf("table: %v\n%s", err, table)
		}
		t.Logf("switchyard capacity:\n%s", table)
	})

	t.Run("capacity plan emits the wrapper app and kubelet config", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "target.yaml")
		if err := os.WriteFile(target, []byte("shares:\n  - node: node-2\n    share: {cpus: 1.5, mem: 3072, disk: 4096}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := run(l, "capacity", "plan", "--target", target, "--emit", dir, "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var po struct {
			Steps []capacity.Step     `json:"steps"`
			Apps  []json.RawMessage   `json:"apps"`
			Nodes []capacity.NodePlan `json:"nodes"`
		}
		if err := json.Unmarshal([]byte(out), &po); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(po.Steps) != 1 || po.Steps[0].Kind != capacity.StepSetShare || po.Steps[0].Node != "node-2" || len(po.Apps) != 1 {
			t.Fatalf("plan: %s", out)
		}
		app, err := os.ReadFile(filepath.Join(dir, "apps", "node-2.json"))
		if err != nil || !strings.Contains(string(app), `"hostname",`) || !strings.Contains(string(app), `"cpus": 1.5`) || !strings.Contains(string(app), `"taskKillGracePeriodSeconds": 150`) {
			t.Errorf("emitted app: %v\n%s", err, app)
		}
		kcfg, err := os.ReadFile(filepath.Join(dir, "kubelet", "node-2.yaml"))
		if err != nil || !strings.Contains(string(kcfg), "cpu: 2500m") || !strings.Contains(string(kcfg), "kind: KubeletConfiguration") {
			t.Errorf("emitted kubelet config: %v\n%s", err, kcfg)
		}
		// Unsatisfiable: more than the node has.
		if err := os.WriteFile(target, []byte("shares:\n  - node: node-2\n    share: {cpus: 9}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := run(l, "capacity", "plan", "--target", target); err == nil || !strings.Contains(err.Error(), "node node-2: cpus") {
			t.Errorf("unsatisfiable plan: %v %s", err, out)
		}
	})

	t.Run("killing a wrapper drains its pods to another node", func(t *testing.T) {
		drainTest(t, ctx, l, kc, mc)
	})

	t.Run("a drain never breaks a PodDisruptionBudget", func(t *testing.T) {
		pdbTest(t, ctx, l, kc, mc)
	})

	t.Run("capacity plan --apply changes a share by restarting one wrapper", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "grow.yaml")
		if err := os.WriteFile(target, []byte("shares:\n  - node: node-2\n    share: {cpus: 1.5, mem: 3072, disk: 4096}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"capacity", "plan", "--target", target, "--apply", "--drain-seconds", "40", "--wrapper-command", spec.Command}
		for _, a := range spec.Args {
			args = append(args, "--wrapper-arg="+a)
		}
		before, _ := mc.AppTasks(ctx, "/switchyard/kubelet-node-2")
		out, err := run(l, args...)
		if err != nil || !strings.Contains(out, "plan applied") {
			t.Fatalf("%v\n%s", err, out)
		}
		waitFor(t, ctx, 90*time.Second, "node-2 re-registered with the grown allocatable", func() error {
			n, err := kc.CoreV1().Nodes().Get(ctx, "node-2", metav1.GetOptions{})
			if err != nil {
				return err
			}
			return sameAllocatable(n.Status.Allocatable, capacity.Resources{CPUs: 1.4, Mem: 2716, Disk: 3072})
		})
		after, _ := mc.AppTasks(ctx, "/switchyard/kubelet-node-2")
		if len(before) != 1 || len(after) != 1 || before[0].ID == after[0].ID {
			t.Errorf("wrapper of node-2 was not replaced: before %v after %v", before, after)
		}
		// The other wrappers were not touched.
		for _, n := range []string{"node-1", "node-3"} {
			if ts, _ := mc.AppTasks(ctx, "/switchyard/kubelet-"+n); len(ts) != 1 {
				t.Errorf("%s wrapper tasks: %v", n, ts)
			}
		}
	})

	t.Run("congestion alert fires and clears", func(t *testing.T) {
		congestionTest(t, ctx, l, mc, read)
	})
}

func drainTest(t *testing.T, ctx context.Context, l *labtest.Lab, kc kubernetes.Interface, mc *marathon.Client) {
	// Keep node-2 unschedulable so both replicas land on node-1.
	cordon(t, ctx, kc, "node-2", true)
	labels := map[string]string{"app": "drain-demo"}
	two := int32(2)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "drain-demo", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: ptr(int64(5)),
				Containers: []corev1.Container{{Name: "web", Image: "switchyard/demo-app", Args: []string{"--listen", ":8080"},
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}}},
	}
	if _, err := kc.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := intstr.FromInt32(1)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "drain-demo", Namespace: "default"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: labels}}}
	if _, err := kc.PolicyV1().PodDisruptionBudgets("default").Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	running := func(node string) ([]string, error) {
		pl, err := kc.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=drain-demo"})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, p := range pl.Items {
			if p.Spec.NodeName == node && p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				out = append(out, p.Name)
			}
		}
		return out, nil
	}
	waitFor(t, ctx, 90*time.Second, "2 pods running on node-1", func() error {
		ps, err := running("node-1")
		if err == nil && len(ps) != 2 {
			err = fmt.Errorf("running on node-1: %v", ps)
		}
		return err
	})
	before, _ := running("node-1")
	cordon(t, ctx, kc, "node-2", false)

	tasks, err := mc.AppTasks(ctx, "/switchyard/kubelet-node-1")
	if err != nil || len(tasks) != 1 {
		t.Fatalf("wrapper tasks of node-1: %v %v", tasks, err)
	}
	taskID := tasks[0].ID
	killedAt := time.Now()
	if _, err := mc.KillTasks(ctx, []string{taskID}, marathon.KillOptions{}); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(l.Config.Path("marathon", "sandboxes", taskID), "stderr")
	waitFor(t, ctx, 90*time.Second, "2 pods running on node-2", func() error {
		ps, err := running("node-2")
		if err == nil && len(ps) != 2 {
			pl, _ := kc.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=drain-demo"})
			var st []string
			for _, p := range pl.Items {
				st = append(st, fmt.Sprintf("%s@%s:%s(del=%v)", p.Name, p.Spec.NodeName, p.Status.Phase, p.DeletionTimestamp != nil))
			}
			b, _ := os.ReadFile(logPath)
			err = fmt.Errorf("running on node-2: %v; pods %v; wrapper log:\n%s", ps, st, tail(string(b), 2500))
		}
		return err
	})
	t.Logf("pods moved from node-1 %v to node-2 in %v", before, time.Since(killedAt).Round(time.Second))
	// The wrapper's log shows the order: evictions, drained, then kubelet stopped.
	waitFor(t, ctx, 60*time.Second, "the wrapper of node-1 to stop kubelet", func() error {
		b, err := os.ReadFile(logPath)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), "kubelet stopped") {
			return errors.New("not yet")
		}
		return nil
	})
	b, _ := os.ReadFile(logPath)
	log := string(b)
	iEv, iDrained, iStop := strings.Index(log, "pod evicted"), strings.Index(log, "node drained"), strings.Index(log, "kubelet stopped")
	if iEv < 0 || iDrained < iEv || iStop < iDrained || strings.Count(log, "pod evicted") != 2 {
		t.Errorf("wrapper log order: evicted@%d drained@%d stopped@%d:\n%s", iEv, iDrained, iStop, tail(log, 3000))
	}
	// Marathon relaunches the wrapper on node-1, which uncordons the node.
	waitUncordoned(t, ctx, kc, "node-1")
	_ = kc.AppsV1().Deployments("default").Delete(ctx, "drain-demo", metav1.DeleteOptions{})
}

// pdbTest: a pod pinned to node-1 under a budget allowing no disruption is
// never evicted when node-1's wrapper is killed: the wrapper retries until
// its drain deadline, then stops kubelet, and the pod is still there.
func pdbTest(t *testing.T, ctx context.Context, l *labtest.Lab, kc kubernetes.Interface, mc *marathon.Client) {
	labels := map[string]string{"app": "guarded"}
	one := int32(1)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "guarded", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				NodeSelector:                  map[string]string{corev1.LabelHostname: "node-1"},
				TerminationGracePeriodSeconds: ptr(int64(5)),
				Containers: []corev1.Container{{Name: "web", Image: "switchyard/demo-app", Args: []string{"--listen", ":8080"},
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}}},
	}
	if _, err := kc.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	zero := intstr.FromInt32(0)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "guarded", Namespace: "default"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &zero, Selector: &metav1.LabelSelector{MatchLabels: labels}}}
	if _, err := kc.PolicyV1().PodDisruptionBudgets("default").Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = kc.AppsV1().Deployments("default").Delete(context.Background(), "guarded", metav1.DeleteOptions{})
		_ = kc.PolicyV1().PodDisruptionBudgets("default").Delete(context.Background(), "guarded", metav1.DeleteOptions{})
	}()
	var pod corev1.Pod
	waitFor(t, ctx, 90*time.Second, "the guarded pod running on node-1 under its budget", func() error {
		pl, err := kc.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=guarded"})
		if err != nil {
			return err
		}
		if len(pl.Items) != 1 || pl.Items[0].Status.Phase != corev1.PodRunning {
			return fmt.Errorf("pods: %d", len(pl.Items))
		}
		pod = pl.Items[0]
		b, err := kc.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "guarded", metav1.GetOptions{})
		if err != nil || b.Status.CurrentHealthy != 1 {
			return fmt.Errorf("budget not observed yet: %v", err)
		}
		return nil
	})
	tasks, err := mc.AppTasks(ctx, "/switchyard/kubelet-node-1")
	if err != nil || len(tasks) != 1 {
		t.Fatalf("wrapper tasks of node-1: %v %v", tasks, err)
	}
	if _, err := mc.KillTasks(ctx, []string{tasks[0].ID}, marathon.KillOptions{}); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(l.Config.Path("marathon", "sandboxes", tasks[0].ID), "stderr")
	waitFor(t, ctx, 90*time.Second, "the wrapper to give up draining at its deadline and stop kubelet", func() error {
		b, _ := os.ReadFile(logPath)
		if !strings.Contains(string(b), "kubelet stopped") {
			return errors.New("not yet")
		}
		return nil
	})
	b, _ := os.ReadFile(logPath)
	log := string(b)
	if !strings.Contains(log, "eviction refused by a PodDisruptionBudget") || !strings.Contains(log, "drain incomplete") || strings.Contains(log, "pod evicted") {
		t.Errorf("wrapper log:\n%s", tail(log, 3000))
	}
	p, err := kc.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil || p.UID != pod.UID || p.DeletionTimestamp != nil {
		t.Errorf("the guarded pod was disrupted: %v %+v", err, p.ObjectMeta)
	}
	waitUncordoned(t, ctx, kc, "node-1")
}

func congestionTest(t *testing.T, ctx context.Context, l *labtest.Lab, mc *marathon.Client, read monitor.Source) {
	var mu sync.Mutex
	var got []monitor.WebhookPayload
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p monitor.WebhookPayload
		_ = json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	}))
	defer hook.Close()
	m, err := monitor.New(monitor.Options{Source: read, Webhook: hook.URL, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Step(ctx); err != nil {
		t.Fatal(err)
	}
	key := monitor.Key{Scope: monitor.ScopeNode, Node: "node-3", Side: capacity.SideMesos, Resource: "cpus"}
	if m.Active()[key] {
		t.Fatal("node-3 congested before the load")
	}
	// node-3 (4 cpus, zero share) gets a Mesos app holding 3.5 cpus: 87.5%.
	host := ""
	for _, n := range l.Config.Nodes {
		if n.Name == "node-3" {
			host = n.Address
		}
	}
	cmd, one, cpus, mem := "sleep 600", 1, 3.5, 64.0
	app := &marathon.App{ID: "/load/hog", Cmd: &cmd, Instances: &one, CPUs: &cpus, Mem: &mem,
		Constraints: []marathon.Constraint{marathon.NewConstraint("hostname", marathon.OpCluster, host)}}
	dep, err := mc.CreateApp(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.WaitForDeployment(ctx, dep.DeploymentID, 0); err != nil {
		t.Fatal(err)
	}
	// A change that would over-commit node-3 is refused, naming node and resource.
	c, err := read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckAdd("node-3", capacity.SideMesos, capacity.Resources{CPUs: 1}); err == nil || !strings.Contains(err.Error(), "node node-3: cpus") {
		t.Errorf("CheckAdd over-commit: %v", err)
	}
	if _, err := capacity.PlanResize(c, capacity.Target{Shares: []capacity.ShareTarget{{All: true, Share: capacity.Resources{CPUs: 3.9}}}}); err == nil {
		t.Error("a plan over-committing every node was accepted")
	} else {
		t.Logf("refused as expected: %v", err)
	}
	waitFor(t, ctx, 30*time.Second, "the alert to fire", func() error {
		if _, err := m.Step(ctx); err != nil {
			return err
		}
		if !m.Active()[key] {
			return errors.New("not active")
		}
		return nil
	})
	watchCLI(t, l, key)
	if dep, err = mc.ScaleApp(ctx, "/load/hog", 0, true); err != nil {
		t.Fatal(err)
	}
	_ = mc.WaitForDeployment(ctx, dep.DeploymentID, 0)
	waitFor(t, ctx, 30*time.Second, "the alert to clear", func() error {
		if _, err := m.Step(ctx); err != nil {
			return err
		}
		if m.Active()[key] {
			return errors.New("still active")
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	var kinds []string
	for _, p := range got {
		if p.Key == key {
			kinds = append(kinds, p.Kind)
		}
	}
	if strings.Join(kinds, ",") != "raised,cleared" {
		t.Errorf("webhook events for %v: %v", key, kinds)
	}
	_, _ = mc.DeleteApp(ctx, "/load/hog", true)
}

// watchCLI runs `switchyard capacity watch` against the lab while node-3 is
// congested: --once posts the raised alert to a webhook, and the long-running
// form exports switchyard_node_congested=1 for it on /metrics.
func watchCLI(t *testing.T, l *labtest.Lab, key monitor.Key) {
	t.Helper()
	var mu sync.Mutex
	var bodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	defer hook.Close()
	if out, err := run(l, "capacity", "watch", "--once", "--webhook", hook.URL); err != nil {
		t.Fatalf("watch --once: %v %s", err, out)
	}
	mu.Lock()
	all := strings.Join(bodies, "\n")
	mu.Unlock()
	if !strings.Contains(all, `"node":"node-3","side":"mesos","resource":"cpus"`) || !strings.Contains(all, `"kind":"raised"`) {
		t.Errorf("watch --once webhook bodies:\n%s", all)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(l.Bin, "capacity", "watch", "--interval", "1s", "--metrics-listen", addr)
	cmd.Env = l.Env()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	want := `switchyard_node_congested{node="node-3",resource="cpus",side="mesos"} 1`
	waitFor(t, context.Background(), 20*time.Second, "metrics of the running watch", func() error {
		r, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if !strings.Contains(string(b), want) || !strings.Contains(string(b), "switchyard_cluster_utilization_ratio") {
			return fmt.Errorf("no %s yet", want)
		}
		return nil
	})
	_ = key
}

func cordon(t *testing.T, ctx context.Context, kc kubernetes.Interface, node string, on bool) {
	t.Helper()
	n, err := kc.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Unschedulable = on
	if _, err := kc.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// sameAllocatable compares a Node's allocatable with the plan's, exactly.
func sameAllocatable(l corev1.ResourceList, want capacity.Resources) error {
	return lab.AllocatableIs(l, want)
}

func waitFor(t *testing.T, ctx context.Context, d time.Duration, what string, f func() error) {
	t.Helper()
	testenv.EventuallyNil(t, d, 500*time.Millisecond, what, func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return f()
	})
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// noPorts drops the port count (the wrapper also holds its health port).
func noPorts(r capacity.Resources) capacity.Resources { r.Ports = 0; return r }

// run runs the switchyard binary with the lab's environment (MESOS_MASTER_URL,
// KUBECONFIG...), as a user after `eval "$(switchyard lab env)"`; stdout only.
func run(l *labtest.Lab, args ...string) (string, error) {
	cmd := exec.Command(l.Bin, args...)
	cmd.Env = l.Env()
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("switchyard %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return string(out), nil
}

// teardown removes the wrapper apps (each drains and stops its node agent)
// and then the lab's pod processes, namespaces and bridge (no node agent is
// a lab component here, so the lab's own cleanup does not do it).
func teardown(t *testing.T, l *labtest.Lab, mc *marathon.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, n := range l.Config.Nodes {
		if dep, err := mc.DeleteApp(ctx, "/switchyard/kubelet-"+n.Name, true); err == nil && dep != nil {
			_ = mc.WaitForDeployment(ctx, dep.DeploymentID, 0)
		}
	}
	if err := labnodeagent.Cleanup(ctx, l.Config); err != nil {
		t.Errorf("pod network cleanup: %v", err)
	}
}

// waitUncordoned waits until Marathon relaunched node's wrapper and it
// uncordoned the node.
func waitUncordoned(t *testing.T, ctx context.Context, kc kubernetes.Interface, node string) {
	t.Helper()
	waitFor(t, ctx, 120*time.Second, node+" back and uncordoned", func() error {
		n, err := kc.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Spec.Unschedulable {
			return errors.New("still cordoned")
		}
		return nil
	})
}
