package deploy

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/capacity/inventory"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/mesos"
)

// Marathon's defaults for what an app definition leaves out.
const (
	defaultCPUs      = 1.0
	defaultMem       = 128.0
	defaultInstances = 1
)

// noMesos is the Mesos side of an inventory read without a Mesos master
// (a set of Helm apps only needs the Kubernetes side).
type noMesos struct{}

func (noMesos) State(context.Context) (mesos.State, error) { return mesos.State{}, nil }

// checkCapacity refuses the set when placing it would over-commit a node:
// each Marathon app's instances on the Mesos side (an update frees the
// app's current tasks first), each Helm release's workloads' replicas ×
// pod requests on the Kubernetes side (an upgrade frees the release's
// current pods first). Apps are placed one after the other on what the
// previous ones left. Nothing has been applied when it runs.
func (d *Deployer) checkCapacity(ctx context.Context, plans []*plan) error {
	if d.o.SkipCapacityCheck || len(plans) == 0 {
		return nil
	}
	needMesos, needKube := false, false
	for _, p := range plans {
		if p.helm != nil {
			needKube = true
		} else {
			needMesos = true
		}
	}
	r := inventory.Reader{Mesos: noMesos{}}
	if needMesos {
		if d.o.Mesos == nil {
			return fmt.Errorf("capacity check: no Mesos master to read the nodes' free room from: pass --mesos-url or set $%s (for the lab: --lab-dir), or pass --skip-capacity-check", mesos.EnvMasterURL)
		}
		r.Mesos = d.o.Mesos
		if _, err := d.o.Mesos.State(ctx); err != nil {
			return fmt.Errorf("capacity check: the Mesos master at %s cannot be read, so whether the apps fit is unknown (pass --mesos-url, or --skip-capacity-check to deploy without the check): %w", d.o.Mesos.URL(), err)
		}
	}
	if needKube {
		kc, _, err := d.kube()
		if err != nil {
			return err
		}
		r.Kube = kc.Clientset
	}
	cl, err := r.Cluster(ctx, capacity.BuildOptions{})
	if err != nil {
		return fmt.Errorf("capacity check: %w (pass --skip-capacity-check to deploy without it)", err)
	}
	var errs []error
	for _, p := range plans {
		var next capacity.Cluster
		var err error
		if p.helm != nil {
			next, err = d.fitHelm(ctx, cl, p)
		} else {
			next, err = fitMarathon(cl, p)
		}
		if err != nil {
			errs = append(errs, appErr(p.spec, err))
			continue
		}
		cl = next
	}
	return errors.Join(errs...)
}

// marathonEach is one instance of the app: its cpus/mem/disk, else the
// current definition's, else Marathon's defaults.
func marathonEach(app, current *marathon.App) (capacity.Resources, int) {
	pick := func(v, cur *float64, def float64) float64 {
		switch {
		case v != nil:
			return *v
		case cur != nil:
			return *cur
		}
		return def
	}
	var cur marathon.App
	if current != nil {
		cur = *current
	}
	n := defaultInstances
	switch {
	case app.Instances != nil:
		n = *app.Instances
	case cur.Instances != nil:
		n = *cur.Instances
	}
	return capacity.Resources{CPUs: pick(app.CPUs, cur.CPUs, defaultCPUs), Mem: pick(app.Mem, cur.Mem, defaultMem), Disk: pick(app.Disk, cur.Disk, 0)}, n
}

func fitMarathon(cl capacity.Cluster, p *plan) (capacity.Cluster, error) {
	each, n := marathonEach(p.app, p.current)
	freed := map[string]capacity.Resources{}
	if p.exists {
		for _, node := range cl.Nodes {
			for _, t := range node.Tasks {
				if !t.Wrapper && t.App == p.app.ID {
					freed[node.Name] = freed[node.Name].Add(t.Resources)
				}
			}
		}
	}
	return cl.Fit(capacity.SideMesos, each, n, capacity.FitOptions{App: p.app.ID, Freed: freed})
}

// podDemands are the rendered workloads' replicas × pod requests.
func podDemands(objs []*unstructured.Unstructured) []capacity.Demand {
	var out []capacity.Demand
	add := func(kind, name string, replicas *int32, spec corev1.PodSpec) {
		n := 1
		if replicas != nil {
			n = int(*replicas)
		}
		out = append(out, capacity.Demand{Name: kind + " " + name, Each: capacity.PodRequests(&corev1.Pod{Spec: spec}), Count: n})
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			var w appsv1.Deployment
			if runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &w) == nil {
				add("Deployment", w.Name, w.Spec.Replicas, w.Spec.Template.Spec)
			}
		case "StatefulSet":
			var w appsv1.StatefulSet
			if runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &w) == nil {
				add("StatefulSet", w.Name, w.Spec.Replicas, w.Spec.Template.Spec)
			}
		}
	}
	return out
}

func (d *Deployer) fitHelm(ctx context.Context, cl capacity.Cluster, p *plan) (capacity.Cluster, error) {
	hp := p.helm
	demands := podDemands(hp.objects)
	if len(demands) == 0 {
		return cl, nil
	}
	freed := map[string]capacity.Resources{}
	if hp.current != nil {
		// The release's current pods: those its current and new workloads select.
		objs := hp.objects
		if cur, err := kubeclient.DecodeObjects([]byte(hp.current.Manifest)); err == nil {
			objs = append(append([]*unstructured.Unstructured(nil), cur...), objs...)
		}
		kc, err := d.o.Kube.Clients()
		if err != nil {
			return cl, err
		}
		cs := kc.Clientset
		seen := map[types.UID]bool{}
		for _, w := range workloads(objs) {
			sel, err := metav1.LabelSelectorAsSelector(w.selector)
			if err != nil || sel.Empty() {
				continue
			}
			pods, err := cs.CoreV1().Pods(hp.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
			if err != nil {
				return cl, fmt.Errorf("capacity check: list the pods of release %s: %w", hp.ID(), err)
			}
			for i := range pods.Items {
				pod := &pods.Items[i]
				if seen[pod.UID] || pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
					continue
				}
				seen[pod.UID] = true
				freed[pod.Spec.NodeName] = freed[pod.Spec.NodeName].Add(capacity.PodRequests(pod))
			}
		}
	}
	return cl.FitDemands(capacity.SideKubernetes, demands, capacity.FitOptions{App: hp.ID(), Freed: freed})
}
