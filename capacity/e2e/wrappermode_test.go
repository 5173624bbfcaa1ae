package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/capacity/inventory"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/mesos"
)

// TestLabWrapperMode: `lab up` with kubernetes.nodeAgents: wrapper starts
// no node-agent component; each node with a kubernetesShare joins through a
// kubelet wrapper Marathon app holding the share: the Nodes are Ready with
// exactly the allocatable capacity.ShareAllocatable computes, the Mesos
// agents offer the whole node and count the wrapper tasks in
// used_resources, pods run on the nodes, and `lab down` leaves nothing.
func TestLabWrapperMode(t *testing.T) {
	shares := map[string]labconfig.Resources{
		"node-1": {CPUs: 2, Mem: 4096, Disk: 10240},
		"node-2": {CPUs: 1, Mem: 2048, Disk: 4096},
	}
	l := labtest.StartT(t, labtest.Options{Nodes: 3, Kubernetes: true, Configure: func(c *labconfig.Config) {
		c.Kubernetes.NodeAgents = labconfig.NodeAgentsWrapper
		for i := range c.Nodes {
			c.Nodes[i].KubernetesShare = nil // node-3 stays Mesos-only
			if s, ok := shares[c.Nodes[i].Name]; ok {
				c.Nodes[i].KubernetesShare = &s
			}
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Logf("lab up took %s:\n%s", l.UpDuration.Round(time.Millisecond), l.UpOutput)
	if strings.Contains(l.UpOutput, "node-agent-") {
		t.Errorf("lab up started node-agent components in wrapper mode:\n%s", l.UpOutput)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kc := kubernetes.NewForConfigOrDie(rc)

	// Kubernetes: the nodes with a share are Ready with the allocatable the
	// capacity package computes for that share; node-3 did not join.
	totals := map[string]capacity.Resources{}
	for _, n := range l.Config.Nodes {
		totals[n.Name] = capacity.Resources{CPUs: n.Resources.CPUs, Mem: n.Resources.Mem, Disk: n.Resources.Disk}
	}
	nodes, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != len(shares) {
		t.Errorf("%d Kubernetes nodes, want %d (the nodes with a share)", len(nodes.Items), len(shares))
	}
	for _, n := range nodes.Items {
		s, ok := shares[n.Name]
		if !ok {
			t.Errorf("node %s joined Kubernetes without a share", n.Name)
			continue
		}
		want, err := capacity.ShareAllocatable(n.Name, totals[n.Name], capacity.Resources{CPUs: s.CPUs, Mem: s.Mem, Disk: s.Disk}, capacity.DefaultOverhead())
		if err != nil {
			t.Fatal(err)
		}
		if err := sameAllocatable(n.Status.Allocatable, want); err != nil {
			t.Errorf("node %s: %v", n.Name, err)
		}
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
		}
		if !ready {
			t.Errorf("node %s is not Ready", n.Name)
		}
		t.Logf("node %s: allocatable cpu=%s memory=%s (share %+v)", n.Name, n.Status.Allocatable.Cpu(), n.Status.Allocatable.Memory(), s)
	}

	// Mesos: each agent offers the whole node; the wrapper task holds the
	// share and is counted in the agent's used_resources.
	mc := mesos.NewClient(l.MesosURL)
	st, err := mc.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := mc.Slaves(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wrappers := map[string]capacity.Resources{}
	for _, f := range st.Frameworks {
		for _, tk := range f.Tasks {
			if capacity.IsWrapperTask(tk, "") && !tk.State.Terminal() {
				wrappers[tk.SlaveID] = wrappers[tk.SlaveID].Add(capacity.FromMesos(tk.Resources))
			}
		}
	}
	for _, s := range sl.Slaves {
		total := totals[s.ID]
		if got := capacity.FromMesos(s.Resources); got.CPUs != total.CPUs || got.Mem != total.Mem || got.Disk != total.Disk {
			t.Errorf("agent %s offers %v, want the whole node %v", s.ID, got, total)
		}
		share, joins := shares[s.ID]
		w := wrappers[s.ID]
		if !joins {
			if !w.IsZero() {
				t.Errorf("agent %s runs a wrapper without a share: %v", s.ID, w)
			}
			continue
		}
		if w.CPUs != share.CPUs || w.Mem != share.Mem || w.Disk != share.Disk {
			t.Errorf("agent %s: wrapper task holds %v, want the share %+v", s.ID, w, share)
		}
		if used := capacity.FromMesos(s.UsedResources); used.CPUs < share.CPUs || used.Mem < share.Mem || used.Disk < share.Disk {
			t.Errorf("agent %s used_resources %v do not include the wrapper's share %+v", s.ID, used, share)
		}
	}

	// The capacity model sees the wrapper as the share, and no violation.
	c, err := inventory.Reader{Mesos: mc, Kube: kc}.Cluster(ctx, capacity.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range shares {
		n, _, ok := c.Node(name)
		if !ok || n.Wrapper == "" || !noPorts(n.KubernetesShare).Equal(capacity.Resources{CPUs: s.CPUs, Mem: s.Mem, Disk: s.Disk}) {
			t.Errorf("capacity model of %s: %+v", name, n)
		}
	}
	if err := c.Check(); err != nil {
		t.Errorf("capacity invariants: %v", err)
	}

	// A second lab up keeps the running wrappers (same tasks, nothing redeployed).
	ids := func() map[string]bool {
		st, err := mc.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, f := range st.Frameworks {
			for _, tk := range f.Tasks {
				if capacity.IsWrapperTask(tk, "") && !tk.State.Terminal() {
					m[tk.ID] = true
				}
			}
		}
		return m
	}
	before := ids()
	out, err := l.Run("lab", "up")
	if err != nil || strings.Count(out, "already deployed") != len(shares) {
		t.Errorf("second lab up: %v\n%s", err, out)
	}
	if after := ids(); len(after) != len(shares) || fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("wrapper tasks before the second lab up %v, after %v", before, after)
	}

	// A pod runs on a wrapper-joined node (so lab down has a pod and its
	// network namespace to clean up).
	one := int32(1)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "wm"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "wm"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "wm"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "switchyard/demo-app",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("32Mi")}}}}}}},
	}
	if _, err := kc.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, 90*time.Second, "the pod runs on a wrapper-joined node", func() error {
		pods, err := kc.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=wm"})
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			if _, ok := shares[p.Spec.NodeName]; ok && p.Status.Phase == corev1.PodRunning {
				return nil
			}
		}
		return fmt.Errorf("%d pods, none running", len(pods.Items))
	})

	// lab down leaves nothing; lab up on the same directory brings the
	// nodes back through their wrappers (Marathon relaunches the apps).
	if out, err := l.Run("lab", "down"); err != nil {
		t.Fatalf("lab down: %v\n%s", err, out)
	}
	if left := labtest.Leftovers(l.Config); len(left) > 0 {
		t.Errorf("lab down left: %v", left)
	}
	if out, err := l.Run("lab", "up"); err != nil {
		t.Fatalf("lab up after lab down: %v\n%s", err, out)
	}
	for name := range shares {
		n, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s := shares[name]
		want, _ := capacity.ShareAllocatable(name, totals[name], capacity.Resources{CPUs: s.CPUs, Mem: s.Mem, Disk: s.Disk}, capacity.DefaultOverhead())
		if err := sameAllocatable(n.Status.Allocatable, want); err != nil {
			t.Errorf("after lab up again, node %s: %v", name, err)
		}
	}

	// lab down leaves nothing: no process (wrappers, agents, pods), no
	// listener, no network namespace or bridge.
	if err := l.Stop(); err != nil {
		t.Error(err)
	}
}
