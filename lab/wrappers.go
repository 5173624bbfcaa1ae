package lab

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/nodeagent"
	"github.com/switchyard/switchyard/marathon"
)

// WrapperReadyTimeout bounds the wait for a wrapper's node to be Ready with
// its planned allocatable.
const WrapperReadyTimeout = 3 * time.Minute

// WrapperSpec is how the lab runs the kubelet wrapper (self is the
// switchyard binary): `switchyard kubelet-wrapper` with the lab's admin
// kubeconfig, whose "kubelet" is the lab's node agent
// (`switchyard lab run node-agent --config LAB.yaml --node NODE
// --kubelet-config FILE`), so a lab node joins Kubernetes exactly as a
// production node does.
func WrapperSpec(cfg labconfig.Config, self string, drainSeconds int) capacity.WrapperSpec {
	path, _ := nodeagent.ConfigPathFor(cfg)
	return capacity.WrapperSpec{
		Command: self + " kubelet-wrapper",
		Args: []string{"--kubeconfig", Kubeconfig(cfg), "--lock-dir", cfg.Path("run"), "--kubelet", self,
			"--kubelet-arg=lab", "--kubelet-arg=run", "--kubelet-arg=node-agent", "--kubelet-arg=--config=" + path,
			"--kubelet-arg=--node={node}", "--kubelet-arg=--kubelet-config={kubelet-config}"},
		DrainSeconds: drainSeconds,
	}
}

// WrapperNodes are the wrapper-mode node plans: one per lab node with a
// kubernetesShare, holding that share (capacity.WrapperShare), with the
// allocatable capacity.ShareAllocatable gives under the default overhead.
func WrapperNodes(cfg labconfig.Config) ([]capacity.NodePlan, error) {
	var out []capacity.NodePlan
	ov := capacity.DefaultOverhead()
	for _, n := range cfg.Nodes {
		if n.KubernetesShare == nil {
			continue
		}
		total := capacity.Resources{CPUs: n.Resources.CPUs, Mem: n.Resources.Mem, Disk: n.Resources.Disk}
		share := capacity.WrapperShare(capacity.Resources{CPUs: n.KubernetesShare.CPUs, Mem: n.KubernetesShare.Mem, Disk: n.KubernetesShare.Disk})
		res, err := capacity.ReservationsFor(n.Name, total, share, ov)
		if err != nil {
			return nil, fmt.Errorf("lab config: node %s kubernetesShare: %w", n.Name, err)
		}
		al, err := capacity.Allocatable(n.Name, total, res)
		if err != nil {
			return nil, fmt.Errorf("lab config: node %s kubernetesShare: %w", n.Name, err)
		}
		out = append(out, capacity.NodePlan{Name: n.Name, Hostname: n.Address, Total: total, Share: share, Reservations: res, Allocatable: al, Joins: true, Changed: true})
	}
	return out, nil
}

// StartWrappers is the wrapper-mode step of `lab up`, after Marathon and
// the control plane are ready: it writes each node's wrapper app to the
// lab's Marathon (an app already there with the same definition is left
// alone, so a repeated `lab up` restarts nothing), waits for the
// deployments, then until each node is Ready with its planned allocatable.
func StartWrappers(ctx context.Context, cfg labconfig.Config, self string, out io.Writer) error {
	if !cfg.WrapperMode() {
		return nil
	}
	nodes, err := WrapperNodes(cfg)
	if err != nil {
		return err
	}
	mcfg, err := MarathonConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubelet wrappers: %w", err)
	}
	mc, err := marathon.NewClient(mcfg)
	if err != nil {
		return fmt.Errorf("kubelet wrappers: %w", err)
	}
	spec := WrapperSpec(cfg, self, 30)
	ov := capacity.DefaultOverhead()
	for _, np := range nodes {
		app := spec.WrapperApp(np, ov)
		if cur, err := mc.App(ctx, app.ID); err == nil && sameWrapper(cur, &app) {
			fmt.Fprintf(out, "  kubelet wrapper %s: already deployed (share %s)\n", app.ID, np.Share)
			continue
		} else if err != nil && !marathon.IsNotFound(err) {
			return fmt.Errorf("kubelet wrapper %s: read the app from Marathon: %w", app.ID, err)
		}
		dep, err := mc.UpdateApp(ctx, &app, marathon.UpdateOptions{Force: true})
		if err != nil {
			return fmt.Errorf("kubelet wrapper %s: Marathon refused it: %w", app.ID, err)
		}
		fmt.Fprintf(out, "  kubelet wrapper %s: deployed on %s (share %s)\n", app.ID, np.Hostname, np.Share)
		wctx, cancel := context.WithTimeout(ctx, WrapperReadyTimeout)
		err = mc.WaitForDeployment(wctx, dep.DeploymentID, 0)
		cancel()
		if err != nil {
			return fmt.Errorf("kubelet wrapper %s: deployment %s: %w (see `switchyard lab logs marathon` and the task's sandbox under %s)", app.ID, dep.DeploymentID, err, cfg.Path("marathon"))
		}
	}
	cs, err := kube.AdminClient(cfg)
	if err != nil {
		return err
	}
	for _, np := range nodes {
		deadline := time.Now().Add(WrapperReadyTimeout)
		for {
			err := nodeagent.NodeReady(ctx, cfg, np.Name)
			if err == nil {
				err = hasAllocatable(ctx, cs, np.Name, np.Allocatable)
			}
			if err == nil {
				fmt.Fprintf(out, "  node %s: Ready, allocatable %s\n", np.Name, np.Allocatable)
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("kubelet wrapper of node %s: the node is not Ready with allocatable %s within %s: %w", np.Name, np.Allocatable, WrapperReadyTimeout, err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}

// sameWrapper reports whether the running wrapper app already is app.
func sameWrapper(cur, app *marathon.App) bool {
	eq := func(a, b *float64) bool { return a != nil && b != nil && math.Abs(*a-*b) < 1e-9 }
	return eq(cur.CPUs, app.CPUs) && eq(cur.Mem, app.Mem) && eq(cur.Disk, app.Disk) && slices.Equal(cur.Args, app.Args)
}

// hasAllocatable checks a Node's allocatable against want exactly (cpu in
// millicores, memory and ephemeral-storage in bytes).
func hasAllocatable(ctx context.Context, cs kubernetes.Interface, name string, want capacity.Resources) error {
	n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	return AllocatableIs(n.Status.Allocatable, want)
}

// AllocatableIs compares a Node's allocatable with want exactly (cpu in
// millicores, memory and ephemeral-storage in bytes).
func AllocatableIs(l corev1.ResourceList, want capacity.Resources) error {
	cpu, mem, disk := l[corev1.ResourceCPU], l[corev1.ResourceMemory], l[corev1.ResourceEphemeralStorage]
	wcpu := int64(math.Round(want.CPUs * 1000))
	wmem, wdisk := int64(math.Round(want.Mem*(1<<20))), int64(math.Round(want.Disk*(1<<20)))
	if cpu.MilliValue() != wcpu || mem.Value() != wmem || disk.Value() != wdisk {
		return fmt.Errorf("allocatable cpu=%s memory=%s ephemeral-storage=%s, want %dm %d %d", cpu.String(), mem.String(), disk.String(), wcpu, wmem, wdisk)
	}
	return nil
}
